"""The Python producer API: ``set_log_context``, ``emit_log``, ``publish_log`` and friends.

One producer per process, created on the first log call: a producer id (a fresh uuid4),
a bounded spool and one background thread that ships to the hub (``LOGCTL_SERVER``) or
straight to PostgreSQL (``DATABASE_URL``; with neither, the embedded server). Logging
calls only put a record in the spool (and, with a spool directory, append it to a segment
file); they never wait for the network or the database and never raise because either is
down. At interpreter exit, and at the exit of a ``multiprocessing`` child, the spool is
flushed for up to ``exit_timeout`` seconds. See docs/producers.md.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, ParamSpec, TypeVar

from logctl.client.disk_spool import DiskSpool, spool_settings
from logctl.client.replay import replay_directory
from logctl.client.routing import Route, choose_route
from logctl.client.shipper import ProducerStats, Shipper
from logctl.core.drafting import draft_record, record_size
from logctl.core.spool import Policy, SpoolLimits
from logctl.core.records import LogRecord, validate_thread_id
from logctl.core.wording import plural
from logctl.errors import ConfigError

__all__ = [
    "ProducerStats",
    "configure_producer",
    "emit_log",
    "flush_logs",
    "get_log_context",
    "log_context",
    "producer_stats",
    "publish_log",
    "set_log_context",
    "with_log_context",
]

logger = logging.getLogger("logctl.producer")

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_EXIT_TIMEOUT: Final = 5.0

_thread_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("logctl_thread_id", default=None)


# -- the thread context -----------------------------------------------------------------


def set_log_context(thread_id: str | None) -> contextvars.Token[str | None]:
    """Make ``thread_id`` the thread of every log from this context that names none.

    It is a :mod:`contextvars` variable: asyncio tasks created afterwards inherit it, and
    so do threads started with :func:`with_log_context` (a plain ``threading.Thread``
    starts with an empty context). Returns a token for ``_thread_id.reset``-style undo via
    :func:`log_context`.
    """
    if thread_id is not None:
        validate_thread_id(thread_id)
    return _thread_id.set(thread_id)


def get_log_context() -> str | None:
    """The thread id set by :func:`set_log_context` in this context, if any."""
    return _thread_id.get()


@contextlib.contextmanager
def log_context(thread_id: str | None) -> Iterator[None]:
    """``with log_context("t1"): ...``: set the thread for the block, then restore it."""
    token = set_log_context(thread_id)
    try:
        yield
    finally:
        _thread_id.reset(token)


def with_log_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` to run in a copy of the caller's context (thread id included).

    ``threading.Thread(target=with_log_context(work)).start()`` gives the new thread the
    thread id of the code that created it. (``asyncio.to_thread`` copies the context by
    itself; ``ThreadPoolExecutor.submit`` and ``loop.run_in_executor`` do not.)
    """
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    return run


# -- the process's producer -------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Settings:
    server: str | None = None
    database_url: str | None = None
    policy: Policy = "drop"
    capacity: int = 100_000
    exit_timeout: float | None = None
    spool_dir: str | None = None
    spool_fsync: str | None = None


_lock = threading.Lock()
_settings = _Settings()
_shipper: Shipper | None = None
_journal: DiskSpool | None = None
_replayer: threading.Thread | None = None
_atexit_registered = False
_finalizer_registered = False
_exited = False

#: How long a replay of a dead producer's spool may go without progress before it is left for later.
REPLAY_STALL_TIMEOUT: Final = 30.0


