"""The runs page (GET /) in a real Chromium against a real hub: live updates, the filter, hostile ids, the demo, screenshots."""

from __future__ import annotations

import datetime as dt
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from helpers import BROWSER_TIMEOUT_MS, HubProcess, open_page, publish, recv_until, ws
from prefix_proxy import ProxiedHub

ROOT = Path(__file__).resolve().parents[1]
#: Where the docs' screenshots live; the suite rewrites them when LOGCTL_UPDATE_SCREENSHOTS=1.
SCREENSHOTS = {"light": ROOT / "docs" / "images" / "web-runs-light.png", "dark": ROOT / "docs" / "images" / "web-runs-dark.png"}

HOSTILE = [
    "<script>window.pwned=1</script>",
    '<img src=x onerror="window.pwned=2">',
    "javascript:window.pwned=3",
    "\u202eexe.txt",
    "a\u2066b\u2069c",
    '"><b>bold</b>',
    "tab\tand\x1bescape",
]


def _send(hub: HubProcess, records: list[dict[str, object]]) -> None:
    with ws(hub) as conn:
        publish(conn, records)
        recv_until(conn, "ack")


def _ids(page: Page) -> list[str]:
    return [str(t) for t in page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.thread)")]


@pytest.mark.timeout(90)
def test_new_threads_appear_and_counts_move_without_a_reload(hub: HubProcess, page: Page) -> None:
    """While the page is open, a new thread appears on top and another thread's counts go up (the page polls)."""
    _send(hub, [{"thread_id": "old", "message": "x"}])
    open_page(page, hub, "/")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    _send(hub, [{"thread_id": "fresh", "message": "x", "level": "ERROR"}])
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    assert _ids(page) == ["fresh", "old"]
    _send(hub, [{"thread_id": "old", "message": "y", "level": "WARN"}, {"thread_id": "old", "message": "z"}])
    old = page.locator('#runs tbody tr[data-thread="old"] td')
    expect(old.nth(2)).to_have_text("3")
    expect(old.nth(4)).to_have_text("1")
    expect(page.locator("#runs tbody tr").first).to_have_attribute("data-thread", "old")  # newest activity first again
    expect(page.locator('#runs tbody tr[data-thread="fresh"] td').nth(3)).to_have_text("1")


@pytest.mark.timeout(90)
def test_the_page_says_when_the_hub_is_gone_and_recovers_by_itself(hub: HubProcess, page: Page) -> None:
    """When the hub stops the page says it is disconnected and keeps its rows; when it is back the page goes on updating."""
    _send(hub, [{"thread_id": "before", "message": "x"}])
    open_page(page, hub, "/")
    expect(page.locator("#summary")).to_have_text("1 thread")
    assert hub.stop() == 0
    expect(page.locator("#summary")).to_have_text("disconnected")
    expect(page.locator("#notice")).to_contain_text("cannot reach the hub")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    hub.start()  # the same port
    _send(hub, [{"thread_id": "after", "message": "y"}])
    expect(page.locator("#summary")).to_have_text("2 threads", timeout=BROWSER_TIMEOUT_MS)
    assert _ids(page) == ["after", "before"]
    expect(page.locator("#notice")).to_be_hidden()


@pytest.mark.timeout(90)
def test_the_filter_is_a_glob_kept_in_the_url(hub: HubProcess, page: Page) -> None:
    """Typing filters the threads (a word matches anywhere, * and ? are a glob); the URL keeps it, and a link with it opens filtered."""
    _send(hub, [{"thread_id": t, "message": "x"} for t in ("build-1", "build-2", "etl-1", "x%_y")])
    open_page(page, hub, "/")
    expect(page.locator("#runs tbody tr")).to_have_count(4)
    page.locator("#filter").fill("build-*")
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    assert sorted(_ids(page)) == ["build-1", "build-2"]
    assert page.url.endswith("/?match=build-*") or page.url.endswith("/?match=build-%2A")
    page.locator("#filter").fill("%_")  # literal characters, not LIKE wildcards
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    assert _ids(page) == ["x%_y"]
    page.locator("#filter").fill("nothing-like-it")
    expect(page.locator("#runs tbody tr")).to_have_count(0)
    expect(page.locator("#notice")).to_contain_text("no thread matches")
    open_page(page, hub, "/?match=etl")
    expect(page.locator("#filter")).to_have_value("etl")
    page.locator("body").press("/")  # the key that focuses the filter, as in tail
    expect(page.locator("#filter")).to_be_focused()
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    page.locator("#filter").fill("")
    expect(page.locator("#runs tbody tr")).to_have_count(4)
    assert page.url == f"{hub.http}/"


