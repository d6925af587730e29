"""``LogctlHandler``: ship the standard library's ``logging`` records to logctl."""

from __future__ import annotations

import datetime as dt
import logging

from logctl.client.shipper import on_shipper_thread
from logctl.core.drafting import draft_record
from logctl.producer import get_log_context, ship

__all__ = ["LogctlHandler", "level_for"]


def level_for(levelno: int) -> str:
    """logctl's level for a ``logging`` level number: CRITICAL and ERROR→ERROR,
    WARNING→WARN, INFO→INFO, anything lower→DEBUG (custom levels fall in between)."""
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    if levelno >= logging.INFO:
        return "INFO"
    return "DEBUG"


class LogctlHandler(logging.Handler):
    """A :class:`logging.Handler` that ships each record through the process's producer.

    The thread id is ``extra={"thread_id": ...}``, else the context's
    (:func:`~logctl.set_log_context`), else ``thread_id`` given here; a record with none
    of them is not shipped. The message is the handler's formatter's output (by default
    the message, then the traceback of ``exc_info``/``stack_info``, as one multi-line
    record). Records of logctl's own loggers (``logctl.*``) and records made on a
    shipper's thread are skipped, so shipping can never feed itself.
    """

    def __init__(self, level: int | str = logging.NOTSET, *, thread_id: str | None = None) -> None:
        super().__init__(level)
        self.thread_id = thread_id

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        if name == "logctl" or name.startswith("logctl.") or on_shipper_thread():
            return
        thread_id = getattr(record, "thread_id", None) or get_log_context() or self.thread_id
        if thread_id is None:
            return
        try:
            created = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
            ship(draft_record(self.format(record), thread_id, level_for(record.levelno), created))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
