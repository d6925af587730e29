"""One hub address (config.HubAddress): parsing, and a path prefix kept end to end behind a real proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import HubProcess, query, run_cli, wait_for_horizon
from prefix_proxy import PrefixProxy

from logctl.config import HubAddress
from logctl.errors import ConfigError
from logctl.tail.client import TailClient


@pytest.mark.parametrize(
    ("given", "ws_url", "http_base"),
    [
        ("ws://h:1", "ws://h:1/ws", "http://h:1"),
        ("ws://h:1/", "ws://h:1/ws", "http://h:1"),
        ("ws://h:1/ws", "ws://h:1/ws", "http://h:1"),
        ("http://h:1", "ws://h:1/ws", "http://h:1"),
        ("https://h", "wss://h/ws", "https://h"),
        ("wss://host/prefix/ws", "wss://host/prefix/ws", "https://host/prefix"),
        ("wss://host/prefix/ws/", "wss://host/prefix/ws", "https://host/prefix"),
        ("ws://host/a/b", "ws://host/a/b/ws", "http://host/a/b"),
        ("ws://[::1]:8765/logs/ws", "ws://[::1]:8765/logs/ws", "http://[::1]:8765/logs"),
    ],
)
def test_a_hub_url_gives_the_websocket_url_and_an_http_base_with_its_prefix(given: str, ws_url: str, http_base: str) -> None:
    """Every accepted form names the same endpoints: a path before /ws is a prefix kept for HTTP too."""
    address = HubAddress.parse(given)
    assert (address.ws_url, address.http_base) == (ws_url, http_base)
    assert str(address) == given.rstrip("/")
    assert address.http_url("/admin/runs/t/logs", "limit=1") == f"{http_base}/admin/runs/t/logs?limit=1"


@pytest.mark.parametrize("given", ["ftp://h", "h:1", "ws://", "ws://h:99999", "ws://h:1/ws?x=1", "ws://h#f", ""])
def test_anything_else_is_a_config_error(given: str) -> None:
    """Other schemes, no host, a bad port, a query or a fragment are ConfigError, naming the URL."""
    with pytest.raises(ConfigError, match="hub URL"):
        HubAddress.parse(given)


def test_tls_and_the_token_have_their_slots() -> None:
    """wss gets an SSL context (with the given CA file), ws none; a token becomes a bearer header and stays out of repr."""
    assert HubAddress.parse("ws://h:1").ssl_context() is None
    assert HubAddress.parse("wss://h").ssl_context() is not None
    assert HubAddress.parse("ws://h:1").headers() == {}
    secret = HubAddress.parse("ws://h:1", token="s3cret")
    assert secret.headers() == {"Authorization": "Bearer s3cret"}
    assert "s3cret" not in repr(secret)
    with pytest.raises(ConfigError, match=r"cannot load the CA certificates in /nonexistent/ca.pem \(LOGCTL_CACERT\)"):
        HubAddress.parse("wss://h", cafile="/nonexistent/ca.pem").ssl_context()


def test_logctl_cacert_is_the_ca_file_of_a_tls_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """resolve_hub takes LOGCTL_CACERT as the CA file; one that does not hold a certificate is a ConfigError at once, for wss only."""
    import trustme

    from logctl.config import resolve_hub

    ca = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca))
    monkeypatch.setenv("LOGCTL_CACERT", str(ca))
    address = resolve_hub("wss://hub.example/ws")
    assert address.cafile == str(ca) and address.ssl_context() is not None
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    monkeypatch.setenv("LOGCTL_CACERT", str(tmp_path / "junk.pem"))
    with pytest.raises(ConfigError, match="junk.pem"):
        resolve_hub("wss://hub.example/ws")
    assert resolve_hub("ws://127.0.0.1:1").ssl_context() is None  # a plain hub never reads it


def test_the_tail_client_puts_history_behind_the_prefix() -> None:
    """TailClient asks for history under the same prefix as its stream (issue 7: it dropped it)."""
    client = TailClient("wss://host/prefix/ws", "build 1")
    assert client.ws_url == "wss://host/prefix/ws"
    assert client.history_url == "https://host/prefix/admin/runs/build%201/logs"


@pytest.fixture
def proxy(hub: HubProcess) -> Iterator[PrefixProxy]:
    p = PrefixProxy(hub.port)
    yield p
    p.close()


@pytest.mark.parametrize("form", ["ws://127.0.0.1:{port}/pfx/ws", "http://127.0.0.1:{port}/pfx"])
def test_send_and_tail_work_through_a_path_prefixed_proxy(
    dsn: str, cli_env: dict[str, str], proxy: PrefixProxy, form: str
) -> None:
    """Behind a proxy serving the hub under /pfx, send reaches the stream and tail --no-follow reads history."""
    server = form.format(port=proxy.port)
    sent = run_cli(["send", "behind", "--server", server], cli_env, input="one\ntwo\n")
    assert sent.returncode == 0, sent.stderr
    assert query(dsn, "SELECT message FROM thread_logs ORDER BY seq") == [("one",), ("two",)]
    wait_for_horizon(dsn, timeout=60)  # history serves rows below the xmin horizon only (docs/protocol.md#cursors)
    shown = run_cli(["tail", "behind", "--no-follow", "--plain", "--server", server], cli_env)
    assert shown.returncode == 0, shown.stderr
    assert [line.rsplit(" ", 1)[-1] for line in shown.stdout.splitlines()] == ["one", "two"]
    assert any(p.startswith("/pfx/admin/runs/behind/logs?") for p in proxy.paths)
    assert all(p.startswith("/pfx/") for p in proxy.paths)
