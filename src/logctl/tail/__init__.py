"""``logctl tail``: the terminal viewer and the plain/JSON printer over one hub client."""

from __future__ import annotations

import asyncio
import sys

from logctl.tail.settings import TailSettings, tail_settings

__all__ = ["TailSettings", "run_tail", "tail_settings"]


def run_tail(settings: TailSettings) -> None:
    """Show a thread: the Textual viewer on a terminal, plain lines otherwise (or with ``--plain``)."""
    if settings.plain or not sys.stdout.isatty() or not sys.stdin.isatty():
        from logctl.tail.plain import run_plain

        asyncio.run(run_plain(settings))
        return
    from logctl.tail.app import TailApp

    app = TailApp(settings)
    app.run()
    if app.error is not None:
        raise app.error
