"""What the thread summary's triggers (migration 005) cost the hub's write path, side by side.

Run:  .venv/bin/python bench/bench_runs_ingest.py [--records 200000] [--database-url URL]

Two schemas on the same server, both fully migrated; in one the summary triggers are dropped.
The hub's write path (LogStore.insert_rows: one binary COPY per batch of 1,000 rows, spread over
``--threads`` threads) writes alternately to each, batch by batch, so that the noise of a shared
machine falls on both alike. Prints the median batch time of each and their ratio.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import arguments, schema  # noqa: E402

from logctl.store import LogStore  # noqa: E402

_DROP = """
DROP TRIGGER thread_logs_summary_insert ON thread_logs;
DROP TRIGGER thread_logs_summary_delete ON thread_logs;
DROP TRIGGER thread_logs_summary_update_1 ON thread_logs;
DROP TRIGGER thread_logs_summary_update_2 ON thread_logs;
DROP TRIGGER thread_logs_summary_truncate ON thread_logs;
"""


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--threads", type=int, default=10, help="threads per batch (one upsert each)")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    levels = ("DEBUG", "INFO", "INFO", "WARN", "ERROR")
    now = dt.datetime.now(dt.timezone.utc)
    rows = [(f"bench-{i % args.threads}", f"message {i}", levels[i % 5], now, None, None) for i in range(args.batch)]
    times: dict[str, list[float]] = {"with triggers": [], "without": []}
    with schema(args.database_url) as with_dsn, schema(args.database_url) as without_dsn:
        with LogStore(with_dsn, max_size=1) as with_store, LogStore(without_dsn, max_size=1) as without_store:
            with without_store.connection() as conn:
                conn.execute(_DROP)
            for _ in range(max(1, args.records // args.batch)):
                for name, store in (("with triggers", with_store), ("without", without_store)):
                    start = time.perf_counter()
                    store.insert_rows(rows)
                    times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name:>14}: median {statistics.median(values) * 1000:.2f} ms per {args.batch} rows"
              f" ({args.batch / statistics.median(values):,.0f} rows/s) over {len(values)} batches")
    ratio = statistics.median(times["with triggers"]) / statistics.median(times["without"])
    print(f"cost of the summary: {100 * (ratio - 1):+.1f} % per batch ({args.threads} threads per batch; target <= 5 %)")


if __name__ == "__main__":
    main()
