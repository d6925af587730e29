"""The browser session against a real hub in a real Chromium: a token in the URL once, then an HttpOnly cookie."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from helpers import LIVE_TIMEOUT_MS, HubProcess, open_page, other_origin_page, publish, recv_until, wait_until, wire_records
from logctl.tokens_file import create_token, revoke_token


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[Path, str, str]:
    """A tokens file with a read token ``viewer`` and a write token ``producer``."""
    path = tmp_path / "tokens.json"
    return path, create_token(path, "viewer", frozenset({"read"})), create_token(path, "producer", frozenset({"write"}))


@pytest.fixture
def secure_hub(dsn: str, cli_env: dict[str, str], tokens: tuple[Path, str, str]) -> Iterator[HubProcess]:
    """A real hub on loopback that needs the tokens of :func:`tokens`."""
    proc = HubProcess(dsn, cli_env, "--tokens-file", str(tokens[0]))
    yield proc
    proc.close()


@pytest.fixture
def other_origin() -> Iterator[str]:
    """Another origin on this machine (another port of 127.0.0.1): a plain page served by a tiny HTTP server."""
    with other_origin_page() as origin:
        yield origin


def _publish(hub: HubProcess, token: str, thread: str, start: int, stop: int) -> None:
    from websockets.sync.client import connect

    with connect(hub.url + "/ws", additional_headers={"Authorization": f"Bearer {token}"}) as conn:
        publish(conn, wire_records(thread, start, stop, "line {i}"))
        recv_until(conn, "ack")


def _refused(hub: HubProcess, token: str, reason: str) -> int:
    """The hub's count of access refusals for ``reason`` (read from /metrics with ``token``)."""
    request = urllib.request.Request(f"{hub.http}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    match = re.search(rf'^logctl_auth_refused_total{{reason="{reason}"}} (\d+)$', text, re.M)
    assert match, text
    return int(match.group(1))


def _status_with_cookie(hub: HubProcess, cookie: str) -> int:
    request = urllib.request.Request(f"{hub.http}/admin/runs", headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.timeout(90)
def test_a_token_in_the_url_once_then_the_cookie_opens_pages_api_and_websocket(
    secure_hub: HubProcess, tokens: tuple[Path, str, str], page: Page,
) -> None:
    """?token= sets an HttpOnly SameSite=Strict cookie that is not the token, the token leaves the address bar and
    history, and the cookie then serves the runs page, the history API and the live WebSocket."""
    _path, reader, writer = tokens
    _publish(secure_hub, writer, "job-1", 0, 3)
    open_page(page, secure_hub, "/")  # before the token: the page explains what to do
    expect(page.locator("#refusal")).to_have_attribute("data-code", "unauthorized")
    expect(page.locator("main")).to_contain_text("?token=")
    open_page(page, secure_hub, f"/?token={writer}")  # a token without the read scope opens no page
    expect(page.locator("#refusal")).to_contain_text("lacks the read scope")
    assert page.context.cookies() == []
    open_page(page, secure_hub, f"/?match=job-*&token={reader}")
    assert page.url == f"{secure_hub.http}/?match=job-%2A"
    assert reader not in page.evaluate("location.href + ' ' + document.referrer + ' ' + history.length")
    page.go_back()  # the 303 replaced the token's URL: one step back is the page before it
    assert page.url == f"{secure_hub.http}/?token={writer}"  # (refused: that token opened nothing)
    page.go_forward()
    assert page.url == f"{secure_hub.http}/?match=job-%2A"
    [cookie] = page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"], cookie["secure"]) == (
        f"logctl-{secure_hub.port}", True, "Strict", "/", False)
    assert reader not in cookie["value"] and cookie["value"].startswith("viewer.")
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    expect(page.locator("#runs tbody td.thread")).to_have_text("job-1")
    open_page(page, secure_hub, "/runs/job-1")  # history over HTTP, then live over the WebSocket, by the cookie alone
    expect(page.get_by_text("line 2", exact=True)).to_be_visible()
    _publish(secure_hub, writer, "job-1", 3, 4)
    expect(page.get_by_text("line 3", exact=True)).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    secure_hub.stop()
    logged = secure_hub.stderr()
    assert "refused GET '/'" in logged and reader not in logged and writer not in logged  # the hub never logs a token


@pytest.mark.timeout(90)
def test_revoking_the_token_ends_the_browser_session(secure_hub: HubProcess, tokens: tuple[Path, str, str], page: Page) -> None:
    """Once the token is revoked in the tokens file, its cookie opens nothing more, without a hub restart."""
    path, reader, _writer = tokens
    open_page(page, secure_hub, f"/?token={reader}")
    expect(page.locator("#summary")).to_have_text("0 threads")
    [cookie] = page.context.cookies()
    header = f"{cookie['name']}={cookie['value']}"
    assert _status_with_cookie(secure_hub, header) == 200
    ops = create_token(path, "ops", frozenset({"read"}))
    revoke_token(path, "viewer")
    wait_until(lambda: _status_with_cookie(secure_hub, header) == 401, timeout=15)
    open_page(page, secure_hub, "/")
    expect(page.locator("#refusal")).to_contain_text("no longer valid")
    assert _refused(secure_hub, ops, "bad_session") >= 2


@pytest.mark.timeout(90)
def test_another_origin_cannot_use_the_cookie(
    secure_hub: HubProcess, tokens: tuple[Path, str, str], page: Page, other_origin: str,
) -> None:
    """A page on another port of the same host, in the browser that holds the cookie, can neither read the API
    (CORS fetch with credentials: refused by Origin; no-cors fetch: refused by Sec-Fetch-Site) nor open the WebSocket;
    the hub's own page, in the same browser, can."""
    _path, reader, writer = tokens
    _publish(secure_hub, writer, "secret-thread", 0, 1)
    open_page(page, secure_hub, f"/?token={reader}")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    own = page.evaluate("fetch('/admin/runs').then(r => r.status)")
    assert own == 200  # the control: the cookie works from the hub's own origin
    origin_before = _refused(secure_hub, reader, "origin")
    session_before = _refused(secure_hub, reader, "cross_site_session")

    page.goto(other_origin + "/")
    attempts = page.evaluate(
        """async ([api, wsUrl]) => {
            const out = {};
            try {
                const r = await fetch(api, {credentials: "include"});
                out.cors = "status " + r.status + " " + (await r.text());
            } catch (e) { out.cors = "blocked"; }
            try {
                const r = await fetch(api, {credentials: "include", mode: "no-cors"});
                out.nocors = r.type + " " + (await r.text());
            } catch (e) { out.nocors = "blocked"; }
            out.ws = await new Promise((resolve) => {
                const s = new WebSocket(wsUrl);
                s.onopen = () => { resolve("opened"); s.close(); };
                s.onerror = () => resolve("refused");
                setTimeout(() => resolve("timeout"), 5000);
            });
            return out;
        }""",
        [f"{secure_hub.http}/admin/runs", f"ws://127.0.0.1:{secure_hub.port}/ws"],
    )
    assert attempts == {"cors": "blocked", "nocors": "blocked", "ws": "refused"}, attempts  # no-cors: also Cross-Origin-Resource-Policy
    # The hub itself refused each (not only the browser's CORS rules): two by Origin (fetch, WebSocket), one by Sec-Fetch-Site.
    assert _refused(secure_hub, reader, "origin") == origin_before + 2
    assert _refused(secure_hub, reader, "cross_site_session") == session_before + 1


@pytest.mark.timeout(90)
def test_the_session_outlives_a_hub_restart(
    secure_hub: HubProcess, tokens: tuple[Path, str, str], page: Page, cli_env: dict[str, str],
) -> None:
    """The session key is kept (0600) in LOGCTL_DATA_DIR, so the cookie still opens the page after the hub restarts."""
    _path, reader, _writer = tokens
    open_page(page, secure_hub, f"/?token={reader}")
    expect(page.locator("#summary")).to_have_text("0 threads")
    key = Path(cli_env["LOGCTL_DATA_DIR"]) / "session.key"
    assert key.stat().st_mode & 0o777 == 0o600 and reader not in key.read_text()
    assert secure_hub.stop() == 0
    secure_hub.start()  # the same port
    page.reload()
    expect(page.locator("#summary")).to_have_text("0 threads")
    key.unlink()  # a new key (after a restart) ends every session
    assert secure_hub.stop() == 0
    secure_hub.start()
    page.reload()
    expect(page.locator("#refusal")).to_contain_text("no longer valid")


@pytest.mark.timeout(60)
def test_over_tls_the_session_cookie_is_secure(dsn: str, cli_env: dict[str, str], tokens: tuple[Path, str, str], tmp_path: Path) -> None:
    """A hub serving https:// (a CA made in the test, verified) sets the session cookie with Secure, and the page answers over TLS."""
    import http.client
    import ssl

    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "hub.pem", tmp_path / "hub.key"
    certfile.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(keyfile))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    path, reader, _writer = tokens
    hub = HubProcess(dsn, cli_env, "--tokens-file", str(path), "--certfile", str(certfile), "--keyfile", str(keyfile))
    try:
        assert hub.secure
        conn = http.client.HTTPSConnection("127.0.0.1", hub.port, context=context, timeout=10)
        conn.request("GET", f"/runs/job-1?token={reader}")
        answer = conn.getresponse()
        answer.read()
        cookie = answer.getheader("Set-Cookie") or ""
        assert (answer.status, answer.getheader("Location")) == (303, "./job-1")
        assert cookie.endswith("; Path=/; HttpOnly; SameSite=Strict; Secure") and reader not in cookie
        conn.close()
        conn = http.client.HTTPSConnection("127.0.0.1", hub.port, context=context, timeout=10)
        conn.request("GET", "/runs/job-1", headers={"Cookie": cookie.split(";")[0]})
        page = conn.getresponse()
        assert page.status == 200 and b"thread" in page.read()
        assert f"wss://127.0.0.1:{hub.port}" in (page.getheader("Content-Security-Policy") or "")
        conn.close()
    finally:
        hub.close()
