"""``logctl tail`` end to end in a real terminal: tmux runs it, sends keys, captures the pane."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import HubProcess
from logctl.core.records import LogRecord
from logctl.store import LogStore

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
REPO = Path(__file__).resolve().parents[1]


class Tmux:
    """A private tmux server (its own socket) with one session of a given size."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            raise AssertionError("tmux is required for the end-to-end viewer test (apt-get install tmux)")
        self.socket = f"logctl-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def start(self, command: str, width: int = 120, height: int = 30) -> None:
        # Size the window before the program starts: a resize right at start-up can race
        # the program's SIGWINCH handler and leave it drawing at tmux's 80x24 default.
        size = f"{width}x{height}"
        self("start-server", ";", "set-option", "-g", "default-size", size, ";",
             "set-option", "-g", "remain-on-exit", "on", ";",
             "new-session", "-d", "-s", "tail", "-x", str(width), "-y", str(height), command)

    def screen(self, *, escapes: bool = False) -> str:
        return self("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "tail")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "tail", *keys)

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            if time.monotonic() > deadline:
                size = self("display", "-p", "-t", "tail", "#{window_width}x#{window_height}").strip()
                raise AssertionError(f"screen ({size}) never matched; last capture:\n{text}")
            time.sleep(0.05)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def launch(tmux: Tmux, thread_id: str, hub: HubProcess, cli_env: dict[str, str], exit_file: Path) -> None:
    """Run ``logctl tail THREAD_ID`` (a shell word list: ``a b``, ``--match 'x-*'``) in the tmux session;
    its exit status goes to ``exit_file``."""
    # A clean environment: tmux hands its server's COLUMNS/LINES to the pane otherwise.
    env = {"PATH": cli_env["PATH"], "HOME": cli_env.get("HOME", "/tmp"), "LOGCTL_DATA_DIR": cli_env["LOGCTL_DATA_DIR"],
           "TERM": "xterm-256color", "TZ": "UTC", "LANG": "C.UTF-8"}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    tmux.start(f"cd {shlex.quote(str(REPO))} && env -i {exports} {shlex.quote(sys.executable)} -m logctl tail {thread_id}"
               f" --server {hub.url}; echo $? > {shlex.quote(str(exit_file))}")


def log_rows(screen: str) -> list[str]:
    """The rows of the log area: all but the title line, the status line and the key hints."""
    return screen.splitlines()[1:-2]


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    yield t
    t.kill()


def test_tail_in_a_real_terminal(
    hub: HubProcess, store: LogStore, cli_env: dict[str, str], tmux: Tmux, tmp_path: Path
) -> None:
    """History, then live records, in tmux; keys filter and search; q quits cleanly."""
    store.insert([
        LogRecord("t1", f"step {i}" + ("\nTraceback (most recent call last):\nValueError: bad" if i == 35 else ""),
                  LEVELS[i % 4], T0 + dt.timedelta(seconds=i))
        for i in range(40)
    ])
    exit_file = tmp_path / "exit-status"
    launch(tmux, "t1", hub, cli_env, exit_file)

    # the traceback's lines stay with their record; the zone is named; the state is live
    expected = ("step 39", "● live", "40 records", "times: local", "ValueError: bad", "Quit")
    tmux.wait_for(lambda s: all(text in s for text in expected))

    store.insert([LogRecord("t1", "fresh live record", "WARN", T0 + dt.timedelta(seconds=60))])
    tmux.wait_for(lambda s: "fresh live record" in s)

    tmux.keys("4")
    screen = tmux.wait_for(lambda s: "level≥ERROR" in s)
    body = [line for line in log_rows(screen) if line.strip()]
    assert body and all(" ERROR " in line or line.startswith(" ") for line in body), screen

    tmux.keys("1", "/")
    tmux.wait_for(lambda s: "search regex" in s)  # the prompt has focus before we type
    tmux.keys("step 3", "Enter")
    tmux.wait_for(lambda s: "search /step 3/" in s and "11 matches" in s)

    tmux.keys("q")
    deadline = time.monotonic() + 10
    while not exit_file.exists() or not exit_file.read_text().strip():
        assert time.monotonic() < deadline, "q did not quit: " + tmux.screen()
        time.sleep(0.05)
    assert exit_file.read_text().strip() == "0"
    assert "Traceback" not in tmux.screen()


BLOCKS = re.compile("[▁▂▃▄▅▆▇█]")


def test_no_block_glyphs_on_log_rows(
    hub: HubProcess, store: LogStore, cli_env: dict[str, str], tmux: Tmux, tmp_path: Path
) -> None:
    """The log rows never show sparkline-like block glyphs, and help and detail leave no residue after Esc."""
    # 300 records in 27 rows: the scrollbar thumb is 2.43 cells, so its ends fall inside a cell
    # both at the bottom (following) and at the top (g); Textual draws such ends as ▁…▇.
    store.insert([LogRecord("t2", f"record {i}", LEVELS[i % 4], T0 + dt.timedelta(seconds=i)) for i in range(300)])
    launch(tmux, "t2", hub, cli_env, tmp_path / "exit-status")

    def settled(*texts: str) -> str:
        return tmux.wait_for(lambda s: all(text in s for text in texts))

    def assert_no_blocks(screen: str, when: str, *, panel: bool = False) -> None:
        # beside a panel, only what lies right of its thick border (█▀▄) counts
        rows = [line.rsplit("█", 1)[-1] if panel else line for line in log_rows(screen)]
        stray = [(y, line) for y, line in enumerate(rows, 1) if BLOCKS.search(line)]
        assert not stray, f"block glyphs on log rows {when}: {stray}\n{screen}"

    following = settled("record 299", "● live", "300 records", "following")
    assert_no_blocks(following, "while following")
    tmux.keys("g")
    top = settled("record 0\n", "paused")
    assert_no_blocks(top, "at the top")
    # the scrollbar is still drawn, as whole reverse-video cells
    assert any("\x1b[7m" in line for line in log_rows(tmux.screen(escapes=True))), tmux.screen(escapes=True)

    for key, opened in (("?", "logctl tail: keys"), ("Enter", "record (Esc closes")):
        tmux.keys(key)
        assert_no_blocks(settled(opened), f"beside {opened!r}", panel=True)
        tmux.keys("Escape")
        # the title line is left out: its sparklines move on every tick
        after = tmux.wait_for(lambda s: log_rows(s) == log_rows(top) and s.splitlines()[-2:] == top.splitlines()[-2:],
                              timeout=5)
        assert_no_blocks(after, f"after closing {opened!r}")


def test_three_threads_thread_column_and_show_hide(
    hub: HubProcess, store: LogStore, cli_env: dict[str, str], tmux: Tmux, tmp_path: Path
) -> None:
    """`tail --match 'mt-*'` in tmux: a coloured thread column; T hides one thread's lines and shows them again."""
    threads = ("mt-alpha", "mt-beta", "mt-gamma-long")
    store.insert([LogRecord(t, f"{t.split('-')[1]} step {i}", LEVELS[i % 4], T0 + dt.timedelta(seconds=i))
                  for i in range(8) for t in threads])
    store.insert([LogRecord("other", "not followed", "INFO", T0)])
    launch(tmux, "--match 'mt-*'", hub, cli_env, tmp_path / "exit-status")

    screen = tmux.wait_for(lambda s: "gamma step 7" in s and "● live" in s and "24 records in 3 threads" in s)
    # the title names the glob and the threads (cut with … where the sparklines begin)
    assert screen.splitlines()[0].startswith(" mt-* (3 threads: mt-alpha, mt-beta, mt-gamma"), screen
    rows = [line for line in log_rows(screen) if "step" in line]
    # the thread column: between the time and the level, padded to the longest id (13), each row its own thread
    column = re.compile(r"^\S+ \S+ (mt-\S+) +(?P<level>DEBUG|INFO|WARN|ERROR) +(?P<message>\w+) step")
    tags = [column.match(line) for line in rows]
    assert rows and all(m is not None and m.group(1).split("-")[1] == m["message"] for m in tags), screen
    assert {m.group(1) for m in tags if m is not None} == set(threads)
    # one column, padded to the longest id: the levels and the messages line up
    assert len({(m.start("level"), m.start("message")) for m in tags if m is not None}) == 1, screen
    assert "not followed" not in screen
    # each thread in its own colour (256-colour SGR on the tag)
    coloured = tmux.screen(escapes=True)
    tag_colours = re.findall(r"\x1b\[38;5;(\d+)m(?:\x1b\[[0-9;]*m)*(mt-alpha|mt-beta|mt-gamma-long)(?![\w-])", coloured)
    assert len(set(tag_colours)) == 3 and len({colour for colour, _ in tag_colours}) == 3, coloured

    tmux.keys("T")
    picker = tmux.wait_for(lambda s: "threads (Space toggles" in s)
    assert all(t in picker for t in threads)
    tmux.keys("Down", "Space")  # the list is sorted: the second is mt-beta
    tmux.wait_for(lambda s: "hiding mt-beta" in s)
    tmux.keys("Escape")
    hidden = tmux.wait_for(lambda s: "threads (Space toggles" not in s and "hiding mt-beta" in s)
    body = "\n".join(log_rows(hidden))
    assert "beta step" not in body and "mt-beta " not in body, hidden
    assert "alpha step 7" in body and "gamma step 7" in body

    store.insert([LogRecord(t, f"{t.split('-')[1]} live", "INFO", T0 + dt.timedelta(seconds=30)) for t in threads])
    live = tmux.wait_for(lambda s: "alpha live" in s and "gamma live" in s)
    assert "beta live" not in live  # hidden, not dropped: it comes back below

    tmux.keys("T")
    tmux.wait_for(lambda s: "threads (Space toggles" in s)
    tmux.keys("a", "Escape")
    shown = tmux.wait_for(lambda s: "beta live" in s and "hiding" not in s and "threads (Space toggles" not in s)
    assert "27 records in 3 threads" in shown
    rows = log_rows(shown)
    beta = next(y for y, line in enumerate(rows) if "beta live" in line)
    alpha = next(y for y, line in enumerate(rows) if "alpha live" in line)
    assert alpha < beta, shown  # back in place: stored after alpha's
