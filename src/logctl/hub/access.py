"""The hub's access rules at its edge: loading and rereading the tokens file, counting and logging refusals.

The decisions are pure (``logctl.core.routes.route`` and ``frame_refusal``); this module
holds the current :class:`~logctl.core.routes.Access`, rereads the tokens file when its
mtime changes (polled every ``interval`` seconds) or on SIGHUP, and never logs a token.
Every refusal is counted in ``/metrics``; which ones are logged is decided by the pure
:class:`~logctl.core.refusal_log.RefusalLog` (a few per peer a minute, then one summary).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import secrets
import time
from pathlib import Path

from logctl.core import routes
from logctl.core.metrics import HubMetrics
from logctl.core.protocol import Publish, SelectionSubscribe, Subscribe
from logctl.core.refusal_log import RefusalLog, Suppressed
from logctl.errors import ConfigError, LogctlError
from logctl.config import data_dir
from logctl.tokens_file import load_session_key, load_tokens

__all__ = ["AccessGate"]

logger = logging.getLogger("logctl.hub.access")


class AccessGate:
    """The current access rules of one hub, kept in step with its tokens file."""

    def __init__(
        self, metrics: HubMetrics, *, host: str, tokens_file: str | None, allow_origins: tuple[str, ...],
        metrics_open: bool, insecure_no_auth: bool,
    ) -> None:
        self.metrics = metrics
        self.path = Path(tokens_file).expanduser() if tokens_file else None
        refusal = routes.bind_refusal(host, has_tokens=self.path is not None, insecure_no_auth=insecure_no_auth)
        if refusal is not None:
            raise ConfigError(refusal)
        self.insecure = self.path is None and not routes.is_loopback_host(host)
        self.access = routes.Access(
            tokens=None, check_host=routes.is_loopback_host(host),
            allow_origins=frozenset(o.rstrip("/") for o in allow_origins), metrics_open=metrics_open,
        )
        self._stamp: tuple[int, int] | None = None
        if self.path is not None:
            self.access = dataclasses.replace(self.access, session_key=_session_key())
            self._load()
        self.refusal_log = RefusalLog()

    def _mtime(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _load(self) -> None:
        assert self.path is not None
        stamp = self._mtime()
        table = load_tokens(self.path)
        self.access = dataclasses.replace(self.access, tokens=table)
        self._stamp = stamp

    def reload(self, *, force: bool = False) -> None:
        """Reread the tokens file if it changed (or if ``force``); on an error keep the current tokens and log it."""
        if self.path is None or (not force and self._mtime() == self._stamp):
            return
        try:
            self._load()
        except LogctlError as exc:
            self._stamp = self._mtime()  # do not log the same broken file every poll
            logger.error("kept the previous tokens: %s", exc)
            return
        assert self.access.tokens is not None
        logger.warning("reloaded %d tokens from %s", len(self.access.tokens.entries), self.path)

    async def watch(self, interval: float = 2.0) -> None:
        """Poll the tokens file's mtime every ``interval`` seconds, and log the refusal summaries due, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            self._summaries(self.refusal_log.due(time.monotonic()))
            await asyncio.to_thread(self.reload)

    def frame_refusal(self, grant: routes.Upgrade, frame: object, peer: object) -> str | None:
        """Why a connection granted ``grant`` may not send ``frame`` (counted and logged), or None."""
        kind = "publish" if isinstance(frame, Publish) else "subscribe" if isinstance(frame, Subscribe | SelectionSubscribe) else ""
        why = routes.frame_refusal(grant, kind)
        if why is not None:
            self.refused("scope", peer, f"a {kind} frame", grant.token_name)
        return why

    def start(self, host: str, port: int) -> asyncio.Future[None]:
        """Start watching the tokens file; warn once when serving a network address with no auth."""
        if self.insecure:
            logger.warning("WARNING: --insecure-no-auth: anyone who can reach %s:%d may read and write every thread", host, port)
        return asyncio.ensure_future(self.watch())

    def refused(self, reason: str, peer: object, what: str, token_name: str | None) -> None:
        """Count a refusal by ``reason``; log it with the peer address and the token's name (never the token),
        unless that peer has had its lines for this minute (then it is summed up later)."""
        self.metrics.refused(reason)
        verdict = self.refusal_log.refused(_peer_host(peer), time.monotonic())
        if verdict.summary is not None:
            self._summaries([verdict.summary])
        if verdict.log:
            logger.warning("refused %s from %s: %s (token name: %s)", what, _peer(peer), reason, token_name or "-")

    def close(self) -> None:
        """Log the refusal summaries still pending (the hub is stopping)."""
        self._summaries(self.refusal_log.close(time.monotonic()))

    def _summaries(self, summaries: list[Suppressed]) -> None:
        for s in summaries:
            logger.warning(
                "suppressed %s more refusal%s from %s in the last %.0f s (all counted in logctl_auth_refused_total)",
                f"{s.count:,}", "" if s.count == 1 else "s", s.peer, s.seconds,
            )


def _session_key() -> bytes:
    """The key that signs browser sessions: ``$LOGCTL_DATA_DIR/session.key``, else one for this run only."""
    path = data_dir() / "session.key"
    try:
        return load_session_key(path)
    except ConfigError as exc:
        logger.warning("%s; browser sessions will end when this hub stops", exc)
        return secrets.token_bytes(32)


def _peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _peer_host(peer: object) -> str:
    """The address part of a peer (its budget is per address, whatever the port)."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer)
