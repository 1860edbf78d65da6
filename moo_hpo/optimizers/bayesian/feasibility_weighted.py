"""Log expected hypervolume improvement times the exact probability of feasibility, for one candidate.

Why our own code: BoTorch's qLogEHVI with constraint callables weighs each posterior sample's
hypervolume improvement by a smoothed indicator of that sample's feasibility. Its probability of
feasibility is therefore a Monte-Carlo estimate from the acquisition's few samples (16 for moo_hpo's
exact-front ``"ehvi"``), nearly a step function of each sample: flat between steps, and coarse where
the constraint model is uncertain, which is where a constrained search must decide whether to look.

moo_hpo models every outcome with its own independent GP. For a single candidate ``x`` the objectives
and the constraints are then independent given ``x``, and the expectation factorizes:

    E[HVI(x) * 1{g_1(x) <= 0, ..., g_k(x) <= 0}] = E[HVI(x)] * prod_i Phi(-mu_i(x) / sigma_i(x)),

so the feasibility factor has a closed form (the analytic constrained EI of Gardner et al., 2014,
applied to hypervolume improvement). :class:`LogEHVITimesFeasibility` adds its logarithm (BoTorch's
``log_ndtr``, accurate far into the tails) to BoTorch's unconstrained qLogEHVI, whose log-improvement
computation it reuses. With pending points the
factorization no longer holds (the candidate's and the pending points' constraints are correlated
through the same GP), and callers keep BoTorch's qLogEHVI with constraint callables there.
"""

from __future__ import annotations

from collections.abc import Sequence

from botorch.acquisition.multi_objective.logei import qLogExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import MCMultiOutputObjective
from botorch.models.model import Model
from botorch.sampling.base import MCSampler
from botorch.utils.multi_objective.box_decompositions.box_decomposition import BoxDecomposition
from botorch.utils.probability.utils import log_ndtr
from torch import Tensor

from moo_hpo.optimizers.bayesian._private_api import log_qehvi_of_samples

__all__ = ["LogEHVITimesFeasibility"]


class LogEHVITimesFeasibility(qLogExpectedHypervolumeImprovement):
    """``log E[HVI(x)] + sum_i log P(g_i(x) <= 0)`` for one candidate ``x``.

    BoTorch's qLogEHVI over the objectives alone (no constraint callables, no pending points), plus the
    closed-form feasibility term from the same posterior call: one posterior per evaluation (a second call
    for the feasibility alone was measured far slower: docs/lab/2026-12-05-bayesian-adapter-notes.md).

    Args:
        model: the outcomes' model (independent outputs: objectives and constraints).
        ref_point: the hypervolume reference point, as for qLogEHVI.
        partitioning: the box decomposition of the current front, as for qLogEHVI.
        constraint_outputs: the model's output columns holding constraint values ``g`` (``g <= 0``
            feasible), in the model's (untransformed) units.
        sampler: the posterior sampler of the hypervolume improvement.
        objective: selects (and may weight) the objective outputs, as for qLogEHVI.

    Raises:
        ValueError: when no constraint output is given.
    """

    audit_name = "qLogEHVI x P(feasible)"

    def __init__(
        self,
        model: Model,
        ref_point: Tensor,
        partitioning: BoxDecomposition,
        constraint_outputs: Sequence[int],
        sampler: MCSampler | None = None,
        objective: MCMultiOutputObjective | None = None,
    ) -> None:
        if len(constraint_outputs) == 0:
            raise ValueError("constraint_outputs must name at least one output; received none")
        super().__init__(model=model, ref_point=ref_point, partitioning=partitioning, sampler=sampler, objective=objective)
        self.constraint_outputs = list(constraint_outputs)

    def forward(self, X: Tensor) -> Tensor:
        """Acquisition values of ``batch x 1 x d`` candidates, shape ``batch``.

        Raises:
            ValueError: for ``X`` that is not ``batch x 1 x d``.
        """
        if X.dim() < 3 or X.shape[-2] != 1:
            raise ValueError(f"expected candidates of shape batch x 1 x d (one point each); received {tuple(X.shape)}")
        posterior = self.model.posterior(X)
        log_ehvi = log_qehvi_of_samples(self, self.get_posterior_samples(posterior), X)
        cols = self.constraint_outputs
        mean = posterior.mean[..., 0, cols]
        std = posterior.variance[..., 0, cols].clamp_min(1e-20).sqrt()
        return log_ehvi + log_ndtr(-mean / std).sum(dim=-1)

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        """Refuse pending points (see the module docstring); None is accepted.

        Raises:
            ValueError: for any pending points.
        """
        if X_pending is not None:
            raise ValueError(
                "LogEHVITimesFeasibility scores one candidate without pending points; "
                f"received X_pending of shape {tuple(X_pending.shape)}"
            )
        self.X_pending = None
