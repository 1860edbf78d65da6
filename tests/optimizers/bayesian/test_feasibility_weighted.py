from __future__ import annotations

import warnings

import pytest
import torch

from moo_hpo.optimizers.bayesian.feasibility_weighted import LogEHVITimesFeasibility

REF = torch.tensor([-1.2, -1.4], dtype=torch.double)  # BoTorch maximizes: objectives negated


def fitted_model():
    """Two objectives and one constraint (``g <= 0`` feasible), independent GPs in one batched model."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(0)
    X = torch.rand(10, 2, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    Y = torch.stack([-X[:, 0], -(1 - X[:, 0] ** 2 + 0.3 * X[:, 1]), torch.sin(7 * X[:, 0] + 3 * X[:, 1]) - 0.2], -1)
    model = SingleTaskGP(X, Y, train_Yvar=torch.full_like(Y, 1e-6), outcome_transform=Standardize(m=3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model.eval(), Y


def arguments(Y, samples: int) -> dict:
    """qLogEHVI's arguments: the feasible trials' front, ``samples`` QMC samples, objectives 0 and 1."""
    from botorch.acquisition.multi_objective.objective import (
        IdentityMCMultiOutputObjective,
    )
    from botorch.sampling.normal import SobolQMCNormalSampler
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    feasible = Y[:, 2] <= 0
    return {
        "ref_point": REF,
        "partitioning": FastNondominatedPartitioning(ref_point=REF, Y=Y[feasible, :2]),
        "sampler": SobolQMCNormalSampler(torch.Size([samples]), seed=0),
        "objective": IdentityMCMultiOutputObjective(outcomes=[0, 1]),
    }


def log_ehvi(model, Y, samples: int, constrained: bool):
    """BoTorch's qLogEHVI, with the constraint as a callable (sharp indicator) or without it."""
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement,
    )

    extra = {"constraints": [lambda Z: Z[..., 2]], "eta": 1e-4} if constrained else {}
    return qLogExpectedHypervolumeImprovement(model, **arguments(Y, samples), **extra)


def weighted(model, Y, samples: int, constraint_outputs=(2,)):
    return LogEHVITimesFeasibility(model, constraint_outputs=constraint_outputs, **arguments(Y, samples))


def test_equals_the_constrained_expectation_estimated_with_many_samples():
    """The closed-form feasibility factor times E[HVI] is E[HVI * 1{feasible}] (independent outputs):
    BoTorch's own constrained qLogEHVI with 4096 samples and a sharp indicator agrees."""
    model, Y = fitted_model()
    X = torch.rand(64, 1, 2, dtype=torch.double, generator=torch.Generator().manual_seed(1))
    acquisition = weighted(model, Y, 16)
    reference = log_ehvi(model, Y, 4096, constrained=True)
    with torch.no_grad():
        post = model.posterior(X)
        p_feasible = torch.distributions.Normal(0.0, 1.0).cdf(-post.mean[..., 0, 2] / post.variance[..., 0, 2].sqrt())
        # where both factors are large enough for 4096 samples to estimate their product well
        keep = (p_feasible > 0.05) & (log_ehvi(model, Y, 4096, constrained=False)(X) > -6.0)
        assert keep.sum() >= 10 and (p_feasible[keep] < 0.95).sum() >= 3  # uncertain feasibility among them
        exact_feasibility = weighted(model, Y, 4096)
        torch.testing.assert_close(exact_feasibility(X)[keep], reference(X)[keep], atol=0.05, rtol=0.0)
        # and it is E[HVI] (estimated) plus log P(feasible) (exact), nothing else
        expected = log_ehvi(model, Y, 16, constrained=False)(X) + p_feasible.log()
        torch.testing.assert_close(acquisition(X)[keep], expected[keep], atol=1e-9, rtol=1e-9)


def test_gradient_is_finite_and_points_somewhere():
    model, Y = fitted_model()
    acquisition = weighted(model, Y, 16)
    X = torch.tensor([[[0.3, 0.7]], [[0.9, 0.1]]], dtype=torch.double, requires_grad=True)
    acquisition(X).sum().backward()
    assert torch.isfinite(X.grad).all() and (X.grad.abs().sum(-1) > 0).all()


def test_refuses_what_does_not_factorize():
    model, Y = fitted_model()
    acquisition = weighted(model, Y, 16)
    with pytest.raises(ValueError, match=r"batch x 1 x d .*received \(3, 2, 2\)"):
        acquisition(torch.rand(3, 2, 2, dtype=torch.double))
    with pytest.raises(ValueError, match="without pending points"):
        acquisition.set_X_pending(torch.rand(1, 2, dtype=torch.double))
    acquisition.set_X_pending(None)
    with pytest.raises(ValueError, match="at least one output"):
        weighted(model, Y, 16, constraint_outputs=[])
