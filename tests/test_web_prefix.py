"""The thread page and the selection page in a real Chromium behind a reverse proxy that serves the hub under a path prefix."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from helpers import LIVE_TIMEOUT_MS, publish, recv_until, wait_for_horizon
from prefix_proxy import ProxiedHub


def _publish(proxied: ProxiedHub, records: list[dict[str, object]], producer: str) -> None:
    from websockets.sync.client import connect

    with connect(proxied.hub.url + "/ws", additional_headers={"Authorization": f"Bearer {proxied.writer}"}) as conn:
        publish(conn, records, producer=producer)
        recv_until(conn, "ack")


@pytest.mark.timeout(150)
@pytest.mark.parametrize(
    ("path", "landed", "threads"),
    [
        ("runs/a%2Fb", "runs/a%2Fb", ["a/b"]),
        ("runs?match=build-*", "runs?match=build-%2A", ["build-1", "build-2"]),
    ],
    ids=["thread", "selection"],
)
def test_the_thread_and_selection_pages_work_under_a_proxy_path_prefix(
    proxied_hub: ProxiedHub, page: Page, dsn: str, tmp_path: Path, path: str, landed: str, threads: list[str]
) -> None:
    """Behind a proxy serving the hub under /logctl/, opened with ?token=: the page lands under the prefix with its
    session, loads its files, history and WebSocket there, shows a live record, links home under the prefix, and asks
    for nothing outside it, with no console error."""
    base = proxied_hub.base
    asked: list[str] = []
    sockets: list[str] = []
    console: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    for thread in [*threads, "other"]:
        _publish(proxied_hub, [{"seq": i, "thread_id": thread, "message": f"{thread} old {i}"} for i in range(3)], f"{thread}-p")
    wait_for_horizon(dsn, timeout=60)  # history serves rows below the xmin horizon only

    page.goto(f"{base}{path}&token={proxied_hub.reader}" if "?" in path else f"{base}{path}?token={proxied_hub.reader}")
    assert page.url == base + landed
    page.wait_for_function(f"() => window.logctlThread && window.logctlThread.view.records === {3 * len(threads)}")
    page.wait_for_function("() => document.getElementById('connection').dataset.kind === 'live'")
    assert page.evaluate("window.logctlThread.root") == base
    _publish(proxied_hub, [{"seq": 0, "thread_id": threads[-1], "message": "live through the proxy"}], "later")
    expect(page.locator("#log .row").filter(has_text="live through the proxy")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.logctlThread.view.records") == 3 * len(threads) + 1
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"  # style.css
    assert page.evaluate("getComputedStyle(document.body).overflow") == "hidden"  # thread.css
    assert page.locator("link[rel=icon]").evaluate("link => link.href") == f"{base}static/favicon.svg"
    page.screenshot(path=str(tmp_path / "behind-the-proxy.png"), animations="disabled", caret="hide")

    page.get_by_role("link", name="logctl").click()  # home: the runs page, under the prefix
    expect(page.locator("#runs tbody tr")).to_have_count(len(threads) + 1)
    assert page.url == base
    outside = [url for url in asked if not url.startswith(base)]
    assert asked and not outside, outside
    assert sockets == [f"ws://{base.removeprefix('http://')}ws"]
    assert all(p.startswith("/logctl/") for p in proxied_hub.proxy.paths), proxied_hub.proxy.paths
    assert "/logctl/ws" in proxied_hub.proxy.paths
    assert not console, console


