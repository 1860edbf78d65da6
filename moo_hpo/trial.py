"""The trial record: one evaluated (or running) configuration and what became of it."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from moo_hpo.naming import closest_name

__all__ = ["RecordDict", "Result", "Trial", "TrialStatus", "check_metrics", "config_key", "json_default", "new_report"]


class TrialStatus(str, Enum):
    """Where a trial stands.

    * ``running``: proposed and being evaluated.
    * ``complete``: every metric the study needs was measured (feasible or not).
    * ``failed``: the evaluation raised, returned NaN/inf or a metric was missing, or timed out;
      ``Trial.error`` says which.
    * ``infeasible_skipped``: a metric measured before training broke a hard constraint, so the
      model was never trained.
    * ``interrupted``: the study stopped (Ctrl-C, a crash, an error in another trial) while the trial
      ran; its configuration is not to blame, and ``Trial.error`` says what stopped it.
    * ``pruned``: stopped early by the study's pruner (:mod:`moo_hpo.pruners`); its metrics are the last
      ones it reported. A pruned trial never enters the Pareto front or the hypervolume.
    """

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INFEASIBLE_SKIPPED = "infeasible_skipped"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"

    def __str__(self) -> str:
        return self.value


@dataclass
class Result:
    """What an objective function may return instead of a plain metrics dict.

    Attributes:
        metrics: metric name -> float.
        extra: JSON-able data to keep with the trial (per-group tables, notes ...).
    """

    metrics: Mapping[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from moo_hpo.exceptions import ConfigError

        if not isinstance(self.extra, Mapping):
            raise ConfigError(
                f"Result.extra must be a mapping of names to data; received {type(self.extra).__name__} ({self.extra!r:.100})"
            )


class RecordDict(dict):
    """A trial's ``config`` or ``metrics`` as its study holds them: read as a dict, changed only by the study.

    The trials a study hands out (``study.trials``, ``pareto_front()``, ``recommend().trial``, ``ask()``) are its own
    records: a value changed in place would change the study's front, hypervolume and recommendations in memory while
    its file keeps the old one, and a configuration edited before ``tell`` would be stored as if proposed. So
    changing one in place raises ``TypeError``; ``dict(trial.config)``, ``trial.config.copy()`` and ``copy.deepcopy``
    give a plain dict to change.
    """

    __slots__ = ("_what",)

    def __new__(cls, data: Any = (), what: str | None = None) -> Any:
        # without ``what`` (copy's and dataclasses.asdict's ``type(d)(items)``): a plain dict, the caller's to change
        return dict(data) if what is None else dict.__new__(cls)

    def __init__(self, data: Any = (), what: str | None = None) -> None:
        dict.__init__(self, data)
        self._what = what

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"a trial's {self._what} is its study's record and is not changed in place; change a copy: "
                        f"{self._what} = dict(trial.{self._what})")

    __setitem__ = __delitem__ = pop = popitem = setdefault = update = clear = __ior__ = _refuse  # type: ignore[assignment]

    def copy(self) -> dict[str, Any]:  # type: ignore[override]
        """A plain dict of the same items, to change."""
        return dict(self)

    def __reduce__(self) -> tuple:  # pickled (a trial sent to a worker): a record still
        return (RecordDict, (dict(self), self._what))

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        import copy

        return copy.deepcopy(dict(self), memo)


#: The trial fields held as :class:`RecordDict`.
_RECORDS = ("config", "metrics")


@dataclass(slots=True)
class Trial:
    """A trial record.

    Attributes:
        number: position in the study, from 0, never reused.
        config: parameter name -> value (inactive conditional parameters absent).
        status: a :class:`TrialStatus`.
        metrics: metric name -> float, as measured (the user's units and directions).
        extra: JSON-able per-trial data (probe tables, the optimizer's audit trail ...).
        error: for a failed trial, the exception type, message and traceback, or the reason.
        started_at: UNIX time when the trial was proposed.
        finished_at: UNIX time when its result was told, or None while running.
        seed: a per-trial seed derived from the study seed, for the user's own randomness.
        optimizer: name of the optimizer that proposed it.
        reports: the intermediate reports, in order: ``{"step", "metrics", "at"}`` each (see :meth:`report`).
    """

    number: int
    config: dict[str, Any]
    status: TrialStatus = TrialStatus.RUNNING
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: float = 0.0
    finished_at: float | None = None
    seed: int | None = None
    optimizer: str = ""
    reports: list[dict[str, Any]] = field(default_factory=list)
    # how report() reaches the study while the trial runs (in this process, a worker or a Dask task)
    _reporter: Any = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _RECORDS and isinstance(value, dict) and type(value) is not RecordDict:
            value = RecordDict(value, name)  # the study's record: see RecordDict
        object.__setattr__(self, name, value)

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, name) for name in _PICKLED)

    def __setstate__(self, state: tuple) -> None:
        for name, value in zip(_PICKLED, state, strict=True):
            setattr(self, name, value)
        self._reporter = None

    def __getattr__(self, name: str) -> Any:  # only for a name the trial lacks: Optuna's say what to use
        from moo_hpo.optuna_names import TRIAL_NAMES, missing_attribute

        return missing_attribute(self, name, TRIAL_NAMES)

    def report(self, step: float, metrics: Mapping[str, Any]) -> None:
        """Report intermediate metrics while the trial runs (after an epoch, say), for the study's pruner.

        The report is stored with the trial at once (it survives a crash of the trial), and the pruner
        decides from it whether the trial should stop: ask :meth:`should_prune` next.

        Args:
            step: how far training got (an epoch, a number of samples): a number that grows report by report.
            metrics: metric name -> number, e.g. ``{"accuracy": 0.81, "eo_diff": 0.07}``.

        Raises:
            ConfigError: for a step that is not a finite number >= 0 larger than the last one, metrics that are
                not a mapping of names to numbers, or a NaN or infinite value of a metric the study uses (the
                study leaves out such a value of any other metric, a diverged ``val_loss`` say, and logs it); for
                a trial that is no longer running (a report after the objective returned).
        """
        if self._reporter is None and self.is_finished:  # a study's finished record (from study.trials): not reopened
            from moo_hpo.exceptions import ConfigError

            raise ConfigError(f"trial #{self.number} is already {self.status.value}; only a running trial reports")
        entry = new_report(self.reports, step, metrics, defer_non_finite=self._reporter is not None)
        if self._reporter is not None:
            self._reporter.report(self, entry["step"], entry["metrics"])
        else:  # run outside a study (a test of the objective): keep the report here, never prune
            self.reports.append(entry)

    def should_prune(self) -> bool:
        """Whether the study's pruner wants this trial stopped, given its reports so far.

        False without a pruner or before the first report; once True, True through the trial's later reports,
        which are not judged (up to a report at the pruner's ``max_resource``: a trial that went on to the end
        anyway trained fully, and completes). Stop training when True: ``break`` out of the
        loop and return (the trial is then recorded as pruned with the metrics it returned over its last
        report's) or ``raise mh.TrialPruned()`` (with its last report's).
        """
        return bool(self._reporter is not None and self._reporter.should_prune(self))

    @property
    def is_finished(self) -> bool:
        """True unless the trial is still running."""
        return self.status is not TrialStatus.RUNNING

    @property
    def duration(self) -> float | None:
        """Seconds from proposal to result, or None while running."""
        return None if self.finished_at is None else self.finished_at - self.started_at

    def to_row(self) -> dict[str, Any]:
        """The record as JSON-ready fields (used by the stores)."""
        return {
            "number": self.number,
            "status": self.status.value,
            "config": json.dumps(self.config, allow_nan=False),
            "metrics": json.dumps(self.metrics, allow_nan=True),
            "extra": json.dumps(self.extra, allow_nan=True, default=json_default),
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seed": self.seed,
            "optimizer": self.optimizer,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Trial:
        """Rebuild a record from :meth:`to_row` fields."""
        return cls(
            number=int(row["number"]),
            config=json.loads(row["config"]),
            status=TrialStatus(row["status"]),
            metrics={k: float(v) for k, v in json.loads(row["metrics"]).items()},
            extra=json.loads(row["extra"]),
            error=row["error"],
            started_at=float(row["started_at"]),
            finished_at=None if row["finished_at"] is None else float(row["finished_at"]),
            seed=None if row["seed"] is None else int(row["seed"]),
            optimizer=row["optimizer"] or "",
        )

    def __repr__(self) -> str:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        tail = f", error={self.error.splitlines()[0]!r}" if self.error else ""
        return f"Trial(#{self.number}, {self.status.value}, {self.config}, {{{metrics}}}{tail})"


def as_metrics(value: Any) -> Any:
    """``value`` as a metrics mapping where it is one in all but type: a pandas Series (``df.iloc[i]``, a row of
    scores) becomes a dict; anything else is returned as it is."""
    if not isinstance(value, Mapping) and type(value).__name__ == "Series" and callable(getattr(value, "to_dict", None)):
        index = getattr(value, "index", None)
        if index is not None and not getattr(index, "is_unique", True):  # to_dict would keep one of each name
            from moo_hpo.exceptions import ConfigError

            twice = sorted({str(k) for k in index[index.duplicated()]})
            raise ConfigError(f"metrics given as a pandas Series name {twice} more than once; expected each metric once")
        return value.to_dict()
    return value


#: The keys of a trial's ``extra`` that moo_hpo records when it is asked: the optimizer's audit trail, the trial a
#: noise check or reevaluate repeats, the interrupted trial a retry runs again.
ASKED_KEYS = ("optimizer", "repeat_of", "retry_of")


def asked_extra_keys(extra: Mapping[str, Any] | None) -> list[str]:
    """The keys of ``extra`` that are moo_hpo's to record when a trial is asked (:data:`ASKED_KEYS`), sorted: told,
    they would overwrite that record, or (on a trial that has none) pass for it: a ``repeat_of`` of the user's made
    two configurations one repeated run."""
    return sorted(k for k in ASKED_KEYS if k in extra) if isinstance(extra, Mapping) else []


def new_report(
    reports: Sequence[Mapping[str, Any]], step: Any, metrics: Any, needed: Sequence[str] | None = None, *,
    defer_non_finite: bool = False,
) -> dict[str, Any]:
    """A checked intermediate report ``{"step", "metrics", "at"}`` to follow ``reports``.

    Args:
        reports: the trial's reports so far.
        step: the new report's step.
        metrics: the new report's metrics.
        needed: the metrics the study uses (objectives, constraints): a NaN or infinite value of any other
            metric (a diverged ``val_loss``) is left out, as in a final result. None: every such value is refused.
        defer_non_finite: keep NaN and infinite values for the study to judge (the trial's own process, which
            does not know what the study needs, passes its reports on).

    Raises:
        ConfigError: for a step that is not a finite number >= 0 larger than the last one, or metrics that are
            not a mapping of names to numbers (finite ones, for the metrics in ``needed``).
    """
    import time

    from moo_hpo.exceptions import ConfigError

    # report(value, step), Optuna's order: said with whichever check refuses it first
    optuna = (f" (Optuna's order is report(value, step); here the step comes first and the figures by name: "
              f"trial.report({metrics!r}, {{'accuracy': {step!r}}}))"
              if isinstance(metrics, numbers.Real) and not isinstance(metrics, bool) else "")
    try:  # a NumPy number or a one-element tensor (an epoch counter kept on the device) reads as its value
        step_value = _metric_value(step)
    except Exception:  # noqa: BLE001 - anything that is no number is refused below
        step_value = None
    if step_value is None or not math.isfinite(step_value) or step_value < 0:
        raise ConfigError(f"trial.report(step, metrics): step must be a finite number >= 0 (how far training got: "
                          f"an epoch, a number of samples); received {step!r}{optuna}")
    # an integral step is kept as an int where a store's integer takes it (below 2**53 a float is exact anyway)
    step = int(step_value) if step_value.is_integer() and step_value < 2**53 else step_value
    if reports and step <= reports[-1]["step"]:
        raise ConfigError(f"trial.report(step, metrics): steps must grow; received step {step!r} after step "
                          f"{reports[-1]['step']!r}{optuna}")
    metrics = as_metrics(metrics)
    if not isinstance(metrics, Mapping) or not metrics:
        raise ConfigError(
            f"trial.report(step, metrics): metrics must be a mapping of metric name to number, at least one; received "
            f"{type(metrics).__name__} ({metrics!r:.200})" + ("; report its metrics: trial.report(step, result.metrics) (extra "
                                                               "data goes with the final result)" if isinstance(metrics, Result) else "")
            + optuna
        )
    values, problem = check_metrics(metrics, needed=needed, keep_non_finite=defer_non_finite, numbers_only=True)
    if problem:  # a diverged model, most often: the trial fails, as with such a final result
        raise ConfigError(f"trial.report(step, metrics) at step {step!r}: {problem}")
    return {"step": step, "metrics": values, "at": time.time()}


_PICKLED = ("number", "config", "status", "metrics", "extra", "error", "started_at", "finished_at", "seed", "optimizer", "reports")


def json_default(obj: Any) -> Any:
    """Make numpy scalars and arrays JSON-able inside ``extra``."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    raise TypeError(f"Trial.extra must be JSON-able; received {obj!r} ({type(obj).__name__})")


def _metric_value(value: Any) -> float:
    """A metric as a float: a Python or NumPy number, or a one-element array or tensor (``.item()``).

    Raises:
        TypeError: for anything else (strings, booleans, None, containers), naming the type.
        Exception: whatever ``.item()`` raises for an array or tensor it cannot read.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    item = getattr(value, "item", None)
    if not isinstance(value, (bool, str)) and callable(item):
        inner = item()
        if isinstance(inner, numbers.Real) and not isinstance(inner, bool):
            return float(inner)
    raise TypeError(f"a {type(value).__name__} ({value!r:.100})")


def is_number(value: Any) -> bool:
    """Whether ``value`` reads as a metric (a number, NaN and infinities included; see :func:`check_metrics`)."""
    try:
        _metric_value(value)
    except Exception:  # noqa: BLE001 - whatever a conversion raises: not a number
        return False
    return True


def config_key(config: Mapping[str, Any]) -> str:
    """A hashable key of a configuration: equal for the same parameters and values, whatever their order (a
    configuration run again, e.g. by a repeat, has the same key)."""
    return repr(sorted(config.items()))


def _asked_hint(metric: str) -> str:
    """How to have a built-in probe measure ``metric`` when it does not by default, or ``""``."""
    from moo_hpo.objectives.accuracy import CLASSIFICATION_METRICS, REGRESSION_METRICS
    from moo_hpo.objectives.fairness import FAIRNESS_METRICS

    base = metric.removeprefix("holdout_")
    probe = "FairnessGap" if base in FAIRNESS_METRICS else "Accuracy" if base in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS) else None
    if probe is None:
        return ""
    if base != metric:
        return f" (a {probe} probe measures {metric!r} when given a held-out split: {probe}(..., holdout=...))"
    if base in ("accuracy", "eo_diff"):  # what the probes measure by default: no advice to give
        return ""
    return f" (a{'n' if probe == 'Accuracy' else ''} {probe} probe measures {metric!r} only when asked for it: {probe}(..., metrics=[..., {metric!r}]))"


def check_metrics(
    metrics: Any, required: Sequence[str] = (), *, needed: Sequence[str] | None = None, keep_non_finite: bool = False,
    numbers_only: bool = False,
) -> tuple[dict[str, float], str | None]:
    """Validate what an objective returned: metric name -> number.

    Args:
        metrics: the returned value.
        required: metric names that must be present.
        needed: when given, the metrics the study uses (objectives, constraints): a NaN or infinite value of
            any other metric (a probe reporting NaN where it cannot measure, e.g.
            ``Energy(on_unavailable="nan")``), or one that is not a number (a label, a None), is left out of the
            result instead of failing the trial.
        keep_non_finite: keep NaN and infinite values as they are (for a later check that knows ``needed``).
        numbers_only: a value that is not a number fails whatever its metric (an intermediate report's, for the pruner).

    Returns:
        ``(metrics as floats, None)``, or ``(what could be read, the reason the trial failed)`` when a
        name is not a string, a value is not a number or not finite, or a required metric is missing.
    """
    metrics = as_metrics(metrics)
    if not isinstance(metrics, Mapping):
        names = sorted(needed) if needed else list(required)
        named = ", ".join(f"{n!r}: ..." for n in names) if names else "'accuracy': ..."
        hint = (f" naming each value ({{{named}}}): a {type(metrics).__name__} in the objectives' order is not read"
                if isinstance(metrics, (tuple, list)) else "")
        return {}, (
            f"the objective returned {type(metrics).__name__} ({metrics!r:.200}); expected a mapping of metric name to "
            f"float{hint}"
        )
    out: dict[str, float] = {}
    bad = []
    missing_any = any(m not in metrics for m in required)  # then a value that is not a number may be the typo: said
    for key, value in metrics.items():
        if not isinstance(key, str):
            bad.append(f"metric name {key!r} is a {type(key).__name__}; expected a string")
            continue
        try:
            f = _metric_value(value)
        except Exception as exc:  # noqa: BLE001 - any conversion failure is the trial's failure
            if needed is not None and key not in needed and not missing_any and not numbers_only:
                continue  # nothing needs it (a label beside the figures, a None): left out, as a NaN is
            detail = str(exc) if isinstance(exc, TypeError) else f"{type(exc).__name__}: {exc}"
            hint = " (keep other data with mh.Result(metrics, extra={...}))" if isinstance(value, (str, list, dict)) else ""
            bad.append(f"metric {key!r} is not a number: {detail}{hint}")
            continue
        if not math.isfinite(f) and not keep_non_finite:
            if needed is not None and key not in needed:
                continue  # not measured, and nothing needs it: left out
            bad.append(f"metric {key!r} is {f}")
        out[str(key)] = f
    missing = [m for m in required if m not in metrics]  # returned but not a number: said above
    if missing:
        # the probes' metric names, imported here only, on a trial's failure (the probes import nothing heavy at the top)
        from moo_hpo.objectives.accuracy import CLASSIFICATION_METRICS, REGRESSION_METRICS
        from moo_hpo.objectives.fairness import FAIRNESS_METRICS

        known = {*FAIRNESS_METRICS, *CLASSIFICATION_METRICS, *REGRESSION_METRICS}  # two of these are no typo of each other
        others = [name for name in out if name not in required]  # a metric the study requires is no typo of another
        hints = [f"{close!r} looks like {m!r}" for m in missing
                 if (close := closest_name(m, others, abbreviation=True)) and not {close.removeprefix("holdout_"), m.removeprefix("holdout_")} <= known]
        hint = f" ({'; '.join(hints)}: a typo in a metric name?)" if hints else ""
        if not hints:  # a metric a built-in probe measures only when asked for it
            hint = "".join(_asked_hint(m) for m in missing[:2])
        bad.append(f"missing metric(s) {missing}; the objective returned {sorted(out)}{hint}")
    return out, ("; ".join(bad) if bad else None)
