"""Stream cursors that cannot skip a late-committing row.

A ``BIGSERIAL`` id is taken when a row is inserted but becomes visible when its
transaction commits, so ``id > last_seen`` skips a row whose transaction commits late.
logctl orders rows by ``(txid, id)``, where ``txid`` is the inserting transaction's
``pg_current_xact_id()``, and only ever reads rows whose ``txid`` lies below the xmin
horizon of the reading snapshot: every transaction below that horizon has finished, so
no row can later appear *before* a cursor that was handed out. See docs/protocol.md.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from logctl.errors import ProtocolError

__all__ = ["Cursor", "ORIGIN"]


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """A position in the stream: every row ordered at or before ``(txid, id)`` has been seen."""

    txid: int
    id: int

    def __str__(self) -> str:
        return f"{self.txid}-{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """Parse the ``"<txid>-<id>"`` form; raise :class:`ProtocolError` on anything else."""
        head, sep, tail = text.partition("-")
        if not sep or not head.isdigit() or not tail.isdigit() or len(text) > 41:
            raise ProtocolError("bad_cursor", f"cursor {text[:48]!r} is not of the form '<txid>-<id>'")
        return cls(int(head), int(tail))

    @classmethod
    def horizon(cls, xmin: int) -> Cursor:
        """The cursor meaning "every row of a transaction below ``xmin`` has been seen"."""
        return cls(xmin, 0)


#: Before every row.
ORIGIN: Final = Cursor(0, 0)
