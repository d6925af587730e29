"""The thread list's body (``GET /admin/runs``): encoded by the hub, read by ``logctl threads``. Pure.

``{"runs": [{"thread_id", "first_at", "last_at", "count", "levels": {"DEBUG": n, "INFO": n,
"WARN": n, "ERROR": n}}, …], "count": n, "before": cursor or null}``, newest activity first.
``before`` is the cursor of the next page (None on the last one): ``<last_at ISO>|<thread_id>``,
opaque to clients. See docs/api.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from logctl.core.records import LEVELS, parse_timestamp
from logctl.errors import InvalidRecord, ProtocolError

__all__ = ["RunSummary", "RunsCursor", "RunsPage", "glob_to_like", "parse_runs", "runs_body"]


@dataclasses.dataclass(frozen=True, slots=True)
class RunSummary:
    """One thread: its first and last record times, its record count and its count per level."""

    thread_id: str
    first_at: dt.datetime | None
    last_at: dt.datetime | None
    count: int
    levels: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "first_at": None if self.first_at is None else self.first_at.isoformat(),
            "last_at": None if self.last_at is None else self.last_at.isoformat(),
            "count": self.count,
            "levels": {level: int(self.levels.get(level, 0)) for level in LEVELS},
        }


@dataclasses.dataclass(frozen=True, slots=True)
class RunsCursor:
    """Where a page of the thread list ends: the last thread's ``last_at`` (None sorts last) and id."""

    last_at: dt.datetime | None
    thread_id: str

    def __str__(self) -> str:
        return f"{'' if self.last_at is None else self.last_at.isoformat()}|{self.thread_id}"

    @classmethod
    def parse(cls, text: str) -> RunsCursor:
        """Read ``<ISO time or nothing>|<thread_id>``; ProtocolError for anything else."""
        when, sep, thread_id = text.partition("|")
        if not sep or not thread_id:
            raise ProtocolError("bad_cursor", f"before must be '<time>|<thread_id>' as a page's 'before' gives it, not {text[:64]!r}")
        try:
            return cls(None if when == "" else parse_timestamp(when), thread_id)
        except InvalidRecord:
            raise ProtocolError("bad_cursor", f"before has no valid time: {when[:40]!r}") from None


@dataclasses.dataclass(frozen=True, slots=True)
class RunsPage:
    runs: tuple[RunSummary, ...]
    before: RunsCursor | None


def glob_to_like(pattern: str) -> str:
    """A shell glob as a LIKE pattern with ``\\`` as escape: ``*`` any run, ``?`` one character, the rest literal."""
    out: list[str] = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def runs_body(page: RunsPage) -> dict[str, Any]:
    """The JSON body the hub answers ``GET /admin/runs`` with."""
    return {
        "runs": [run.to_json() for run in page.runs],
        "count": len(page.runs),
        "before": None if page.before is None else str(page.before),
    }


def _time(raw: object) -> dt.datetime | None:
    if raw is None:
        return None
    try:
        return parse_timestamp(raw)
    except InvalidRecord as exc:
        raise ProtocolError("bad_response", f"thread list: {exc}") from None


def parse_runs(body: Mapping[str, Any]) -> RunsPage:
    """Read a ``GET /admin/runs`` body (the inverse of :func:`runs_body`)."""
    runs = body.get("runs")
    if not isinstance(runs, list):
        raise ProtocolError("bad_response", "thread list response has no 'runs' list")
    out: list[RunSummary] = []
    for raw in runs:
        if not isinstance(raw, dict) or not isinstance(raw.get("thread_id"), str) or not isinstance(raw.get("count"), int):
            raise ProtocolError("bad_response", "a thread in the list has no thread_id or count")
        levels = raw.get("levels")
        out.append(RunSummary(
            thread_id=raw["thread_id"],
            first_at=_time(raw.get("first_at")),
            last_at=_time(raw.get("last_at")),
            count=raw["count"],
            levels={str(k): v for k, v in levels.items() if isinstance(v, int)} if isinstance(levels, dict) else {},
        ))
    before = body.get("before")
    return RunsPage(tuple(out), RunsCursor.parse(before) if isinstance(before, str) else None)
