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
        # isascii: "²".isdigit() is true, and int("²") raises.
        if not sep or not text.isascii() or not head.isdigit() or not tail.isdigit() or len(text) > 41:
            raise ProtocolError("bad_cursor", f"cursor {text[:48]!r} is not of the form '<txid>-<id>'")
        txid, id_ = int(head), int(tail)
        if txid >= _LIMIT or id_ >= _LIMIT:
            raise ProtocolError("bad_cursor", f"cursor {text[:48]!r} is out of range (each part below 2^63)")
        return cls(txid, id_)

    @classmethod
    def horizon(cls, xmin: int) -> Cursor:
        """The cursor meaning "every row of a transaction below ``xmin`` has been seen"."""
        return cls(xmin, 0)


#: Both parts of a cursor are PostgreSQL ``bigint``s.
_LIMIT: Final = 2**63

#: Before every row.
ORIGIN: Final = Cursor(0, 0)
