"""How a trial is evaluated when probes measure the model: build, check, fit, measure.

``study.optimize(fit, build=build, probes=[...])`` runs, per trial:

1. ``model = build(config)``: the untrained model (``build(config, trial)`` gets the trial too: ``trial.seed``
   seeds the weights' initialisation);
2. every probe that needs no training measures it (size, latency ... of a torch module; a
   scikit-learn estimator has nothing to measure before ``fit``, so those probes wait for it), and probes
   derived from other probes' metrics (:class:`~moo_hpo.objectives.DeviceFit`) compute theirs from those;
3. if a **hard** constraint on those metrics is already broken, the trial ends as
   ``infeasible_skipped`` with the metrics measured so far, and ``fit`` is never called;
4. otherwise ``fit(model, config)`` trains it (inside the energy meters of any
   :class:`~moo_hpo.objectives.energy.TrainingEnergy` probe) and returns the trained model, or None
   when it trained in place, or a metrics mapping / :class:`~moo_hpo.Result` to add its own metrics;
   ``fit(model, config, trial)`` gets the trial too, to report intermediate metrics for early stopping
   (``trial.report`` / ``trial.should_prune``);
5. the remaining probes measure the trained model (not a model the pruner stopped: its trial ends
   with what it reported), and the derived probes compute their final metrics. The probes of step 2
   measure it again when ``fit`` returned another model than the one built (a quantized copy, a
   wrapper: what ships) or changed its layers or dtypes in place (``quantize_dynamic(..., inplace=True)``,
   ``half()``, pruning), and :class:`~moo_hpo.objectives.ModelSize` always (cheap): the metrics recorded are
   the trained model's, the earlier ones decided the skip only (which is made on the model as built: give it
   ``moo_hpo_precision`` when ``fit`` quantizes, so that the skip uses the deployed size).

Without ``build``, ``fn(config)`` returns a model, which every probe then measures, or a metrics mapping (used as
is) when the only probes are derived ones; a mapping beside probes that measure a model fails the trial with what to
return (they would measure nothing). A probe that fails raises :class:`~moo_hpo.ProbeError`; the trial is recorded
as failed with the probe's name and message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from moo_hpo.constraints import Constraint
from moo_hpo.exceptions import ConfigError, ProbeError
from moo_hpo.judged_checks import judged_figures, note_misjudged
from moo_hpo.execution.executors import given_the_trial, trial_by_keyword
from moo_hpo.objectives.base import Probe, checked_measurement, is_unfitted_estimator, kept_as_it_was
from moo_hpo.trial import Result

__all__ = ["ProbePipeline", "Skipped", "takes_trial_at"]

logger = logging.getLogger("moo_hpo")


@dataclass
class Skipped:
    """A candidate stopped before training: a pre-training metric broke a hard constraint."""

    metrics: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def _note_unfitted(probes: Sequence[Probe], model: Any, noted: set[str]) -> None:
    """Log once per probe of the user's that measures a scikit-learn estimator before ``fit``: it has no fitted
    parameters yet, so a size or a prediction measured then is not the trained model's (the built-in size and
    latency probes wait for ``fit`` on such a model; a probe of hyperparameters may rightly not)."""
    from moo_hpo.objectives.base import StructureProbe

    mine = [p for p in probes if not isinstance(p, StructureProbe) and not getattr(p, "fits_its_own_clones", False)
            and p.name not in noted]
    if not mine or not is_unfitted_estimator(model):
        return
    for p in mine:
        noted.add(p.name)
        logger.warning(
            "probe %r (needs_training=False) measures the %s before fit: it has no fitted parameters yet, so its "
            "size or predictions are not the trained model's; give the probe needs_training=True unless it reads "
            "hyperparameters only (logged once per process that runs trials)", p.name, type(model).__name__,
        )


def _timed_metrics(probes: Sequence[Probe]) -> set[str]:
    """The metrics of ``probes`` that time the model as it runs (latency, energy): noisy, and a quantized model's own."""
    from moo_hpo.objectives.energy import Energy
    from moo_hpo.objectives.latency import Latency

    return {m for p in probes if isinstance(p, (Latency, Energy)) for m in p.metrics}


