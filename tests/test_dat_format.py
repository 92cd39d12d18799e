"""The dat line format, byte for byte: fields, escaping, trips, あぼーん, the stop line, Shift_JIS."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from board.formats import dat

JST = ZoneInfo("Asia/Tokyo")
# 2026-12-01 12:34:56.789 JST, a Tuesday.
TUESDAY_MS = int(datetime(2026, 12, 1, 12, 34, 56, 789000, tzinfo=JST).timestamp() * 1000)


def post(**fields) -> dict:
    return {"name": "名無しさん", "mail": "", "time": TUESDAY_MS, "id": "AbC+/123", "body": "本文", **fields}


def line_bytes(title: str = "", **fields) -> bytes:
    return dat.encode(dat.post_line(post(**fields), title))


def test_post_line_has_five_fields_and_an_lf() -> None:
    assert line_bytes() == "名無しさん<><>2026/12/01(火) 12:34:56.78 ID:AbC+/123<> 本文 <>\n".encode("cp932")


def test_first_line_carries_the_title() -> None:
    assert dat.post_line(post(), "スレタイ").endswith("<> 本文 <>スレタイ\n")


def test_date_is_truncated_to_centiseconds_in_jst() -> None:
    assert "2026/12/01(火) 12:34:56.78" in dat.post_line(post())


def test_date_uses_the_boards_weekday_names() -> None:
    assert "2026/12/01(㈫) 12:34:56.78" in dat.post_line(post(), weekdays="㈰㈪㈫㈬㈭㈮㈯")


def test_no_id_leaves_the_date_alone() -> None:
    assert dat.post_line(post(id="")).split("<>")[2] == "2026/12/01(火) 12:34:56.78"


def test_mail_is_kept_as_written() -> None:
    assert dat.post_line(post(mail="sage")).split("<>")[1] == "sage"


def test_body_newlines_become_spaced_br() -> None:
    body = dat.post_line(post(body="一行目\n二行目\n\n四行目")).split("<>")[3]
    assert body == " 一行目 <br> 二行目 <br>  <br> 四行目 "


def test_body_keeps_its_own_leading_spaces_inside_2chs() -> None:
    assert dat.body_field("  AA") == "   AA "


def test_html_special_characters_are_escaped_in_every_field() -> None:
    line = dat.post_line(post(name='<b>"&', mail="<>", body='a<>b&c"d'), "<t>&")
    assert line == (
        "&lt;b&gt;&quot;&amp;<>&lt;&gt;<>2026/12/01(火) 12:34:56.78 ID:AbC+/123<>"
        " a&lt;&gt;b&amp;c&quot;d <>&lt;t&gt;&amp;\n"
    )


def test_no_field_can_forge_a_separator() -> None:
    line = dat.post_line(post(name="<>", mail="<>", body="<>\n<>"), "<>")
    assert line.count("<>") == 4


def test_an_entity_typed_by_the_user_stays_text() -> None:
    # "&amp;" typed is five characters, not "&": escaped again, a client shows "&amp;".
    assert dat.body_field("&amp;") == " &amp;amp; "


def test_single_quotes_are_left_alone_as_2ch_does() -> None:
    assert dat.escape("it's") == "it's"


def test_trip_is_set_apart_with_bold_tags() -> None:
    assert dat.name_field("山田 ◆/WG5qp963c") == "山田 </b>◆/WG5qp963c <b>"


def test_trip_only_name_still_splits() -> None:
    assert dat.name_field("名無しさん ◆jPpg5.obl6") == "名無しさん </b>◆jPpg5.obl6 <b>"


def test_name_part_of_a_trip_is_escaped() -> None:
    assert dat.name_field("<a> ◆jPpg5.obl6") == "&lt;a&gt; </b>◆jPpg5.obl6 <b>"


def test_a_white_diamond_typed_by_the_user_is_not_a_trip() -> None:
    assert dat.name_field("偽 ◇jPpg5.obl6") == "偽 ◇jPpg5.obl6"


def test_abone_line_of_a_reply_has_an_empty_title() -> None:
    assert dat.encode(dat.abone_line()) == "あぼーん<>あぼーん<>あぼーん<>あぼーん<>\n".encode("cp932")


def test_abone_line_of_post_one_keeps_the_title() -> None:
    assert dat.abone_line("スレ<タイ>") == "あぼーん<>あぼーん<>あぼーん<>あぼーん<>スレ&lt;タイ&gt;\n"


def test_stop_line_follows_a_full_thread() -> None:
    assert dat.stop_line(1000) == (
        "1001<><>Over 1000 Thread<> このスレッドは1000を超えました。 <br> "
        "もう書けないので、新しいスレッドを立ててくださいです。。。 <>\n"
    )


def test_stop_line_numbers_after_the_boards_limit() -> None:
    assert dat.stop_line(5).startswith("6<><>Over 5 Thread<>")


def test_encoding_is_cp932_with_lf_only() -> None:
    data = line_bytes(body="a\nb")
    assert b"\r" not in data and data.endswith(b"\n") and data.count(b"\n") == 1


def test_cp932_extensions_encode_to_their_windows_bytes() -> None:
    # ① and ～ are the NEC/IBM characters every Shift_JIS client means by Shift_JIS.
    assert dat.encode("①～") == b"\x87\x40\x81\x60"


def test_characters_outside_shift_jis_become_numeric_references() -> None:
    assert dat.encode("♥🍣〜") == b"&#9829;&#127843;&#12316;"


def test_lookalikes_are_references_so_they_read_back_as_themselves() -> None:
    # cp932 would write 〜 (WAVE DASH) as the bytes of ～ (FULLWIDTH TILDE), and − as －.
    assert dat.encode("〜−¢£¬‖") == b"&#12316;&#8722;&#162;&#163;&#172;&#8214;"


def test_numeric_reference_comes_after_escaping_so_it_stays_a_reference() -> None:
    assert dat.encode(dat.body_field("&♥")) == b" &amp;&#9829; "


def _unescaped_fields(data: bytes) -> list[str]:
    return [html.unescape(f) for f in data.decode("cp932").rstrip("\n").split("<>")]


def test_every_field_round_trips_through_shift_jis() -> None:
    tricky = 'ｱｲｳ①㈱～〜∥‖￢¬―−－＼¥\\ "q" <tag> &amp; ♥é🍣 \t end'
    fields = _unescaped_fields(line_bytes(title=tricky, name=tricky, mail=tricky, body=tricky + "\n" + tricky))
    assert fields[0] == tricky
    assert fields[1] == tricky
    assert fields[3] == f" {tricky} <br> {tricky} "
    assert fields[4] == tricky


def test_date_and_id_round_trip_through_shift_jis() -> None:
    assert _unescaped_fields(line_bytes())[2] == "2026/12/01(火) 12:34:56.78 ID:AbC+/123"
