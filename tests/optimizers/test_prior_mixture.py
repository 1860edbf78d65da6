from __future__ import annotations

import math

import pytest
import torch

from moo_hpo.optimizers.prior_mixture import MeanOfLogAcquisitions, mixture_moments


def _log_ei(lengthscale: float):
    """BoTorch's analytic LogEI on a GP with a fixed lengthscale (no fit: the test needs two beliefs)."""
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.models import SingleTaskGP

    X = torch.tensor([[0.1], [0.4], [0.8]], dtype=torch.double)
    Y = torch.tensor([[0.2], [1.0], [0.1]], dtype=torch.double)
    model = SingleTaskGP(X, Y)
    model.covar_module.lengthscale = lengthscale
    model.eval()
    return LogExpectedImprovement(model, best_f=1.0)


def test_value_is_the_log_of_the_mean_of_the_acquisition_values():
    short, long = _log_ei(0.05), _log_ei(0.5)
    mixture = MeanOfLogAcquisitions([short, long])
    X = torch.linspace(0.0, 1.0, 7, dtype=torch.double).reshape(-1, 1, 1)
    with torch.no_grad():
        a, b, mixed = short(X), long(X), mixture(X)
    expected = torch.log((a.exp() + b.exp()) / 2.0)
    assert torch.allclose(mixed, expected, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(a, b)  # the two beliefs differ, so the mean is not either one
    # the mean of an acquisition with itself is that acquisition, also where its value is tiny
    deep = MeanOfLogAcquisitions([short, short])
    with torch.no_grad():
        assert torch.allclose(deep(X), a, atol=1e-12)
    assert mixture.audit_name == "LogExpectedImprovement (mean over 2 lengthscale priors)"
    assert MeanOfLogAcquisitions([short, long], name="LogEI").audit_name == "LogEI (mean over 2 lengthscale priors)"


def test_gradients_flow_through_both_acquisitions():
    short, long = _log_ei(0.05), _log_ei(0.5)
    X = torch.tensor([[[0.6]]], dtype=torch.double, requires_grad=True)
    MeanOfLogAcquisitions([short, long])(X).sum().backward()
    assert X.grad is not None and math.isfinite(float(X.grad)) and float(X.grad) != 0.0


def test_needs_at_least_one_acquisition():
    with pytest.raises(ValueError, match="at least one acquisition; received none"):
        MeanOfLogAcquisitions([])


def test_mixture_moments_follow_the_law_of_total_variance():
    means = torch.tensor([[1.0, 0.0], [3.0, 0.0]], dtype=torch.double)
    variances = torch.tensor([[0.5, 2.0], [1.5, 2.0]], dtype=torch.double)
    mean, variance = mixture_moments(means, variances)
    assert mean.tolist() == [2.0, 0.0]
    assert variance.tolist() == [1.0 + 1.0, 2.0]  # mean of variances + variance of means
    # against samples of the mixture
    gen = torch.Generator().manual_seed(0)
    comp = torch.randint(0, 2, (400_000,), generator=gen)
    draws = means[comp, 0] + variances[comp, 0].sqrt() * torch.randn(400_000, generator=gen, dtype=torch.double)
    assert float(draws.mean()) == pytest.approx(2.0, abs=0.01)
    assert float(draws.var()) == pytest.approx(2.0, abs=0.02)
