"""docs/tail.md stays true: every key of the viewer and every option of the command is in it."""

from __future__ import annotations

import json
from pathlib import Path

import typer.main
from websockets.sync.client import connect

from helpers import HubProcess

from logctl.cli import app
from logctl.tail.help import KEYS

TAIL_MD = Path(__file__).resolve().parents[1] / "docs" / "tail.md"


def test_every_key_of_the_help_screen_is_documented() -> None:
    """Each key listed by the ? screen appears in docs/tail.md's key table."""
    text = TAIL_MD.read_text("utf-8")
    for keys, what in KEYS:
        for key in keys.split():
            assert f"`{key}`" in text, f"docs/tail.md lacks the key {key}"
        assert what in text


def test_every_option_is_documented() -> None:
    """Each option of `logctl tail` appears in docs/tail.md's option table."""
    text = TAIL_MD.read_text("utf-8")
    command = typer.main.get_command(app).commands["tail"]  # type: ignore[attr-defined]
    for param in command.params:
        if param.param_type_name == "option" and "--help" not in param.opts:
            assert any(f"`{opt}" in text for opt in param.opts), f"docs/tail.md lacks {param.opts[0]}"


def test_protocol_md_subscribe_now_example_matches_the_hub(hub: HubProcess) -> None:
    """docs/protocol.md's `"cursor": "now"` example shows the `subscribed` reply a real hub sends (cursor null)."""
    text = (TAIL_MD.parent / "protocol.md").read_text("utf-8").splitlines()
    ask = next(i for i, line in enumerate(text) if line.startswith("> ") and '"cursor": "now"' in line)
    documented = json.loads(text[ask + 1].removeprefix("< "))
    with connect(hub.url + "/ws", open_timeout=10) as ws:
        ws.send(text[ask].removeprefix("> "))
        answered = json.loads(ws.recv(timeout=10))
    assert documented == answered
