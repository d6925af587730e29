"""The storage layer: everything that talks to PostgreSQL, and the only place that imports psycopg.

- :mod:`~logctl.store.connect`: connections, driver-error translation, password scrubbing.
- :mod:`~logctl.store.logs`: :class:`LogStore`, the pool: inserts, history pages, the live feed query.
- :mod:`~logctl.store.listen`: the LISTEN thread that wakes the hub's feed on NOTIFY.
- :mod:`~logctl.store.migrate`: versioned migrations from the package's ``sql/`` directory.
- :mod:`~logctl.store.prune`: carrying out a :class:`~logctl.core.prune_plan.PrunePlan`.
- :mod:`~logctl.store.embedded`: the zero-configuration embedded PostgreSQL server.
"""

from __future__ import annotations

from logctl.store.logs import LogStore

__all__ = ["LogStore"]
