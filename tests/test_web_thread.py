"""The thread page (/runs/{thread_id}) in a real Chromium against a real hub and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from helpers import HubProcess, open_page, publish, query, run_cli, wait_for_horizon, wait_until, ws
from logctl.core.records import LogRecord
from logctl.store import LogStore
from logctl.tail.help import KEYS as TAIL_KEYS

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")

#: The page's records and markers, in order, from its model (the list is virtualised).
MODEL_JS = """() => window.logctlThread.view.entries.map((e) => e.message === undefined
  ? {marker: e.text}
  : {message: e.message, cursor: e.cursor ?? null, seq: e.seq === undefined || e.seq === null ? null : Number(e.seq), level: e.level,
     thread: e.thread_id})"""

#: Scroll the list from top to bottom and read each row the DOM draws (by its position).
SCROLL_JS = """async () => {
  const log = document.getElementById("log");
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const seen = new Map();
  window.logctlThread.view.pause();
  for (let top = 0; ; top += Math.max(1, log.clientHeight - 18)) {
    log.scrollTop = top;
    await frame();
    for (const row of log.querySelectorAll(".row")) {
      seen.set(Number(row.dataset.position), row.querySelector(".m").textContent);
    }
    if (log.scrollTop + log.clientHeight >= log.scrollHeight - 1) break;
  }
  return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([p, text]) => [p, text]);
}"""


def model(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(MODEL_JS)  # type: ignore[no-any-return]


def records_of(page: Any) -> list[dict[str, Any]]:
    return [e for e in model(page) if "marker" not in e]


def table(dsn: str, thread: str) -> list[tuple[str, str]]:
    """(cursor, message) of a thread's rows in stream order."""
    rows = query(dsn, "SELECT txid::text || '-' || id, message FROM thread_logs WHERE thread_id = %s ORDER BY txid::text::int8, id", (thread,))
    return [(str(c), str(m)) for c, m in rows]


def wait_js(page: Any, expression: str, timeout: float = 60_000) -> None:
    """Wait for a condition on the page; live records may wait for the xmin horizon, which any long writing
    transaction on the shared server holds back (test_feed.py waits 30 s for the same reason)."""
    page.wait_for_function(expression, timeout=timeout)


def loaded(page: Any, count: int) -> None:
    wait_js(page, f"() => window.logctlThread && window.logctlThread.view.records === {count}")


def live(page: Any) -> None:
    wait_js(page, "() => document.getElementById('connection').dataset.kind === 'live'")


def load_all_older(page: Any) -> None:
    """Press g (go to the oldest, load the page before it) until the page holds the thread's first record."""
    page.locator("#log").focus()
    for _ in range(50):
        if page.evaluate("() => window.logctlThread.merge.before === null"):
            return
        page.keyboard.press("g")
        page.wait_for_function("() => !document.body.dataset.loadingOlder", timeout=10_000)
    raise AssertionError("older pages did not come to the first record")


def history(store: LogStore, thread: str, n: int, *, producer: str = "hist", start: int = 0, text: str = "h{i}") -> None:
    store.insert([
        LogRecord(thread, text.format(i=i), LEVELS[i % 4], T0 + dt.timedelta(seconds=i), producer, i)
        for i in range(start, start + n)
    ])
    readable(store)


def readable(store: LogStore) -> None:
    """Wait until what was just written is below the xmin horizon, so the history API returns it (a long
    writing transaction of another session on the shared server can hold it back: then say so)."""
    with store.connection() as conn:
        dsn = conn.info.dsn
    wait_for_horizon(dsn, timeout=60)


def visible_text(text: str) -> str:
    """What common.js's visible() makes of stored text: controls and bidi marks as escapes."""
    def esc(m: re.Match[str]) -> str:
        code = ord(m.group(0))
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", esc, text)


# -- history, live, restarts ----------------------------------------------------------------


