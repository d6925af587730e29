"""Stored text never drives the terminal: control characters are shown, not obeyed (plain output)."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from helpers import HubProcess, run_cli
from logctl.core.plain_line import format_plain
from logctl.core.records import LogRecord
from logctl.core.sanitise import neutralise_controls
from logctl.store import LogStore

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
#: Retitle the terminal, write its clipboard (OSC 52), clear it, ask for a cursor report, ring, C1 CSI.
HOSTILE = "a\x1b]0;pwned\x07b\x1b]52;c;ZXZpbA==\x07c\x1b[2J\x1b[6nd\x9b31me\x7f\x00\rf\tg"
CONTROLS = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))} - {"\n", "\t"}


def test_every_c0_and_c1_control_but_newline_and_tab_is_shown_as_an_escape() -> None:
    """ESC, BEL, CR, NUL, DEL and the C1 range become visible ``\\xNN``; newline, tab and other text stay."""
    assert neutralise_controls("\x1b]0;t\x07") == "\\x1b]0;t\\x07"
    assert neutralise_controls("\x9b2J\x85\x7f\x00\r") == "\\x9b2J\\x85\\x7f\\x00\\x0d"
    assert neutralise_controls("line 1\nline\t2 café ✓ 日本 \xa0") == "line 1\nline\t2 café ✓ 日本 \xa0"
    for char in CONTROLS:
        assert neutralise_controls(char) == f"\\x{ord(char):02x}"


@given(st.text())
def test_no_control_character_survives(text: str) -> None:
    """Whatever the input, the output holds no control character but newline and tab, and loses no other text."""
    out = neutralise_controls(text)
    assert not CONTROLS & set(out)
    if not CONTROLS & set(text):
        assert out == text


def test_plain_lines_neutralise_controls_even_with_colour() -> None:
    """format_plain escapes the message's controls; with colour, only logctl's own SGR codes are raw."""
    record = LogRecord("t1", HOSTILE, "INFO", T0)
    line = format_plain(record, mode="utc", tz=dt.timezone.utc)
    assert not CONTROLS & set(line)
    assert line.endswith("a\\x1b]0;pwned\\x07b\\x1b]52;c;ZXZpbA==\\x07c\\x1b[2J\\x1b[6nd\\x9b31me\\x7f\\x00\\rf\tg")
    coloured = format_plain(record, mode="utc", tz=dt.timezone.utc, color=True)
    assert coloured.count("\x1b") == 4  # dim on/off, level colour on/off


def test_tail_plain_shows_escapes_and_json_stays_exact(hub: HubProcess, store: LogStore, cli_env: dict[str, str]) -> None:
    """`logctl tail --plain` prints OSC, CSI, BEL and C1 visibly; `--json` keeps the exact message as JSON escapes."""
    store.insert([LogRecord("t1", HOSTILE, "WARN", T0)])
    out = run_cli(["tail", "t1", "--no-follow", "--plain", "--color", "always", "--server", hub.url], cli_env)
    assert out.returncode == 0, out.stderr
    assert "\x07" not in out.stdout and "\x9b" not in out.stdout and "\x1b]" not in out.stdout
    assert "\x1b[2J" not in out.stdout and "\x1b[6n" not in out.stdout
    assert "a\\x1b]0;pwned\\x07b" in out.stdout
    out = run_cli(["tail", "t1", "--no-follow", "--json", "--server", hub.url], cli_env)
    assert out.returncode == 0, out.stderr
    line = out.stdout.rstrip("\n")
    assert not CONTROLS & set(line)  # JSON escapes C0 controls; C1 is escaped by our json encoder or not at all
    assert json.loads(line)["message"] == HOSTILE.replace("\x00", "\\x00")  # the store keeps NUL as \x00
