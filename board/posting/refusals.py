"""Why a post is refused. The message is shown to the poster as is (2ch style)."""

from __future__ import annotations

import re


class Refused(Exception):
    """The post was not written; ``message`` says why in the board's language.

    ``maybe_written``: the log could not say in time whether it was, so the
    page must not add 「保存されていません」.
    """

    def __init__(
        self, message: str, wait_seconds: int | None = None, status: int = 403, maybe_written: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.wait_seconds = wait_seconds
        self.status = status
        self.maybe_written = maybe_written


def reason(message: str) -> str:
    """The name of the rule a refusal message comes from ("cooldown", "log_down"), for metrics; "other" if none."""
    for name, pattern in _patterns():
        if pattern.fullmatch(message):
            return name
    return "other"


def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    if not _PATTERNS:
        for name, template in globals().items():
            if name.isupper() and isinstance(template, str):
                parts = re.split(r"\{\w+\}", template)
                _PATTERNS.append((name.lower(), re.compile("(?s)" + ".*".join(map(re.escape, parts)))))
    return _PATTERNS


_PATTERNS: list[tuple[str, re.Pattern[str]]] = []

NO_BOARD = "該当する板は存在しません。"
NO_THREAD = "該当するスレッドは存在しません。"
ARCHIVED = "このスレッドは過去ログ倉庫に格納されています。もう書き込めません。"
STOPPED = "このスレッドは{limit}を超えました。もう書けないので、新しいスレッドを立ててください。"
BOARD_CLOSED = "この板は閉鎖されています。書き込みはできません。"
THREAD_STOPPED = "このスレッドはストッパーが働いたので、もう書けません。"
STAFF_NAME = "その名前は使えません。（管理人や削除人を名乗れるのはキャップのある人だけです）"
BANNED = "このIDは規制されています。本日は書き込めません。"
RANGE_BANNED = "あなたのネットワークからの書き込みは規制されています（アク禁）。"
THREADS_BUSY = "スレッドの作成が混み合っています。少し待ってから再度お試しください。"
NO_BODY = "本文がありません！"
NO_SUBJECT = "サブジェクトが存在しません！"
TOO_LONG = "{field}が長すぎます！（{size}バイト、最大{limit}バイト）"
TOO_MANY_LINES = "改行が多すぎます！（{lines}行、最大{limit}行）"
COOLDOWN = "連続投稿ですか？？ あと{wait}秒待ってから書き込んでください。"
BAD_ENCODING = "文字コードが正しくありません。UTF-8（専用ブラウザはShift_JIS）で送信してください。"
LOG_DOWN = (
    "サーバーが混雑しているため書き込めませんでした。書き込みは保存されていません。しばらくしてから再度お試しください。"
)
UNCONFIRMED = (
    "書き込みを確認できませんでした。保存されたかどうかはまだ分かりません。"
    "同じ内容をもう一度送信しても、二重に書き込まれることはありません。"
)
STILL_CONFIRMING = "前回の書き込みを確認しています。少し待ってから、もう一度送信してください。"
FOREIGN_ORIGIN = "不正なリクエストです。他のサイトから書き込むことはできません。"
TOO_BIG = "書き込みが大きすぎます。"
TOO_MANY_FIELDS = "不正なフォームです（項目が多すぎます）。"
WRONG_FORM_TYPE = "不正なフォームです。application/x-www-form-urlencoded で送信してください。"
BAD_CHARACTERS = "使えない文字が含まれています：{names}"
TOO_MANY_ANCHORS = "レスアンカーが多すぎます！（{count}個、最大{limit}個）"
LINE_TOO_LONG = "長すぎる行があります！（{size}バイト、最大{limit}バイト）"
DOUBLE_POST = "二重かきこですか？？ 同じ内容はしばらく書き込めません。"
TOO_MANY_THREADS = "スレッド立てすぎです。しばらく待ってから立ててください。"
BOARD_TOO_MANY_THREADS = "この板ではいまスレッドが立ちすぎています。しばらく待ってから立ててください。"
