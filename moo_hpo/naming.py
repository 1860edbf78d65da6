"""The closest of some names to a name the user gave: the "did you mean" of moo_hpo's error messages.

``difflib.get_close_matches`` does the matching; this only makes it ignore case (``'F2'`` looks like ``'f2'``),
take an abbreviation for the one name it begins where asked (``'acc'`` for ``'accuracy'``) and return one name, so every message
suggests names the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest_name", "unknown_keywords_error"]


def closest_name(name: str, candidates: Iterable[str], cutoff: float = 0.6, abbreviation: bool = False) -> str | None:
    """The candidate most like ``name``, case ignored, or None when none is close enough.

    Args:
        name: what the user wrote.
        candidates: the names it may have meant.
        cutoff: the least similarity (``difflib``'s ratio, 0 to 1) that counts as close.
        abbreviation: also take ``name`` (3 characters or more) for the one candidate it begins, where ``name`` must be
            one of the candidates (an unknown option, a metric no probe provides); not where other names are allowed
            (a reported metric that no objective names may begin like one).

    Returns:
        The closest candidate as written (with ``abbreviation``, or the only one that ``name`` begins), or None.
    """
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=cutoff)
    if close or not abbreviation:
        return by_lower[close[0]] if close else None
    # an abbreviation (``acc`` for ``accuracy``) is too short to be close: the one candidate it begins, if one
    begun = [c for lower, c in by_lower.items() if len(name) >= 3 and lower.startswith(name.lower())]
    return begun[0] if len(begun) == 1 else None


#: Keywords of other tuners' calls and what moo_hpo names them (Optuna's ``optimize(n_jobs=...)``).
OTHER_NAMES = {"n_jobs": "moo_hpo's n_workers?", "gc_after_trial": "moo_hpo has none", "timeout_per_trial": "trial_timeout?",
               "seed": "the study's: mh.Study(..., seed=...)"}


def unknown_keywords_error(call: str, given: Iterable[str], known: Iterable[str]) -> Exception:
    """The error for keywords ``call`` does not take, with the one each may have meant.

    Returns:
        A :class:`~moo_hpo.exceptions.ConfigError` naming each keyword and a suggestion where there is one.
    """
    from moo_hpo.exceptions import ConfigError

    known = list(known)
    parts = []
    for name in given:
        meant = closest_name(name, known, abbreviation=True)
        parts.append(f"{name!r}" + (f" ({OTHER_NAMES[name]})" if name in OTHER_NAMES else f" ({meant!r}?)" if meant else ""))
    return ConfigError(f"{call} takes no {', '.join(parts)}; it takes {', '.join(known)}")
