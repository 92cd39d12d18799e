"""The store contract, run against every backend.

``StoreContract`` holds the behaviour every backend must show; each backend
subclasses it and says how to build an instance. The Riak-like variant of the
memory store (``siblings=1``) replaces the tests where keeping siblings is the
correct answer instead of a Conflict.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
import uuid

import pytest

from board.store.base import Conflict, StoreError, StoreUnavailable
from board.store.generations import Pointer, merge_pointers
from board.store.memory import MemoryStore
from board.store.sqlite import SQLiteStore

B = "bucket"


# A grow-only counter (one count per writer, merged by max): a join-semilattice,
# so it loses nothing whether the store refuses concurrent writes or keeps siblings.


def merge_counter(values: list[bytes]) -> bytes:
    merged: dict[str, int] = {}
    for value in values:
        for writer, count in json.loads(value).items():
            merged[writer] = max(merged.get(writer, 0), count)
    return json.dumps(merged, sort_keys=True).encode()


def incrementer(writer: str, pause: float = 0.0):
    def mutate(current: bytes | None) -> bytes:
        counts = json.loads(current) if current else {}
        if pause:
            # Between the read and the write: the window a concurrent writer races into.
            time.sleep(pause)
        counts[writer] = counts.get(writer, 0) + 1
        return json.dumps(counts, sort_keys=True).encode()

    return mutate


def total(value: bytes | None) -> int:
    return sum(json.loads(value).values()) if value else 0


def merge_sets(values: list[bytes]) -> bytes:
    return json.dumps(sorted(set().union(*(json.loads(v) for v in values)))).encode()


def watch_races(store, races: list) -> None:
    """Record each write of this instance refused as stale, and each read of an update that met siblings."""
    fetch, write = store.fetch_to_write, store.store

    def watched_fetch(bucket, key):
        fetched = fetch(bucket, key)
        if fetched is not None and len(fetched.values) > 1:
            races.append("siblings")
        return fetched

    def watched_store(*args):
        try:
            return write(*args)
        except Conflict:
            races.append("conflict")
            raise

    store.fetch_to_write, store.store = watched_fetch, watched_store


class StoreContract:
    """What every store does. Subclasses define ``new_store()``: a new instance on the same data."""

    @pytest.fixture(autouse=True)
    def _setup(self, tmp_path):
        self.tmp_path = tmp_path
        self.location = uuid.uuid4().hex
        self.instances = []
        yield
        for instance in self.instances:
            instance.close()

    def new_store(self):
        raise NotImplementedError

    @pytest.fixture
    def fast_thread_switching(self):
        """Make the interpreter switch threads very often, so that racing threads really interleave."""
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        yield
        sys.setswitchinterval(interval)

    def make(self):
        instance = self.new_store()
        self.instances.append(instance)
        return instance

    @pytest.fixture
    def store(self):
        return self.make()

    def test_fetch_missing_returns_none(self, store):
        assert store.fetch(B, "nothing") is None
        assert store.get(B, "nothing") is None

    def test_store_then_fetch_round_trips_bytes(self, store):
        value = bytes(range(256)) + "泡沫\n".encode() + b"\x00"
        store.store(B, "k", value)
        fetched = store.fetch(B, "k")
        assert fetched.values == (value,)
        assert type(fetched.values[0]) is bytes
        assert store.get(B, "k") == value
        assert self.make().fetch(B, "k").values == (value,), "another instance sees it"

    def test_buckets_are_separate(self, store):
        store.store("a", "k", b"in a")
        assert store.fetch("b", "k") is None
        store.store("b", "k", b"in b")
        assert store.get("a", "k") == b"in a"

    def test_store_with_fetched_context_replaces(self, store):
        store.store(B, "k", b"one")
        store.store(B, "k", b"two", store.fetch(B, "k").context)
        assert store.fetch(B, "k").values == (b"two",)

    def test_store_without_context_on_existing_key_conflicts(self, store):
        store.store(B, "k", b"first")
        with pytest.raises(Conflict):
            store.store(B, "k", b"second")
        assert store.get(B, "k") == b"first"

    def test_stale_context_conflicts(self, store):
        store.store(B, "k", b"one")
        stale = store.fetch(B, "k").context
        self.make().store(B, "k", b"two", stale)
        with pytest.raises(Conflict):
            store.store(B, "k", b"three", stale)
        assert store.get(B, "k") == b"two"

    def test_context_from_before_a_delete_conflicts(self, store):
        store.store(B, "k", b"one")
        stale = store.fetch(B, "k").context
        store.delete(B, "k")
        with pytest.raises(Conflict):
            store.store(B, "k", b"resurrected", stale)
        store.store(B, "k", b"recreated")
        with pytest.raises(Conflict):
            store.store(B, "k", b"over the new one", stale)
        assert store.get(B, "k") == b"recreated"

    def test_update_creates_and_mutates(self, store):
        assert store.update(B, "n", incrementer("w"), merge_counter) == b'{"w": 1}'
        assert store.update(B, "n", incrementer("w"), merge_counter) == b'{"w": 2}'
        assert store.get(B, "n") == b'{"w": 2}'

    def test_update_returning_same_value_writes_nothing(self, store):
        store.store(B, "k", b"same")
        before = store.fetch(B, "k")
        assert store.update(B, "k", lambda current: current, merge_counter) == b"same"
        assert store.update(B, "k", lambda current: None, merge_counter) == b"same"
        assert store.update(B, "k", lambda current: b"same", merge_counter) == b"same"
        assert store.fetch(B, "k") == before, "version/context unchanged: nothing was written"
        assert store.update(B, "missing", lambda current: None, merge_counter) is None
        assert store.fetch(B, "missing") is None

    def test_update_retries_after_losing_a_race(self, store):
        store.store(B, "n", b'{"w": 1}')
        other = self.make()
        raced = []

        def mutate(current):
            if not raced:  # another writer gets in between this read and its write
                raced.append(1)
                other.update(B, "n", incrementer("other"), merge_counter)
            return incrementer("w")(current)

        store.update(B, "n", mutate, merge_counter)
        assert json.loads(store.get(B, "n", merge_counter)) == {"other": 1, "w": 2}

    def test_concurrent_updates_lose_nothing(self, fast_thread_switching):
        threads, increments = 8, 50
        start = threading.Barrier(threads)
        errors, races = [], []

        def work(n):
            try:
                store = self.make()  # one instance per thread, as the handler gives
                watch_races(store, races)
                start.wait()
                for _ in range(increments):
                    store.update(B, "counter", incrementer(f"t{n}", pause=0.0002), merge_counter)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert not errors
        assert races, "the threads never raced: the test proved nothing"
        assert total(self.make().get(B, "counter", merge_counter)) == threads * increments

    def test_fetch_many_skips_missing(self, store):
        for n in range(3):
            store.store(B, f"k{n}", f"v{n}".encode())
        store.store("elsewhere", "k9", b"other bucket")
        found = store.fetch_many(B, ["k0", "missing", "k2", "k9", "k0"])
        assert set(found) == {"k0", "k2"}
        assert found["k0"].values == (b"v0",)
        assert found["k2"] == store.fetch(B, "k2"), "same values and context as fetch()"
        assert store.fetch_many(B, []) == {}

    def test_fetch_many_of_one_key_finds_it_or_nothing(self, store):
        store.store(B, "k0", b"v0")
        assert store.fetch_many(B, ["k0", "k0"]) == {"k0": store.fetch(B, "k0")}
        assert store.fetch_many(B, ["missing"]) == {}

    def test_fetch_many_handles_many_keys(self, store):
        with store.batch():
            for n in range(0, 2500, 2):
                store.store(B, f"k{n}", str(n).encode())
        found = store.fetch_many(B, (f"k{n}" for n in range(2500)))
        assert len(found) == 1250
        assert found["k2498"].values == (b"2498",)

    def test_delete_removes_and_ignores_missing(self, store):
        store.store(B, "k", b"v")
        store.delete(B, "k")
        store.delete(B, "never")
        assert store.fetch(B, "k") is None
        store.store(B, "k", b"again")
        assert store.get(B, "k") == b"again"

    def test_flush_empties_the_store(self, store):
        for n in range(10):
            store.store(f"b{n % 3}", f"k{n}", b"v")
        store.flush()
        assert store.is_empty()
        assert store.fetch("b0", "k0") is None
        store.store("b0", "k0", b"after flush")
        assert self.make().get("b0", "k0") == b"after flush"

    def test_is_empty(self, store):
        assert store.is_empty()
        store.store(B, "k", b"")
        assert not store.is_empty()
        assert not self.make().is_empty()
        store.delete(B, "k")
        assert store.is_empty()

    def test_values_must_be_bytes(self, store):
        with pytest.raises(TypeError):
            store.store(B, "k", "text")
        store.store(B, "k", bytearray(b"ok"))
        assert store.get(B, "k") == b"ok"

    def test_batch_keeps_reads_and_conflicts_exact(self, store):
        with store.batch():
            store.update(B, "n", incrementer("w"), merge_counter)
            store.update(B, "n", incrementer("w"), merge_counter)
            assert store.get(B, "n") == b'{"w": 2}', "the batch reads its own writes"
            stale = store.fetch(B, "n").context
            store.store(B, "n", b'{"w": 3}', stale)
            if not store.makes_siblings:
                with pytest.raises(Conflict):
                    store.store(B, "n", b'{"w": 9}', stale)
                with pytest.raises(Conflict):
                    store.store(B, "n", b'{"w": 9}')
            with store.batch():  # batches nest
                store.update(B, "n", lambda current: b'{"w": 4}', merge_counter)
        assert store.get(B, "n") == b'{"w": 4}'
        assert self.make().get(B, "n") == b'{"w": 4}'

    def test_batch_keeps_writes_made_before_an_error(self, store):
        with pytest.raises(RuntimeError), store.batch():
            store.store(B, "kept", b"v")
            raise RuntimeError("boom")
        assert self.make().get(B, "kept") == b"v"

    # Generations: emptied, rebuilt beside, switched, retired; never by listing keys.

    def test_flush_switches_to_an_empty_generation(self, store):
        store.store(B, "k", b"old")
        before = store.generation()
        store.flush()
        assert store.generation() > before
        assert store.fetch(B, "k") is None
        assert self.make().generation() == store.generation(), "a new instance reads the new pointer"

    def test_a_staging_generation_is_filled_beside_the_live_one_and_promoted(self, store):
        store.store(B, "k", b"live")
        staging = store.staging()
        self.instances.append(staging)
        assert staging.generation() > store.generation()
        assert staging.is_empty() and staging.fetch(B, "k") is None
        staging.store(B, "k", b"rebuilt")
        assert self.make().get(B, "k") == b"live", "readers keep the live generation while it is built"
        staging.promote()
        assert self.make().get(B, "k") == b"rebuilt"
        assert store.pointer().current == staging.generation()

    def test_retire_removes_older_generations_only(self, store):
        store.store(B, "k", b"first")
        first = store.generation()
        store.flush()
        store.store(B, "k", b"second")
        building = store.staging()
        self.instances.append(building)
        building.store(B, "k", b"being built")
        assert store.retire() == [first]
        old = type(store)(store.location, {**store.options, "generation": str(first)})
        self.instances.append(old)
        assert old.is_empty() and old.fetch(B, "k") is None, "the retired generation's data is gone"
        assert store.get(B, "k") == b"second"
        assert building.get(B, "k") == b"being built", "a generation newer than the current one is kept"
        assert store.retire() == [], "nothing left to retire"

    def test_model_versions_keep_separate_generations(self, store):
        store.store(B, "k", b"model 1")
        other = type(store)(store.location, {**store.options, "model": "x" + store.model})
        self.instances.append(other)
        assert other.is_empty()
        other.store(B, "k", b"model 2")
        assert store.get(B, "k") == b"model 1"

    def test_promoting_an_older_generation_is_refused(self, store):
        old = store.staging()
        newer = store.staging()
        self.instances += [old, newer]
        newer.promote()
        with pytest.raises(StoreError, match="became current"):
            old.promote()

    # The two-phase switch of a rebuild (generations.py): dual write, then promote.

    def test_during_dual_write_an_update_lands_in_the_staged_generation_and_readers_keep_the_live_one(self, store):
        store.store(B, "k", json.dumps(["live"]).encode())
        staging = store.staging()
        self.instances.append(staging)
        staging.start_dual_write()
        writer = self.make()  # a process that reads the pointer after the dual write began
        writer.update(
            B, "k", lambda current: json.dumps(sorted({*json.loads(current or "[]"), "new"})).encode(), merge_sets
        )
        assert json.loads(self.make().get(B, "k", merge_sets)) == ["live", "new"], "readers keep the live generation"
        assert json.loads(staging.get(B, "k", merge_sets)) == ["new"]

    def test_dual_write_reaches_the_staged_generation_before_the_current_one(self, store):
        store.store(B, "k", b"live")
        staging = store.staging()
        self.instances.append(staging)
        staging.store(B, "k", b"staged")
        staging.start_dual_write()
        seen = []

        def mutate(current):
            seen.append(current)
            return current + b"+"

        self.make().update(B, "k", mutate, merge_sets)
        assert seen == [b"staged", b"live"], "what readers of the live generation see is already in the staged one"

    def test_dual_write_ends_when_the_staged_generation_becomes_current(self, store):
        staging = store.staging()
        self.instances.append(staging)
        staging.start_dual_write()
        staging.promote()
        assert self.make().dual_twin() is None

    def test_a_staged_generation_given_up_takes_no_more_dual_writes(self, store):
        staging = store.staging()
        self.instances.append(staging)
        staging.start_dual_write()
        assert self.make().dual_twin() is not None
        staging.abandon()
        self.make().update(B, "k", lambda current: b"after", merge_sets)
        assert self.make().dual_twin() is None and staging.fetch(B, "k") is None
        assert store.pointer().current < staging.generation(), "giving up switches nothing"

    def test_only_a_staging_instance_can_ask_for_dual_write(self, store):
        with pytest.raises(StoreError, match="staging"):
            store.start_dual_write()


class SiblingContract(StoreContract):
    """Stores that keep concurrent writes as siblings (Riak with allow_mult)."""

    # Here these writes make siblings instead of conflicting: see the tests below.
    test_store_without_context_on_existing_key_conflicts = None
    test_stale_context_conflicts = None
    test_context_from_before_a_delete_conflicts = None

    def test_makes_siblings(self, store):
        assert store.makes_siblings is True

    def test_store_without_context_on_existing_key_makes_siblings(self, store):
        store.store(B, "k", b"first")
        store.store(B, "k", b"second")
        assert sorted(store.fetch(B, "k").values) == [b"first", b"second"]

    def test_concurrent_stores_make_siblings(self, store):
        store.store(B, "k", b'["a"]')
        seen = store.fetch(B, "k").context
        other = self.make()
        store.store(B, "k", b'["a", "b"]', seen)
        other.store(B, "k", b'["a", "c"]', seen)  # did not see "b"
        fetched = store.fetch(B, "k")
        assert sorted(fetched.values) == [b'["a", "b"]', b'["a", "c"]']
        with pytest.raises(StoreError, match="2 siblings"):
            store.get(B, "k")
        assert store.get(B, "k", merge_sets) == b'["a", "b", "c"]'

    def test_store_with_context_of_a_fetch_that_saw_the_siblings_replaces_them(self, store):
        store.store(B, "k", b"x")
        store.store(B, "k", b"y")
        store.store(B, "k", b"z", store.fetch(B, "k").context)
        assert store.fetch(B, "k").values == (b"z",)

    def test_stale_context_keeps_only_the_siblings_it_did_not_see(self, store):
        store.store(B, "k", b"old")
        stale = store.fetch(B, "k").context
        store.store(B, "k", b"newer", stale)
        store.store(B, "k", b"concurrent", stale)  # replaces "old" (seen), not "newer" (unseen)
        assert sorted(store.fetch(B, "k").values) == [b"concurrent", b"newer"]

    def test_update_merges_siblings(self, store):
        store.store(B, "k", b'["a"]')
        store.store(B, "k", b'["b"]')  # no context: a sibling
        seen = []

        def add_c(current):
            seen.append(current)
            return merge_sets([current, b'["c"]'])

        assert store.update(B, "k", add_c, merge_sets) == b'["a", "b", "c"]'
        assert seen == [b'["a", "b"]'], "mutate saw the merged siblings"
        assert store.fetch(B, "k").values == (b'["a", "b", "c"]',), "one value again"

    def test_update_resolves_siblings_even_if_mutate_changes_nothing(self, store):
        store.store(B, "k", b'["a"]')
        store.store(B, "k", b'["b"]')
        assert store.update(B, "k", lambda current: current, merge_sets) == b'["a", "b"]'
        assert store.fetch(B, "k").values == (b'["a", "b"]',)


class TestMemoryStore(StoreContract):
    def new_store(self):
        return MemoryStore(self.location, {})

    def test_does_not_make_siblings(self, store):
        assert store.makes_siblings is False

    def test_same_location_is_shared_and_forget_all_empties_it(self, store):
        store.store(B, "k", b"v")
        assert MemoryStore(self.location).get(B, "k") == b"v"
        assert MemoryStore(uuid.uuid4().hex).fetch(B, "k") is None
        MemoryStore.forget_all()
        assert store.fetch(B, "k") is None


class TestMemoryStoreWithSiblings(SiblingContract):
    """Riak with allow_mult, in memory: writes that do not descend what is stored are kept beside it."""

    def new_store(self):
        return MemoryStore(self.location, {"siblings": "1"})


class TestSQLiteStore(StoreContract):
    def new_store(self):
        return SQLiteStore(str(self.tmp_path / "nested" / "dirs" / "store.sqlite3"), {})

    def test_does_not_make_siblings(self, store):
        assert store.makes_siblings is False

    def test_url_location_and_file(self, store, settings):
        from board.lib.backends import BackendHandler, parse_url
        from board.store import SCHEMES

        path = self.tmp_path / "from-url" / "store.sqlite3"
        settings.UTAKATA_TEST_STORE = parse_url(f"sqlite://{path}", SCHEMES, "UTAKATA_STORE_URL")
        built = BackendHandler("UTAKATA_TEST_STORE").create()
        self.instances.append(built)
        assert isinstance(built, SQLiteStore)
        assert built.location == str(path)
        built.store(B, "k", b"v")
        assert path.exists()
        conn = built._db()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL

    def test_a_misspelt_option_is_refused_naming_it(self):
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="unknown option.*read_cach"):
            SQLiteStore(str(self.tmp_path / "s.sqlite3"), {"read_cach": "0"})

    def test_an_option_out_of_its_range_is_refused_naming_it(self):
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="read_cache='lots' is not a whole number"):
            SQLiteStore(str(self.tmp_path / "s.sqlite3"), {"read_cache": "lots"})
        with pytest.raises(ImproperlyConfigured, match="batch_size='0' must be above 0"):
            SQLiteStore(str(self.tmp_path / "s.sqlite3"), {"batch_size": "0"})

    def test_flush_keeps_the_file(self, store):
        store.store(B, "k", b"v")
        store.flush()
        assert (self.tmp_path / "nested" / "dirs" / "store.sqlite3").exists()
        assert store.is_empty()

    def test_batch_groups_writes(self, store):
        reader = self.make()
        with store.batch():
            for n in range(100):
                store.store(B, f"k{n}", b"v")
            assert store.get(B, "k99") == b"v"
            assert reader.fetch(B, "k0") is None, "not committed until the batch ends"
            assert reader.is_empty()
        assert len(reader.fetch_many(B, [f"k{n}" for n in range(100)])) == 100

    def test_long_batch_commits_every_batch_size_writes(self):
        store = SQLiteStore(str(self.tmp_path / "s.sqlite3"), {"batch_size": "10"})
        reader = SQLiteStore(str(self.tmp_path / "s.sqlite3"), {})
        self.instances += [store, reader]
        with store.batch():
            for n in range(25):
                store.store(B, f"k{n}", b"v")
            assert len(reader.fetch_many(B, [f"k{n}" for n in range(25)])) == 20
        assert len(reader.fetch_many(B, [f"k{n}" for n in range(25)])) == 25

    def test_writer_waiting_on_a_batch_times_out_as_unavailable(self):
        path = str(self.tmp_path / "s.sqlite3")
        batcher, blocked = SQLiteStore(path, {}), SQLiteStore(path, {"timeout": "0.1"})
        self.instances += [batcher, blocked]
        blocked.store(B, "k", b"v")
        with batcher.batch():
            batcher.store(B, "other", b"v")
            with pytest.raises(StoreUnavailable, match="database is locked"):
                blocked.update(B, "k", lambda current: b"w", merge_counter)
            assert blocked.get(B, "k") == b"v", "readers are not blocked"
        blocked.update(B, "k", lambda current: b"w", merge_counter)
        assert batcher.get(B, "k") == b"w"

    def test_a_store_url_without_a_path_stops_naming_the_variable(self, settings):
        from django.core.exceptions import ImproperlyConfigured

        from board import store as store_module

        settings.UTAKATA_STORE = {"BACKEND": "board.store.sqlite.SQLiteStore", "LOCATION": ""}
        store_module.handler.reset()
        with pytest.raises(ImproperlyConfigured, match="UTAKATA_STORE_URL: SQLiteStore needs a file path"):
            store_module.get_store()

    def test_unopenable_file_is_unavailable(self):
        (self.tmp_path / "a-directory.sqlite3").mkdir()
        store = SQLiteStore(str(self.tmp_path / "a-directory.sqlite3"), {})
        with pytest.raises(StoreUnavailable, match="unable to open"):
            store.fetch(B, "k")

    def test_a_folder_that_cannot_be_made_is_unavailable(self):
        (self.tmp_path / "a-file").write_text("")
        store = SQLiteStore(str(self.tmp_path / "a-file" / "store.sqlite3"), {})
        with pytest.raises(StoreUnavailable, match="opening .*a-file"):
            store.fetch(B, "k")

    def test_reopens_after_fork(self, store):
        store.store(B, "k", b"before fork")
        first = store._conn
        store._pid = -1  # what a forked child sees: the pid it opened with is not its own
        assert store.get(B, "k") == b"before fork"
        assert store._conn is not first

    @pytest.mark.slow
    def test_processes_updating_one_key_lose_nothing(self):
        path = str(self.tmp_path / "shared.sqlite3")
        creator = SQLiteStore(path, {})
        assert creator.is_empty()  # creates the file and schema before the race
        creator.close()
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Barrier(2)
        increments = 1000
        workers = [ctx.Process(target=_increment_in_process, args=(path, f"p{n}", increments, start)) for n in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert [worker.exitcode for worker in workers] == [0, 0]
        value = SQLiteStore(path, {}).get(B, "counter")
        assert json.loads(value) == {"p0": increments, "p1": increments}


def _increment_in_process(path: str, writer: str, increments: int, start) -> None:
    store = SQLiteStore(path, {})
    start.wait(60)
    for _ in range(increments):
        store.update(B, "counter", incrementer(writer), merge_counter)
    store.close()


# The pointer is a join-semilattice that older code wrote without the dual-write fields.


def test_a_pointer_written_before_dual_write_existed_decodes_without_it():
    old = b'{"clean_below": 2, "current": 3, "highest": 4}'
    assert Pointer.decode(old) == Pointer(current=3, highest=4, clean_below=2, dual=0, abandoned=0)
    assert Pointer.decode(old).dual_target() is None


def test_pointer_siblings_merge_field_by_field_keeping_a_dual_write():
    promoted_elsewhere = Pointer(current=2, highest=3, clean_below=1)
    dual = Pointer(current=1, highest=3, clean_below=1, dual=3)
    merged = Pointer.decode(merge_pointers([promoted_elsewhere.encode(), dual.encode()]))
    assert merged == Pointer(current=2, highest=3, clean_below=1, dual=3)
    assert merged.dual_target() == 3
    assert Pointer.decode(merged.encode()) == merged, "the new fields round-trip"


def test_a_pointer_names_no_dual_target_once_it_is_current_or_abandoned():
    dual = Pointer(highest=2).dual_writing(2)
    assert dual.dual_target() == 2
    assert dual.promoted(2).dual_target() is None
    assert dual.abandoning(2).dual_target() is None
    assert dual.abandoning(2).join(dual) == dual.abandoning(2), "join is idempotent and keeps the abandonment"
