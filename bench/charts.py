"""One PNG per scenario from the measures (matplotlib, the optional ``bench`` extra)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import Measure


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def draw(measures: Sequence[Measure], out: Path, subtitle: str) -> list[Path]:
    """Draw every scenario that has measures; return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[str, list[Measure]] = defaultdict(list)
    for m in measures:
        by[m.scenario].append(m)
    written = []
    for scenario, ms in by.items():
        painter = PAINTERS.get(scenario)
        if painter is None:
            continue
        fig = painter(plt, ms)
        fig.text(0.99, 0.005, subtitle, ha="right", va="bottom", fontsize=7, color="#666")
        path = out / f"{scenario}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _bars(ax: Any, names: list[str], values: list[float], colors: list[str], fmt: str = "{:,.0f}") -> None:
    bars = ax.bar(names, values, color=colors)
    for bar, v in zip(bars, values):
        ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)


def ingest(plt: Any, ms: list[Measure]) -> Any:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = {"seed-1": "#c44", "seed-16": "#e88", "copy": "#888", "hub": "#27c", "hubs-2": "#6ad"}
    names = [m.name for m in ms]
    _bars(ax, names, [m.median for m in ms], [colors.get(n, "#27c") for n in names])
    ax.set_yscale("log")
    ax.set_ylabel("records/s committed (log scale)")
    hub = next((m for m in ms if m.name == "hub"), None)
    title = "Ingest end to end: producers → serve → COMMIT → ack"
    if hub and hub.ratios:
        title += f"\nhub = {hub.ratios['seed']:.0f}× the original design, {hub.ratios['copy']:.2f}× raw COPY"
    ax.set_title(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def producers(plt: Any, ms: list[Measure]) -> Any:
    levels = sorted({m.params["rate_each"] for m in ms}, reverse=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    a, b = axes
    n = ms[0].params["producers"] if ms else "?"
    width = 0.8 / max(1, len(levels))
    for i, level in enumerate(levels):
        group = [m for m in ms if m.params["rate_each"] == level]
        offered = n * level if isinstance(n, int) else 0
        rates = {m.name: m.median for m in group if m.unit == "records/s"}
        xs = [j + i * width for j in range(3)]
        vals = [offered, rates.get("hub committed", 0), rates.get("seed committed", 0)]
        bars = a.bar(xs, vals, width, label=f"{level:,}/s each")
        for bar, v in zip(bars, vals):
            a.annotate(f"{v:,.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
        lat = {m.name: m.median for m in group if m.unit == "ms"}
        vals = [lat.get("hub ack p50", 0), lat.get("hub ack p99", 0), lat.get("seed p99", 0)]
        bars = b.bar(xs, vals, width, label=f"{level:,}/s each")
        for bar, v in zip(bars, vals):
            b.annotate(f"{v:,.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
    mid = width * (len(levels) - 1) / 2
    a.set_xticks([j + mid for j in range(3)])
    a.set_xticklabels(["offered", "hub", "original design"])
    a.set_ylabel("records/s committed")
    a.set_title("committed rate", fontsize=10)
    a.legend(fontsize=8)
    b.set_xticks([j + mid for j in range(3)])
    b.set_xticklabels(["hub ack p50", "hub ack p99", "original: INSERT p99"])
    b.set_yscale("log")
    b.set_ylabel("ms (log scale)")
    b.set_title("hub: send → ack (queueing included)\noriginal: one INSERT (it falls behind instead)", fontsize=9)
    b.legend(fontsize=8)
    fig.suptitle(f"Many producers: {n} processes, paced", fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _lines(ax: Any, ms: list[Measure], key: str = "rows") -> None:
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for m in ms:
        series[m.name].append((m.params[key], m.median))
    for name, points in sorted(series.items()):
        points.sort()
        style = "--" if "p99" in name else "-"
        ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=name)
    ax.set_xscale("log")


LAYOUT_COLORS = {"plain": "#555", "daily": "#27c", "weekly": "#2a7"}


def _by_layout(ax: Any, ms: list[Measure], suffixes: dict[str, str]) -> None:
    """One line per (layout, figure): colour by layout, line style by figure (``suffixes``: name suffix → style)."""
    series: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for m in ms:
        layout = m.params.get("layout", "plain")
        for suffix in suffixes:
            if m.name == f"{layout} {suffix}":
                series[(layout, suffix)].append((m.params["rows"], m.median))
    for (layout, suffix), points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], suffixes[suffix], marker="o",
                color=LAYOUT_COLORS.get(layout, "#888"), label=f"{layout} {suffix}")
    ax.set_xscale("log")
    ax.set_xlabel("rows in thread_logs (10,000 threads)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)


def _target(ax: Any, value: float, text: str) -> None:
    ax.axhline(value, color="#c44", lw=0.8, ls=":")
    ax.annotate(text, (0.99, value), xycoords=("axes fraction", "data"), fontsize=7, color="#c44", va="bottom", ha="right")


def history(plt: Any, ms: list[Measure]) -> Any:
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.6))
    _by_layout(a, ms, {"probe p50": "-", "probe p99": "--"})
    _target(a, 10, "target p50 10 ms")
    a.set_ylabel("ms")
    a.set_title("GET …/logs?limit=1000 of a probe thread (a full 1,000-row page)", fontsize=9)
    _by_layout(b, ms, {"store p50": "-", "thread p50": ":", "probe CPU": "-."})
    _target(b, 10, "10 ms")
    b.set_ylabel("ms")
    b.set_title("store p50: LogStore.history_json of the probe page, no HTTP; probe CPU: hub + PostgreSQL\nCPU per probe request; thread p50: a random thread (pages grow with the table)", fontsize=8)
    fig.suptitle("History latency against table size", fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def runs(plt: Any, ms: list[Measure]) -> Any:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    _by_layout(ax, ms, {"runs p50": "-", "runs p99": "--"})
    _target(ax, 50, "target p50 50 ms")
    ax.set_ylabel("ms")
    ax.set_title("The list of threads: GET /admin/runs (first page)", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def retention(plt: Any, ms: list[Measure]) -> Any:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.5))
    prune = [m for m in ms if "prune" in m.name]
    during = [m for m in ms if "during" in m.name]
    layouts = sorted({m.params["layout"] for m in prune})
    sizes = sorted({m.params["rows"] for m in prune})
    width = 0.8 / max(1, len(layouts))
    for i, layout in enumerate(layouts):
        xs = [j + i * width for j in range(len(sizes))]
        val = {m.params["rows"]: m.median for m in prune if m.params["layout"] == layout}
        a.bar(xs, [val.get(s, 0) for s in sizes], width, label=layout, color=LAYOUT_COLORS.get(layout))
        pct = {m.params["rows"]: 100 * m.ratios.get("before", float("nan")) for m in during if m.params["layout"] == layout}
        b.bar(xs, [pct.get(s, 0) for s in sizes], width, label=layout, color=LAYOUT_COLORS.get(layout))
    for ax in (a, b):
        ax.set_xticks([j + width * (len(layouts) - 1) / 2 for j in range(len(sizes))])
        ax.set_xticklabels([f"{s:,}" for s in sizes])
        ax.set_xlabel("rows before the prune")
        ax.legend(fontsize=8)
    a.set_ylabel("seconds")
    a.set_title("prune --days 30: time", fontsize=10)
    b.axhline(90, color="#c44", lw=0.8, ls=":")
    b.set_ylabel("% of the ingest rate without a prune")
    b.set_title("hub ingest during the prune (target 90 % for partitioned)", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def live(plt: Any, ms: list[Measure]) -> Any:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.5))
    by_rate = [m for m in ms if m.params["subscribers"] == 1]
    fan = [m for m in ms if m.params["threads"] == m.params["subscribers"] and m.params["rate"] == max(
        x.params["rate"] for x in ms if x.params["subscribers"] > 1)] if any(x.params["subscribers"] > 1 for x in ms) else []
    fan_rate = fan[0].params["rate"] if fan else 0
    fan = fan + [m for m in by_rate if m.params["rate"] == fan_rate]
    for ax, group, key, xlabel in ((a, by_rate, "rate", "records/s (one subscriber)"),
                                   (b, fan, "subscribers", f"subscribers, one thread each, {fan_rate:,} records/s in all")):
        _lines(ax, group, key)
        _target(ax, 50, "50 ms")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ms, publish → received (log scale)")
        if ax.lines[1:]:  # beyond the target line
            ax.legend(fontsize=8)
    one = [m for m in ms if m.params["threads"] == 1 and m.params["subscribers"] > 1]
    title = "Live latency (committed records; target p99 < 50 ms at 5k/s)"
    if one:
        p99 = next((m for m in one if m.name == "p99"), one[0])
        title += f"\n{p99.params['subscribers']} subscribers of one thread at {p99.params['rate']:,}/s: p99 {p99.median:.1f} ms"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def tail(plt: Any, ms: list[Measure]) -> Any:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    screens = [m for m in ms if m.unit == "ms"]
    _bars(ax, [m.name.replace("first screen", "").strip() or m.name for m in screens], [m.median for m in screens],
          ["#c44" if "naive" in m.name else "#27c" for m in screens], "{:,.0f}")
    ax.set_yscale("log")
    ax.set_ylabel("ms to the first screen (log scale)")
    rest = [m for m in ms if m.unit != "ms"]
    records = screens[0].params.get("records", 0) if screens else 0
    extra = "; ".join(f"{m.name}: {m.median:,.0f} {m.unit} ({m.params.get('records', 0):,} records)" for m in rest)
    ax.set_title(f"logctl tail on a thread of {records:,} records\n{extra}", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


PAINTERS = {"ingest": ingest, "producers": producers, "history": history, "runs": runs,
            "retention": retention, "live": live, "tail": tail}
