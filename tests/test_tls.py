"""TLS end to end: `serve --certfile/--keyfile` and every client over wss:// and https://, verified against a
certificate authority made inside the test (trustme); never with verification turned off."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from websockets.exceptions import InvalidMessage
from websockets.sync.client import ClientConnection, connect

from helpers import HubProcess, collect, error_lines, publish, recv_json, recv_until, run_cli, wait_for_horizon, wire_records

UNTRUSTED_EXIT = 6


class Pki:
    """A test CA, the hub's certificate and key signed by it (for ``localhost`` and ``127.0.0.1``), and a stranger CA."""

    def __init__(self, root: Path, *names: str) -> None:
        root.mkdir(exist_ok=True)
        self.ca = trustme.CA()
        leaf = self.ca.issue_cert(*(names or ("localhost", "127.0.0.1")))
        self.certfile, self.keyfile, self.cafile = root / "hub.pem", root / "hub.key", root / "ca.pem"
        self.certfile.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(self.keyfile))
        self.ca.cert_pem.write_to_path(str(self.cafile))
        self.stranger = root / "stranger-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(self.stranger))
        self.other_key, self.encrypted_key = root / "other.key", root / "encrypted.key"
        self.ca.issue_cert("localhost").private_key_pem.write_to_path(str(self.other_key))
        key = serialization.load_pem_private_key(self.keyfile.read_bytes(), password=None)
        self.encrypted_key.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret"),
        ))

    def context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA (and verifies host names, as by default)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def serve_args(self) -> tuple[str, ...]:
        return ("--certfile", str(self.certfile), "--keyfile", str(self.keyfile))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@pytest.fixture
def tls_hub(dsn: str, cli_env: dict[str, str], pki: Pki) -> Iterator[HubProcess]:
    """A real hub serving wss:// and https:// with the test CA's certificate."""
    proc = HubProcess(dsn, cli_env, *pki.serve_args())
    yield proc
    proc.close()


def _wss(hub: HubProcess, pki: Pki) -> ClientConnection:
    return connect(hub.url + "/ws", ssl=pki.context(), max_size=None, close_timeout=10)


def _get(url: str, pki: Pki) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=10, context=pki.context()) as resp:
        return resp.status, json.loads(resp.read())


