"""A selection of threads to follow together: some thread ids and/or one glob. Pure.

``logctl tail A B --match 'build-*'`` follows a :class:`Selection`; the hub merges its
threads into one stream in global ``(txid, id)`` order (docs/protocol.md, "Selections").
A glob has the thread list's meaning (``GET /admin/runs?match=``): ``*`` is any run of
characters, ``?`` one character, everything else is literal (no ``[...]`` classes), and it
must match the whole thread id. :meth:`Selection.matches` and
:func:`~logctl.core.protocol.runs.glob_to_like` (the SQL side) agree on that.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Final

from logctl.core.records import validate_thread_id
from logctl.errors import InvalidRecord, ProtocolError

__all__ = [
    "MAX_MATCH_LENGTH", "MAX_MATCH_THREADS", "MAX_SELECTION_THREADS", "Selection", "check_match", "glob_regex",
    "too_many_matches", "too_many_threads",
]

#: A glob is 1 to this many characters (as ``GET /admin/runs?match=``).
MAX_MATCH_LENGTH: Final = 256
#: Thread ids one selection may name (``serve --max-selection-threads``).
MAX_SELECTION_THREADS: Final = 100
#: Threads one selection's glob may match (``serve --max-match-threads``).
MAX_MATCH_THREADS: Final = 1000


def too_many_threads(selection: Selection, limit: int) -> ProtocolError | None:
    """The ``too_many_threads`` error when ``selection`` names more than ``limit`` threads, else None."""
    if len(selection.threads) <= limit:
        return None
    return ProtocolError(
        "too_many_threads",
        f"the selection names {len(selection.threads)} threads; the hub follows at most {limit} named threads at once"
        " (serve --max-selection-threads): name fewer, or use a glob (--match)",
    )


def too_many_matches(pattern: str, limit: int) -> ProtocolError:
    """The ``too_many_matches`` error: glob ``pattern`` matches more than ``limit`` threads."""
    return ProtocolError(
        "too_many_matches",
        f"the glob {pattern[:80]!r} matches more than {limit} threads, the hub's limit (serve --max-match-threads):"
        " narrow it (e.g. 'build-2026-12-*'), or list the threads with logctl threads --match",
    )


def glob_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of a glob: ``*`` any run, ``?`` one character, the rest literal; whole id."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


@dataclasses.dataclass(frozen=True, slots=True)
class Selection:
    """Threads to follow as one stream: ``threads`` by id, and every thread whose id matches ``match``.

    At least one of the two. Thread ids are checked as a record's are (1–256 characters, no
    NUL) and kept once each, in the order given. Raises :class:`~logctl.errors.ProtocolError`
    (``bad_selection``, ``bad_thread_id``, ``bad_match``) for a selection that cannot be followed.
    """

    threads: tuple[str, ...] = ()
    match: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.threads, str) or not isinstance(self.threads, tuple | list):
            raise ProtocolError("bad_selection", "threads must be a list of thread ids")
        seen: dict[str, None] = {}
        for i, thread in enumerate(self.threads):
            try:
                seen[validate_thread_id(thread)] = None
            except InvalidRecord as exc:
                code = "bad_thread_id" if exc.code == "missing_thread_id" else exc.code
                raise ProtocolError(code, f"threads[{i}]: {exc}") from None
        object.__setattr__(self, "threads", tuple(seen))
        if self.match is not None:
            check_match(self.match)
        if not self.threads and self.match is None:
            raise ProtocolError("bad_selection", "a selection needs at least one thread id or a match glob")

    @classmethod
    def one(cls, thread_id: str) -> Selection:
        """The selection of one thread."""
        return cls((thread_id,))

    @property
    def single(self) -> str | None:
        """The thread id, when this selection is exactly one thread and no glob; else None."""
        return self.threads[0] if len(self.threads) == 1 and self.match is None else None

    def matches(self, thread_id: str) -> bool:
        """Whether ``thread_id`` belongs to the selection (named, or matched by the glob)."""
        if thread_id in self.threads:
            return True
        return self.match is not None and _regex(self.match).fullmatch(thread_id) is not None

    def label(self) -> str:
        """A short description for a title or a message: ``a, b, build-*``."""
        parts = list(self.threads) + ([self.match] if self.match is not None else [])
        return ", ".join(parts)


def check_match(pattern: object) -> str:
    """Return a usable glob or raise :class:`ProtocolError` ``bad_match``."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_MATCH_LENGTH or "\x00" in pattern:
        raise ProtocolError("bad_match", f"match must be a glob of 1 to {MAX_MATCH_LENGTH} characters (no NUL)")
    try:
        pattern.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("invalid_utf8", "match is not valid UTF-8: it holds a lone surrogate") from None
    return pattern


_REGEXES: dict[str, re.Pattern[str]] = {}


def _regex(pattern: str) -> re.Pattern[str]:
    regex = _REGEXES.get(pattern)
    if regex is None:
        if len(_REGEXES) > 1024:
            _REGEXES.clear()
        regex = _REGEXES[pattern] = glob_regex(pattern)
    return regex
