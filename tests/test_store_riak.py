"""The Riak backend on real Riak nodes: the store contract, and what only Riak does.

No test double stands in for Riak here: every test talks HTTP to the
session's cluster (tests/riak_nodes.py).
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from board.readmodel import projection
from board.readmodel.batch import BatchApplier
from board.store.base import StoreMisconfigured, StoreUnavailable
from board.store.riak import RiakStore
from board.store.riak import store as riak_store
from board.store.riak.transport import parse_nodes, path, request
from tests.lifecycle_helpers import T0, board_at, post_at, thread_at
from tests.test_store_backends import B, SiblingContract, merge_sets


def riak(url: str, **options: str) -> RiakStore:
    """A RiakStore for a riak:// URL, as settings would build it."""
    from board.lib.backends import parse_url
    from board.store import SCHEMES

    config = parse_url(url, SCHEMES, "UTAKATA_STORE_URL")
    return RiakStore(config["LOCATION"], {**config["OPTIONS"], **options})


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nothing listens there


class TestRiakStore(SiblingContract):
    @pytest.fixture(autouse=True)
    def _cluster(self, riak_cluster):
        self.cluster = riak_cluster
        # Each test gets buckets of its own through a prefix nobody else uses.
        self.prefix = f"t{uuid.uuid4().hex[:12]}"

    def new_store(self):
        return riak(self.cluster.url(), prefix=self.prefix)

    def test_refuses_a_bucket_type_that_drops_concurrent_writes(self):
        store = riak(self.cluster.url(), prefix=self.prefix, type="utakata_lww")
        with pytest.raises(StoreMisconfigured, match="allow_mult=False and last_write_wins=True"):
            store.store(B, "k", b"v")

    def test_refuses_a_missing_bucket_type_saying_how_to_create_it(self):
        store = riak(self.cluster.url(), prefix=self.prefix, type="no_such_type")
        with pytest.raises(StoreMisconfigured, match="bucket-type create no_such_type"):
            store.fetch(B, "k")

    def test_refuses_a_bucket_type_with_another_n_val_than_asked(self):
        store = riak(self.cluster.url(), prefix=self.prefix, n_val="5")
        with pytest.raises(StoreMisconfigured, match=r"has n_val=\d, the store URL asks for n_val=5"):
            store.fetch(B, "k")

    def test_keys_with_slashes_and_unicode_round_trip(self, store):
        store.store("posts", "板/1796111994/0", b"page")
        assert store.get("posts", "板/1796111994/0") == b"page"
        assert store.fetch("posts", "板/1796111994") is None

    def test_a_delete_concurrent_with_a_write_keeps_the_write(self, store):
        store.store(B, "k", b"before")
        seen = store.fetch(B, "k").context
        store.delete(B, "k")  # a tombstone...
        store.store(B, "k", b"written meanwhile", seen)  # ...beside a write that never saw it
        assert store.fetch(B, "k").values == (b"written meanwhile",), "the tombstone is not a value"

    def test_a_read_finding_only_a_tombstone_finds_nothing(self, store):
        store.store(B, "k", b"v")
        store.delete(B, "k")
        assert store.fetch(B, "k") is None
        assert store.fetch_many(B, ["k"]) == {}

    def test_every_object_carries_its_generation_index_and_model(self, store):
        store.store(B, "k", b"v")
        bucket = store._bucket(store.generation())
        got = request(store.cluster, "GET", path("types", "utakata", "buckets", bucket, "keys", f"{B}/k"))
        assert got.headers["x-riak-index-gen_int"] == str(store.generation())
        assert got.headers["x-riak-meta-model"] == store.model
        index = path("types", "utakata", "buckets", bucket, "index", "gen_int", str(store.generation()))
        assert f"{B}/k" in request(store.cluster, "GET", index).body.decode()

    def test_a_dead_node_in_the_list_is_skipped_and_tried_again_later(self):
        dead = dead_port()
        url = self.cluster.url().replace("riak://", f"riak://127.0.0.1:{dead},")
        store = riak(url, prefix=self.prefix, retry_after="0.5", connect_timeout="0.5")
        for n in range(5):
            store.store(B, f"k{n}", b"v")
        assert store.get(B, "k4") == b"v"
        node = next(n for n in store.cluster.nodes if n.port == dead)
        assert node.down_until > time.monotonic() and "Connect" in node.last_error
        time.sleep(0.6)
        assert node in store.cluster.order()[:1] or node.down_until <= time.monotonic(), "tried again later"

    def test_no_node_answering_is_unavailable_quickly(self):
        store = riak(f"riak://127.0.0.1:{dead_port()},127.0.0.1:{dead_port()}", connect_timeout="0.5")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="no node answered"):
            store.fetch(B, "k")
        assert time.monotonic() - started < 3

    def test_fetch_many_reads_siblings_in_parallel_requests(self, store):
        for n in range(20):
            store.store(B, f"k{n}", b'["a"]')
            store.store(B, f"k{n}", b'["b"]')
        found = store.fetch_many(B, [f"k{n}" for n in range(20)])
        assert all(sorted(f.values) == [b'["a"]', b'["b"]'] for f in found.values())
        assert merge_sets(list(found["k7"].values)) == b'["a", "b"]'

    def test_store_many_writes_every_item(self, store):
        assert store.store_many(B, [(f"k{n}", str(n).encode(), None) for n in range(30)]) == {
            f"k{n}": None for n in range(30)
        }
        assert store.get(B, "k29") == b"29"


