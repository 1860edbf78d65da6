"""A study's pruner and its decisions: rebuilt from the store, fed the stored reports again when first needed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import plain
from moo_hpo.naming import closest_name
from moo_hpo.problem import Problem
from moo_hpo.pruners.asha import at_rung
from moo_hpo.pruners.base import Decision, Pruner
from moo_hpo.trial import Trial

__all__ = ["PrunerState"]

logger = logging.getLogger("moo_hpo")


class PrunerState:
    """The pruner of one study and its latest decision per trial.

    Args:
        store: the study's store (the pruner is recorded there, and rebuilt from it when none is given).
        problem: the study's problem.
        trials: returns the study's trials (with their stored reports).
        pruner: the pruner; None for the stored one (none when the study never had one, or had one of the
            user's own, which cannot be rebuilt from its name); False for none.
        read_only: True for a view: nothing is written.

    Raises:
        ConfigError: for something that is not a pruner.
    """

    def __init__(
        self, store: Any, problem: Problem, trials: Callable[[], list[Trial]], pruner: Pruner | bool | None, read_only: bool
    ) -> None:
        from moo_hpo.pruners import PRUNERS, make_pruner

        if pruner is not None and pruner is not False and not isinstance(pruner, Pruner):
            raise ConfigError(
                f"pruner must be an mh.pruners.Pruner (MOASHA, Hyperband, DominatedPruner), None or False; received {pruner!r}"
            )
        if isinstance(pruner, Pruner) and pruner.name in PRUNERS and not isinstance(pruner, PRUNERS[pruner.name]):
            raise ConfigError(f"pruner {type(pruner).__name__} is named {pruner.name!r}, the name of moo_hpo's "
                              f"{PRUNERS[pruner.name].__name__}: a reopened study would rebuild that one in its place; give "
                              "yours a name of its own (class attribute name = '...')")
        stored = store.get_meta("pruner")
        if pruner is False:  # no pruning from here on, whatever the study had: the store keeps none either
            if stored is not None and not read_only:
                store.set_meta("pruner", None)
                logger.warning("the study goes on without its pruner %s (pruner=False), and its file records none from "
                               "now on; pass pruner=... to prune again", _described(stored))
            pruner, stored = None, None
        if pruner is None and stored is not None:  # a resumed study keeps pruning as it did
            if stored.get("name") in PRUNERS:
                pruner = make_pruner(stored["name"], stored["params"])
            elif not read_only:
                logger.warning("the study was pruned by %r, which moo_hpo cannot rebuild; pass pruner=... to go on pruning", stored.get("name"))
        self.pruner = pruner
        self._problem = problem
        self._trials = trials
        self._decisions: dict[int, Decision] = {}
        self._stopped_at: dict[int, float] = {}  # the step at which the pruner first said stop to a trial
        self._warned_missing: set[tuple[str, ...]] = set()
        self._logged: set[str] = set()
        self._replayed = pruner is None
        if pruner is None:
            return
        pruner.setup(problem)
        record = {"name": pruner.name, "params": plain(pruner.get_params())}
        if stored is not None and not read_only and _described(record) != _described(stored):
            logger.warning(
                "the study was pruned by %s; %s judges it from now on (the stored reports are judged again by it, so "
                "trials that ran before keep their status but later decisions follow the new pruner)",
                _described(stored), _described(record),
            )
        if record != stored and not read_only:
            try:
                store.set_meta("pruner", record)
            except TypeError:  # options that are not JSON-able: not kept
                logger.warning("the options of pruner %s cannot be stored (not JSON); Study.load reopens the study "
                               "without a pruner unless it is given pruner=... again", pruner.name)

    def replay(self) -> None:
        """Let the pruner see the stored reports again, in the order they arrived (once, when it first decides:
        a read-only view never does, so it opens fast)."""
        if self._replayed or self.pruner is None:
            return
        self._replayed = True
        # repeated runs ran without the pruner: it does not see them now either
        trials = self._trials()
        runs = [t for t in trials if not is_repeated_run(t)]
        for _, number, step, metrics in sorted((r["at"], t.number, r["step"], r["metrics"]) for t in runs for r in t.reports):
            if not self._stopped(number):
                self._judge(trials, number, step, metrics)
            elif self._trained_fully(step):
                self._decisions[number] = Decision(False)

    def _judge(self, trials: list[Trial], number: int, step: float, metrics: Mapping[str, float]) -> None:
        """Record the pruner's decision on a report. A retry of an interrupted trial (``extra["retry_of"]``) goes on as
        that trial would have without the stop: up to the interrupted trial's last report it keeps that trial's
        decision (a report breaking a hard bound still stops it), and beyond it the pruner judges its reports as that
        trial's (judged under its own number, a retry would meet the interrupted run's reports in the rungs and be
        stopped as a copy of itself)."""
        from moo_hpo.pruners.base import hard_violation
        from moo_hpo.retries import RETRY_OF

        trial = trials[number] if 0 <= number < len(trials) and trials[number].number == number else None
        origin = trial.extra.get(RETRY_OF) if trial is not None and isinstance(trial.extra, dict) else None
        if not isinstance(origin, int) or not 0 <= origin < len(trials):
            self._record(number, step, self._checked(self.pruner.decide(number, step, metrics)))  # type: ignore[union-attr]
            return
        reached = max((r["step"] for r in trials[origin].reports), default=None)
        if reached is not None and step <= reached:
            _, broken = hard_violation(self._problem, metrics)
            inherited, stopped_at = self._decisions.get(origin, Decision(False)), self._stopped_at.get(origin)
            if inherited.prune and stopped_at is not None and step >= stopped_at:  # told to stop there before the stop
                inherited = Decision(True, f"{inherited.reason} (the decision on trial #{origin}, which this trial runs again)")
            elif inherited.prune:  # it went on at this step: so does its retry
                inherited = Decision(False)
            self._record(number, step, Decision(True, f"pruned at step {step:g}: {broken}") if broken else inherited)
            return
        self._record(number, step, self._checked(self.pruner.decide(origin, step, metrics)))  # type: ignore[union-attr]

    def _checked(self, decision: Any) -> Decision:
        """A pruner's answer as a :class:`Decision` with a reason (a stop without one says which pruner stopped it).

        Raises:
            ConfigError: for an answer that is not a Decision, naming the pruner.
        """
        if not isinstance(decision, Decision):
            raise ConfigError(f"pruner {self.pruner.name!r}: decide must return mh.pruners.Decision(prune, reason); "  # type: ignore[union-attr]
                              f"received {type(decision).__name__} {decision!r:.100}")
        if decision.prune and not decision.reason:
            return Decision(True, f"stopped by the pruner {self.pruner.name!r}")  # type: ignore[union-attr]
        return decision

    def _record(self, number: int, step: float, decision: Decision) -> None:
        """Keep a trial's latest decision, and the step of its first stop."""
        self._decisions[number] = decision
        if decision.prune:
            self._stopped_at.setdefault(number, step)

    def _stopped(self, number: int) -> bool:
        """Whether the pruner already said stop to trial ``number``: that stands, and the trial's later reports (of an
        objective that did not ask after every report) are not judged, nor ranked in later rungs."""
        decision = self._decisions.get(number)
        return decision is not None and decision.prune

    def _trained_fully(self, step: float) -> bool:
        """Whether a report's step is at or beyond the pruner's ``max_resource``: a trial that went on there after a
        stop (its objective did not ask) trained fully, and completes."""
        top = getattr(self.pruner, "max_resource", None)
        return top is not None and step >= top

    def check_report(self, number: int, metrics: Mapping[str, float], step: float | None = None) -> None:
        """Check a report's names against the objectives before it is stored.

        A report may leave an objective out (the pruner judges it on the ones it carries), but not misspell
        one: a name close to a missing objective's is taken for a typo. With a pruner, a report without an
        objective is logged once per set of missing names.

        Args:
            number: the reporting trial.
            metrics: the report's metrics.
            step: the report's step (a report that breaks a hard bound before a built-in pruner's ``max_resource``
                stops its trial: its missing objectives are not said to let it go on).

        Raises:
            ConfigError: when a reported name looks like a missing objective's.
        """
        names = [o.name for o in self._problem.objectives]
        missing = [n for n in names if n not in metrics]
        bounded = [c.name for c in self._problem.hard_constraints if c.name not in names and c.name not in metrics]
        if not missing and not bounded:
            return
        others = [k for k in metrics if k not in self._problem.required_metrics]
        typos = [f"{close!r} looks like the objective {m!r}" for m in missing if (close := closest_name(m, others))]
        # a hard bound's metric misspelled in a report is never checked there (a report may leave it out); a near
        # name may be another metric of the user's (loss beside a bound on flops), so this is said, not refused
        for m in bounded:
            close = closest_name(m, others)
            if close and f"bound {close} {m}" not in self._logged:
                self._logged.add(f"bound {close} {m}")
                logger.warning(
                    "trial %d reported %r, which looks like %r, the metric of a hard constraint: a report's bound is "
                    "checked under its exact name only (a typo?; logged once)", number, close, m,
                )
        if typos:
            raise ConfigError(
                f"trial.report(step, metrics): {'; '.join(typos)} (a typo?); expected the objectives {names}, "
                f"received {sorted(metrics)}"
            )
        if not missing:
            return
        if self.pruner is not None and tuple(missing) not in self._warned_missing:
            from moo_hpo.pruners.base import hard_violation

            if hard_violation(self._problem, metrics)[1] and self._stops_on_bounds(step):
                return  # the pruner stops it on the broken bound, whatever the objectives
            self._warned_missing.add(tuple(missing))
            if len(missing) == len(names):
                logger.warning(
                    "trial %d reported %s, none of the objectives %s: the pruner cannot rank such a report and lets "
                    "the trial go on (logged once)", number, sorted(metrics), names,
                )
            else:
                logger.warning(
                    "trial %d reported %s without the objective(s) %s: the pruner judges a report on the objectives "
                    "it carries (logged once)", number, sorted(metrics), missing,
                )

    def _stops_on_bounds(self, step: float | None) -> bool:
        """Whether the pruner stops a report that breaks a hard bound at ``step``: moo_hpo's pruners do, below their
        ``max_resource`` (a user's pruner decides for itself)."""
        from moo_hpo.pruners import PRUNERS

        if type(self.pruner) not in PRUNERS.values():
            return False
        top = getattr(self.pruner, "max_resource", None)
        return step is None or top is None or step < top

    def note_told_complete(self, number: int, reason: str) -> None:
        """Log once that a trial the pruner said to stop is told complete (``tell`` without a status)."""
        if "told complete" in self._logged:
            return
        self._logged.add("told complete")
        logger.warning(
            "trial %d is recorded as complete although the pruner said stop (%s): pass tell(..., status='pruned') "
            "for a trial that stopped there, as optimize records it (logged once)", number, reason,
        )

    def check_step(self, number: int, step: float) -> None:
        """Log once when a report's step lies beyond the pruner's ``max_resource`` (steps counted in another unit
        than the pruner's: such reports are never judged, so such trials are never stopped)."""
        top = getattr(self.pruner, "max_resource", None)
        if top is None or step <= top or "beyond" in self._logged:
            return
        self._logged.add("beyond")
        logger.warning(
            "trial %d reported step %g, beyond the pruner's max_resource %g: count steps in the unit of the pruner's "
            "resources (epochs 1 to %g, say); a report at or beyond max_resource is a full trial's last and is not "
            "judged, so such trials are never stopped (logged once)", number, step, top, top,
        )

    def check_finished(self, trial: Trial) -> None:
        """Log once when a complete trial's last report sits at a rung below ``max_resource`` (if trials train to
        that step, the rung stops trials that trained fully, recording them as pruned), and once when it sits below
        the first rung (the pruner never judged the trial: its steps are in other units than the pruner's)."""
        top = getattr(self.pruner, "max_resource", None)
        rungs = getattr(self.pruner, "rung_steps", None)
        if top is None or not rungs or not trial.reports:
            return
        last = trial.reports[-1]["step"]
        if last < rungs[0] and not at_rung(last, rungs[0]) and "first" not in self._logged:  # steps in other units, or counted from 0 below 1
            self._logged.add("first")
            logger.warning(
                "trial %d completed with its last report at step %g, below the pruner's first rung (step %g): the "
                "pruner never judged it; give min_resource and max_resource in the units of the steps reported "
                "(epochs counted from 1: report epoch + 1 in a loop over range(n)) (logged once)",
                trial.number, last, rungs[0],
            )
        if "below" in self._logged:
            return
        if last < top and any(at_rung(last, r) for r in rungs):
            self._logged.add("below")
            logger.warning(
                "trial %d completed at step %g, below the pruner's max_resource %g, where a rung sits: if trials "
                "train to step %g, set max_resource to it, or that rung stops trials that already trained fully and "
                "records them as pruned (logged once)", trial.number, last, top, last,
            )

    def decide(self, number: int, step: float, metrics: dict[str, float]) -> None:
        """Judge a new report (after :meth:`replay`); without a pruner nothing is decided."""
        if self.pruner is not None:
            self.replay()
            trials = self._trials()
            if 0 <= number < len(trials) and trials[number].number == number and is_repeated_run(trials[number]):
                return  # a repeated run goes to the end: pruning would keep its lucky runs only
            if self._stopped(number):
                if self._trained_fully(step):
                    self._decisions[number] = Decision(False)
                    return
                if "after stop" not in self._logged:
                    self._logged.add("after stop")
                    logger.warning(
                        "trial %d reported step %g after the pruner said stop (%s): should_prune() stays True from "
                        "then on; ask it after every report and stop training once it returns True (break, or raise "
                        "mh.TrialPruned()) (logged once)",
                        number, step, self._decisions[number].reason,
                    )
                return
            self._judge(trials, number, step, metrics)

    def decision(self, number: int) -> Decision | None:
        """The pruner's latest decision for trial ``number`` (None before its first report or without a pruner); a stop
        stands through the trial's later reports, up to one at the pruner's ``max_resource`` (trained fully)."""
        self.replay()
        return self._decisions.get(number)


def is_repeated_run(trial: Trial) -> bool:
    """Whether ``trial`` runs a configuration again to measure its spread (``Study.reevaluate``, or a Bayesian
    optimizer's noise check): such a run is never judged by the pruner, nor ranked against others in its rungs."""
    from moo_hpo.robust import REEVALUATE, REPEAT_OF

    return trial.optimizer == REEVALUATE or (isinstance(trial.extra, dict) and REPEAT_OF in trial.extra)


def _described(record: Mapping[str, Any]) -> str:
    """A stored pruner as ``name(option=value, ...)``, its options completed by their defaults when moo_hpo knows
    the pruner (so a record stored before an option existed reads as the same pruner)."""
    from moo_hpo.pruners import PRUNERS, make_pruner

    params = dict(record.get("params") or {})
    if record.get("name") in PRUNERS:
        try:
            params = make_pruner(record["name"], params).get_params()
        except ConfigError:
            pass
    return f"{record.get('name')}({', '.join(f'{k}={v!r}' for k, v in params.items())})"
