"""The acquisitions: which BoTorch criterion scores a candidate, built from the fitted model and the data.

The model's outputs are the objectives (negated: BoTorch maximizes), then the hard constraints and the
failure label (``g <= 0`` feasible, which is how BoTorch reads constraint callables too).

* ``"ehvi"``: qLogNEHVI; with ``noiseless=True`` qLogEHVI over one box decomposition of the measured
  feasible front (with exact observations the two criteria coincide), and for a lone candidate under
  constraints qLogEHVI times the exact probability of feasibility
  (:mod:`~moo_hpo.optimizers.bayesian.feasibility_weighted`).
* ``"parego"``: qLogNParEGO, new random Chebyshev weights for every proposal.
* ``"cei"``: qLogNEI with the constraints.
* While no trial is feasible (``"cei"``, or when no objective can be modelled yet):
  qLogProbabilityOfFeasibility, which only looks for the feasible region.

``"ehvi"`` and ``"cei"`` score each objective divided by its spread over the modelled trials
(:func:`objective_scale`), so they do not depend on the objectives' units.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from moo_hpo.optimizers.bayesian.data import TrainingData
from moo_hpo.optimizers.bayesian.surrogate import cached_if_list
from moo_hpo.problem import Problem

__all__ = [
    "PRUNE_SAMPLES",
    "constrained_ei",
    "ehvi",
    "objective_scale",
    "parego",
    "probability_of_feasibility",
    "reference_point",
]

#: posterior samples that decide which baseline points may be Pareto-optimal (qLogNEHVI)
PRUNE_SAMPLES = 256


def reference_point(problem: Problem, data: TrainingData) -> np.ndarray:
    """The hypervolume reference point, in the internal (minimized) convention: the study's.

    The one policy of :class:`moo_hpo.analysis.ReferencePoint`, shared with the study through the
    problem: explicit or frozen once that many trials are feasible, provisional from the feasible trials
    before; while no trial is feasible (nothing for the study to derive it from yet) it is derived from
    every complete trial, soft-constraint penalties included, as the models see them.

    With soft constraints the models predict penalized objectives: the point then moves, in every objective, by the
    largest penalty among the feasible trials, so that trials the penalty pushed beyond the study's point (every trial,
    under a soft bound always broken) still differ in how much they improve; without that the criterion was flat and
    the same configuration came back, model step after model step. A soft bound no trial broke leaves it as it is.
    While no feasible trial dominates the point (an explicit ``ref=`` beyond every value measured), it reaches as far
    as the feasible values (:func:`_reachable`).
    """
    from moo_hpo.fronts import derive_reference_point

    reference = problem.reference
    if reference.is_frozen or data.feasible:
        point = reference.value(problem.objective_matrix(data.feasible))
        if problem.soft_constraints and data.feasible:
            penalty = float(np.max(problem.soft_penalty(data.feasible), initial=0.0))
            if np.isfinite(penalty) and penalty > 0.0:  # as far as the largest penalty pushed a feasible trial
                point = point + penalty
        return _reachable(point, problem.objective_matrix(data.feasible, penalized=True))
    return derive_reference_point(problem.objective_matrix(data.complete, penalized=True), reference.explicit)


def _reachable(point: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """``point``, or while no feasible trial dominates it (an explicit ``ref=`` beyond every value measured so far),
    ``point`` moved to where the feasible values derive one (:func:`~moo_hpo.fronts.derive_reference_point`): in each
    objective no feasible value reaches, or in every objective when no trial dominates that point either. Without it
    no candidate the models predict near the data improves a hypervolume of 0, so the criterion was flat and
    proposed one configuration again and again. The study's own hypervolume keeps the user's point."""
    from moo_hpo.fronts import derive_reference_point

    feasible = feasible[np.isfinite(feasible).all(axis=1)] if len(feasible) else feasible
    if not len(feasible) or (feasible < point).all(axis=1).any():
        return point
    wide = np.maximum(point, derive_reference_point(feasible))
    out_of_reach = ~(feasible < point).any(axis=0)  # no feasible value below the point in that objective
    moved = np.where(out_of_reach, wide, point)
    # the objectives out of reach alone, if that lets a trial dominate; else every one (a trade-off no trial bridges)
    return moved if (feasible < moved).all(axis=1).any() else wide


def objective_scale(data: TrainingData) -> Any:
    """Each objective's standard deviation over its modelled trials (1 where that is 0 or not finite).

    BoTorch's log-improvement criteria smooth the improvement with a fixed temperature, so in raw units a
    shortfall of 0.001 in one objective and of 10 in another would be weighed by their raw sizes; dividing by
    these makes the criterion independent of the objectives' units (Ax standardizes outcomes for the same
    reason).

    Returns:
        A double tensor, one entry per objective.
    """
    import torch

    std = [float(np.std(o.Y)) if len(o.Y) > 1 else 0.0 for o in data.objectives]
    return torch.tensor([v if v > 0.0 and math.isfinite(v) else 1.0 for v in std], dtype=torch.double)


def _eta(data: TrainingData) -> Any:
    """Sigmoid temperatures of the constraint (and failure) indicators: 1e-3 of each one's spread."""
    import torch

    return torch.tensor([1e-3 * (float(np.std(c.Y)) or 1.0) for c in data.guards], dtype=torch.double)


def _guard_callables(offset: int, k: int) -> list:
    """BoTorch constraint callables for the model's outputs ``offset .. offset + k - 1``."""
    return [lambda Z, i=offset + i: Z[..., i] for i in range(k)]


