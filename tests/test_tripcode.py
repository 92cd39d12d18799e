"""Tripcodes against vectors published by others, never computed by this code.

Sources (each vector below names one):
  JtR      openwall/john, src/trip_fmt.c (the fmt_tests table of John the Ripper's tripcode format)
  triptest zerochplus/triptest, test.pl at c1cdaf4e38aa0ddd14c93a59ef8935eb0e175930 or the
           earlier 04dbddef009859c74debc2db28ebd246a974fa40; the "net" (2ch.net) column
  p-chan   p-chan/2ch-trip, src/index.test.ts (the 2ch-trip npm package)
  guro     https://guro.cx/faq/tripcode.html ("User#password" -> "User ◆ozOtJW9BFA")
  rumia    https://namelessrumia.heliohost.org/w/doku.php?id=tripcode (table "Examples")
"""

from __future__ import annotations

import pytest

from board.posting.tripcode import render_name, sanitize_name, split_name, tripcode

DEFAULT = "名無しさん"


# --- classic (DES) trips, keys under 12 bytes --------------------------------


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("simpson", "Rk7VUsDT2U"),  # JtR
        ("tripcode", "3GqYIJ3Obs"),  # JtR
        ("ponytail", "Id1gMYGA52"),  # JtR
        ("password", "ozOtJW9BFA"),  # guro
        ("nanashi", "zC0/fC22x6"),  # rumia
        ("example", "KtW6XcghiY"),  # rumia
        ("istrip", "/WG5qp963c"),  # rumia
        ("Jim", "ziib4d/boU"),  # p-chan
        ("1", "tsGpSwX8mo"),  # triptest
        ("12345678", "WBRXcNtpf."),  # triptest
        ("fusianasan", "M2TLe2H2No"),  # triptest
    ],
)
def test_classic_trip_matches_published_vectors(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("ｋａｍｉ", "yGAhoNiShI"),  # triptest
        ("ひろゆき", "F7aSjnRHGU"),  # p-chan
        ("一一", "b3B4i2sLpY"),  # triptest
        ("騨ﾚNWKJ諤", "YYYYYYYYYY"),  # triptest
    ],
)
def test_classic_trip_of_a_japanese_key_matches_published_vectors(key, trip):
    assert tripcode(key) == trip


def test_classic_trip_uses_the_low_seven_bits_of_each_key_byte():
    # ｱ is 0xB1, whose low 7 bits are "1": the key is 12345678 to crypt(3),
    # and the salt "23" is the same too.
    assert tripcode("ｱ23ｴｵｶｷｸ") == "WBRXcNtpf."  # triptest
    assert tripcode("ｱｲｳｴｵｶｷｸ") == "XlUiP8mHCU"  # triptest: same key, salt ".."


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("①Ⅰ㍉㈱", "Az6yZqa0I2"),  # triptest
        ("～", "Fg7tQabTMc"),  # triptest
        ("～－①", "Zgf7hLtfXI"),  # triptest
    ],
)
def test_classic_trip_encodes_the_key_as_cp932_not_strict_shift_jis(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize("key", ["123456789", "1234567890", "12345678901"])
def test_it_ignores_key_bytes_after_the_eighth(key):
    assert tripcode(key) == "WBRXcNtpf."  # triptest


def test_empty_key_gets_salt_h_dot_as_on_2ch_net():
    assert tripcode("") == "jPpg5.obl6"  # triptest (c1cdaf4e)


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("0 !", "ZIJx7G/pyg"),  # triptest: salt ".."
        ("0-:", "NE0mkZ2TpI"),  # triptest: salt ".A"
        ("0@[", "gkmryCvLz6"),  # triptest: salt "Ga"
        ("0`{", "WtDsB59Wrk"),  # triptest: salt "f."
        ("0|}", "M6kra150Vk"),  # triptest: salt ".."
    ],
)
def test_salt_characters_are_mapped_as_2ch_does(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("  0  ", "SDtWOGt18E"),  # triptest
        ("\t\t0\t\t", "LP6zoGudAI"),  # triptest
        ("\t!,'&\"<>", "SRh/1cpRuQ"),  # triptest
        ('"', "4eqVTkonjE"),  # triptest
        ("&", "2r2Ga7GHRc"),  # triptest
    ],
)
def test_whitespace_and_html_characters_in_the_key_are_hashed_as_typed(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("ホムホム", "QD4TDVpNOM"),  # triptest: ム is 0x83 0x80
        ("ム一0", "AOGu5v68Us"),  # triptest: same as raw key ##8300000000000000..
    ],
)
def test_key_stops_at_a_0x80_byte_as_on_2ch_net(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("＃", "u2YjtUz8MU"),  # triptest
        (" ＃", "68NHrw0u9M"),  # triptest
        ("＃＃", "xSK1SiC5MI"),  # triptest
        ("1234567890＃", "WBRXcNtpf."),  # triptest: 11 bytes once ＃ is #
        ("＃3456789012", "lg6Q/4u.i."),  # triptest: 11 bytes once ＃ is #
    ],
)
def test_fullwidth_hash_in_the_key_counts_as_a_hash(key, trip):
    assert tripcode(key) == trip


