r"""Stored text made safe for a terminal: control characters shown, never obeyed.

A stored message may hold ESC, CSI, OSC, BEL or C1 characters. Written raw to a terminal
they retitle it, write the clipboard (OSC 52), clear the screen or type into the prompt.
:func:`neutralise_controls` turns every C0 and C1 control except newline and tab, and DEL,
into its visible escape (``\x1b``), wherever stored data meets a terminal.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["neutralise_controls"]

#: C0 controls except tab (0x09) and newline (0x0a), DEL, and the C1 range.
_CONTROLS: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def neutralise_controls(text: str) -> str:
    r"""``text`` with each control character but ``\n`` and ``\t`` written as ``\xNN`` (``"\x1b]0;t\x07"`` → ``"\\x1b]0;t\\x07"``)."""
    return _CONTROLS.sub(_visible, text) if _CONTROLS.search(text) else text
