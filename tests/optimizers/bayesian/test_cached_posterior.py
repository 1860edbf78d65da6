from __future__ import annotations

import warnings

import pytest
import torch

from moo_hpo.optimizers.bayesian.cached_posterior import CachedSingleTaskGP, cached_gp


def data(n: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Three outcomes on very different scales at ``n`` points of the unit cube in 4 dimensions."""
    X = torch.rand(n, 4, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    return X, torch.stack([100 * X.sum(-1), torch.sin(5 * X[:, 0]), X[:, 1] ** 2 - 0.3], -1)


def fitted_gp(n_outputs: int = 3, noiseless: bool = False, quadratic_trend: bool = False, **kwargs):
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(0)
    X, Y = data()
    Y = Y[:, :n_outputs]
    if noiseless:
        kwargs["train_Yvar"] = 2e-6 * Y.var(0).expand_as(Y).clone()
    if quadratic_trend:
        from moo_hpo.optimizers.bayesian.kernels import covar_module

        kwargs["covar_module"] = covar_module(4, torch.Size([n_outputs] if n_outputs > 1 else []), quadratic_trend=True)
    gp = SingleTaskGP(X, Y, outcome_transform=Standardize(m=n_outputs), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    return gp.eval()


CASES = [(m, noiseless) for m in (1, 3) for noiseless in (False, True)]


@pytest.mark.parametrize("n_outputs,noiseless", CASES)
@pytest.mark.parametrize("q", [1, 3])
@pytest.mark.parametrize("quadratic_trend", [False, True])
def test_posterior_equals_gpytorchs(n_outputs, noiseless, q, quadratic_trend):
    gp = fitted_gp(n_outputs, noiseless, quadratic_trend)
    if quadratic_trend:  # the fit used the trend: not a vanishing term that a missing one would pass
        with torch.no_grad():
            assert gp.covar_module.kernels[1](data()[0]).to_dense().max() > 1e-3
    fast = cached_gp(gp)
    assert isinstance(fast, CachedSingleTaskGP) and fast.num_outputs == n_outputs
    X = torch.rand(5, q, 4, dtype=torch.double, generator=torch.Generator().manual_seed(1))
    expected, got = gp.posterior(X), fast.posterior(X)
    assert got.mean.shape == expected.mean.shape == (5, q, n_outputs)
    torch.testing.assert_close(got.mean, expected.mean, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(got.variance, expected.variance, rtol=1e-6, atol=1e-12)
    from botorch.sampling.normal import SobolQMCNormalSampler

    sampler = SobolQMCNormalSampler(torch.Size([16]), seed=3)  # same base samples, same draws
    torch.testing.assert_close(sampler(got), sampler(expected), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("shape", [(3, 4), (6, 1, 3, 4), (2, 5, 2, 4)])
def test_posterior_with_the_trend_equals_gpytorchs_for_any_batch_shape(shape):
    """Points as BoTorch passes them: ``q x d``, ``b x 1 x q x d`` (raw samples), other batches."""
    gp = fitted_gp(3, noiseless=True, quadratic_trend=True)
    X = torch.rand(*shape, dtype=torch.double, generator=torch.Generator().manual_seed(6))
    expected, got = gp.posterior(X), cached_gp(gp).posterior(X)
    assert got.mean.shape == expected.mean.shape == (*shape[:-1], 3)
    torch.testing.assert_close(got.mean, expected.mean, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(got.variance, expected.variance, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("quadratic_trend", [False, True])
def test_acquisition_value_and_gradient_equal_gpytorchs_with_pending_points(quadratic_trend):
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import (
        IdentityMCMultiOutputObjective,
    )
    from botorch.sampling.normal import SobolQMCNormalSampler
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    gp = fitted_gp(3, noiseless=True, quadratic_trend=quadratic_trend)
    Y = data()[1]
    partitioning = FastNondominatedPartitioning(ref_point=Y[:, :2].min(0).values - 1, Y=Y[:, :2])

    def acquisition(model):
        return qLogExpectedHypervolumeImprovement(
            model,
            ref_point=Y[:, :2].min(0).values - 1,
            partitioning=partitioning,
            sampler=SobolQMCNormalSampler(torch.Size([16]), seed=0),
            objective=IdentityMCMultiOutputObjective(outcomes=[0, 1]),
            constraints=[lambda Z: Z[..., 2]],
            X_pending=torch.rand(2, 4, dtype=torch.double, generator=torch.Generator().manual_seed(2)),
        )

    values, grads = [], []
    for model in (gp, cached_gp(gp)):
        X = torch.rand(7, 1, 4, dtype=torch.double, generator=torch.Generator().manual_seed(5)).requires_grad_(True)
        v = acquisition(model)(X)
        v.sum().backward()
        values.append(v.detach())
        grads.append(X.grad)
    assert torch.isfinite(values[0]).all() and values[0].std() > 0 and grads[0].abs().sum() > 0
    torch.testing.assert_close(values[1], values[0], rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("q", [1, 3])
@pytest.mark.parametrize("quadratic_trend", [False, True])
def test_a_model_list_of_gps_is_stacked_with_the_same_posterior(q, quadratic_trend):
    """Objectives and constraints in one batched GP, a failure label on other rows in another."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from botorch.sampling.normal import SobolQMCNormalSampler
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from moo_hpo.optimizers.bayesian.cached_posterior import StackedCachedGPs

    main = fitted_gp(2, noiseless=True, quadratic_trend=quadratic_trend)
    X = torch.rand(12, 4, dtype=torch.double, generator=torch.Generator().manual_seed(4))
    labels = torch.where(X[:, :1] > 0.6, 1.0, -1.0).double()
    failure = SingleTaskGP(X, labels, outcome_transform=Standardize(m=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(failure.likelihood, failure))
    model = ModelListGP(main, failure.eval()).eval()
    fast = cached_gp(model)
    assert isinstance(fast, StackedCachedGPs) and fast.num_outputs == 3
    Xq = torch.rand(5, q, 4, dtype=torch.double, generator=torch.Generator().manual_seed(1))
    expected, got = model.posterior(Xq), fast.posterior(Xq)
    assert got.mean.shape == expected.mean.shape == (5, q, 3)
    torch.testing.assert_close(got.mean, expected.mean, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(got.variance, expected.variance, rtol=1e-6, atol=1e-12)
    sampler = SobolQMCNormalSampler(torch.Size([16]), seed=3)
    torch.testing.assert_close(sampler(got), sampler(expected), rtol=1e-6, atol=1e-7)


def _failure_gp(X: torch.Tensor):
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    labels = torch.where(X[:, :1] > 0.7, 1.0, -1.0).double()
    failure = SingleTaskGP(X, labels, outcome_transform=Standardize(m=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(failure.likelihood, failure))
    return failure.eval()


def test_qlognehvi_on_a_stacked_model_agrees_with_gpytorchs_model_list():
    """The noisy criterion on the cached model list (no cached root decomposition: the joint posterior of
    the baseline and the candidate is sampled each time; BoTorch picks the sampler to prune the baseline)
    against BoTorch's on the GPyTorch models, one output each."""
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import (
        IdentityMCMultiOutputObjective,
    )
    from botorch.models import ModelListGP
    from botorch.sampling.normal import SobolQMCNormalSampler

    X, Y = data()
    model = ModelListGP(fitted_gp(1), fitted_gp(1), _failure_gp(X)).eval()  # two objectives (the same data), failures

    def acquisition(m):
        return qLogNoisyExpectedHypervolumeImprovement(
            m, ref_point=Y[:, :2].min(0).values, X_baseline=X[:12],
            sampler=SobolQMCNormalSampler(torch.Size([1024]), seed=0),
            objective=IdentityMCMultiOutputObjective(outcomes=[0, 1]), constraints=[lambda Z: Z[..., 2]],
        )

    Xq = torch.rand(6, 1, 4, dtype=torch.double, generator=torch.Generator().manual_seed(7))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = acquisition(model)(Xq)
        got = acquisition(cached_gp(model))(Xq)
    assert torch.isfinite(expected).all() and expected.std() > 0.1
    torch.testing.assert_close(got, expected, rtol=0.0, atol=0.05)  # Monte-Carlo error of 1024 samples, in log


def test_a_stacked_batched_member_keeps_its_own_posterior_at_the_training_points():
    """GPyTorch's ModelListGP gives a batched member's second output another variance at the member's
    training points than the member itself (BoTorch 0.18.1, GPyTorch 1.15.2); the stacked model does not."""
    from botorch.models import ModelListGP

    main = fitted_gp(2)
    X, _ = data()
    fast = cached_gp(ModelListGP(main, _failure_gp(X)).eval())
    with torch.no_grad():
        own = main.posterior(X[:12])
        got = fast.posterior(X[:12])
    torch.testing.assert_close(got.mean[..., :2], own.mean, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(got.variance[..., :2], own.variance, rtol=1e-5, atol=1e-12)


def test_other_models_are_not_cached():
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.input import Normalize
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.kernels import MaternKernel, ScaleKernel

    X, Y = torch.rand(10, 2, dtype=torch.double), torch.rand(10, 1, dtype=torch.double)
    assert cached_gp(ModelListGP(SingleTaskGP(X, Y), SingleTaskGP(X, Y))) is None  # members in training mode
    assert cached_gp(ModelListGP(fitted_gp(1), fitted_gp(1, input_transform=Normalize(d=4)))) is None  # one not cacheable
    assert cached_gp(SingleTaskGP(X, Y, outcome_transform=None).eval()) is None  # no Standardize outcome transform
    assert cached_gp(fitted_gp(1, input_transform=Normalize(d=4))) is None
    assert cached_gp(fitted_gp(1, covar_module=ScaleKernel(MaternKernel(ard_num_dims=4)))) is None
    assert cached_gp(fitted_gp(1).train()) is None  # training mode: hyperparameters may still move
    batched = SingleTaskGP(torch.rand(2, 10, 2, dtype=torch.double), torch.rand(2, 10, 1, dtype=torch.double))
    assert cached_gp(batched.eval()) is None  # a batch of GPs over batched training data
    from gpytorch.kernels import RBFKernel

    X, Y = data()
    shared = SingleTaskGP(X, Y, covar_module=RBFKernel(ard_num_dims=4), outcome_transform=Standardize(m=3))
    assert cached_gp(shared.eval()) is None  # one kernel for every output
    from moo_hpo.optimizers.bayesian.kernels import QuadraticTrendKernel

    rbf_plus_other = RBFKernel(ard_num_dims=4) + ScaleKernel(MaternKernel(ard_num_dims=4))
    assert cached_gp(fitted_gp(1, covar_module=rbf_plus_other)) is None  # a sum with another kernel
    scaled = RBFKernel(ard_num_dims=4) + ScaleKernel(QuadraticTrendKernel())
    assert cached_gp(fitted_gp(1, covar_module=scaled)) is None  # the trend inside another kernel
    shared_trend = SingleTaskGP(X, Y, covar_module=RBFKernel(ard_num_dims=4, batch_shape=torch.Size([3])) + QuadraticTrendKernel(),
                                outcome_transform=Standardize(m=3))
    assert cached_gp(shared_trend.eval()) is None  # one trend for every output


def test_only_the_latent_posterior_is_offered():
    fast = cached_gp(fitted_gp(1))
    X = torch.rand(3, 1, 4, dtype=torch.double)
    with pytest.raises(NotImplementedError, match="latent posterior"):
        fast.posterior(X, observation_noise=True)
    with pytest.raises(NotImplementedError, match="latent posterior"):
        fast.posterior(X, output_indices=[0])


def test_rsample_has_the_posteriors_moments():
    gp = fitted_gp(3)
    posterior = cached_gp(gp).posterior(torch.rand(2, 1, 4, dtype=torch.double))
    torch.manual_seed(0)
    samples = posterior.rsample(torch.Size([20000]))
    assert samples.shape == (20000, 2, 1, 3)
    torch.testing.assert_close(samples.mean(0), posterior.mean, rtol=0.05, atol=0.05 * posterior.variance.sqrt().max().item())
    torch.testing.assert_close(samples.var(0), posterior.variance, rtol=0.05, atol=1e-12)


def test_a_degenerate_candidate_gets_gpytorchs_jitter_and_leaves_the_others_alone():
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import (
        IdentityMCMultiOutputObjective,
    )
    from botorch.sampling.normal import SobolQMCNormalSampler
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    gp = fitted_gp(3, noiseless=True)
    Y = data()[1][:, :2]
    ref = Y.min(0).values - 1
    pending = torch.rand(2, 4, dtype=torch.double, generator=torch.Generator().manual_seed(2))

    def acquisition(model):
        return qLogExpectedHypervolumeImprovement(
            model, ref_point=ref, partitioning=FastNondominatedPartitioning(ref_point=ref, Y=Y),
            sampler=SobolQMCNormalSampler(torch.Size([16]), seed=0), objective=IdentityMCMultiOutputObjective(outcomes=[0, 1]),
            constraints=[lambda Z: Z[..., 2]], X_pending=pending,
        )

    X = torch.rand(64, 1, 4, dtype=torch.double, generator=torch.Generator().manual_seed(9))
    degenerate = X.clone()
    degenerate[0, 0] = pending[0]  # the joint covariance with the pending point is singular
    with torch.no_grad():
        clean = acquisition(cached_gp(gp))(X)
        got, expected = acquisition(cached_gp(gp))(degenerate), acquisition(gp)(degenerate)
    torch.testing.assert_close(got[1:], clean[1:], rtol=0, atol=0)  # the jitter stays with the member that needs it
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-8)


def test_a_zero_variance_keeps_gradients_finite():
    from moo_hpo.optimizers.bayesian.cached_posterior import ExactGaussianPosterior

    X = torch.zeros(1, 1, 1, dtype=torch.double, requires_grad=True)
    zero = torch.zeros(1, 1, 1, 1, dtype=torch.double)  # a variance of exactly 0 at one point
    posterior = ExactGaussianPosterior(X.expand(1, 1, 1), zero * (1 + X))
    draw = posterior.rsample_from_base_samples(torch.Size([1]), torch.ones(1, 1, 1, 1, dtype=torch.double))
    draw.sum().backward()
    assert torch.isfinite(X.grad).all()
    torch.testing.assert_close(draw, torch.full_like(draw, 1e-4))  # sqrt of GPyTorch's first jitter, 1e-8
