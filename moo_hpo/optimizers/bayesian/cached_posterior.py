"""The exact posterior of a fitted ``SingleTaskGP``, computed in plain torch for acquisition optimization.

Why our own code: optimizing an MC acquisition evaluates the model's posterior once per L-BFGS round, for at
most a few dozen points, where GPyTorch's general machinery (lazy linear operators, shape broadcasting, the
multitask distribution, BoTorch's outcome untransform) costs several times the arithmetic (measured: most of
a qLogEHVI value-and-gradient; docs/lab/2026-12-05-bayesian-adapter-notes.md). :class:`CachedSingleTaskGP`
computes the same posterior (same kernel, mean, noise and outcome transform, exact to rounding) from a
Cholesky factor of the training covariance computed once, with a handful of tensor operations.

It covers the models moo_hpo's Bayesian optimizers build: a ``SingleTaskGP`` with BoTorch's default
RBF kernel (one lengthscale per input), alone or plus the quadratic trend kernel of
:mod:`moo_hpo.optimizers.bayesian.kernels`, and constant mean, a Gaussian likelihood (inferred noise) or a
fixed noise per observation, a ``Standardize`` outcome transform and no input transform, one
output or a batch of independent outputs, and a ``ModelListGP`` of such GPs (:class:`StackedCachedGPs`).
:func:`cached_gp` returns ``None`` for anything else, and
callers keep the GPyTorch model. Only the latent function's posterior is offered (no observation
noise, no posterior transform, no output selection).
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models.model import Model
from botorch.posteriors.posterior import Posterior
from botorch.sampling.base import MCSampler
from botorch.sampling.get_sampler import GetSampler
from botorch.sampling.normal import SobolQMCNormalSampler
from gpytorch.kernels.kernel import sq_dist  # the RBF kernel's own distance
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from moo_hpo.optimizers.bayesian._private_api import input_batch_shape, provides_extended_shape

__all__ = ["CachedSingleTaskGP", "ExactGaussianPosterior", "StackedCachedGPs", "cached_gp"]


@provides_extended_shape
class ExactGaussianPosterior(Posterior):
    """A Gaussian posterior over ``q`` points and ``m`` independent outputs.

    Args:
        mean: posterior means, shape ``batch x q x m``.
        covariance: posterior covariances between the ``q`` points, per output: ``batch x m x q x q``.
    """

    def __init__(self, mean: Tensor, covariance: Tensor) -> None:
        self._mean, self._covariance = mean, covariance
        self._root: Tensor | None = None

    @property
    def device(self) -> torch.device:  # noqa: D102 - BoTorch's Posterior API
        return self._mean.device

    @property
    def dtype(self) -> torch.dtype:  # noqa: D102
        return self._mean.dtype

    @property
    def mean(self) -> Tensor:
        """Means, ``batch x q x m``."""
        return self._mean

    @property
    def variance(self) -> Tensor:
        """Variances, ``batch x q x m`` (at least 1e-10, GPyTorch's floor in double precision)."""
        return self._covariance.diagonal(dim1=-2, dim2=-1).transpose(-1, -2).clamp_min(1e-10)

    @property
    def batch_shape(self) -> torch.Size:
        """The t-batch shape (everything before ``q x m``)."""
        return self._mean.shape[:-2]

    @property
    def base_sample_shape(self) -> torch.Size:  # noqa: D102
        return self._mean.shape

    @property
    def batch_range(self) -> tuple[int, int]:  # noqa: D102 - the t-batch dimensions, as for GPyTorch's multi-output posteriors
        return (0, -2)

    def extended_shape(self, sample_shape: torch.Size = torch.Size()) -> torch.Size:  # noqa: B008
        """The shape of ``sample_shape`` samples: ``sample_shape x batch x q x m``."""
        return sample_shape + self._mean.shape

    @property
    def covariance(self) -> Tensor:
        """Covariances between the ``q`` points, per output: ``batch x m x q x q``."""
        return self._covariance

    def _covariance_root(self) -> Tensor:
        if self._root is None:
            cov = self._covariance
            if cov.shape[-1] == 1 and bool(torch.all(cov > 0.0)):  # one point: the standard deviation
                self._root = cov.sqrt()
            else:  # GPyTorch's factorization: a jitter on the diagonal of just the matrices that need it
                self._root = psd_safe_cholesky(cov)
        return self._root

    def rsample_from_base_samples(self, sample_shape: torch.Size, base_samples: Tensor) -> Tensor:
        """Samples ``sample_shape x batch x q x m`` from N(0, 1) base samples of the same shape.

        Each output's samples are its mean plus its covariance's Cholesky factor times that output's
        base samples, which is what GPyTorch's multi-output posterior does with the same base samples.
        """
        if base_samples.shape[: len(sample_shape)] != sample_shape:
            raise RuntimeError(f"sample_shape {tuple(sample_shape)} disagrees with base_samples of shape {tuple(base_samples.shape)}")
        z = base_samples.transpose(-1, -2).unsqueeze(-1)  # ... x m x q x 1
        return self._mean + (self._covariance_root() @ z).squeeze(-1).transpose(-1, -2)

    def rsample(self, sample_shape: torch.Size | None = None) -> Tensor:
        """Samples ``sample_shape x batch x q x m`` (with gradients)."""
        sample_shape = torch.Size([1]) if sample_shape is None else sample_shape
        z = torch.randn(sample_shape + self._mean.shape, dtype=self.dtype, device=self.device)
        return self.rsample_from_base_samples(sample_shape, z)


class _LatentPosteriorModel(Model):
    """A model that offers the latent posterior of every output only (see the module docstring)."""

    _n_outputs: int

    @property
    def num_outputs(self) -> int:  # noqa: D102 - BoTorch's Model API
        return self._n_outputs

    @property
    def batch_shape(self) -> torch.Size:  # noqa: D102
        return torch.Size()

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> ExactGaussianPosterior:
        """The latent posterior at ``X`` (``batch x q x d``), means ``batch x q x m`` in the outcomes' units.

        Raises:
            NotImplementedError: for observation noise, an output selection or a posterior transform.
        """
        if output_indices is not None or observation_noise is not False or posterior_transform is not None:
            raise NotImplementedError(f"{type(self).__name__} gives the latent posterior of every output only")
        return self._latent_posterior(X)

    def _latent_posterior(self, X: Tensor) -> ExactGaussianPosterior:
        raise NotImplementedError  # pragma: no cover - abstract


class CachedSingleTaskGP(_LatentPosteriorModel):
    """The posterior of a fitted, evaluation-mode ``SingleTaskGP`` from its cached Cholesky factor.

    Build it with :func:`cached_gp`, which checks that the model is one this class reproduces.

    Args:
        gp: the fitted GP (its hyperparameters are read once; later changes to it are not seen).
    """

    def __init__(self, gp: Any) -> None:
        super().__init__()
        m = gp.num_outputs
        X = gp.train_inputs[0]
        X = X[0] if X.dim() == 3 else X  # a batched multi-output GP holds its inputs once per output
        rbf, trend = _kernel_parts(gp.covar_module)
        with torch.no_grad():
            lengthscale = rbf.lengthscale.detach().reshape(m, 1, -1)  # m x 1 x d
            constant = gp.mean_module.constant.detach().reshape(m, 1)
            y = gp.train_targets.detach().reshape(m, -1)  # standardized
            noise = gp.likelihood.noise.detach().reshape(m, -1).expand_as(y)
            Xs = X.unsqueeze(0) / lengthscale  # m x n x d
            K = torch.exp(-0.5 * sq_dist(Xs, Xs, x1_eq_x2=True)) + torch.diag_embed(noise)
            trend_buffers = {}
            if trend is not None:  # a u.u' + b (u.u')^2 with u = x - centre, per output
                Xc = X - trend.centre  # n x d
                linear = trend.linear_scale.detach().reshape(m, 1, 1)
                quadratic = trend.quadratic_scale.detach().reshape(m, 1, 1)
                K = self._plus_trend(K, Xc, Xc, linear, quadratic)
                trend_buffers = {"_Xc": Xc, "_centre": X.new_tensor(trend.centre), "_trend_linear": linear, "_trend_quadratic": quadratic}
            L = psd_safe_cholesky(K)  # m x n x n
            tf = gp.outcome_transform
            buffers = {
                "_Xs": Xs,
                "_L": L,
                "_alpha": torch.cholesky_solve((y - constant).unsqueeze(-1), L),  # m x n x 1
                "_lengthscale": lengthscale,
                "_constant": constant.squeeze(-1),
                "_means": tf.means.detach().reshape(m),
                "_stdvs": tf.stdvs.detach().reshape(m),
                **trend_buffers,
            }
        self._has_trend = trend is not None
        for name, value in buffers.items():  # buffers: .to() moves them with the module
            self.register_buffer(name, value)
        self._n_outputs = m

    @staticmethod
    def _plus_trend(k: Tensor, u1: Tensor, u2: Tensor, linear: Tensor, quadratic: Tensor) -> Tensor:
        """``k`` plus the quadratic trend kernel ``a u.u' + b (u.u')^2`` between centred points (per output)."""
        dot = u1 @ u2.transpose(-1, -2)
        return k + linear * dot + quadratic * dot.pow(2)

    def _latent_posterior(self, X: Tensor) -> ExactGaussianPosterior:
        Xq = X.unsqueeze(-3) / self._lengthscale  # ... x m x q x d
        k_xs = torch.exp(-0.5 * sq_dist(Xq, self._Xs))  # ... x m x q x n
        k_qq = torch.exp(-0.5 * sq_dist(Xq, Xq, x1_eq_x2=True))
        if self._has_trend:
            Xqc = (X - self._centre).unsqueeze(-3)  # ... x 1 x q x d
            k_xs = self._plus_trend(k_xs, Xqc, self._Xc, self._trend_linear, self._trend_quadratic)
            k_qq = self._plus_trend(k_qq, Xqc, Xqc, self._trend_linear, self._trend_quadratic)
        mean = self._constant.unsqueeze(-1) + (k_xs @ self._alpha).squeeze(-1)  # ... x m x q
        v = torch.linalg.solve_triangular(self._L, k_xs.transpose(-1, -2), upper=False)  # ... x m x n x q
        covariance = k_qq - v.transpose(-1, -2) @ v
        scale = self._stdvs.unsqueeze(-1)
        mean = (mean * scale + self._means.unsqueeze(-1)).transpose(-1, -2)  # ... x q x m
        covariance = covariance * scale.pow(2).unsqueeze(-1)
        return ExactGaussianPosterior(mean, covariance)


class StackedCachedGPs(_LatentPosteriorModel):
    """Independent cached GPs side by side: the outputs of each, in order (as a ``ModelListGP`` of them).

    Args:
        members: the cached GPs.
    """

    def __init__(self, members: list[CachedSingleTaskGP]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(members)
        self._n_outputs = sum(m.num_outputs for m in members)

    def _latent_posterior(self, X: Tensor) -> ExactGaussianPosterior:
        # the members are independent: their outputs side by side
        parts = [m.posterior(X) for m in self.members]
        mean = torch.cat([p.mean for p in parts], dim=-1)
        covariance = torch.cat([p.covariance for p in parts], dim=-3)
        return ExactGaussianPosterior(mean, covariance)


@GetSampler.register(ExactGaussianPosterior)
def _sampler_of_exact_posterior(posterior: ExactGaussianPosterior, sample_shape: torch.Size, *, seed: int | None = None) -> MCSampler:
    """BoTorch's quasi-Monte-Carlo normal sampler, as for GPyTorch's Gaussian posteriors (used where BoTorch
    picks a sampler itself, e.g. to prune baseline points)."""
    return SobolQMCNormalSampler(sample_shape=sample_shape, seed=seed)


def cached_gp(model: Any) -> CachedSingleTaskGP | StackedCachedGPs | None:
    """A cached model of ``model`` when it is a GP (or a ``ModelListGP`` of GPs) this module reproduces,
    else ``None``.

    Args:
        model: a fitted BoTorch model in evaluation mode.

    Returns:
        The cached model, or ``None`` for other models (keep using ``model`` then).
    """
    from botorch.models import ModelListGP

    if type(model) is ModelListGP:
        members = [_cached_single(m) for m in model.models]
        return StackedCachedGPs(members) if all(m is not None for m in members) else None
    return _cached_single(model)


def _cached_single(model: Any) -> CachedSingleTaskGP | None:
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.kernels import Kernel
    from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
    from gpytorch.means import ConstantMean

    if type(model) is not SingleTaskGP or model.training:
        return None
    if type(model.mean_module) is not ConstantMean:
        return None
    try:
        rbf, trend = _kernel_parts(model.covar_module)
    except TypeError:
        return None
    if getattr(model, "input_transform", None) is not None or type(getattr(model, "outcome_transform", None)) is not Standardize:
        return None
    if type(model.likelihood) not in (GaussianLikelihood, FixedNoiseGaussianLikelihood):
        return None
    if any(k.active_dims is not None for k in model.covar_module.modules() if isinstance(k, Kernel)):
        return None  # a kernel on some inputs only
    if len(input_batch_shape(model)) > 0:
        return None  # a batch of GPs over batched training data
    m = model.num_outputs
    per_output = (m,) if m > 1 else ()
    if tuple(rbf.lengthscale.shape[:-2]) != per_output:
        return None  # e.g. one kernel shared by every output
    if trend is not None and tuple(trend.linear_scale.shape[:-1]) != per_output:
        return None
    return CachedSingleTaskGP(model)


def _kernel_parts(covar: Any) -> tuple[Any, Any]:
    """The parts of a kernel this module reproduces: BoTorch's RBF kernel alone or an ``AdditiveKernel``
    of it and a :class:`moo_hpo.optimizers.bayesian.kernels.QuadraticTrendKernel`.

    Args:
        covar: a GP's covariance module.

    Returns:
        ``(rbf, trend)``, ``trend`` None for the RBF kernel alone.

    Raises:
        TypeError: for any other kernel.
    """
    from gpytorch.kernels import AdditiveKernel, RBFKernel

    from moo_hpo.optimizers.bayesian.kernels import QuadraticTrendKernel

    if type(covar) is RBFKernel:
        return covar, None
    if type(covar) is AdditiveKernel and len(covar.kernels) == 2:
        rbf, trend = covar.kernels
        if type(rbf) is RBFKernel and type(trend) is QuadraticTrendKernel:
            return rbf, trend
    raise TypeError(f"expected an RBF kernel, alone or plus a QuadraticTrendKernel; received {type(covar).__name__}")
