"""Filter and search patterns typed by the user: regexes with smart case."""

from __future__ import annotations

import re

from logctl.errors import ConfigError

__all__ = ["compile_pattern"]


def compile_pattern(text: str, *, what: str = "pattern") -> re.Pattern[str] | None:
    """Compile a filter or search regex with smart case: all lower case means case-insensitive.

    An empty text means no pattern; an invalid regex raises :class:`ConfigError`.
    """
    if not text:
        return None
    flags = re.IGNORECASE if text == text.lower() else 0
    try:
        return re.compile(text, flags)
    except re.error as exc:
        raise ConfigError(f"{what} {text!r} is not a valid regular expression: {exc}") from None