@pytest.mark.timeout(180)
def test_history_then_live_across_a_hub_restart(page: Any, hub: HubProcess, store: LogStore, dsn: str) -> None:
    """The latest 1,000, then live, then a hub restart with rows written meanwhile: the page holds the table's rows in order, none missing or doubled, and says how many it caught up."""
    history(store, "restart", 1500)
    open_page(page, hub, "/runs/restart")
    loaded(page, 1000)
    live(page)
    with ws(hub) as conn:
        publish(conn, [{"seq": i, "thread_id": "restart", "message": f"live {i}"} for i in range(100)], producer="live-a")
        loaded(page, 1100)
    assert hub.stop() == 0
    wait_js(page, "() => document.getElementById('connection').dataset.kind !== 'live'")
    history(store, "restart", 50, producer="gap", text="gap {i}")  # committed while no hub runs
    hub.start()
    loaded(page, 1150)
    live(page)
    with ws(hub) as conn:
        publish(conn, [{"seq": i, "thread_id": "restart", "message": f"after {i}"} for i in range(100)], producer="live-b")
        loaded(page, 1250)

    rows = table(dsn, "restart")[-1250:]
    entries = model(page)
    markers = [i for i, e in enumerate(entries) if "marker" in e]
    assert [entries[i]["marker"] for i in markers] == ["reconnected: 50 records caught up"]
    assert markers == [1150]  # after the records it caught up, as in tail
    shown = [(e["cursor"], e["message"]) for e in entries if "marker" not in e]
    assert shown == rows
    assert page.locator("#connection").text_content() == "● live"

    load_all_older(page)  # scrolling to the top loads the 500 older rows: then all of the table
    entries = model(page)
    assert [(e["cursor"], e["message"]) for e in entries if "marker" not in e] == table(dsn, "restart")
    drawn = page.evaluate(SCROLL_JS)
    assert [p for p, _ in drawn] == list(range(len(entries))), "a row was never drawn while scrolling through"
    texts = [text for _, text in drawn]
    assert texts == [e.get("message", e.get("marker")) for e in entries]
    assert page.locator("#log .row").count() < 200, "the list is not virtualised"


# -- hostile data ---------------------------------------------------------------------------

HOSTILE_THREAD = '<img src=x onerror="window.__pwned=1">\u202etxt.exe'
HOSTILE_MESSAGES = [
    "<script>window.__pwned = 2</script>",
    '<img src=x onerror="window.__pwned = 3">',
    "javascript:window.__pwned=4",
    '<a href="javascript:window.__pwned=5">click me</a>',
    "\u202eevil\u202c gnp.exe and \u2066isolate\u2069",
    "&lt;b&gt;entity&lt;/b&gt; <b>bold?</b> \x1b[31mred\x1b[0m",
    '{"html": "<svg onload=window.__pwned=6>"}',
]


@pytest.mark.timeout(60)
def test_hostile_data_is_shown_literally_and_runs_nothing(page: Any, hub: HubProcess, store: LogStore) -> None:
    """Markup, javascript: links, escapes and RTL overrides in messages, thread and producer ids are shown as text; no script runs."""
    dialogs: list[str] = []

    def dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    store.insert([
        LogRecord(HOSTILE_THREAD, m, "ERROR" if i % 2 else "INFO", T0 + dt.timedelta(seconds=i), '<svg onload="window.__pwned=7">', i)
        for i, m in enumerate(HOSTILE_MESSAGES)
    ])
    readable(store)
    from urllib.parse import quote

    open_page(page, hub, "/runs/" + quote(HOSTILE_THREAD, safe=""))
    loaded(page, len(HOSTILE_MESSAGES))
    page.wait_for_function("() => document.querySelectorAll('#log .row').length > 0")
    assert [r.text_content() for r in page.locator("#log .row .m").all()] == [visible_text(m) for m in HOSTILE_MESSAGES]
    assert page.locator("#thread").text_content() == visible_text(HOSTILE_THREAD)
    page.locator("#search").fill("script|svg|img")
    page.wait_for_function("() => document.querySelectorAll('#log mark').length >= 3")
    page.locator("#log .row").nth(6).dblclick()
    assert page.locator("#detail").is_visible()
    fields = dict(zip(page.locator("#fields dt").all_text_contents(), page.locator("#fields dd").all_text_contents()))
    assert fields["producer"] == '<svg onload="window.__pwned=7">'
    assert fields["thread"] == visible_text(HOSTILE_THREAD)
    assert "<svg onload=window.__pwned=6>" in (page.locator("#detail-message").text_content() or "")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    for selector in ("img", "script", "a", "svg", "b"):
        assert page.locator(f"main {selector}, #thread {selector}").count() == 0, f"a <{selector}> element was made from data"


