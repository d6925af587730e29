"""The web viewer ships: its files are in the wheel (built for real with hatchling), and its tests need a real Chromium."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "logctl" / "web" / "static"


@pytest.mark.timeout(180)
def test_the_wheel_holds_every_static_file(tmp_path: Path) -> None:
    """``pip wheel`` of this repository yields a wheel with each file of logctl/web/static, byte for byte."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=170,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("logctl-*.whl")
    expected = {f"logctl/web/static/{p.relative_to(STATIC).as_posix()}": p.read_bytes() for p in STATIC.rglob("*") if p.is_file()}
    assert {"logctl/web/static/index.html", "logctl/web/static/thread.html", "logctl/web/static/style.css"} <= expected.keys()
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name: archive.read(name) for name in archive.namelist() if name.startswith("logctl/web/static/")}
    assert shipped == expected


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A missing Chromium is a failure (AssertionError naming apt-get install -y chromium), never a skip."""
    from helpers import CHROMIUM, chromium_path

    monkeypatch.setenv("LOGCTL_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(AssertionError, match=r"apt-get install -y chromium"):
        chromium_path()
    monkeypatch.delenv("LOGCTL_CHROMIUM")
    assert chromium_path() == CHROMIUM  # (and with it missing, this fails too)
