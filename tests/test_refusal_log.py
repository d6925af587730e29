"""A flood of refusals does not flood the hub's log: the pure budget (core.refusal_log), and a real hub under a flood."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from helpers import HubProcess, examples, publish, recv_until, wire_records
from logctl.core.refusal_log import OTHER_PEERS, RefusalLog, Suppressed, Verdict
from logctl.tokens_file import create_token


def test_the_first_lines_are_logged_then_counted_then_summed_up_once() -> None:
    """Three lines a minute: refusals 1-3 are logged, 4-6 counted; the next one after the minute logs the summary of 3 first."""
    log = RefusalLog(lines=3, interval=60)
    assert [log.refused("10.0.0.1", t).log for t in range(6)] == [True, True, True, False, False, False]
    assert log.due(59.9) == []
    assert log.refused("10.0.0.1", 60.0) == Verdict(True, Suppressed("10.0.0.1", 3, 60.0))
    assert log.due(200) == []  # the new window suppressed nothing: no summary


def test_peers_have_budgets_of_their_own() -> None:
    """One peer's flood does not silence another peer's first refusals."""
    log = RefusalLog(lines=1, interval=60)
    assert [log.refused("a", 0).log for _ in range(5)] == [True, False, False, False, False]
    assert log.refused("b", 1).log
    assert log.due(61) == [Suppressed("a", 4, 61)]
    assert log.peers == 0


def test_peers_past_the_cap_share_one_window() -> None:
    """With max_peers tracked, further peers share the OTHER_PEERS budget, so memory stays bounded."""
    log = RefusalLog(lines=1, interval=60, max_peers=2)
    for peer in ("a", "b"):
        log.refused(peer, 0)
    assert [log.refused(f"new{i}", 1).log for i in range(4)] == [True, False, False, False]
    assert log.peers == 3
    assert log.close(2) == [Suppressed(OTHER_PEERS, 3, 1)]
    assert log.peers == 0


def test_bad_settings_are_refused() -> None:
    """A non-positive interval, negative lines or no peers at all is a ValueError naming them."""
    for kwargs in ({"interval": 0}, {"lines": -1}, {"max_peers": 0}):
        with pytest.raises(ValueError, match="RefusalLog needs"):
            RefusalLog(**kwargs)


events = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.floats(min_value=0, max_value=30), st.booleans()),
    max_size=300,
)


def _most_in_a_span(times: list[float], span: float) -> int:
    """The most of ``times`` (sorted) that lie within any half-open span of ``span`` seconds."""
    return max((len([t for t in times[i:] if t - start < span]) for i, start in enumerate(times)), default=0)


@settings(max_examples=examples(300), deadline=None)
@given(events, st.integers(min_value=0, max_value=4), st.integers(min_value=1, max_value=6))
def test_every_refusal_is_logged_or_summed_exactly_once(script: list[tuple[str, float, bool]], lines: int, max_peers: int) -> None:
    """Any refusals over time, with sweeps between: each is logged or in exactly one summary, and the lines logged in any
    interval are bounded: 2 x lines per peer (two windows can meet in it), 2 x lines x (max_peers + 1) in all."""
    interval = 10.0
    log = RefusalLog(lines=lines, interval=interval, max_peers=max_peers)
    now = 0.0
    logged: dict[str, list[float]] = {}
    summed = 0
    for peer, step, sweep in script:
        now += step
        if sweep:
            summed += sum(s.count for s in log.due(now))
        verdict = log.refused(peer, now)
        if verdict.summary is not None:
            assert verdict.summary.count > 0 and verdict.summary.seconds >= interval
            summed += verdict.summary.count
        if verdict.log:
            logged.setdefault(peer, []).append(now)
        assert log.peers <= max_peers + 1
    summed += sum(s.count for s in log.close(now))
    assert sum(len(v) for v in logged.values()) + summed == len(script)
    assert _most_in_a_span(sorted(t for v in logged.values() for t in v), interval) <= 2 * lines * (max_peers + 1)
    if max_peers >= 5:  # every peer has a window of its own
        for times in logged.values():
            assert _most_in_a_span(times, interval) <= 2 * lines


# -- a real hub -----------------------------------------------------------------------------


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "tokens.json"
    return {"path": str(path), "both": create_token(path, "both", frozenset({"read", "write"}))}


@pytest.fixture
def secure_hub(dsn: str, cli_env: dict[str, str], tokens: dict[str, str]) -> Iterator[HubProcess]:
    proc = HubProcess(dsn, cli_env, "--tokens-file", tokens["path"])
    yield proc
    proc.close()


FLOOD = 300


def test_a_flood_of_bad_tokens_logs_ten_lines_and_one_summary_and_counts_them_all(
    secure_hub: HubProcess, tokens: dict[str, str]
) -> None:
    """300 refusals from one address (HTTP and handshakes, wrong and missing tokens): 10 lines and one summary of 290 in the log,
    300 in /metrics, and a canary subscriber is served throughout."""
    bearer = {"Authorization": f"Bearer {tokens['both']}"}
    with connect(secure_hub.url + "/ws", additional_headers=bearer, max_size=None) as canary, \
            connect(secure_hub.url + "/ws", additional_headers=bearer) as producer:
        canary.send(json.dumps({"type": "subscribe", "thread_id": "canary", "cursor": "now"}))
        recv_until(canary, "subscribed")

        def flood(part: int) -> None:
            for i in range(FLOOD // 3):
                if i % 2:
                    request = urllib.request.Request(f"{secure_hub.http}/admin/runs/t/logs", headers={"Authorization": f"Bearer lgt_bad{part}{i}"})
                    with pytest.raises(urllib.error.HTTPError):
                        urllib.request.urlopen(request, timeout=10)
                else:
                    with pytest.raises(InvalidStatus):
                        connect(secure_hub.url + "/ws", open_timeout=10).close()

        workers = [threading.Thread(target=flood, args=(part,)) for part in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        publish(producer, wire_records("canary", 0, 1, "still served"), producer="p-canary", ref=1)
        recv_until(producer, "ack", timeout=30)
        got = recv_until(canary, "records", timeout=60)
        assert [r["message"] for r in got["records"]] == ["still served"]
    with urllib.request.urlopen(urllib.request.Request(f"{secure_hub.http}/metrics", headers=bearer), timeout=10) as resp:
        metrics = resp.read().decode()
    counted = sum(int(m) for m in re.findall(r'^logctl_auth_refused_total\{reason="(?:missing|bad)_token"\} (\d+)$', metrics, re.M))
    assert counted == FLOOD
    assert secure_hub.stop() == 0
    stderr = secure_hub.stderr()
    refused = [line for line in stderr.splitlines() if line.startswith("logctl.hub.access: refused ")]
    summaries = [line for line in stderr.splitlines() if "more refusals from" in line]
    assert len(refused) == 10, stderr
    assert len(summaries) == 1, stderr
    assert summaries[0].startswith(f"logctl.hub.access: suppressed {FLOOD - 10} more refusals from 127.0.0.1 in the last ")
    assert summaries[0].endswith(" s (all counted in logctl_auth_refused_total)")
    assert tokens["both"] not in stderr
