"""How fast the web thread page (/runs/{thread_id}) opens a big thread, follows a fast one, and what it holds.

Run:  .venv/bin/python bench/bench_web_thread.py [--records 100000] [--database-url URL] [--seconds 8]
      [--parts first,follow,memory] [--skip-naive]

Drives Debian's Chromium (headless, through Playwright) against a real ``logctl serve`` over a
real PostgreSQL, side by side with the naive design: a page that puts one DOM element per
record (what the seed's admin page and the web viewer's first version did), measured in the
same browser on the same hub.

  first screen   a thread of --records records: from navigation start until the first rows
                 are drawn (the page's own mark, performance.now()); median of 7 loads. The
                 naive page loads the thread's history page by page (10,000 a page, as the
                 API allows) and appends a row for each
  follow         records published to the thread at a steady rate (frames of 50 every 10 ms,
                 created_at set when sent) while the page follows it: how many reached the
                 page's model and how long after their created_at (end to end, through the
                 hub, PostgreSQL, the feed, the WebSocket, the merge and the view), the
                 page's own work per second of stream (busy: handling frames and drawing; the
                 naive page: appending rows and the layout that follows), and the longest gap
                 between two animation frames (a stalled page)
  memory         200,000 records streamed into a followed page: JS heap (after a forced GC)
                 and DOM elements at each 50,000, with the default cap (50,000 records held)
                 and with the cap lifted

No timed assertions anywhere: this prints figures and ratios.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from playwright.sync_api import Browser, Page, sync_playwright
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hub, arguments, schema  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--js-flags=--expose-gc"]
LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARN", "INFO", "DEBUG", "ERROR")
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

#: The naive page: every record of the thread as one DOM row, then live records appended.
NAIVE_JS = """async ([thread, follow]) => {
  const log = document.createElement("div");
  log.style.cssText = "";
  document.body.replaceChildren(log);
  window.busy = 0;
  const add = (records) => {
    const started = performance.now();
    for (const r of records) {
      const row = document.createElement("div");
      const t = document.createElement("span"); t.textContent = r.created_at;
      const l = document.createElement("span"); l.textContent = " " + r.level + " ";
      const m = document.createElement("span"); m.textContent = r.message;
      row.append(t, l, m);
      log.append(row);
    }
    window.naiveCount = (window.naiveCount || 0) + records.length;
    document.scrollingElement.scrollTop = document.scrollingElement.scrollHeight;
    void document.body.offsetHeight; // the layout the scroll needs, counted here rather than in the next frame
    window.busy += performance.now() - started;
  };
  const url = `/admin/runs/${encodeURIComponent(thread)}/logs`;
  let cursor = null;
  if (!follow) {
    let before = null;
    const pages = [];
    for (;;) {
      const body = await (await fetch(`${url}?limit=10000${before ? "&before=" + before : ""}`)).json();
      pages.unshift(body.logs);
      before = body.before;
      if (!before) break;
    }
    for (const page of pages) add(page);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now();
  }
  const body = await (await fetch(`${url}?limit=1000`)).json();
  add(body.logs);
  cursor = body.cursor;
  window.lags = [];
  await new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.onopen = () => ws.send(JSON.stringify({type: "subscribe", thread_id: thread, cursor}));
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      if (f.type === "subscribed") resolve();
      if (f.type === "records" && !f.pending) {
        add(f.records);
        const last = f.records[f.records.length - 1];
        window.lags.push(Date.now() - Date.parse(last.created_at));
      }
    };
  });
  return 0;
}"""

#: Watches the thread page: lags of arriving records, and gaps between animation frames.
WATCH_JS = """() => {
  window.lags = [];
  window.frameGaps = [];
  const merge = window.logctlThread.merge;
  const live = merge.live.bind(merge);
  merge.live = (records, pending) => {
    const out = live(records, pending);
    if (records.length) window.lags.push(Date.now() - Date.parse(records[records.length - 1].created_at));
    return out;
  };
  window.busy = 0;
  const t = window.logctlThread;
  const render = t.list.render.bind(t.list);
  t.list.render = () => { const a = performance.now(); render(); window.busy += performance.now() - a; };
  const shown = t.feed.sink.shown;
  t.feed.sink.shown = (entries, options) => { const a = performance.now(); shown(entries, options); window.busy += performance.now() - a; };
  let last = performance.now();
  const tick = (now) => { window.frameGaps.push(now - last); last = now; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""

#: The same frame-gap watch for the naive page.
FRAMES_JS = """() => {
  window.frameGaps = [];
  let last = performance.now();
  const tick = (now) => { window.frameGaps.push(now - last); last = now; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def seed(dsn: str, thread: str, n: int) -> None:
    """``n`` records of one thread by COPY, in one transaction: a realistic mix of levels and lengths."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY thread_logs (thread_id, message, level, created_at, producer_id, seq) FROM STDIN") as copy:
            for i in range(n):
                message = f"step {i}: " + "compiling module and linking objects " * (1 + i % 3)
                copy.write_row((thread, message, LEVELS[i % len(LEVELS)], T0 + dt.timedelta(milliseconds=i), "seed", i))
        conn.commit()


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    return context.new_page()


def history_alone(hub: Hub, thread: str, runs: int = 7) -> list[float]:
    """Milliseconds of the first history request by itself (limit=1000), from Python: the hub's share."""
    import urllib.request

    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/admin/runs/{thread}/logs?limit=1000", timeout=60) as resp:
            resp.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


#: How long the page's first history request took (resource timing), and when the page had loaded its modules.
REQUEST_JS = """() => {
  const entry = performance.getEntriesByType("resource").find((e) => e.name.includes("/logs?limit=1000"));
  return entry ? entry.responseEnd - entry.startTime : null;
}"""


def first_screen(browser: Browser, hub: Hub, thread: str, runs: int = 7, *, naive: bool = True) -> tuple[list[float], list[float], list[float]]:
    """Milliseconds to the first screen: the thread page's, the naive page's, and the page's own share
    (the first screen less the time its history request was in flight, which is the hub's)."""
    ours, naives, own = [], [], []
    for _ in range(runs):
        page = new_page(browser)
        page.goto(f"http://127.0.0.1:{hub.port}/runs/{thread}")
        page.wait_for_function("() => window.logctlThread && window.logctlThread.list.firstRowsAt !== null", timeout=60_000)
        ours.append(float(page.evaluate("() => window.logctlThread.list.firstRowsAt")))
        own.append(ours[-1] - float(page.evaluate(REQUEST_JS) or 0.0))
        page.context.close()
    for _ in range(max(1, runs // 2) if naive else 0):
        page = new_page(browser)
        page.goto(f"http://127.0.0.1:{hub.port}/static/style.css")  # an origin of the hub with no script of its own
        page.set_default_timeout(300_000)
        naives.append(float(page.evaluate(NAIVE_JS, [thread, False])))
        page.context.close()
    return ours, naives, own


def publish_steadily(hub: Hub, thread: str, rate: int, seconds: float, producer: str) -> int:
    """Publish ``rate`` records/s for ``seconds`` in frames of rate/100 every 10 ms; return how many."""
    per_frame = max(1, rate // 100)
    sent = 0
    with connect(f"{hub.url}/ws", max_size=None) as conn:
        stop = threading.Event()

        def drain() -> None:  # read acks so the hub never holds them for us
            while not stop.is_set():
                try:
                    conn.recv(timeout=0.2)
                except TimeoutError:
                    continue
                except Exception:
                    return

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        start = time.perf_counter()
        tick = 0
        while time.perf_counter() - start < seconds:
            now = dt.datetime.now(dt.timezone.utc).isoformat()
            records = [{"seq": sent + i, "thread_id": thread, "message": f"live record {sent + i} of a steady stream", "created_at": now}
                       for i in range(per_frame)]
            conn.send(json.dumps({"type": "publish", "producer": producer, "records": records}))
            sent += per_frame
            tick += 1
            pause = start + tick * 0.01 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        time.sleep(1.0)
        stop.set()
        reader.join(2)
    return sent


def pct(values: list[float], p: float) -> float:
    """The ``p`` quantile of sorted ``values`` (nan for none)."""
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def oldest_write(hub: Hub) -> float:
    """Seconds the cluster's oldest open writing transaction has run (it holds every live stream back)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/healthz", timeout=10) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = json.loads(err.read())
    return float(body.get("oldest_write_transaction_seconds") or 0.0)


def follow(browser: Browser, hub: Hub, thread: str, rate: int, seconds: float, naive: bool) -> dict[str, Any]:
    page = new_page(browser)
    page.set_default_timeout(120_000)
    if naive:
        page.goto(f"http://127.0.0.1:{hub.port}/static/style.css")
        page.evaluate(NAIVE_JS, [thread, True])
        page.evaluate(FRAMES_JS)
        count = "() => window.naiveCount"
    else:
        page.goto(f"http://127.0.0.1:{hub.port}/runs/{thread}")
        page.wait_for_function("() => window.logctlThread && document.getElementById('connection').dataset.kind === 'live'")
        page.evaluate(WATCH_JS)
        count = "() => window.logctlThread.merge.shown"
    before = int(page.evaluate(count))
    held = oldest_write(hub)
    page.evaluate("() => { window.busy = 0; }")
    sent = publish_steadily(hub, thread, rate, seconds, producer=f"bench-{rate}-{naive}-{time.time()}")
    held = max(held, oldest_write(hub))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and int(page.evaluate(count)) - before < sent:
        time.sleep(0.2)
    got = int(page.evaluate(count)) - before
    busy = float(page.evaluate("() => window.busy"))
    lags = sorted(float(x) for x in page.evaluate("() => window.lags"))
    gaps = sorted(float(x) for x in page.evaluate("() => window.frameGaps"))
    page.context.close()
    return {"sent": sent, "got": got, "held": held, "busy": busy / (sent / rate), "lag_p50": pct(lags, 0.5), "lag_p99": pct(lags, 0.99), "lag_max": lags[-1] if lags else float("nan"),
            "gap_p99": pct(gaps, 0.99), "gap_max": gaps[-1] if gaps else float("nan")}


def memory(browser: Browser, hub: Hub, thread: str, total: int, cap: int | None) -> list[tuple[int, float, int, int]]:
    """(records streamed, JS heap MB after GC, records held, DOM elements) at each quarter of ``total``."""
    page = new_page(browser)
    page.set_default_timeout(120_000)
    page.goto(f"http://127.0.0.1:{hub.port}/runs/{thread}" + (f"?cap={cap}" if cap else ""))
    page.wait_for_function("() => window.logctlThread && document.getElementById('connection').dataset.kind === 'live'")
    cdp = page.context.new_cdp_session(page)
    out = []
    step = total // 4
    producer = f"mem-{cap}-{time.time()}"
    seq = 0
    with connect(f"{hub.url}/ws", max_size=None) as conn:
        for quarter in range(4):
            for start in range(0, step, 5000):
                records = [{"seq": seq + i, "thread_id": thread, "message": f"memory record {seq + i} " + "x" * 80} for i in range(5000)]
                conn.send(json.dumps({"type": "publish", "producer": producer, "records": records}))
                seq += 5000
            while True:  # wait for the acks, then for the page
                frame = json.loads(conn.recv(timeout=60))
                if frame["type"] == "ack" and frame["upto"] == seq - 1:
                    break
            page.wait_for_function(f"() => window.logctlThread.merge.shown >= {(quarter + 1) * step}", timeout=120_000)
            page.wait_for_timeout(300)
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
            held = int(page.evaluate("() => window.logctlThread.view.records"))
            nodes = int(page.evaluate("() => document.getElementsByTagName('*').length"))
            out.append(((quarter + 1) * step, heap, held, nodes))
    page.context.close()
    return out


def report_first(browser: Browser, hub: Hub, dsn: str, records: int, naive: bool) -> None:
    print(f"first screen of a thread of {records:,} records (median of 7 loads; naive: of 3)")
    seed(dsn, "big", records)
    ours, naives, own = first_screen(browser, hub, "big", naive=naive)
    print(f"  thread page   first rows drawn at {statistics.median(ours):8.1f} ms   (all: {', '.join(f'{x:.0f}' for x in ours)})")
    if naives:
        print(f"  naive page    first rows drawn at {statistics.median(naives):8.1f} ms   (all: {', '.join(f'{x:.0f}' for x in naives)})")
        print(f"  ratio         naive / thread page = {statistics.median(naives) / statistics.median(ours):.1f}x")
    print(f"  of which the page's own work (all but its history request in flight): median {statistics.median(own):.1f} ms")
    alone = history_alone(hub, "big")
    print(f"  the history request alone, limit=1000, from Python: median {statistics.median(alone):.1f} ms")


def report_follow(browser: Browser, hub: Hub, seconds: float, naive: bool) -> None:
    print(f"\nfollowing a thread, {seconds:.0f} s per step (end-to-end lag: created_at to the page's merge)")
    for rate in (1000, 5000, 10000, 20000):
        for naive_page in (False, True) if naive else (False,):
            r = follow(browser, hub, f"live-{rate}-{int(naive_page)}", rate, seconds, naive_page)
            name = "naive page " if naive_page else "thread page"
            print(f"  {name} offered {rate:6,}/s  received {r['got']:7,} of {r['sent']:7,}"
                  f"  lag p50 {r['lag_p50']:7.0f} ms  p99 {r['lag_p99']:7.0f} ms  max {r['lag_max']:7.0f} ms"
                  f"  busy {r['busy']:5.0f} ms/s  frame gap p99 {r['gap_p99']:6.0f} ms  max {r['gap_max']:6.0f} ms"
                  + (f"  (a writing transaction of {r['held']:.0f} s held the horizon)" if r["held"] > 1 else ""))


def report_memory(browser: Browser, hub: Hub) -> None:
    print("\nmemory: 200,000 records streamed into a followed page (JS heap after a forced GC)")
    for cap, label in ((None, "cap 50,000 (default)"), (10**9, "cap lifted")):
        for streamed, heap, held, nodes in memory(browser, hub, f"mem-{cap}", 200_000, cap):
            print(f"  {label:21} after {streamed:7,}: heap {heap:7.1f} MB  records held {held:7,}  DOM elements {nodes:5,}")


def main() -> None:
    parser = arguments(__doc__, full_doc=True)
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each follow step publishes")
    parser.add_argument("--parts", default="first,follow,memory", help="which measures to run (comma-separated)")
    parser.add_argument("--skip-naive", action="store_true", help="measure only the thread page")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with schema(args.database_url) as dsn, Hub(dsn) as hub, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            if "first" in parts:
                report_first(browser, hub, dsn, args.records, not args.skip_naive)
            if "follow" in parts:
                report_follow(browser, hub, args.seconds, not args.skip_naive)
            if "memory" in parts:
                report_memory(browser, hub)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
