"""The storage layer's boundary: psycopg is imported only inside ``logctl.store``."""

from __future__ import annotations

import ast
from pathlib import Path

import logctl
import logctl.store

PACKAGE_DIR = Path(logctl.__file__).parent
STORE_DIR = Path(logctl.store.__file__).parent

#: The database driver and its pool: the storage layer's own business.
DRIVER_PACKAGES = ("psycopg", "psycopg_pool")

#: Viewer and client modules, which the storage layer must not depend on.
UPPER_PACKAGES = ("logctl.tail", "logctl.hub", "logctl.client", "logctl.cli", "logctl.cli.render")


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import``/``from … import`` in ``path`` names, wherever it sits (lazy ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _outside_store() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if STORE_DIR not in p.parents)


def test_psycopg_is_imported_only_inside_the_store_package() -> None:
    """No module of logctl outside logctl/store/ imports psycopg or psycopg_pool, even lazily."""
    offenders = sorted(
        f"{path.relative_to(PACKAGE_DIR)}: {name}"
        for path in _outside_store()
        for name in _imported_modules(path)
        if name.split(".")[0] in DRIVER_PACKAGES
    )
    assert offenders == []
    assert len(_outside_store()) > 20, "the scan found the package's modules"


def test_the_store_imports_no_viewer_hub_or_client_module() -> None:
    """logctl/store/ imports nothing from the tail viewer, the hub, the client or the CLI."""
    offenders = sorted(
        f"{path.relative_to(PACKAGE_DIR)}: {name}"
        for path in STORE_DIR.rglob("*.py")
        for name in _imported_modules(path)
        if any(name == top or name.startswith(top + ".") for top in UPPER_PACKAGES)
    )
    assert offenders == []


def test_the_migrations_are_package_data_of_the_store() -> None:
    """The SQL migrations live inside logctl/store/sql, not in a checkout-only directory (a root `sql` may only link there)."""
    from logctl.store.migrate import load_migrations

    names = [f"{m.version:03d}_{m.name}.sql" for m in load_migrations()]
    assert names and all((STORE_DIR / "sql" / name).is_file() for name in names)
    root = PACKAGE_DIR.parents[1] / "sql"  # at most the repository's link to them (commit 3e2a948), never a copy
    assert not root.exists() or (root.is_symlink() and root.resolve() == (STORE_DIR / "sql").resolve())
