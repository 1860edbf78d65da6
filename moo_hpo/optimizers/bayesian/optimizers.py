"""The proposal loop of the Bayesian optimizers ``EHVI``, ``ParEGO`` and ``ConstrainedEI``
(:mod:`~moo_hpo.optimizers.bayesian.named`).

Each ask rebuilds the training data from the told trials (:mod:`~moo_hpo.optimizers.bayesian.data`), fits
the GPs (:mod:`~moo_hpo.optimizers.bayesian.surrogate`), builds the acquisition
(:mod:`~moo_hpo.optimizers.bayesian.acquisition`) and maximizes it with BoTorch's ``optimize_acqf``:

* **Initial design**: the first ``n_init`` trials are the study's scrambled Sobol stream (the same as
  ``"sobol"``); until two trials completed (or, to search for feasibility, measured every hard constraint)
  the stream goes on.
* **Noise** (``noiseless="auto"``): once a trial is feasible, the first measured-front configuration is
  measured again; metrics that repeat exactly are interpolated, the others' GPs infer their noise
  (:mod:`~moo_hpo.optimizers.bayesian.noise_check`).
* **Batches**: ``ask(n)`` chooses one candidate at a time (``q=1``); running trials and the candidates
  already chosen are the acquisition's ``X_pending``.
* **Mixed and conditional spaces**: the acquisition is maximized over the continuous relaxation of the
  encoded cube; every restart's optimum is decoded and the decoded configuration the acquisition scores
  best is kept (a relaxed optimum between two categorical choices can score far above what it decodes to),
  then its discrete choices are improved by a local search
  (:mod:`~moo_hpo.optimizers.bayesian.discrete_search`). One that breaks a validity rule or repeats a
  configuration is replaced (:mod:`~moo_hpo.optimizers.bayesian.valid_optimum`) by the best, by the acquisition,
  of another restart's valid optimum, the best of ``raw_samples`` random valid configurations and, for a broken
  rule, the rule's boundary toward the optimum, so an invalid one is never proposed.
* **Determinism**: every seed derives from the study's seed and trial counts, so the same seed proposes the
  same configurations, and a study resumed from its store continues exactly as an uninterrupted one.
* **Time share** (``time_share``, set by ``"auto"``): the optimizer keeps its own proposal time under a
  share of the study's time. Each told trial earns ``time_share / (1 - time_share)`` of the wall time in
  which trials ran (the union of their start-to-finish intervals, so parallel workers count once); a full
  model step (GP fits and the acquisition's L-BFGS optimization) runs when the time earned covers the time
  spent so far plus the last full step's duration. Otherwise an economy step, when the time earned covers
  the last one: the GPs condition on all data with the hyperparameters of the latest fit, and the best of
  ``ECONOMY_CANDIDATES`` random valid configurations and as many perturbations of the measured front is
  proposed, scored by the acquisition with ``ECONOMY_MC_SAMPLES`` posterior samples (EHVI scores against
  the measured front: one box decomposition). Otherwise a mutation, which costs no model: a random
  perturbation of a front configuration (while no trial is feasible, of one of the trials nearest to
  feasibility), of a width drawn from ``MUTATION_SIGMAS`` (up to a third of the cube: with instant trials
  mutations are the whole search, and narrower ones fell behind Sobol search on most problems of the
  defaults suite). On two cores, at 40 observations of four objectives, a full step
  took 1.2-3.3 s, an economy step 0.05-0.07 s (0.1-0.3 s with the cores shared), a mutation about a
  millisecond. The optimizer's share of the time thus stays within ``time_share`` but for the one step that
  overshoots and ``time_allowance`` seconds any study may spend on top (``"auto"``: a minute, so a study of
  instant trials gets model steps). With a time share two runs of one seed can differ (measured times decide).
* **Audit trail**: each proposal's ``extra["optimizer"]`` holds the acquisition's name and (log) value at
  the proposal, the models' predicted mean and standard deviation of every objective and hard-constrained
  metric in its own units, the ``failure_probability`` with a failure model, and ``"replaced"`` with the
  reason when the optimum was replaced and ``"replacement"``, by what; ``"noise"`` (``"exact"`` or ``"inferred"``, ``"(told)"`` when given)
  and, with ``noiseless="auto"``, ``"noise_repeats"``: each repeated metric's verdict, keyed by the metric's name
  (:func:`~moo_hpo.optimizers.bayesian.noise_check.outcome_names`).

The proposal loop stays one module (above 500 lines): its phases share the told trials, the fitted model and the
audit trail of each proposal, and splitting them would pass all three around.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.optimizers.base import Capabilities, Optimizer, Proposal, config_key, reject_unknown_options
from moo_hpo.optimizers.bayesian import acquisition, defaults, libraries
from moo_hpo.optimizers.bayesian.data import TrainingData, bilog_constraints, training_data, winsorized
from moo_hpo.optimizers.bayesian.fused_kernel_lock import one_off_seconds
from moo_hpo.optimizers.bayesian.noise_check import noise_treatment, repeat_asked, trial_to_repeat
from moo_hpo.robust import REPEAT_OF
from moo_hpo.seeding import derive_seed
from moo_hpo.optimizers.bayesian.surrogate import TRENDS, Surrogate, noise_floor, predictions
from moo_hpo.optimizers.bayesian.time_share import (
    ECONOMY_CANDIDATES,
    ECONOMY_MC_SAMPLES,
    FIRST_ECONOMY_STEP_GUESS,
    FIRST_FULL_STEP_GUESS,
    busy_seconds,
    check_time_options,
    proposing_seconds,
)
from moo_hpo.optimizers.sampling import sobol_stream
from moo_hpo.problem import Problem
from moo_hpo.trial import Trial, TrialStatus

__all__ = ["BoTorchOptimizer"]

logger = logging.getLogger("moo_hpo")

_SOBOL_DESIGN = "sobol (initial design)"
_SOBOL_FALLBACK = "sobol (too few usable observations)"
_SOBOL_MUTATION_FALLBACK = "sobol (time share: no front configuration to perturb)"
_SOBOL_SKIP_LIMIT = 640  # configurations of the Sobol stream skipped as repeats (small discrete spaces)


def _acquisition(trial: Trial) -> str | None:
    """What proposed ``trial`` as its optimizer recorded it (``extra["optimizer"]["acquisition"]``), or None."""
    own = trial.extra.get("optimizer") if isinstance(trial.extra, dict) else None
    return own.get("acquisition") if isinstance(own, dict) else None


_key = config_key


def _one_blas_thread() -> Any:
    """A context in which NumPy's and SciPy's BLAS (not torch's thread pool) run single-threaded.

    SciPy's L-BFGS-B (GP fits and the acquisition's optimization) makes tens of thousands of BLAS calls on
    vectors of a few dozen numbers, and a multi-threaded OpenBLAS synchronizes its threads at each (measured:
    a large share of a study's time on two busy cores; see the lab note).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _labelled(proposals: list[Proposal]) -> list[Proposal]:
    """Proposals made in place of mutations, labelled as such in their audit trail."""
    for p in proposals:
        p.extra["optimizer"]["effort"] = "mutation"
    return proposals


def _check_int(owner: str, name: str, value: Any, allow_none: bool = False, allow_zero: bool = False) -> None:
    """Raise ConfigError unless ``value`` is a positive (or non-negative) integer, or None where allowed."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        expected = ("a non-negative integer" if allow_zero else "a positive integer") + (" or None" if allow_none else "")
        raise ConfigError(f"{owner}: {name} must be {expected}; received {value!r}")


class BoTorchOptimizer(Optimizer):
    """Bayesian optimization on BoTorch: the options and proposal loop shared by ``EHVI``, ``ParEGO`` and ``ConstrainedEI``.

    Options left None take the value of the defaults table (:mod:`~moo_hpo.optimizers.bayesian.defaults`)
    for the optimizer, ``noiseless`` and the number of objectives.

    Args:
        n_init: trials of the Sobol initial design; None for ``2 * (space.dim + 1)``, at most half the study's
            budget where it is known (at least 5): :func:`~moo_hpo.optimizers.bayesian.defaults.initial_design_size`.
        num_restarts: L-BFGS starts of the acquisition's optimization; None for the table's.
        raw_samples: random points scored to choose those starts, and random valid configurations scored
            when the optimum must be replaced; None for the table's.
        mc_samples: quasi-Monte-Carlo posterior samples of the acquisition; None for the table's.
        maxiter: iteration limit of each L-BFGS run on the acquisition.
        noiseless: ``"auto"`` (the default): once a trial is feasible, a configuration is measured again, and
            each metric that repeats exactly is treated as exact, the others as noisy (until then, all as
            noisy; :mod:`~moo_hpo.optimizers.bayesian.noise_check`). True when every metric is exact (the
            same configuration always measures the same, e.g. model size or an analytic benchmark): the GPs
            use a tiny fixed noise and interpolate. False: the GPs infer their noise.
        model_failures: learn where trials fail (a GP on a failed / did-not-fail label, treated like a hard
            constraint) and weigh candidates by the probability that they do not fail; False only leaves
            failed trials out of the models.
        front_starts: extra L-BFGS starts near the configurations of the measured front
            (:mod:`~moo_hpo.optimizers.bayesian.front_starts`); None for the table's.
        trend: the objective and constraint GPs' prior trend: ``"quadratic"`` adds a Bayesian quadratic
            response surface to BoTorch's RBF kernel, so the GPs extrapolate a bowl instead of falling back
            to the mean away from the data (:mod:`~moo_hpo.optimizers.bayesian.kernels`); ``"constant"`` is
            BoTorch's kernel alone.
        time_share: the largest share of the study's time (proposals plus trials) the optimizer may spend
            proposing, between 0 and 1, e.g. 0.2; full model steps alternate with economy steps to keep to
            it (see the module docstring). None (the default): every proposal is a full model step, and a
            seed reproduces the study exactly. A study's ``optimizer="auto"`` gives its Bayesian optimizer
            :data:`moo_hpo.optimizers.registry.AUTO_TIME_SHARE` (0.2).
        time_allowance: seconds of proposing beyond the ``time_share`` (none without one); a study's
            ``optimizer="auto"`` gives :data:`moo_hpo.optimizers.registry.AUTO_TIME_ALLOWANCE` (60).
        winsorize: clip each objective's and hard constraint's bad tail before the GPs see it (Ax's
            automatic rule, :func:`~moo_hpo.optimizers.bayesian.data.winsorized`): values beyond the
            reference point or on a constraint's infeasible side, far out by a Tukey fence, so a heavy tail
            does not take the GPs' resolution from the region that matters.
        bilog_constraints: model each hard constraint's ``g`` as ``sign(g) * log(1 + |g| / s)``, ``s`` the
            median ``|g|`` (Ax's default for outcome constraints, free of the metric's unit:
            :func:`~moo_hpo.optimizers.bayesian.data.bilog_constraints`): values far from the bound are
            compressed, so the GP resolves the boundary; feasibility reads the same.
    """

    ask_in_thread = True  # a model step takes seconds: the study answers reports meanwhile

    capabilities = Capabilities(min_objectives=2)
    acquisition_name = "acquisition"

    def __init__(
        self,
        n_init: int | None = None,
        num_restarts: int | None = None,
        raw_samples: int | None = None,
        mc_samples: int | None = None,
        maxiter: int = 200,
        noiseless: bool | str = "auto",
        model_failures: bool = True,
        front_starts: int | None = None,
        trend: str = "quadratic",
        time_share: float | None = None,
        time_allowance: float = 0.0,
        winsorize: bool = True,
        bilog_constraints: bool = True,
        **unknown: Any,
    ) -> None:
        reject_unknown_options(self, unknown)
        self.n_init = n_init
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.mc_samples = mc_samples
        self.maxiter = maxiter
        self.noiseless = noiseless
        self.model_failures = model_failures
        self.front_starts = front_starts
        self.trend = trend
        self.time_share = time_share
        self.time_allowance = time_allowance
        self.winsorize = winsorize
        self.bilog_constraints = bilog_constraints

    @property
    def initial_trials(self) -> int:
        """The Sobol initial design's size."""
        return int(getattr(self, "_n_init", 0))

    def setup(self, problem: Problem) -> None:
        """Bind to the problem, check the options and resolve the defaults.

        Raises:
            UnsupportedError: when the problem needs something the optimizer lacks.
            ConfigError: for an option of the wrong type or range.
        """
        super().setup(problem)
        modes = (True, False) if self.noiseless == "auto" else (self.noiseless,)
        for exact in modes:  # each mode this optimizer may use; "auto" starts as noisy until its first check
            self._use_noise_mode(exact)
            if self.settings.raw_samples < self.settings.num_restarts:
                raise ConfigError(
                    f"{self.name}: raw_samples must be at least num_restarts ({self.settings.num_restarts}); "
                    f"received raw_samples={self.settings.raw_samples}"
                )
        self._noise_audit: dict[str, Any] = {}
        self._n_init = defaults.initial_design_size(problem.space.dim, problem.budget) if self.n_init is None else int(self.n_init)
        self._told: dict[int, Trial] = {}
        self._design_over = False  # a proposal beyond the initial design was made (or told)
        self._budget_heard = problem.budget  # the largest budget the study announced (budget_grew)
        self._sobol: Any = None  # the Sobol stream of valid configurations, made on first use
        self.surrogate = Surrogate(self.exact, self.trend, problem.seed, self.name)
        self._step_seconds = {"full": FIRST_FULL_STEP_GUESS, "economy": FIRST_ECONOMY_STEP_GUESS}  # the last of each
        self._measured: set[str] = set()  # the kinds of steps measured in this process

    def check_options(self) -> None:
        """Check the options' types and ranges.

        Raises:
            ConfigError: for an option of the wrong type or range.
        """
        for name in ("n_init", "mc_samples", "num_restarts", "raw_samples"):
            _check_int(self.name, name, getattr(self, name), allow_none=True)
        if self.noiseless != "auto" and not isinstance(self.noiseless, bool):
            raise ConfigError(f"{self.name}: noiseless must be True, False or 'auto'; received {self.noiseless!r}")
        for flag in ("model_failures", "winsorize", "bilog_constraints"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{self.name}: {flag} must be True or False; received {getattr(self, flag)!r}")
        _check_int(self.name, "maxiter", self.maxiter)
        if self.trend not in TRENDS:
            raise ConfigError(f"{self.name}: trend must be one of {', '.join(map(repr, TRENDS))}; received {self.trend!r}")
        _check_int(self.name, "front_starts", self.front_starts, allow_none=True, allow_zero=True)
        check_time_options(self.name, self.time_share, self.time_allowance)

    def _use_noise_mode(self, exact: bool, noisy: set[tuple[str, int]] | None = None) -> None:
        """Treat the objectives as exact (the settings' row, the acquisition) or noisy; the GPs of the
        outcomes in ``noisy`` (``(kind, index)``) infer their noise, the others interpolate when ``exact``
        or when ``noisy`` is given."""
        self.exact = exact
        self.settings = defaults.resolve(
            self.name,
            exact,
            self.problem.n_objectives,
            num_restarts=self.num_restarts,
            raw_samples=self.raw_samples,
            mc_samples=self.mc_samples,
            front_starts=self.front_starts,
        )
        if hasattr(self, "surrogate"):
            self.surrogate.noiseless = exact if noisy is None else True
            self.surrogate.noisy = noisy or set()

    def _check_noise(self, measured: TrainingData, data: TrainingData) -> dict[str, Any]:
        """Set the noise treatment (told, or with ``noiseless="auto"`` from the repeats in the ``measured``
        values, not winsorized); returns it for the audit trail."""
        if self.noiseless != "auto":
            self._use_noise_mode(bool(self.noiseless))
            return {"noise": "exact (told)" if self.noiseless else "inferred (told)"}
        exact, noisy, audit = noise_treatment(measured, data, self.problem)
        self._use_noise_mode(exact, noisy)
        verdict = audit["noise_repeats"]
        if verdict and verdict != self._noise_audit.get("noise_repeats"):  # said once, and again when it changes
            logger.info("noise check: %s (exact metrics are interpolated; noisy ones' models infer their noise)",
                        ", ".join(f"{name} {v}" for name, v in verdict.items()))
        return audit

    def tell(self, trials: Sequence[Trial]) -> None:
        """Remember finished trials (the models are rebuilt from them at the next ask)."""
        for trial in trials:
            if trial.is_finished:
                self._told[trial.number] = trial
                if trial.optimizer == self.name and _acquisition(trial) not in (None, _SOBOL_DESIGN):
                    # its design had ended (a resumed study whose new budget sizes the default design larger)
                    self._n_init = min(self._n_init, trial.number)
                    self._design_over = True

    def budget_grew(self, budget: int) -> None:
        """A default initial design still running is sized again for a larger budget (``optimize(n_trials=4)`` then
        ``optimize(n_trials=200)`` designs for 204, as a study resumed for them does), never shorter than it was; one
        that ended stays."""
        heard = self._budget_heard
        if heard is not None and budget <= heard:
            return
        self._budget_heard = budget
        if self.n_init is None and not self._design_over:  # never shorter than it was: trials may stand on it
            self._n_init = max(self._n_init, defaults.initial_design_size(self.problem.space.dim, budget))

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
        self._design_over = True
        measured = self._measured_data()
        data = self._modelled(measured)
        phase = self._phase(data)
        if phase is None:
            return self._sobol_proposals(n, k, seen, _SOBOL_FALLBACK)
        effort = self._affordable_effort(pending)
        # the noise check: once there is a feasible configuration to measure again (a second look at it is
        # worth having under noise too), before the first model step that could use the verdict
        if (self.noiseless == "auto" and phase == "model" and data.any_feasible and effort != "mutation"
                and not self._repeat_done(pending)):
            trial = trial_to_repeat(data)
            return [Proposal(dict(trial.config), {"optimizer": {"acquisition": f"repeat of trial #{trial.number} (noise check)"},
                                                  REPEAT_OF: trial.number})]  # a repetition, as the report's "Repeated runs" shows
        started, one_off = time.perf_counter(), one_off_seconds()
        if effort == "mutation":
            proposals = self._mutation_proposals(n, k, seen, data)
        else:
            libraries.load()  # whole, an interrupt held back: halfway, it would leave torch broken for the process
            with noise_floor(), _one_blas_thread():
                if effort == "full" or not self._noise_audit:  # an economy step keeps the last full step's mode
                    self._noise_audit = self._check_noise(measured, data)
                proposals = self._model_proposals(n, pending, seen, data, phase, effort == "full")
        setup = one_off_seconds() - one_off  # BoTorch's kernel loaded (built, the first time on a machine) in this step
        elapsed = time.perf_counter() - started - setup
        if setup > 0 and proposals:  # kept with the proposal, so that the time share leaves it out when resumed too
            proposals[0].extra.setdefault("optimizer", {})["one_off_seconds"] = round(setup, 6)
        if effort != "mutation":
            # a process's first step of a kind pays one-off imports and compilation: it sets the estimate
            # only below the first guess
            first = effort not in self._measured
            self._measured.add(effort)
            self._step_seconds[effort] = min(elapsed, self._step_seconds[effort]) if first else elapsed
        return proposals

    def _affordable_effort(self, pending: Sequence[Trial]) -> str:
        """The most thorough step the time share allows now: ``"full"`` (always without a time share),
        ``"economy"`` or ``"mutation"``."""
        if self.time_share is None:
            return "full"
        trials = [*self._told.values(), *pending]
        earned = self.time_share / (1.0 - self.time_share) * busy_seconds(trials) + self.time_allowance
        spent = proposing_seconds(trials)  # recorded with each trial, so a resumed study counts the past too
        for effort in ("full", "economy"):
            if spent + self._step_seconds[effort] <= earned:
                return effort
        return "mutation"

    def _mutation_proposals(self, n: int, k: int, seen: set[tuple], data: TrainingData) -> list[Proposal]:
        """Proposals that cost no model: random perturbations of the measured front's configurations (while no
        trial is feasible, of the trials nearest to feasibility; Sobol points before any measured the
        constraints), each valid and not proposed before."""
        from moo_hpo.optimizers.bayesian.front_starts import front_anchors, least_violating_anchors, perturb_anchors
        from moo_hpo.optimizers.bayesian.time_share import MUTATION_SIGMAS

        anchors = front_anchors(self.problem, data)
        if anchors is None:
            anchors = least_violating_anchors(self.problem, data)
        if anchors is None or not len(anchors):
            return _labelled(self._sobol_proposals(n, k, seen, _SOBOL_MUTATION_FALLBACK))
        space, seen, out = self.problem.space, set(seen), []
        rng = np.random.default_rng([self.problem.seed, 2718, len(self._told), k])
        for _ in range(n):
            candidates = [c for c in space.decode(perturb_anchors(anchors, 32, MUTATION_SIGMAS, rng)) if space.passes_rules(c)]
            fresh = [c for c in candidates if _key(c) not in seen]
            if not fresh:
                out += _labelled(self._sobol_proposals(1, k + len(out), seen, _SOBOL_MUTATION_FALLBACK))
            else:
                out.append(Proposal(fresh[0], {"optimizer": {"acquisition": "perturbation of a front configuration", "effort": "mutation"}}))
            seen.add(_key(out[-1].config))
        return out

    def training_data(self) -> TrainingData:
        """The models' training data from every told trial."""
        return self._modelled(self._measured_data())

    def _measured_data(self) -> TrainingData:
        """The training data from every told trial, with the values as measured."""
        return training_data(self.problem, [self._told[i] for i in sorted(self._told)], self.model_failures)

    def _modelled(self, data: TrainingData) -> TrainingData:
        """``data`` as the GPs see it: winsorized with ``winsorize=True``, constraints on the bilog scale with
        ``bilog_constraints=True``."""
        if self.winsorize:
            multi = self.problem.n_objectives > 1 and data.complete
            data = winsorized(data, acquisition.reference_point(self.problem, data) if multi else None)
        return bilog_constraints(data) if self.bilog_constraints else data

    def _phase(self, data: TrainingData) -> str | None:
        """``"model"``, ``"feasibility"`` (only the guards can be modelled) or None (keep sampling Sobol points)."""
        if len(data.X_baseline) >= 2:
            return "model"
        if data.constraints and all(len(c.Y) >= 2 for c in data.constraints):
            return "feasibility"
        return None

    def _sobol_proposals(self, n: int, k: int, seen: set[tuple], label: str) -> list[Proposal]:
        """The next ``n`` configurations of the Sobol stream from position ``k``, skipping repeats within reason."""
        if self._sobol is None:
            self._sobol = sobol_stream(self.problem.space, self.problem.seed)
        out = []
        cursor = k
        seen = set(seen)
        for _ in range(n):
            tries = 0
            config = self._sobol[cursor]
            while _key(config) in seen and tries < _SOBOL_SKIP_LIMIT:
                cursor += 1
                tries += 1
                config = self._sobol[cursor]
            cursor += 1
            seen.add(_key(config))
            out.append(Proposal(dict(config), {"optimizer": {"acquisition": label}}))
        return out

    def _acquisition(self, model: Any, data: TrainingData, X_pending: Any, sampler: Any, seed: int, economy: bool = False) -> Any:
        """The model phase's acquisition (subclasses choose it from :mod:`~moo_hpo.optimizers.bayesian.acquisition`);
        ``economy``: a cheaper variant for economy steps where there is one."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _model_proposals(
        self, n: int, pending: Sequence[Trial], seen: set[tuple], data: TrainingData, phase: str, full: bool = True
    ) -> list[Proposal]:
        """Sequential greedy proposals by the models (see the module docstring); ``full=False``: economy steps."""
        import torch
        from botorch.exceptions.warnings import OptimizationWarning
        from botorch.optim import optimize_acqf
        from botorch.sampling.normal import SobolQMCNormalSampler

        from moo_hpo.optimizers.bayesian.discrete_search import has_discrete, improve_discrete, ranked_decoded
        from moo_hpo.optimizers.bayesian.valid_optimum import valid_optimum
        from moo_hpo.optimizers.bayesian.front_starts import FRONT_START_POOL, front_anchors, front_starts

        space, settings = self.problem.space, self.settings
        outcomes = (data.objectives if phase == "model" else []) + data.guards
        model = self.surrogate.model(outcomes, refit=full)
        name = self.acquisition_name if phase == "model" else "qLogProbabilityOfFeasibility"
        bounds = torch.stack([torch.zeros(space.n_encoded), torch.ones(space.n_encoded)]).double()
        encoded = [space.encode([t.config for t in pending])] if pending else []
        seen = set(seen)
        pending_keys = {_key(t.config) for t in pending}
        anchors = front_anchors(self.problem, data) if phase == "model" and (settings.front_starts or not full) else None
        discrete = has_discrete(space)
        proposals = []
        for j in range(n):
            seed = derive_seed(self.problem.seed, 2, len(self._told), len(pending), j)
            X_pending = torch.as_tensor(np.vstack(encoded), dtype=torch.double) if encoded else None
            mc = settings.mc_samples if full else min(settings.mc_samples, ECONOMY_MC_SAMPLES)
            sampler = SobolQMCNormalSampler(torch.Size([mc]), seed=seed)
            torch.manual_seed(seed)
            if phase == "model":
                acq = self._acquisition(model, data, X_pending, sampler, seed, economy=not full)
            else:
                acq = acquisition.probability_of_feasibility(model, data, X_pending, sampler)
            if not full:
                config = self._best_candidate(acq, seen, pending_keys, seed, anchors, ECONOMY_CANDIDATES)
                proposals.append(self._proposal(config, acq, name, model, outcomes, {"effort": "economy"}))
                seen.add(_key(config))
                pending_keys.add(_key(config))
                encoded.append(space.encode(config))
                continue
            extra = None
            if anchors is not None and settings.front_starts:
                k = settings.front_starts
                extra = front_starts(acq, anchors, k=k, pool=max(FRONT_START_POOL, k), seed=seed)
            restarts = settings.num_restarts + (0 if extra is None else len(extra))
            audit: dict[str, Any] = {"acquisition": getattr(acq, "audit_name", name)}
            config = None
            try:
                with warnings.catch_warnings():  # a stalled L-BFGS still returns its best point: nothing to warn of
                    warnings.filterwarnings("ignore", category=OptimizationWarning)
                    candidates, values = optimize_acqf(
                        acq,
                        bounds=bounds,
                        q=1,
                        num_restarts=restarts,  # BoTorch adds settings.num_restarts from raw samples to the given starts
                        raw_samples=settings.raw_samples,
                        batch_initial_conditions=extra,
                        options={"seed": seed, "maxiter": self.maxiter, "batch_limit": restarts, "init_batch_limit": settings.raw_samples},
                        retry_on_optimization_warning=False,
                        return_best_only=False,
                    )
            except RuntimeError as exc:  # BoTorch's start sampling: every raw sample's value is -inf / NaN
                if "probability tensor contains" not in str(exc):
                    raise
                logger.info("trial %d: %s: the acquisition is -inf or NaN wherever sampled; proposing the best of random "
                            "candidates", len(self._told) + len(pending) + j, name)
                # a flat acquisition (every measurement alike, so no improvement anywhere the model sees)
                audit.update(replaced="the acquisition is -inf or NaN wherever sampled",
                             replacement="the best of random candidates")
            else:
                ranked = ranked_decoded(acq, space, candidates.detach().reshape(-1, space.n_encoded), values.detach().reshape(-1))
                if discrete:  # the decoded optimum's discrete choices, checked by the acquisition
                    ranked[0] = improve_discrete(acq, space, ranked[0])
                config, replaced, how = valid_optimum(acq, space, ranked, lambda c: _key(c) not in seen,
                                                      lambda: self._best_candidate(acq, seen, pending_keys, seed))
                if replaced is not None:
                    audit.update({"replaced": replaced, "replacement": how})
            if config is None:
                config = self._best_candidate(acq, seen, pending_keys, seed)
            if self.time_share is not None:
                audit["effort"] = "full"
            proposals.append(self._proposal(config, acq, name, model, outcomes, audit))
            seen.add(_key(config))
            pending_keys.add(_key(config))
            encoded.append(space.encode(config))
        return proposals

    def _repeat_done(self, pending: Sequence[Trial]) -> bool:
        """Whether the noise check's repeat was asked: a configuration measured twice or running again. A repeat
        the study's stop interrupted, or one that failed (its configuration had completed once: a flaky failure), is
        asked again, once more after a failure."""
        told = list(self._told.values())
        failed = sum(1 for t in told if t.status is TrialStatus.FAILED and REPEAT_OF in t.extra)
        usable = [t for t in told if t.status not in (TrialStatus.INTERRUPTED, TrialStatus.FAILED)]
        return failed >= 2 or repeat_asked([*usable, *pending])

    def _proposal(self, config: dict[str, Any], acq: Any, name: str, model: Any, outcomes: Any, audit: dict[str, Any]) -> Proposal:
        """A proposal with its audit trail: the acquisition's name and value, the models' predictions."""
        import torch

        audit = {"acquisition": getattr(acq, "audit_name", name), **self._noise_audit, **audit}
        X = torch.as_tensor(self.problem.space.encode(config), dtype=torch.double)
        with torch.no_grad():
            value = float(acq(X.unsqueeze(0)).reshape(-1)[0])
        audit["acquisition_value"] = value if math.isfinite(value) else None
        audit.update(predictions(self.problem, model, X, outcomes))
        return Proposal(config, {"optimizer": audit})

    def _best_candidate(
        self, acq: Any, seen: set[tuple], pending_keys: set[tuple], seed: int, anchors: np.ndarray | None = None,
        count: int | None = None,
    ) -> dict[str, Any]:
        """The best by the acquisition of ``count`` (default ``raw_samples``) random valid configurations, and,
        given ``anchors``, as many perturbations of them that pass the validity rules.

        Prefers configurations never proposed; then at least not running; then any (a space too small to
        avoid every repeat).
        """
        import torch

        from moo_hpo.optimizers.bayesian.front_starts import FRONT_START_SIGMAS, perturb_anchors

        space = self.problem.space
        rng = np.random.default_rng([seed, 31337])
        count = self.settings.raw_samples if count is None else count
        configs = space.sample(count, seed=rng, at_least=1)  # a rule few configurations pass: those found
        if anchors is not None and len(anchors):
            near = space.decode(perturb_anchors(anchors, count, FRONT_START_SIGMAS, rng))
            configs += [c for c in near if space.passes_rules(c)]
        fresh = [c for c in configs if _key(c) not in seen]
        if not fresh:
            fresh = [c for c in configs if _key(c) not in pending_keys] or configs
        X = torch.as_tensor(space.encode(fresh), dtype=torch.double).unsqueeze(1)
        with torch.no_grad():
            values = torch.cat([acq(chunk) for chunk in X.split(64)])
        return fresh[int(torch.argmax(values))]