class TestRiakStoreKeepingReads(TestRiakStore):
    """The same contract with reads kept in the process, checked against change tokens in Redis."""

    @pytest.fixture(autouse=True)
    def _redis(self, fresh_redis):
        self.redis = fresh_redis

    def new_store(self, **options: str):
        return riak(self.cluster.url(), prefix=self.prefix, changes=self.redis, **options)

    @pytest.fixture
    def gets(self, monkeypatch) -> list[str]:
        """The URLs of the GETs the Riak store sends from now on."""
        made: list[str] = []
        real = riak_store.request

        def counting(cluster, method, url, *args, **kwargs):
            if method == "GET":
                made.append(url)
            return real(cluster, method, url, *args, **kwargs)

        monkeypatch.setattr(riak_store, "request", counting)
        return made

    def test_a_read_again_is_answered_from_the_process_without_a_riak_request(self, store, gets):
        store.store(B, "k", b"v")
        store.fetch(B, "k")
        store.fetch_many(B, ["k", "other"])
        gets.clear()
        assert store.fetch(B, "k").values == (b"v",)
        assert store.fetch_many(B, ["k", "other"]) == {"k": store.fetch(B, "k")}
        assert gets == []

    def test_a_write_by_another_process_is_read_at_once(self, store):
        other = self.new_store(read_cache="1000000")  # reads kept apart from store's, as in another process
        store.store(B, "k", b"old")
        assert other.fetch(B, "k").values == (b"old",)
        assert other.fetch_many(B, ["k", "j"])["k"].values == (b"old",)
        store.update(B, "k", lambda _: b"new", merge_sets)
        assert other.fetch(B, "k").values == (b"new",)
        assert other.fetch_many(B, ["k", "j"])["k"].values == (b"new",)

    def test_a_write_through_another_spelling_of_the_node_list_is_read_at_once(self, store):
        other_spelling = self.cluster.url().replace("127.0.0.1", "localhost")
        reader = riak(other_spelling, prefix=self.prefix, changes=self.redis, read_cache="1000000")
        store.store(B, "k", b"old")
        assert reader.fetch(B, "k").values == (b"old",)
        store.update(B, "k", lambda _: b"new", merge_sets)
        assert reader.fetch(B, "k").values == (b"new",)

    def test_a_write_whose_token_was_lost_is_read_once_the_kept_read_is_too_old(self, store, monkeypatch):
        from board.store import changes

        other = self.new_store(read_cache="1000000")
        store.store(B, "k", b"old")
        assert other.fetch(B, "k").values == (b"old",)
        monkeypatch.setattr(store._tokens, "changed", lambda slots: None)  # the writer died before its token
        store.update(B, "k", lambda _: b"new", merge_sets)
        assert other.fetch(B, "k").values == (b"old",)
        monkeypatch.setattr(changes, "MAX_AGE", 0.0)
        assert other.fetch(B, "k").values == (b"new",)

    def test_an_update_reads_riak_not_what_the_process_kept(self, store):
        store.store(B, "k", b'["a"]')
        store.fetch(B, "k")
        stale = riak(self.cluster.url(), prefix=self.prefix)  # writes without tokens: no reads kept
        stale.update(B, "k", lambda _: b'["a", "b"]', merge_sets)
        store.update(B, "k", lambda v: merge_sets([v, b'["c"]']), merge_sets)
        fresh = riak(self.cluster.url(), prefix=self.prefix).fetch(B, "k")
        assert fresh.values == (b'["a", "b", "c"]',), "no sibling: the update descended from Riak's vclock"

    def test_reads_to_write_many_read_riak_not_what_the_process_kept(self, store):
        store.store(B, "k", b'["a"]')
        store.store(B, "j", b'["x"]')
        store.fetch_many(B, ["k", "j"])
        stale = riak(self.cluster.url(), prefix=self.prefix)  # writes without tokens: no reads kept
        stale.update(B, "k", lambda _: b'["a", "b"]', merge_sets)
        assert store.fetch_many(B, ["k", "j"])["k"].values == (b'["a"]',), "the kept read, while its token holds"
        assert store.fetch_many_to_write(B, ["k", "j"])["k"].values == (b'["a", "b"]',)

    def test_a_batch_joins_into_what_riak_holds_not_what_the_process_kept(self, store, monkeypatch):
        written: set[tuple[str, str]] = set()
        store_many = store.store_many

        def recording(bucket, items):
            written.update((bucket, key) for key, _, _ in items)
            return store_many(bucket, items)

        monkeypatch.setattr(store, "store_many", recording)
        created = thread_at("b", T0)
        with BatchApplier(store) as applier:
            for event in (board_at("b", T0), created):
                applier.add(event)
        for bucket in {bucket for bucket, _ in written}:
            store.fetch_many(bucket, [key for b, key in written if b == bucket])  # kept by the process
        stale = riak(self.cluster.url(), prefix=self.prefix)  # another writer whose tokens were lost
        projection.apply(stale, post_at("b", created.thread, 2, T0))
        with BatchApplier(store) as applier:
            applier.add(post_at("b", created.thread, 3, T0))
        siblings = {slot: len(found.values) for slot in written if (found := stale.fetch(*slot)) is not None}
        assert set(siblings.values()) == {1}, f"objects the batch wrote with siblings: {siblings}"

    def test_without_redis_every_read_goes_to_riak_and_waits_on_redis_once(self, gets):
        store = riak(self.cluster.url(), prefix=self.prefix, changes=f"redis://127.0.0.1:{dead_port()}/0")
        store.store(B, "k", b"v")
        gets.clear()
        started = time.monotonic()
        for _ in range(3):
            assert store.fetch(B, "k").values == (b"v",)
        assert len(gets) == 3 and time.monotonic() - started < 2

    def test_no_read_is_kept_without_a_read_cache(self, gets):
        store = self.new_store(read_cache="0")
        store.store(B, "k", b"v")
        gets.clear()
        store.fetch(B, "k")
        store.fetch(B, "k")
        assert len(gets) == 2


def test_node_lists_parse_hosts_ports_and_ipv6():
    assert parse_nodes("h1:8098,h2, [::1]:9000") == [("h1", 8098), ("h2", 8098), ("::1", 9000)]
    with pytest.raises(ValueError, match="not a number"):
        parse_nodes("h1:web")
    with pytest.raises(ValueError, match="no riak nodes"):
        parse_nodes(" , ")


def test_a_misspelt_option_is_refused_naming_it():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="unknown option.*n_vall"):
        RiakStore("127.0.0.1:8098", {"n_vall": "3"})


def test_an_option_that_is_not_a_number_is_refused_naming_it():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="timeout='soon' is not a whole number"):
        RiakStore("127.0.0.1:8098", {"timeout": "soon"})
