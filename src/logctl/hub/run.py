"""Starting the hub: database, migrations, the announcement line, the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from logctl.config import DatabaseTarget
from logctl.core.routes import bind_refusal
from logctl.errors import ConfigError, DatabaseError, SchemaOutdated
from logctl.hub.server import Hub, HubConfig, run_hub
from logctl.hub.tls import server_context
from logctl.store import LogStore
from logctl.store.connect import connect
from logctl.store.embedded import dsn_for
from logctl.store.layout import apply_layout
from logctl.store.migrate import apply_migrations, pending_migrations

__all__ = ["serve"]

logger = logging.getLogger("logctl.hub.run")

#: How often a hub on the partitioned layout makes sure the partitions ahead exist.
PARTITION_CHECK_SECONDS = 600.0


def prepare_schema(dsn: str, *, migrate: bool) -> None:
    """Apply pending migrations (under the advisory lock), or refuse an out-of-date schema."""
    with connect(dsn) as conn:
        if migrate:
            apply_migrations(conn)
            pending = []
        else:
            pending = pending_migrations(conn)
        if not pending:
            try:  # partitions ahead, on the partitioned layout (under its advisory lock)
                apply_layout(conn, None)
            except DatabaseError as exc:
                logger.warning("could not create the partitions ahead: %s", exc)
    if pending:
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in pending)
        raise SchemaOutdated(f"the schema lacks migration(s) {names}: run `logctl apply-schema` first")


def serve(
    target: DatabaseTarget,
    config: HubConfig,
    *,
    announce: Callable[[str], None],
    migrate: bool = True,
    demo: bool = False,
) -> bool:
    """Run the hub until SIGINT/SIGTERM. Return whether every accepted record was written.

    ``announce`` gets one line, once the hub listens: its URLs and its database.
    """
    refusal = bind_refusal(config.host, has_tokens=config.tokens_file is not None, insecure_no_auth=config.insecure_no_auth)
    if refusal is not None:  # before starting any database
        raise ConfigError(refusal)
    server_context(config.certfile, config.keyfile)  # an unusable certificate or key: one line, before the database too
    dsn = dsn_for(target)
    prepare_schema(dsn, migrate=migrate)

    def listening(host: str, port: int) -> None:
        base = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        ws, http = ("wss", "https") if config.secure else ("ws", "http")
        announce(
            f"logctl hub: {ws}://{base}/ws  web: {http}://{base}/  history: {http}://{base}/admin/runs/<thread_id>/logs"
            f"  database: {target.describe()}" + ("  (demo threads: demo-build, demo-etl, demo-agent)" if demo else "")
        )

    async def main() -> bool:
        with LogStore(dsn, min_size=2, max_size=10, name="logctl-hub") as store:

            async def extra(hub: Hub) -> None:
                side: list[Awaitable[None]] = [keep_partitions(store)]
                if demo:
                    from logctl.hub.demo import run_demo

                    side.append(run_demo(hub))
                await asyncio.gather(*side)

            return await run_hub(store, config, announce=listening, extra=extra)

    return asyncio.run(main())


async def keep_partitions(store: LogStore, interval: float = PARTITION_CHECK_SECONDS) -> None:
    """Every ``interval`` seconds, create the partitions ahead (a no-op on the plain layout)."""
    while True:
        await asyncio.sleep(interval)
        try:
            made = await asyncio.to_thread(store.maintain_partitions)
        except DatabaseError as exc:
            logger.warning("could not create the partitions ahead: %s", exc)
            continue
        for part in made:
            logger.info("created partition %s", part.describe())
