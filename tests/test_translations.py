"""The moderation site speaks Japanese: every message it may show has its translation, compiled."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.utils import translation

from board.boards import DEFAULTS, LABELS
from board.moderation.actions import ModerationError, existing_thread

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "board" / "locale"
CALLS = {"gettext", "gettext_lazy", "gettext_noop"}


def marked_messages() -> set[str]:
    """Every string the code passes to gettext(), gettext_lazy() or gettext_noop()."""
    found = set()
    for path in (ROOT / "board").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = isinstance(node, ast.Call) and getattr(node.func, "id", None) in CALLS
            if called and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
    return found


def compiled() -> dict[str, str]:
    with open(LOCALE / "ja" / "LC_MESSAGES" / "django.mo", "rb") as mo:
        return gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]


def po_entries() -> dict[str, str]:
    text = (LOCALE / "ja" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = {}
    for block in text.split("\n\n"):
        m = re.search(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)', block + "\n", re.M)
        if m:
            join = lambda lines: "".join(re.findall(r'"(.*)"', lines)).replace('\\"', '"').replace("\\n", "\n")  # noqa: E731
            entries[join(m[1])] = join(m[2])
    return entries


def test_the_code_marks_messages_for_translation() -> None:
    assert len(marked_messages()) > 50


def test_every_marked_message_has_a_japanese_translation_in_the_catalog() -> None:
    catalog = compiled()
    assert sorted(m for m in marked_messages() if not catalog.get(m)) == []


def test_the_compiled_catalog_is_the_po_file_compiled() -> None:
    catalog = compiled()
    assert {k: v for k, v in po_entries().items() if k} == {k: v for k, v in catalog.items() if k}


@pytest.mark.parametrize("message", sorted(po_entries().items()), ids=lambda item: item[0][:40])
def test_a_translation_keeps_every_placeholder_of_its_message(message) -> None:
    msgid, msgstr = message
    placeholder = re.compile(r"%\(\w+\)[srd]")
    assert sorted(placeholder.findall(msgid)) == sorted(placeholder.findall(msgstr))


def test_a_moderation_error_is_japanese_where_the_site_speaks_japanese(board) -> None:
    with translation.override("ja"), pytest.raises(ModerationError, match="スレッド test/1 はありません"):
        existing_thread("test", "1")


def test_a_moderation_error_is_english_for_operators(board) -> None:
    with translation.override(None), pytest.raises(ModerationError, match="no thread test/1"):
        existing_thread("test", "1")


def test_every_board_setting_has_a_label_for_the_board_form() -> None:
    assert sorted(LABELS) == sorted(DEFAULTS)
