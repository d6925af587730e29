"""Docs stay true: every command has help and a section in docs/cli.md; README matches CI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from logctl.cli import app

ROOT = Path(__file__).resolve().parents[1]
CLI_MD = ROOT / "docs" / "cli.md"
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"


# Typer builds click objects (from its own vendored copy in recent releases): they are
# inspected by their public attributes, without importing click.


def _commands() -> dict[str, Any]:
    """Every command of the app by its full name (``db-url``, ``group sub``), walking groups."""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, command in group.commands.items():
            full = f"{prefix}{name}"
            if hasattr(command, "commands"):
                walk(command, f"{full} ")
            found[full] = command

    walk(typer.main.get_command(app), "")
    return found


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option" and "--help" not in p.opts]


def _arguments(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "argument"]


COMMANDS = _commands()


def _section(name: str) -> str:
    """The text of ``## logctl <name>`` in docs/cli.md, up to the next ``## `` heading."""
    text = CLI_MD.read_text("utf-8")
    match = re.search(rf"^## logctl {re.escape(name)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/cli.md has no section '## logctl {name}'"
    return match.group(1)


def test_the_app_has_the_foundation_commands() -> None:
    """The commands this test walks include at least the foundation's four."""
    assert {"apply-schema", "db-url", "db-stop", "prune"} <= COMMANDS.keys()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_text(name: str) -> None:
    """Each command has a help text, and each of its options has one too."""
    command = COMMANDS[name]
    assert (command.help or "").strip(), f"logctl {name} has no help text"
    for option in _options(command):
        assert (option.help or "").strip(), f"logctl {name} {option.opts[0]} has no help text"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_and_its_options_are_documented_in_cli_md(name: str) -> None:
    """docs/cli.md has a '## logctl <command>' section naming every option of that command."""
    section = _section(name)
    for option in _options(COMMANDS[name]):
        assert any(f"`{opt}" in section for opt in option.opts), f"docs/cli.md: logctl {name} lacks {option.opts[0]}"
    for argument in _arguments(COMMANDS[name]):
        assert (argument.name or "").upper() in section.upper(), f"docs/cli.md: logctl {name} lacks argument {argument.name}"


def test_global_options_are_documented() -> None:
    """The options every command shares (--debug, --version) are in docs/cli.md."""
    text = CLI_MD.read_text("utf-8")
    for option in _options(typer.main.get_command(app)):
        assert f"`{option.opts[0]}`" in text


def test_every_command_is_in_the_readme_tour() -> None:
    """The README's tour mentions every top-level command."""
    readme = README.read_text("utf-8")
    for name in COMMANDS:
        assert f"logctl {name.split()[0]}" in readme, f"README does not mention logctl {name}"


def _ci_test_command() -> str:
    """The one command line inside ``readme_test_command() { ... }`` in .ci/run."""
    text = CI_RUN.read_text("utf-8")
    match = re.search(r"^readme_test_command\(\) \{\n\s*(.+?)\n\}", text, re.M)
    assert match, ".ci/run has no readme_test_command() function"
    return match.group(1).strip()


def test_readme_test_command_is_exactly_what_ci_runs() -> None:
    """The README's test command, in a fenced block on a line of its own, is the line .ci/run runs."""
    command = _ci_test_command()
    blocks = re.findall(r"^```(?:sh|bash|console)?\n(.*?)^```", README.read_text("utf-8"), re.M | re.S)
    lines = {line.strip() for block in blocks for line in block.splitlines()}
    assert command in lines
    assert "LOGCTL_TEST_DATABASE_URL=" in command and "pytest" in command
