"""Evolutionary optimizers through pymoo's ask-and-tell interface: NSGA-II, NSGA-III, SPEA2.

How the study maps onto pymoo:

* **Genome**: one gene per parameter in the compact unit cube (:meth:`moo_hpo.space.Space.from_unit`):
  floats and integers on their own (log) scale, an integer owning an equal share of the gene, a
  categorical picking ``choices[floor(u * k)]``. pymoo's SBX crossover and polynomial mutation work on
  these genes. Genes of inactive conditional parameters are carried along but never decoded, so
  they do not change a trial's objectives and cannot disturb selection.
* **Objectives** are the internal minimized values with soft-constraint penalties.
* **Constraints** go to pymoo's ``G`` (constraint domination), plus one column that marks failed
  trials: a failed trial gets that column and every hard constraint set to twice the largest violation
  seen so far (at least 1), so it ranks behind every trial that ran, and the generation goes on. A
  trial stopped by the study's pruner counts as dominated too, behind every complete trial, and ranks
  by the step of its last report (:func:`pruned_violation`): the trials the pruner let train furthest
  parent the next generation.
* **Validity rules and duplicates**: an offspring whose configuration breaks a rule, or repeats a
  configuration already proposed, is replaced by a fresh random valid one (seeded), so no invalid
  configuration is evaluated and no two pending trials share a configuration. (In a space too small
  for that, copies within a generation are evaluated once and share the result.)
* **Batches**: a generation is proposed as a queue; ``ask(n)`` takes up to ``n`` of it, so
  ``n_workers`` evaluate a generation in parallel. The next generation is bred once every member of
  the current one is told; until then ``ask`` proposes nothing more.
* **Resume**: the study tells a fresh optimizer every stored trial. The optimizer replays its
  generations (same seed, same settings) and checks each stored trial against what it would have
  proposed; when they agree the search continues exactly where it stopped. When they do not (other
  settings, an interrupted trial of a past generation), the population is rebuilt from the stored
  trials: all finished trials become the evaluated initial population, and pymoo's survival keeps
  the best of them from the next generation on. The rebuild happens once, at the next ask, however
  many stored trials follow the first one that did not fit, so a resume is linear in the stored trials.

Default population size for HPO budgets of 50 to 5,000 evaluations: ``pop_size="auto"`` gives
``clip(4 * round(sqrt(budget) / 2), 16, 100)`` (50 -> 16, 500 -> 44, 5,000 -> 100; 40 when the budget is
unknown), so there are always several generations. NSGA-III's reference directions follow the
number of objectives and the population size (Das-Dennis where it gives at least 80% of the
population, otherwise Riesz energy with one direction per individual).

MOEA/D is not offered: pymoo's MOEA/D breeds one neighbourhood at a time in its own loop and has no
batch ask/tell.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_integer
from moo_hpo.optimizers.base import ENQUEUED, Capabilities, Optimizer, Proposal, config_key, reject_unknown_options
from moo_hpo.problem import Problem
from moo_hpo.trial import Trial, TrialStatus

__all__ = ["NSGA2", "NSGA3", "SPEA2", "default_pop_size"]

_UNKNOWN_BUDGET_POP = 40
_REPAIR_TRIES = 50
#: draws for one member when the repair's draws found none passing the rules: for a rule about one configuration in
#: 4,096 passes (a Space accepts rules one of its 4,096 check samples passes), none found with odds of about e^-64
_RARE_RULE_TRIES = 64 * 4096


def default_pop_size(budget: int | None) -> int:
    """Population size for a budget of evaluations (see module docstring)."""
    if budget is None:
        return _UNKNOWN_BUDGET_POP
    return int(np.clip(4 * round(math.sqrt(budget) / 2), 16, 100))


_key = config_key


def _set_evaluated(pop: Any, F: np.ndarray, G: np.ndarray) -> None:
    """Give ``pop`` its objective and constraint values, as pymoo's ``Evaluator`` with a
    ``StaticProblem`` would (same attributes, same ``evaluated`` marks), without its per-call
    machinery: this runs once per generation on the ask/tell path."""
    pop.set("F", F, "G", G, "H", np.zeros((len(pop), 0)))
    for individual in pop:
        individual.evaluated.update(("F", "G", "H"))


def pruned_violation(step: float) -> float:
    """The constraint violation of a pruned trial whose last report was at ``step``, in units of the worst
    violation measured: between 1 (trained long) and 1.5 (stopped at step 0), so a pruned trial ranks behind
    every complete trial and ahead of every failed one (2), and one stopped later ahead of one stopped
    earlier: the pruner let it train further because its reports ranked better."""
    return 1.0 + 1.0 / (2.0 + max(float(step), 0.0))


class _PymooOptimizer(Optimizer):
    """Shared adapter: generations, failure handling, repair, replay on resume."""

    capabilities = Capabilities(min_objectives=1)

    def __init__(self, pop_size: int | str = "auto", n_offsprings: int | None = None, **unknown: Any) -> None:
        reject_unknown_options(self, unknown)
        self.pop_size = pop_size
        self.n_offsprings = n_offsprings

    # -------------------------------------------------------------- pymoo wiring
    def _algorithm(self, pop_size: int, n_offsprings: int, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _resolved_pop_size(self, problem: Problem) -> int:
        if self.pop_size == "auto":
            return default_pop_size(problem.budget)
        return self.pop_size

    def check_options(self) -> None:
        """Check ``pop_size`` and ``n_offsprings``.

        Raises:
            ConfigError: for a value of the wrong type or range.
        """
        if self.pop_size != "auto" and (not is_integer(self.pop_size) or self.pop_size < 2):
            raise ConfigError(f"{self.name}: pop_size must be 'auto' or an integer >= 2; received {self.pop_size!r}")
        if self.n_offsprings is not None and (not is_integer(self.n_offsprings) or self.n_offsprings < 1):
            raise ConfigError(f"{self.name}: n_offsprings must be a positive integer or None; received {self.n_offsprings!r}")

    @property
    def initial_trials(self) -> int:
        """The first generation's size (bred from no result)."""
        return int(getattr(self, "_pop", 0))

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        from pymoo.core.problem import Problem as PymooProblem

        self._pop = self._resolved_pop_size(problem)
        self._n_constr = len(problem.hard_constraints) + 1  # + the failure column
        self._pm_problem = PymooProblem(
            n_var=problem.space.dim, n_obj=problem.n_objectives, n_ieq_constr=self._n_constr, xl=0.0, xu=1.0
        )
        self._alg = self._new_algorithm()
        self._rng = np.random.default_rng([problem.seed, 1729])
        self._seen: set[tuple] = set()  # configurations proposed so far
        self._worst_violation = 1.0
        self._generation = -1
        self._gen_pop: Any = None
        self._gen_configs: list[dict[str, Any]] = []
        self._gen_keys: list[tuple] = []
        self._gen_first: dict[tuple, int] = {}  # configuration key -> its first member in this generation
        self._gen_copies: dict[int, list[int]] = {}  # first member -> later members with its configuration
        self._gen_results: dict[int, Trial] = {}  # member index -> its finished trial
        self._queue: deque[int] = deque()
        self._replaying = True  # until this instance proposes, told trials are checked against a replay
        self._stale = False  # a told trial did not fit the generations: rebuild before the next proposal
        self._history: list[Trial] = []
        # enqueued trials (Study.enqueue) are not members: each joins the survival of the generation bred after it was
        # asked, which waits for it, so that a resumed study (told the trials in number order) replays the same
        self._extras: dict[int, Trial] = {}  # told enqueued trials not yet in a survival, by number
        self._claimed: set[int] = set()  # enqueued trial numbers given to a generation
        self._gen_extras: list[int] = []  # those of the current generation
        self._pending_enqueued: list[int] = []  # running enqueued trials at this ask

    def _new_algorithm(self, sampling: Any = None) -> Any:
        from pymoo.core.termination import NoTermination

        kwargs = {} if sampling is None else {"sampling": sampling}
        alg = self._algorithm(self._pop, self.n_offsprings or self._pop, **kwargs)
        alg.setup(self._pm_problem, termination=NoTermination(), seed=self.problem.seed, verbose=False)
        return alg

    # -------------------------------------------------------------- generations
    def _breed(self) -> None:
        space = self.problem.space
        self._claim_extras()
        pop = self._alg.ask()
        X_bred = np.asarray(pop.get("X"), dtype=float)
        X = np.clip(X_bred, 0.0, 1.0)
        configs = space.from_unit(X)  # in-domain values: only the validity rules need checking
        seen = self._seen
        keys: list[tuple] = []
        for i, config in enumerate(configs):
            key = _key(config)
            size = len(seen)
            seen.add(key)  # one hash for "never proposed?" and "remember it"
            if len(seen) == size or not space.passes_rules(config):
                if len(seen) > size:
                    seen.discard(key)
                config, key = self._replacement(X, i, keys)
                configs[i] = config
                seen.add(key)
            keys.append(key)
        if not np.array_equal(X, X_bred):  # clipped or replaced: pymoo must see the evaluated genes
            pop.set("X", X)
        self._generation += 1
        self._gen_pop = pop
        self._gen_configs = configs
        self._gen_keys = keys
        # a configuration that still occurs twice (tiny spaces) is evaluated once for all its copies
        first: dict[tuple, int] = {}
        copies: dict[int, list[int]] = {}
        for i, key in enumerate(keys):
            j = first.setdefault(key, i)
            if j != i:
                copies.setdefault(j, []).append(i)
        self._gen_first, self._gen_copies = first, copies
        self._gen_results = {}
        self._queue = deque(first.values())

    def _replacement(self, X: np.ndarray, i: int, keys: list[tuple]) -> tuple[dict[str, Any], tuple]:
        """A random valid configuration for member ``i`` (its genes ``X[i]`` are replaced too).

        Prefers configurations never proposed; after ``_REPAIR_TRIES`` draws, at least one not yet
        in this generation (``keys`` holds the members before ``i``); after twice as many, any valid one; when none
        of those passed the validity rules, the first of up to :data:`_RARE_RULE_TRIES` more draws that passes.
        """
        space = self.problem.space
        in_generation: set[tuple] | None = None
        for tries in range(1, 2 * _REPAIR_TRIES + 1):
            X[i] = self._rng.random(space.dim)
            config = space.from_unit(X[i : i + 1])[0]
            key = _key(config)
            if not space.passes_rules(config):
                continue
            if tries < _REPAIR_TRIES:
                if key not in self._seen:
                    return config, key
            else:
                in_generation = set(keys) if in_generation is None else in_generation
                if key not in in_generation or tries == 2 * _REPAIR_TRIES:
                    return config, key
        for _ in range(_RARE_RULE_TRIES // 4096):  # a rule few configurations pass: a longer search, 4,096 at a time
            U = self._rng.random((4096, space.dim))
            found = next((j for j, c in enumerate(space.from_unit(U)) if space.passes_rules(c)), None)
            if found is not None:
                X[i] = U[found]
                config = space.from_unit(U[found : found + 1])[0]
                return config, _key(config)
        raise ConfigError(f"{self.name}: none of {2 * _REPAIR_TRIES + _RARE_RULE_TRIES} configurations drawn for a new member "
                          f"passed the validity rules {[r.name for r in space.rules]}; expected rules that a sizeable "
                          "share of the space satisfies")

    def _record(self, first: int, trial: Trial) -> None:
        """``trial`` is the result of member ``first`` and of its copies in this generation."""
        self._gen_results[first] = trial
        for i in self._gen_copies.get(first, ()):
            self._gen_results[i] = trial

    def _generation_done(self) -> bool:
        return (self._gen_pop is not None and len(self._gen_results) == len(self._gen_configs)
                and all(n in self._extras for n in self._gen_extras))

    def _claim_extras(self) -> None:
        """Give the generation being bred the enqueued trials asked before it (told or running) and not given yet."""
        numbers = sorted({*self._extras, *self._pending_enqueued} - self._claimed)
        self._claimed.update(numbers)
        self._gen_extras = numbers

    def _advance(self) -> None:
        """Tell pymoo the finished generation, with its enqueued trials: they compete in its survival like members
        (a user's baseline is a parent of the next generation if it is good enough)."""
        from pymoo.core.population import Population

        extras = [self._extras.pop(n) for n in self._gen_extras]
        trials = [self._gen_results[i] for i in range(len(self._gen_configs))] + extras
        pop = self._gen_pop
        if extras:
            X = self.problem.space.to_unit([t.config for t in extras])
            pop = Population.merge(pop, Population.new(X=X))
        F, G = self._values(trials)
        _set_evaluated(pop, F, G)
        self._alg.tell(infills=pop)
        self._gen_pop = None
        self._gen_extras = []

    def _values(self, trials: Sequence[Trial]) -> tuple[np.ndarray, np.ndarray]:
        """pymoo's F and G for finished trials (failed ones get the largest violation seen)."""
        problem = self.problem
        F = problem.objective_matrix(trials, penalized=True)
        G = np.hstack([problem.constraint_matrix(trials), np.zeros((len(trials), 1))])
        status = np.array([t.status for t in trials])
        ok = (status == TrialStatus.COMPLETE) & np.isfinite(F).all(axis=1) & ~np.isnan(G).any(axis=1)
        if ok.any():
            self._worst_violation = max(self._worst_violation, float(G[ok].max()))
        skipped = (status == TrialStatus.INFEASIBLE_SKIPPED) & ~np.isnan(G).any(axis=1)
        F[~ok] = 0.0  # skipped trials rank by their known violation, failed ones behind everything
        G[~ok & ~skipped] = 2.0 * self._worst_violation
        for i, trial in enumerate(trials):  # a pruned trial ranks by how far it trained
            if trial.status is TrialStatus.PRUNED and trial.reports:
                G[i] = self._worst_violation * pruned_violation(trial.reports[-1]["step"])
        return F, G

    # -------------------------------------------------------------- protocol
    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        self._replaying = False
        self._pending_enqueued = [t.number for t in pending if t.optimizer == ENQUEUED]
        if self._stale:
            self._rebuild()
        if not self._queue:
            if self._gen_pop is not None and not self._generation_done():
                return []  # wait: the rest of this generation is still running
            if self._gen_pop is not None:
                self._advance()
            self._breed()
        queue = self._queue
        take = [queue.popleft() for _ in range(min(n, len(queue)))]
        # configurations come from Space.from_unit and passed the rules in _breed
        gen = self._generation
        return [Proposal(self._gen_configs[i], {"optimizer": {"generation": gen, "member": i}}, checked=True) for i in take]

    def tell(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            self._history.append(trial)
            if trial.optimizer == ENQUEUED:  # the user's: not a member, it joins a generation's survival (_advance)
                self._extras[trial.number] = trial
                self._seen.add(_key(trial.config))
                continue
            key, first = self._member_key(trial)
            if first is None and self._gen_pop is not None:
                first = self._gen_first.get(key)
            if first is not None and first not in self._gen_results:
                if self._replaying and self._queue and self._queue[0] == first:
                    self._queue.popleft()
                self._record(first, trial)
                continue
            if not self._stale and self._replaying and self._replay(trial):
                continue
            self._stale = True  # rebuilt once, at the next ask, from every trial told by then

    def _member_key(self, trial: Trial) -> tuple[tuple, int | None]:
        """The configuration key of ``trial`` and, when the trial is a member of this generation
        (read from its audit trail and checked against the configuration), the member that
        stands for its configuration; None there otherwise."""
        info = trial.extra.get("optimizer")
        if self._gen_pop is not None and isinstance(info, dict) and info.get("generation") == self._generation:
            i = info.get("member")
            if isinstance(i, int) and 0 <= i < len(self._gen_keys) and self._gen_configs[i] == trial.config:
                key = self._gen_keys[i]
                return key, self._gen_first[key] if self._gen_copies else i
        return _key(trial.config), None

    def _replay(self, trial: Trial) -> bool:
        """Regenerate what this optimizer would have proposed; True when ``trial`` matches it."""
        if not self._queue:
            if self._gen_pop is not None and not self._generation_done():
                return False
            if self._gen_pop is not None:
                self._advance()
            self._breed()
        first = self._queue[0]
        if self._gen_keys[first] != _key(trial.config):
            return False
        self._queue.popleft()
        self._record(first, trial)
        return True

    def _rebuild(self) -> None:
        """Start over from every finished trial told so far as the evaluated initial population."""
        from pymoo.core.population import Population

        finished = [t for t in self._history if t.is_finished]
        space = self.problem.space
        X = space.to_unit([t.config for t in finished])
        F, G = self._values(finished)
        pop = Population.new(X=X)
        _set_evaluated(pop, F, G)
        self._alg = self._new_algorithm()
        self._alg.tell(infills=pop)
        self._seen = {_key(t.config) for t in finished}
        self._gen_pop, self._gen_configs, self._gen_keys, self._gen_results, self._queue = None, [], [], {}, deque()
        self._gen_first, self._gen_copies = {}, {}
        self._extras, self._gen_extras = {}, []  # in the rebuilt population already
        self._claimed = {t.number for t in finished if t.optimizer == ENQUEUED}
        self._replaying = False
        self._stale = False


class NSGA2(_PymooOptimizer):
    """NSGA-II (Deb et al., 2002) through pymoo: rank and crowding survival, binary tournaments,
    SBX crossover and polynomial mutation.

    Args:
        pop_size: individuals per generation, or ``"auto"`` (sized from the study's budget).
        n_offsprings: offspring per generation (default: ``pop_size``).
    """

    name = "nsga2"

    def _algorithm(self, pop_size: int, n_offsprings: int, **kwargs: Any) -> Any:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2

        return PymooNSGA2(pop_size=pop_size, n_offsprings=n_offsprings, eliminate_duplicates=True, **kwargs)


class SPEA2(_PymooOptimizer):
    """SPEA2 (Zitzler et al., 2001) through pymoo: strength-Pareto fitness with an archive.

    Args:
        pop_size: individuals per generation, or ``"auto"``.
        n_offsprings: offspring per generation (default: ``pop_size``).
    """

    name = "spea2"
    capabilities = Capabilities(min_objectives=2)

    def _algorithm(self, pop_size: int, n_offsprings: int, **kwargs: Any) -> Any:
        from pymoo.algorithms.moo.spea2 import SPEA2 as PymooSPEA2
        from pymoo.algorithms.moo.spea2 import SPEA2Survival

        # pymoo's default survival is one object shared by every SPEA2 of the process, and it keeps the
        # normalization bounds of all the populations it has seen: each study gets its own (pymoo's settings)
        kwargs.setdefault("survival", SPEA2Survival(normalize=True))
        return PymooSPEA2(pop_size=pop_size, n_offsprings=n_offsprings, eliminate_duplicates=True, **kwargs)


def reference_directions(n_objectives: int, pop_size: int, seed: int = 0) -> np.ndarray:
    """NSGA-III reference directions for ``n_objectives`` and about ``pop_size`` individuals.

    Das-Dennis with the largest number of partitions whose count fits the population, when that
    count reaches at least 80% of it; otherwise Riesz s-energy directions, one per individual.
    """
    from pymoo.util.ref_dirs import get_reference_directions

    best = None
    p = 1
    while math.comb(p + n_objectives - 1, n_objectives - 1) <= pop_size:
        best = p
        p += 1
    if best is not None and math.comb(best + n_objectives - 1, n_objectives - 1) >= 0.8 * pop_size:
        return get_reference_directions("das-dennis", n_objectives, n_partitions=best)
    return get_reference_directions("energy", n_objectives, pop_size, seed=seed)


class NSGA3(_PymooOptimizer):
    """NSGA-III (Deb & Jain, 2014) through pymoo: reference-direction niching for 3+ objectives.

    Args:
        pop_size: individuals per generation, or ``"auto"``; the reference directions follow it.
        n_offsprings: offspring per generation (default: ``pop_size``).
    """

    name = "nsga3"
    capabilities = Capabilities(min_objectives=2)

    def _resolved_pop_size(self, problem: Problem) -> int:
        pop_size = super()._resolved_pop_size(problem)
        if pop_size < problem.n_objectives:
            raise ConfigError(
                f"nsga3: pop_size must be at least the number of objectives ({problem.n_objectives}), one reference "
                f"direction per objective's extreme; received {pop_size!r}"
            )
        return pop_size

    def _algorithm(self, pop_size: int, n_offsprings: int, **kwargs: Any) -> Any:
        from pymoo.algorithms.moo.nsga3 import NSGA3 as PymooNSGA3
        from pymoo.operators.selection.tournament import TournamentSelection

        ref_dirs = reference_directions(self.problem.n_objectives, pop_size, seed=self.problem.seed)
        return PymooNSGA3(ref_dirs=ref_dirs, pop_size=pop_size, n_offsprings=n_offsprings, eliminate_duplicates=True,
                          selection=TournamentSelection(func_comp=_violation_then_seeded_random), **kwargs)


def _violation_then_seeded_random(pop: Any, P: np.ndarray, random_state: Any = None, **kwargs: Any) -> np.ndarray:
    """NSGA-III's binary tournament (pymoo's ``comp_by_cv_then_random``: the smaller constraint violation wins, a
    random one of two feasible parents), with a tie in violation broken by the algorithm's seeded generator too.

    pymoo 0.6.2 breaks that tie with a generator of its own, unseeded: a study with two or more hard constraints
    (where infeasible parents often violate equally) proposed other trials from the same seed, and its resume was
    not exact.
    """
    from pymoo.operators.selection.tournament import compare

    S = np.full(P.shape[0], np.nan)
    for i in range(P.shape[0]):
        a, b = P[i, 0], P[i, 1]
        if pop[a].CV > 0.0 or pop[b].CV > 0.0:
            S[i] = compare(a, pop[a].CV, b, pop[b].CV, method="smaller_is_better", return_random_if_equal=True,
                           random_state=random_state)
        else:
            S[i] = random_state.choice([a, b])
    return S[:, None].astype(int)
