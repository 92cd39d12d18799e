"""Whose address a post is from: never an entry the client could have written itself."""

import subprocess
import sys

import pytest
from django.test import RequestFactory

from board.web.client import client_address
from tests import services

PROXIES = ["10.0.0.0/8"]


def request(forwarded: str | None = None, peer: str = "10.0.0.5"):
    meta = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.fixture
def behind_proxies(settings):
    settings.CLIENT_ADDR_HEADER, settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_HOPS = (
        "HTTP_X_FORWARDED_FOR",
        PROXIES,
        1,
    )
    return settings


def test_without_a_configured_header_the_socket_address_is_used(settings):
    settings.CLIENT_ADDR_HEADER = ""
    assert client_address(request("203.0.113.9")) == "10.0.0.5"


def test_behind_one_proxy_the_address_it_appended_is_used_not_the_clients_own_entries(behind_proxies):
    assert client_address(request("6.6.6.6, 198.51.100.7")) == "198.51.100.7"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_address(behind_proxies):
    # Someone reaching gunicorn directly, writing whatever address they like.
    assert client_address(request("198.51.100.99", peer="203.0.113.50")) == "203.0.113.50"


def test_behind_two_proxies_the_trusted_hop_is_skipped(behind_proxies):
    behind_proxies.TRUSTED_PROXY_HOPS = 2
    assert client_address(request("6.6.6.6, 198.51.100.7, 10.0.0.2")) == "198.51.100.7"


def test_no_more_trusted_hops_are_skipped_than_the_chain_has(behind_proxies):
    # One proxy: an entry inside its networks is what that proxy saw, not another proxy of ours.
    assert client_address(request("10.9.9.9")) == "10.9.9.9"


def test_a_garbled_header_falls_back_to_the_proxys_own_peer(behind_proxies):
    assert client_address(request("6.6.6.6, not-an-address")) == "10.0.0.5"


def test_an_ipv6_client_is_counted_by_its_64(settings):
    settings.CLIENT_ADDR_HEADER = ""
    one = client_address(request(peer="2001:db8:1:2:aaaa::1"))
    other = client_address(request(peer="2001:db8:1:2:bbbb::9"))
    assert one == other == "2001:db8:1:2::"
    assert client_address(request(peer="2001:db8:1:3::1")) != one


def test_the_ipv6_prefix_is_configurable(settings):
    settings.CLIENT_ADDR_HEADER, settings.IPV6_PREFIX = "", 48
    assert client_address(request(peer="2001:db8:1:2::1")) == client_address(request(peer="2001:db8:1:ffff::1"))


def test_an_ipv4_mapped_address_is_its_ipv4(settings):
    settings.CLIENT_ADDR_HEADER = ""
    assert client_address(request(peer="::ffff:198.51.100.7")) == "198.51.100.7"


def test_a_header_without_the_proxies_networks_is_refused_at_start(tmp_path):
    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), UTAKATA_CLIENT_ADDR_HEADER="HTTP_X_FORWARDED_FOR")
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "UTAKATA_TRUSTED_PROXIES is empty" in done.stderr


def access_log_line(tmp_path, **env: str) -> str:
    """gunicorn's access log line for one request from 127.0.0.1 with a Referer and a User-Agent."""
    import requests

    from tests import processes

    env = services.project_env(UTAKATA_DATA_DIR=str(tmp_path), **env)
    with processes.gunicorn(env, workers=1, threads=1, access_log=True, log_dir=tmp_path) as web:
        headers = {"Referer": "http://referer.example/", "User-Agent": "Monazilla/1.00 JDim"}
        requests.get(web.url + "/bbsmenu.html?for-the-log", headers=headers, timeout=10)
        processes.eventually(lambda: "for-the-log" in web.output(), 10, "the request in the access log")
        return next(line for line in web.output().splitlines() if "for-the-log" in line)


def test_the_access_log_keeps_no_client_address_referer_or_user_agent(tmp_path):
    line = access_log_line(tmp_path)
    assert "127.0.0.1" not in line and "referer.example" not in line and "JDim" not in line


def test_an_operator_can_turn_addresses_on_in_the_access_log(tmp_path):
    line = access_log_line(tmp_path, UTAKATA_ACCESS_LOG_ADDRESSES="1")
    assert line.startswith("127.0.0.1") and "JDim" in line
