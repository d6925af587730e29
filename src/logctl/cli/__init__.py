"""The ``logctl`` command line: thin commands over the library.

Each command turns its options into settings and makes one library call. The commands live
in one module per area (``database``, ``hub``, ``producers``, ``tail``, ``threads``, ``tokens``), all on the
one Typer ``app`` of :mod:`logctl.cli.app`, whose :func:`main` turns every
:class:`~logctl.errors.LogctlError` into one line on stderr and an exit code. What only the
CLI prints is made in ``render`` and ``render_spool``.
"""

from logctl.cli.app import app, main

# Importing the command modules registers their commands, in the order --help lists them.
from logctl.cli import database, hub, producers, tail, threads, tokens  # noqa: E402,F401  isort: skip

__all__ = ["app", "main"]
