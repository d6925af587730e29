"""Tokens: their format and hash, the tokens file, and `logctl token create|list|revoke`."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest

from logctl.core.tokens import TokenTable, bearer_token, hash_token, new_token, parse_scopes, parse_tokens, render_tokens
from logctl.errors import ConfigError
from helpers import cli_environment, run_cli

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_new_tokens_are_random_and_long() -> None:
    """Each new token is different and carries 32 random bytes (43 URL-safe characters after the prefix)."""
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith("lgt_") and len(t) == 4 + 43 for t in tokens)


def test_table_finds_a_token_by_its_hash_only() -> None:
    """A table built from a token finds it by the secret, stores only its hash, and finds no other secret."""
    token = new_token()
    table = TokenTable().with_token("ci", token, {"write"}, NOW)
    assert table.find(token) == table.entries[0]
    assert table.entries[0].hash == hash_token(token) and token not in render_tokens(table)
    assert table.find(token + "x") is None and table.find("") is None


def test_the_file_format_round_trips() -> None:
    """render_tokens and parse_tokens round-trip names, hashes, scopes and creation times."""
    table = TokenTable().with_token("a", new_token(), {"read"}, NOW).with_token("b", new_token(), {"read", "write"}, NOW)
    assert parse_tokens(render_tokens(table), "f") == table
    assert json.loads(render_tokens(table))["tokens"][1]["scopes"] == ["read", "write"]


@pytest.mark.parametrize("text", ["{", '{"tokens": [{"name": "a"}]}', '{"tokens": [{"name": "a", "hash": "sha256:x", "scopes": ["admin"]}]}',
                                  '{"tokens": [{"name": "a", "hash": "md5:x", "scopes": ["read"]}]}'])
def test_a_bad_tokens_file_is_a_config_error_naming_it(text: str) -> None:
    """A tokens file that is not valid is refused with a ConfigError naming the file."""
    with pytest.raises(ConfigError, match="/etc/t.json"):
        parse_tokens(text, "/etc/t.json")


def test_scopes_parse_and_refuse_unknown() -> None:
    """read, write and read,write parse; anything else is refused."""
    assert parse_scopes("read") == {"read"} and parse_scopes("read, write") == {"read", "write"}
    for bad in ("", "admin", "read,admin"):
        with pytest.raises(ConfigError):
            parse_scopes(bad)


def test_duplicate_and_missing_names_are_refused() -> None:
    """Creating a name twice and revoking an unknown name are ConfigErrors."""
    table = TokenTable().with_token("ci", new_token(), {"read"}, NOW)
    with pytest.raises(ConfigError, match="already exists"):
        table.with_token("ci", new_token(), {"read"}, NOW)
    with pytest.raises(ConfigError, match="no token named"):
        table.without("other")
    with pytest.raises(ConfigError, match="token name"):
        table.with_token("a b", new_token(), {"read"}, NOW)


def test_bearer_header_parsing() -> None:
    """Only 'Bearer <token>' (any case of Bearer) yields a token."""
    assert bearer_token("Bearer abc") == "abc" and bearer_token("bearer  abc ") == "abc"
    assert bearer_token(None) is None and bearer_token("Basic abc") is None and bearer_token("Bearer ") is None


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    """token create prints the secret once and stores its hash in a 0600 file; list shows names; revoke removes."""
    env = cli_environment(tmp_path)
    path = tmp_path / "tokens.json"
    created = run_cli(["token", "create", "ci", "--scope", "read,write", "--tokens-file", str(path)], env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("lgt_") and token not in created.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token not in path.read_text() and hash_token(token) in path.read_text()
    listed = run_cli(["token", "list", "--tokens-file", str(path)], env)
    assert listed.stdout.startswith("ci\tread,write\t") and token not in listed.stdout
    again = run_cli(["token", "create", "ci", "--scope", "read", "--tokens-file", str(path)], env)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert run_cli(["token", "revoke", "ci", "--tokens-file", str(path)], env).returncode == 0
    assert run_cli(["token", "list", "--tokens-file", str(path)], env).stdout == ""
    assert run_cli(["token", "revoke", "ci", "--tokens-file", str(path)], env).returncode == 2


def test_cli_default_file_follows_env(tmp_path: Path) -> None:
    """Without --tokens-file the file is $LOGCTL_TOKENS_FILE, else $LOGCTL_DATA_DIR/tokens.json."""
    env = cli_environment(tmp_path)
    assert run_cli(["token", "create", "a", "--scope", "read"], env).returncode == 0
    assert "\"a\"" in (Path(env["LOGCTL_DATA_DIR"]) / "tokens.json").read_text()
    env["LOGCTL_TOKENS_FILE"] = str(tmp_path / "other.json")
    assert run_cli(["token", "create", "b", "--scope", "write"], env).returncode == 0
    assert "\"b\"" in (tmp_path / "other.json").read_text()


def test_cli_help_has_examples() -> None:
    """Each token command's --help shows an Example block."""
    for cmd in ("create", "list", "revoke"):
        out = run_cli(["token", cmd, "--help"], dict(os.environ)).stdout
        assert "Example:" in out, cmd


def test_a_tokens_file_not_in_utf8_is_a_config_error_and_a_reload_keeps_the_tokens(tmp_path: Path) -> None:
    """A tokens file that is not UTF-8 is a ConfigError naming it, and the hub's reread keeps the previous tokens."""
    from logctl.core.metrics import HubMetrics
    from logctl.hub.access import AccessGate
    from logctl.tokens_file import create_token, load_tokens

    path = tmp_path / "tokens.json"
    create_token(path, "ci", frozenset({"read"}))
    gate = AccessGate(HubMetrics(), host="127.0.0.1", tokens_file=str(path), allow_origins=(),
                      metrics_open=False, insecure_no_auth=False)
    path.write_bytes(b'{"tokens": [\xff\xfe')
    with pytest.raises(ConfigError, match="tokens.json"):
        load_tokens(path)
    gate.reload(force=True)
    assert gate.access.tokens is not None and [e.name for e in gate.access.tokens.entries] == ["ci"]