def configure_producer(
    *,
    server: str | None = None,
    database_url: str | None = None,
    policy: Policy = "drop",
    capacity: int = 100_000,
    exit_timeout: float | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_fsync: str | None = None,
) -> None:
    """Set where and how this process ships logs (call it before logging, or to switch).

    ``server``/``database_url`` override ``LOGCTL_SERVER``/``DATABASE_URL``. ``policy``
    says what a full buffer (``capacity`` records) does: ``"drop"`` (the default: never
    block the app, count the drop) or ``"block"`` (wait for room). ``exit_timeout`` bounds
    the flush at interpreter exit (default ``$LOGCTL_EXIT_TIMEOUT`` or 5 s).
    ``spool_dir`` (default ``$LOGCTL_SPOOL_DIR``) turns on the disk spool, synced by
    ``spool_fsync``: ``"interval"`` or ``"always"`` (default ``$LOGCTL_SPOOL_FSYNC``, else
    ``"interval"``). A producer already running is flushed (up to its exit timeout) and
    replaced.
    """
    global _settings, _shipper, _journal
    choose_route(server, database_url, fallback="embedded")  # fail now on bad settings
    SpoolLimits(capacity=capacity, policy=policy)
    spool_settings(spool_dir, fsync=spool_fsync)
    timeout = _exit_timeout()
    with _lock:
        _settings = _Settings(server, database_url, policy, capacity, exit_timeout,
                              os.fspath(spool_dir) if spool_dir is not None else None, spool_fsync)
        old, _shipper = _shipper, None
        journal, _journal = _journal, None
    if old is not None:
        _finish(old, timeout, journal)


def _exit_timeout() -> float:
    if _settings.exit_timeout is not None:
        return _settings.exit_timeout
    raw = os.environ.get("LOGCTL_EXIT_TIMEOUT")
    if not raw:
        return DEFAULT_EXIT_TIMEOUT
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ConfigError(f"LOGCTL_EXIT_TIMEOUT must be a number of seconds, not {raw!r}") from None


def _producer() -> Shipper:
    shipper = _shipper
    if shipper is not None:
        return shipper
    return _start_producer()


def _start_producer() -> Shipper:
    global _shipper, _journal, _replayer, _atexit_registered
    with _lock:
        if _shipper is not None:
            return _shipper
        s = _settings
        route = choose_route(s.server, s.database_url, fallback="embedded")
        if route.reason == "default":
            logger.warning("logctl: neither LOGCTL_SERVER nor DATABASE_URL is set; logs go to %s", route.describe())
        limits = SpoolLimits(capacity=s.capacity, policy=s.policy)
        producer_id = uuid.uuid4().hex
        transport = route.transport(producer_id)
        spool = spool_settings(s.spool_dir, fsync=s.spool_fsync)
        journal = DiskSpool(spool, producer_id) if spool is not None else None
        shipper = Shipper(transport, limits, name="logctl-producer", journal=journal).start()
        _shipper, _journal = shipper, journal
        if spool is not None:
            _replayer = threading.Thread(target=_replay_orphans, args=(spool.directory, route, producer_id),
                                         name="logctl-replay", daemon=True)
            _replayer.start()
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
        _register_finalizer()
        return shipper


def _register_finalizer() -> None:
    """Flush at the exit of a ``multiprocessing`` (or Celery's ``billiard``) child too.

    Such a child ends with ``os._exit``, which skips ``atexit``; before that it runs the
    finalizers of ``multiprocessing.util``, registered in the child itself (the parent's
    are cleared when the child starts).
    """
    global _finalizer_registered
    if _finalizer_registered:
        return
    for name in ("multiprocessing.util", "billiard.util"):
        util = sys.modules.get(name)
        if util is not None:
            util.Finalize(None, _at_exit, exitpriority=-10)
            _finalizer_registered = True


def _replay_orphans(directory: Path, route: Route, producer_id: str) -> None:
    """Ship what dead producers left in the spool directory (on the ``logctl-replay`` thread).

    Everything it needs is imported at module level: a child forked while this thread
    imported a module would inherit that module's import lock, held for ever.
    """
    try:
        result = replay_directory(directory, route, timeout=REPLAY_STALL_TIMEOUT, skip={producer_id})
    except Exception:  # a replay that fails leaves the files for the next process
        logger.exception("logctl: replaying the spool in %s failed", directory)
        return
    if result.producers:
        logger.info("logctl: replayed %s records of %s stopped producers from %s (%s left)",
                    result.committed, result.producers, directory, result.left)


