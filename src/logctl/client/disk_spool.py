"""The disk spool's files: a live producer's segments under its lock, and a directory's owners.

A producer with a spool directory holds ``<producer_id>.lock`` (``fcntl.flock``) for its
life and appends each record to ``<producer_id>.<n>.seg`` before the logging call returns
(format: :mod:`logctl.core.segments`). Under the ``"interval"`` policy a background thread
calls ``fdatasync`` every ``interval`` seconds while there is unsynced data; under
``"always"`` every append is synced before it returns. A lock that can be taken belongs
to a process that is gone: its segments are an *orphan's*, for
:mod:`logctl.client.replay`. See docs/producers.md, "The disk spool".
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

from logctl.core.records import LogRecord
from logctl.core.segments import Decoded, SegmentLedger, decode, encode_header, encode_record, parse_segment_name, segment_name
from logctl.errors import ConfigError

__all__ = [
    "DiskSpool", "FsyncPolicy", "SpoolSettings", "claim", "lock_path", "read_segments", "release", "segment_paths",
    "spool_settings",
]

logger = logging.getLogger("logctl.client.disk_spool")

FsyncPolicy = Literal["interval", "always"]
FSYNC_POLICIES: Final = ("interval", "always")
DEFAULT_INTERVAL: Final = 0.2
DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
SEGMENT_BYTES: Final = 4 * 1024 * 1024

_LIVE: weakref.WeakSet[DiskSpool] = weakref.WeakSet()
#: Lock descriptors of stopped producers taken by :func:`claim` and not yet released.
_CLAIMED: set[int] = set()


@dataclasses.dataclass(frozen=True, slots=True)
class SpoolSettings:
    """Where the disk spool lives, how often it syncs, and how much it may hold."""

    directory: Path
    fsync: FsyncPolicy = "interval"
    interval: float = DEFAULT_INTERVAL
    max_bytes: int = DEFAULT_MAX_BYTES
    segment_bytes: int = SEGMENT_BYTES

    def __post_init__(self) -> None:
        if self.fsync not in FSYNC_POLICIES:
            raise ConfigError(f"spool fsync policy {self.fsync!r} is not one of {', '.join(FSYNC_POLICIES)}")
        if not self.interval > 0:
            raise ConfigError(f"spool fsync interval must be a positive number of seconds, not {self.interval!r}")
        if self.max_bytes < 1 or self.segment_bytes < 1:
            raise ConfigError("spool sizes must be positive")


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def spool_settings(
    directory: str | os.PathLike[str] | None = None,
    *,
    fsync: str | None = None,
    interval: float | None = None,
    max_bytes: int | None = None,
) -> SpoolSettings | None:
    """The spool settings from arguments, else ``LOGCTL_SPOOL_DIR``, ``LOGCTL_SPOOL_FSYNC``,
    ``LOGCTL_SPOOL_FSYNC_INTERVAL`` and ``LOGCTL_SPOOL_MAX_BYTES``; None when no directory is set."""
    where = directory if directory is not None else os.environ.get("LOGCTL_SPOOL_DIR") or None
    if where is None:
        return None
    policy = fsync or os.environ.get("LOGCTL_SPOOL_FSYNC") or "interval"
    if policy not in FSYNC_POLICIES:
        raise ConfigError(f"LOGCTL_SPOOL_FSYNC must be one of {', '.join(FSYNC_POLICIES)}, not {policy!r}")
    return SpoolSettings(
        Path(where).expanduser(),
        policy,  # type: ignore[arg-type]
        interval if interval is not None else _env_number("LOGCTL_SPOOL_FSYNC_INTERVAL", DEFAULT_INTERVAL),
        max_bytes if max_bytes is not None else int(_env_number("LOGCTL_SPOOL_MAX_BYTES", DEFAULT_MAX_BYTES)),
    )


def lock_path(directory: Path, producer_id: str) -> Path:
    return directory / f"{producer_id}.lock"


def claim(directory: Path, producer_id: str) -> int | None:
    """Take ``producer_id``'s lock if its owner is gone; the locked fd, or None while the owner lives."""
    fd = os.open(lock_path(directory, producer_id), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    _CLAIMED.add(fd)
    return fd


def release(fd: int) -> None:
    """Give back a lock taken by :func:`claim`."""
    _CLAIMED.discard(fd)
    os.close(fd)


def segment_paths(directory: Path) -> dict[str, list[Path]]:
    """Each producer's segment files in the directory, in the order they were written."""
    found: dict[str, list[tuple[int, Path]]] = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return {}
    for entry in entries:
        parsed = parse_segment_name(entry.name)
        if parsed is not None:
            found.setdefault(parsed[0], []).append((parsed[1], Path(entry.path)))
    return {pid: [p for _, p in sorted(paths)] for pid, paths in sorted(found.items())}


def read_segments(paths: Sequence[Path]) -> list[Decoded]:
    """The decoded contents of segment files (a file gone meanwhile counts as empty)."""
    out = []
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        out.append(decode(data))
    return out


def _sync_directory(directory: Path) -> None:
    """fsync a directory, so that the names created in it survive a crash of the machine."""
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class DiskSpool:
    """A live producer's segments: append before returning, sync by policy, delete once acknowledged.

    Thread-safe. A failing disk (full, read-only) is said once on the
    ``logctl.client.disk_spool`` logger; from then on records are kept in memory only.
    """

    def __init__(self, settings: SpoolSettings, producer_id: str) -> None:
        self.settings = settings
        self.producer_id = producer_id
        self.directory = settings.directory
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = claim(self.directory, producer_id)
        if fd is None:
            raise ConfigError(f"the spool lock {lock_path(self.directory, producer_id)} is held by another process")
        _CLAIMED.discard(fd)  # our own lock: kept for life, and closed in a forked child by _forget_in_child
        self._lock_fd: int | None = fd
        self._header = encode_header(producer_id)
        self._ledger = SegmentLedger(len(self._header), segment_bytes=settings.segment_bytes, max_bytes=settings.max_bytes)
        self._always = settings.fsync == "always"
        self._fd: int | None = None
        self._index: int | None = None
        self._mutex = threading.Lock()
        self._dirty = threading.Condition(self._mutex)
        self._unsynced = False
        self._to_sync: list[int] = []  # closed segments' descriptors (-1: the directory) for the syncer
        self._closed = False
        self.broken: str | None = None
        self._syncer: threading.Thread | None = None
        _LIVE.add(self)

    # -- called under the shipper's lock, in seq order --------------------------------

    def has_room(self, size: int) -> bool:
        """Whether about ``size`` more bytes fit under the cap."""
        return self.broken is not None or self._ledger.has_room(size)

    def append(self, seq: int, record: LogRecord) -> None:
        """Write one record to the current segment (and sync it under ``"always"``)."""
        self._write(seq, 1, encode_record(seq, record))

    def append_many(self, first_seq: int, records: Sequence[LogRecord]) -> None:
        """Write consecutive records in one write."""
        data = b"".join([encode_record(seq, r) for seq, r in enumerate(records, first_seq)])
        self._write(first_seq, len(records), data)

    def _write(self, first_seq: int, count: int, data: bytes) -> None:
        with self._mutex:
            if self.broken is not None or self._closed:
                return
            try:
                closed, index = self._ledger.append(first_seq, count, len(data))
                if closed is not None or self._fd is None:
                    self._open_segment(index)
                assert self._fd is not None
                _write_all(self._fd, data)
                if self._always:
                    os.fdatasync(self._fd)
                elif not self._unsynced:
                    self._unsynced = True
                    self._start_syncer()
                    self._dirty.notify()
            except OSError as exc:
                self._break(exc)

    def ack(self, upto: int) -> None:
        """Every record with ``seq <= upto`` is committed: delete or truncate the segments that hold only such."""
        with self._mutex:
            if self.broken is not None or self._closed:
                return
            delete, truncate = self._ledger.ack(upto)
            try:
                for index in delete:
                    os.unlink(self.directory / segment_name(self.producer_id, index))
                if truncate and self._fd is not None:
                    os.ftruncate(self._fd, len(self._header))
            except OSError as exc:
                self._break(exc)

    # -- files -----------------------------------------------------------------------

    def _open_segment(self, index: int) -> None:
        """Start segment ``index``. Under ``"always"`` the previous one, the new one's header
        and its name in the directory are synced now; under ``"interval"`` by the syncer."""
        if self._fd is not None:
            if self._always:
                os.fdatasync(self._fd)
                os.close(self._fd)
            else:
                self._to_sync.append(self._fd)  # synced and closed by the syncer
            self._fd = None
        path = self.directory / segment_name(self.producer_id, index)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._fd, self._index = fd, index
        _write_all(fd, self._header)
        if self._always:
            os.fdatasync(fd)
            _sync_directory(self.directory)
        else:
            self._to_sync.append(-1)  # -1: the directory

    def _sync_pending(self, fds: list[int]) -> None:
        for fd in fds:
            try:
                if fd == -1:
                    _sync_directory(self.directory)
                else:
                    os.fdatasync(fd)
            except OSError as exc:
                logger.warning("logctl: syncing the disk spool %s failed: %s", self.directory, exc)
            finally:
                if fd != -1:
                    os.close(fd)

    def _break(self, exc: OSError) -> None:
        self.broken = f"{type(exc).__name__}: {exc}"
        logger.warning("logctl: the disk spool in %s failed (%s); keeping records in memory only",
                       self.directory, self.broken)

    def _start_syncer(self) -> None:
        if self._syncer is None:
            self._syncer = threading.Thread(target=self._sync_loop, name="logctl-spool-sync", daemon=True)
            self._syncer.start()

    def _sync_loop(self) -> None:
        interval = self.settings.interval
        while True:
            with self._mutex:
                while not self._unsynced and not self._closed:
                    self._dirty.wait()
                if self._closed:
                    return
                self._dirty.wait(interval)  # gather an interval's appends (close() cuts it short)
                self._unsynced = False
                fds, self._to_sync = self._to_sync, []
                if self._fd is not None and self.broken is None:
                    try:
                        fds.append(os.dup(self._fd))
                    except OSError as exc:  # e.g. EMFILE: try again next round
                        self._unsynced = True
                        logger.warning("logctl: syncing the disk spool %s failed: %s", self.directory, exc)
            self._sync_pending(fds)  # outside the lock: appends go on meanwhile

    def close(self) -> None:
        """Sync, close, and remove the files if nothing unacknowledged is left; then free the lock."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._dirty.notify_all()
            empty = self._ledger.nbytes <= len(self._header) * self._ledger.segments
            fds, self._to_sync = self._to_sync, []
            self._sync_pending(fds)
            try:
                if self._fd is not None:
                    os.fdatasync(self._fd)
                    os.close(self._fd)
                    self._fd = None
                if empty and self.broken is None:
                    for path in segment_paths(self.directory).get(self.producer_id, []):
                        path.unlink(missing_ok=True)
                    lock_path(self.directory, self.producer_id).unlink(missing_ok=True)
            except OSError as exc:
                logger.warning("logctl: closing the disk spool in %s failed: %s", self.directory, exc)
            finally:
                if self._lock_fd is not None:
                    os.close(self._lock_fd)  # frees the lock: a later process may replay what is left
                    self._lock_fd = None

    def _forget_in_child(self) -> None:
        """In a forked child: close the inherited descriptors without unlocking or deleting (the parent's)."""
        self._closed = True
        self._mutex = threading.Lock()
        self._dirty = threading.Condition(self._mutex)
        for fd in (self._fd, self._lock_fd, *(f for f in self._to_sync if f != -1)):
            if fd is not None:
                os.close(fd)  # the parent's descriptor keeps the flock
        self._fd = self._lock_fd = None
        self._to_sync = []


def _after_fork_in_child() -> None:
    for spool in list(_LIVE):
        spool._forget_in_child()
    _LIVE.clear()
    for fd in _CLAIMED:  # a replay of the parent's: the child must not keep that producer locked
        os.close(fd)
    _CLAIMED.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
