"""One record as one JSON Lines line, in the history API's record shape."""

from __future__ import annotations

import json
import re
from typing import Final

from logctl.core.records import LogRecord

__all__ = ["format_json"]


def format_json(record: LogRecord) -> str:
    """One JSON object in the history API's record shape, on one line (UTF-8 kept as is).

    JSON escapes the C0 controls; DEL and the C1 range are escaped too (``\\u009b``), so
    the line is still exact JSON and none of it acts on a terminal.
    """
    text = json.dumps(record.to_json(), ensure_ascii=False)
    return _JSON_RAW_CONTROLS.sub(_json_escape, text) if _JSON_RAW_CONTROLS.search(text) else text


#: Controls that ``json.dumps(ensure_ascii=False)`` leaves raw (they can only occur inside strings).
_JSON_RAW_CONTROLS: Final = re.compile("[\x7f-\x9f]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
