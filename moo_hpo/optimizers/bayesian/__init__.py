"""Bayesian optimization on BoTorch: ``EHVI`` (``"ehvi"``), ``ParEGO`` (``"parego"``) and ``ConstrainedEI`` (``"cei"``).

How a study maps onto BoTorch: each configuration is encoded into the unit cube
(:meth:`moo_hpo.space.Space.encode`), BoTorch's domain. Every objective, hard constraint and the failure label
gets an independent GP (``SingleTaskGP``, standardized outcomes); objectives are negated because BoTorch
maximizes, and a constraint value ``g <= 0`` is handed over as it is, which BoTorch also reads as feasible.
The acquisition (qLogNEHVI / qLogEHVI, qLogNParEGO, qLogNEI, or qLogProbabilityOfFeasibility while nothing is
feasible) is maximized by BoTorch's ``optimize_acqf`` over the continuous relaxation of the cube, and the
optimum is decoded back into a valid configuration.

The package follows BoTorch's own split:

* :mod:`~moo_hpo.optimizers.bayesian.data`: the training data, rebuilt from the told trials;
* :mod:`~moo_hpo.optimizers.bayesian.surrogate`, :mod:`~moo_hpo.optimizers.bayesian.kernels`,
  :mod:`~moo_hpo.optimizers.bayesian.cached_posterior`: the GPs, their kernel and a fast exact posterior;
* :mod:`~moo_hpo.optimizers.bayesian.acquisition` with :mod:`~moo_hpo.optimizers.bayesian.feasibility_weighted`
  and :mod:`~moo_hpo.optimizers.bayesian.front_starts`: the criteria and where their optimization starts;
* :mod:`~moo_hpo.optimizers.bayesian.noise_check`: which metrics are exact (``noiseless="auto"``);
* :mod:`~moo_hpo.optimizers.bayesian.optimizers`: the proposal loop; :mod:`~moo_hpo.optimizers.bayesian.named`:
  the optimizer classes, each the loop with its acquisition;
* :mod:`~moo_hpo.optimizers.bayesian.defaults`: the one table of defaults;
* :mod:`~moo_hpo.optimizers.bayesian._private_api`: every private name of torch, BoTorch and GPyTorch used.

How the defaults were measured: ``docs/lab/2026-12-05-bayesian-adapter-notes.md``.
"""

from __future__ import annotations

from moo_hpo.optimizers.bayesian.named import EHVI, ConstrainedEI, ParEGO
from moo_hpo.optimizers.bayesian.optimizers import BoTorchOptimizer

__all__ = ["EHVI", "BoTorchOptimizer", "ConstrainedEI", "ParEGO"]