def _carry_threshold(built: Any, model: Any, noted: set[str]) -> None:
    """A threshold set on the built model (``moo_hpo_threshold``, a searched parameter) goes with the model ``fit``
    returned in its place (a ``CalibratedClassifierCV`` around it, say), unless that one carries its own: without it
    the probes would use their own threshold and the searched one would change nothing. Logged once per process."""
    threshold = getattr(built, "moo_hpo_threshold", None)
    if model is built or threshold is None or getattr(model, "moo_hpo_threshold", None) is not None:
        return
    try:
        model.moo_hpo_threshold = threshold
    except (AttributeError, TypeError):  # an object that takes no attributes: the probes' own threshold applies
        logger.warning("fit returned a %s, which takes no moo_hpo_threshold: the threshold %s set on the built model "
                       "is not applied by the probes", type(model).__name__, threshold)
        return
    if ":carried" not in noted:
        noted.add(":carried")
        logger.warning("fit returned another model (%s) than build made; the built model's moo_hpo_threshold=%s goes "
                       "with it, and the probes apply it (set model.moo_hpo_threshold on the returned model to choose; "
                       "logged once per process that runs trials)", type(model).__name__, threshold)


def _note_threshold_on_different_labels(probes: Sequence[Probe], model: Any, noted: set[str]) -> None:
    """Log once per process when a model carries its own decision threshold (``moo_hpo_threshold``) and the probes
    that apply it count different labels as positive: each applies it to its own label's probability, so an accuracy
    and a gap then describe two classifiers."""
    if ":threshold" in noted or getattr(model, "moo_hpo_threshold", None) is None:
        return
    from moo_hpo.execution.probe_checks import different_positive_labels

    said = different_positive_labels(probes)
    if said:
        noted.add(":threshold")
        logger.warning(
            "the model carries moo_hpo_threshold=%s, which each probe applies to the probability of the label it "
            "counts as positive, and the probes count different ones (%s): their figures describe two classifiers "
            "(an accuracy and a fairness gap of two models); give each the same pos_label= (logged once per process "
            "that runs trials)", model.moo_hpo_threshold, said,
        )


def _collect(probe: Probe, compute: Callable[[], Any], metrics: dict[str, float], extra: dict[str, Any]) -> None:
    """Add what ``compute`` returns (a probe's :class:`~moo_hpo.objectives.Measurement`) to ``metrics`` and ``extra``.

    Raises:
        ProbeError: naming the probe, for any error it raised.
    """
    try:
        m = compute()
    except ProbeError as exc:
        raise ProbeError(f"probe {probe.name!r} failed: {exc}") from exc
    except Exception as exc:  # noqa: BLE001
        raise ProbeError(f"probe {probe.name!r} raised {type(exc).__name__}: {exc}") from exc
    if _measures_in_user_code(probe):  # a probe of the user's: held to what it declares
        m = checked_measurement(probe, m)
    metrics.update(m)
    extra.update(getattr(m, "extra", {}))


def _measures_in_user_code(probe: Probe) -> bool:
    """Whether the probe's measuring is the user's code (a ``measure``, ``derive`` or ``from_meter`` written outside
    moo_hpo): a subclass of one of moo_hpo's probes that keeps its measuring returns what that probe returns (a
    model without parameter arrays has no ``param_count``), and is not held to every metric it declares."""
    methods = [getattr(type(probe), name, None) for name in ("measure", "derive", "from_meter")]
    return any(m is not None and not getattr(m, "__module__", "moo_hpo.").startswith("moo_hpo.") for m in methods)


def _is_data(value: Any) -> bool:
    """A tensor or a NumPy array or number (a loss returned by mistake): data, not a model."""
    import sys

    import numpy as np

    torch = sys.modules.get("torch")
    return isinstance(value, (np.ndarray, np.generic)) or (torch is not None and isinstance(value, torch.Tensor))


def _torch_shape(model: Any) -> tuple[Any, ...] | None:
    """A torch module's layers (their types) and its saved tensors' names, dtypes and shapes, to tell whether ``fit``
    changed the model in place (quantized, cast, pruned or slimmed it: layers cut to fewer channels); None for another
    model."""
    from moo_hpo.objectives.base import is_torch_module

    if not is_torch_module(model):
        return None
    layers = tuple((name, type(m)) for name, m in model.named_modules())
    try:
        tensors = tuple((k, getattr(v, "dtype", type(v)), tuple(getattr(v, "shape", ()))) for k, v in model.state_dict().items())
    except Exception:  # noqa: BLE001 - a module whose state cannot be read: its layers alone
        tensors = ()
    return layers + tensors


