"""The loop behind :meth:`moo_hpo.Study.optimize`: propose while workers are free, run, tell, repeat.

The study stays the only writer of its store: executors only run objectives and hand their outcomes
back here, where each is told (and committed) before the next proposal.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from moo_hpo.exceptions import ConfigError, MooHpoError, StorageError, TrialPruned
from moo_hpo.execution.executors import InProcessExecutor, Outcome, takes_trial
from moo_hpo.execution.extra_text import as_text, tell_keeping_metrics
from moo_hpo.execution.interrupts import further_interrupts_held
from moo_hpo.execution.progress import Progress
from moo_hpo.execution.workers import WorkerPoolExecutor
from moo_hpo.objectives.base import Probe
from moo_hpo.pipeline import Skipped, takes_trial_at
from moo_hpo.trial import Result, Trial, TrialStatus

if TYPE_CHECKING:
    from moo_hpo.study import Callback, Study

__all__ = ["run_optimize"]

logger = logging.getLogger("moo_hpo")


def _check_arguments(
    fn: Callable[..., Any], n_trials: int | None, timeout: float | None, n_workers: int, catch: Any, trial_timeout: Any,
    retries: Any = None,
) -> None:
    if not callable(fn):
        raise ConfigError(f"optimize expects a callable objective; received {fn!r}")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0):
        raise ConfigError(f"n_trials must be a non-negative integer or None; received {n_trials!r}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ConfigError(f"timeout must be a positive number of seconds or None; received {timeout!r}")
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ConfigError(f"n_workers must be a positive integer; received {n_workers!r}")
    if not isinstance(catch, tuple):
        raise ConfigError(f"catch must be a tuple of exception types; received {catch!r}")
    if trial_timeout is not None and not (
        isinstance(trial_timeout, (int, float)) and not isinstance(trial_timeout, bool) and 0 < trial_timeout < float("inf")
    ):
        raise ConfigError(f"trial_timeout must be a positive, finite number of seconds or None; received {trial_timeout!r}")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        raise ConfigError(f"retries must be a non-negative integer or None; received {retries!r}")


def _check_signature(fn: Callable[..., Any], with_model: bool) -> None:
    """Refuse an objective that cannot be called the way optimize calls it (every trial would fail with the
    same TypeError): ``fn(config)`` or ``fn(config, trial)``; ``fit(model, config)`` or
    ``fit(model, config, trial)`` with ``build=``.

    Raises:
        ConfigError: naming the call optimize makes and the objective's signature.
    """
    import inspect

    try:
        signature = inspect.signature(fn, follow_wrapped=False)  # a decorator's own signature is what is called
    except (TypeError, ValueError):  # a builtin or another callable without a signature: it will tell
        return
    args = ("model", "config", "trial") if with_model else ("config", "trial")
    for n in (len(args) - 1, len(args)):
        try:
            signature.bind(*args[:n])
            return
        except TypeError:
            continue
    calls = " or ".join(f"{'fit' if with_model else 'fn'}({', '.join(args[:n])})" for n in (len(args) - 1, len(args)))
    raise ConfigError(f"optimize calls {calls}; the objective {getattr(fn, '__name__', fn)!r} takes {signature}")


def _check_can_report(study: Study, fn: Callable[..., Any], with_model: bool, through_pipeline: bool) -> None:
    """Warn when the study has a pruner but the objective is not given the trial (as the executors and
    :class:`~moo_hpo.pipeline.ProbePipeline` decide): it cannot report, so nothing is pruned."""
    if study.pruner is None:
        return
    if takes_trial_at(fn, 2 if with_model else 1) if through_pipeline else takes_trial(fn):
        return
    call = "fit(model, config, trial)" if with_model else "fn(config, trial)"
    warnings.warn(
        f"the study has a pruner ({study.pruner!r}), but the objective {getattr(fn, '__name__', fn)!r} takes no trial, "
        f"so it cannot report and no trial is pruned; write it as {call} and call trial.report(step, metrics) "
        "and trial.should_prune() while it trains",
        UserWarning,
        stacklevel=4,
    )


def _check_latency_alone(probes: Sequence[Any], n_workers: int | None) -> None:
    """Warn when CPU latency is measured while other trials train on the same cores (local workers): each
    measurement then reads high by however busy the cores are, and a budget on it skips or passes by chance."""
    from moo_hpo.objectives.latency import Latency

    cpu = [p for p in probes if isinstance(p, Latency) and not str(p.device).startswith("cuda")]
    if cpu and n_workers is not None and n_workers > 1:
        warnings.warn(
            f"the Latency probe times models on the CPU while {n_workers} workers train on the same cores: latencies "
            "read high and vary with the load; for figures to size devices by, run with n_workers=1 or measure the "
            "front's models again alone (Latency(...).measure(model))",
            UserWarning,
            stacklevel=4,
        )


def _as_list(argument: str, given: Any, is_one: Callable[[Any], bool]) -> list[Any]:
    """``callbacks`` / ``probes`` as a list: one item alone is accepted as a list of one.

    Raises:
        ConfigError: for something that is neither one item nor an iterable of them.
    """
    if is_one(given) and not isinstance(given, (list, tuple)):
        return [given]
    if given is None:
        return []
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise ConfigError(f"{argument} must be a list; received {given!r}")
    return list(given)


def run_optimize(
    study: Study,
    fn: Callable[..., Any],
    n_trials: int | None = None,
    timeout: float | None = None,
    n_workers: int = 1,
    callbacks: Iterable[Callback] = (),
    show_progress: bool = True,
    catch: tuple[type[BaseException], ...] = (Exception,),
    trial_timeout: float | None = None,
    build: Callable[[dict[str, Any]], Any] | None = None,
    probes: Sequence[Any] = (),
    executor: Any = None,
    resources: Mapping[str, float] | None = None,
    retries: int | None = None,
) -> None:
    """Run trials of ``study`` until a budget is spent (the arguments are :meth:`moo_hpo.Study.optimize`'s).

    Raises:
        ConfigError: for bad arguments.
        KeyboardInterrupt: after Ctrl-C, once running trials are recorded as interrupted.
    """
    _check_arguments(fn, n_trials, timeout, n_workers, catch, trial_timeout, retries)
    _check_signature(fn, with_model=build is not None)
    callbacks = _as_list("callbacks", callbacks, callable)
    if n_trials is None and timeout is None and not callbacks:
        logger.warning("optimize was given neither n_trials nor timeout: it runs until Ctrl-C (or a callback's study.stop())")
    probes = _as_list("probes", probes, lambda p: isinstance(p, Probe))
    _check_can_report(study, fn, with_model=build is not None, through_pipeline=build is not None or bool(probes))
    _check_latency_alone(probes, n_workers if executor is None else None)
    if build is not None or probes:
        from moo_hpo.pipeline import ProbePipeline

        _check_metric_names(study, probes)
        _check_thresholds(probes)
        if executor is None:  # the trials run on this machine: its energy counters are theirs
            _check_energy_counters(study, probes)
        fn = ProbePipeline(fn, build, list(probes), study.problem.hard_constraints)
    study._set_budget(n_trials)
    from moo_hpo.execution.reporter import StudyReporter

    reporter = StudyReporter(study)
    if executor is not None:
        if n_workers != 1:
            raise ConfigError("with executor=... the cluster's workers set how many trials run at once; leave n_workers at 1")
        from moo_hpo.execution.cluster import DaskExecutor

        executor = DaskExecutor(fn, executor, resources, 1 if retries is None else retries, trial_timeout, reporter=reporter)
    elif resources is not None:
        raise ConfigError("resources=... needs a Dask executor (executor=client or a scheduler address)")
    else:
        if retries is not None:
            logger.warning(
                "retries=%r applies to a Dask executor (executor=client or a scheduler address), where a worker can be "
                "lost with its machine; here it is ignored: a local worker that crashes fails its trial (the crash is "
                "the objective's), and the study goes on with a new worker", retries,
            )
        if n_workers == 1 and trial_timeout is None:
            executor = InProcessExecutor(fn, reporter)
        else:
            executor = WorkerPoolExecutor(fn, n_workers, trial_timeout, reporter)
    started = time.monotonic()
    study._stop_reason = None
    budget_spent = False  # False when a callback's study.stop() ends the run
    submitted = 0
    mine: set[int] = set()  # the trials this call started (trials asked by hand before it are the user's)
    progress = Progress(study, n_trials, show_progress)
    try:
        with progress:
            while True:
                if study._stop_reason is None:
                    if n_trials is not None and submitted >= n_trials:
                        study._stop_reason, budget_spent = f"ran {n_trials} trials", True
                    elif timeout is not None and time.monotonic() - started >= timeout:
                        study._stop_reason, budget_spent = f"timeout of {timeout:g} s reached", True
                if study._stop_reason is None:
                    free = executor.capacity - executor.n_running
                    if n_trials is not None:
                        free = min(free, n_trials - submitted)
                    if free > 0:
                        new = study._propose(free)
                        if not new and executor.n_running == 0:
                            raise MooHpoError(_nothing_proposed(study))
                        for trial in new:
                            submitted += 1
                            mine.add(trial.number)
                            if trial.is_finished:  # an invalid proposal, recorded as failed
                                progress.update(trial)
                                continue
                            executor.submit(trial)
                if executor.n_running == 0:
                    if study._stop_reason is not None:
                        break
                    continue
                for trial, outcome in executor.wait():
                    if reporter.storage_failure is not None:  # the file took no report: stop, as a tell would
                        raise reporter.storage_failure
                    _finish(study, trial, outcome, catch)
                    record = study.trial(trial.number)
                    if record.status is TrialStatus.FAILED:
                        _report_failure(study, record)
                    progress.update(trial)
                    for cb in callbacks:
                        cb(study, study.trial(trial.number))
    except KeyboardInterrupt:
        with further_interrupts_held():
            executor.shutdown()
            # every trial this call started that is still running: on a worker, or finished there but not yet told
            running = [t for t in study._running_trials() if t.number in mine]
            for t in running:
                study._interrupt(t, "interrupted: KeyboardInterrupt (Ctrl-C) while this trial was running")
            done = sum(t.is_finished and t.status is not TrialStatus.INTERRUPTED for t in study.trials)
            logger.warning("interrupted; %s saved, %s recorded as interrupted", f"{done} finished trial{'' if done == 1 else 's'}",
                           f"{len(running)} running trial{'' if len(running) == 1 else 's'}")
        raise
    except BaseException as exc:
        with further_interrupts_held():
            executor.shutdown()
            for t in [t for t in study._running_trials() if t.number in mine]:
                try:
                    study._interrupt(t, f"interrupted: the study stopped on an error: {type(exc).__name__}: {str(exc)[:300]}")
                except StorageError as failure:  # the file that stopped the study takes nothing more: raise the first error
                    logger.warning("trial #%d could not be recorded as interrupted: %s", t.number, failure)
                    break
        raise
    executor.shutdown()
    if budget_spent:
        logger.info("optimize stopped: %s", study._stop_reason)
    else:  # a callback's study.stop() (a stopping rule) ended the run before its budget: say so, and why
        logger.warning("optimize stopped after %d trial%s: %s", len(mine), "" if len(mine) == 1 else "s", study._stop_reason)
    _note_all_pruned(study, mine)


def _note_all_pruned(study: Study, mine: set[int]) -> None:
    """Say so when the pruner stopped every trial of the run: none trained to the end, so none is on the front."""
    ran = [study.trial(n) for n in mine]
    pruned = sum(t.status is TrialStatus.PRUNED for t in ran)
    if pruned < 2 or pruned < len(ran) or study.count("complete"):
        return
    reasons = [t.extra.get("pruned", "") for t in ran if isinstance(t.extra, dict)]
    by_bound = sum("breaks the hard bound" in r for r in reasons)
    logger.warning(
        "the pruner stopped all %d trials of this run, so no trial trained to the end and the front is empty%s",
        pruned,
        f" ({by_bound} of them on a hard bound broken in a report: a bound on a metric that still settles during "
        "training, a fairness gap say, stops trials that would end within it; report such a metric only at the end)"
        if by_bound else " (each trial's extra['pruned'] says why)",
    )


def _nothing_proposed(study: Study) -> str:
    """Why optimize cannot go on: the optimizer waits for trials asked by hand, or proposes nothing at all."""
    waiting = sorted(t.number for t in study._running_trials())
    name = study.optimizer.name
    if waiting:
        return (
            f"optimizer {name!r} has nothing to propose until the running trials {waiting} are told; they were asked "
            "before optimize (study.ask) and optimize does not run them: tell them first (study.tell)"
        )
    return f"optimizer {name!r} proposed nothing"


#: A study whose first this-many finished trials all failed with one reason stops with that reason.
SAME_FAILURE_STOP = 5


def _report_failure(study: Study, trial: Trial) -> None:
    """Log a failed trial's one-line reason; stop a study whose first trials all fail the same way.

    Raises:
        MooHpoError: when the study's first :data:`SAME_FAILURE_STOP` finished trials failed with one
            reason and none completed (a typo in a metric name, a bug in the objective).
    """
    reason = (trial.error or "unknown").splitlines()[0]
    logger.warning("trial %d failed: %s", trial.number, reason[:500])
    if study.count("complete") or study.count("infeasible_skipped") or study.count("pruned"):
        return
    finished = [t for t in study.trials if t.status is not TrialStatus.RUNNING and t.status is not TrialStatus.INTERRUPTED]
    if len(finished) < SAME_FAILURE_STOP or len(finished) > SAME_FAILURE_STOP:
        return
    # one reason to the letter: failures that differ in a number (a loss diverging at another step) may be the
    # search's own findings, not a mistake in the objective
    reasons = {(t.error or "").splitlines()[0] if t.status is TrialStatus.FAILED else None for t in finished}
    if len(reasons) == 1 and None not in reasons:
        raise MooHpoError(
            f"the first {SAME_FAILURE_STOP} trials all failed the same way, so the study stops: {reason}. "
            "Fix the objective and run it again (the failed trials stay in the study)"
        )


def failure_kind(error: str | None) -> str:
    """What a failure's reason says, apart from its numbers: its first line with every number as ``#`` (a
    returned value, a size in an out-of-memory error), so that a summary counts failures of one kind as one."""
    import re

    first = (error or "").strip().splitlines()[0] if (error or "").strip() else ""
    return re.sub(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", "#", first)


def _check_metric_names(study: Study, probes: Sequence[Any]) -> None:
    """Before trial 0: a metric the study needs that no probe provides, but one nearly does, is a typo.

    Raises:
        ConfigError: naming the metric and the probe metric it resembles.
    """
    from moo_hpo.naming import closest_name

    from moo_hpo.objectives.size import PRECISION_BYTES, ModelSize

    provided = [m for p in probes for m in getattr(p, "metrics", ())]
    from moo_hpo.objectives.holdout import HOLDOUT_PREFIX

    held_out = [n for n in study.problem.required_metrics if n.startswith(HOLDOUT_PREFIX) and n in provided]
    if held_out:
        warnings.warn(
            f"the study selects on {held_out}, measured on the held-out split: a model chosen on it makes those "
            f"figures as optimistic as the validation ones, and nothing is held out any more; name "
            f"{[n.removeprefix(HOLDOUT_PREFIX) for n in held_out]} instead",
            UserWarning,
            stacklevel=4,
        )
    for name in study.problem.required_metrics:
        if name in provided:
            continue
        precision = name.removeprefix("size_kb_")
        if precision in PRECISION_BYTES and any(isinstance(p, ModelSize) for p in probes):
            warnings.warn(  # fit may return it itself (a quantized export of the user's): not refused
                f"the study needs the metric {name!r}, which ModelSize measures only when asked for that precision: "
                f"ModelSize(precisions=[{precision!r}]); unless fit returns it, every trial trains and then fails "
                f"(the probes provide {sorted(provided)})",
                UserWarning,
                stacklevel=4,
            )
            continue
        able = [p for p in probes if name in _measurable(p)]
        if able:  # a probe that measures it when asked (fit may return it itself: not refused)
            probe = able[0]
            asked = [m for m in getattr(probe, "base_metrics", getattr(probe, "metrics", ()))]
            warnings.warn(
                f"the study needs the metric {name!r}, which {type(probe).__name__} measures only when asked for it: "
                f"{type(probe).__name__}(..., metrics={[*asked, name.removeprefix('holdout_')]!r}); unless fit returns "
                f"it, every trial trains and then fails (the probes provide {sorted(provided)})",
                UserWarning,
                stacklevel=4,
            )
            continue
        close = closest_name(name, provided, cutoff=0.75)
        if close:
            raise ConfigError(
                f"the study needs the metric {name!r}, which no probe provides; did you mean {close!r}? "
                f"(the probes provide {sorted(provided)})"
            )


def _check_thresholds(probes: Sequence[Any]) -> None:
    """Warn when the probes that turn scores into labels (``FairnessGap``, an ``Accuracy`` of label metrics) use
    different decision thresholds: their figures then describe different classifiers (a model's
    ``moo_hpo_threshold`` overrides both)."""
    from moo_hpo.objectives.accuracy import NEEDS_SCORES, REGRESSION_METRICS, Accuracy
    from moo_hpo.objectives.fairness import FairnessGap

    threshold_free = {*NEEDS_SCORES, *REGRESSION_METRICS}  # scores, not labels: no threshold involved
    labelled = [p for p in probes if isinstance(p, FairnessGap)
                or (isinstance(p, Accuracy) and not set(p.base_metrics) <= threshold_free)]
    if len({p.threshold for p in labelled}) > 1:
        said = ", ".join(f"{type(p).__name__} {'its predict' if p.threshold is None else p.threshold}" for p in labelled)
        warnings.warn(
            f"the probes decide labels at different thresholds ({said}): their figures describe different classifiers "
            "(an accuracy and a fairness gap of two models) unless build sets model.moo_hpo_threshold, which "
            "overrides both; give each the same threshold=",
            UserWarning,
            stacklevel=4,
        )
    # the positive label matters where a threshold decides labels (or a model's own, which cannot be known here:
    # only the probes' are) or f1 counts one
    decided = [p for p in labelled if p.threshold is not None or "f1" in getattr(p, "base_metrics", ())]
    positives = {_positive_label(p) for p in labelled} - {None}
    if decided and len(positives) > 1:
        said = ", ".join(f"{type(p).__name__} {_positive_label(p)!r}" for p in labelled)
        warnings.warn(
            f"the probes count different labels as positive ({said}): a threshold then decides two different "
            "classifiers, and f1 or a gap counts another outcome; give each the same pos_label=",
            UserWarning,
            stacklevel=4,
        )


def _positive_label(probe: Any) -> Any:
    """The label a probe's threshold is on: its ``pos_label``, else the second of two sorted labels (None when
    the labels are not two)."""
    import numpy as np

    if getattr(probe, "pos_label", None) is not None:
        return probe.pos_label
    try:
        labels = np.unique(np.asarray(probe.y))
    except TypeError:
        return None
    if len(labels) != 2:
        return None
    return labels[1].item() if hasattr(labels[1], "item") else labels[1]


def _check_energy_counters(study: Study, probes: Sequence[Any]) -> None:
    """Refuse, before the first trial, an energy probe that cannot measure on this machine (no NVML or RAPL counter,
    no ``watts=`` estimate), rather than failing every trial; and NaN energies the study would need.

    Raises:
        ConfigError: naming the probe, the device and why there is no counter.
    """
    from moo_hpo.objectives.energy import Energy, TrainingEnergy, unavailable_reason

    for p in probes:
        if not isinstance(p, (Energy, TrainingEnergy)) or p.watts is not None:
            continue
        why = unavailable_reason(p.device)
        if why is None:
            continue
        needed = [m for m in p.metrics if m in study.problem.required_metrics]
        if isinstance(p, Energy) and p.on_unavailable == "nan":
            if not needed:
                continue  # recorded as NaN, as asked, and nothing depends on it
            raise ConfigError(
                f"probe {p.name!r} has no energy counter for {p.device!r} on this machine ({why}), so it records NaN "
                f"(on_unavailable='nan'), which the study's {needed} cannot take: pass watts=... for a labelled "
                "estimate, or leave energy out of the objectives and constraints"
            )
        nan_instead = isinstance(p, Energy) and not needed  # NaN only helps where nothing needs the energy
        raise ConfigError(
            f"probe {p.name!r} has no energy counter for {p.device!r} on this machine ({why}): pass watts=... for a "
            + ("labelled estimate, or on_unavailable='nan' to record NaN" if nan_instead else "labelled estimate")
        )


def _measurable(probe: Any) -> set[str]:
    """The metrics a probe can measure when asked (``measurable``), held-out ones too when it has a held-out split."""
    names = set(getattr(probe, "measurable", ()))
    if getattr(probe, "holdout", None) is not None:
        from moo_hpo.objectives.holdout import holdout_name

        names |= {holdout_name(m) for m in names}
    return names


def _pruned(study: Study, trial: Trial, outcome: Outcome) -> str | None:
    """Why the trial counts as pruned, or None: it raised TrialPruned, or it returned after the pruner said
    stop (an error, a timeout or a crash stays a failure whatever the pruner said)."""
    if isinstance(outcome.exception, TrialPruned) or (outcome.error or "").startswith("TrialPruned"):
        return study.prune_reason(trial.number) or "the objective raised TrialPruned"
    if outcome.error is None:
        return study.prune_reason(trial.number)
    return None


def _finish(study: Study, trial: Trial, outcome: Outcome, catch: tuple[type[BaseException], ...]) -> None:
    """Tell the study what came of one trial; re-raise what ``catch`` does not cover."""
    reason = _pruned(study, trial, outcome)
    if reason is not None:  # stopped early: tell keeps what it returned over what it last reported
        returned = outcome.value.metrics if isinstance(outcome.value, Result) else outcome.value
        kept = outcome.value.extra if isinstance(outcome.value, Result) else {}
        value = returned if outcome.error is None and isinstance(returned, Mapping) else {}  # a fit that trained in place returns none
        tell_keeping_metrics(study, trial, value, {**outcome.extra, **kept, "pruned": reason}, TrialStatus.PRUNED)
        return
    if outcome.error is not None:
        study.tell(trial, error=outcome.error, extra=outcome.extra or None)
        exc = outcome.exception
        if exc is not None and not isinstance(exc, catch):
            raise exc
        if exc is None and not catch:
            raise MooHpoError(f"trial #{trial.number} failed: {outcome.error}")
        return
    value = outcome.value
    if value is None:
        study.tell(trial, error="the objective returned None; expected a mapping of metric name to float", extra=outcome.extra or None)
    elif isinstance(value, Skipped):
        extra = {**outcome.extra, **value.extra, "skipped": value.reason}
        tell_keeping_metrics(study, trial, value.metrics, extra, TrialStatus.INFEASIBLE_SKIPPED)
    else:
        try:
            tell_keeping_metrics(study, trial, value, outcome.extra or None)
        except ConfigError as exc:  # what still cannot be told: the trial fails, the study goes on
            reason = str(exc).replace("; the trial is unchanged", "; the trial is recorded as failed")
            study.tell(trial, error=reason, extra=as_text(outcome.extra) or None)
