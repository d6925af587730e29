"""What ``logctl tail`` was asked to do, validated once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from typing import Final, Literal

from logctl.config import DEFAULT_SERVER, resolve_server
from logctl.core.patterns import compile_pattern
from logctl.core.times import TIME_MODES, TimeMode, parse_since
from logctl.core.records import normalise_level, validate_thread_id
from logctl.core.selection import Selection
from logctl.core.view import Filter
from logctl.errors import ConfigError, InvalidRecord, ProtocolError

__all__ = ["ColorChoice", "TailSettings", "tail_settings"]

ColorChoice = Literal["auto", "always", "never"]
COLOR_CHOICES: Final[tuple[ColorChoice, ...]] = ("auto", "always", "never")


@dataclasses.dataclass(frozen=True, slots=True)
class TailSettings:
    """Options of one ``logctl tail`` run: the threads named, and/or a glob over thread ids."""

    threads: tuple[str, ...]
    match: str | None = None
    server: str = DEFAULT_SERVER
    limit: int = 1000
    since: dt.datetime | None = None
    follow: bool = True
    plain: bool = False
    json: bool = False
    color: ColorChoice = "auto"
    min_level: str = "DEBUG"
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    #: None: local time in the viewer, UTC in plain output.
    time_mode: TimeMode | None = None

    @property
    def filter(self) -> Filter:
        return Filter(self.min_level, self.include, self.exclude)

    @property
    def selection(self) -> Selection:
        """The threads to follow, as the tail client and the hub take them."""
        return Selection(self.threads, self.match)

    @property
    def several(self) -> bool:
        """A tail of several threads (more than one named, or a glob): records are tagged with their thread."""
        return self.match is not None or len(self.threads) > 1

    @property
    def thread_id(self) -> str:
        """The one thread of a single-thread tail."""
        if self.several or not self.threads:
            raise ValueError("thread_id is only defined for a tail of one thread")
        return self.threads[0]

    def describe(self) -> str:
        """What is followed, for messages: ``thread 't1'``, ``threads 'a', 'b'``, ``threads matching 'build-*'``."""
        named = ", ".join(repr(t) for t in self.threads)
        if self.match is None:
            return f"thread {named}" if len(self.threads) == 1 else f"threads {named}"
        return f"threads matching {self.match!r}" + (f" and threads {named}" if self.threads else "")


def tail_settings(
    threads: str | Sequence[str] = (),
    *,
    match: str | None = None,
    server: str | None = None,
    limit: int = 1000,
    since: str | None = None,
    follow: bool = True,
    plain: bool = False,
    json: bool = False,
    color: str = "auto",
    level: str | None = None,
    include: str | None = None,
    exclude: str | None = None,
    time_mode: str | None = None,
    now: dt.datetime | None = None,
) -> TailSettings:
    """Check and convert command-line values; raise :class:`ConfigError` naming the bad one."""
    names = (threads,) if isinstance(threads, str) else tuple(threads)
    if not names and match is None:
        raise ConfigError("name a thread (logctl tail THREAD_ID ...) or a pattern (--match 'build-*')")
    if match is not None and not match:
        raise ConfigError("--match needs a pattern, such as 'build-*'")
    try:
        chosen = tuple(dict.fromkeys(validate_thread_id(name) for name in names))
        min_level = normalise_level(level) if level else "DEBUG"
    except InvalidRecord as exc:
        raise ConfigError(str(exc)) from None
    try:
        Selection(chosen, match)
    except ProtocolError as exc:
        raise ConfigError(f"--match: {exc}") from None
    if limit < 0:
        raise ConfigError(f"--tail must be 0 or more, not {limit}")
    if color not in COLOR_CHOICES:
        raise ConfigError(f"--color must be auto, always or never, not {color!r}")
    if time_mode is not None and time_mode not in TIME_MODES:
        raise ConfigError(f"--time must be one of {', '.join(TIME_MODES)}, not {time_mode!r}")
    return TailSettings(
        threads=chosen,
        match=match,
        server=resolve_server(server),
        limit=limit,
        since=parse_since(since, now or dt.datetime.now(dt.timezone.utc)) if since else None,
        follow=follow,
        plain=plain or json,
        json=json,
        color=color,
        min_level=min_level,
        include=compile_pattern(include or "", what="--include"),
        exclude=compile_pattern(exclude or "", what="--exclude"),
        time_mode=time_mode,
    )
