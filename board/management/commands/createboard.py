"""manage.py createboard NAME TITLE [--set key=value ...]: a board is an event too."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, no_translations

from board.boards import DEFAULTS
from board.events import EventType
from board.management.moderation import refused, unless_it_exists
from board.moderation.boards import save_board
from board.readmodel import queries
from board.store import get_store

KINDS = {int: "a whole number", bool: "true or false", str: "text"}  # what a setting's value is, as said


def parse_setting(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or key not in DEFAULTS:
        raise CommandError(f"--set {text!r}: expected key=value with key one of {', '.join(sorted(DEFAULTS))}")
    default = DEFAULTS[key]
    try:
        value = json.loads(raw) if not isinstance(default, str) else raw
    except json.JSONDecodeError:
        raise CommandError(f"--set {key}: {raw!r} is not {KINDS[type(default)]}") from None
    # Not isinstance: JSON's true is a Python bool, which is an int, and would be committed as a number.
    if type(value) is not type(default):
        raise CommandError(f"--set {key}: {raw!r} is not {KINDS[type(default)]}")
    return key, value


class Command(BaseCommand):
    help = (
        "Create a board (BoardCreated), or change the settings given to an existing one "
        "(BoardSettingsChanged: the settings not given keep their values)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="short name used in URLs, e.g. news")
        parser.add_argument("title", help="the board's title, e.g. ニュース速報")
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"a board setting ({', '.join(sorted(DEFAULTS))})",
        )
        parser.add_argument("--if-missing", action="store_true", help="do nothing if the board exists")
        parser.add_argument("--reason", default="", help="kept in the log with the change")

    @no_translations  # operators read English; the moderation site shows these messages in Japanese
    def handle(self, *args, name, title, set, if_missing, reason, **options):
        settings = dict(parse_setting(s) for s in set) | {"title": title}
        with refused():  # the event is applied at once: the operator sees the board whatever the workers do
            if if_missing:
                event = unless_it_exists(
                    lambda: save_board(name, settings, by="operator", reason=reason, new=True),
                    lambda: queries.board(get_store(), name) is not None,
                )
                if event is None:
                    self.stdout.write(f"board /{name}/ exists; left as it is")
                    return
            else:
                event = save_board(name, settings, by="operator", reason=reason)
        if event is None:
            self.stdout.write(f"board /{name}/ already has these settings; nothing committed")
            return
        what = (
            "created"
            if event.type == EventType.BOARD_CREATED
            else "changed: " + ", ".join(k for k in event.payload if k not in ("by", "reason"))
        )
        self.stdout.write(self.style.SUCCESS(f"board /{name}/ 「{title}」 {what} ({event.id})"))
