"""Splitting an SQL script into its statements, for migrations that run outside a transaction.

PostgreSQL runs a multi-statement query string as one implicit transaction, where
``CREATE INDEX CONCURRENTLY`` and friends are refused, so such a migration is sent one
statement at a time. The split understands what can hide a ``;``: quoted strings
(``'…'``, ``E'…'``), quoted identifiers, dollar quoting (``$$…$$``, ``$tag$…$tag$``), and
``--`` and nested ``/* */`` comments. Pure: text in, statements out.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["split_statements"]

_DOLLAR_TAG: Final = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _skip_quoted(sql: str, i: int, quote: str, *, backslashes: bool) -> int:
    """The index just past the quoted text starting at ``sql[i]`` (an unclosed quote runs to the end)."""
    i += 1
    while i < len(sql):
        ch = sql[i]
        if backslashes and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:  # a doubled quote stands for itself
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _skip_block_comment(sql: str, i: int) -> int:
    """The index just past the ``/* … */`` comment starting at ``sql[i]``; they nest in PostgreSQL."""
    depth, i = 1, i + 2
    while i < len(sql) and depth:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql``, each stripped and without its ``;``; comment-only pieces are dropped."""
    statements: list[str] = []
    start, i, code = 0, 0, False  # code: the current piece holds more than comments and blanks
    while i < len(sql):
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
            continue
        if ch == ";":
            if code:
                statements.append(sql[start:i].strip())
            start, i, code = i + 1, i + 1, False
            continue
        if not ch.isspace():
            code = True
        if ch in "eE" and sql.startswith("'", i + 1) and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            i = _skip_quoted(sql, i + 1, "'", backslashes=True)
        elif ch in "'\"":
            i = _skip_quoted(sql, i, ch, backslashes=False)
        elif ch == "$" and (match := _DOLLAR_TAG.match(sql, i)) and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            end = sql.find(match.group(), match.end())
            i = len(sql) if end < 0 else end + len(match.group())
        else:
            i += 1
    if code:
        statements.append(sql[start:].strip())
    return statements