# -- controls ---------------------------------------------------------------------------------


def thread_of(store: LogStore, thread: str, n: int) -> None:
    store.insert([
        LogRecord(thread, f"record {i} {'timeout' if i % 3 == 0 else 'ok'}", LEVELS[i % 4], T0 + dt.timedelta(seconds=i), "p", i)
        for i in range(n)
    ])
    readable(store)


@pytest.mark.timeout(90)
def test_deep_link_filters_search_and_keys(page: Any, hub: HubProcess, store: LogStore) -> None:
    """?level=WARN&q=timeout opens filtered and searched; keys 1-4, i, x, /, n, N, w, t, ?, Enter, Esc act and the URL follows."""
    thread_of(store, "ctl", 400)
    open_page(page, hub, "/runs/ctl?level=WARN&q=timeout")
    loaded(page, 400)
    assert page.locator("#level").input_value() == "WARN"
    assert page.locator("#search").input_value() == "timeout"
    shown = page.evaluate("() => window.logctlThread.view.visible.map((e) => e.level)")
    assert len(shown) == 200 and set(shown) == {"WARN", "ERROR"}
    want_matches = sum(1 for i in range(400) if i % 4 >= 2 and i % 3 == 0)
    assert page.locator("#matches").text_content() == f"{want_matches} matches"
    page.wait_for_function("() => document.querySelectorAll('#log mark').length > 0")
    assert set(page.locator("#log mark").all_text_contents()) == {"timeout"}

    log = page.locator("#log")
    log.focus()
    page.keyboard.press("1")
    page.wait_for_function("() => !location.search.includes('level=')")
    assert page.evaluate("() => window.logctlThread.view.visible.length") == 400
    page.keyboard.press("4")
    page.wait_for_function("() => location.search.includes('level=ERROR')")
    assert page.evaluate("() => window.logctlThread.view.visible.length") == 100

    page.keyboard.press("n")
    first = page.evaluate("() => window.logctlThread.view.selectedEntry.message")
    page.keyboard.press("n")
    second = page.evaluate("() => window.logctlThread.view.selectedEntry.message")
    page.keyboard.press("N")
    assert page.evaluate("() => window.logctlThread.view.selectedEntry.message") == first != second
    assert "timeout" in first and page.locator("#follow").text_content() == "paused"

    page.keyboard.press("i")
    assert page.evaluate("() => document.activeElement.id") == "include"
    page.keyboard.type(r"record 1\d\d ")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search.includes('include=')")
    assert page.evaluate("() => window.logctlThread.view.visible.map((e) => e.message)") == [
        f"record {i} {'timeout' if i % 3 == 0 else 'ok'}" for i in range(100, 200) if i % 4 == 3
    ]
    page.keyboard.press("x")
    page.keyboard.type("(")  # not a regex: the box says so and the filter stays
    page.wait_for_function("() => document.getElementById('exclude').classList.contains('invalid')")
    assert page.evaluate("() => window.logctlThread.view.visible.length") == 25
    page.keyboard.press("Backspace")
    page.keyboard.type("timeout")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.logctlThread.view.visible.length === 17")

    page.keyboard.press("w")
    page.wait_for_function("() => location.search.includes('wrap=1')")
    page.keyboard.press("t")
    page.wait_for_function("() => location.search.includes('time=utc')")
    first_row = page.evaluate("() => window.logctlThread.view.visible[0]")
    page.wait_for_function("() => document.getElementById('zone').textContent === 'times: UTC'")
    assert page.locator("#log .row .t").first.text_content() == (T0 + dt.timedelta(seconds=int(first_row["message"].split()[1]))).strftime("%Y-%m-%d %H:%M:%S.000")
    page.keyboard.press("t")
    page.wait_for_function("() => location.search.includes('time=relative')")
    page.wait_for_function("() => document.querySelector('#log .row .t').textContent.startsWith('+0:0')")

    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    assert page.locator("#help-keys tr").count() == 17
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()
    page.keyboard.press("Enter")
    assert page.locator("#detail").is_visible()
    assert "cursor" in page.locator("#fields dt").all_text_contents()
    page.keyboard.press("Escape")
    assert not page.locator("#detail").is_visible()

    url = page.url
    page.goto(url)  # the same link shows the same view
    loaded(page, 400)
    assert page.evaluate("() => window.logctlThread.view.visible.length") == 17
    assert page.locator("#wrap").is_checked() and page.locator("#time").input_value() == "relative"


