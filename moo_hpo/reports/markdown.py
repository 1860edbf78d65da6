"""Markdown for the reports: user strings escaped so that they show as written and never as markup."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["escape", "table"]

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # a "<" that could open an HTML tag; "<=" and "< 5" stay


def escape(value: Any) -> str:
    """A value as Markdown text on one line: floats to 6 significant digits, ``|`` and tag openings escaped."""
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    text = text.replace("&", "&amp;") if _TAG_START.search(text) else text
    return _TAG_START.sub("&lt;", text).replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table with every cell escaped."""
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
