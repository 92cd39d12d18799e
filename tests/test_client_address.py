"""Whose address a post is from: never an entry the client could have written itself."""

from django.test import RequestFactory

from board.web.client import client_address


def request(forwarded: str | None = None):
    meta = {"REMOTE_ADDR": "10.0.0.5"}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_a_configured_header_the_socket_address_is_used(settings):
    settings.CLIENT_ADDR_HEADER = ""
    assert client_address(request("203.0.113.9")) == "10.0.0.5"


def test_behind_one_proxy_the_address_it_appended_is_used_not_the_clients_own_entries(settings):
    settings.CLIENT_ADDR_HEADER, settings.TRUSTED_PROXY_HOPS = "HTTP_X_FORWARDED_FOR", 1
    assert client_address(request("6.6.6.6, 198.51.100.7")) == "198.51.100.7"


def test_behind_two_proxies_the_second_entry_from_the_right_is_used(settings):
    settings.CLIENT_ADDR_HEADER, settings.TRUSTED_PROXY_HOPS = "HTTP_X_FORWARDED_FOR", 2
    assert client_address(request("6.6.6.6, 198.51.100.7, 10.0.0.2")) == "198.51.100.7"


def test_a_header_shorter_than_the_proxy_chain_falls_back_to_the_socket_address(settings):
    settings.CLIENT_ADDR_HEADER, settings.TRUSTED_PROXY_HOPS = "HTTP_X_FORWARDED_FOR", 2
    assert client_address(request("198.51.100.7")) == "10.0.0.5"