@pytest.mark.timeout(180)
def test_follow_new_badge_older_pages_cap_download_and_copy(page: Any, hub: HubProcess, store: LogStore, dsn: str) -> None:
    """Scrolled up, live records count in an "N new" badge; f follows; past the cap the oldest unload and scrolling up loads them again; JSONL and copy give the records."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    thread_of(store, "cap", 1200)
    open_page(page, hub, "/runs/cap?cap=500")
    wait_js(page, "() => window.logctlThread && window.logctlThread.view.records === 500")
    live(page)
    assert page.evaluate("() => window.logctlThread.merge.before") is not None
    rows = table(dsn, "cap")
    assert [e["message"] for e in records_of(page)] == [m for _, m in rows[-500:]]

    page.locator("#log").focus()
    page.keyboard.press("k")
    assert page.locator("#follow").text_content() == "paused"
    with ws(hub) as conn:
        publish(conn, [{"seq": i, "thread_id": "cap", "message": f"new {i}"} for i in range(5)], producer="fresh")
        wait_js(page, "() => window.logctlThread.view.records === 505")
    page.wait_for_function("() => document.getElementById('new').textContent === '▼ 5 new'")
    assert page.locator("#new").is_visible()
    page.keyboard.press("f")
    assert page.locator("#follow").text_content() == "following" and not page.locator("#new").is_visible()

    load_all_older(page)  # every unloaded record comes back, once, in order
    rows = table(dsn, "cap")
    assert [(e["cursor"], e["message"]) for e in records_of(page)] == rows
    assert page.locator("#loaded").text_content() == "1,205 records loaded (all)"

    with page.expect_download() as info:
        page.locator("#download").click()
    lines = open(info.value.path(), encoding="utf-8").read().splitlines()
    assert [json.loads(line)["cursor"] for line in lines] == [c for c, _ in rows]
    assert set(json.loads(lines[0])) == {"id", "thread_id", "message", "created_at", "level", "cursor", "producer_id", "seq"}

    page.keyboard.press("End")
    page.keyboard.press("C")
    page.wait_for_function("() => document.getElementById('toast').textContent.includes('JSON')")
    copied = json.loads(page.evaluate("() => navigator.clipboard.readText()"))
    assert copied["message"] == rows[-1][1] and copied["cursor"] == rows[-1][0]


# -- a database outage --------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_pending_records_during_an_outage_become_their_committed_copies(page: Any, restartable_db: tuple[str, dict[str, str]]) -> None:
    """With the database down, published records show at once as pending and the database state says down; once it is back each becomes its committed copy, none doubled."""
    dsn, env = restartable_db
    assert run_cli(["apply-schema", "--database-url", dsn], env).returncode == 0
    hub = HubProcess(dsn, env)
    try:
        with ws(hub) as conn:
            publish(conn, [{"seq": i, "thread_id": "out", "message": f"before {i}"} for i in range(3)], producer="px")
            open_page(page, hub, "/runs/out")
            wait_until(lambda: len(table(dsn, "out")) == 3)
            loaded(page, 3)
            live(page)
            assert run_cli(["db-stop"], env).returncode == 0
            publish(conn, [{"seq": i, "thread_id": "out", "message": f"during {i}"} for i in range(3, 8)], producer="px")
            wait_js(page, "() => window.logctlThread.view.records === 8", timeout=30_000)
            page.wait_for_function("() => document.getElementById('database').dataset.up === 'false'", timeout=30_000)
            assert "database down" in (page.locator("#database").text_content() or "")
            pending = [e for e in records_of(page) if e["cursor"] is None]
            assert [e["message"] for e in pending] == [f"during {i}" for i in range(3, 8)]
            page.wait_for_function("() => document.querySelectorAll('#log .row.pending').length === 5")
            assert page.locator("#log .row.pending .l").first.text_content() == "INFO~"

            assert run_cli(["db-url"], env).returncode == 0  # starts it again
            page.wait_for_function(
                "() => window.logctlThread.view.entries.every((e) => e.cursor)", timeout=60_000,
            )
            page.wait_for_function("() => document.getElementById('database').dataset.up === 'true'", timeout=30_000)
        entries = model(page)
        assert [(e["cursor"], e["message"]) for e in entries] == table(dsn, "out")
        assert [e["seq"] for e in entries] == list(range(8))
        page.wait_for_function("() => document.querySelectorAll('#log .row.pending').length === 0")
        assert page.locator("#log .row").count() == 8
    finally:
        hub.kill()


# -- the keys, documented -----------------------------------------------------------------------


def page_keys() -> list[tuple[str, str]]:
    """thread.js's KEYS table, read from the shipped file."""
    source = resources.files("logctl.web").joinpath("static").joinpath("thread.js").read_text("utf-8")
    block = source[source.index("export const KEYS = ["):]
    block = block[: block.index("];")]
    return re.findall(r'\["([^"]+)", "([^"]+)"\]', block)


