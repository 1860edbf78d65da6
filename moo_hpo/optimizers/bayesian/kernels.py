"""The GP kernels: BoTorch's default, optionally plus a quadratic trend.

A GP with BoTorch's default kernel (RBF, one lengthscale per input, dimension-scaled LogNormal prior)
and a constant mean falls back to that mean away from its data. Many tuning objectives are bowls
(validation loss against a learning rate or a regularization strength, on the log scale): there the
unexplored corners of the space look as good as the average trial, and a search that looks for
improvement is drawn to them. :func:`covar_module` with ``quadratic_trend=True`` adds a Bayesian
quadratic response surface to the RBF kernel (:class:`QuadraticTrendKernel`): a prior over every
linear and quadratic function of the inputs (all squares and products, centred on the unit cube's
middle) whose size the marginal likelihood chooses. With a trend in the data the GP extrapolates it;
without one its scales shrink and the kernel is BoTorch's default again. This is universal kriging's
quadratic trend with the trend's coefficients integrated out instead of fitted.

Why our own code: GPyTorch's ``PolynomialKernel`` of degree 2 in a ``ScaleKernel``, ``s (x . x' + c)^2``,
ties the linear part's variance (``2 s c``) to a constant part's (``s c^2``), so a GP of a mostly linear
function drives ``c`` to hundreds of thousands and the covariance towards singularity (seen in a fit of
``100 * sum(x)``); it also centres nothing. :class:`QuadraticTrendKernel` gives the linear and the quadratic part a scale
each and leaves the constant to the GP's constant mean.
"""

from __future__ import annotations

from typing import Any

import torch
from gpytorch.constraints import Positive
from gpytorch.kernels import Kernel

__all__ = ["QuadraticTrendKernel", "covar_module"]


class QuadraticTrendKernel(Kernel):
    """``a * u . u' + b * (u . u')^2`` with ``u = x - 1/2``: Bayesian linear plus quadratic regression
    on the encoded unit cube centred on its middle.

    The first term is the covariance of ``w . u`` with ``w ~ N(0, a I)``; the second that of every
    product ``u_i u_j`` weighted by independent ``N(0, b)`` coefficients. ``a`` (``linear_scale``) and
    ``b`` (``quadratic_scale``) are positive hyperparameters, one pair per batch entry.

    Args:
        **kwargs: passed to GPyTorch's ``Kernel`` (e.g. ``batch_shape``).
    """

    centre = 0.5
    has_lengthscale = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in ("linear_scale", "quadratic_scale"):
            self.register_parameter(f"raw_{name}", torch.nn.Parameter(torch.zeros(*self.batch_shape, 1)))
            self.register_constraint(f"raw_{name}", Positive())

    @property
    def linear_scale(self) -> torch.Tensor:
        """``a``, shape ``batch_shape x 1``."""
        return self.raw_linear_scale_constraint.transform(self.raw_linear_scale)

    @property
    def quadratic_scale(self) -> torch.Tensor:
        """``b``, shape ``batch_shape x 1``."""
        return self.raw_quadratic_scale_constraint.transform(self.raw_quadratic_scale)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, last_dim_is_batch: bool = False, **params: Any
    ) -> torch.Tensor:
        """The covariance between two sets of points.

        Args:
            x1: points ``... x n x d`` of the encoded unit cube.
            x2: points ``... x m x d``.
            diag: only the diagonal (``x1`` and ``x2`` the same points).
            last_dim_is_batch: GPyTorch's additive-structure mode (not supported).
            **params: ignored (GPyTorch's kernel interface).

        Returns:
            The covariances, ``... x n x m``, or their diagonal ``... x n`` with ``diag=True``.

        Raises:
            NotImplementedError: for ``last_dim_is_batch`` (GPyTorch's additive-structure mode).
        """
        if last_dim_is_batch:
            raise NotImplementedError(f"{type(self).__name__} does not support last_dim_is_batch")
        u1, u2 = x1 - self.centre, x2 - self.centre
        if diag:
            dot = (u1 * u2).sum(dim=-1)
            return self.linear_scale * dot + self.quadratic_scale * dot.pow(2)
        dot = u1 @ u2.transpose(-2, -1)
        return self.linear_scale.unsqueeze(-1) * dot + self.quadratic_scale.unsqueeze(-1) * dot.pow(2)


def covar_module(d: int, batch_shape: torch.Size, quadratic_trend: bool) -> Any:
    """The covariance module of one (batched) GP: BoTorch's default RBF kernel, plus the trend if asked.

    Args:
        d: number of inputs (columns of the encoded cube).
        batch_shape: the GP's batch shape (one entry per output of a batched multi-output GP).
        quadratic_trend: add a :class:`QuadraticTrendKernel` to the RBF kernel.

    Returns:
        A GPyTorch kernel.
    """
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

    rbf = get_covar_module_with_dim_scaled_prior(ard_num_dims=d, batch_shape=batch_shape)
    if not quadratic_trend:
        return rbf
    return rbf + QuadraticTrendKernel(batch_shape=batch_shape)
