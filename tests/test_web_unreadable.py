"""A thread the hub cannot read, as the web viewer shows it: in Chromium against a real hub and PostgreSQL.

A selection page names the thread in a warning line and stays live with the others; a thread page
says that its live records stopped, and why, while connected (docs/web.md). The thread is poisoned
mid-stream as in test_hub_subscribers.py: a stored row the hub cannot decode.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import HubProcess, open_page, query
from logctl.core.records import LogRecord
from logctl.store import LogStore
from test_hub_subscribers import poison
from test_web_thread import live, loaded, model, readable, records_of, wait_js

pytestmark = pytest.mark.timeout(180)

#: The hub's words for it (hub/feed.py UNREADABLE), as the page shows them.
UNREADABLE = "the hub cannot read this thread's rows from the database; its live records stop until that is fixed"
#: The page's warning markers' texts.
WARNINGS_JS = "() => window.logctlThread.view.entries.filter((e) => e.text !== undefined && e.level === 'WARN').map((e) => e.text)"


def console_errors(page: Any) -> list[str]:
    """Collect the page's console errors from now on (the ``page`` fixture catches uncaught errors and CSP only)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def connection(page: Any) -> tuple[str, str]:
    """The connection state's kind and text."""
    node = page.locator("#connection")
    return str(node.get_attribute("data-kind")), str(node.text_content())


def test_a_selection_page_names_a_thread_left_out_and_stays_live_with_the_others(page: Any, hub: HubProcess, store: LogStore, dsn: str) -> None:
    """/runs?thread=fine&thread=poisoned: once poisoned's rows cannot be read, a WARN line names it and fine's new records still arrive live."""
    errors = console_errors(page)
    store.insert([LogRecord("fine", "before"), LogRecord("poisoned", "still readable")])
    readable(store)
    open_page(page, hub, "/runs?thread=fine&thread=poisoned")
    loaded(page, 2)
    live(page)
    poison(dsn, "poisoned")
    wait_js(page, f"() => ({WARNINGS_JS})().length > 0")
    (warning,) = page.evaluate(WARNINGS_JS)
    assert warning == f"warning: thread 'poisoned': {UNREADABLE}; the other threads go on", warning
    row = page.locator("#log .row.lvl-MARKER.warning")
    assert row.locator(".m").text_content() == warning and row.locator(".l").text_content() == "WARN"
    store.insert([LogRecord("fine", "after the poison")])
    readable(store)
    loaded(page, 3)
    assert [(e["thread"], e["message"]) for e in records_of(page)][-1] == ("fine", "after the poison")
    assert model(page)[-2] == {"marker": warning}  # the line stands where it happened
    kind, text = connection(page)
    assert kind == "live" and text == "● live, 1 thread left out: 'poisoned'", (kind, text)
    assert "poisoned" in str(page.locator("#connection").get_attribute("title"))
    assert page.evaluate("() => window.logctlThread.feed.socket.readyState === WebSocket.OPEN && !window.logctlThread.feed.stopped")
    assert not errors, errors


def test_a_thread_page_says_its_live_records_stopped_while_connected_and_recovers(page: Any, hub: HubProcess, store: LogStore, dsn: str) -> None:
    """/runs/poisoned: the state says its live records stopped and why (not that the hub is unreachable); once the row is gone, new records come live again."""
    errors = console_errors(page)
    store.insert([LogRecord("poisoned", "still readable")])
    readable(store)
    open_page(page, hub, "/runs/poisoned")
    loaded(page, 1)
    live(page)
    poison(dsn, "poisoned")
    wait_js(page, "() => document.getElementById('connection').dataset.kind === 'stopped'")
    kind, text = connection(page)
    assert text == f"⚠ live records stopped: {UNREADABLE}", text
    assert page.evaluate(WARNINGS_JS) == [f"warning: thread 'poisoned': {UNREADABLE}"]  # one thread: no "others"
    assert page.locator("#database").get_attribute("data-up") == "true"
    assert page.evaluate("() => window.logctlThread.feed.socket.readyState === WebSocket.OPEN && !window.logctlThread.feed.stopped")
    query(dsn, "DELETE FROM thread_logs WHERE thread_id = 'poisoned' AND message = 'poison'")  # fixed by hand
    store.insert([LogRecord("poisoned", "after the fix")])
    readable(store)
    loaded(page, 2)
    live(page)
    assert records_of(page)[-1]["message"] == "after the fix"
    assert connection(page) == ("live", "● live")
    assert not errors, errors