def _guards_after_objectives(problem: Problem, data: TrainingData) -> dict[str, Any]:
    """``constraints`` and ``eta`` arguments for the guards, which follow the objectives in the model's outputs."""
    if not data.guards:
        return {}
    return {"constraints": _guard_callables(problem.n_objectives, len(data.guards)), "eta": _eta(data)}


def ehvi(model: Any, problem: Problem, data: TrainingData, X_pending: Any, sampler: Any, exact_front: bool) -> Any:
    """Expected hypervolume improvement of the scaled objectives, under the constraints and failure model.

    Args:
        model: the fitted model (objectives, then guards).
        problem: the study's problem.
        data: the training data.
        X_pending: encoded running and already chosen candidates, or None.
        sampler: the posterior sampler.
        exact_front: qLogEHVI over the measured front (exact observations) instead of qLogNEHVI.

    Returns:
        A BoTorch acquisition function.
    """
    import torch
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement,
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import WeightedMCMultiOutputObjective
    from botorch.acquisition.multi_objective.utils import prune_inferior_points_multi_objective

    from moo_hpo.optimizers.bayesian.fused_kernel_lock import load_fused_kernel

    load_fused_kernel()  # a killed build's lock cleared first (BoTorch would wait forever); its time set apart
    scale = objective_scale(data)
    ref = -torch.as_tensor(reference_point(problem, data), dtype=torch.double) / scale  # BoTorch maximizes
    M = problem.n_objectives
    objective = WeightedMCMultiOutputObjective(weights=1.0 / scale, outcomes=list(range(M)))
    guards = _guards_after_objectives(problem, data)
    common = {"ref_point": ref, "sampler": sampler, "objective": objective, "X_pending": X_pending, **guards}
    if exact_front:
        from moo_hpo.optimizers.bayesian.cached_posterior import cached_gp
        from moo_hpo.optimizers.bayesian.feasibility_weighted import LogEHVITimesFeasibility

        model = cached_gp(model) or model
        partitioning = _measured_front(data, ref, scale)
        if X_pending is None and data.guards:  # one candidate: the exact probability of feasibility
            guard_outputs = range(M, M + len(data.guards))
            return LogEHVITimesFeasibility(model, ref, partitioning, guard_outputs, sampler=sampler, objective=objective)
        return qLogExpectedHypervolumeImprovement(model, partitioning=partitioning, **common)
    model = cached_if_list(model)
    # pruning here rather than by prune_baseline=True: fewer samples, same purpose, much faster
    X_baseline = prune_inferior_points_multi_objective(
        model,
        torch.as_tensor(data.X_baseline, dtype=torch.double),
        ref_point=ref,
        objective=objective,
        constraints=guards.get("constraints"),
        num_samples=PRUNE_SAMPLES,
    )
    return qLogNoisyExpectedHypervolumeImprovement(model, X_baseline=X_baseline, **common)


def _measured_front(data: TrainingData, ref: Any, scale: Any) -> Any:
    """One box decomposition of the feasible trials' scaled objective values (BoTorch's convention)."""
    import torch
    from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning

    feasible = {t.number for t in data.feasible}
    rows = [i for i, t in enumerate(data.complete) if t.number in feasible]
    Y = np.column_stack([o.Y for o in data.objectives])[rows] if rows else np.empty((0, len(ref)))
    return FastNondominatedPartitioning(ref_point=ref, Y=torch.as_tensor(Y, dtype=torch.double) / scale)


def parego(model: Any, problem: Problem, data: TrainingData, X_pending: Any, sampler: Any, seed: int) -> Any:
    """qLogNParEGO: noisy expected improvement of a Chebyshev scalarization with weights drawn from ``seed``.

    Returns:
        A BoTorch acquisition function.
    """
    import torch
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
    from botorch.acquisition.multi_objective.parego import qLogNParEGO
    from botorch.utils.sampling import sample_simplex

    weights = sample_simplex(problem.n_objectives, seed=seed, dtype=torch.double).view(-1)
    return qLogNParEGO(
        cached_if_list(model),
        X_baseline=torch.as_tensor(data.X_baseline, dtype=torch.double),
        scalarization_weights=weights,
        sampler=sampler,
        objective=IdentityMCMultiOutputObjective(outcomes=list(range(problem.n_objectives))),
        X_pending=X_pending,
        prune_baseline=True,
        **_guards_after_objectives(problem, data),
    )


def constrained_ei(model: Any, problem: Problem, data: TrainingData, X_pending: Any, sampler: Any) -> Any:
    """qLogNEI of the one (scaled) objective under the constraints and failure model.

    Returns:
        A BoTorch acquisition function.
    """
    import torch
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.acquisition.objective import GenericMCObjective

    scale = float(objective_scale(data)[0])
    return qLogNoisyExpectedImprovement(
        cached_if_list(model),
        X_baseline=torch.as_tensor(data.X_baseline, dtype=torch.double),
        sampler=sampler,
        objective=GenericMCObjective(lambda Z, X=None: Z[..., 0] / scale),
        X_pending=X_pending,
        prune_baseline=True,
        **_guards_after_objectives(problem, data),
    )


def probability_of_feasibility(model: Any, data: TrainingData, X_pending: Any, sampler: Any) -> Any:
    """qLogProbabilityOfFeasibility of the guards (the model's only outputs in this phase).

    Returns:
        A BoTorch acquisition function.
    """
    from botorch.acquisition.logei import qLogProbabilityOfFeasibility

    return qLogProbabilityOfFeasibility(
        cached_if_list(model),
        constraints=_guard_callables(0, len(data.guards)),
        sampler=sampler,
        X_pending=X_pending,
        eta=_eta(data),
    )
