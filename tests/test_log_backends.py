"""The durable log's contract, run against every backend, plus each backend's own edges.

LogContract holds the tests every backend must pass; TestMemoryLog,
TestLocalLog and TestS3Log (a real moto S3 server) each supply a factory of
log instances. A new backend gets the whole contract by subclassing it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from board.log.base import AlreadyExists, Archived, BaseLog, LogError, LogUnavailable, NotFound, UnsafeLog
from board.log.local import LocalLog
from board.log.memory import MemoryLog
from board.log.s3 import S3Log
from tests import services

MiB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LogContract:
    """What every BaseLog must do. Subclasses override the make_log fixture."""

    large_size = 20 * MiB

    @pytest.fixture
    def make_log(self):
        """A callable returning a new instance on the same underlying log."""
        raise NotImplementedError

    @pytest.fixture
    def log(self, make_log) -> Iterator[BaseLog]:
        instance = make_log()
        yield instance
        instance.close()

    def test_create_then_read_returns_the_bytes(self, log):
        log.create("incoming/events/01.json", b'{"a": 1}')
        assert log.read("incoming/events/01.json") == b'{"a": 1}'
        assert log.exists("incoming/events/01.json")
        assert not log.exists("incoming/events/02.json")

    def test_binary_and_empty_objects_round_trip(self, log):
        payload = bytes(range(256)) * 4
        log.create("bin", payload)
        log.create("empty", b"")
        assert log.read("bin") == payload
        assert log.read("empty") == b""

    def test_create_refuses_to_overwrite(self, log):
        log.create("incoming/posts/news/1/0001.json", b"first")
        with pytest.raises(AlreadyExists):
            log.create("incoming/posts/news/1/0001.json", b"second")
        assert log.read("incoming/posts/news/1/0001.json") == b"first"

    def test_create_of_identical_bytes_is_idempotent(self, log):
        log.create("k.json", b"same")
        log.create("k.json", b"same")  # a retried write, not a conflict
        assert log.read("k.json") == b"same"
        with pytest.raises(AlreadyExists):
            log.create("k.json", b"same plus more")
        with pytest.raises(AlreadyExists):
            log.create("k.json", b"sam")

    def test_list_is_in_key_order_under_prefix(self, log):
        # "p/a-b" < "p/a.b" < "p/a/b" by the full strings ('-' < '.' < '/'), which
        # a naive directory walk ("a" before "a-b") would get wrong. ("p/a" and
        # "p/a/b" together are left out: a local file cannot be a directory.)
        keys = [
            "p/a/b",
            "p/a-b",
            "p/a.b",
            "p/ab/c",
            "p/a0",
            "p/板/1.json",
            "p/z/y/x.json",
            "p/B",
            "q/outside",
            "o/outside",
        ]
        for key in keys:
            log.create(key, key.encode())
        listed = list(log.list("p/"))
        expected = sorted(k for k in keys if k.startswith("p/"))
        assert [info.key for info in listed] == expected
        assert expected.index("p/a-b") < expected.index("p/a.b") < expected.index("p/a/b")
        for info in listed:
            assert info.size == len(info.key.encode())
            assert isinstance(info.modified, datetime) and info.modified.tzinfo is not None
            assert info.storage_class == "STANDARD"
        # A prefix that ends mid-name, and the whole log.
        assert [i.key for i in log.list("p/a")] == [k for k in expected if k.startswith("p/a")]
        assert [i.key for i in log.list()] == sorted(keys)
        assert list(log.list("nothing/")) == []

    def test_list_is_lazy(self, log):
        for n in range(5):
            log.create(f"lazy/{n}", b"x")
        listing = log.list("lazy/")
        assert isinstance(listing, Iterator)
        assert next(listing).key == "lazy/0"

    def test_first_is_what_list_yields_first_or_none(self, log):
        for key in ("p/b", "p/a", "q/a"):
            log.create(key, b"x")
        assert log.first("p/") == next(log.list("p/"))
        assert log.first("p/").key == "p/a"
        assert log.first("r/") is None

    def test_list_start_after(self, log):
        keys = [f"incoming/{h:02d}/{n}.json" for h in range(3) for n in range(3)]
        for key in keys:
            log.create(key, b"{}")
        log.create("other/x", b"{}")
        got = [i.key for i in log.list("incoming/", start_after="incoming/01/0.json")]
        assert got == [k for k in sorted(keys) if k > "incoming/01/0.json"]
        # start_after need not be a key, and may fall before or beyond the prefix.
        assert [i.key for i in log.list("incoming/", start_after="incoming/01/")] == [
            k for k in sorted(keys) if k > "incoming/01/"
        ]
        assert [i.key for i in log.list("incoming/", start_after="a")] == sorted(keys)
        assert list(log.list("incoming/", start_after="z")) == []
        assert [i.key for i in log.list(start_after="incoming/02/2.json")] == ["other/x"]

    def test_delete_missing_is_not_an_error(self, log):
        log.create("d/1", b"1")
        log.create("d/2", b"2")
        log.delete(["d/1", "d/missing", "never/was/here"])
        log.delete([])
        assert not log.exists("d/1")
        assert log.read("d/2") == b"2"
        assert [i.key for i in log.list("d/")] == ["d/2"]
        with pytest.raises(NotFound):
            log.read("d/1")

    def test_delete_accepts_a_generator_over_its_own_listing(self, log):
        for n in range(30):
            log.create(f"gen/{n:03d}", b"x")
        log.delete(info.key for info in log.list("gen/"))
        assert list(log.list("gen/")) == []

    def test_read_missing_raises_not_found(self, log):
        with pytest.raises(NotFound):
            log.read("no/such/key")
        with pytest.raises(NotFound):
            log.open("no/such/key")
        assert issubclass(NotFound, LogError)

    def test_open_streams_in_pieces(self, log):
        data = random.Random(7).randbytes(300_000)
        log.create("big/stream.bin", data)
        pieces = []
        with log.open("big/stream.bin") as stream:
            while piece := stream.read(65_536):
                assert len(piece) <= 65_536
                pieces.append(piece)
        assert len(pieces) > 1
        assert b"".join(pieces) == data

    def test_create_from_file_large_object(self, log):
        data = random.Random(11).randbytes(self.large_size)
        log.create_from_file("snapshots/big.jsonl.gz", io.BytesIO(data))
        digest = hashlib.sha256()
        size = 0
        with log.open("snapshots/big.jsonl.gz") as stream:
            while piece := stream.read(MiB):
                digest.update(piece)
                size += len(piece)
        assert size == len(data)
        assert digest.hexdigest() == sha256(data)
        [info] = log.list("snapshots/")
        assert info.size == len(data)

    def test_a_large_object_is_one_object_that_never_gives_way(self, log):
        data = random.Random(5).randbytes(self.large_size)
        other = random.Random(6).randbytes(self.large_size)
        log.create_from_file("daily/2024/01/01.jsonl.gz", io.BytesIO(data))
        with pytest.raises(AlreadyExists):
            log.create_from_file("daily/2024/01/01.jsonl.gz", io.BytesIO(other))
        with pytest.raises(AlreadyExists):
            log.create("daily/2024/01/01.jsonl.gz", b"small")
        log.create_from_file("daily/2024/01/01.jsonl.gz", io.BytesIO(data))  # the same bytes again: success
        assert sha256(log.read("daily/2024/01/01.jsonl.gz")) == sha256(data)
        assert [(i.key, i.size) for i in log.list("daily/")] == [("daily/2024/01/01.jsonl.gz", len(data))]
        assert log.exists("daily/2024/01/01.jsonl.gz")
        log.delete(["daily/2024/01/01.jsonl.gz"])
        assert list(log.list("daily/")) == []
        assert not log.exists("daily/2024/01/01.jsonl.gz")
        log.create_from_file("daily/2024/01/01.jsonl.gz", io.BytesIO(other))  # a deleted key is free again
        assert sha256(log.read("daily/2024/01/01.jsonl.gz")) == sha256(other)

    def test_create_from_file_refuses_to_overwrite(self, log):
        log.create_from_file("m.json", io.BytesIO(b"manifest"))
        with pytest.raises(AlreadyExists):
            log.create_from_file("m.json", io.BytesIO(b"another"))
        log.create_from_file("m.json", io.BytesIO(b"manifest"))  # identical: fine
        assert log.read("m.json") == b"manifest"

    def test_replace_overwrites_pointer(self, log):
        log.replace("snapshots/LATEST", b"snapshots/001.jsonl.gz")
        assert log.read("snapshots/LATEST") == b"snapshots/001.jsonl.gz"
        log.replace("snapshots/LATEST", b"snapshots/002.jsonl.gz")
        assert log.read("snapshots/LATEST") == b"snapshots/002.jsonl.gz"
        assert [i.key for i in log.list("snapshots/")] == ["snapshots/LATEST"]
        with pytest.raises(AlreadyExists):
            log.create("snapshots/LATEST", b"x")

    def test_instances_share_the_log(self, make_log):
        a, b = make_log(), make_log()
        a.create("shared", b"1")
        assert b.read("shared") == b"1"
        with pytest.raises(AlreadyExists):
            b.create("shared", b"2")

    def test_concurrent_creates_one_wins(self, make_log):
        writers = 8
        barrier = threading.Barrier(writers)
        wins: list[int] = []
        losses: list[int] = []
        errors: list[BaseException] = []
        logs = [make_log() for _ in range(writers)]

        def race(n: int) -> None:
            barrier.wait()
            try:
                logs[n].create("incoming/posts/news/1/0002.json", f"writer {n}".encode())
            except AlreadyExists:
                losses.append(n)
            except BaseException as exc:  # reported below
                errors.append(exc)
            else:
                wins.append(n)

        threads = [threading.Thread(target=race, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert len(wins) == 1, (wins, losses)
        assert len(losses) == writers - 1
        assert logs[0].read("incoming/posts/news/1/0002.json") == f"writer {wins[0]}".encode()
        for instance in logs:
            instance.close()


class TestMemoryLog(LogContract):
    @pytest.fixture
    def make_log(self):
        location = f"test-{random.random()}"
        return lambda: MemoryLog(location)

    def test_forget_all_empties_every_location(self, make_log):
        log = make_log()
        other = MemoryLog("another-location")
        log.create("a", b"1")
        other.create("b", b"2")
        MemoryLog.forget_all()
        assert not log.exists("a")
        assert list(other.list()) == []
        log.create("a", b"3")  # still usable
        assert make_log().read("a") == b"3"

    def test_archived_object_must_be_restored(self, log):
        log.create("hourly/2024/01/01/00.jsonl.gz", b"cold")
        log.archive("hourly/2024/01/01/00.jsonl.gz")
        with pytest.raises(Archived):
            log.read("hourly/2024/01/01/00.jsonl.gz")
        [info] = log.list("hourly/")
        assert info.storage_class == "GLACIER"


class TestLocalLog(LogContract):
    @pytest.fixture
    def make_log(self, tmp_path):
        root = tmp_path / "log"  # does not exist yet: the first write makes it
        return lambda: LocalLog(str(root))

    @pytest.mark.parametrize("key", ["../escape", "a/../../b", "/etc/passwd", "a//b", "./a", "a/./b", "", "a/"])
    def test_rejects_keys_that_could_escape(self, log, key):
        with pytest.raises(ValueError):
            log.create(key, b"x")
        with pytest.raises(ValueError):
            log.read(key)

    def test_rejects_the_temp_directory_as_a_key(self, log):
        with pytest.raises(ValueError):
            log.create(".utakata-tmp/x", b"x")

    def test_files_land_at_their_key_and_no_temp_is_left(self, log, tmp_path):
        log.create("incoming/events/1.json", b"{}")
        log.create_from_file("hourly/2024/01/01/00.jsonl.gz", io.BytesIO(b"gz"))
        log.replace("snapshots/LATEST", b"p")
        with pytest.raises(AlreadyExists):
            log.create("incoming/events/1.json", b"other")
        root = tmp_path / "log"
        assert (root / "incoming/events/1.json").read_bytes() == b"{}"
        assert (root / "hourly/2024/01/01/00.jsonl.gz").read_bytes() == b"gz"
        assert list((root / ".utakata-tmp").iterdir()) == []
        assert [i.key for i in log.list()] == [
            "hourly/2024/01/01/00.jsonl.gz",
            "incoming/events/1.json",
            "snapshots/LATEST",
        ]

    def test_delete_prunes_empty_directories(self, log, tmp_path):
        log.create("incoming/2024/01/01/00/a.json", b"{}")
        log.delete(["incoming/2024/01/01/00/a.json"])
        assert not (tmp_path / "log" / "incoming").exists()
        log.create("incoming/2024/01/01/00/b.json", b"{}")
        assert log.read("incoming/2024/01/01/00/b.json") == b"{}"

    def test_a_key_cannot_be_both_object_and_directory(self, log):
        log.create("a", b"x")
        with pytest.raises(LogError):
            log.create("a/b", b"y")
        log.create("c/d", b"y")
        with pytest.raises(LogError) as caught:
            log.create("c", b"x")
        assert not isinstance(caught.value, AlreadyExists)

    def test_unwritable_directory_is_log_unavailable(self, tmp_path):
        blocker = tmp_path / "file"
        blocker.write_bytes(b"not a directory")
        log = LocalLog(str(blocker / "log"))
        with pytest.raises(LogUnavailable, match="cannot write"):
            log.create("k", b"x")


class TestS3Log(LogContract):
    """The contract and S3's own edges, on each S3 implementation the session has (moto, Ceph RGW)."""

    # Parts of S3's smallest size keep the large objects small: 5 MiB + 2 MiB.
    large_size = 7 * MiB

    @pytest.fixture
    def make_log(self, any_s3, any_s3_bucket):
        options = services.log_options(any_s3, multipart_chunksize=str(5 * MiB))
        return lambda: S3Log(f"{any_s3_bucket}/base/prefix", dict(options))

    @pytest.fixture
    def raw(self, any_s3):
        return services.s3_client(any_s3)

    def raw_keys(self, raw, bucket: str) -> list[str]:
        return [o["Key"] for o in raw.list_objects_v2(Bucket=bucket).get("Contents", [])]

    def test_first_asks_for_two_keys_not_a_page_of_them(self, log):
        for n in range(5):
            log.create(f"p/{n}", b"x")
        asked: list[int] = []
        log._client.meta.events.register(
            "before-parameter-build.s3.ListObjectsV2", lambda params, **_: asked.append(params.get("MaxKeys"))
        )
        assert log.first("p/").key == "p/0"
        assert asked == [2]

    def test_keys_live_under_the_prefix(self, log, raw, any_s3_bucket):
        log.create("incoming/events/1.json", b"{}")
        assert self.raw_keys(raw, any_s3_bucket) == ["base/prefix/incoming/events/1.json"]
        assert [i.key for i in log.list()] == ["incoming/events/1.json"]

    def test_location_without_prefix(self, any_s3, any_s3_bucket):
        log = S3Log(any_s3_bucket, services.log_options(any_s3))
        log.create("top.json", b"1")
        assert [i.key for i in log.list()] == ["top.json"]
        log.close()

    def test_a_large_file_goes_up_as_data_then_a_conditional_claim(self, log, raw, any_s3_bucket):
        """RGW replaces an object on a conditional CompleteMultipartUpload: the multipart upload claims nothing."""
        data = random.Random(3).randbytes(self.large_size)
        log.create_from_file("snapshots/parts.bin", io.BytesIO(data))
        claim_key, data_key = self.raw_keys(raw, any_s3_bucket)
        assert claim_key == "base/prefix/snapshots/parts.bin"
        assert data_key == f"base/prefix/snapshots/parts.bin~data~{sha256(data)[:32]}"
        assert raw.head_object(Bucket=any_s3_bucket, Key=data_key)["ETag"].strip('"').endswith("-2")  # 5 + 2 MiB
        claim = raw.head_object(Bucket=any_s3_bucket, Key=claim_key)
        assert claim["ContentLength"] < 200 and claim["Metadata"]["utakata-sha256"] == sha256(data)

        uploads: list[str] = []
        log._client.meta.events.register("before-send.s3.UploadPart", lambda request, **_: uploads.append("part"))
        other = bytearray(data)
        other[-1] ^= 0xFF
        with pytest.raises(AlreadyExists):
            log.create_from_file("snapshots/parts.bin", io.BytesIO(bytes(other)))
        # Refused before anything went up: nothing left behind, no upload to abort.
        assert uploads == []
        assert self.raw_keys(raw, any_s3_bucket) == [claim_key, data_key]
        assert raw.list_multipart_uploads(Bucket=any_s3_bucket).get("Uploads", []) == []
        log.create_from_file("snapshots/parts.bin", io.BytesIO(data))  # identical: success, nothing uploaded
        assert uploads == []
        assert sha256(log.read("snapshots/parts.bin")) == sha256(data)

    def test_a_writer_that_lost_the_claim_removes_its_data(self, make_log, raw, any_s3_bucket):
        log, rival = make_log(), make_log()
        data = random.Random(8).randbytes(self.large_size)
        mine = random.Random(9).randbytes(self.large_size)

        def rival_claims_first(request=None, **_):
            if rival.exists("daily/2024/01/02.jsonl.gz"):
                return
            rival.create_from_file("daily/2024/01/02.jsonl.gz", io.BytesIO(data))

        # The rival's claim lands between our upload and our claim.
        log.check_conditional_writes()
        log._client.meta.events.register("before-call.s3.PutObject", rival_claims_first)
        with pytest.raises(AlreadyExists):
            log.create_from_file("daily/2024/01/02.jsonl.gz", io.BytesIO(mine))
        assert self.raw_keys(raw, any_s3_bucket) == [
            "base/prefix/daily/2024/01/02.jsonl.gz",
            f"base/prefix/daily/2024/01/02.jsonl.gz~data~{sha256(data)[:32]}",
        ]
        assert sha256(log.read("daily/2024/01/02.jsonl.gz")) == sha256(data)

    def test_data_left_by_a_writer_that_died_before_its_claim(self, log, raw, any_s3_bucket):
        data = random.Random(12).randbytes(self.large_size)
        suffix = f"~data~{sha256(data)[:32]}"
        log._upload(f"hourly/2024/01/01/00.jsonl.gz{suffix}", io.BytesIO(data))  # then the writer died
        assert list(log.list()) == [] and not log.exists("hourly/2024/01/01/00.jsonl.gz")
        with pytest.raises(NotFound):
            log.read("hourly/2024/01/01/00.jsonl.gz")
        log.create_from_file("hourly/2024/01/01/00.jsonl.gz", io.BytesIO(data))  # the retry reuses the data
        assert len(self.raw_keys(raw, any_s3_bucket)) == 2
        log._upload(f"hourly/2024/01/01/01.jsonl.gz~data~{'0' * 32}", io.BytesIO(data))  # never claimed
        log.delete(["hourly/2024/01/01/00.jsonl.gz", "hourly/2024/01/01/01.jsonl.gz"])
        assert self.raw_keys(raw, any_s3_bucket) == []

    def test_data_no_claim_names_is_removed_once_a_day_old(self, log, raw, any_s3_bucket):
        from datetime import timedelta

        data = random.Random(15).randbytes(self.large_size)
        sha = sha256(data)[:32]
        log.create_from_file("snapshots/1.jsonl.gz", io.BytesIO(data))
        log.create("snapshots/2.jsonl.gz", b"in place " * 1000)
        for dead in ("snapshots/1.jsonl.gz", "snapshots/2.jsonl.gz", "snapshots/3.jsonl.gz"):
            log._upload(f"{dead}~data~{'f' * 32}", io.BytesIO(data))  # writers killed before their claim
        assert log.remove_orphans("snapshots/") == []  # too young: their writers may still be claiming
        removed = log.remove_orphans("snapshots/", older_than=timedelta(seconds=-60))
        assert sorted(removed) == [f"snapshots/{n}.jsonl.gz~data~{'f' * 32}" for n in (1, 2, 3)]
        assert self.raw_keys(raw, any_s3_bucket) == [
            "base/prefix/snapshots/1.jsonl.gz",
            f"base/prefix/snapshots/1.jsonl.gz~data~{sha}",
            "base/prefix/snapshots/2.jsonl.gz",
        ]
        assert sha256(log.read("snapshots/1.jsonl.gz")) == sha256(data)

    def test_claims_are_listed_in_key_order_with_their_data(self, log):
        data = random.Random(4).randbytes(self.large_size)
        for key in ["p/k-1", "p/k.z", "p/k/z", "p/kz", "p/j", "p/k!"]:
            log.create(key, key.encode())
        log.create_from_file("p/k", io.BytesIO(data))
        listed = [(i.key, i.size) for i in log.list("p/")]
        assert listed == sorted(listed)
        assert dict(listed) == {"p/j": 3, "p/k": len(data), "p/k!": 4, "p/k-1": 5, "p/k.z": 5, "p/k/z": 5, "p/kz": 4}
        assert [i.key for i in log.list("p/k", start_after="p/k")] == ["p/k!", "p/k-1", "p/k.z", "p/k/z", "p/kz"]
        assert [i.key for i in log.list("p/k~")] == []
        assert [(i.key, i.size) for i in log.list("p/k", start_after="p/j")][0] == ("p/k", len(data))

    def test_delete_and_replace_remove_a_claims_data(self, log, raw, any_s3_bucket, monkeypatch):
        from board.log import s3data

        data = random.Random(13).randbytes(self.large_size)
        log.create_from_file("snapshots/a.jsonl.gz", io.BytesIO(data))
        log.create_from_file("snapshots/b.jsonl.gz", io.BytesIO(data))
        log.create_from_file("snapshots/c.jsonl.gz", io.BytesIO(data))
        for n in range(20):
            log.create(f"snapshots/a.jsonl.gz.{n:02d}", b"x")
        log.delete(["snapshots/a.jsonl.gz", "snapshots/a.jsonl.gz.00", "snapshots/a.jsonl.gz.19"])
        assert [i.key for i in log.list()][:3] == [
            "snapshots/a.jsonl.gz.01",
            "snapshots/a.jsonl.gz.02",
            "snapshots/a.jsonl.gz.03",
        ]
        monkeypatch.setattr(s3data, "SPAN_SLACK", 0)  # a crowded range: one listing per key instead
        log.delete(["snapshots/a.jsonl.gz.01", "snapshots/b.jsonl.gz", "snapshots/zzz"])
        log.replace("snapshots/c.jsonl.gz", b"a pointer now")
        assert log.read("snapshots/c.jsonl.gz") == b"a pointer now"
        remaining = self.raw_keys(raw, any_s3_bucket)
        assert not [key for key in remaining if "~data~" in key]
        assert len(remaining) == 18  # 17 small objects and c, a plain object now

    def test_data_objects_and_probes_are_not_log_keys(self, log):
        for key in ["a~data~" + "0" * 32, ".utakata-probe/x"]:
            with pytest.raises(ValueError, match="reserved"):
                log.create(key, b"x")
            with pytest.raises(ValueError, match="reserved"):
                log.read(key)

    def test_retried_put_of_identical_bytes_is_success(self, log):
        """The first PUT lands but its answer is "lost"; the retry gets 412 and must succeed."""
        log.check_conditional_writes()  # the probe's own PUTs come first
        statuses: list[int] = []

        def lose_first_answer(response=None, attempts=None, **_):
            if response is not None:
                statuses.append(response[0].status_code)
            if attempts == 1:
                return 0  # ask botocore to retry at once, as after a dropped connection
            return None

        log._client.meta.events.register_first("needs-retry.s3.PutObject", lose_first_answer)
        log.create("incoming/posts/news/1/0003.json", b"the post")
        assert statuses == [200, 412]
        assert log.read("incoming/posts/news/1/0003.json") == b"the post"

    def test_retried_put_over_different_bytes_is_already_exists(self, make_log):
        log, rival = make_log(), make_log()
        log.check_conditional_writes()

        def rival_wins_first(response=None, attempts=None, **_):
            if attempts == 1:
                # Our first attempt "timed out"; meanwhile S3 holds someone else's bytes.
                rival._client.delete_object(Bucket=rival.bucket, Key=rival._full("k"))
                rival.create("k", b"rival")
                return 0
            return None

        log._client.meta.events.register_first("needs-retry.s3.PutObject", rival_wins_first)
        with pytest.raises(AlreadyExists):
            log.create("k", b"mine")
        assert rival.read("k") == b"rival"

    def test_puts_carry_content_md5(self, log):
        log.check_conditional_writes()
        seen: list[dict] = []
        log._client.meta.events.register(
            "before-send.s3.PutObject", lambda request, **_: seen.append(dict(request.headers))
        )
        log.create("md5", b"body")
        log.replace("md5-pointer", b"body")
        assert len(seen) == 2
        for headers in seen:
            assert headers["Content-MD5"] == base64.b64encode(hashlib.md5(b"body").digest())
        assert seen[0]["If-None-Match"] == b"*"
        assert "If-None-Match" not in seen[1]

    def test_unreachable_endpoint_raises_log_unavailable(self):
        port = services.free_port()  # nothing listens there
        endpoint = f"http://127.0.0.1:{port}"
        log = S3Log(
            "bucket/prefix",
            {
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "connect_timeout": "0.5",
                "read_timeout": "0.5",
                "max_attempts": "1",
            },
        )
        started = time.monotonic()
        for attempt in (
            lambda: log.create("k", b"x"),
            lambda: log.read("k"),
            lambda: log.exists("k"),
            lambda: list(log.list()),
            lambda: log.delete(["k"]),
            lambda: log.replace("k", b"x"),
        ):
            with pytest.raises(LogUnavailable, match=f"127.0.0.1:{port}"):
                attempt()
        assert time.monotonic() - started < 5
        log.close()

    def test_missing_bucket_is_a_clear_log_error(self, s3_endpoint):
        log = S3Log("no-such-bucket-here/p", {"endpoint_url": s3_endpoint, "region_name": "us-east-1"})
        with pytest.raises(LogError, match="does not exist") as caught:
            log.read("k")
        assert not isinstance(caught.value, NotFound | LogUnavailable)
        with pytest.raises(LogError, match="does not exist"):
            log.create("k", b"x")
        log.close()

    def test_glacier_object_raises_archived_with_how_to_restore(self, log, raw, any_s3_bucket, request):
        if request.node.callspec.params["any_s3"] == "rgw":
            pytest.skip("RGW serves objects in its GLACIER class without a restore")
        raw.put_object(
            Bucket=any_s3_bucket, Key="base/prefix/hourly/2024/01/01/00.jsonl.gz", Body=b"c", StorageClass="GLACIER"
        )
        with pytest.raises(Archived, match="restore-object") as caught:
            log.read("hourly/2024/01/01/00.jsonl.gz")
        assert "--key base/prefix/hourly/2024/01/01/00.jsonl.gz" in str(caught.value)
        [info] = log.list("hourly/")
        assert info.storage_class == "GLACIER"
        assert log.exists("hourly/2024/01/01/00.jsonl.gz")

    def test_an_archived_claim_names_its_data_object(self, log, raw, any_s3_bucket, request):
        if request.node.callspec.params["any_s3"] == "rgw":
            pytest.skip("RGW serves objects in its GLACIER class without a restore")
        data = random.Random(14).randbytes(self.large_size)
        log.create_from_file("daily/2024/01/01.jsonl.gz", io.BytesIO(data))
        stored = log.stored_key("daily/2024/01/01.jsonl.gz")
        assert stored == f"base/prefix/daily/2024/01/01.jsonl.gz~data~{sha256(data)[:32]}"
        # What the daily/ tiering rule does to the data (the claim is under 128 KB: it stays).
        raw.copy_object(
            Bucket=any_s3_bucket,
            Key=stored,
            CopySource={"Bucket": any_s3_bucket, "Key": stored},
            StorageClass="GLACIER",
        )
        with pytest.raises(Archived, match="restore-object") as caught:
            log.read("daily/2024/01/01.jsonl.gz")
        assert f"--key {stored} " in str(caught.value)
        [info] = log.list("daily/")
        assert (info.key, info.size, info.storage_class) == ("daily/2024/01/01.jsonl.gz", len(data), "GLACIER")

    # --- the probe: an endpoint that would let one write overwrite another ---------------

    def test_an_endpoint_that_drops_if_none_match_gets_no_write(self, s3_endpoint, s3_bucket, settings):
        from django.core.management import CommandError, call_command

        from board import log as log_module

        raw = services.s3_client(s3_endpoint)
        with services.header_dropping_proxy(s3_endpoint, drop=("If-None-Match",)) as proxy:
            # What such an endpoint does: a second conditional PUT of a key replaces it.
            through = services.s3_client(proxy)
            through.put_object(Bucket=s3_bucket, Key="plain", Body=b"1", IfNoneMatch="*")
            through.put_object(Bucket=s3_bucket, Key="plain", Body=b"2", IfNoneMatch="*")
            raw.delete_object(Bucket=s3_bucket, Key="plain")

            log = S3Log(f"{s3_bucket}/board", services.log_options(proxy, multipart_chunksize=str(5 * MiB)))
            for write in (
                lambda: log.create("incoming/posts/news/1/0001.json", b"a post"),
                lambda: log.create_from_file("snapshots/s.jsonl.gz", io.BytesIO(random.randbytes(self.large_size))),
                lambda: log.create("incoming/posts/news/1/0001.json", b"a post"),  # the verdict is kept
            ):
                with pytest.raises(UnsafeLog, match=f"{proxy}.*ignores If-None-Match") as refused:
                    write()
                assert not isinstance(refused.value, AlreadyExists | LogUnavailable)
            assert self.raw_keys(raw, s3_bucket) == []  # no write, no probe left behind
            # Reads need no conditional write: read-only commands work there.
            raw.put_object(Bucket=s3_bucket, Key="board/incoming/events/1.json", Body=b"{}")
            assert log.read("incoming/events/1.json") == b"{}"
            assert [i.key for i in log.list()] == ["incoming/events/1.json"]
            log.close()
            # What an operator sees.
            settings.UTAKATA_LOG = {
                "BACKEND": "board.log.s3.S3Log",
                "LOCATION": f"{s3_bucket}/board",
                "OPTIONS": services.log_options(proxy),
            }
            log_module.handler.reset()
            with pytest.raises(CommandError, match=f"could not commit to the log: S3 endpoint {proxy} .* ignores"):
                call_command("createboard", "news", "ニュース速報")
            log_module.handler.reset()
        # The same bucket reached directly is another endpoint, and a safe one.
        direct = S3Log(f"{s3_bucket}/board", services.log_options(s3_endpoint))
        direct.create("incoming/posts/news/1/0001.json", b"a post")
        direct.close()

    def test_the_probe_runs_once_per_process_endpoint_and_bucket(self, make_log, any_s3, raw, any_s3_bucket):
        probes: list[str] = []

        def count(params=None, **_):
            if ".utakata-probe/" in params["Key"]:
                probes.append(params["Key"])

        logs = [make_log() for _ in range(3)]
        for instance in logs:
            instance._client.meta.events.register("provide-client-params.s3.PutObject", count)
        for instance in logs:
            list(instance.list())
            instance.exists("x")
        assert probes == []  # reads never probe
        for n, instance in enumerate(logs):
            instance.create(f"incoming/events/{n}.json", b"{}")
        assert len(probes) == 2 and probes[0] == probes[1]  # one key, created twice, then removed
        assert self.raw_keys(raw, any_s3_bucket) == [f"base/prefix/incoming/events/{n}.json" for n in range(3)]
        other = S3Log(services.new_bucket(any_s3), services.log_options(any_s3))
        other._client.meta.events.register("provide-client-params.s3.PutObject", count)
        other.create("k", b"1")
        assert len(probes) == 4
        for instance in [*logs, other]:
            instance.close()

    def test_options_are_checked(self, s3_endpoint):
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="connect_timeout"):
            S3Log("b", {"endpoint_url": s3_endpoint, "connect_timeout": "soon"})
        with pytest.raises(ImproperlyConfigured, match="conect_timeout"):
            S3Log("b", {"endpoint_url": s3_endpoint, "conect_timeout": "1"})
        with pytest.raises(ImproperlyConfigured, match="bucket"):
            S3Log("", {})
        with pytest.raises(ImproperlyConfigured, match="endpoint_url='localhost:9000' is not a URL like http"):
            S3Log("b", {"endpoint_url": "localhost:9000"})
        log = S3Log("b/p/", {"endpoint_url": s3_endpoint, "max_attempts": "5", "read_timeout": "3"})
        assert log.prefix == "p/"
        assert log.config.retries == {"mode": "standard", "total_max_attempts": 5}
        assert log.config.read_timeout == 3.0
        assert log.config.connect_timeout == 2.0
        log.close()