def test_key_bytes_that_only_look_like_a_fullwidth_hash_are_not_replaced():
    # ＝煤 is 81 81 94 81: its middle bytes are those of ＃ (81 94).
    assert tripcode("＝煤") == "gelnF4z.L2"  # triptest


def test_characters_cp932_lacks_are_hashed_as_numeric_references():
    # 🇯🇵 is two code points: "&#127471;&#127477;", 18 bytes, a new-style trip.
    assert tripcode("🇯🇵") == "K9zUBOq4IzsD"  # p-chan
    assert tripcode("🇯🇵🇯🇵") == "pD8dlc9B7Wif"  # p-chan


def test_short_key_starting_with_dollar_is_a_classic_trip():
    assert tripcode("$2345678901") == "BaNAE36vrg"  # triptest


# --- new-style (SHA-1) trips, keys of 12 bytes or more ------------------------


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("123456789012", "jZk8zfYo4m4X"),  # triptest
        ("1234567890123", "CNfebL9sP6Ci"),  # triptest
        ("123456789012＃", "RITzbxS2I3J9"),  # triptest
        ("N.T.Technology", "FG0WWassNUrw"),  # p-chan
    ],
)
def test_new_style_trip_matches_published_vectors(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("あいうえおか", "N0mUb9Yq8DyS"),  # triptest: 12 bytes exactly
        ("◆★●■▲▼", "zd4pd7kAgJZj"),  # triptest
        ("パケットモンスター", "EZSPRAHOnqfS"),  # p-chan
        ("半角シャープ", "UfNdqf7SBKdu"),  # p-chan
        ("ホワイト スペース", "7CqLoauBLfFu"),  # p-chan
    ],
)
def test_new_style_trip_of_a_japanese_key_matches_published_vectors(key, trip):
    assert tripcode(key) == trip


