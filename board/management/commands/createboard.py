"""manage.py createboard NAME TITLE [--set key=value ...]: a board is an event too."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from board.boards import DEFAULTS, NAME_RE, problems, with_defaults
from board.events import EventType, new_event
from board.log import LogError
from board.posting.commit import commit
from board.readmodel import queries
from board.store import get_store


def parse_setting(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or key not in DEFAULTS:
        raise CommandError(f"--set {text!r}: expected key=value with key one of {', '.join(sorted(DEFAULTS))}")
    default = DEFAULTS[key]
    try:
        value = json.loads(raw) if not isinstance(default, str) else raw
    except json.JSONDecodeError:
        raise CommandError(f"--set {key}: {raw!r} is not a {type(default).__name__}") from None
    if not isinstance(value, type(default)):
        raise CommandError(f"--set {key}: {raw!r} is not a {type(default).__name__}")
    return key, value


class Command(BaseCommand):
    help = "Create a board (or change its settings) by committing a BoardCreated event."

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

    def handle(self, *args, name, title, set, if_missing, **options):
        if not NAME_RE.match(name):
            raise CommandError(f"board name {name!r}: use 1-32 of a-z, 0-9 and _")
        if if_missing and queries.board(get_store(), name) is not None:
            self.stdout.write(f"board /{name}/ exists; left as it is")
            return
        payload = dict(parse_setting(s) for s in set) | {"title": title}
        with_defaults(payload)
        wrong = problems(payload)
        if wrong:
            raise CommandError("; ".join(wrong))
        try:
            event = commit(new_event(EventType.BOARD_CREATED, name, payload=payload))
        except LogError as exc:
            raise CommandError(f"could not commit to the log: {exc}") from exc
        from board.readmodel.projection import apply

        apply(get_store(), event)  # the operator sees the board at once, whatever the workers do
        self.stdout.write(self.style.SUCCESS(f"board /{name}/ 「{title}」 committed as {event.id}"))
