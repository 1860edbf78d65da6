"""The surrogate: one independent GP per outcome, fitted with BoTorch, and its predictions for the audit trail.

Every objective, hard constraint and (with the failure model) the failure label gets a ``SingleTaskGP`` of
its own hyperparameters, standardized by a ``Standardize`` outcome transform, in double precision. Outcomes
observed at the same trials share one batched multi-output ``SingleTaskGP`` (one posterior pass for all);
otherwise each is a GP of its own in a ``ModelListGP``. The kernel is BoTorch's RBF kernel, plus the
quadratic trend of :mod:`moo_hpo.optimizers.bayesian.kernels` by default (never for the failure label, which
is no bowl). With ``noiseless=True`` the GPs use a tiny fixed noise and interpolate; the failure label's GP
always infers its noise.

Fits: up to :data:`REFIT_EVERY_ASK_UP_TO` observations (:data:`NOISY_REFIT_EVERY_ASK_UP_TO` for a GP that
infers its noise) a GP is fitted from BoTorch's defaults at every ask; beyond, from the hyperparameters of a
checkpoint (:func:`checkpoint`) with at most :data:`WARM_FIT_MAXITER` L-BFGS iterations. A checkpoint is a fit
on the first that-many observations (a constraint on the bilog scale of those alone: :meth:`Outcome.head`), so a
resumed study, which has no previous ask, fits exactly as an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from moo_hpo.optimizers.bayesian.data import Outcome
from moo_hpo.seeding import derive_seed
from moo_hpo.problem import Problem

__all__ = [
    "NOISELESS_VARIANCE",
    "NOISY_REFIT_EVERY_ASK_UP_TO",
    "REFIT_EVERY_ASK_UP_TO",
    "TRENDS",
    "WARM_FIT_MAXITER",
    "Surrogate",
    "cached_if_list",
    "checkpoint",
    "noise_floor",
    "predictions",
]

logger = logging.getLogger("moo_hpo")

# GPyTorch adds a little jitter to a covariance that rounding left not quite positive definite (near-duplicate
# points, a noiseless GP) and warns each time: routine for these GPs, and a study printed dozens of the lines.
# One filter for this message alone, set once (a filter set around each call would reset every module's record
# of the warnings it has shown, so the user's own warnings would repeat every trial).
warnings.filterwarnings("ignore", message="A not p.d., added jitter", category=Warning)
# A noiseless GP's variance next to an observation is zero up to rounding, which GPyTorch reports before raising
# it to 1e-10: expected there, and harmless.
warnings.filterwarnings("ignore", message="Negative variance values detected", category=Warning)
# Constrained EI on a noisy GP: while no observation is surely feasible, BoTorch's log-EI advises its
# probability-of-feasibility acquisition by name; the constrained optimizer already turns to it while no trial is
# feasible, and after the first feasible trial the advice (about the GP's doubt of it) names nothing a user can set.
warnings.filterwarnings("ignore", message="When all training points are infeasible", category=Warning)
# A GP fit attempt whose L-BFGS line search ends "ABNORMAL": BoTorch tries again from hyperparameters drawn from
# their priors, and raises ModelFittingError (logged by _fit) when no attempt succeeds; its warning about each failed
# attempt names scipy's status, which a user cannot act on.
warnings.filterwarnings("ignore", message=r"`scipy_minimize` terminated with status", category=Warning)

#: the GPs' prior trend (the ``trend`` option): BoTorch's kernel alone, or plus a quadratic response surface
TRENDS = ("constant", "quadratic")
#: observations of an outcome up to which its GP is fitted from scratch at every ask (measured better than
#: a warm start at that size, see the lab note)
REFIT_EVERY_ASK_UP_TO = 64
#: the same for a GP that infers its noise: its fit from scratch runs a few hundred L-BFGS iterations (about 250
#: on MW11 at 20-60 observations), the larger part of a noisy step, where a warm start runs at most
#: :data:`WARM_FIT_MAXITER` (measured in docs/lab/2026-12-05-defaults-suite.md)
NOISY_REFIT_EVERY_ASK_UP_TO = 16
#: checkpoints of the warm start: each about this many times the last
REFIT_GROWTH = 1.25
#: L-BFGS iterations of a warm-started GP fit (it starts near the optimum)
WARM_FIT_MAXITER = 20
#: observation noise of a noiseless GP relative to its outcome's variance: a numerical safeguard that bounds
#: how finely the GP resolves differences (1e-8 measured best, see the lab note)
NOISELESS_VARIANCE = 1e-8
_MAX_CACHED_STATES = 64


def checkpoint(n: int, noisy: bool = False) -> int:
    """The warm-start checkpoint for ``n`` observations.

    Args:
        n: the observations.
        noisy: for a GP that infers its noise (:data:`NOISY_REFIT_EVERY_ASK_UP_TO` applies).

    Returns:
        ``n`` itself (a fit from scratch) up to :data:`REFIT_EVERY_ASK_UP_TO` (noisy:
        :data:`NOISY_REFIT_EVERY_ASK_UP_TO`); beyond, the largest of the sequence 2, 3, 4, 5, 7, 9, ... (each
        ``max(c + 1, ceil(c * REFIT_GROWTH))``) not above ``n``.
    """
    if n <= max(2, NOISY_REFIT_EVERY_ASK_UP_TO if noisy else REFIT_EVERY_ASK_UP_TO):
        return n
    c = 2
    while True:
        nxt = max(c + 1, math.ceil(c * REFIT_GROWTH))
        if nxt > n:
            return c
        c = nxt


def noise_floor() -> Any:
    """A context in which GPyTorch accepts the noiseless GPs' fixed noise instead of raising it to its floor.

    Returns:
        ``gpytorch.settings.min_fixed_noise`` at half of :data:`NOISELESS_VARIANCE` (room for rounding); a
        covariance that is numerically singular still gets GPyTorch's jitter.
    """
    import gpytorch

    return gpytorch.settings.min_fixed_noise(double_value=NOISELESS_VARIANCE / 2)


class Surrogate:
    """Fits the outcomes' GPs and keeps the warm-start checkpoints between asks.

    Args:
        noiseless: fixed, tiny observation noise instead of inferred noise (not for the failure label); the
            optimizer may change it between asks (fits are cached apart for each).
        trend: ``"quadratic"`` or ``"constant"`` (see :data:`TRENDS`).
        study_seed: the study's seed; each fit's torch seed is derived from it and the data's size.
        owner: the optimizer's name, for log messages.
    """

    def __init__(self, noiseless: bool, trend: str, study_seed: int, owner: str) -> None:
        self.noiseless = noiseless
        self.noisy: set[tuple[str, int]] = set()  # (kind, index) of outcomes whose GPs infer their noise anyway
        self.trend = trend
        self.study_seed = study_seed
        self.owner = owner
        self._states: dict[tuple, dict[str, Any]] = {}  # checkpoint -> fitted hyperparameters
        self._latest: dict[tuple, dict[str, Any]] = {}  # outcomes -> the hyperparameters of their latest fit

    def model(self, outcomes: list[Outcome], refit: bool = True) -> Any:
        """The outcomes' model, outputs in the order of ``outcomes`` (the failure label last).

        Args:
            outcomes: the outcomes to model.
            refit: False skips the marginal-likelihood fit: each GP conditions on all of its data with the
                hyperparameters of its latest fit (BoTorch's initial ones before any), which costs
                milliseconds instead of a fit's seconds.

        Returns:
            One batched multi-output ``SingleTaskGP`` when every outcome was observed at the same trials, with
            the same noise treatment, and there is no failure label; else a ``ModelListGP`` of the GPs (one
            batched GP for each run of outcomes that share their trials and noise treatment).
        """
        from botorch.models import ModelListGP

        failures = [o for o in outcomes if o.kind == "failure"]
        outcomes = [o for o in outcomes if o.kind != "failure"]
        groups: list[list[Outcome]] = []  # runs of outcomes with the same noise treatment, in order
        for o in outcomes:
            if groups and self.exact(groups[-1][-1]) == self.exact(o):
                groups[-1].append(o)
            else:
                groups.append([o])
        models = []
        for group in groups:
            if len(group) > 1 and all(o.numbers == group[0].numbers for o in group):
                models.append(self.fit_gp(group, tag=2, refit=refit))
            else:
                models += [self.fit_gp([o], tag=0 if o.kind == "objective" else 1, refit=refit) for o in group]
        models += [self.fit_gp([o], tag=3, refit=refit) for o in failures]
        return models[0] if len(models) == 1 else ModelListGP(*models)

    def exact(self, outcome: Outcome) -> bool:
        """Whether ``outcome``'s GP interpolates (a tiny fixed noise) rather than inferring its noise."""
        return self.noiseless and outcome.kind != "failure" and (outcome.kind, outcome.index) not in self.noisy

    def fit_gp(self, outcomes: list[Outcome], tag: int, refit: bool = True) -> Any:
        """A fitted ``SingleTaskGP`` for outcomes observed at the same rows (batched when several).

        Args:
            outcomes: the outcomes, all with the same rows.
            tag: a number that keeps the seeds of different kinds of fits apart.
            refit: False: no fit, the hyperparameters of the latest fit of these outcomes (see :meth:`model`).

        Returns:
            The GP in evaluation mode.
        """
        import torch
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize

        from moo_hpo.optimizers.bayesian.kernels import covar_module

        first, m = outcomes[0], len(outcomes)
        noiseless = self.exact(first)
        trend = "constant" if first.kind == "failure" else self.trend
        batch_shape = torch.Size([m]) if m > 1 else torch.Size([])

        def build(rows: int) -> Any:
            X = torch.as_tensor(first.X[:rows], dtype=torch.double)
            Y = torch.as_tensor(np.column_stack([o.head(rows) for o in outcomes]), dtype=torch.double)
            kernel = {} if trend == "constant" else {"covar_module": covar_module(X.shape[-1], batch_shape, True)}
            if noiseless:  # a fixed noise relative to each outcome's variance (Standardize rescales it)
                var = Y.var(dim=0) if rows > 1 else torch.zeros(m, dtype=torch.double)
                var = torch.where(var > 0.0, var, torch.ones_like(var))
                kernel["train_Yvar"] = (NOISELESS_VARIANCE * var).expand_as(Y).clone()
            # BoTorch leaves an outcome whose spread is below min_stdv (1e-8 by default) unscaled: relative to the
            # outcome's size instead, so that a metric in tiny units (a loss of 1e-8, energy in kWh) is standardized
            scale = float(Y.abs().amax(dim=0).min()) if Y.numel() else 0.0  # the smallest column's: one GP, batched
            min_stdv = 1e-8 * scale if math.isfinite(scale) and scale > 0.0 else 1e-8
            return SingleTaskGP(X, Y, outcome_transform=Standardize(m=m, min_stdv=max(min_stdv, 1e-300)), **kernel)

        # a noiseless GP's likelihood holds one fixed noise per row: not a hyperparameter to carry over
        skip = ("transform", "likelihood") if noiseless else ("transform",)

        def hyperparameters(fitted: Any) -> dict[str, Any]:
            return {k: v.detach().clone() for k, v in fitted.state_dict().items() if not any(w in k for w in skip)}

        n = len(first.Y)
        latest_key = (tuple((o.kind, o.index) for o in outcomes), trend, noiseless)
        if not refit:
            model = build(n)
            if latest_key in self._latest:
                model.load_state_dict(self._latest[latest_key], strict=False)
            return model.eval()
        c = checkpoint(n, noisy=not noiseless)
        if c < n and any(np.ptp(np.asarray(o.head(c), dtype=float)) == 0.0 for o in outcomes):
            c = n  # a checkpoint's rows all alike (a failure model before the first failure) fit nothing: fit on all
        parts = (first.index,) if m == 1 else tuple(o.index for o in outcomes)
        state_key = (tuple((o.kind, o.index) for o in outcomes), first.numbers[:c], trend, noiseless)
        state = self._states.get(state_key)
        if state is None:
            anchor = build(c)
            self._fit(anchor, derive_seed(self.study_seed, tag, *parts, c), warm=False)
            state = hyperparameters(anchor)
            self._states[state_key] = state
            while len(self._states) > _MAX_CACHED_STATES:
                self._states.pop(next(iter(self._states)))
            if c == n:
                self._latest[latest_key] = state
                return anchor
        model = build(n)
        model.load_state_dict(state, strict=False)
        if c < n:
            self._fit(model, derive_seed(self.study_seed, tag, *parts, n), warm=True)
            self._latest[latest_key] = hyperparameters(model)
        else:
            self._latest[latest_key] = state
            model.eval()
        return model

    def _fit(self, model: Any, seed: int, warm: bool) -> None:
        """Fit ``model`` by its marginal likelihood (BoTorch's defaults; a warm start runs fewer iterations)."""
        import torch
        from botorch.exceptions.errors import ModelFittingError
        from botorch.fit import fit_gpytorch_mll
        from gpytorch.mlls import ExactMarginalLogLikelihood

        torch.manual_seed(seed)
        kwargs = {"optimizer_kwargs": {"options": {"maxiter": WARM_FIT_MAXITER}}} if warm else {}
        try:
            with noise_floor():
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **kwargs)
        except ModelFittingError as exc:  # keep the starting hyperparameters
            logger.warning("%s: GP fit failed (%s); using the starting hyperparameters", self.owner, exc)
        model.eval()