def test_new_style_trip_writes_plus_as_dot():
    assert tripcode("ドットが入るトリ") == "n2HxTwBby.Ar"  # p-chan


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("#828b8281828d8289", "yGAhoNiShI"),  # triptest: the bytes of ｋａｍｉ
        ("#828b8281828d8289.", "yGAhoNiShI"),  # triptest
        ("#828b8281828d8289..", "yGAhoNiShI"),  # triptest
        ("#3132333435363738", "XlUiP8mHCU"),  # triptest
        ("#31323334353637382", "1tWQFkUcLU"),  # triptest
        ("#313233343536373823", "WBRXcNtpf."),  # triptest
        ("#3132333488eb93F32", "AEFr9jFTX."),  # triptest
        ("#3132333488EB93F323", "0P0Iw3f8XA"),  # triptest
        ("#837a8380837a8380z.", "QD4TDVpNOM"),  # triptest: 0x80 cut, as for ホムホム
        ("＃31318194313100001.", "7ZE59iVq1I"),  # triptest
        ("#57414b5554454b41", "sWERuZlbhs"),  # p-chan
    ],
)
def test_raw_key_gives_the_classic_trip_of_its_bytes(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize(
    ("key", "trip"),
    [
        ("#3100000000000000H.", "tsGpSwX8mo"),  # triptest: same as key "1"
        ("#830088ea30000000..", "AOGu5v68Us"),  # triptest
    ],
)
def test_raw_key_stops_at_a_nul_byte_as_crypt_does(key, trip):
    assert tripcode(key) == trip


@pytest.mark.parametrize(
    "key",
    [
        "$23456789012",  # triptest
        "$..........2",  # triptest
        "$ｱ3456789012",  # triptest
        "$4d45534849554d41",  # p-chan
    ],
)
def test_long_key_starting_with_dollar_is_reserved(key):
    assert tripcode(key) == "???"


@pytest.mark.parametrize("key", ["#23456789012", "#1234567890123456..abc"])  # triptest
def test_long_key_starting_with_hash_but_not_a_raw_key_is_undefined(key):
    assert tripcode(key) == "???"


# --- the name field -----------------------------------------------------------


def test_split_name_without_a_key_gives_none():
    assert split_name("名無し") == ("名無し", None)


def test_split_name_splits_at_the_first_hash():
    assert split_name("name#key#more") == ("name", "key#more")


def test_split_name_accepts_the_fullwidth_hash():
    assert split_name("名前＃キー") == ("名前", "キー")


def test_split_name_splits_at_whichever_hash_comes_first():
    assert split_name("a＃b#c") == ("a", "b#c")
    assert split_name("a#b＃c") == ("a", "b＃c")


def test_split_name_keeps_an_empty_key():
    assert split_name("name#") == ("name", "")


def test_sanitize_name_turns_a_typed_trip_mark_white():
    assert sanitize_name("◆ozOtJW9BFA") == "◇ozOtJW9BFA"


def test_sanitize_name_turns_a_typed_cap_mark_white():
    assert sanitize_name("★管理人") == "☆管理人"


def test_sanitize_name_leaves_other_text_alone():
    assert sanitize_name("◇☆ name ◎") == "◇☆ name ◎"


def test_render_name_appends_the_trip():
    assert render_name("User#password", DEFAULT) == "User ◆ozOtJW9BFA"  # guro


def test_render_name_uses_the_default_for_an_empty_name():
    assert render_name("", DEFAULT) == DEFAULT


def test_render_name_uses_the_default_for_a_blank_name():
    assert render_name(" \u3000 ", DEFAULT) == DEFAULT


def test_render_name_gives_a_key_without_a_name_the_default_name():
    assert render_name("#password", DEFAULT) == f"{DEFAULT} ◆ozOtJW9BFA"


def test_render_name_accepts_the_fullwidth_hash():
    assert render_name("＃全角シャープ", DEFAULT) == f"{DEFAULT} ◆WcKp0EJvexJP"  # p-chan


def test_render_name_strips_the_name():
    assert render_name("  User  #password", DEFAULT) == "User ◆ozOtJW9BFA"


def test_render_name_keeps_spaces_in_the_key():
    assert render_name("User#  0  ", DEFAULT) == "User ◆SDtWOGt18E"  # triptest


def test_render_name_replaces_a_faked_trip():
    assert render_name("User ◆ozOtJW9BFA", DEFAULT) == "User ◇ozOtJW9BFA"


def test_render_name_replaces_a_faked_cap():
    assert render_name("★User", DEFAULT) == "☆User"


def test_render_name_hashes_marks_in_the_key_unchanged():
    assert render_name("#◆●★", DEFAULT) == f"{DEFAULT} ◆dTHrbNrOw."  # triptest
