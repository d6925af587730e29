"""Reading and writing the tokens file (format in ``logctl.core.tokens``), atomically and private (0600)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from pathlib import Path

from logctl.config import data_dir
from logctl.core.tokens import TokenTable, new_token, parse_tokens, render_tokens
from logctl.errors import ConfigError

__all__ = ["create_token", "load_session_key", "load_tokens", "resolve_tokens_file", "revoke_token", "save_tokens"]

#: Bytes of a browser-session signing key.
SESSION_KEY_BYTES = 32


def resolve_tokens_file(option: str | None) -> Path:
    """``--tokens-file``, then ``LOGCTL_TOKENS_FILE``, then ``$LOGCTL_DATA_DIR/tokens.json``."""
    chosen = option or os.environ.get("LOGCTL_TOKENS_FILE")
    return Path(chosen).expanduser() if chosen else data_dir() / "tokens.json"


def load_tokens(path: Path, *, missing_ok: bool = False) -> TokenTable:
    """The table in ``path``; a missing file is an empty table only when ``missing_ok``."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        if missing_ok:
            return TokenTable()
        raise ConfigError(f"the tokens file {path} does not exist: create a token with `logctl token create`") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the tokens file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the tokens file {path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    return parse_tokens(text, str(path))


def save_tokens(path: Path, table: TokenTable) -> None:
    """Write ``table`` to ``path`` atomically (a 0600 temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=path.parent)  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(render_tokens(table))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_token(path: Path, name: str, scopes: frozenset[str]) -> str:
    """Record a new token ``name`` with ``scopes`` in ``path`` and return its secret (shown once)."""
    token = new_token()
    table = load_tokens(path, missing_ok=True).with_token(name, token, scopes, dt.datetime.now(dt.timezone.utc))
    save_tokens(path, table)
    return token


def revoke_token(path: Path, name: str) -> None:
    """Remove the token ``name`` from ``path``."""
    save_tokens(path, load_tokens(path).without(name))


def load_session_key(path: Path) -> bytes:
    """The hub's key for signing browser sessions, kept in ``path`` (hex, 0600) so sessions outlive a restart.

    Made on first use; :class:`ConfigError` if it can be neither read nor made.
    """
    try:
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the session key {path}: {exc}") from None
    if text:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < SESSION_KEY_BYTES:
            raise ConfigError(f"the session key {path} is not {SESSION_KEY_BYTES} bytes of hex: delete it and a new one is made")
        return key
    key = secrets.token_bytes(SESSION_KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another hub made it a moment ago
        return load_session_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot create the session key {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
    return key
