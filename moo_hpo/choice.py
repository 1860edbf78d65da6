"""Choosing an operating point from a front: pure functions over ``(n, m)`` minimized arrays.

Kept apart from :mod:`moo_hpo.fronts` (which measures fronts) because these encode *preferences*.
Every function returns ``(index, reason)``; the reason is one line a report can show.

Definitions:

* **Normalization**: objectives are mapped so the front's ideal point (best value per objective)
  is 0 and its nadir (worst value per objective on the front) is 1. An objective with no spread
  maps to 0.
* **Knee**: the point with the smallest sum of normalized objectives, i.e. the point farthest below the
  hyperplane where the normalized objectives sum to 1 (through each objective's worst value on the front
  with the others at their best; with two objectives, the line through the front's two extremes). It is
  the point where improving one objective starts to cost the most in the others.
* **ASF** (augmented achievement scalarization, Wierzbicki): minimize
  ``max_i w_i (f_i - z_i) + rho * sum_i w_i (f_i - z_i)`` with ``z`` the ideal point. With
  ``normalized=True`` (default) ``f`` is normalized first, so weights express relative importance;
  with ``normalized=False`` they apply to the raw differences in each metric's own units
  (``w = 1 / acceptable_loss`` then reads as "one unit of this is worth ...").
* **Weighted Tchebycheff**: minimize ``max_i w_i |f_i - z_i|`` on normalized objectives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.fronts import as_points

__all__ = ["ASF_RHO", "Recommendation", "asf_index", "best_index", "knee_index", "normalized_front", "tchebycheff_index"]

#: Augmentation weight of the ASF: small enough not to override the max term, large enough to
#: break ties towards Pareto-optimal points.
ASF_RHO = 1e-4


def _nonempty(Y: np.ndarray) -> np.ndarray:
    Y = as_points(Y)
    if len(Y) == 0:
        raise ConfigError("cannot choose from an empty set of points")
    return Y


def normalized_front(Y: np.ndarray) -> np.ndarray:
    """``Y`` mapped to ideal 0 and nadir 1 per objective (no spread -> 0)."""
    Y = _nonempty(Y)
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (Y - lo) / span


def _weights(weights: Sequence[float], m: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.shape != (m,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ConfigError(f"expected {m} non-negative weights, not all zero; received {[float(v) if isinstance(v, (int, float, np.number)) else v for v in np.atleast_1d(weights).tolist()]}")
    return w


def knee_index(Y: np.ndarray) -> tuple[int, str]:
    """The knee point (see module docstring); ties go to the first point."""
    N = normalized_front(Y)
    score = N.sum(axis=1)
    i = int(np.argmin(score))
    m = Y.shape[1] if np.ndim(Y) == 2 else 1
    gap = (1.0 - score[i]) / np.sqrt(m)
    n = len(N)
    extremes = {int(j) for j in np.argmin(N, axis=0)} if np.ndim(N) == 2 else {i}
    if n == 1:
        return i, ("knee: none to find, the front is this one point (the best reached in every objective; trials "
                   "that measured the same point count once, the first)")
    if len(extremes) == n:  # every point is the best in some objective: nothing lies between them
        return i, (
            f"knee: none to find, the front has {n} point{'s' if n != 1 else ''}, each the best in some objective; "
            "this is one of them"
        )
    if gap <= 1e-12:
        shape = " (a straight or concave front)" if m == 2 else ""  # with more objectives that plane is not the extremes'
        return i, (
            f"knee: none below the plane where the normalized objectives sum to 1{shape}; this is the point nearest "
            "that plane"
        )
    return i, f"knee: farthest below the plane where the normalized objectives sum to 1 (distance {gap:.3g})"


def best_index(Y: np.ndarray, objective: int, label: str | None = None) -> tuple[int, str]:
    """The point best in one objective; ties broken by the smallest sum of normalized objectives."""
    Y = _nonempty(Y)
    if not 0 <= objective < Y.shape[1]:
        raise ConfigError(f"objective index must be in 0..{Y.shape[1] - 1}; received {objective}")
    col = Y[:, objective]
    tied = np.flatnonzero(col == col.min())
    i = int(tied[np.argmin(normalized_front(Y)[tied].sum(axis=1))])
    return i, f"best {label or f'objective {objective}'}"


def asf_index(
    Y: np.ndarray,
    weights: Sequence[float],
    normalized: bool = True,
    ideal: Sequence[float] | None = None,
    rho: float = ASF_RHO,
) -> tuple[int, str]:
    """The point minimizing the augmented achievement scalarizing function (see module docstring)."""
    Y = _nonempty(Y)
    w = _weights(weights, Y.shape[1])
    F = normalized_front(Y) if normalized else Y
    z = F.min(axis=0) if ideal is None or normalized else np.asarray(ideal, dtype=float)
    d = w * (F - z)
    score = d.max(axis=1) + rho * d.sum(axis=1)
    i = int(np.argmin(score))
    unit = "normalized objectives" if normalized else "metric units"
    return i, f"ASF with weights {np.round(w, 4).tolist()} ({unit}): smallest weighted worst-case gap to the ideal"


def tchebycheff_index(Y: np.ndarray, weights: Sequence[float]) -> tuple[int, str]:
    """The point minimizing the weighted Tchebycheff distance to the ideal (normalized objectives)."""
    Y = _nonempty(Y)
    w = _weights(weights, Y.shape[1])
    score = (w * normalized_front(Y)).max(axis=1)
    i = int(np.argmin(score))
    return i, f"weighted Tchebycheff with weights {np.round(w, 4).tolist()}: smallest weighted largest gap to the ideal"


class Recommendation:
    """A trial recommended as an operating point, with the method and a one-line reason.

    Attributes:
        trial: the recommended trial.
        method: ``"knee"``, ``"best"``, ``"asf"`` or ``"tchebycheff"``.
        reason: one line for reports.
        caution: what a reader must know before choosing it (a classifier that predicts one class for everyone),
            or None; the reason ends with it too.
        metrics: the figures it was judged on: the trial's metrics, or for a configuration run more than once
            (:meth:`~moo_hpo.Study.reevaluate`, the Bayesian noise check) the mean of each over its complete runs (a
            size or latency also over its repeats skipped before training),
            with ``trial`` its original run.
        runs: how many runs ``metrics`` summarizes.
    """

    def __init__(self, trial: object, method: str, reason: str, caution: str | None = None,
                 metrics: dict[str, float] | None = None, runs: int = 1) -> None:
        self.trial = trial
        self.method = method
        self.reason = reason if caution is None else f"{reason}. CAUTION: {caution}"
        self.caution = caution
        self.metrics = dict(getattr(trial, "metrics", {})) if metrics is None else metrics
        self.runs = runs

    def __eq__(self, other: object) -> bool:  # a copy (pickled, deep-copied) is the same recommendation
        if not isinstance(other, Recommendation):
            return NotImplemented
        return (self.trial, self.method, self.reason, self.metrics, self.runs) == (
            other.trial, other.method, other.reason, other.metrics, other.runs)

    __hash__ = None  # type: ignore[assignment] - its metrics may change

    def __repr__(self) -> str:
        number = getattr(self.trial, "number", "?")
        return f"Recommendation(trial #{number}, {self.reason})"
