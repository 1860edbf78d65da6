"""An acquisition under an equal-weight mixture of GP models: the log of the mean of their acquisition values.

Why: each GP's lengthscale prior decides how it extrapolates. BoTorch's dimension-scaled LogNormal prior
gives long lengthscales, which carry the trend of the data into unexplored regions (on C2-DTLZ2 this is
how the search reaches the feasible arcs that the initial design missed). A Gamma(3, 6) prior (mode 1/3
of the unit cube, BoTorch's earlier default) gives short ones, whose models fall back to their mean away
from the data and so do not promise improvements there (on DTLZ2 with six variables most of the long
lengthscales' early proposals went to unexplored corners and measured several predicted standard
deviations worse). Neither is right for every problem (``docs/benchmarks.md``), and a single fit cannot
tell which one will search better: the leave-one-out likelihood preferred the long lengthscales on both
problems.

Averaging the models instead of choosing one: if the posterior is the mixture ``sum_k w_k p_k(y | x)``,
the expectation of any improvement ``I`` under it is ``sum_k w_k E_k[I(x)]``. So the acquisition of the
mixture is the weighted mean of each model's acquisition value, here with equal weights; for the
log-acquisitions of BoTorch's LogEI family (all that moo_hpo uses) that is the log-sum-exp of their values
minus ``log K``. A candidate is then worth what it is worth on average over the two beliefs: promising
under both, it keeps its value; promising under one only, half of it.

Why our own code: BoTorch has no acquisition over a mixture of separately fitted models (its
fully Bayesian models average over posterior samples of one model's hyperparameters, at the cost of
MCMC); this is a few lines over its acquisition interface.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from torch import Tensor

__all__ = ["MeanOfLogAcquisitions", "mixture_moments"]


class MeanOfLogAcquisitions(AcquisitionFunction):
    """``log(mean_k exp(a_k(X)))`` of log-valued acquisitions ``a_k``, one per model of the mixture.

    Args:
        acquisitions: log-valued acquisition functions (BoTorch's LogEI family), one per model; all
            score the same candidates.
        name: the acquisitions' name for the audit trail; None for the first one's ``audit_name``
            or class name.

    Raises:
        ValueError: when ``acquisitions`` is empty.
    """

    def __init__(self, acquisitions: Sequence[AcquisitionFunction], name: str | None = None) -> None:
        if not acquisitions:
            raise ValueError("MeanOfLogAcquisitions needs at least one acquisition; received none")
        super().__init__(model=acquisitions[0].model)
        self.acquisitions = torch.nn.ModuleList(acquisitions)
        first = acquisitions[0]
        name = name or getattr(first, "audit_name", type(first).__name__)
        self.audit_name = f"{name} (mean over {len(acquisitions)} lengthscale priors)"

    def forward(self, X: Tensor) -> Tensor:
        """The mixture's log-acquisition at ``X`` (``batch x q x d``): one value per batch element."""
        values = torch.stack([acq(X) for acq in self.acquisitions])
        return torch.logsumexp(values, dim=0) - math.log(len(self.acquisitions))


def mixture_moments(means: Tensor, variances: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and variance of an equal-weight mixture from its components' (stacked along dim 0).

    Args:
        means: the components' means, ``K x ...``.
        variances: their variances, same shape.

    Returns:
        ``(mean, variance)``: the mean of the means, and the mean of the variances plus the variance
        of the means (the law of total variance).
    """
    mean = means.mean(dim=0)
    variance = variances.mean(dim=0) + (means - mean).pow(2).mean(dim=0)
    return mean, variance
