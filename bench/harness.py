"""The harness's plumbing: its own database, schemas per layout, measurements, the table, JSON and charts.

Nothing here measures anything; the scenarios (``bench/scenario_*.py``) do, and hand back
:class:`Measure` values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

LAYOUTS = ("plain", "daily", "weekly")


@dataclasses.dataclass
class Measure:
    """One figure: a named variant of a scenario, its samples (one per repetition) and a unit.

    ``params`` says what was varied (size, layout, rate, subscribers...); ``higher_is_better``
    decides how ratios read; ``note`` is printed beside it.
    """

    scenario: str
    name: str
    unit: str
    samples: list[float]
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    higher_is_better: bool = True
    note: str = ""
    ratios: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def median(self) -> float:
        """The median of the samples that are numbers (a rep with nothing to measure gives NaN)."""
        values = [x for x in self.samples if x == x]
        return statistics.median(values) if values else float("nan")

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["median"] = self.median
        return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def load() -> str:
    """The machine's load averages now, as `uptime` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def log(message: str) -> None:
    print(f"[{dt.datetime.now(dt.timezone.utc):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


class Database:
    """The harness's own database on the server (created, and dropped at the end unless kept).

    Big tables never go into the shared ``test`` database: each scenario gets a schema of its
    own in this one, with logctl's migrations applied for the layout asked for.
    """

    def __init__(self, server: str, name: str) -> None:
        self.server = server
        self.name = name
        self.dsn = make_conninfo(server, dbname=name)
        self._partitioned: bool | None = None

    def create(self) -> None:
        with psycopg.connect(self.server, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def supports(self, layout: str) -> bool:
        """Whether this logctl can make ``layout`` (``apply-schema --partitioned`` exists)."""
        if layout == "plain":
            return True
        if self._partitioned is None:
            helptext = subprocess.run([sys.executable, "-m", "logctl", "apply-schema", "--help"],
                                      capture_output=True, text=True, env=_plain_env()).stdout
            self._partitioned = "--partitioned" in helptext
        return self._partitioned

    @contextmanager
    def schema(self, layout: str = "plain", *, keep: bool = False, prefix: str = "s", reuse: str | None = None) -> Iterator[str]:
        """A DSN whose search_path is a new schema with logctl's migrations for ``layout``; dropped afterwards.

        ``reuse``: an existing schema of this database (a table kept from an earlier run), used as
        it is and kept.
        """
        if reuse is not None:
            yield schema_dsn(self.dsn, reuse)
            return
        name = f"{prefix}_{layout}_{uuid.uuid4().hex[:6]}"
        log(f"schema {name} in database {self.name}")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        dsn = schema_dsn(self.dsn, name)
        try:
            apply_schema(dsn, layout)
            yield dsn
        finally:
            if not keep:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def schema_dsn(dsn: str, schema: str) -> str:
    return make_conninfo(dsn, options=f"-c search_path={schema}")


def schema_of(dsn: str) -> str:
    options = conninfo_to_dict(dsn).get("options") or ""
    return str(options).split("search_path=", 1)[1].split()[0]


def apply_schema(dsn: str, layout: str) -> None:
    args = [sys.executable, "-m", "logctl", "apply-schema", "--database-url", dsn]
    if layout != "plain":
        args += ["--partitioned", layout]
    result = subprocess.run(args, capture_output=True, text=True, env=_plain_env())
    if result.returncode != 0:
        raise RuntimeError(f"apply-schema ({layout}) failed: {result.stderr.strip()}")


def _plain_env() -> dict[str, str]:
    """The environment for logctl subprocesses: no DATABASE_URL of the caller's."""
    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory": mem, "python": platform.python_version(),
        "platform": platform.platform(), "disk_free": f"{shutil.disk_usage('/').free / 2**30:.0f} GiB",
    }


def server_version(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


# -- the table -------------------------------------------------------------------------------


def fmt(value: float, unit: str) -> str:
    if value != value:  # NaN
        return "-"
    if unit in ("records/s", "rows/s", "B", "MiB") or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def label(m: Measure) -> str:
    shown = {k: v for k, v in m.params.items() if not k.startswith("_")}
    return m.name + (" [" + ", ".join(f"{k}={_short(v)}" for k, v in shown.items()) + "]" if shown else "")


def _short(v: Any) -> str:
    if isinstance(v, int) and v >= 1000:
        for div, suffix in ((1_000_000, "M"), (1_000, "k")):
            if v % div == 0:
                return f"{v // div}{suffix}"
    return str(v)


def table(measures: Sequence[Measure]) -> str:
    """A plain-text table: scenario, variant, median, unit, repetitions, ratios, note."""
    lines = []
    header = f"{'scenario':<11} {'variant':<44} {'median':>12} {'unit':<10} {'n':>3}  ratios / note"
    lines.append(header)
    lines.append("-" * len(header))
    for m in measures:
        ratios = "  ".join(f"{v:.2f}x {k}" for k, v in m.ratios.items())
        extra = "  ".join(x for x in (ratios, m.note) if x)
        lines.append(f"{m.scenario:<11} {label(m):<44} {fmt(m.median, m.unit):>12} {m.unit:<10} {len(m.samples):>3}  {extra}")
    return "\n".join(lines)


def markdown_table(measures: Sequence[Measure]) -> str:
    rows = ["| scenario | variant | median | unit | n | ratios / note |", "|---|---|---:|---|---:|---|"]
    for m in measures:
        ratios = ", ".join(f"{v:.2f}× {k}" for k, v in m.ratios.items())
        extra = "; ".join(x for x in (ratios, m.note) if x)
        rows.append(f"| {m.scenario} | {label(m)} | {fmt(m.median, m.unit)} | {m.unit} | {len(m.samples)} | {extra} |")
    return "\n".join(rows)


def write_json(path: Path, measures: Sequence[Measure], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "measures": [m.to_json() for m in measures]}, indent=1, default=str) + "\n")


#: The scenarios of the result file that each harness scenario makes.
MAKES = {"tables": ("history", "runs", "retention", "load")}


def measure_of(data: dict[str, Any]) -> Measure:
    """A :class:`Measure` from its JSON (``median`` is derived, so dropped)."""
    fields = {f.name for f in dataclasses.fields(Measure)}
    return Measure(**{k: v for k, v in data.items() if k in fields})


def read_json(path: Path, replacing: Sequence[str]) -> tuple[list[Measure], dict[str, Any]]:
    """The measures (and per-scenario run meta) of ``path`` that a run of ``replacing`` leaves in place."""
    if not path.exists():
        return [], {}
    data = json.loads(path.read_text())
    gone = {made for s in replacing for made in MAKES.get(s, (s,))}
    kept = [measure_of(m) for m in data.get("measures", []) if m["scenario"] not in gone]
    runs = data.get("runs") or {s: data.get("meta", {}) for s in {m.scenario for m in kept}}
    runs = {s: meta for s, meta in runs.items() if s not in replacing}
    return kept, runs


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
