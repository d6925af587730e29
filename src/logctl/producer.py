"""The Python producer API: ``set_log_context``, ``emit_log``, ``publish_log`` and friends.

One producer per process, created on the first log call: a producer id (a fresh uuid4),
a bounded spool and one background thread that ships to the hub (``LOGCTL_SERVER``) or
straight to PostgreSQL (``DATABASE_URL``; with neither, the embedded server). Logging
calls only put a record in the spool; they never wait for the network or the database
and never raise because either is down. At interpreter exit the spool is flushed for up
to ``exit_timeout`` seconds. See docs/producers.md.
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
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Final, ParamSpec, TypeVar

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


_lock = threading.Lock()
_settings = _Settings()
_shipper: Shipper | None = None
_atexit_registered = False


def configure_producer(
    *,
    server: str | None = None,
    database_url: str | None = None,
    policy: Policy = "drop",
    capacity: int = 100_000,
    exit_timeout: float | None = None,
) -> None:
    """Set where and how this process ships logs (call it before logging, or to switch).

    ``server``/``database_url`` override ``LOGCTL_SERVER``/``DATABASE_URL``. ``policy``
    says what a full buffer (``capacity`` records) does: ``"drop"`` (the default: never
    block the app, count the drop) or ``"block"`` (wait for room). ``exit_timeout`` bounds
    the flush at interpreter exit (default ``$LOGCTL_EXIT_TIMEOUT`` or 5 s). A producer
    already running is flushed (up to its exit timeout) and replaced.
    """
    global _settings, _shipper
    choose_route(server, database_url, fallback="embedded")  # fail now on bad settings
    SpoolLimits(capacity=capacity, policy=policy)
    timeout = _exit_timeout()
    with _lock:
        _settings = _Settings(server, database_url, policy, capacity, exit_timeout)
        old, _shipper = _shipper, None
    if old is not None:
        _finish(old, timeout)


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
    global _shipper, _atexit_registered
    with _lock:
        if _shipper is not None:
            return _shipper
        s = _settings
        route = choose_route(s.server, s.database_url, fallback="embedded")
        if route.reason == "default":
            logger.warning("logctl: neither LOGCTL_SERVER nor DATABASE_URL is set; logs go to %s", route.describe())
        limits = SpoolLimits(capacity=s.capacity, policy=s.policy)
        _shipper = Shipper(route.transport(uuid.uuid4().hex), limits, name="logctl-producer").start()
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
        return _shipper


def _finish(shipper: Shipper, timeout: float) -> int:
    """Flush and stop ``shipper``; say on stderr (via logging) what could not be delivered."""
    left = shipper.close(timeout)
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
    with _lock:
        shipper = _shipper
    if shipper is not None:
        _finish(shipper, _exit_timeout())


def _after_fork_in_child() -> None:
    """A child gets a fresh producer (own id, own thread); the parent ships what it held."""
    global _lock, _shipper
    _lock = threading.Lock()
    _shipper = None


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
