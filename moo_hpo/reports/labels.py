"""Long names in figures: an axis title, a legend label or a subtitle broken into lines that fit beside their
neighbours (a 60-character objective name overlapped the next panel's title in the scatter matrix and the static
figures)."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["shortened", "wrap_entries", "wrap_label"]


def wrap_label(text: str, width: int, newline: str = "\n") -> str:
    """``text`` in lines of at most ``width`` characters, broken after an underscore, a space, a hyphen or a dot
    (a word longer than a line is cut where it reaches the width), joined by ``newline`` (``"<br>"`` for plotly).

    Args:
        text: the label.
        width: the most characters on a line (at least 8).
        newline: what separates the lines.

    Returns:
        The label; unchanged when it fits on one line.
    """
    width = max(int(width), 8)
    text = " ".join(str(text).split())  # spaces at the ends, runs of them and line breaks: one space
    if len(text) <= width:
        return text
    lines: list[str] = []
    line = ""
    for piece in re.findall(r"[^_ \-.]*[_ \-.]|[^_ \-.]+$", text):
        while len(piece) > width:  # one word longer than a line: cut it
            if line:
                lines.append(line)
                line = ""
            lines.append(piece[:width])
            piece = piece[width:]
        if len(line) + len(piece.rstrip(" ")) > width and line:
            lines.append(line)
            line = ""
        line += piece
    if line:
        lines.append(line)
    return newline.join(part for part in (line.rstrip(" ") for line in lines) if part)


def wrap_entries(entries: Sequence[str], width: int, newline: str = "\n", separator: str = ", ") -> str:
    """Entries of a list (``name = value``) in lines, none broken.

    Args:
        entries: the entries, in order.
        width: the most characters on a line where its entries fit (an entry longer than a line is a line of its
            own).
        newline: what separates the lines.
        separator: what separates two entries on a line (its trailing space dropped at a line's end).

    Returns:
        The entries joined.
    """
    lines: list[str] = []
    for entry in entries:
        if lines and len(lines[-1]) + len(separator) + len(entry) <= width:
            lines[-1] += separator + entry
        else:
            lines.append(entry)
    return (separator.rstrip() + newline).join(lines)


def shortened(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis where it was longer (a reason cut mid-sentence read
    as the whole reason).

    Args:
        text: a reason, a message.
        limit: the most characters kept, the ellipsis included.

    Returns:
        The text, or its first ``limit - 1`` characters and "…".
    """
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
