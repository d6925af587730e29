"""Test vectors for the web page's merge (static/merge.js), made by Python's StreamMerge.

Hypothesis strategies draw thread streams and what a viewer meets while following one
(history pages, live frames, replays after reconnects, pending copies during an outage,
older pages, records unloaded past the page's cap, cursors and seqs past 2^53) and drive
:class:`logctl.core.merge.StreamMerge` through them. Each call and what it answered (the
records shown, the marker, and the state after it) is one step of a vector.

``python tests/merge_vectors.py`` writes them to ``tests/fixtures/merge_vectors.json``;
tests/test_web_merge.py checks that Python still answers every step as written (the
fixture is current) and replays every vector through merge.js in a real browser.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from logctl.core.cursor import Cursor
from logctl.core.merge import HistoryPage, StreamMerge, parse_history, parse_record
from logctl.core.records import LogRecord

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "merge_vectors.json"
VECTORS = 160

#: Messages that are awkward for a browser: markup, RTL override, astral and combining text.
MESSAGES = ("step", "<script>alert(1)</script>", "\u202egnp.exe", "naïve 🎉 e\u0301", "line 1\nline 2", "")
BIG = 2**53  # past this a JSON number is no longer exact in JavaScript

Json = dict[str, Any]


def record_json(record: LogRecord) -> Json:
    return record.to_json()


def state(merge: StreamMerge) -> Json:
    """What a step checks besides its output: the merge's public state."""
    return {
        "cursor": None if merge.cursor is None else str(merge.cursor),
        "before": None if merge.before is None else str(merge.before),
        "oldest": None if merge.oldest is None else str(merge.oldest),
        "has_history": merge.has_history,
        "shown": merge.shown,
        "dropped": merge.dropped,
    }


def page_json(records: list[LogRecord], resume: Cursor | None, before: Cursor | None) -> Json:
    return {
        "logs": [record_json(r) for r in records],
        "count": len(records),
        "cursor": None if resume is None else str(resume),
        "before": None if before is None else str(before),
    }


def apply(merge: StreamMerge, step: Json) -> Json:
    """Carry out one step's call on ``merge``; return what it answered (``out`` or ``marker``, and ``state``)."""
    op = step["op"]
    result: Json = {}
    if op == "history":
        result["out"] = [record_json(r) for r in merge.history(parse_history(step["page"]))]
    elif op == "older":
        result["out"] = [record_json(r) for r in merge.older(parse_history(step["page"]))]
    elif op == "live":
        records = [parse_record(r) for r in step["records"]]
        result["out"] = [record_json(r) for r in merge.live(records, pending=step["pending"])]
    elif op == "advance":
        merge.advance(Cursor.parse(step["cursor"]))
    elif op == "begin_catch_up":
        merge.begin_catch_up()
    elif op == "end_catch_up":
        result["marker"] = merge.end_catch_up().text
    elif op == "unloaded":
        merge.unloaded([parse_record(r) for r in step["records"]], Cursor.parse(step["oldest"]))
    else:
        raise ValueError(f"unknown op {op!r}")
    result["state"] = state(merge)
    return result


def new_merge(init: Json) -> StreamMerge:
    cursor = Cursor.parse(init["cursor"]) if init["cursor"] is not None else None
    return StreamMerge(cursor, recent_keys=init["recent_keys"], pending_keys=init["pending_keys"])


def replay(vector: Json) -> list[Json]:
    """Python's answers to every step of ``vector``."""
    merge = new_merge(vector["init"])
    return [apply(merge, step) for step in vector["steps"]]


# -- strategies ----------------------------------------------------------------------------


@st.composite
def streams(draw: st.DrawFn) -> list[LogRecord]:
    """A committed stream: cursors increase (ids do not), some records keyed, some huge numbers."""
    n = draw(st.integers(0, 30))
    big = draw(st.booleans())
    txid = draw(st.sampled_from([100, 2**62])) if big else 100
    seq_base = BIG - 3 if big else 0  # consecutive seqs that collide once rounded to a double
    ids = draw(st.permutations(list(range(1, n + 1))))
    producers = draw(st.lists(st.sampled_from(["p", "q", "p:1"]), min_size=1, max_size=2, unique=True))
    out: list[LogRecord] = []
    for i, rid in enumerate(ids):
        txid += draw(st.integers(1, 3))
        keyed = draw(st.integers(0, 3)) > 0
        producer = producers[i % len(producers)]
        out.append(LogRecord(
            thread_id="t", message=draw(st.sampled_from(MESSAGES)) or f"m{rid}",
            level=draw(st.sampled_from(["DEBUG", "INFO", "WARN", "ERROR"])),
            id=rid + (BIG if big else 0), cursor=Cursor(txid, rid + (BIG if big else 0)),
            producer_id=producer if keyed else None, seq=seq_base + i if keyed else None,
        ))
    return out


