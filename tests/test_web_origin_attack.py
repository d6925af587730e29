"""The issue's attack, in a real Chromium: a page on another origin against a hub on loopback with no tokens.

A hub that needs no token (the README's loopback default) has only the Origin and Host checks
between it and every web page the user opens. A page on another origin tries to open the
WebSocket, subscribe, publish and fetch history; a page on an ``--allow-origin`` origin runs
the same script as the control; a DNS-rebinding page (its own name resolving to 127.0.0.1)
meets the Host check.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from websockets.sync.client import connect

from helpers import CHROMIUM_ARGS, BROWSER_TIMEOUT_MS, HubProcess, chromium_path, other_origin_page, publish, query, recv_until, wire_records


@pytest.fixture
def origins() -> Iterator[tuple[str, str]]:
    """Two more origins on this machine (other ports of 127.0.0.1), each serving a plain page: (foreign, allowed)."""
    with other_origin_page() as foreign, other_origin_page() as allowed:
        yield foreign, allowed


#: What the page tries: the WebSocket (subscribe to the victim's thread, publish into another), then history.
ATTACK = """async ([wsUrl, api]) => {
    const out = {};
    out.ws = await new Promise((resolve) => {
        const seen = [];
        const s = new WebSocket(wsUrl);
        s.onopen = () => {
            s.send(JSON.stringify({type: "subscribe", thread_id: "victim"}));
            s.send(JSON.stringify({type: "publish", producer: "page", ref: 1,
                                   records: [{seq: 0, thread_id: "planted", message: "written by a web page"}]}));
        };
        s.onmessage = (m) => {
            const frame = JSON.parse(m.data);
            seen.push(frame.type === "records" ? "records:" + frame.records.map(r => r.message).join("|") : frame.type);
            if (seen.includes("ack") && seen.some(x => x.startsWith("records:"))) { s.close(); resolve("opened " + seen.join(",")); }
        };
        s.onerror = () => resolve("refused");
        setTimeout(() => resolve("timeout " + seen.join(",")), 10000);
    });
    try {
        const r = await fetch(api);
        out.history = "status " + r.status + " " + (await r.text());
    } catch (e) { out.history = "blocked"; }
    return out;
}"""


def _refused(hub: HubProcess, reason: str) -> int:
    """The hub's count of refusals for ``reason`` (its /metrics is open: the hub has no tokens)."""
    with urllib.request.urlopen(f"{hub.http}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf'^logctl_auth_refused_total{{reason="{reason}"}} (\d+)$', text, re.M)
    assert match, text
    return int(match.group(1))


def _rows(dsn: str) -> list[tuple[object, ...]]:
    return query(dsn, "SELECT thread_id, message, producer_id FROM thread_logs ORDER BY id")


@pytest.mark.timeout(120)
def test_a_page_on_another_origin_can_neither_read_nor_write_an_open_loopback_hub(
    dsn: str, cli_env: dict[str, str], page: Page, origins: tuple[str, str],
) -> None:
    """A page on another origin, in Chromium, against a hub with no tokens: its WebSocket (subscribe and publish) and its
    history fetch are refused by the hub's Origin check, and the hub's data is unchanged; the same script from an
    --allow-origin origin opens the WebSocket, reads the thread and writes one (the control)."""
    foreign, allowed = origins
    hub = HubProcess(dsn, cli_env, "--allow-origin", allowed)
    try:
        with connect(hub.url + "/ws") as producer:  # a non-browser client (no Origin): the hub's own data
            publish(producer, wire_records("victim", 0, 1, "a secret in the logs"), producer="owner", ref=1)
            recv_until(producer, "ack", timeout=30)
        before = _rows(dsn)
        assert before == [("victim", "a secret in the logs", "owner")]
        refused_before = _refused(hub, "origin")
        target = [f"ws://127.0.0.1:{hub.port}/ws", f"{hub.http}/admin/runs/victim/logs"]

        page.goto(foreign + "/")
        attack: dict[str, Any] = page.evaluate(ATTACK, target)
        assert attack == {"ws": "refused", "history": "blocked"}, attack
        assert _refused(hub, "origin") == refused_before + 2  # the hub refused both (not only the browser's CORS rules)
        assert _rows(dsn) == before  # nothing was written, and nothing was read (the socket never opened)

        page.goto(allowed + "/")
        control: dict[str, Any] = page.evaluate(ATTACK, target)
        assert control["ws"].startswith("opened ") and "records:a secret in the logs" in control["ws"], control
        assert "ack" in control["ws"], control
        # No CORS headers, so the browser hides the answer from any other origin, but the hub itself did not refuse it.
        assert control["history"] == "blocked" and _refused(hub, "origin") == refused_before + 2
        assert ("planted", "written by a web page") in [row[:2] for row in _rows(dsn)]
    finally:
        hub.kill()


@pytest.fixture
def rebinding_browser(browser: Browser) -> Iterator[Browser]:
    """A Chromium of its own (from the session's Playwright) whose resolver maps rebind.example to 127.0.0.1, as a
    DNS-rebinding attacker's name would."""
    launched = browser.browser_type.launch(
        executable_path=chromium_path(), args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.example 127.0.0.1"], timeout=60_000,
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.mark.timeout(120)
def test_a_dns_rebinding_page_meets_the_host_check(dsn: str, cli_env: dict[str, str], rebinding_browser: Browser) -> None:
    """A page whose own name resolves to 127.0.0.1 (rebind.example:PORT) is same-origin with the hub's port, so Origin
    cannot stop it: the hub refuses its page, history and WebSocket for their Host, and nothing is read or written."""
    hub = HubProcess(dsn, cli_env)
    try:
        with connect(hub.url + "/ws") as producer:
            publish(producer, wire_records("victim", 0, 1, "a secret in the logs"), producer="owner", ref=1)
            recv_until(producer, "ack", timeout=30)
        before = _rows(dsn)
        host_before = _refused(hub, "host")
        context = rebinding_browser.new_context()
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        page = context.new_page()
        response = page.goto(f"http://rebind.example:{hub.port}/")
        assert response is not None and response.status == 403
        assert "host" in page.content().lower()
        attack: dict[str, Any] = page.evaluate(ATTACK, [f"ws://rebind.example:{hub.port}/ws", "/admin/runs/victim/logs"])
        assert attack["ws"] == "refused" and attack["history"].startswith("status 403 "), attack
        assert "a secret in the logs" not in attack["history"]
        # the page, the WebSocket and the history fetch (and Chromium's own /favicon.ico, when it asks)
        assert _refused(hub, "host") >= host_before + 3
        assert _rows(dsn) == before
        context.close()
    finally:
        hub.kill()