def cached_if_list(model: Any) -> Any:
    """The cached posterior (:mod:`~moo_hpo.optimizers.bayesian.cached_posterior`) of a ``ModelListGP``, else ``model``.

    A model list (e.g. the failure GP beside the others) gets the cached posterior: GPyTorch's is slow there
    and gave a batched member's second output another variance at the training points than the member
    itself (see the lab note). One batched GP keeps GPyTorch's, whose cached root decomposition the noisy
    criteria use.
    """
    from botorch.models import ModelListGP

    if not isinstance(model, ModelListGP):
        return model
    from moo_hpo.optimizers.bayesian.cached_posterior import cached_gp

    return cached_gp(model) or model


def predictions(problem: Problem, model: Any, X: Any, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The audit trail's predictions of ``model`` at one encoded point ``X``.

    Returns:
        ``{"predicted": {metric: {"mean", "std"}}}`` for every objective (soft penalties included) and
        hard-constrained metric, in the metric's own units; plus ``"failure_probability"`` (the failure
        label's P(label > 0)) with a failure model.
    """
    import torch

    with torch.no_grad():
        posterior = model.posterior(X)
        mean = posterior.mean.reshape(-1).tolist()
        std = posterior.variance.clamp_min(0.0).reshape(-1).sqrt().tolist()
    out: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {"predicted": out}
    hard = problem.hard_constraints
    for col, o in enumerate(outcomes):
        if o.kind == "failure":
            extra["failure_probability"] = 0.5 * math.erfc(-mean[col] / max(std[col], 1e-10) / math.sqrt(2.0))
        elif o.kind == "objective":
            spec = problem.objectives[o.index]
            out[spec.name] = {"mean": spec.from_internal(-mean[col]), "std": std[col]}
        else:
            c = hard[o.index]
            if c.name in out:
                continue
            g, g_std = mean[col], std[col]
            if o.bilog:  # back to g's units: the median, and half the width of the mapped +-1 sd interval
                low, g, high = o.measured(np.clip([g - g_std, g, g + g_std], -700.0, 700.0)).tolist()
                g_std = 0.5 * (high - low)
            metric = c.bound + g if c.kind == "at_most" else c.bound - g
            out[c.name] = {"mean": metric, "std": g_std}
    return extra