def test_the_pages_keys_are_tails_keys_and_documented() -> None:
    """The page's keys are tail's (but quitting, and T of a tail of several threads), and docs/web.md lists exactly the table that ? shows."""
    keys = page_keys()
    assert [k for k, _ in keys][:-1] == [k for k, _ in TAIL_KEYS if k not in ("T", "q Ctrl+C")]
    doc = (Path(__file__).resolve().parents[1] / "docs" / "web.md").read_text("utf-8")
    section = doc[doc.index("### Keys"):]
    rows = re.findall(r"^\| (`.+?`) \| (.+?) \|$", section, re.M)
    assert [(" ".join(re.findall(r"`([^`]+)`", k)), what) for k, what in rows] == [
        (" ".join(k.replace("  ", " ").split(" ")), what) for k, what in keys
    ]


# -- several threads as one stream ----------------------------------------------------------------


@pytest.mark.timeout(180)
def test_a_selection_shows_its_threads_merged_in_stream_order_and_tagged(page: Any, hub: HubProcess, store: LogStore, dsn: str) -> None:
    """/runs?match=build-* shows build-1 and build-2 merged in (txid, id) order, then live records of a build-3 that starts later, each tagged with its thread's colour; deploy stays out."""
    import zlib

    for round_ in range(4):  # interleaved transactions: the merge is by cursor, not by thread
        for thread in ("build-1", "build-2", "deploy"):
            history(store, thread, 5, producer=f"{thread}-p", start=round_ * 5, text=thread + " {i}")
    open_page(page, hub, "/runs?match=build-*")
    loaded(page, 40)
    live(page)
    rows = query(dsn, "SELECT txid::text || '-' || id, message, thread_id FROM thread_logs WHERE thread_id LIKE 'build-%%'"
                      " ORDER BY txid::text::int8, id")
    assert [(e["cursor"], e["message"], e["thread"]) for e in records_of(page)] == [tuple(map(str, r)) for r in rows]
    with ws(hub) as conn:
        publish(conn, [{"seq": i, "thread_id": t, "message": f"{t} live {i}"} for i in range(3) for t in ("build-3", "deploy")],
                producer="later")
        loaded(page, 43)
    page.wait_for_function("() => window.logctlThread.threads.has('build-3')")
    assert [e["thread"] for e in records_of(page)[-3:]] == ["build-3"] * 3
    assert all(e["thread"] != "deploy" for e in records_of(page))
    assert page.locator("#thread").text_content() == "build-*: 3 threads (build-1, build-2, build-3)"
    tag = page.locator("#log .row .th").last
    assert tag.text_content() == "build-3"
    assert f"tag-{zlib.crc32(b'build-3') % 12}" in (tag.get_attribute("class") or "")
    page.locator("#search").fill("live")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search.includes('q=live') && location.search.includes('match=build-')")


