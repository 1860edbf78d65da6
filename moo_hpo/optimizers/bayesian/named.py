"""The Bayesian optimizers by name: ``EHVI`` (``"ehvi"``), ``ParEGO`` (``"parego"``) and ``ConstrainedEI``
(``"cei"``), each the proposal loop of :class:`~moo_hpo.optimizers.bayesian.optimizers.BoTorchOptimizer` with
its acquisition from :mod:`~moo_hpo.optimizers.bayesian.acquisition`.
"""

from __future__ import annotations

from typing import Any

from moo_hpo.optimizers.base import Capabilities
from moo_hpo.optimizers.bayesian import acquisition
from moo_hpo.optimizers.bayesian.data import TrainingData
from moo_hpo.optimizers.bayesian.optimizers import BoTorchOptimizer

__all__ = ["EHVI", "ConstrainedEI", "ParEGO"]


class EHVI(BoTorchOptimizer):
    """Expected hypervolume improvement: BoTorch's qLogNEHVI, or with ``noiseless=True`` qLogEHVI over the
    measured front (see :mod:`~moo_hpo.optimizers.bayesian.acquisition`). Takes the options of
    :class:`BoTorchOptimizer`.
    """

    name = "ehvi"
    capabilities = Capabilities(min_objectives=2, max_objectives=4)
    acquisition_name = "qLogNEHVI"

    def _use_noise_mode(self, exact: bool, noisy: set[tuple[str, int]] | None = None) -> None:
        super()._use_noise_mode(exact, noisy)
        self.acquisition_name = "qLogEHVI" if exact else "qLogNEHVI"

    def _acquisition(self, model: Any, data: TrainingData, X_pending: Any, sampler: Any, seed: int, economy: bool = False) -> Any:
        # economy steps score against the measured front: one box decomposition instead of one per sample
        acq = acquisition.ehvi(model, self.problem, data, X_pending, sampler, exact_front=self.exact or economy)
        if economy and not hasattr(acq, "audit_name"):
            acq.audit_name = "qLogEHVI"
        return acq


class ParEGO(BoTorchOptimizer):
    """ParEGO: BoTorch's qLogNParEGO, noisy expected improvement of a random Chebyshev scalarization of the
    objectives (new weights for every proposal). Takes the options of :class:`BoTorchOptimizer`.
    """

    name = "parego"
    capabilities = Capabilities(min_objectives=2)
    acquisition_name = "qLogNParEGO"

    def _acquisition(self, model: Any, data: TrainingData, X_pending: Any, sampler: Any, seed: int, economy: bool = False) -> Any:
        return acquisition.parego(model, self.problem, data, X_pending, sampler, seed)


class ConstrainedEI(BoTorchOptimizer):
    """Constrained expected improvement for one objective: BoTorch's qLogNEI under the hard constraints, after
    a search for the feasible region (qLogProbabilityOfFeasibility) while no trial is feasible, or fewer than two
    trials measured the objective (a candidate skipped for a broken limit measures none). Takes the options of
    :class:`BoTorchOptimizer`.
    """

    name = "cei"
    capabilities = Capabilities(min_objectives=1, max_objectives=1)
    acquisition_name = "qLogNEI"

    def _phase(self, data: TrainingData) -> str | None:
        phase = super()._phase(data)
        if phase == "model" and data.constraints and not data.any_feasible:
            return "feasibility"  # complete trials measured every hard constraint: >= 2 rows each
        return phase

    def _acquisition(self, model: Any, data: TrainingData, X_pending: Any, sampler: Any, seed: int, economy: bool = False) -> Any:
        return acquisition.constrained_ei(model, self.problem, data, X_pending, sampler)