def pending_copy(record: LogRecord) -> LogRecord:
    return dataclasses.replace(record, id=None, cursor=None)


ACTIONS = ["frame", "frame", "frame", "dup", "pending", "late_pending", "reconnect", "older", "unload",
           "advance", "cursorless"]


@st.composite
def vectors(draw: st.DrawFn) -> Json:
    """One vector: a viewer's session on a drawn stream, as steps with Python's answers."""
    stream = draw(streams())
    n = len(stream)
    init = {
        "cursor": None,
        "recent_keys": draw(st.sampled_from([50_000, 3, 8])),
        "pending_keys": draw(st.sampled_from([200_000, 2, 6])),
    }
    merge = new_merge(init)
    steps: list[Json] = []
    shown: list[Json] = []  # what the viewer holds, oldest first

    def run(step: Json) -> Json:
        step.update(apply(merge, step))
        steps.append(step)
        return step

    h = int(draw(st.floats(0, 1)) * n)
    first = max(0, h - draw(st.integers(1, 40)))
    hub = h

    def frame(k: int) -> None:
        nonlocal hub
        records = stream[hub:hub + k]
        hub += len(records)
        shown.extend(run({"op": "live", "records": [record_json(r) for r in records], "pending": False})["out"])

    frame(min(draw(st.integers(0, 3)), n - h))  # frames that raced ahead of the history page
    page = page_json(stream[first:h], stream[h - 1].cursor if h else Cursor(99, 0),
                     stream[first].cursor if first > 0 else None)
    shown.extend(run({"op": "history", "page": page})["out"])
    catching_up = False
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(ACTIONS))
        k = draw(st.integers(0, 6))
        if catching_up and draw(st.booleans()):
            shown.append({"marker": run({"op": "end_catch_up"})["marker"]})
            catching_up = False
        if kind == "frame":
            frame(k)
        elif kind == "dup":
            back = max(0, hub - k)
            shown.extend(run({"op": "live", "records": [record_json(r) for r in stream[back:hub]], "pending": False})["out"])
        elif kind in ("pending", "cursorless"):
            upcoming = [pending_copy(r) for r in stream[hub:hub + k + 1]]
            if draw(st.booleans()):
                upcoming.append(LogRecord(thread_id="t", message="no key"))
            shown.extend(run({"op": "live", "records": [record_json(r) for r in upcoming],
                              "pending": kind == "pending"})["out"])
        elif kind == "late_pending" and hub:
            chosen = stream[draw(st.integers(0, hub - 1))]
            shown.extend(run({"op": "live", "records": [record_json(pending_copy(chosen))], "pending": True})["out"])
        elif kind == "reconnect":
            hub = sum(1 for r in stream if merge.cursor is not None and r.cursor is not None and r.cursor <= merge.cursor)
            hub = max(0, hub - k)
            run({"op": "begin_catch_up"})
            catching_up = True
        elif kind == "older":
            below = [r for r in stream if r.cursor is not None and (merge.before is None or r.cursor < merge.before)]
            records = below[-(k + 1):] + [r for r in stream if r.cursor == merge.before][: k % 2]
            if draw(st.booleans()):
                records.reverse()  # older() sorts what it keeps
            more = len(below) > k + 1
            older = run({"op": "older", "page": page_json(records, None, records[0].cursor if more and records else None)})
            shown[:0] = older["out"]
        elif kind == "unload":
            committed = [i for i, e in enumerate(shown) if e.get("cursor") is not None]
            if len(committed) > 1:
                cut = committed[min(k, len(committed) - 2) + 1]
                gone, shown[:] = shown[:cut], shown[cut:]
                run({"op": "unloaded", "records": [r for r in gone if "message" in r], "oldest": shown[0]["cursor"]})
        elif kind == "advance" and n:
            target = stream[draw(st.integers(0, n - 1))].cursor
            assert target is not None
            run({"op": "advance", "cursor": str(target)})
    frame(n)
    return {"init": init, "steps": steps}


def generate(count: int = VECTORS) -> list[Json]:
    """``count`` vectors, the same ones on every run of the same Hypothesis version."""
    out: list[Json] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(vectors())
    def collect(vector: Json) -> None:
        out.append(vector)

    collect()
    for i, vector in enumerate(out):
        vector["name"] = f"vector {i}"
    return out


def main() -> None:
    vectors_ = generate()
    FIXTURE.parent.mkdir(exist_ok=True)
    body = {"about": "made by tests/merge_vectors.py from logctl.core.merge; replayed by tests/test_web_merge.py",
            "vectors": vectors_}
    FIXTURE.write_text(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")
    steps = sum(len(v["steps"]) for v in vectors_)
    print(f"wrote {len(vectors_)} vectors, {steps} steps, to {FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    main()
