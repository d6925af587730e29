"""The hub's TLS: the server's SSL context from ``serve --certfile/--keyfile``.

A certificate or key that cannot be used is a :class:`~logctl.errors.ConfigError` naming the
option and the file, raised before the hub starts anything: never a traceback, and never a
pass-phrase prompt (an encrypted key is refused, since a hub starts unattended).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from logctl.errors import ConfigError

__all__ = ["server_context"]


def _read(path: str, option: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {option} {path}: {exc.strerror or exc}") from None


def server_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    """The SSL context that serves ``certfile`` (PEM, leaf first, then its chain) with ``keyfile``.

    ``keyfile`` None: the key is in ``certfile``. Neither: None (plain ``ws://``/``http://``).
    TLS 1.2 at least; no client certificates are asked for.
    """
    if certfile is None:
        if keyfile is not None:
            raise ConfigError("--keyfile needs --certfile: give the certificate (PEM) that goes with the key")
        return None
    cert = _read(certfile, "--certfile")
    key_option, key_path = ("--keyfile", keyfile) if keyfile is not None else ("--certfile", certfile)
    key = _read(keyfile, "--keyfile") if keyfile is not None else cert
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        raise ConfigError(f"--certfile {certfile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if b"PRIVATE KEY-----" not in key:
        raise ConfigError(
            f"{key_option} {key_path} holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
            + ("; give it with --keyfile" if keyfile is None else "")
        )
    asked: list[bool] = []

    def no_passphrase() -> bytes:  # instead of OpenSSL's prompt on the terminal
        asked.append(True)
        return b""

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.3 session tickets. With them (OpenSSL sends two after each handshake), asyncio's
    # TLS layer (CPython 3.11) left about 1 in 300 WebSocket handshakes from websockets' client
    # unanswered until the open timeout, and once failed a read with BAD_RECORD_TYPE; with none,
    # 1,000 in a row all opened (tests/test_tls.py). logctl's clients never resume sessions.
    context.num_tickets = 0
    try:
        context.load_cert_chain(
            str(Path(certfile).expanduser()), str(Path(keyfile).expanduser()) if keyfile else None, password=no_passphrase,
        )
    except ssl.SSLError as exc:
        if asked or b"ENCRYPTED" in key:
            raise ConfigError(
                f"the private key in {key_option} {key_path} is encrypted: the hub starts unattended, so give it an"
                " unencrypted key (openssl pkey -in KEY -out KEY.plain) readable only by the hub's user"
            ) from None
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"the private key in {key_option} {key_path} does not match the certificate in --certfile {certfile}") from None
        raise ConfigError(
            f"cannot use --certfile {certfile} with {key_option} {key_path}: {exc.reason or 'not a valid PEM certificate chain and key'}"
        ) from None
    except OSError as exc:  # a file that vanished or became unreadable since it was read above
        raise ConfigError(f"cannot use --certfile {certfile} with {key_option} {key_path}: {exc.strerror or exc}") from None
    return context
