"""The page's merge (static/merge.js) follows core/merge.py exactly: the same vectors, the same answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers import HubProcess, open_page
from merge_vectors import FIXTURE, generate, replay

VECTORS: list[dict[str, Any]] = json.loads(FIXTURE.read_text("utf-8"))["vectors"]

#: Runs each vector's steps through merge.js and returns, per step, what it answered
#: (records as JSON text, BigInts written as integers), in the shape of merge_vectors.apply.
REPLAY_JS = """
async (text) => {
  const { StreamMerge, Cursor } = await import("/static/merge.js");
  const { parseJSON, toJSON } = await import("/static/wire.js");
  const vectors = parseJSON(text).vectors;
  const str = (c) => (c === null ? null : c.toString());
  const results = [];
  for (const vector of vectors) {
    const init = vector.init;
    const merge = new StreamMerge(init.cursor, { recentKeys: init.recent_keys, pendingKeys: init.pending_keys });
    const answers = [];
    for (const step of vector.steps) {
      const answer = {};
      if (step.op === "history") answer.out = merge.history(step.page);
      else if (step.op === "older") answer.out = merge.older(step.page);
      else if (step.op === "live") answer.out = merge.live(step.records, step.pending);
      else if (step.op === "advance") merge.advance(Cursor.parse(step.cursor));
      else if (step.op === "begin_catch_up") merge.beginCatchUp();
      else if (step.op === "end_catch_up") answer.marker = merge.endCatchUp().text;
      else if (step.op === "unloaded") merge.unloaded(step.records, step.oldest);
      else throw new Error("unknown op " + step.op);
      answer.state = {
        cursor: str(merge.cursor), before: str(merge.before), oldest: str(merge.oldest),
        has_history: merge.hasHistory, shown: merge.shown, dropped: merge.dropped,
      };
      answers.push(answer);
    }
    results.push(answers);
  }
  return toJSON(results);
}
"""


def expected(vector: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers written in the fixture for each step of ``vector``."""
    return [{k: step[k] for k in ("out", "marker", "state") if k in step} for step in vector["steps"]]


def test_the_fixture_is_current() -> None:
    """Python's StreamMerge still answers every step of every vector as the fixture says (else: python tests/merge_vectors.py)."""
    assert len(VECTORS) >= 100
    for vector in VECTORS:
        assert replay(vector) == expected(vector), f"{vector['name']} is stale: run python tests/merge_vectors.py"


def test_the_vectors_cover_every_rule() -> None:
    """The vectors exercise each rule: overlaps dropped, pending replaced, early frames, older pages, unloads, keys past 2^53."""
    steps = [step for vector in VECTORS for step in vector["steps"]]
    ops = {step["op"] for step in steps}
    assert ops == {"history", "older", "live", "advance", "begin_catch_up", "end_catch_up", "unloaded"}
    assert any(step["op"] == "live" and step["pending"] and step["out"] for step in steps)
    assert any(step["op"] == "history" and len(step["out"]) > len(step["page"]["logs"]) for step in steps), "no early frame"
    markers = {step["marker"] for step in steps if step["op"] == "end_catch_up"}
    assert any(m.startswith("reconnected: 1 record ") for m in markers) and "reconnected: 0 records caught up" in markers
    seqs = [r["seq"] for step in steps for r in step.get("out", []) if r.get("seq") is not None]
    assert any(seq > 2**53 for seq in seqs)
    dropped_pending = 0
    for vector in VECTORS:
        states = [step["state"] for step in vector["steps"]]
        for step, before, after in zip(vector["steps"][1:], states, states[1:]):
            if step["op"] == "live" and not step["pending"] and after["dropped"] > before["dropped"]:
                dropped_pending += 1
    assert dropped_pending > 10


def test_generation_is_deterministic() -> None:
    """Two runs of the generator make the same vectors (so the fixture is reproducible)."""
    assert generate(5) == generate(5)


@pytest.mark.timeout(60)
def test_merge_js_answers_every_vector_as_python_does(page: Any, hub: HubProcess) -> None:
    """merge.js, as the hub serves it, run in Chromium, gives the same records, markers and state as Python at every step."""
    open_page(page, hub, "/")
    got = json.loads(page.evaluate(REPLAY_JS, FIXTURE.read_text("utf-8")))
    assert len(got) == len(VECTORS)
    for vector, answers in zip(VECTORS, got):
        want = expected(vector)
        for i, (step, mine, theirs) in enumerate(zip(vector["steps"], answers, want)):
            assert mine == theirs, f"{vector['name']} step {i} ({step['op']}): merge.js {mine} != Python {theirs}"
        assert len(answers) == len(want)

