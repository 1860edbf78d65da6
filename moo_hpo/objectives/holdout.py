"""A held-out split for the probes that score predictions: what to expect beside what was selected on.

A study selects models on the metrics its probes measure on validation data, so the figures of the models it
selects are optimistic. :class:`~moo_hpo.objectives.Accuracy` and :class:`~moo_hpo.objectives.FairnessGap`
take ``holdout=(X_test, y_test)`` (``FairnessGap``: ``(X_test, y_test, sensitive_test)``; ``Accuracy``
accepts that triple too and ignores the third item) and then also measure the same metrics on it, named with
the prefix :data:`HOLDOUT_PREFIX`: ``holdout_accuracy``, ``holdout_eo_diff`` ... These are recorded on each
trial like any metric, but are objectives or constraints only when a study names them, which it should not:
a model chosen on its held-out figures makes them optimistic too. The fairness audit reports both figures.
"""

from __future__ import annotations

from typing import Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.objectives.base import check_rows

__all__ = ["HOLDOUT_PREFIX", "holdout_name", "holdout_split", "warn_unweighted_holdout"]

HOLDOUT_PREFIX = "holdout_"


def holdout_name(metric: str) -> str:
    """The name of ``metric`` measured on the held-out split: ``"eo_diff"`` -> ``"holdout_eo_diff"``."""
    return HOLDOUT_PREFIX + metric


def holdout_split(owner: str, holdout: Any, sensitive: bool = False) -> tuple[Any, Any, Any]:
    """Check a ``holdout`` argument and return ``(X, y, sensitive)`` (``sensitive`` None when not needed).

    Args:
        owner: the probe's name, for error messages.
        holdout: ``(X, y)`` or ``(X, y, sensitive)``.
        sensitive: whether the sensitive features are required.

    Returns:
        The held-out features, labels and sensitive features (None unless required).

    Raises:
        ConfigError: for anything but a 2- or 3-tuple (a 3-tuple when ``sensitive``) of equally long arrays.
    """
    expected = "(X_test, y_test, sensitive_test)" if sensitive else "(X_test, y_test) or (X_test, y_test, sensitive_test)"
    sizes = (3,) if sensitive else (2, 3)
    if not isinstance(holdout, (tuple, list)) or len(holdout) not in sizes:
        got = f"a {type(holdout).__name__} of {len(holdout)} items" if isinstance(holdout, (tuple, list)) else type(holdout).__name__
        raise ConfigError(f"{owner}: expected holdout={expected}; received {got}")
    X, y = holdout[0], holdout[1]
    groups = holdout[2] if sensitive else None
    check_rows(f"{owner} holdout", X, y=y, sensitive=groups)
    return X, y, groups


def warn_unweighted_holdout(owner: str, sample_weight: Any, holdout: Any, holdout_sample_weight: Any) -> None:
    """Warn when the validation rows are weighted and the held-out rows are not: the two figures the audit sets side
    by side would then be of different measures (a weighted population against a count of rows)."""
    if sample_weight is not None and holdout is not None and holdout_sample_weight is None:
        from moo_hpo.user_warnings import warn

        warn(f"{owner}: sample_weight weighs the validation rows but the held-out rows are unweighted, so the held-out "
             "figures count rows where the validation ones weigh them; pass holdout_sample_weight (the held-out rows' "
             "weights) to compare like with like")