def _finish(shipper: Shipper, timeout: float, journal: DiskSpool | None = None) -> int:
    """Flush and stop ``shipper``; say on stderr (via logging) what could not be delivered."""
    left = shipper.close(timeout)
    if journal is not None:
        journal.close()  # what is left stays on disk for a later replay
    stats = shipper.stats()
    if left:
        logger.warning("logctl: %s %s not delivered to %s within %ss%s", plural(left, "log record"),
                       "was" if left == 1 else "were", stats.target, timeout,
                       f" ({stats.last_error})" if stats.last_error else "")
    if stats.dropped:
        logger.warning("logctl: %s %s dropped because the buffer was full", plural(stats.dropped, "log record"),
                       "was" if stats.dropped == 1 else "were")
    return left


def _at_exit() -> None:
    """Flush at exit, once (it runs from ``atexit`` and from ``multiprocessing``'s finalizers)."""
    global _exited
    with _lock:
        if _exited:
            return
        _exited = True
        shipper, journal, replayer = _shipper, _journal, _replayer
    timeout = _exit_timeout()
    deadline = time.monotonic() + timeout
    if shipper is not None:
        _finish(shipper, timeout, journal)
    if replayer is not None:  # what it has not shipped stays on disk for the next process
        replayer.join(max(0.0, deadline - time.monotonic()))


def _after_fork_in_child() -> None:
    """A child gets a fresh producer (own id, own thread, own segments); the parent ships what it held."""
    global _lock, _shipper, _journal, _replayer, _finalizer_registered, _exited
    _lock = threading.Lock()
    _shipper, _journal, _replayer = None, None, None
    _finalizer_registered = _exited = False


os.register_at_fork(after_in_child=_after_fork_in_child)


def _route_for_stats() -> Route | None:
    try:
        return choose_route(_settings.server, _settings.database_url, fallback="embedded")
    except ConfigError:
        return None


def producer_stats() -> ProducerStats:
    """Counters of this process's producer: accepted, committed, pending, dropped, …"""
    shipper = _shipper
    if shipper is not None:
        return shipper.stats()
    route = _route_for_stats()
    return ProducerStats(route.describe() if route else "nowhere (bad settings)", 0, 0, 0, 0, 0, 0, 0, None)


def flush_logs(timeout: float = DEFAULT_EXIT_TIMEOUT) -> int:
    """Wait up to ``timeout`` seconds until every log so far is committed; return how many are not."""
    shipper = _shipper
    return shipper.flush(timeout) if shipper is not None else 0


# -- logging calls ----------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def ship(record: LogRecord) -> bool:
    """Put a finished record in the process's spool; False if it was dropped."""
    return _producer().put(record, record_size(record))


def emit_log(msg: str, thread_id: str | None = None, level: str = "INFO") -> None:
    """Log ``msg`` to ``thread_id`` (default: the context's), from any thread.

    Returns at once: the record is shipped in the background. Raises
    :class:`~logctl.errors.InvalidRecord` only for the caller's mistakes (no thread id,
    a bad thread id, an unknown level, a message that is not a str), never because the
    hub or the database is down. With the ``"block"`` policy and a full buffer it waits
    for room.
    """
    record = draft_record(msg, thread_id if thread_id is not None else _thread_id.get(), level, _now())
    _producer().put(record, record_size(record))


async def publish_log(msg: str, thread_id: str | None = None, level: str = "INFO") -> None:
    """The ``async`` form of :func:`emit_log`; never blocks the event loop.

    With the ``"block"`` policy and a full buffer it awaits room in a worker thread.
    """
    record = draft_record(msg, thread_id if thread_id is not None else _thread_id.get(), level, _now())
    shipper, size = _producer(), record_size(record)
    if shipper.try_put(record, size) is None:
        import asyncio

        await asyncio.to_thread(shipper.put, record, size)
