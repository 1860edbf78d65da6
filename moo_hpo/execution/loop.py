"""The loop behind :meth:`moo_hpo.Study.optimize`: propose while workers are free, run, tell, repeat.

The study stays the only writer of its store: executors only run objectives and hand their outcomes
back here, where each is told (and committed) before the next proposal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from moo_hpo.exceptions import ConfigError, MooHpoError, StorageError, TrialPruned
from moo_hpo.execution.executors import InProcessExecutor, Outcome
from moo_hpo.execution.extra_text import as_text, keep_own_extra_storable, tell_keeping_metrics
from moo_hpo.execution.interrupts import Terminated, further_interrupts_held, stops_recorded, terminate_as_interrupt
from moo_hpo.execution.failures import report_failure
from moo_hpo.execution.probe_checks import (
    check_cuda_available,
    check_energy_counters,
    check_latency_alone,
    check_metric_names,
    check_holdouts,
    check_sample_weights,
    check_thresholds,
    note_unreachable_bound,
)
from moo_hpo.execution.progress import Progress
from moo_hpo.execution.pruning_checks import check_can_report, note_no_reports
from moo_hpo.execution.workers import WorkerPoolExecutor, check_max_trials_per_worker
from moo_hpo.objectives.base import Probe
from moo_hpo.pipeline import Skipped
from moo_hpo.trial import Result, Trial, TrialStatus, as_metrics, check_metrics
from moo_hpo.values import is_flag, is_integer, is_number, plain

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
    if n_trials is not None and (not is_integer(n_trials) or n_trials < 0):
        raise ConfigError(f"n_trials must be a non-negative integer or None; received {n_trials!r}")
    if timeout is not None and not (is_number(timeout) and timeout > 0):
        raise ConfigError(f"timeout must be a positive number of seconds or None; received {timeout!r}")
    if not is_integer(n_workers) or n_workers < 1:
        raise ConfigError(f"n_workers must be a positive integer; received {n_workers!r}")
    def exception_type(kind: Any) -> bool:
        return isinstance(kind, type) and issubclass(kind, BaseException)

    if not (exception_type(catch) or (isinstance(catch, tuple) and all(exception_type(k) for k in catch))):
        raise ConfigError(f"catch must be a tuple of exception types (or one); received {catch!r}")
    if trial_timeout is not None and not (
        is_number(trial_timeout) and 0 < trial_timeout < float("inf")
    ):
        raise ConfigError(f"trial_timeout must be a positive, finite number of seconds or None; received {trial_timeout!r}")
    if retries is not None and (not is_integer(retries) or retries < 0):
        raise ConfigError(f"retries must be a non-negative integer or None; received {retries!r}")


def _check_signature(fn: Callable[..., Any], with_model: bool) -> None:
    """Refuse an objective that cannot be called the way optimize calls it (every trial would fail with the
    same TypeError): ``fn(config)`` or ``fn(config, trial)``; ``fit(model, config)`` or
    ``fit(model, config, trial)`` with ``build=``; a keyword-only ``trial`` is given as ``trial=``.

    Raises:
        ConfigError: naming the call optimize makes and the objective's signature.
    """
    import inspect

    try:
        signature = inspect.signature(fn, follow_wrapped=False)  # a decorator's own signature is what is called
    except (TypeError, ValueError):  # a builtin or another callable without a signature: it will tell
        return
    args = ("model", "config", "trial") if with_model else ("config", "trial")
    for bound in (args[:-1], args):
        try:
            if "trial" in bound and any(p.kind is p.KEYWORD_ONLY and p.name == "trial" for p in signature.parameters.values()):
                signature.bind(*bound[:-1], trial=bound[-1])  # fn(config, *, trial): given as trial=
            else:
                signature.bind(*bound)
            return
        except TypeError:
            continue
    calls = " or ".join(f"{'fit' if with_model else 'fn'}({', '.join(args[:n])})" for n in (len(args) - 1, len(args)))
    raise ConfigError(f"optimize calls {calls}; the objective {getattr(fn, '__name__', fn)!r} takes {signature}")


#: First parameter names that say a function trains a model it is given (``fit(model, config)``), not a configuration.
_MODEL_NAMES = ("model", "net", "network", "module", "estimator", "clf", "classifier", "regressor", "pipeline")


def _check_not_a_fit(fn: Callable[..., Any]) -> None:
    """Refuse ``fit(model, config)`` given with probes but without ``build``: optimize would call it as
    ``fn(config, trial)``, and the trial would fail inside the user's code (``'dict' object has no attribute
    'parameters'``) or read the configuration it returns as metrics.

    Raises:
        ConfigError: naming the parameter and what to pass.
    """
    import inspect

    from moo_hpo.execution.executors import takes_trial, trial_by_keyword

    try:
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return
    called_with_trial = takes_trial(fn) and not trial_by_keyword(fn)  # its second parameter given the trial
    if (called_with_trial and len(params) >= 2 and params[0].name.lower() in _MODEL_NAMES
            and params[1].name in ("config", "cfg", "params")):
        raise ConfigError(
            f"the objective {getattr(fn, '__name__', fn)!r} takes ({params[0].name}, {params[1].name}, ...), as fit "
            "does, but optimize was given no build=: it would be called as fn(config, trial). Pass build=config -> "
            "untrained model (the probes measure what fit returns), or make fn(config) return the trained model"
        )


def _as_list(argument: str, given: Any, is_one: Callable[[Any], bool]) -> list[Any]:
    """``callbacks`` / ``probes`` as a list: one item alone is accepted as a list of one.

    Raises:
        ConfigError: for something that is neither one item nor an iterable of them, or a list holding something
            that is not one item (a callback that cannot be called: found now, not after the first trial).
    """
    if is_one(given) and not isinstance(given, (list, tuple)):
        return [given]
    if given is None:
        return []
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise ConfigError(f"{argument} must be a list; received {given!r}")
    items = list(given)
    wrong = [item for item in items if not is_one(item)]
    if wrong:
        expected = "callables" if argument == "callbacks" else "moo_hpo probes (mh.objectives.*, or @mh.objectives.probe)"
        hint = " (a class: give an instance of it)" if isinstance(wrong[0], type) else ""
        raise ConfigError(f"{argument} must be a list of {expected}; received {wrong[0]!r} among them{hint}")
    return items


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
    max_trials_per_worker: int | None = None,
) -> None:
    """Run trials of ``study`` until a budget is spent (the arguments are :meth:`moo_hpo.Study.optimize`'s).

    Raises:
        ConfigError: for bad arguments.
        KeyboardInterrupt: after Ctrl-C, once running trials are recorded as interrupted.
    """
    _check_arguments(fn, n_trials, timeout, n_workers, catch, trial_timeout, retries)
    n_trials, timeout, trial_timeout = plain(n_trials), plain(timeout), plain(trial_timeout)  # np.int64(2) -> 2
    n_workers, retries, max_trials_per_worker = plain(n_workers), plain(retries), plain(max_trials_per_worker)
    catch = (catch,) if isinstance(catch, type) else catch
    if show_progress is not None and not is_flag(show_progress):  # "no" would read as True; None: no progress
        raise ConfigError(f"show_progress must be True or False; received {show_progress!r}")
    check_max_trials_per_worker(max_trials_per_worker)
    _check_signature(fn, with_model=build is not None)
    callbacks = _as_list("callbacks", callbacks, callable)
    if n_trials is None and timeout is None and not callbacks:
        logger.warning("optimize was given neither n_trials nor timeout: it runs until Ctrl-C (or a callback's study.stop())")
    probes = _as_list("probes", probes, lambda p: isinstance(p, Probe))
    if probes and build is None:
        _check_not_a_fit(fn)
    can_report = check_can_report(study, fn, with_model=build is not None, through_pipeline=build is not None or bool(probes))
    check_latency_alone(probes, n_workers if executor is None else None)
    if build is not None or probes:
        from moo_hpo.pipeline import ProbePipeline, check_probes

        check_probes(probes)  # a malformed probe is refused before its metrics are read as names
        check_metric_names(study, probes, with_build=build is not None)
        check_thresholds(probes)
        check_sample_weights(probes)
        check_holdouts(probes)
        if executor is None:  # the trials run on this machine: its energy counters are theirs
            check_energy_counters(study, probes)
            check_cuda_available(probes)
        fn = ProbePipeline(fn, build, list(probes), study.problem.hard_constraints)
    study._set_budget(n_trials)
    started = time.monotonic()  # timeout counts from here: the workers' start (imports, a Dask check) is in it
    from moo_hpo.execution.reporter import StudyReporter

    reporter = StudyReporter(study)
    if executor is not None:
        if n_workers != 1:
            raise ConfigError("with executor=... the cluster's workers set how many trials run at once; leave n_workers at 1")
        if max_trials_per_worker is not None:
            raise ConfigError("max_trials_per_worker applies to local worker processes; a Dask worker's life is the "
                              "cluster's to set (`dask worker --lifetime ...`, or the nanny's memory limit with Dask's pause turned "
                              "off, distributed.worker.memory.pause: false, so that a worker restarts instead of pausing)")
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
        if n_workers == 1 and trial_timeout is None and max_trials_per_worker is None:
            executor = InProcessExecutor(fn, reporter)
        else:
            executor = WorkerPoolExecutor(fn, n_workers, trial_timeout, reporter, max_trials_per_worker)
    first_number = len(study.trials)  # this call's trials are numbered from here (see the interrupt's count)
    study._stop_reason = None
    budget_spent = False  # False when a callback's study.stop() ends the run
    submitted = 0
    mine: set[int] = set()  # the trials this call started (trials asked by hand before it are the user's)
    progress = Progress(study, n_trials, show_progress)
    told_early: list[Trial] = []  # trials that ended and were told while the optimizer proposed
    signalled: list[tuple[Trial, Outcome]] = []  # trials whose worker a stopping signal ended meanwhile: told after it

    def answer_and_tell(timeout: float) -> None:
        """While the optimizer proposes in its own thread: answer the running trials' reports, and tell the trials that
        end at once (their results are in the store before the proposal ends; the optimizer hears of them after it)."""
        executor.answer_reports(timeout)
        for trial, outcome in executor.take_ended():
            if reporter.storage_failure is not None:
                raise reporter.storage_failure
            if outcome.signal in _STOPPING_SIGNALS:  # the job's stop may be on its way here: judged after the proposal
                signalled.append((trial, outcome))
                continue
            _finish(study, trial, outcome, catch)
            told_early.append(trial)

    def await_a_job_stop() -> None:
        """A worker was ended by SIGTERM, SIGINT or SIGHUP: when the job's stop reached every process (systemd, SLURM's
        scancel, ``kill 0``), this process's own SIGTERM comes within moments and its trial is recorded interrupted
        with the running ones; wait that long before recording it failed (a worker stopped alone)."""
        if threading.current_thread() is threading.main_thread():  # where the study's own signal is handled
            time.sleep(JOB_STOP_GRACE_S)

    def start(new: list[Trial]) -> int:
        """Hand new trials to the executor (this call's from now on, all of them before the first is submitted: a
        submit that is stopped leaves none unowned); returns how many."""
        mine.update(trial.number for trial in new)
        for trial in new:
            if trial.is_finished:  # an invalid proposal, recorded as failed
                progress.update(trial)
                continue
            executor.submit(trial)
        return len(new)

    def after_tell(trial: Trial) -> None:
        record = study.trial(trial.number)
        if record.status is TrialStatus.FAILED:
            report_failure(study, record, first_number)
        elif record.status is TrialStatus.INFEASIBLE_SKIPPED:  # a budget out of reach: said once
            note_unreachable_bound(study, record)
        elif record.status is TrialStatus.COMPLETE and can_report:  # a pruner, and the objective never reports: once
            note_no_reports(study, record)
        progress.update(trial)
        for cb in callbacks:
            cb(study, study.trial(trial.number))

    # SIGTERM stops the study as Ctrl-C does, its clean-up included; a stop an objective caught is raised again
    with terminate_as_interrupt(), stops_recorded():
        try:
            with progress:
                while True:
                    if study._stop_reason is None:
                        if n_trials is not None and submitted >= n_trials:
                            study._stop_reason, budget_spent = f"ran {n_trials} trials", True
                        elif timeout is not None and time.monotonic() - started >= timeout:
                            study._stop_reason, budget_spent = f"timeout of {timeout:g} s reached", True
                            if not submitted:  # the workers' start took it all
                                logger.warning("optimize's timeout of %g s passed before a trial started (%.1f s after the "
                                               "call, the workers' start-up included): no trial ran", timeout,
                                               time.monotonic() - started)
                    if study._stop_reason is None:
                        free = executor.capacity - executor.n_running
                        if n_trials is not None:
                            free = min(free, n_trials - submitted)
                        queued: list[Trial] = []
                        if free > 0:  # retries and queued configurations start at once, not after the next proposal
                            queued = study._propose(free, queued_only=True)
                            submitted += start(queued)
                            free -= len(queued)
                        if free > 0:
                            # the running trials' reports are answered, and those that end told, while the optimizer proposes
                            answering = answer_and_tell if executor.n_running and hasattr(executor, "take_ended") else None
                            new = study._propose(free, answering, one_answer=True)  # the rest at the next turn
                            told, told_early[:] = list(told_early), []
                            if not new and not queued and executor.n_running == 0 and not told and not signalled:
                                raise MooHpoError(_nothing_proposed(study))  # told ones may let it propose
                            submitted += start(new)  # this call's before anything below can stop it
                            if signalled:
                                await_a_job_stop()
                                for trial, outcome in signalled:
                                    _finish(study, trial, outcome, catch)
                                    told.append(trial)
                                signalled.clear()
                            for trial in told:  # after the new trials are this call's: a callback may stop the study
                                after_tell(trial)
                            if new and len(new) < free and study._stop_reason is None:
                                continue  # it answered some of the free slots (a noise-check repeat): ask for the rest
                    if executor.n_running == 0:
                        if study._stop_reason is not None:
                            break
                        continue
                    ended = executor.wait()
                    ended.sort(key=lambda pair: pair[1].signal in _STOPPING_SIGNALS)  # stable: those last
                    waited = False
                    for trial, outcome in ended:
                        if reporter.storage_failure is not None:  # the file took no report: stop, as a tell would
                            raise reporter.storage_failure
                        if outcome.signal in _STOPPING_SIGNALS and not waited:
                            await_a_job_stop()
                            waited = True
                        _finish(study, trial, outcome, catch)
                        after_tell(trial)
        except KeyboardInterrupt as stop:
            by = "SIGTERM" if isinstance(stop, Terminated) else "KeyboardInterrupt (Ctrl-C)"
            with further_interrupts_held():
                _tell_the_ended(study, executor, catch)
                executor.shutdown()
                # every trial this call started that is still running: on a worker, or finished there but not yet told
                running = [t for t in study._running_trials() if t.number in mine]
                for t in running:
                    study._interrupt(t, f"interrupted: {by} while this trial was running")
                # and those the stop caught while the optimizer's proposal for them was still being made
                running += [t for t in study.trials[first_number:] if t.number not in mine and t.status is TrialStatus.INTERRUPTED]
                done = sum(t.is_finished and t.status is not TrialStatus.INTERRUPTED for t in study.trials)
                again = sum(t.number in study._retries.numbers for t in running)
                logger.warning("stopped by %s; %s saved, %s recorded as interrupted%s", "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C",
                               f"{done} finished trial{'' if done == 1 else 's'}",
                               f"{len(running)} running trial{'' if len(running) == 1 else 's'}",
                               f" ({'its configuration runs' if again == 1 else 'their configurations run'} again first when the "
                               "study goes on)" if again else "")
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


def _tell_the_ended(study: Study, executor: Any, catch: tuple[type[BaseException], ...]) -> None:
    """After Ctrl-C, tell the trials that have ended but were not told yet (one that ended while the optimizer's
    proposal finished, say), so that only the trials still running are recorded interrupted."""
    if not hasattr(executor, "take_ended"):
        return
    try:
        executor.answer_reports(0.0)
        ended = executor.take_ended()
    except Exception as exc:  # noqa: BLE001 - the study stops anyway; the trials stay running, then interrupted
        logger.warning("the trials that ended could not be collected: %s", exc)
        return
    for trial, outcome in ended:
        if outcome.signal in _STOPPING_SIGNALS:  # its worker got the job's stop too (systemd, scancel, kill 0 signal
            continue  # every process of the job): recorded interrupted with the running trials, not failed
        try:
            _finish(study, trial, outcome, catch)
        except Exception as exc:  # noqa: BLE001 - recorded (failed) before it was raised; the study stops on Ctrl-C
            logger.warning("trial #%d failed: %s", trial.number, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


OWN_STOP = "the objective raised TrialPruned"  #: extra["pruned"] of a trial stopped by its own rule, not the pruner


def _note_all_pruned(study: Study, mine: set[int]) -> None:
    """Say so when the pruner stopped every trial of the run: none trained to the end, so none is on the front."""
    ran = [study.trial(n) for n in mine]
    pruned = sum(t.status is TrialStatus.PRUNED for t in ran)
    if pruned < 2 or pruned < len(ran) or study.count("complete"):
        return
    reasons = [t.extra.get("pruned", "") for t in ran if isinstance(t.extra, dict)]
    own = sum(r.startswith(OWN_STOP) for r in reasons)
    if study.pruner is None or own == pruned:  # the objective's own rule stopped each, not the pruner
        logger.warning(
            "the objective raised TrialPruned in all %d trials of this run%s (these stops were the objective's own), "
            "so no trial counts as trained to the end and the front is empty: a pruned trial never enters it; return "
            "the metrics instead when a trial your own rule stopped should count",
            pruned, ", and the study has no pruner" if study.pruner is None else " before the pruner said stop",
        )
        return
    by_bound = sum("breaks the hard bound" in r for r in reasons)
    who = (f"the pruner stopped all {pruned} trials of this run" if not own else
           f"the pruner stopped {pruned - own} and the objective itself (raising TrialPruned before the pruner said "
           f"stop) {own} of the {pruned} trials of this run")
    logger.warning(
        "%s, so no trial trained to the end and the front is empty%s",
        who,
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


#: Signals that stop a whole job (``kill 0``, systemd, SLURM's scancel send them to the workers too).
_STOPPING_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")

#: Seconds the study waits for its own stop after a worker was ended by a stopping signal before failing its trial.
JOB_STOP_GRACE_S = 1.0

def _pruned(study: Study, trial: Trial, outcome: Outcome) -> str | None:
    """Why the trial counts as pruned, or None: it raised TrialPruned, or it returned after the pruner said
    stop (an error, a timeout or a crash stays a failure whatever the pruner said)."""
    error = outcome.error or ""
    as_text = error.split("\nTraceback (most recent call last):")[0]  # a worker's: "TrialPruned: its words", traceback
    if isinstance(outcome.exception, TrialPruned) or (outcome.exception is None and as_text.split(":")[0] == "TrialPruned"):
        said = str(outcome.exception) if outcome.exception is not None else as_text.removeprefix("TrialPruned").removeprefix(":")
        said = said.strip()
        return study.prune_reason(trial.number) or (f"{OWN_STOP}: {said}" if said else OWN_STOP)  # its own words kept
    if outcome.error is None:
        return study.prune_reason(trial.number)
    return None


def _finish(study: Study, trial: Trial, outcome: Outcome, catch: tuple[type[BaseException], ...]) -> None:
    """Tell the study what came of one trial; re-raise what ``catch`` does not cover."""
    keep_own_extra_storable(study, trial)  # written in place by an objective in this process
    try:  # a pandas Series counts as metrics
        value = as_metrics(outcome.value)
        returned = as_metrics(outcome.value.metrics) if isinstance(outcome.value, Result) else value
    except ConfigError as exc:  # one that names a metric twice: the objective's mistake, the trial's failure
        study.tell(trial, error=f"the objective's {exc}", extra=as_text(outcome.extra) or None)
        return
    reason = _pruned(study, trial, outcome)
    if reason is not None:  # stopped early: tell keeps what it returned over what it last reported
        kept = outcome.value.extra if isinstance(outcome.value, Result) else {}
        value = returned if outcome.error is None and isinstance(returned, Mapping) else {}  # a fit that trained in place returns none
        tell_keeping_metrics(study, trial, value, {**outcome.extra, **kept, "pruned": reason}, TrialStatus.PRUNED)
        return
    if outcome.error is not None:
        study.tell(trial, error=outcome.error, extra=as_text(outcome.extra) or None)
        exc = outcome.exception
        if exc is not None and not isinstance(exc, catch):
            raise exc
        if exc is None and not catch:
            raise MooHpoError(f"trial #{trial.number} failed: {outcome.error}")
        return
    if value is None or not isinstance(value, (Mapping, Result, Skipped)):  # the objective's mistake: the trial fails
        reason = "the objective returned None; expected a mapping of metric name to float" if value is None else \
            check_metrics(value, [o.name for o in study.objectives])[1]
        study.tell(trial, error=reason, extra=as_text(outcome.extra) or None)
    elif isinstance(value, Skipped):
        extra = {**outcome.extra, **value.extra, "skipped": value.reason}
        tell_keeping_metrics(study, trial, value.metrics, extra, TrialStatus.INFEASIBLE_SKIPPED)
    else:
        try:
            tell_keeping_metrics(study, trial, value, outcome.extra or None)
        except ConfigError as exc:  # what still cannot be told: the trial fails, the study goes on
            reason = str(exc).replace("; the trial is unchanged", "; the trial is recorded as failed")
            study.tell(trial, error=reason, extra=as_text(outcome.extra) or None)