# -- screenshots for docs/web.md ----------------------------------------------------------------

SCREENSHOTS = {
    "light": Path(__file__).resolve().parents[1] / "docs" / "images" / "web-thread-light.png",
    "dark": Path(__file__).resolve().parents[1] / "docs" / "images" / "web-thread-dark.png",
}


def demo_history(store: LogStore, thread: str, n: int) -> None:
    """``n`` records in the manner of ``serve --demo`` over the last minutes (seeded: the same every run)."""
    import random

    from logctl.hub.demo import _STEPS, _TRACEBACK

    rng = random.Random(7)
    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    for i in range(n):
        roll = rng.random()
        level = "ERROR" if roll < 0.03 else "WARN" if roll < 0.1 else "DEBUG" if roll < 0.3 else "INFO"
        number = rng.randint(1, 999)
        message = _TRACEBACK.format(n=number) if level == "ERROR" else rng.choice(_STEPS[thread]).format(n=number)
        rows.append(LogRecord(thread, message, level, now - dt.timedelta(seconds=(n - i) * 0.2), "demo-history", i))
    store.insert(rows)
    readable(store)


@pytest.mark.timeout(120)
def test_screenshots_of_a_demo_thread(browser: Any, dsn: str, cli_env: dict[str, str], store: LogStore, tmp_path: Path) -> None:
    """The light and dark screenshots of docs/web.md: a demo thread, live, searched, with a record open (rewritten with LOGCTL_UPDATE_SCREENSHOTS=1)."""
    import os

    from helpers import BROWSER_TIMEOUT_MS

    demo_history(store, "demo-build", 600)
    hub = HubProcess(dsn, cli_env, "--demo")
    update = os.environ.get("LOGCTL_UPDATE_SCREENSHOTS") == "1"
    try:
        for scheme, committed in SCREENSHOTS.items():
            context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 640}, device_scale_factor=1)
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            try:
                page = context.new_page()
                open_page(page, hub, "/runs/demo-build?q=module%20%5Cd%2B")
                wait_js(page, "() => window.logctlThread && window.logctlThread.view.records >= 600")
                live(page)
                wait_js(page, "() => window.logctlThread.view.records >= 603")  # the demo's own live records
                page.wait_for_function("() => document.querySelectorAll('#log mark').length > 0")
                page.locator("#log").focus()
                page.keyboard.press("E")  # the newest ERROR record (follow pauses: new records are counted)
                assert page.evaluate("() => window.logctlThread.view.selectedEntry.level") == "ERROR"
                if scheme == "dark":
                    page.keyboard.press("Enter")  # opened in full
                    assert page.locator("#detail").is_visible()
                    assert "Traceback" in (page.locator("#detail-message").text_content() or "")
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert background == ("rgb(13, 17, 23)" if scheme == "dark" else "rgb(255, 255, 255)")
                page.wait_for_timeout(1500)  # a few live records arrive meanwhile
                shot = page.screenshot(animations="disabled", caret="hide")
                (tmp_path / committed.name).write_bytes(shot)
                if update:
                    committed.parent.mkdir(parents=True, exist_ok=True)
                    committed.write_bytes(shot)
                assert committed.exists(), f"{committed} is missing: run this test with LOGCTL_UPDATE_SCREENSHOTS=1 and commit it"
            finally:
                context.close()
    finally:
        hub.kill()
