"""A dedicated browser's view of the board, written against the 2ch protocol alone.

The client below knows only what JDim knows: URLs, headers and the formats'
bytes. It keeps a local copy of each dat, and updates it the way JDim does:
``If-Modified-Since`` with ``Range: bytes=<size - 1>-``, checking that the
first byte it gets back is the ``\\n`` it already has. Anything else (a 416, or
another first byte) means the dat was rewritten under it (あぼーん), and it
fetches the whole file again.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from django.test import Client

from board.moderation.actions import delete_post
from tests.helpers import apply_pending


@dataclass
class LocalDat:
    data: bytes = b""
    last_modified: str | None = None
    etag: str | None = None

    @property
    def lines(self) -> list[list[str]]:
        return [line.split("<>") for line in self.data.decode("cp932").split("\n")[:-1]]


@dataclass
class TwoChClient:
    """A tiny 2ch client speaking HTTP to the board at ``/{board}/``."""

    board: str
    address: str = "198.51.100.20"
    http: Client = field(default_factory=Client)
    dats: dict[str, LocalDat] = field(default_factory=dict)
    log: list[tuple[str, int]] = field(default_factory=list)  # (kind of request, status)

    def subject(self) -> list[tuple[str, str, int]]:
        response = self.http.get(f"/{self.board}/subject.txt")
        assert response.status_code == 200
        rows = []
        for line in response.content.decode("cp932").splitlines():
            m = re.fullmatch(r"(\d+)\.dat<>(.*) \((\d+)\)", line)
            assert m, f"not a subject.txt line: {line!r}"
            rows.append((m[1], html.unescape(m[2]), int(m[3])))
        return rows

    def fetch(self, key: str) -> list[list[str]]:
        """Bring the local copy up to date; return the lines that are new to it."""
        local = self.dats.get(key)
        if local is None or not local.data:
            return self._fetch_whole(key)
        headers = {"HTTP_RANGE": f"bytes={len(local.data) - 1}-"}
        if local.last_modified:
            headers["HTTP_IF_MODIFIED_SINCE"] = local.last_modified
        response = self.http.get(self._dat_url(key), **headers)
        self.log.append(("range", response.status_code))
        if response.status_code == 304:
            return []
        if response.status_code == 416 or (response.status_code == 206 and response.content[:1] != b"\n"):
            return self._fetch_whole(key, rewritten=True)
        assert response.status_code == 206, response.status_code
        before = len(local.lines)
        local.data += response.content[1:]
        self._remember(local, response)
        return local.lines[before:]

    def post(self, key: str | None, message: str, name: str = "", mail: str = "", subject: str = "") -> str:
        """Post through bbs.cgi in Shift_JIS, as browsers without UTF-8 boards do; return the page title."""
        fields = {"bbs": self.board, "time": "1700000000", "FROM": name, "mail": mail, "MESSAGE": message}
        if key is None:
            fields["subject"] = subject
        else:
            fields["key"] = key
        body = "&".join(f"{k}={quote_plus(self._sjis_form_value(v), encoding='cp932')}" for k, v in fields.items())
        response = self.http.generic(
            "POST", "/test/bbs.cgi", body.encode("ascii"), "application/x-www-form-urlencoded", REMOTE_ADDR=self.address
        )
        assert response.status_code == 200
        apply_pending()  # the workers' fan-out, which other clients wait for
        return re.search(r"<title>(.*?)</title>", response.content.decode("cp932"))[1]

    @staticmethod
    def _sjis_form_value(text: str) -> str:
        # What a Shift_JIS form does with a character it cannot encode: a numeric reference.
        return "".join(c if _in_shift_jis(c) else f"&#{ord(c)};" for c in text)

    def _dat_url(self, key: str) -> str:
        return f"/{self.board}/dat/{key}.dat"

    def _fetch_whole(self, key: str, rewritten: bool = False) -> list[list[str]]:
        response = self.http.get(self._dat_url(key), follow=True)
        self.log.append(("refetch" if rewritten else "whole", response.status_code))
        assert response.status_code == 200
        local = self.dats.setdefault(key, LocalDat())
        local.data = response.content
        self._remember(local, response)
        return local.lines

    @staticmethod
    def _remember(local: LocalDat, response) -> None:
        local.last_modified = response.get("Last-Modified", local.last_modified)
        local.etag = response.get("ETag", local.etag)


def _in_shift_jis(c: str) -> bool:
    try:
        c.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def test_a_client_reads_posts_and_follows_the_thread(board) -> None:
    alice = TwoChClient("test", address="198.51.100.20")
    bob = TwoChClient("test", address="198.51.100.21")

    assert alice.post(None, "はじめまして", subject="雑談スレ") == "書きこみました。"
    [(key, title, count)] = bob.subject()
    assert (title, count) == ("雑談スレ", 1)

    [first] = bob.fetch(key)
    assert first[3] == " はじめまして " and first[4] == "雑談スレ"

    assert bob.post(key, "よろしく♥", mail="sage") == "書きこみました。"
    assert alice.post(key, "二行\nです", name="ありす") == "書きこみました。"

    new = bob.fetch(key)
    assert [line[3] for line in new] == [" よろしく&#9829; ", " 二行 <br> です "]
    assert new[0][1] == "sage" and new[1][0] == "ありす" and all(line[4] == "" for line in new)
    assert bob.log[-1] == ("range", 206)

    assert bob.fetch(key) == []  # nothing new: a 304, or the one byte it already had
    assert bob.subject() == [(key, "雑談スレ", 3)]


def test_a_client_notices_a_deletion_and_refetches_the_whole_dat(board) -> None:
    poster = TwoChClient("test", address="198.51.100.30")
    reader = TwoChClient("test", address="198.51.100.31")
    poster.post(None, "一番", subject="削除のあるスレ")
    [(key, _, _)] = reader.subject()
    poster.post(key, "これは消される長めの書き込みです。" * 3)
    poster.post(key, "三番")
    assert len(reader.fetch(key)) == 3

    delete_post("test", key, 2, reason="削除依頼")
    apply_pending()

    reader.fetch(key)
    assert reader.log[-1] == ("refetch", 200)
    assert reader.dats[key].lines[1] == ["あぼーん"] * 4 + [""]
    assert [line[3] for line in (reader.dats[key].lines[0], reader.dats[key].lines[2])] == [" 一番 ", " 三番 "]
    assert reader.dats[key].data == Client().get(f"/test/dat/{key}.dat").content

    poster.post(key, "四番")
    assert [line[3] for line in reader.fetch(key)] == [" 四番 "]
