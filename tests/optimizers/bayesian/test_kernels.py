from __future__ import annotations

import warnings

import pytest
import torch

from moo_hpo.optimizers.bayesian.kernels import QuadraticTrendKernel, covar_module


def _set_scales(kernel: QuadraticTrendKernel, linear: float, quadratic: float) -> None:
    kernel.initialize(raw_linear_scale=kernel.raw_linear_scale_constraint.inverse_transform(torch.tensor(linear)))
    kernel.initialize(raw_quadratic_scale=kernel.raw_quadratic_scale_constraint.inverse_transform(torch.tensor(quadratic)))


def test_trend_kernel_is_the_covariance_of_random_linear_plus_quadratic_functions():
    """a u.u' + b (u.u')^2 is the covariance of w.u + sum_ij v_ij u_i u_j with w ~ N(0, a), v ~ N(0, b)."""
    kernel = QuadraticTrendKernel().double()
    _set_scales(kernel, linear=0.7, quadratic=2.5)
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.rand(5, 3, dtype=torch.double, generator=g), torch.rand(4, 3, dtype=torch.double, generator=g)
    u1, u2 = x1 - 0.5, x2 - 0.5
    products1, products2 = (u1[:, :, None] * u1[:, None, :]).reshape(5, 9), (u2[:, :, None] * u2[:, None, :]).reshape(4, 9)
    expected = 0.7 * u1 @ u2.T + 2.5 * products1 @ products2.T
    with torch.no_grad():
        torch.testing.assert_close(kernel(x1, x2).to_dense(), expected)
        torch.testing.assert_close(kernel(x1, x1, diag=True), (0.7 * u1 * u1).sum(-1) + 2.5 * (products1**2).sum(-1))
    # centred on the cube's middle: the same for the mirror images 1 - x
    with torch.no_grad():
        torch.testing.assert_close(kernel(1 - x1, 1 - x2).to_dense(), expected)


def test_trend_kernel_keeps_one_pair_of_scales_per_batch_entry():
    kernel = QuadraticTrendKernel(batch_shape=torch.Size([3])).double()
    assert kernel.linear_scale.shape == kernel.quadratic_scale.shape == (3, 1)
    x = torch.rand(6, 2, dtype=torch.double)
    with torch.no_grad():
        assert kernel(x).to_dense().shape == (3, 6, 6)
        assert kernel(x, diag=True).shape == (3, 6)
    with pytest.raises(NotImplementedError, match="last_dim_is_batch"):
        kernel.forward(x, x, last_dim_is_batch=True)


def test_covar_module_is_botorchs_kernel_alone_or_plus_the_trend():
    from gpytorch.kernels import AdditiveKernel, RBFKernel
    from gpytorch.priors import LogNormalPrior

    plain = covar_module(4, torch.Size([]), quadratic_trend=False)
    assert type(plain) is RBFKernel and isinstance(plain.lengthscale_prior, LogNormalPrior)
    with_trend = covar_module(4, torch.Size([2]), quadratic_trend=True)
    assert type(with_trend) is AdditiveKernel
    rbf, trend = with_trend.kernels
    assert type(rbf) is RBFKernel and rbf.lengthscale.shape == (2, 1, 4) and isinstance(rbf.lengthscale_prior, LogNormalPrior)
    assert type(trend) is QuadraticTrendKernel and trend.batch_shape == (2,)


def _fitted(X: torch.Tensor, y: torch.Tensor, quadratic_trend: bool):
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(0)
    gp = SingleTaskGP(X, y, train_Yvar=torch.full_like(y, 1e-6), outcome_transform=Standardize(m=1),
                      covar_module=covar_module(X.shape[-1], torch.Size([]), quadratic_trend))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    return gp.eval()


def test_a_gp_with_the_trend_extrapolates_a_bowl_to_the_unexplored_corners():
    """Observations of a bowl in the middle of the cube only: without the trend the GP falls back to the
    data's mean at the corners (they look as good as the average trial); with it, it sees them rise."""
    g = torch.Generator().manual_seed(1)
    X = 0.3 + 0.4 * torch.rand(20, 3, dtype=torch.double, generator=g)

    def bowl(x):
        return ((x - 0.5) ** 2).sum(-1, keepdim=True)

    corners = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]], dtype=torch.double)
    truth = bowl(corners).squeeze(-1)  # 0.75 each, against at most 0.12 in the data
    models = [_fitted(X, bowl(X), quadratic_trend) for quadratic_trend in (False, True)]
    with torch.no_grad():
        plain, trend = (m.posterior(corners).mean.squeeze(-1) for m in models)
    assert (plain < 0.3).all()  # the corners look nearly as good as the data
    torch.testing.assert_close(trend, truth, rtol=0.05, atol=0.0)


def test_the_trend_fades_where_the_data_have_none():
    g = torch.Generator().manual_seed(2)
    X = torch.rand(30, 2, dtype=torch.double, generator=g)
    y = torch.sin(12 * X[:, :1]) * torch.cos(9 * X[:, 1:])  # many bumps, no bowl
    trend = _fitted(X, y, quadratic_trend=True).covar_module.kernels[1]
    with torch.no_grad():
        assert trend(X).to_dense().abs().max() < 0.05  # against a signal variance of 1 (standardized)
