"""The closest of some names to a name the user gave: the "did you mean" of moo_hpo's error messages.

``difflib.get_close_matches`` does the matching; this only makes it ignore case (``'F2'`` looks like ``'f2'``),
take an abbreviation for the one name it begins (``'acc'`` for ``'accuracy'``) and return one name, so every message
suggests names the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest_name"]


def closest_name(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like ``name``, case ignored, or None when none is close enough.

    Args:
        name: what the user wrote.
        candidates: the names it may have meant.
        cutoff: the least similarity (``difflib``'s ratio, 0 to 1) that counts as close.

    Returns:
        The closest candidate as written (or the only one that ``name``, 3 characters or more, begins), or None.
    """
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=cutoff)
    if close:
        return by_lower[close[0]]
    # an abbreviation (``acc`` for ``accuracy``) is too short to be close: the one candidate it begins, if one
    begun = [c for lower, c in by_lower.items() if len(name) >= 3 and lower.startswith(name.lower())]
    return begun[0] if len(begun) == 1 else None
