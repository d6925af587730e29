"""How a tail of several threads tags each record with its thread. Pure.

* :func:`thread_colour`: a stable colour per thread id, from a palette of xterm-256 colours
  of middle lightness, each with a contrast ratio of at least 3.3 against both black and
  white, so a tag reads on a dark and on a light terminal. Reds, pure greens and yellows
  are left out: they are the levels' colours.
* :class:`TagWidth`: the width of the thread column, the widest tag seen so far, bounded.
* :func:`fit_tag` and :func:`plain_prefix`: a tag padded or cut to that width, and the
  ``thread │`` prefix of plain output (as stern prefixes each line with its pod).
* :func:`describe_threads`: the viewer's header, "3 threads: a, b, c", cut to a length.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from typing import Final

from logctl.core.sanitise import neutralise_controls

__all__ = [
    "MAX_TAG_WIDTH",
    "THREAD_PALETTE",
    "TagWidth",
    "cells",
    "describe_threads",
    "fit_tag",
    "plain_prefix",
    "thread_colour",
]

#: xterm-256 colour numbers: orange, sky blue, olive, orchid, magenta, slate blue, teal,
#: pink, gold, violet, brown, sea green (contrast >= 3.3 on black and on white).
THREAD_PALETTE: Final[tuple[int, ...]] = (166, 32, 64, 134, 164, 62, 30, 169, 136, 98, 130, 29)
#: The thread column is never wider than this (cells); longer ids end in an ellipsis.
MAX_TAG_WIDTH: Final = 24
#: The separator between the tag and the line in plain output.
SEPARATOR: Final = "│"


def thread_colour(thread_id: str) -> int:
    """The xterm-256 colour number of a thread: the same for the same id, in every run and process.

    CRC-32 of the id's UTF-8, not ``hash()``, which Python salts per process.
    """
    return THREAD_PALETTE[zlib.crc32(thread_id.encode("utf-8", "surrogatepass")) % len(THREAD_PALETTE)]


def cells(text: str) -> int:
    """Terminal cells ``text`` takes: wide (East Asian wide/fullwidth) characters two, combining marks none."""
    if text.isascii():
        return len(text)
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def fit_tag(thread_id: str, width: int) -> str:
    """The thread id as shown in a column ``width`` cells wide: controls made visible, cut with ``…``, padded."""
    text = neutralise_controls(thread_id)
    if cells(text) > width:
        out: list[str] = []
        used = 0
        for char in text:
            size = cells(char)
            if used + size > width - 1:
                break
            out.append(char)
            used += size
        text = "".join(out) + "…"
    return text + " " * max(0, width - cells(text))


class TagWidth:
    """The thread column's width: the widest tag seen so far, at most ``limit`` cells.

    It only grows, so lines already printed are never narrower than the ones that follow
    for long, and a one-off long id does not widen the column past ``limit``.
    """

    def __init__(self, threads: Iterable[str] = (), *, limit: int = MAX_TAG_WIDTH) -> None:
        self.limit = limit
        self.width = 0
        self._seen: set[str] = set()
        for thread in threads:
            self.see(thread)

    def see(self, thread_id: str) -> bool:
        """Take a thread into account; True when the column became wider."""
        if thread_id in self._seen:
            return False
        self._seen.add(thread_id)
        wide = min(self.limit, cells(neutralise_controls(thread_id)))
        if wide > self.width:
            self.width = wide
            return True
        return False


def plain_prefix(thread_id: str, width: int, *, color: bool) -> str:
    """``thread │ `` for plain output, the tag padded to ``width``; coloured (256-colour SGR) when ``color``."""
    tag = fit_tag(thread_id, width)
    if not color:
        return f"{tag} {SEPARATOR} "
    return f"\x1b[38;5;{thread_colour(thread_id)}m{tag}\x1b[0m \x1b[2m{SEPARATOR}\x1b[0m "


def describe_threads(threads: Sequence[str], match: str | None, seen: Sequence[str], *, width: int = 80) -> str:
    """What a tail follows, for its header: ``demo-* (3 threads: a, b, c)``, ``2 threads: a, b``.

    ``threads`` are the ids asked for, ``match`` the glob, ``seen`` the threads the hub named
    or whose records have arrived (in any order; they are listed sorted). The names are cut
    at whole names, ``a, b, +5 more``, to keep the whole within ``width`` characters where
    the rest allows. Controls in the names are made visible.
    """
    names = sorted(set(threads) | set(seen))
    if match is None and len(names) == 1:
        return neutralise_controls(names[0])
    count = f"{len(names)} thread" + ("" if len(names) == 1 else "s")
    if match is None:
        head, tail = f"{count}: ", ""
    else:
        head, tail = " ".join([*threads, match]) + f" ({count}" + (": " if names else ""), ")"
    listed = _listed(names, width - len(head) - len(tail)) if names else ""
    return neutralise_controls(f"{head}{listed}{tail}")


def _listed(names: Sequence[str], limit: int) -> str:
    """``a, b, c`` or, past ``limit`` characters, ``a, b, +5 more`` (at least one name, and never ``+1 more``
    where that one name would fit)."""
    out: list[str] = []
    length = 0
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        tail = len(f", +{rest} more") if rest else 0
        if out and length + 2 + len(name) + tail > limit:
            return ", ".join(out) + f", +{len(names) - i} more"
        out.append(name)
        length += len(name) + (2 if i else 0)
    return ", ".join(out)