def _names_trial(build: Callable[..., Any]) -> bool:
    """Whether ``build`` takes the trial: a second positional parameter named ``trial`` or without a default
    (``build(config, t)``), or a keyword-only ``trial`` (stricter than ``fit``'s rule: ``build(config, device=None)``
    keeps its ``device``)."""
    import inspect

    try:
        params = list(inspect.signature(build).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 2 and (positional[1].name == "trial" or positional[1].default is inspect.Parameter.empty):
        return True  # named so, or required: nothing else is given there
    return trial_by_keyword(build)


def _with_trial(fn: Callable[..., Any], called: str, trial: Any, *args: Any) -> Any:
    """``fn(*args, trial)``; a type error that shows the trial was used for something else names the parameter."""
    try:
        return fn(*args, trial)
    except Exception as exc:
        given_the_trial(exc, fn, len(args), called)  # its message, hinted where it applies
        raise


def takes_trial_at(fn: Callable[..., Any], index: int) -> bool:
    """Whether ``fn``'s positional parameter at ``index`` is for the trial: one named ``trial``, one without a default
    or one that defaults to None (``fit(model, config, verbose=False)`` keeps its ``verbose``); or a keyword-only
    ``trial``."""
    import inspect

    if trial_by_keyword(fn):
        return True
    try:
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    if len(params) <= index:
        return False
    default = params[index].default
    return params[index].name == "trial" or default is inspect.Parameter.empty or default is None


def check_probes(probes: Sequence[Probe]) -> None:
    """Refuse what is not a probe, a probe whose metrics are not a tuple of names, and two probes that would record
    under one name: a metric, or the stored data of a ``FairnessGap`` or ``CrossValidated`` (the second would
    overwrite the first's per-group tables in silence).

    Args:
        probes: the probes given to ``optimize``.

    Raises:
        ConfigError: naming the probes, and how to keep both (a prefix).
    """
    from moo_hpo.objectives.accuracy import CrossValidated
    from moo_hpo.objectives.fairness import FairnessGap

    storing = [p.name for p in probes if isinstance(p, (FairnessGap, CrossValidated))]
    twice = sorted({n for n in storing if storing.count(n) > 1})
    if twice:
        raise ConfigError(f"two probes store their data as {twice[0]!r}: the second would overwrite the first's (a "
                          "FairnessGap's per-group tables); give one of them a prefix (prefix='race' names its metrics "
                          "'race_...' and its data 'race_fairness')")
    seen: dict[str, str] = {}
    for p in probes:
        if not isinstance(p, Probe):
            raise ConfigError(f"probes must be moo_hpo probes (mh.objectives.*, or @mh.objectives.probe); received {p!r}")
        if isinstance(p.metrics, (str, bytes)) or not all(isinstance(m, str) and m for m in p.metrics):
            raise ConfigError(f"probe {p.name!r}: metrics must be a tuple of metric names, e.g. ('sparsity',); "
                              f"received {p.metrics!r}")
        for m in p.metrics:
            if m in seen:
                hint = (" (to record both, give one of them a prefix: prefix='sex' names its metrics 'sex_...')"
                        if hasattr(p, "prefix") else "")
                raise ConfigError(f"metric {m!r} is provided by two probes ({seen[m]!r} and {p.name!r}); expected one{hint}")
            seen[m] = p.name


class ProbePipeline:
    """The callable a study runs per trial when probes are given (see the module docstring)."""

    def __init__(
        self,
        fit: Callable[..., Any],
        build: Callable[[dict[str, Any]], Any] | None,
        probes: Sequence[Probe],
        hard_constraints: Sequence[Constraint],
    ) -> None:
        if not callable(fit):
            raise ConfigError(f"expected a callable fit/objective; received {fit!r}")
        if build is not None and not callable(build):
            raise ConfigError(f"build must be callable (config -> untrained model); received {build!r}")
        self.fit, self.build = fit, build
        self.probes = list(probes)
        check_probes(self.probes)
        self.hard = list(hard_constraints)
        self._noted: set[str] = set()  # what was logged once already: probes measuring an unfitted estimator, ":threshold"
        #: probes computed from the others' metrics (:class:`~moo_hpo.objectives.DeviceFit`), and those that measure
        self.derived = [p for p in self.probes if getattr(p, "derived", False)]
        self.measuring = [p for p in self.probes if p not in self.derived]

    def _derive(self, metrics: dict[str, float], extra: dict[str, Any], final: bool) -> None:
        """Add the derived probes' metrics: before training from what is measured so far (to skip on), then final."""
        for p in self.derived:
            _collect(p, lambda p=p: p.derive(metrics, final=final), metrics, extra)  # type: ignore[attr-defined]

    @staticmethod
    def _measure(probes: Sequence[Probe], model: Any, metrics: dict[str, float], extra: dict[str, Any]) -> None:
        def measured(p: Probe) -> Any:
            with kept_as_it_was(model):  # a probe of the user's may switch it to eval mode or move it too
                return p.measure(model)  # type: ignore[attr-defined]

        for p in probes:
            _collect(p, lambda p=p: measured(p), metrics, extra)

    @staticmethod
    def _enter_meter(stack: ExitStack, probe: Probe) -> Any:
        """Start a probe's meter around ``fit`` (a :class:`~moo_hpo.objectives.TrainingEnergy`'s)."""
        try:
            return stack.enter_context(probe.meter())  # type: ignore[attr-defined]
        except ProbeError as exc:
            raise ProbeError(f"probe {probe.name!r} failed: {exc}") from exc

    def _check_no_probe_metric(self, returned: Mapping[str, Any], probes: Sequence[Probe] | None = None) -> None:
        """Refuse a metric that ``fit`` returns and a probe measures too (one of them would win in silence).

        Raises:
            ConfigError: naming the metric and the probe.
        """
        for p in self.probes if probes is None else probes:
            both = [m for m in returned if m in p.metrics]
            if both:
                raise ConfigError(
                    f"fit returned {both}, which the probe {p.name!r} measures too; return another name or leave "
                    "the probe out"
                )

    def __call__(self, config: dict[str, Any], trial: Any = None) -> Result | Skipped | Mapping[str, float]:
        metrics: dict[str, float] = {}
        extra: dict[str, Any] = {}
        with_trial = trial is not None and takes_trial_at(self.fit, 1 if self.build is None else 2)
        trial_kw = {"trial": trial} if with_trial and trial_by_keyword(self.fit) else {}  # fit(..., *, trial)
        if self.build is None:
            out = (self.fit(config, **trial_kw) if trial_kw
                   else _with_trial(self.fit, "fit", trial, config) if with_trial else self.fit(config))
            if isinstance(out, (Mapping, Result)) and self.measuring and (trial is None or not trial.should_prune()):
                names = [p.name for p in self.measuring]
                raise ConfigError(
                    f"the probes {names} measure a model, but the objective returned metrics "
                    f"({sorted(out.metrics if isinstance(out, Result) else out)!r:.200}), so they would measure nothing: "
                    "return the trained model for them to measure (they record its metrics), or pass "
                    "build=config -> untrained model and fit=(model, config) -> trained model"
                )
            if isinstance(out, (Mapping, Result)) and self.derived:  # derived from the metrics it returned
                returned = Result(dict(out.metrics), dict(out.extra)) if isinstance(out, Result) else Result(dict(out), {})
                self._check_no_probe_metric(returned.metrics, self.derived)
                if trial is None or not trial.should_prune():
                    self._derive(returned.metrics, returned.extra, final=True)
                return returned
            if isinstance(out, (Mapping, Result)) or out is None:
                return out
            if trial is not None and trial.should_prune():  # stopped early: no point measuring it
                return Result(metrics, extra)
            self._measure(self.measuring, out, metrics, extra)
            self._derive(metrics, extra, final=True)
            return Result(metrics, extra)
        build_trial = trial is not None and _names_trial(self.build)  # build(config, trial): trial.seed, say
        model = (self.build(config, trial=trial) if build_trial and trial_by_keyword(self.build)
                 else _with_trial(self.build, "build", trial, config) if build_trial else self.build(config))
        if model is None:  # a build that forgot to return it: no probe could measure before training
            raise ConfigError("build(config) must return the untrained model (a torch module or a scikit-learn "
                              "estimator) that fit trains; received None")
        if isinstance(model, type):
            raise ConfigError(f"build(config) must return the untrained model that fit trains; received the class "
                              f"{model.__name__} itself: return {model.__name__}(...)")
        _note_threshold_on_different_labels(self.measuring, model, self._noted)
        before = [p for p in self.measuring if not p.needs_training_for(model)]  # per model type: see Probe
        _note_unfitted(before, model, self._noted)
        self._measure(before, model, metrics, extra)
        self._derive(metrics, extra, final=False)
        broken = [c for c in self.hard if c.name in metrics and not c.is_satisfied(metrics[c.name])]
        if broken:
            from moo_hpo.objectives.device_fit import DeviceFit

            # a device's excess names the budgets it breaks: "device_excess=2 breaks ... (mcu: size_kb 48.09 > 16)"
            over = {m: p.over_budget(metrics) for p in self.derived if isinstance(p, DeviceFit) for m in p.metrics}
            reason = "; ".join(f"{c.name}={metrics[c.name]:.4g} breaks {c.describe()}" + (
                " (" + "; ".join(f"{d}: {m} {v:.4g} > {b:g}" for d, m, v, b in over[c.name]) + ")" if over.get(c.name) else "")
                for c in broken)
            declared = getattr(model, "moo_hpo_precision", None)
            if declared not in (None, "fp32"):  # sizes count at the declared precision; a latency is the built model's own
                run = _timed_metrics(before)  # the model as it runs
                timed = [c.name for c in broken if c.name in run]  # a device's excess: the timed budgets it breaks
                timed += [m for c in broken for m in dict.fromkeys(m for _, m, _, _ in over.get(c.name, [])) if m in run]
                if timed:
                    reason += (f" ({', '.join(dict.fromkeys(timed))} measured on the model as built, before fit: its "
                               f"moo_hpo_precision={declared!r} counts in sizes only; a model quantized in fit may run "
                               "faster than this)")
            return Skipped(metrics, extra, reason)
        judged = judged_figures(self.hard, self.derived, metrics)
        meters = [p for p in self.probes if getattr(p, "measures_training", False)]
        shape = _torch_shape(model) if before else None  # quantizing or casting in place shows in it
        with ExitStack() as stack:
            running = [(p, self._enter_meter(stack, p)) for p in meters]
            trained = (self.fit(model, config, **trial_kw) if trial_kw
                       else _with_trial(self.fit, "fit", trial, model, config) if with_trial else self.fit(model, config))
        for p, meter in running:
            m = p.from_meter(meter)  # type: ignore[attr-defined]
            metrics.update(m)
            extra.update(m.extra)
        if isinstance(trained, (Result, Mapping)):
            returned = trained.metrics if isinstance(trained, Result) else trained
            self._check_no_probe_metric(returned)
            metrics.update(returned)
            if isinstance(trained, Result):
                extra.update(trained.extra)
        built = model
        if isinstance(trained, (list, tuple, str, bytes, int, float)) or _is_data(trained):
            kinds = [type(v).__name__ for v in trained[:4]] + (["..."] if len(trained) > 4 else []) if isinstance(
                trained, (list, tuple)) else []
            got = (f"a {type(trained).__name__} of ({', '.join(kinds)})" if isinstance(trained, (list, tuple))
                   else f"{type(trained).__name__} ({trained!r:.100})")
            raise ConfigError(f"fit returned {got}; expected the trained model, None (it trained the model in place), a "
                              "mapping of metrics, or mh.Result(metrics, extra) for metrics and extra data")
        if trained is not None and not isinstance(trained, (Result, Mapping)):
            model = trained
            _carry_threshold(built, model, self._noted)
        if trial is not None and trial.should_prune():  # stopped early: no point measuring it
            return Result(metrics, extra)
        _note_threshold_on_different_labels(self.measuring, model, self._noted)  # fit may have set it
        # measured again on the trained model: the probes measured before training, when fit returned another model (a
        # quantized copy: its size and latency are what ships) or changed this one's layers or dtypes in place
        # (quantize_dynamic(..., inplace=True), half()), and ModelSize always (cheap; pruning in place shows)
        from moo_hpo.objectives.size import ModelSize

        changed = model is not built or (bool(before) and _torch_shape(model) != shape)
        again = [p for p in before if changed or isinstance(p, ModelSize)]
        self._measure(again + [p for p in self.measuring if p not in before and p not in meters], model, metrics, extra)
        self._derive(metrics, extra, final=True)
        timed = _timed_metrics(before)
        retimed = bool(before) and _torch_shape(model) != shape  # layers or dtypes changed: timings may differ
        note_misjudged(judged, metrics, timed, retimed, self._noted)
        return Result(metrics, extra)