def _env(cli_env: dict[str, str], hub: HubProcess, cafile: Path | None) -> dict[str, str]:
    env = {k: v for k, v in cli_env.items() if k not in ("LOGCTL_CACERT", "SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["LOGCTL_SERVER"] = hub.url
    if cafile is not None:
        env["LOGCTL_CACERT"] = str(cafile)
    return env


def _one_line(stderr: str, fragment: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in stderr, stderr
    return lines[0]


def test_the_full_path_over_tls(tls_hub: HubProcess, pki: Pki, dsn: str) -> None:
    """Over wss:// and https://: publish, ack after commit, live records to a subscriber, history, the thread list."""
    assert tls_hub.secure and tls_hub.url.startswith("wss://")
    with _wss(tls_hub, pki) as watcher, _wss(tls_hub, pki) as producer:
        watcher.send(json.dumps({"type": "subscribe", "thread_id": "tls"}))
        assert recv_until(watcher, "subscribed")["thread_id"] == "tls"
        publish(producer, wire_records("tls", 0, 3), producer="p-tls", ref=1)
        ack = recv_until(producer, "ack", timeout=30)
        assert (ack["ref"], ack["accepted"], ack["upto"]) == (1, 3, 2)
        assert [r["message"] for r in collect(watcher, 3, timeout=60)] == ["r0", "r1", "r2"]
    status, body = _get(f"{tls_hub.http}/admin/runs/tls/logs", pki)
    assert status == 200 and [r["message"] for r in body["logs"]] == ["r0", "r1", "r2"]
    status, body = _get(f"{tls_hub.http}/admin/runs", pki)
    assert status == 200 and [r["thread_id"] for r in body["runs"]] == ["tls"]
    status, health = _get(f"{tls_hub.http}/healthz", pki)
    assert status == 200 and health["status"] == "ok"


def test_send_tail_and_threads_over_tls_with_logctl_cacert(tls_hub: HubProcess, pki: Pki, cli_env: dict[str, str], dsn: str) -> None:
    """send over wss://, then tail --no-follow --json, tail --plain (following) and threads over https://, trusting LOGCTL_CACERT."""
    env = _env(cli_env, tls_hub, pki.cafile)
    sent = run_cli(["send", "t1", "over tls"], env)
    assert sent.returncode == 0, sent.stderr
    wait_for_horizon(dsn, timeout=60)
    shown = run_cli(["tail", "t1", "--no-follow", "--json"], env)
    assert shown.returncode == 0, shown.stderr
    assert [json.loads(line)["message"] for line in shown.stdout.splitlines()] == ["over tls"]
    listed = run_cli(["threads", "--json", "--server", tls_hub.http], env)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["thread_id"] for line in listed.stdout.splitlines()] == ["t1"]
    follow = subprocess.Popen(
        [sys.executable, "-m", "logctl", "tail", "t1", "--plain", "--time", "utc"], env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert follow.stdout is not None
        assert "over tls" in follow.stdout.readline()
        again = run_cli(["send", "t1", "live over tls"], env)
        assert again.returncode == 0, again.stderr
        assert "live over tls" in follow.stdout.readline()  # the live stream over wss://, after the history
    finally:
        follow.send_signal(signal.SIGINT)
        follow.communicate(timeout=30)


PRODUCER = textwrap.dedent("""
    import json, sys
    from logctl import producer
    for i in range(5):
        producer.emit_log(f"m{i}", thread_id="p-tls")
    producer.flush_logs(float(sys.argv[1]))
    s = producer.producer_stats()
    print(json.dumps({"committed": s.committed, "last_error": s.last_error}))
""")


def _producer(env: dict[str, str], timeout: float) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-c", PRODUCER, str(timeout)], env=env, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_the_producer_api_ships_over_tls(tls_hub: HubProcess, pki: Pki, cli_env: dict[str, str]) -> None:
    """emit_log to a wss:// LOGCTL_SERVER, trusting LOGCTL_CACERT, delivers every record."""
    stats, stderr = _producer(_env(cli_env, tls_hub, pki.cafile), 30)
    assert stats == {"committed": 5, "last_error": None}, stderr


@pytest.mark.parametrize("trust", ["system", "stranger"])
def test_an_untrusted_certificate_is_refused_in_one_line_without_retrying(
    tls_hub: HubProcess, pki: Pki, cli_env: dict[str, str], trust: str
) -> None:
    """Trusting only the system's CAs, or another CA: send, tail (following) and threads exit 6 with one line at once."""
    env = _env(cli_env, tls_hub, None if trust == "system" else pki.stranger)
    for args in (["send", "t1", "x", "--timeout", "3600"], ["tail", "t1", "--plain"], ["threads", "--server", tls_hub.http]):
        done = run_cli(args, env, timeout=60)
        assert done.returncode == UNTRUSTED_EXIT, (args, done.stderr)
        line = _one_line(done.stderr, "the hub's certificate is not trusted: ")
        assert "unable to get local issuer certificate" in line
        assert ("LOGCTL_CACERT" in line) and (trust == "system" or str(pki.stranger) in line)


def test_the_producer_api_stops_at_an_untrusted_certificate(tls_hub: HubProcess, pki: Pki, cli_env: dict[str, str]) -> None:
    """A producer that does not trust the hub's CA says so once, keeps it in last_error and stops (flush returns at once)."""
    stats, stderr = _producer(_env(cli_env, tls_hub, pki.stranger), 3600)
    assert stats["committed"] == 0 and "the hub's certificate is not trusted" in str(stats["last_error"])
    assert stderr.count("not retrying") == 1, stderr


def test_a_certificate_for_another_name_is_refused(dsn: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    """A hub whose certificate names only hub.example, reached as 127.0.0.1 with the right CA: exit 6, naming the mismatch."""
    pki = Pki(tmp_path / "pki", "hub.example")
    hub = HubProcess(dsn, cli_env, *pki.serve_args())
    try:
        done = run_cli(["send", "t1", "x", "--timeout", "3600"], _env(cli_env, hub, pki.cafile), timeout=60)
        assert done.returncode == UNTRUSTED_EXIT, done.stderr
        assert "mismatch" in _one_line(done.stderr, "the hub's certificate is not trusted: ")
    finally:
        hub.kill()


def test_spool_replay_over_tls(tls_hub: HubProcess, pki: Pki, cli_env: dict[str, str], tmp_path: Path, dsn: str) -> None:
    """`spool replay` to a wss:// hub: untrusted, it exits 6 and keeps every segment; trusting LOGCTL_CACERT, it ships them all."""
    from test_spool_crash import counts, crash, dead_url, producer_env

    spool = tmp_path / "spool"
    crash(producer_env(cli_env, spool, LOGCTL_SERVER=dead_url()), 10)
    before = sorted(os.listdir(spool))
    refused = run_cli(["spool", "replay", str(spool), "--server", tls_hub.url, "--timeout", "3600"], _env(cli_env, tls_hub, pki.stranger), timeout=60)
    assert refused.returncode == UNTRUSTED_EXIT, refused.stderr
    assert error_lines(refused.stderr) and "the hub's certificate is not trusted" in error_lines(refused.stderr)[0]
    assert sorted(os.listdir(spool)) == before
    shipped = run_cli(["spool", "replay", str(spool), "--server", tls_hub.url, "--timeout", "60"], _env(cli_env, tls_hub, pki.cafile), timeout=90)
    assert shipped.returncode == 0, shipped.stderr
    assert counts(dsn) == (10, 10)


def test_plain_clients_at_a_tls_port_fail_cleanly_and_disturb_no_one(tls_hub: HubProcess, pki: Pki, cli_env: dict[str, str]) -> None:
    """ws://, http://, garbage bytes and a client that rejects the certificate, all at the TLS port: each fails at once,
    and a subscribed canary still gets the next record."""
    with _wss(tls_hub, pki) as canary:
        canary.send(json.dumps({"type": "subscribe", "thread_id": "canary", "cursor": "now"}))
        recv_until(canary, "subscribed")
        plain = f"ws://127.0.0.1:{tls_hub.port}"
        with pytest.raises(InvalidMessage):
            connect(plain + "/ws", open_timeout=10).close()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{tls_hub.port}/healthz", timeout=10)
        with socket.create_connection(("127.0.0.1", tls_hub.port), timeout=10) as raw:
            raw.sendall(b"\x16\x03\x01\xff\xff" + os.urandom(2048))  # a TLS record header that lies, then noise
            assert raw.recv(4096) is not None  # the hub answers with an alert or just closes; it does not hang
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(tls_hub.url + "/ws", ssl=ssl.create_default_context(cafile=str(pki.stranger)), open_timeout=10).close()
        sent = run_cli(["send", "t1", "x", "--server", plain, "--timeout", "2"], _env(cli_env, tls_hub, pki.cafile), timeout=60)
        assert sent.returncode == 4 and "use a wss:// or https:// URL" in error_lines(sent.stderr)[0], sent.stderr
        with _wss(tls_hub, pki) as producer:
            publish(producer, wire_records("canary", 0, 1, "still here"), producer="p-canary", ref=1)
            recv_until(producer, "ack", timeout=30)
        assert [r["message"] for r in collect(canary, 1, timeout=60)] == ["still here"]
        canary.send(json.dumps({"type": "ping", "ref": 7}))
        assert recv_until(canary, "pong")["ref"] == 7
    assert tls_hub.stop() == 0
    assert "Traceback" not in tls_hub.stderr()


REFUSALS: dict[str, tuple[Callable[[Pki], tuple[str, ...]], str]] = {
    "missing certificate": (lambda p: ("--certfile", str(p.certfile) + ".nope", "--keyfile", str(p.keyfile)), "cannot read --certfile"),
    "missing key": (lambda p: ("--certfile", str(p.certfile), "--keyfile", str(p.keyfile) + ".nope"), "cannot read --keyfile"),
    "mismatched key": (lambda p: ("--certfile", str(p.certfile), "--keyfile", str(p.other_key)), "does not match the certificate"),
    "key as certificate": (lambda p: ("--certfile", str(p.keyfile), "--keyfile", str(p.certfile)), "holds no PEM certificate"),
    "no key at all": (lambda p: ("--certfile", str(p.certfile)), "holds no PEM private key"),
    "key without certificate": (lambda p: ("--keyfile", str(p.keyfile)), "--keyfile needs --certfile"),
    "encrypted key": (lambda p: ("--certfile", str(p.certfile), "--keyfile", str(p.encrypted_key)), "is encrypted"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_serve_refuses_an_unusable_certificate_or_key_in_one_line(pki: Pki, dsn: str, cli_env: dict[str, str], case: str) -> None:
    """A missing, mismatched, misplaced or encrypted certificate or key: serve exits 2 with one line naming the file, before it listens."""
    args, fragment = REFUSALS[case]
    done = run_cli(["serve", "--port", "0", "--database-url", dsn, *args(pki)], cli_env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert fragment in _one_line(done.stderr, "logctl: error: "), done.stderr
    assert done.stdout == ""


def test_a_browser_session_made_over_tls_has_a_secure_cookie(dsn: str, cli_env: dict[str, str], pki: Pki, tmp_path: Path) -> None:
    """Over https://, ?token= answers 303 with a Secure HttpOnly cookie (the hub knows the request came over TLS),
    and that cookie opens the API over https://."""
    import http.client

    from logctl.tokens_file import create_token

    tokens = tmp_path / "tokens.json"
    reader = create_token(tokens, "viewer", frozenset({"read"}))
    hub = HubProcess(dsn, cli_env, "--tokens-file", str(tokens), *pki.serve_args())
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", hub.port, timeout=10, context=pki.context())
        conn.request("GET", f"/?token={reader}")
        answer = conn.getresponse()
        answer.read()
        cookie = answer.getheader("Set-Cookie") or ""
        assert answer.status == 303 and "; HttpOnly" in cookie and cookie.endswith("; Secure"), (answer.status, cookie)
        assert reader not in cookie
        conn.request("GET", "/admin/runs", headers={"Cookie": cookie.split(";", 1)[0]})
        listed = conn.getresponse()
        assert listed.status == 200 and json.loads(listed.read())["runs"] == []
        conn.close()
    finally:
        hub.kill()


def test_the_hub_sends_no_tls_session_tickets(pki: Pki) -> None:
    """The server context sends no TLS 1.3 session tickets (with them, asyncio's TLS stalled some handshakes: see hub/tls.py)."""
    from logctl.hub.tls import server_context

    context = server_context(str(pki.certfile), str(pki.keyfile))
    assert context is not None and context.num_tickets == 0 and context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.timeout(300)
def test_many_short_tls_connections_in_a_row_all_open(tls_hub: HubProcess, pki: Pki) -> None:
    """600 WebSocket connections over TLS 1.3, opened and closed one after another, all open: none waits out the hub's open
    timeout (with session tickets on, about 1 in 300 did), and the hub is still serving afterwards."""
    context = pki.context()
    failures = []
    for i in range(600):
        try:
            with connect(tls_hub.url + "/ws", ssl=context, compression=None, open_timeout=60) as conn:
                if i % 100 == 0:
                    assert conn.socket.version() == "TLSv1.3"  # type: ignore[attr-defined]
        except (OSError, InvalidMessage) as exc:
            failures.append(f"{i}: {exc!r}")
    assert failures == []
    status, health = _get(f"{tls_hub.http}/healthz", pki)
    assert status == 200
