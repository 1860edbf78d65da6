"""Bayesian optimization on BoTorch: qLogNEHVI (``"ehvi"``), qLogNParEGO (``"parego"``) and
constrained qLogNEI (``"cei"``).

How the study maps onto BoTorch:

* **Inputs**: :meth:`moo_hpo.space.Space.encode` of each configuration (the encoded unit cube:
  floats and integers one column each, log-scaled where ``log=True``, categoricals one-hot,
  inactive conditional parameters imputed at ``0.5`` / all zeros). The cube is BoTorch's domain.
* **Models**: one independent GP per objective and per hard constraint, each with its own
  hyperparameters. When every outcome was observed at the same trials (no trial skipped before
  training) they are one batched multi-output ``SingleTaskGP``, which computes all posteriors in
  one pass (a suggestion took about 30% less time on BraninCurrin and C2-DTLZ2); otherwise
  one ``SingleTaskGP`` per outcome in a ``ModelListGP``. Every outcome is standardized by a
  ``Standardize`` outcome transform, so posteriors come back in the original units. Tensors are
  in double precision.
* **Kernel**: BoTorch's RBF kernel (one lengthscale per input, its dimension-scaled LogNormal prior)
  plus, by default (``trend="quadratic"``), a Bayesian quadratic response surface over the encoded cube
  (:class:`moo_hpo.optimizers.gp_kernels.QuadraticTrendKernel`: every linear and quadratic function of
  the inputs, with a linear and a quadratic scale fitted by the marginal likelihood). A GP with BoTorch's
  kernel alone falls back to its mean away from the data, so unexplored corners of a bowl-shaped
  objective look as good as the average trial and draw proposals; with the trend the GP extrapolates
  the bowl, and where the data have no trend its scales shrink towards zero. Noiseless ``"ehvi"``, log10
  hypervolume gap, paired by seed: DTLZ2 (6 variables) mean -1.41 -> -1.58 (better at 16 of 16 seeds),
  VehicleSafety -0.03 -> -0.13 (15 of 16), BraninCurrin and C2-DTLZ2 better at 12 of 16 and 28 of 32,
  though one C2-DTLZ2 run of 32 stalled on one of its three feasible regions (``docs/benchmarks.md``, "A
  quadratic trend in the GPs"). Fits take about twice the L-BFGS iterations. The failure model's GP keeps
  BoTorch's kernel alone. ``trend="constant"`` turns the trend off.
* **Objectives** are the internal minimized values with soft-constraint penalties
  (:meth:`moo_hpo.problem.Problem.objective_matrix`). BoTorch maximizes, so they are negated on the
  way in, together with the hypervolume reference point, and negated back for the audit trail;
  nowhere else. The acquisitions of ``"ehvi"`` and ``"cei"`` score each objective divided by its
  standard deviation over the modelled trials (the reference point and the measured front too),
  so they do not depend on the objectives' units; their ``acquisition_value`` in the audit trail
  is on that scale. (``"parego"``'s scalarization normalizes the objectives itself.)
* **Hard constraints**: the value ``g`` (``g <= 0`` feasible) is modelled as it is and handed to the
  acquisition as a constraint callable (BoTorch also reads negative as feasible). A constraint
  model also learns from ``infeasible_skipped`` trials, whose pre-training metrics were measured.
  One exception: noiseless ``"ehvi"`` scores a candidate without pending trials by qLogEHVI over the
  objectives plus the log of the exact probability of feasibility (the GPs are independent, so the
  expectation factorizes: :mod:`moo_hpo.optimizers.feasibility_weighted`), instead of BoTorch's
  estimate of it from the acquisition's 16 posterior samples (audit trail: ``"qLogEHVI x P(feasible)"``).
* **Reference point** (``"ehvi"``): an objective's explicit ``ref`` where given; otherwise derived
  like the study's (:func:`moo_hpo.fronts.derive_reference_point`) from the first
  ``REFERENCE_FREEZE_AFTER`` feasible trials, so it stops moving once that many are feasible. While
  no trial is feasible it is derived from all complete trials.
* **Failed trials are left out of the objective and constraint models, and a failure model learns
  where evaluations fail.** Once the told trials hold at least one failure and one success, one more GP
  (noise inferred, also with ``noiseless=True``: a failure label is not a smooth measurement) is fitted
  to a label of ``+1`` per failed trial and ``-1`` per trial that did not fail, and the acquisition treats
  it like a hard constraint (``label <= 0``): every candidate's score is weighed by the model's
  probability that it does not fail, so a region that keeps failing (divergence, out-of-memory) is
  avoided while the rest of the space is searched. Trials interrupted by the study stopping are not
  failures of their configuration and are left out of it. ``model_failures=False`` turns it off (a
  failed region then looks as unexplored as before and may be proposed again). The audit trail records
  the model's ``failure_probability`` of each proposal. The failure GP sits beside the others in a
  ``ModelListGP`` (its rows differ: every told trial).
  Failed trials count towards the initial design and are never proposed twice (duplicates are
  rejected, see below).
* **Initial design**: the first ``n_init`` trials (default ``2 * (space.dim + 1)``) are points of a
  scrambled Sobol sequence over the compact unit cube, seeded with the study's seed (the same
  stream as ``"sobol"``); trial ``k`` takes the ``k``-th valid point not yet proposed. The models
  take over once ``n_init`` trials were proposed and at least two of them completed (or, for the
  search for feasibility, measured every hard constraint); until then the Sobol stream goes on
  (audit trail: ``"sobol (too few usable observations)"``).
* **Mixed and conditional spaces**: the acquisition is optimized over the continuous relaxation
  of the encoded cube; the optimum is decoded (integers rounded, the largest one-hot column picks
  the category, inactive parameters dropped) and re-encoded, so the models and ``X_pending`` only
  ever see valid points. A decoded candidate that breaks a validity rule or repeats a configuration
  already evaluated, running, or chosen earlier in the batch is replaced by the best (by the
  acquisition) of ``raw_samples`` random valid configurations; an invalid configuration is never
  proposed.
* **Batches and pending trials**: ``ask(n)`` proposes ``n`` candidates by sequential greedy
  optimization (one candidate at a time, ``q=1``): running trials and the candidates already
  chosen are the acquisition's ``X_pending``.
* **Observation noise**: each GP infers its noise level (metrics of training runs are noisy).
  With ``noiseless=True`` the GPs use a fixed noise of 1e-8 of each outcome's variance and so
  interpolate the observations: the right choice when every metric is exact (same configuration,
  same value), and a clear gain on noise-free benchmark problems (``docs/benchmarks.md``).
* **Prior mixture** (``prior_mixture=True``, off by default): every GP is fitted twice, once with
  BoTorch's dimension-scaled lengthscale prior (long lengthscales, which extrapolate the data's trend)
  and once with a Gamma(3, 6) prior (short ones, which fall back to the mean away from the data), and a
  candidate's score is the mean of its acquisition values under the two: the expected improvement under
  their equal-weight mixture (:mod:`moo_hpo.optimizers.prior_mixture`). Neither prior searches every
  problem best (DTLZ2 gains from the short lengthscales, C2-DTLZ2 needs the long ones to find its
  disjoint feasible regions), and a fit's leave-one-out likelihood does not tell which will. The audit trail's
  predictions are the mixture's mean and standard deviation (law of total variance), and its
  acquisition name ends in ``"(mean over 2 lengthscale priors)"``. Measured with noiseless ``"ehvi"``
  (16 seeds per problem, ``docs/benchmarks.md``): DTLZ2 closer to the front (log10 gap, mean -1.437
  against -1.401), fewer VehicleSafety runs ending in the worse of its two outcomes, BraninCurrin and
  C2-DTLZ2 level, for a second set of fits and acquisition values (DTLZ2, each run alone: 0.74 s per
  evaluation on seed 0 and 0.36 s on seed 1, against 0.20 s without it on seed 0). That cost is why it
  is not the default. Those figures predate the quadratic trend (**Kernel** above), which gained more on
  both DTLZ2 and VehicleSafety at a fraction of the cost; the mixture with the trend (both sets of GPs
  carry it) is not measured.
* **Constraint search first** (``"cei"``, and any optimizer whose objectives cannot be modelled
  yet because every trial was skipped): while no trial is feasible the acquisition is BoTorch's
  ``qLogProbabilityOfFeasibility``, which only looks for the feasible region.
* **Speed** (one suggestion at 100 observations, 3 objectives, 6 parameters takes 0.8-2.3 s
  (median; the machine's speed varies from day to day) with the defaults and 1.1 s with
  ``noiseless=True``, one torch thread on a 2-core machine,
  ``python -m benchmarks.bo_suggestion_speed``; the first one in a process also imports
  BoTorch, and one at a checkpoint, below, fits its GPs from scratch: a few seconds more):

  - Up to 64 observations of an outcome its GP is fitted from BoTorch's defaults at every ask
    (about as cheap as a warm start at that size, and better: on DTLZ2 with 6 variables every one
    of 5 seeds ended closer to the front than with the warm start, docs/benchmarks.md). Beyond,
    GP hyperparameters are warm-started: at a checkpoint (75, 94, 118, ... observations, each about
    1.25 times the last) a GP is fitted from the defaults on the first that-many observations;
    every fit in between starts from that checkpoint's hyperparameters and runs at most 20 L-BFGS
    iterations (a fit from scratch at 100 observations of three outcomes takes seconds). Warm-
    starting from the previous ask instead would make a resumed study, which has no previous ask,
    fit differently.
  - qLogNEHVI builds one box decomposition of the Pareto front per posterior sample, which costs
    about 0.07 s each from three objectives on: ``mc_samples`` defaults to 64, but to 16 for
    ``"ehvi"`` with three or four objectives. Baseline points that cannot be Pareto-optimal are
    pruned first (with 256 posterior samples).
  - With ``noiseless=True``, ``"ehvi"`` uses qLogEHVI over one box
    decomposition of the measured feasible front instead: with exact observations the two
    criteria coincide (a test checks their values agree), and the decompositions per sample go.
    Its models interpolate the data, so 16 posterior samples integrate them well. There the
    acquisition reads the GPs' posterior from :class:`moo_hpo.optimizers.gp_posterior.CachedSingleTaskGP`:
    the same posterior (to rounding) from one cached Cholesky factor in a few tensor operations,
    where GPyTorch's general machinery took 56-73% of each acquisition value-and-gradient.
  - The acquisition's optimization is sized by ``num_restarts``, ``raw_samples`` and ``maxiter``:
    4 restarts from the best of 128 random points by default; on that exact front, where a restart
    is cheaper, 20 from 512 with two objectives and 60 from 1024 with three or four (a
    hypervolume-improvement surface over a two-dimensional front has many local optima: in a
    VehicleSafety study 100 restarts found a 1.6 to 4.8 times higher acquisition value than 20 did
    at 22 of 68 asks, mostly late ones). Measured gains and costs: ``docs/benchmarks.md``.
  - Besides those random starts, ``front_starts`` more start near the measured front (default 5 on the
    exact front, none otherwise: beside 4 restarts they would cost 39% more time per suggestion): the
    best, by the acquisition, of 128 (or ``front_starts``, if more) Gaussian perturbations of the
    configurations of the feasible trials no other feasible trial dominates
    (:mod:`moo_hpo.optimizers.front_starts`). Late in a study the improvement is in narrow ridges next
    to those configurations, which random points rarely hit. No extra starts while no trial is feasible.

* **BoTorch's compiled kernel**: qLogEHVI and qLogNEHVI compile a C++ kernel on first use on a machine;
  a build killed half-way leaves a lock file on which every later process would wait forever, so ``"ehvi"``
  clears a stale one first (:mod:`moo_hpo.optimizers.fused_kernel_lock`).
* **Determinism and resume**: everything is a function of the study's seed, the told trials and
  the running ones (seeds are derived from the study's seed and the number of trials), so the same
  seed proposes the same configurations, and a study resumed from its store, which tells a fresh
  optimizer every stored trial, continues exactly as an uninterrupted one.
* **Audit trail**: each proposal's ``extra["optimizer"]`` holds the acquisition's name, its value at
  the proposed point (the log of the acquisition value for the LogEI family; None where it is
  not finite) and the models' predicted mean and standard deviation of every objective (soft
  penalties included) and every hard-constrained metric, in the metric's own units; ``"replaced"``
  says why the acquisition's optimum was replaced, when it was.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.optimizers.base import Capabilities, Optimizer, Proposal, config_key
from moo_hpo.optimizers.sampling import sobol_stream
from moo_hpo.problem import Problem
from moo_hpo.trial import Trial, TrialStatus

if TYPE_CHECKING:
    import torch

__all__ = ["EHVI", "ConstrainedEI", "ParEGO"]

logger = logging.getLogger("moo_hpo")

_SOBOL_CHUNK = 64  # a power of two keeps Sobol's balance properties (as in "sobol")
_REFIT_GROWTH = 1.25  # checkpoints of the warm start: each about 1.25 times the last
_REFIT_EVERY_ASK_UP_TO = 64  # observations of an outcome up to which its GP is fitted from scratch at every ask
_WARM_FIT_MAXITER = 20  # L-BFGS iterations of a warm-started GP fit (it starts near the optimum)
_MAX_CACHED_STATES = 64
_PRUNE_SAMPLES = 256  # posterior samples that decide which baseline points may be Pareto-optimal
_MC_SAMPLES = 64
_RESTARTS, _RAW_SAMPLES = 4, 128
# hypervolume improvement over a two-dimensional front surface has many local optima: from three
# objectives on, more starting points pay for themselves (docs/benchmarks.md, VehicleSafety: 100 restarts
# found a 1.6-4.8 times higher acquisition value than 20 at 22 of 68 asks, mostly late in the study);
# they are affordable where one box decomposition serves every posterior sample (exact observations)
_RESTARTS_EXACT_FRONT, _RAW_SAMPLES_EXACT_FRONT = 60, 1024
# over a front curve (two objectives) 20 restarts from 512 raw samples, at 1.3 times the cost of
# qLogNEHVI's 4 from 128 with 64 samples (C2-DTLZ2, 45 observations: 0.71 s vs 0.53 s per suggestion)
_RESTARTS_EXACT_FRONT_2D, _RAW_SAMPLES_EXACT_FRONT_2D = 20, 512
_MC_SAMPLES_EXACT_FRONT = 16  # the models interpolate the data: few samples integrate them well
_MC_SAMPLES_EHVI_3PLUS = 16  # qLogNEHVI builds one box decomposition per sample: costly from 3 objectives
# observation noise of a noiseless GP, relative to the outcome's variance (after standardization: the
# noise itself). It is a numerical safeguard, not a belief about the data, and it bounds how finely the
# GP resolves differences: at 2e-6 (noise std 0.14% of the outcome's) a third of C2-DTLZ2's remaining
# hypervolume gap came from points just off the front. 1e-8 gained as much as 1e-10 over 8-16 seeds and
# needs fewer rescues of singular covariances (BraninCurrin: 0.23 s per evaluation vs 0.28), docs/benchmarks.md.
# GPyTorch's floor for fixed noise (1e-6 in double precision) is lowered to half of it while moo_hpo fits
# and uses these GPs (``_noise_floor``); a covariance that is numerically singular still gets GPyTorch's jitter.
_NOISELESS_VARIANCE = 1e-8
# the second model of the prior mixture (``prior_mixture``): every GP again with a Gamma(3, 6) lengthscale
# prior (mode 1/3 of the unit cube; BoTorch's earlier default) beside BoTorch's dimension-scaled LogNormal
_LOCAL_LENGTHSCALE_PRIOR = (3.0, 6.0)
# extra L-BFGS starts near the measured front, the best of a pool of perturbed front configurations
# (moo_hpo.optimizers.front_starts; docs/benchmarks.md, "Starts near the front")
_FRONT_STARTS, _FRONT_START_POOL = 5, 128
# the GPs' prior trend (``trend``): "quadratic" adds a Bayesian quadratic response surface to the RBF kernel
# (moo_hpo.optimizers.gp_kernels; docs/benchmarks.md, "A quadratic trend in the GPs")
TRENDS = ("constant", "quadratic")
_SOBOL_DESIGN = "sobol (initial design)"
_SOBOL_FALLBACK = "sobol (too few usable observations)"


_key = config_key


def _checkpoint(n: int) -> int:
    """The warm-start checkpoint for ``n`` observations: ``n`` itself (a fit from scratch) up to
    ``_REFIT_EVERY_ASK_UP_TO``, beyond that the largest of 2, 3, 4, 5, 7, 9, ... <= ``n``."""
    if n <= max(2, _REFIT_EVERY_ASK_UP_TO):
        return n
    c = 2
    while True:
        nxt = max(c + 1, math.ceil(c * _REFIT_GROWTH))
        if nxt > n:
            return c
        c = nxt


def _noise_floor() -> Any:
    """A context in which GPyTorch accepts the fixed noise of moo_hpo's noiseless GPs (``_NOISELESS_VARIANCE``
    after standardization; half of it as the floor leaves room for rounding) instead of raising it to its
    default floor of 1e-6."""
    import gpytorch

    return gpytorch.settings.min_fixed_noise(double_value=_NOISELESS_VARIANCE / 2)


def _one_blas_thread() -> Any:
    """A context in which the BLAS libraries that threadpoolctl finds (NumPy's and SciPy's OpenBLAS; not
    torch's own thread pool, which ``torch.set_num_threads`` governs) run single-threaded. SciPy's
    L-BFGS-B (GP fits and the acquisition's optimization) makes tens of thousands of BLAS calls on vectors
    of a few dozen numbers; a multi-threaded OpenBLAS synchronizes its threads at each, which took 10 of
    34 s of a DTLZ2 study on two busy cores (docs/benchmarks.md, "A quadratic trend in the GPs").
    Entering and leaving costs about a millisecond per ask.

    Returns:
        threadpoolctl's ``threadpool_limits`` context manager.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _interrupted(trial: Trial) -> bool:
    """True for a trial failed only because the study stopped while it ran (see ``moo_hpo.storage``)."""
    return (trial.error or "").startswith("interrupted")


def _cached_if_list(model: Any) -> Any:
    """The cached posterior (``gp_posterior``) of a ``ModelListGP``, else ``model`` itself.

    A model list (the failure model beside the others) gets the cached posterior: GPyTorch's took 6 s per
    ask of ``"ehvi"`` on BraninCurrin, and at the training points (where the noisy criteria evaluate their
    baseline) it gave a batched member's second output another variance than the member itself does
    (BoTorch 0.18.1, GPyTorch 1.15.2; ``docs/benchmarks.md``). One batched GP keeps GPyTorch's, whose
    cached root decomposition the noisy criteria use.
    """
    from botorch.models import ModelListGP

    if not isinstance(model, ModelListGP):
        return model
    from moo_hpo.optimizers.gp_posterior import cached_gp

    return cached_gp(model) or model


def _positive_int(name: str, owner: str, value: Any, allow_none: bool = False, allow_zero: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        expected = ("a non-negative integer" if allow_zero else "a positive integer") + (" or None" if allow_none else "")
        raise ConfigError(f"{owner}: {name} must be {expected}; received {value!r}")


@dataclass
class _Output:
    """Training data of one modelled outcome (one GP)."""

    kind: str  # "objective" or "constraint"
    index: int  # position among the objectives or among the hard constraints
    numbers: tuple[int, ...]  # trial numbers of the rows, ascending
    X: np.ndarray  # encoded inputs, (n, n_encoded)
    Y: np.ndarray  # BoTorch outcome: -internal objective, or g; (n,)


@dataclass
class _Data:
    """What the models see, rebuilt from the told trials at every ask."""

    objectives: list[_Output]
    constraints: list[_Output]
    X_baseline: np.ndarray  # inputs of the complete trials
    any_feasible: bool
    complete: list[Trial] = field(default_factory=list)
    feasible: list[Trial] = field(default_factory=list)
    failures: _Output | None = None  # +1 failed / -1 did not fail, when both occur (and the model is on)

    @property
    def guards(self) -> list[_Output]:
        """The outcomes a candidate must keep ``<= 0``: the hard constraints, then the failure label."""
        return self.constraints + ([self.failures] if self.failures is not None else [])


class _BoTorchOptimizer(Optimizer):
    """Shared adapter: initial design, data, models, greedy batches, repair and audit trail.

    Args:
        n_init: trials of the Sobol initial design; None for ``2 * (space.dim + 1)``.
        num_restarts: starting points of the acquisition's gradient-based optimization; None for 4
            (noiseless ``"ehvi"``: 20 with two objectives, 60 with three or four).
        raw_samples: random points scored to choose those starts (also the number of random valid
            configurations scored when a candidate must be replaced); None for 128 (noiseless
            ``"ehvi"``: 512 with two objectives, 1024 with three or four).
        mc_samples: quasi-Monte-Carlo samples of the posterior in the acquisition; None for 64
            (16 for ``"ehvi"`` with three or more objectives or ``noiseless``).
        maxiter: iteration limit of each L-BFGS run on the acquisition.
        noiseless: True when the metrics are exact (the same configuration always measures the
            same, e.g. model size or an analytic benchmark): the GPs then use a fixed, tiny
            observation noise instead of inferring it, and interpolate the observations.
        model_failures: learn where trials fail (a GP on a failed / did-not-fail label) and weigh
            candidates by the probability that they do not fail; False leaves failed trials out only.
        prior_mixture: score candidates under two sets of GPs, one with BoTorch's lengthscale prior
            and one with short lengthscales, by the mean of the two acquisition values (two to four
            times the time per suggestion).
        front_starts: extra starts of the acquisition's optimization, the best of 128 (or
            ``front_starts``, if more) random points near the configurations of the measured front
            (:mod:`moo_hpo.optimizers.front_starts`); None for 5 with noiseless ``"ehvi"``, else none.
        trend: the objective and constraint GPs' prior trend: ``"quadratic"`` (default) adds a
            Bayesian quadratic response surface to BoTorch's RBF kernel, so the GPs extrapolate a
            bowl instead of falling back to the mean away from the data
            (:mod:`moo_hpo.optimizers.gp_kernels`); ``"constant"`` is BoTorch's kernel alone.
    """

    capabilities = Capabilities(min_objectives=2)
    acquisition_name = "acquisition"

    def __init__(
        self,
        n_init: int | None = None,
        num_restarts: int | None = None,
        raw_samples: int | None = None,
        mc_samples: int | None = None,
        maxiter: int = 200,
        noiseless: bool = False,
        model_failures: bool = True,
        prior_mixture: bool = False,
        front_starts: int | None = None,
        trend: str = "quadratic",
    ) -> None:
        self.n_init = n_init
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.mc_samples = mc_samples
        self.maxiter = maxiter
        self.noiseless = noiseless
        self.model_failures = model_failures
        self.prior_mixture = prior_mixture
        self.front_starts = front_starts
        self.trend = trend

    # ------------------------------------------------------------------ protocol
    def setup(self, problem: Problem) -> None:
        """Bind to the problem and check the constructor arguments.

        Raises:
            UnsupportedError: when the problem needs something the optimizer lacks.
            ConfigError: for a constructor argument of the wrong type or range.
        """
        super().setup(problem)
        _positive_int("n_init", self.name, self.n_init, allow_none=True)
        _positive_int("mc_samples", self.name, self.mc_samples, allow_none=True)
        for arg in ("num_restarts", "raw_samples"):
            _positive_int(arg, self.name, getattr(self, arg), allow_none=True)
        for flag in ("noiseless", "model_failures", "prior_mixture"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{self.name}: {flag} must be True or False; received {getattr(self, flag)!r}")
        _positive_int("maxiter", self.name, self.maxiter)
        if self.trend not in TRENDS:
            expected = ", ".join(map(repr, TRENDS))
            raise ConfigError(f"{self.name}: trend must be one of {expected}; received {self.trend!r}")
        _positive_int("front_starts", self.name, self.front_starts, allow_none=True, allow_zero=True)
        self._n_front_starts = self._default_front_starts() if self.front_starts is None else int(self.front_starts)
        default_restarts, default_raw = self._default_effort()
        self._restarts = default_restarts if self.num_restarts is None else int(self.num_restarts)
        self._raw = default_raw if self.raw_samples is None else int(self.raw_samples)
        if self._raw < self._restarts:
            raise ConfigError(
                f"{self.name}: raw_samples must be at least num_restarts ({self._restarts}); "
                f"received raw_samples={self._raw}"
            )
        self._n_init = 2 * (problem.space.dim + 1) if self.n_init is None else int(self.n_init)
        self._mc = self._default_mc_samples() if self.mc_samples is None else int(self.mc_samples)
        self._told: dict[int, Trial] = {}
        self._sobol: Any = None  # the Sobol stream of valid configurations, made on first use
        self._states: dict[tuple, dict[str, Any]] = {}  # warm-start checkpoints

    def _default_mc_samples(self) -> int:
        return _MC_SAMPLES

    def _default_effort(self) -> tuple[int, int]:
        """``(num_restarts, raw_samples)`` when not given."""
        return _RESTARTS, _RAW_SAMPLES

    def _default_front_starts(self) -> int:
        """``front_starts`` when not given: none (measured only where ``"ehvi"`` works on the exact front)."""
        return 0

    def tell(self, trials: Sequence[Trial]) -> None:
        """Remember finished trials (the models are rebuilt from them at the next ask)."""
        for trial in trials:
            if trial.is_finished:
                self._told[trial.number] = trial

    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        """Propose up to ``n`` configurations (see the module docstring for how).

        Args:
            n: how many the study can evaluate now.
            pending: trials proposed earlier and still running.

        Returns:
            Between 1 and ``n`` proposals; only Sobol points while the initial design lasts.
        """
        pending = [t for t in pending if t.number not in self._told]
        k = len(self._told) + len(pending)  # trials proposed so far
        seen = {_key(t.config) for t in self._told.values()} | {_key(t.config) for t in pending}
        if k < self._n_init:
            return self._sobol_proposals(min(n, self._n_init - k), k, seen, _SOBOL_DESIGN)
        data = self._data()
        phase = self._phase(data)
        if phase is None:
            return self._sobol_proposals(n, k, seen, _SOBOL_FALLBACK)
        with _noise_floor(), _one_blas_thread():
            return self._model_proposals(n, pending, seen, data, phase)

    # ------------------------------------------------------------------ initial design
    def _stream_config(self, i: int) -> dict[str, Any]:
        """The ``i``-th valid configuration of the Sobol stream seeded with the study's seed (the
        same stream as ``"sobol"``)."""
        if self._sobol is None:
            self._sobol = sobol_stream(self.problem.space, self.problem.seed)
        return self._sobol[i]

    def _sobol_proposals(self, n: int, k: int, seen: set[tuple], label: str) -> list[Proposal]:
        out = []
        cursor = k
        seen = set(seen)
        for _ in range(n):
            tries = 0
            config = self._stream_config(cursor)
            # skip configurations already proposed (small discrete spaces), within reason
            while _key(config) in seen and tries < 10 * _SOBOL_CHUNK:
                cursor += 1
                tries += 1
                config = self._stream_config(cursor)
            cursor += 1
            seen.add(_key(config))
            out.append(Proposal(dict(config), {"optimizer": {"acquisition": label}}))
        return out

    # ------------------------------------------------------------------ data
    def _data(self) -> _Data:
        """Training data of every outcome, rows in trial-number order."""
        problem = self.problem
        space = problem.space
        trials = [self._told[i] for i in sorted(self._told)]
        complete = [t for t in trials if t.status is TrialStatus.COMPLETE]
        F = problem.objective_matrix(complete, penalized=True)
        ok = np.isfinite(F).all(axis=1)
        complete = [t for t, good in zip(complete, ok, strict=True) if good]
        F = F[ok]
        X_complete = space.encode([t.config for t in complete]) if complete else np.empty((0, space.n_encoded))
        numbers = tuple(t.number for t in complete)
        objectives = [_Output("objective", j, numbers, X_complete, -F[:, j]) for j in range(problem.n_objectives)]
        measured = [t for t in trials if t.status in (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE_SKIPPED)]
        G = problem.constraint_matrix(measured)
        X_measured = space.encode([t.config for t in measured]) if measured else np.empty((0, space.n_encoded))
        constraints = []
        for i in range(G.shape[1]):
            rows = np.isfinite(G[:, i])
            constraints.append(
                _Output("constraint", i, tuple(t.number for t, r in zip(measured, rows, strict=True) if r), X_measured[rows], G[rows, i])
            )
        feasible = [t for t in complete if problem.is_feasible(t)]
        failures = self._failure_output(trials) if self.model_failures else None
        return _Data(objectives, constraints, X_complete, bool(feasible), complete, feasible, failures)

    def _failure_output(self, trials: list[Trial]) -> _Output | None:
        """The failure label of every told trial (``+1`` failed, ``-1`` did not), or None unless both
        occur. Trials interrupted by the study stopping say nothing about their configuration: left out."""
        rows = [t for t in trials if not (t.status is TrialStatus.FAILED and _interrupted(t))]
        labels = np.array([1.0 if t.status is TrialStatus.FAILED else -1.0 for t in rows])
        if not (labels > 0).any() or not (labels < 0).any():
            return None
        X = self.problem.space.encode([t.config for t in rows])
        return _Output("failure", 0, tuple(t.number for t in rows), X, labels)

    def _phase(self, data: _Data) -> str | None:
        """``"model"``, ``"feasibility"`` or None (too little data: keep sampling Sobol points)."""
        if len(data.X_baseline) >= 2:
            return "model"
        if data.constraints and all(len(c.Y) >= 2 for c in data.constraints):
            return "feasibility"
        return None

    # ------------------------------------------------------------------ models
    def _seed(self, *parts: int) -> int:
        """A 31-bit seed from the study's seed and ``parts`` (counts, so a resume re-derives it)."""
        return int(np.random.SeedSequence([self.problem.seed % 2**64, *parts]).generate_state(1)[0] >> 1)

    def _fit_gp(self, outs: list[_Output], tag: int, local: bool = False) -> Any:
        """A ``SingleTaskGP`` for outcomes observed at the same rows (one independent GP per outcome,
        batched when there are several), warm-started from its checkpoint (see module docstring).
        The failure label's GP always infers its noise. ``local``: the short-lengthscale prior of the
        prior mixture instead of BoTorch's."""
        import torch
        from botorch.exceptions.errors import ModelFittingError
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.constraints import GreaterThan
        from gpytorch.kernels import RBFKernel
        from gpytorch.mlls import ExactMarginalLogLikelihood
        from gpytorch.priors import GammaPrior

        from moo_hpo.optimizers.gp_kernels import covar_module

        first = outs[0]
        m = len(outs)
        noiseless = self.noiseless and first.kind != "failure"

        # the failure label is not a bowl: its GP keeps BoTorch's kernel alone
        trend = "constant" if first.kind == "failure" else self.trend

        def kernel(d: int) -> dict[str, Any]:
            batch_shape = torch.Size([m]) if m > 1 else torch.Size([])
            if not local:
                if trend == "constant":
                    return {}  # BoTorch's RBF kernel with its dimension-scaled LogNormal lengthscale prior
                return {"covar_module": covar_module(d, batch_shape, quadratic_trend=True)}
            prior = GammaPrior(*_LOCAL_LENGTHSCALE_PRIOR)
            mode = (_LOCAL_LENGTHSCALE_PRIOR[0] - 1.0) / _LOCAL_LENGTHSCALE_PRIOR[1]
            covar = RBFKernel(
                ard_num_dims=d,
                batch_shape=batch_shape,
                lengthscale_prior=prior,
                lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=mode),  # as BoTorch's
            )
            return {"covar_module": covar_module(d, batch_shape, trend == "quadratic", lengthscale_kernel=covar)}

        def build(rows: int) -> Any:
            X = torch.as_tensor(first.X[:rows], dtype=torch.double)
            Y = torch.as_tensor(np.column_stack([o.Y[:rows] for o in outs]), dtype=torch.double)
            if noiseless:  # a fixed noise relative to each outcome's variance (Standardize rescales it)
                var = Y.var(dim=0) if rows > 1 else torch.zeros(m, dtype=torch.double)
                var = torch.where(var > 0.0, var, torch.ones_like(var))
                Yvar = (_NOISELESS_VARIANCE * var).expand_as(Y).clone()
                return SingleTaskGP(X, Y, train_Yvar=Yvar, outcome_transform=Standardize(m=m), **kernel(X.shape[-1]))
            return SingleTaskGP(X, Y, outcome_transform=Standardize(m=m), **kernel(X.shape[-1]))

        def fit(model: Any, rows: int, warm: bool) -> None:
            parts = (first.index,) if m == 1 else tuple(o.index for o in outs)
            torch.manual_seed(self._seed(tag, *parts, rows))
            kwargs = {"optimizer_kwargs": {"options": {"maxiter": _WARM_FIT_MAXITER}}} if warm else {}
            try:
                with _noise_floor():
                    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **kwargs)
            except ModelFittingError as exc:  # keep the starting hyperparameters
                logger.warning("%s: GP fit failed (%s); using the starting hyperparameters", self.name, exc)
            model.eval()

        def hyper(model: Any) -> dict[str, Any]:
            # a noiseless GP's likelihood holds one fixed noise per row: not a hyperparameter to carry over
            skip = ("transform", "likelihood") if noiseless else ("transform",)
            return {k: v.detach().clone() for k, v in model.state_dict().items() if not any(w in k for w in skip)}

        n = len(first.Y)
        c = _checkpoint(n)
        state_key = (tuple((o.kind, o.index) for o in outs), first.numbers[:c], local, trend)
        state = self._states.get(state_key)
        if state is None:
            anchor = build(c)
            fit(anchor, c, warm=False)
            state = self._states[state_key] = hyper(anchor)
            while len(self._states) > _MAX_CACHED_STATES:
                self._states.pop(next(iter(self._states)))
            if c == n:
                return anchor
        model = build(n)
        model.load_state_dict(state, strict=False)
        if c < n:
            fit(model, n, warm=True)
        else:
            model.eval()
        return model

    def _model(self, outputs: list[_Output], local: bool = False) -> Any:
        """The outcomes' GPs: one batched multi-output GP when every outcome was observed at the same
        trials (the usual case), else one GP per outcome in a ``ModelListGP``. ``local``: the prior
        mixture's second set (short lengthscales); the failure GP is the same in both."""
        from botorch.models import ModelListGP

        failures = [o for o in outputs if o.kind == "failure"]
        outputs = [o for o in outputs if o.kind != "failure"]
        if len(outputs) > 1 and all(o.numbers == outputs[0].numbers for o in outputs):
            models = [self._fit_gp(outputs, tag=2, local=local)]
        else:
            models = [self._fit_gp([o], tag=0 if o.kind == "objective" else 1, local=local) for o in outputs]
        models += [self._fit_gp([o], tag=3) for o in failures]  # last, as in the outputs' order
        return models[0] if len(models) == 1 else ModelListGP(*models)

    def _eta(self, data: _Data) -> Any:
        """Sigmoid temperatures of the constraint (and failure) indicators: 1e-3 of each one's spread."""
        import torch

        return torch.tensor([1e-3 * (float(np.std(c.Y)) or 1.0) for c in data.guards], dtype=torch.double)

    # ------------------------------------------------------------------ acquisitions
    def _acquisition(self, model: Any, data: _Data, X_pending: Any, sampler: Any, seed: int) -> Any:
        """The model-phase acquisition (outputs: objectives, then hard constraints)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _constraint_callables(self, offset: int, k: int) -> list:
        return [lambda Z, i=offset + i: Z[..., i] for i in range(k)]

    def _feasibility_acquisition(self, model: Any, data: _Data, X_pending: Any, sampler: Any) -> Any:
        from botorch.acquisition.logei import qLogProbabilityOfFeasibility

        return qLogProbabilityOfFeasibility(
            _cached_if_list(model),
            constraints=self._constraint_callables(0, len(data.guards)),
            sampler=sampler,
            X_pending=X_pending,
            eta=self._eta(data),
        )

    # ------------------------------------------------------------------ proposals
    def _model_proposals(
        self, n: int, pending: Sequence[Trial], seen: set[tuple], data: _Data, phase: str
    ) -> list[Proposal]:
        """Sequential greedy proposals by the models (see the module docstring)."""
        import torch
        from botorch.optim import optimize_acqf
        from botorch.sampling.normal import SobolQMCNormalSampler

        space = self.problem.space
        outputs = (data.objectives if phase == "model" else []) + data.guards
        models = [self._model(outputs)] + ([self._model(outputs, local=True)] if self.prior_mixture else [])
        name = self.acquisition_name if phase == "model" else "qLogProbabilityOfFeasibility"
        bounds = torch.stack([torch.zeros(space.n_encoded), torch.ones(space.n_encoded)]).double()
        encoded = [space.encode([t.config for t in pending])] if pending else []
        seen = set(seen)
        pending_keys = {_key(t.config) for t in pending}
        anchors = self._front_anchors(data) if phase == "model" else None
        proposals = []
        for j in range(n):
            seed = self._seed(2, len(self._told), len(pending), j)
            X_pending = torch.as_tensor(np.vstack(encoded), dtype=torch.double) if encoded else None
            sampler = SobolQMCNormalSampler(torch.Size([self._mc]), seed=seed)
            torch.manual_seed(seed)
            if phase == "model":
                acqs = [self._acquisition(model, data, X_pending, sampler, seed) for model in models]
            else:
                acqs = [self._feasibility_acquisition(model, data, X_pending, sampler) for model in models]
            if len(acqs) == 1:
                acq = acqs[0]
            else:  # the mixture of the two sets of GPs (prior_mixture)
                from moo_hpo.optimizers.prior_mixture import MeanOfLogAcquisitions

                acq = MeanOfLogAcquisitions(acqs, name=getattr(acqs[0], "audit_name", name))
            extra = self._front_starts(acq, anchors, seed)
            restarts = self._restarts + (0 if extra is None else len(extra))
            candidate, _ = optimize_acqf(
                acq,
                bounds=bounds,
                q=1,
                num_restarts=restarts,  # BoTorch adds self._restarts from raw samples to the given starts
                raw_samples=self._raw,
                batch_initial_conditions=extra,
                options={
                    "seed": seed,
                    "maxiter": self.maxiter,
                    "batch_limit": restarts,
                    "init_batch_limit": self._raw,
                },
                retry_on_optimization_warning=False,  # a stalled L-BFGS still returns its best point
            )
            config = space.decode(candidate.detach().numpy())[0]
            audit: dict[str, Any] = {"acquisition": getattr(acq, "audit_name", name)}
            if not space.passes_rules(config):
                audit["replaced"] = "the optimum broke a validity rule"
            elif _key(config) in seen:
                audit["replaced"] = "the optimum repeats a configuration already proposed"
            if "replaced" in audit:
                config = self._repair(acq, seen, pending_keys, seed)
            x = space.encode(config)
            X = torch.as_tensor(x, dtype=torch.double)
            with torch.no_grad():
                value = float(acq(X.unsqueeze(0)).reshape(-1)[0])
            audit["acquisition_value"] = value if math.isfinite(value) else None
            audit.update(self._predictions(models, X, outputs))
            proposals.append(Proposal(config, {"optimizer": audit}))
            seen.add(_key(config))
            pending_keys.add(_key(config))
            encoded.append(x)
        return proposals

    def _front_anchors(self, data: _Data) -> np.ndarray | None:
        """Encoded configurations of the feasible trials whose objectives no other feasible trial
        dominates (the measured front), or None when no trial is feasible or front starts are off."""
        if not self._n_front_starts or not data.feasible:
            return None
        from moo_hpo.fronts import pareto_mask

        F = self.problem.objective_matrix(data.feasible, penalized=True)
        front = [t.config for t, on in zip(data.feasible, pareto_mask(F), strict=True) if on]
        return self.problem.space.encode(front)

    def _front_starts(self, acq: Any, anchors: np.ndarray | None, seed: int) -> Any:
        """Extra L-BFGS starts near the measured front (:mod:`moo_hpo.optimizers.front_starts`), or None."""
        if anchors is None:
            return None
        from moo_hpo.optimizers.front_starts import front_starts

        k = self._n_front_starts
        return front_starts(acq, anchors, k=k, pool=max(_FRONT_START_POOL, k), seed=seed)

    def _repair(self, acq: Any, seen: set[tuple], pending_keys: set[tuple], seed: int) -> dict[str, Any]:
        """The best of ``raw_samples`` random valid configurations by the acquisition.

        Prefers configurations never proposed; then at least not running; then any (a space too
        small to avoid every repeat).
        """
        import torch

        space = self.problem.space
        configs = space.sample(self._raw, seed=np.random.default_rng([seed, 31337]))
        fresh = [c for c in configs if _key(c) not in seen]
        if not fresh:
            fresh = [c for c in configs if _key(c) not in pending_keys] or configs
        X = torch.as_tensor(space.encode(fresh), dtype=torch.double).unsqueeze(1)
        with torch.no_grad():
            values = torch.cat([acq(chunk) for chunk in X.split(64)])
        return fresh[int(torch.argmax(values))]

    def _predictions(self, models: Sequence[Any], X: torch.Tensor, outputs: list[_Output]) -> dict[str, Any]:
        """The audit trail's predictions at ``X``, one posterior per model: ``"predicted"`` (mean and std
        per objective / hard-constrained metric, in the metric's units; with the prior mixture those of
        the equal-weight mixture) and, with a failure model, ``"failure_probability"`` (P(label > 0))."""
        import torch
        from gpytorch.utils.warnings import NumericalWarning

        from moo_hpo.optimizers.prior_mixture import mixture_moments

        problem = self.problem
        with torch.no_grad(), warnings.catch_warnings():
            # a noiseless GP's variance next to an observation is zero up to rounding, which GPyTorch
            # reports before raising it to 1e-10: expected there, and harmless
            warnings.filterwarnings("ignore", "Negative variance values detected", NumericalWarning)
            posteriors = [model.posterior(X) for model in models]
            means = torch.stack([post.mean.reshape(-1) for post in posteriors])
            variances = torch.stack([post.variance.clamp_min(0.0).reshape(-1) for post in posteriors])
            mixed_mean, mixed_variance = mixture_moments(means, variances)
            mean = mixed_mean.tolist()
            std = mixed_variance.sqrt().tolist()
        out: dict[str, dict[str, float]] = {}
        extra: dict[str, Any] = {"predicted": out}
        hard = problem.hard_constraints
        for col, o in enumerate(outputs):
            if o.kind == "failure":
                # the failure GP is the same in every model
                extra["failure_probability"] = 0.5 * math.erfc(-mean[col] / max(std[col], 1e-10) / math.sqrt(2.0))
            elif o.kind == "objective":
                spec = problem.objectives[o.index]
                out[spec.name] = {"mean": spec.from_internal(-mean[col]), "std": std[col]}
            else:
                c = hard[o.index]
                if c.name in out:
                    continue
                metric = c.bound + mean[col] if c.kind == "at_most" else c.bound - mean[col]
                out[c.name] = {"mean": metric, "std": std[col]}
        return extra

    # ------------------------------------------------------------------ shared pieces
    def _objective_scale(self, data: _Data) -> Any:
        """Each objective's standard deviation over its modelled trials (1 where that is 0).

        The acquisitions of ``"ehvi"`` and ``"cei"`` score the objectives divided by these, so they do
        not depend on the objectives' units: BoTorch's log-improvement criteria smooth the
        improvement with a fixed temperature (``tau_relu=1e-6``), so in raw units a shortfall of
        0.001 in one objective and of 10 in another would be weighed by their raw sizes, which
        reorders the candidates that improve nothing (test:
        ``test_acquisition_does_not_depend_on_the_objectives_units``). Ax gets the same effect by
        standardizing outcomes before BoTorch sees them.
        """
        import torch

        std = [float(np.std(o.Y)) if len(o.Y) > 1 else 0.0 for o in data.objectives]
        return torch.tensor([v if v > 0.0 and math.isfinite(v) else 1.0 for v in std], dtype=torch.double)

    def _objective_selector(self) -> Any:
        from botorch.acquisition.multi_objective.objective import (
            IdentityMCMultiOutputObjective,
        )

        return IdentityMCMultiOutputObjective(outcomes=list(range(self.problem.n_objectives)))

    def _constraints_after_objectives(self, data: _Data) -> dict[str, Any]:
        if not data.guards:
            return {}
        return {
            "constraints": self._constraint_callables(self.problem.n_objectives, len(data.guards)),
            "eta": self._eta(data),
        }


class EHVI(_BoTorchOptimizer):
    """Expected hypervolume improvement: BoTorch's qLogNEHVI over independent GPs (qLogEHVI over
    the measured front when ``noiseless``: see the module docstring).

    Args:
        n_init: trials of the Sobol initial design; None for ``2 * (space.dim + 1)``.
        num_restarts: starting points of the acquisition's gradient-based optimization; None for 4;
            when ``noiseless``, 20 with two objectives and 60 with three or four.
        raw_samples: random points scored to choose those starts; None for 128; when
            ``noiseless``, 512 with two objectives and 1024 with three or four.
        mc_samples: quasi-Monte-Carlo samples of the posterior; None for 64 with two objectives,
            16 with three or four (one box decomposition per sample, see the module docstring) or
            when ``noiseless``.
        maxiter: iteration limit of each L-BFGS run on the acquisition.
        noiseless: True when the metrics are exact (the same configuration always measures the
            same, e.g. model size or an analytic benchmark): the GPs then use a fixed, tiny
            observation noise instead of inferring it, and interpolate the observations.
        model_failures: learn where trials fail and weigh candidates by the probability that they
            do not fail (see the module docstring); False leaves failed trials out only.
        prior_mixture: score candidates under two sets of GPs (BoTorch's lengthscale prior and short
            lengthscales) by the mean of their acquisition values (see the module docstring; two
            to four times the time per suggestion).
        front_starts: extra starts of the acquisition's optimization near the measured front's
            configurations (see the module docstring); None for 5 with ``noiseless``, else none.
        trend: ``"quadratic"`` (default) or ``"constant"``: the GPs' prior trend (see the module docstring).
    """

    name = "ehvi"
    capabilities = Capabilities(min_objectives=2, max_objectives=4)
    acquisition_name = "qLogNEHVI"

    def _default_mc_samples(self) -> int:
        if self._uses_exact_front():
            return _MC_SAMPLES_EXACT_FRONT
        return _MC_SAMPLES if self.problem.n_objectives == 2 else _MC_SAMPLES_EHVI_3PLUS

    def setup(self, problem: Problem) -> None:  # noqa: D102 - as the base class
        super().setup(problem)
        self.acquisition_name = "qLogEHVI" if self._uses_exact_front() else "qLogNEHVI"

    def _uses_exact_front(self) -> bool:
        """True with exact observations: one box decomposition of the measured front then replaces
        qLogNEHVI's one per posterior sample."""
        return self.noiseless


    def _default_effort(self) -> tuple[int, int]:
        # the larger effort where a restart is cheap enough: on the exact front (docs/benchmarks.md)
        if self._uses_exact_front():
            if self.problem.n_objectives == 2:
                return _RESTARTS_EXACT_FRONT_2D, _RAW_SAMPLES_EXACT_FRONT_2D
            return _RESTARTS_EXACT_FRONT, _RAW_SAMPLES_EXACT_FRONT
        return _RESTARTS, _RAW_SAMPLES

    def _default_front_starts(self) -> int:
        # on the exact front: measured gains for 13-16% more time per evaluation (docs/benchmarks.md);
        # beside qLogNEHVI's 4 restarts 5 more cost 39% per suggestion, for a gain not measured
        return _FRONT_STARTS if self._uses_exact_front() else 0

    def _reference_point(self, data: _Data) -> np.ndarray:
        """The reference point in the internal, minimized convention (see module docstring)."""
        from moo_hpo.fronts import derive_reference_point
        from moo_hpo.study import REFERENCE_FREEZE_AFTER

        explicit = [None if o.ref is None else o.to_internal(o.ref) for o in self.problem.objectives]
        if all(e is not None for e in explicit):
            return np.array(explicit, dtype=float)
        basis = data.feasible[:REFERENCE_FREEZE_AFTER] if data.feasible else data.complete
        return derive_reference_point(self.problem.objective_matrix(basis, penalized=True), explicit)

    def _acquisition(self, model: Any, data: _Data, X_pending: Any, sampler: Any, seed: int) -> Any:
        import torch
        from botorch.acquisition.multi_objective.logei import (
            qLogExpectedHypervolumeImprovement,
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.acquisition.multi_objective.utils import (
            prune_inferior_points_multi_objective,
        )

        from moo_hpo.optimizers.fused_kernel_lock import clear_stale_build_lock

        clear_stale_build_lock()  # BoTorch's first build of its kernel would wait forever on a killed build's lock
        ref = -torch.as_tensor(self._reference_point(data), dtype=torch.double)  # BoTorch maximizes
        scale = self._objective_scale(data)
        ref = ref / scale
        objective = self._scaled_objectives(scale)
        constraints = self._constraints_after_objectives(data)
        common = {
            "ref_point": ref,
            "sampler": sampler,
            "objective": objective,
            "X_pending": X_pending,
            **constraints,
        }
        if self._uses_exact_front():
            from moo_hpo.optimizers.feasibility_weighted import LogEHVITimesFeasibility
            from moo_hpo.optimizers.gp_posterior import cached_gp

            # the same posterior in a few tensor operations (gp_posterior): BraninCurrin 0.29 -> 0.18 s per evaluation
            model = cached_gp(model) or model
            partitioning = self._measured_front(data, ref, scale)
            if X_pending is None and data.guards:
                # one candidate: the exact probability of feasibility instead of its estimate from the
                # samples (feasibility_weighted); C2-DTLZ2, 16 seeds: no stalled run, docs/benchmarks.md
                M = self.problem.n_objectives
                return LogEHVITimesFeasibility(
                    model, ref, partitioning, range(M, M + len(data.guards)), sampler=sampler, objective=objective
                )
            return qLogExpectedHypervolumeImprovement(model, partitioning=partitioning, **common)
        model = _cached_if_list(model)
        # pruning here rather than by prune_baseline=True: fewer samples, same purpose, much faster
        X_baseline = prune_inferior_points_multi_objective(
            model,
            torch.as_tensor(data.X_baseline, dtype=torch.double),
            ref_point=ref,
            objective=objective,
            constraints=constraints.get("constraints"),
            num_samples=_PRUNE_SAMPLES,
        )
        return qLogNoisyExpectedHypervolumeImprovement(model, X_baseline=X_baseline, **common)

    def _scaled_objectives(self, scale: Any) -> Any:
        """The objective outcomes divided by ``scale`` (the model's outputs list objectives first)."""
        from botorch.acquisition.multi_objective.objective import WeightedMCMultiOutputObjective

        return WeightedMCMultiOutputObjective(weights=1.0 / scale, outcomes=list(range(self.problem.n_objectives)))

    def _measured_front(self, data: _Data, ref: Any, scale: Any) -> Any:
        """One box decomposition of the feasible trials' objective values, for qLogEHVI on the
        exact front (``noiseless=True``): with exact observations the front of the evaluated trials
        is known, so qLogNEHVI's integration over the posterior at every baseline point (one box
        decomposition per sample) is not needed, and the two criteria coincide."""
        import torch
        from botorch.utils.multi_objective.box_decompositions.non_dominated import (
            FastNondominatedPartitioning,
        )

        feasible = {t.number for t in data.feasible}
        rows = [i for i, t in enumerate(data.complete) if t.number in feasible]
        Y = np.column_stack([o.Y for o in data.objectives])[rows] if rows else np.empty((0, len(ref)))
        return FastNondominatedPartitioning(ref_point=ref, Y=torch.as_tensor(Y, dtype=torch.double) / scale)


class ParEGO(_BoTorchOptimizer):
    """ParEGO: BoTorch's qLogNParEGO, noisy expected improvement of a random Chebyshev
    scalarization of the objectives (new weights for every proposal), over independent GPs.

    Args:
        n_init: trials of the Sobol initial design; None for ``2 * (space.dim + 1)``.
        num_restarts: starting points of the acquisition's gradient-based optimization; None for 4.
        raw_samples: random points scored to choose those starts; None for 128.
        mc_samples: quasi-Monte-Carlo samples of the posterior; None for 64.
        maxiter: iteration limit of each L-BFGS run on the acquisition.
        noiseless: True when the metrics are exact (the same configuration always measures the
            same, e.g. model size or an analytic benchmark): the GPs then use a fixed, tiny
            observation noise instead of inferring it, and interpolate the observations.
        model_failures: learn where trials fail and weigh candidates by the probability that they
            do not fail (see the module docstring); False leaves failed trials out only.
        prior_mixture: score candidates under two sets of GPs (BoTorch's lengthscale prior and short
            lengthscales) by the mean of their acquisition values (see the module docstring; measured
            with noiseless ``"ehvi"`` only).
        front_starts: extra starts of the acquisition's optimization near the measured front's
            configurations (see the module docstring); None for none (measured with ``"ehvi"`` only).
        trend: ``"quadratic"`` (default) or ``"constant"``: the GPs' prior trend (see the module docstring).
    """

    name = "parego"
    capabilities = Capabilities(min_objectives=2)
    acquisition_name = "qLogNParEGO"

    def _acquisition(self, model: Any, data: _Data, X_pending: Any, sampler: Any, seed: int) -> Any:
        import torch
        from botorch.acquisition.multi_objective.parego import qLogNParEGO
        from botorch.utils.sampling import sample_simplex

        weights = sample_simplex(self.problem.n_objectives, seed=seed, dtype=torch.double).view(-1)
        return qLogNParEGO(
            _cached_if_list(model),
            X_baseline=torch.as_tensor(data.X_baseline, dtype=torch.double),
            scalarization_weights=weights,
            sampler=sampler,
            objective=self._objective_selector(),
            X_pending=X_pending,
            prune_baseline=True,
            **self._constraints_after_objectives(data),
        )


class ConstrainedEI(_BoTorchOptimizer):
    """Constrained expected improvement for one objective: BoTorch's qLogNEI with the hard
    constraints, after a search for the feasible region (``qLogProbabilityOfFeasibility``) while no
    trial is feasible.

    Args:
        n_init: trials of the Sobol initial design; None for ``2 * (space.dim + 1)``.
        num_restarts: starting points of the acquisition's gradient-based optimization; None for 4.
        raw_samples: random points scored to choose those starts; None for 128.
        mc_samples: quasi-Monte-Carlo samples of the posterior; None for 64.
        maxiter: iteration limit of each L-BFGS run on the acquisition.
        noiseless: True when the metrics are exact (the same configuration always measures the
            same, e.g. model size or an analytic benchmark): the GPs then use a fixed, tiny
            observation noise instead of inferring it, and interpolate the observations.
        model_failures: learn where trials fail and weigh candidates by the probability that they
            do not fail (see the module docstring); False leaves failed trials out only.
        prior_mixture: score candidates under two sets of GPs (BoTorch's lengthscale prior and short
            lengthscales) by the mean of their acquisition values (see the module docstring; measured
            with noiseless ``"ehvi"`` only).
        front_starts: extra starts of the acquisition's optimization near the measured front's
            configurations (see the module docstring); None for none (measured with ``"ehvi"`` only).
        trend: ``"quadratic"`` (default) or ``"constant"``: the GPs' prior trend (see the module docstring).
    """

    name = "cei"
    capabilities = Capabilities(min_objectives=1, max_objectives=1)
    acquisition_name = "qLogNEI"

    def _phase(self, data: _Data) -> str | None:
        phase = super()._phase(data)
        if phase == "model" and data.constraints and not data.any_feasible:
            return "feasibility"  # complete trials measured every hard constraint: >= 2 rows each
        return phase

    def _acquisition(self, model: Any, data: _Data, X_pending: Any, sampler: Any, seed: int) -> Any:
        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.acquisition.objective import GenericMCObjective

        scale = float(self._objective_scale(data)[0])
        return qLogNoisyExpectedImprovement(
            _cached_if_list(model),
            X_baseline=torch.as_tensor(data.X_baseline, dtype=torch.double),
            sampler=sampler,
            objective=GenericMCObjective(lambda Z, X=None: Z[..., 0] / scale),
            X_pending=X_pending,
            prune_baseline=True,
            **self._constraints_after_objectives(data),
        )
