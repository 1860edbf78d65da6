"""Extra starting points for the acquisition's optimization, near the configurations of the measured front.

Why: BoTorch's ``optimize_acqf`` starts L-BFGS from a few of its ``raw_samples`` random points, chosen by
their acquisition values. Late in a study the hypervolume improvement lives in narrow ridges next to the
front's configurations (a step closer to the true front, a gap between two front points filled), which
a handful of random points in six or more dimensions rarely lands in. A few more starts drawn around the
measured front put L-BFGS where those ridges are, and the random starts stay as they were, so the search of
unexplored regions is not traded for it (measurements: docs/lab/2026-12-05-bayesian-adapter-notes.md).

How: a pool of candidates, each a random front configuration (encoded unit cube) plus Gaussian noise of
one of a few widths, clipped to the cube; the ``k`` of them with the highest acquisition values become
extra starts (BoTorch's ``batch_initial_conditions``, optimized beside the usual ones).

Why our own code: BoTorch's ``sample_around_best`` option perturbs the points its acquisition or model
holds as baseline; moo_hpo's cached-posterior models (:mod:`moo_hpo.optimizers.bayesian.cached_posterior`) hold no
training inputs, so it finds none, and it would rank them by the posterior mean rather than take the
measured front. It also doubles the random points scored instead of adding a few starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from moo_hpo.optimizers.bayesian.data import TrainingData
from moo_hpo.problem import Problem

__all__ = [
    "FRONT_START_POOL",
    "FRONT_START_SIGMAS",
    "LEAST_VIOLATING",
    "front_anchors",
    "front_starts",
    "least_violating_anchors",
    "perturb_anchors",
]

# widths of the Gaussian perturbations, in units of the encoded unit cube: a mixture from a step along
# the front to a jump across a few of its points
FRONT_START_SIGMAS: tuple[float, ...] = (0.02, 0.05, 0.1)
#: perturbations scored to choose the starts (at least the number of starts)
FRONT_START_POOL = 128
#: configurations a search for the feasible region perturbs while no trial is feasible
LEAST_VIOLATING = 3


def front_anchors(problem: Problem, data: TrainingData) -> np.ndarray | None:
    """Encoded configurations of the measured front: the feasible trials no other feasible trial dominates.

    Returns:
        An ``(m, n_encoded)`` array, or None while no trial is feasible.
    """
    if not data.feasible:
        return None
    from moo_hpo.fronts import pareto_mask

    F = problem.objective_matrix(data.feasible, penalized=True)
    front = [t.config for t, on in zip(data.feasible, pareto_mask(F), strict=True) if on]
    return problem.space.encode(front)


def least_violating_anchors(problem: Problem, data: TrainingData, k: int = LEAST_VIOLATING) -> np.ndarray | None:
    """Encoded configurations of the ``k`` complete trials nearest to feasibility, for while none is feasible.

    Nearness is the total violation of the hard constraints, each constraint's violation divided by the
    spread of its values over the trials, so no constraint's units decide (constrained domination's order
    among infeasible points: the least violation first).

    Returns:
        A ``(min(k, n), n_encoded)`` array, or None when no complete trial measured every hard constraint.
    """
    trials = data.complete
    if not trials or not problem.hard_constraints:
        return None
    G = problem.constraint_matrix(trials)
    spread = np.nanstd(G, axis=0)
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
    violation = (np.maximum(G, 0.0) / spread).sum(axis=1)
    violation[np.isnan(G).any(axis=1)] = np.inf
    order = [i for i in np.argsort(violation, kind="stable")[:k] if np.isfinite(violation[i])]
    return problem.space.encode([trials[i].config for i in order]) if order else None


def perturb_anchors(anchors: np.ndarray, n: int, sigmas: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """``n`` points near ``anchors``: each a random anchor plus Gaussian noise, clipped to the unit cube.

    Args:
        anchors: ``(m, d)`` points of the encoded unit cube, ``m >= 1``.
        n: how many points to draw.
        sigmas: standard deviations of the noise; each point draws one of them at random.
        rng: the random generator (the caller seeds it).

    Returns:
        An ``(n, d)`` array in ``[0, 1]``.

    Raises:
        ValueError: for no anchors, anchors that are not a 2-D array, a negative ``n``, or sigmas that are
            not a non-empty sequence of positive numbers.
    """
    if n < 0:
        raise ValueError(f"n must be at least 0; received {n}")
    anchors = np.asarray(anchors, dtype=float)
    if anchors.ndim != 2 or len(anchors) == 0:
        raise ValueError(f"anchors must be a non-empty (m, d) array; received shape {anchors.shape}")
    widths = np.asarray(sigmas, dtype=float)
    if widths.ndim != 1 or len(widths) == 0 or not (widths > 0).all():
        raise ValueError(f"sigmas must be a non-empty sequence of positive numbers; received {sigmas!r}")
    rows = rng.integers(len(anchors), size=n)
    scale = widths[rng.integers(len(widths), size=n)][:, None]
    return np.clip(anchors[rows] + scale * rng.standard_normal((n, anchors.shape[1])), 0.0, 1.0)


def front_starts(
    acq: Any, anchors: np.ndarray, k: int, pool: int, seed: int, sigmas: Sequence[float] = FRONT_START_SIGMAS
) -> Any:
    """The ``k`` best (by ``acq``) of ``pool`` perturbations of ``anchors``, as starts for ``optimize_acqf``.

    Args:
        acq: a BoTorch acquisition function (``b x q x d`` to ``b``), maximized.
        anchors: ``(m, d)`` encoded configurations of the measured front.
        k: how many starts to return (at most ``pool``).
        pool: how many perturbations to score.
        seed: seeds the perturbations.
        sigmas: the perturbations' widths (:func:`perturb_anchors`).

    Returns:
        A ``k x 1 x d`` double tensor (``q = 1``) for ``optimize_acqf``'s ``batch_initial_conditions``.

    Raises:
        ValueError: for ``k`` or ``pool`` below 1, ``k > pool``, or bad anchors or sigmas.
    """
    import torch

    if k < 1 or pool < k:
        raise ValueError(f"need 1 <= k <= pool; received k={k}, pool={pool}")
    points = perturb_anchors(anchors, pool, sigmas, np.random.default_rng([seed, 4242]))
    X = torch.as_tensor(points, dtype=torch.double).unsqueeze(1)  # pool x 1 x d
    with torch.no_grad():
        values = acq(X).reshape(-1)
    values = torch.nan_to_num(values, nan=-torch.inf)
    return X[torch.topk(values, k).indices]