@pytest.mark.timeout(90)
def test_hostile_thread_ids_are_shown_as_text_and_run_nothing(hub: HubProcess, page: Page) -> None:
    """Markup, script URLs and bidi or control characters in thread ids are shown literally; no script runs, no dialog opens."""
    dialogs: list[str] = []

    def opened(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", opened)
    _send(hub, [{"thread_id": t, "message": "x"} for t in HOSTILE])
    open_page(page, hub, "/")
    expect(page.locator("#runs tbody tr")).to_have_count(len(HOSTILE))
    shown = dict(zip(_ids(page), page.locator("#runs tbody td.thread").all_text_contents()))
    assert shown["<script>window.pwned=1</script>"] == "<script>window.pwned=1</script>"
    assert shown['<img src=x onerror="window.pwned=2">'] == '<img src=x onerror="window.pwned=2">'
    assert shown["javascript:window.pwned=3"] == "javascript:window.pwned=3"
    assert shown["\u202eexe.txt"] == "\\u202eexe.txt"  # the override is shown, not obeyed
    assert shown["a\u2066b\u2069c"] == "a\\u2066b\\u2069c"
    assert shown["tab\tand\x1bescape"] == "tab\tand\\x1bescape"
    assert page.locator("#runs script, #runs img, #runs b").count() == 0
    assert page.evaluate("window.pwned") is None and dialogs == []
    hrefs = page.locator("#runs tbody a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(h.startswith("runs/") for h in hrefs) and "runs/javascript%3Awindow.pwned%3D3" in hrefs
    page.get_by_role("link", name="javascript:window.pwned=3").click()
    expect(page).to_have_url(f"{hub.http}/runs/javascript%3Awindow.pwned%3D3")
    assert page.evaluate("window.pwned") is None and dialogs == []


@pytest.fixture
def demo_hub(dsn: str, cli_env: dict[str, str]) -> Iterator[HubProcess]:
    """``logctl serve --demo`` over the test's schema, plus a few older threads so the page shows ages and counts."""
    proc = HubProcess(dsn, cli_env, "--demo")
    now = dt.datetime.now(dt.timezone.utc)
    older = [
        ("nightly-backup-2026-11-30", dt.timedelta(hours=26), 412, 0, 3),
        ("etl-orders-eu", dt.timedelta(hours=3), 1280, 2, 11),
        ("build-1412", dt.timedelta(minutes=42), 96, 1, 0),
        ("agent-run-7f3a", dt.timedelta(minutes=7), 57, 0, 4),
    ]
    records: list[dict[str, object]] = []
    for thread, ago, count, errors, warnings in older:
        for i in range(count):
            level = "ERROR" if i < errors else "WARN" if i < errors + warnings else "INFO"
            at = now - ago - dt.timedelta(seconds=count - i)
            records.append({"thread_id": thread, "message": f"step {i}", "level": level, "created_at": at.isoformat()})
    for start in range(0, len(records), 1000):
        _send(proc, records[start:start + 1000])
    yield proc
    proc.close()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.timeout(120)
def test_serve_demo_shows_the_demo_threads_and_the_docs_screenshots(demo_hub: HubProcess, browser: Browser, tmp_path: Path) -> None:
    """With ``serve --demo`` the runs page lists demo-build, demo-etl and demo-agent, live; the suite takes the light and
    dark screenshots of docs/web.md from it (rewriting the committed ones with LOGCTL_UPDATE_SCREENSHOTS=1)."""
    update = os.environ.get("LOGCTL_UPDATE_SCREENSHOTS") == "1"
    for scheme, committed in SCREENSHOTS.items():
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1000, "height": 420}, device_scale_factor=1)  # type: ignore[arg-type]
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        try:
            page = context.new_page()
            open_page(page, demo_hub, "/")
            expect(page.locator("#runs tbody tr")).to_have_count(7)
            demo = page.locator("#runs tbody tr").filter(has_text="demo-")
            assert sorted(demo.evaluate_all("rows => rows.map(r => r.dataset.thread)")) == ["demo-agent", "demo-build", "demo-etl"]
            before = int(page.locator('#runs tbody tr[data-thread="demo-build"] td').nth(2).inner_text())
            expect(page.locator('#runs tbody tr[data-thread="demo-build"] td').nth(2)).not_to_have_text(str(before))  # live
            expect(page.locator('#runs tbody tr[data-thread="nightly-backup-2026-11-30"] td').nth(1)).to_have_text("1d")
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == ("rgb(13, 17, 23)" if scheme == "dark" else "rgb(255, 255, 255)")
            page.locator("#filter").blur()
            shot = page.screenshot(animations="disabled", caret="hide")
            assert _png_size(shot) == (1000, 420)
            (tmp_path / committed.name).write_bytes(shot)
            if update:
                committed.parent.mkdir(parents=True, exist_ok=True)
                committed.write_bytes(shot)
            assert committed.exists(), f"{committed} is missing: run this test with LOGCTL_UPDATE_SCREENSHOTS=1 and commit it"
            assert _png_size(committed.read_bytes()) == (1000, 420)
        finally:
            context.close()


@pytest.mark.timeout(90)
def test_the_runs_page_and_its_session_work_under_a_proxy_path_prefix(proxied_hub: ProxiedHub, page: Page) -> None:
    """Behind a proxy serving the hub under /logctl/: ?token= lands on /logctl/ with the cookie, and the runs page loads
    its files and data and links under the prefix, and asks for nothing outside it."""
    from websockets.sync.client import connect

    hub, base = proxied_hub.hub, proxied_hub.base
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    with connect(hub.url + "/ws", additional_headers={"Authorization": f"Bearer {proxied_hub.writer}"}) as conn:
        publish(conn, [{"thread_id": "build-1", "message": "x"}, {"thread_id": "a/b", "message": "y"}])
        recv_until(conn, "ack")
    page.goto(f"{base}?match=*&token={proxied_hub.reader}")
    assert page.url == f"{base}?match=%2A"
    expect(page.locator("#runs tbody tr")).to_have_count(2)
    links = page.locator("#runs tbody a").evaluate_all("links => links.map(a => a.href)")
    assert sorted(links) == [f"{base}runs/a%2Fb", f"{base}runs/build-1"]
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"  # style.css loaded
    page.locator("#filter").fill("build")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    assert page.url == f"{base}?match=build"
    assert asked and all(url.startswith(base) for url in asked), [u for u in asked if not u.startswith(base)]
    assert all(path.startswith("/logctl/") for path in proxied_hub.proxy.paths)
