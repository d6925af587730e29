"""One record as one line of plain output: ``time level message``, optionally coloured."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Final

from logctl.core.records import LogRecord
from logctl.core.sanitise import neutralise_controls
from logctl.core.times import TimeMode, format_time

__all__ = ["LEVEL_ANSI", "escape_newlines", "format_plain"]

#: ANSI SGR colours of the plain mode, per level.
LEVEL_ANSI: Final[Mapping[str, str]] = {"DEBUG": "2;36", "INFO": "32", "WARN": "33", "ERROR": "1;31"}

def escape_newlines(message: str) -> str:
    r"""Keep a record on one line: a newline becomes the two characters ``\n``."""
    if "\n" not in message and "\r" not in message:
        return message
    return message.rstrip("\r\n").replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def format_plain(
    record: LogRecord,
    *,
    mode: TimeMode,
    tz: dt.tzinfo,
    origin: dt.datetime | None = None,
    color: bool = False,
) -> str:
    """One line ``time level message`` for plain output (ANSI colour only when ``color``).

    Control characters of the message are shown, never obeyed (:func:`neutralise_controls`).
    """
    when = format_time(record.created_at, mode, tz=tz, origin=origin, iso=True)
    level = f"{record.level:<5}"
    message = neutralise_controls(escape_newlines(record.message))
    if not color:
        return f"{when} {level} {message}"
    code = LEVEL_ANSI.get(record.level, "0")
    return f"\x1b[2m{when}\x1b[0m \x1b[{code}m{level}\x1b[0m {message}"
