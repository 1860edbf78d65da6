"""Checks of the probes given to ``optimize``, before the first trial: metric names, decision thresholds and
positive labels, energy counters, CUDA devices, latency beside other trials; and, as trials run, a hard bound on
what the probes measure before training that every one of the first trials broke (:func:`note_unreachable_bound`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.user_warnings import warn

if TYPE_CHECKING:
    from moo_hpo.study import Study
    from moo_hpo.trial import Trial

__all__ = [
    "check_cuda_available",
    "check_energy_counters",
    "check_latency_alone",
    "check_metric_names",
    "check_holdouts",
    "check_sample_weights",
    "check_thresholds",
    "different_positive_labels",
    "first_finished",
    "note_unreachable_bound",
]

#: When the first this-many finished trials of a study were all skipped before training on one hard bound, optimize
#: warns that the bound may be out of reach (once; the study goes on).
SAME_BOUND_WARN = 5


def check_latency_alone(probes: Sequence[Any], n_workers: int | None) -> None:
    """Warn when CPU latency is measured while other trials train on the same cores (local workers): each
    measurement then reads high by however busy the cores are, and a budget on it skips or passes by chance."""
    from moo_hpo.objectives.latency import Latency

    cpu = [p for p in probes if isinstance(p, Latency) and not str(p.device).startswith("cuda")]
    if cpu and n_workers is not None and n_workers > 1:
        warn(
            f"the Latency probe times models on the CPU while {n_workers} workers train on the same cores: latencies "
            "read high and vary with the load; for figures to size devices by, run with n_workers=1 or measure the "
            "front's models again alone (Latency(...).measure(model))",
        )


def check_metric_names(study: Study, probes: Sequence[Any], with_build: bool = True) -> None:
    """Before trial 0: a metric the study needs that no probe provides, but one nearly does, is a typo (refused
    without ``build``; with it warned of, as ``fit`` may return it: a size in MB beside the probes' ``size_kb``); so
    is a device budget of a :class:`~moo_hpo.objectives.DeviceFit` on such a name, and (with ``build``; without it
    the objective may return the metric itself) one on a metric no probe measures is warned of. A metric the study needs
    that a built-in probe measures on the model (``energy_per_inference_j``) but none of these does, nor nearly, is
    warned of too: only the objective can return it then (``fit`` beside the probes' metrics with ``build``; without
    it, an objective that returns metrics instead of a model).

    Raises:
        ConfigError: naming the metric and the probe metric it resembles.
    """
    from moo_hpo.naming import closest_name

    from moo_hpo.objectives.size import PRECISION_BYTES, ModelSize

    provided = [m for p in probes for m in getattr(p, "metrics", ())]
    unmeasured: list[str] = []  # needed, and no probe measures them nor nearly: only the objective can return them
    near: list[str] = []  # needed, and a probe's metric is named nearly alike (warned of)
    from moo_hpo.objectives.holdout import HOLDOUT_PREFIX

    held_out = [n for n in study.problem.required_metrics if n.startswith(HOLDOUT_PREFIX) and n in provided]
    if held_out:
        warn(
            f"the study selects on {held_out}, measured on the held-out split: a model chosen on it makes those "
            f"figures as optimistic as the validation ones, and nothing is held out any more; name "
            f"{[n.removeprefix(HOLDOUT_PREFIX) for n in held_out]} instead",
        )
    for name in study.problem.required_metrics:
        if name in provided:
            continue
        precision = name.removeprefix("size_kb_")
        if precision in PRECISION_BYTES and any(isinstance(p, ModelSize) for p in probes):
            warn(  # fit may return it itself (a quantized export of the user's): not refused
                f"the study needs the metric {name!r}, which ModelSize measures only when asked for that precision: "
                f"ModelSize(precisions=[{precision!r}]); unless fit returns it, every trial trains and then fails "
                f"(the probes provide {sorted(provided)})",
            )
            continue
        able = [p for p in probes if name in _measurable(p)]
        if able:  # a probe that measures it when asked (fit may return it itself: not refused)
            probe = able[0]
            asked = [m for m in getattr(probe, "base_metrics", getattr(probe, "metrics", ()))]
            warn(
                f"the study needs the metric {name!r}, which {type(probe).__name__} measures only when asked for it: "
                f"{type(probe).__name__}(..., metrics={[*asked, name.removeprefix('holdout_').removeprefix(getattr(probe, 'prefix', ''))]!r}); unless fit returns "
                f"it, every trial trains and then fails (the probes provide {sorted(provided)})",
            )
            continue
        close = closest_name(name, provided, cutoff=0.75, abbreviation=True)
        if close and not with_build:  # the objective returns a model, which only the probes measure: a typo
            raise ConfigError(
                f"the study needs the metric {name!r}, which no probe provides; did you mean {close!r}? "
                f"(the probes provide {sorted(provided)})"
            )
        if close:  # fit may return it (a size in MB, its own validation accuracy): said, not refused
            warn(
                f"the study needs the metric {name!r}, which no probe provides; did you mean {close!r}? Unless fit "
                f"returns {name!r}, every trial trains and then fails (the probes provide {sorted(provided)})",
            )
            near.append(name)
            continue
        unmeasured.append(name)
    said = _warn_unmeasured(study, probes, provided, unmeasured, with_build) | set(near)
    _check_device_budgets(probes, provided, warn_unmeasured=with_build, said=said)


#: The metrics the built-in probes measure on the model itself, which a ``fit`` seldom returns: metric name -> the
#: probe that measures it (with its default names: ``Latency(prefix="latency")``).
MODEL_PROBE_METRICS = {
    "param_count": "ModelSize()", "param_count_nonzero": "ModelSize()", "size_kb": "ModelSize()",
    "serialized_kb": "ModelSize()",
    "peak_memory_kb": "PeakMemory(example)",
    **{f"latency_{s}_ms": "Latency(example)" for s in ("p50", "p90", "p99", "mean")},
    "energy_per_inference_j": "Energy(example)", "co2e_per_inference_g": "Energy(example, grid_g_per_kwh=...)",
    "energy_train_j": "TrainingEnergy()", "co2e_train_g": "TrainingEnergy(grid_g_per_kwh=...)",
}


def _warn_unmeasured(study: Study, probes: Sequence[Any], provided: list[str], names: list[str],
                     with_build: bool) -> set[str]:
    """Warn, before trial 0, of metrics the study needs that a built-in probe measures on the model (size, latency,
    energy: :data:`MODEL_PROBE_METRICS`) but none of the probes given: unless the objective returns them, every trial
    trains and then fails on them. Said only where probes measure something (with no probe, or only derived ones,
    the objective returns every metric, as it must). Other names (an accuracy, a loss) are what an objective returns
    beside the probes' metrics: not said.

    Args:
        study: the study (its objectives and constraints name the metrics).
        probes: the probes given to optimize.
        provided: the metrics they provide.
        names: the metrics the study needs that none of them provides, nor nearly (a typo is refused before).
        with_build: whether optimize was given ``build`` (``fit`` may return metrics beside the probes') or not (the
            objective returns either a model, which the probes measure, or the metrics themselves).

    Returns:
        The metrics warned of.
    """
    names = [n for n in names if n in MODEL_PROBE_METRICS]
    if not names or not any(not getattr(p, "derived", False) for p in probes):
        return set()
    problem = study.problem
    uses = []
    for name in names:
        where = [f"objective, {o.direction}d" for o in problem.objectives if o.name == name]
        where += [f"{'hard' if c.hard else 'soft'} constraint {c.describe()}" for c in problem.constraints if c.name == name]
        uses.append(f"{name!r} ({', '.join(where)})")
    it = "it" if len(names) == 1 else "them"
    if with_build:
        how = (f"fit must return {it} (a mapping of metric name to value, or mh.Result(metrics), once it trained the "
               "model in place), or every trial trains and then fails on the missing metric")
    else:
        how = (f"the objective must return {it} in a mapping of every metric the study needs (the probes measure only "
               "a model the objective returns, and then nothing), or every trial fails on the missing metric")
    hard = [n for n in names if any(c.name == n and c.hard for c in problem.constraints)]
    late = (f" (and a hard bound on {hard} is then judged only after training: no candidate is skipped before it)"
            if hard and with_build else "")
    add = "; ".join(f"mh.objectives.{MODEL_PROBE_METRICS[n]} measures {n!r}" for n in names)
    warn(
        f"the study needs {'; '.join(uses)}, which no probe measures (the probes provide {sorted(provided)}): {how}"
        f"{late}; to measure {it}, add the probe: {add}",
    )
    return set(names)


def _check_device_budgets(probes: Sequence[Any], provided: list[str], warn_unmeasured: bool = True,
                          said: Collection[str] = ()) -> None:
    """A :class:`~moo_hpo.objectives.DeviceFit` whose device budgets a metric no probe measures judges nothing on it
    before training (candidates only that device could take are trained) and, unless fit returns it, lets that
    device take no model: a near name is a typo, refused without ``build`` (the objective returns a model, which
    only the probes measure) and warned of with it (``fit`` may return a size in MB beside ``size_kb``); any other
    is said before trial 0 when ``warn_unmeasured`` (with ``build``: an objective without it may return the metric
    itself), unless it is in ``said`` (a metric the study needs, warned of already).

    Raises:
        ConfigError: naming the device, the metric and the probe metric it resembles.
    """
    from moo_hpo.naming import closest_name

    for fit in (p for p in probes if getattr(p, "derived", False) and hasattr(p, "devices")):
        for device in fit.devices:
            for metric, _ in device.limits():
                if metric in provided:
                    continue
                close = closest_name(metric, provided, cutoff=0.75, abbreviation=True)
                if close and not warn_unmeasured:  # the objective returns a model, which only the probes measure
                    raise ConfigError(
                        f"device {device.name!r} budgets the metric {metric!r}, which no probe provides; did you mean "
                        f"{close!r}? (the probes provide {sorted(provided)})"
                    )
                if close and metric not in said:  # fit may return it (a size in MB beside size_kb): said, not refused
                    warn(
                        f"device {device.name!r} budgets the metric {metric!r}, which no probe provides; did you mean "
                        f"{close!r}? Unless fit returns {metric!r}, DeviceFit judges nothing on it before training "
                        f"and {device.name!r} takes no model (the probes provide {sorted(provided)})",
                    )
                if close:
                    continue
                if not warn_unmeasured or metric in said:  # an objective without build may return it; or warned of
                    continue
                warn(
                    f"device {device.name!r} budgets the metric {metric!r}, which no probe measures: DeviceFit judges "
                    f"it only when fit returns it (before training it is not judged, so candidates only "
                    f"{device.name!r} could take are trained; after training, without it, {device.name!r} takes no "
                    f"model); the probes provide {sorted(provided)}",
                )


def _deciding_labels(probes: Sequence[Any]) -> list[Any]:
    """The probes that turn scores into labels: ``FairnessGap``, and an ``Accuracy`` of label metrics."""
    from moo_hpo.objectives.accuracy import NEEDS_SCORES, REGRESSION_METRICS, Accuracy
    from moo_hpo.objectives.fairness import FairnessGap

    threshold_free = {*NEEDS_SCORES, *REGRESSION_METRICS}  # scores, not labels: no threshold involved
    return [p for p in probes if isinstance(p, FairnessGap)
            or (isinstance(p, Accuracy) and not set(p.base_metrics) <= threshold_free)]


def different_positive_labels(probes: Sequence[Any]) -> str | None:
    """The probes that decide labels and the label each counts as positive (``"Accuracy 1, FairnessGap 0"``) when
    they count different ones; else None. A threshold, the probes' own or a model's ``moo_hpo_threshold``, is on the
    probability of that label: with two, it decides two classifiers."""
    labelled = _deciding_labels(probes)
    if len({_positive_label(p) for p in labelled} - {None}) < 2:
        return None
    return ", ".join(f"{type(p).__name__} {_positive_label(p)!r}" for p in labelled)


def check_thresholds(probes: Sequence[Any]) -> None:
    """Warn when the probes that turn scores into labels (``FairnessGap``, an ``Accuracy`` of label metrics) use
    different decision thresholds: their figures then describe different classifiers (a model's
    ``moo_hpo_threshold`` overrides both)."""
    labelled = _deciding_labels(probes)
    if len({p.threshold for p in labelled}) > 1:
        said = ", ".join(f"{type(p).__name__} {'its predict' if p.threshold is None else p.threshold}" for p in labelled)
        warn(
            f"the probes decide labels at different thresholds ({said}): their figures describe different classifiers "
            "(an accuracy and a fairness gap of two models) unless build sets model.moo_hpo_threshold, which "
            "overrides both; give each the same threshold=",
        )
    # the positive label matters where a threshold decides labels or f1 counts one; a model's own threshold
    # (moo_hpo_threshold) is known only once build made it: the trials' pipeline says so then
    decided = [p for p in labelled if p.threshold is not None or "f1" in getattr(p, "base_metrics", ())]
    said = different_positive_labels(probes)
    if decided and said:
        warn(
            f"the probes count different labels as positive ({said}): a threshold then decides two different "
            "classifiers, and f1 or a gap counts another outcome; give each the same pos_label=",
        )


def check_sample_weights(probes: Sequence[Any]) -> None:
    """Warn when probes that score the same rows (equal labels) weigh them differently (one weighted, one not, or two
    different weights): their figures then describe different populations (a weighted gap beside an unweighted
    accuracy). A probe with a prefix records its figures apart on purpose (a second weighting side by side): not
    compared."""
    import numpy as np

    for group in _scoring_the_same_rows([p for p in probes if hasattr(p, "sample_weight")]):
        first = group[0].sample_weight
        alike = all((p.sample_weight is None) == (first is None) and (first is None or np.array_equal(p.sample_weight, first))
                    for p in group[1:])
        if not alike:
            said = ", ".join(f"{type(p).__name__} {'unweighted' if p.sample_weight is None else 'weighted'}" for p in group)
            warn(
                f"the probes weigh the same {len(group[0].y)} rows differently ({said}): their figures describe "
                "different populations (a weighted gap beside an unweighted accuracy); give each the same sample_weight= "
                "(or a prefix= to one, to record both on purpose)",
            )


def _scoring_the_same_rows(probes: Sequence[Any], prefixed: bool = False) -> list[list[Any]]:
    """``probes`` that score rows (they have labels ``y``) grouped by equal labels: those that score the same rows.
    A probe with a prefix is left out unless ``prefixed`` (it records its figures apart, a second weighting on
    purpose; but a gap per sensitive feature, ``prefix="sex"``, is audited beside the unprefixed accuracy)."""
    import numpy as np

    groups: list[list[Any]] = []
    for p in probes:
        if not hasattr(p, "y") or (getattr(p, "prefix", "") and not prefixed):
            continue
        labels = np.asarray(p.y)
        same = next((g for g in groups if len(g[0].y) == len(labels) and np.array_equal(np.asarray(g[0].y), labels)), None)
        if same is None:
            groups.append([p])
        else:
            same.append(p)
    return groups


def check_holdouts(probes: Sequence[Any]) -> None:
    """Warn when moo_hpo's probes (``Accuracy``, ``FairnessGap``, a prefixed one too) that score the same validation
    rows (equal labels) were given different held-out splits (other rows, or other labels): their held-out figures then
    describe different data, which the fairness audit would show side by side as one model's held-out accuracy and
    gap."""
    from moo_hpo.objectives.accuracy import Accuracy
    from moo_hpo.objectives.fairness import FairnessGap

    held = [p for p in probes if isinstance(p, (Accuracy, FairnessGap)) and isinstance(getattr(p, "holdout", None), tuple)]
    for group in _scoring_the_same_rows(held, prefixed=True):
        # the audit pairs an accuracy with each gap: a gap whose split no accuracy shares is warned of (a second,
        # prefixed accuracy on a test set of its own beside one on the gap's is a measurement on purpose)
        accuracies = [p for p in group if isinstance(p, Accuracy)]
        apart = [g for g in group if isinstance(g, FairnessGap) and accuracies and not any(
            _same_data(g.holdout[1], a.holdout[1]) and _same_data(g.holdout[0], a.holdout[0]) for a in accuracies)]
        if apart:
            group = [*accuracies, *apart]
            said = ", ".join(f"{type(p).__name__}{f' {p.prefix!r}' if getattr(p, 'prefix', '') else ''} "
                             f"{len(p.holdout[1])} rows" for p in group)
            warn(
                f"the probes score the same {len(group[0].y)} validation rows but were given different held-out splits "
                f"({said}, or other labels): their held-out figures describe different data (a held-out accuracy and "
                "gap of two splits, which the fairness audit shows as one model's); give each the same holdout=",
            )


def _same_data(a: Any, b: Any) -> bool:
    """Whether two held-out arrays (or data frames) hold the same values; True where they cannot be compared."""
    import numpy as np

    if a is b:
        return True
    if type(a) is type(b) and hasattr(a, "equals"):  # pandas: missing values compare equal
        return bool(a.equals(b))
    try:
        x, y = np.asarray(a), np.asarray(b)
        if x.shape != y.shape:
            return False
        try:
            return bool(np.array_equal(x, y, equal_nan=True))
        except TypeError:  # values that cannot be NaN (text)
            return bool(np.array_equal(x, y))
    except Exception:  # noqa: BLE001 - values numpy cannot compare: not told apart
        return True


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


def check_cuda_available(probes: Sequence[Any]) -> None:
    """Refuse, before the first trial, a probe set to measure on a CUDA device (``Latency(x, device="cuda")``,
    ``Energy(x, device="cuda", watts=...)``) on a machine where torch sees no CUDA GPU, rather than failing every
    trial (energy probes without a counter: see :func:`check_energy_counters`; ``TrainingEnergy`` runs nothing itself).

    Raises:
        ConfigError: naming the probe and its device.
    """
    from moo_hpo.objectives.energy import Energy, TrainingEnergy

    cuda = [p for p in probes if not isinstance(p, TrainingEnergy) and not (isinstance(p, Energy) and p.watts is None)
            and isinstance(getattr(p, "device", None), str) and p.device.startswith("cuda")]
    if not cuda:
        return
    from moo_hpo.optimizers.bayesian.libraries import load

    load()  # torch whole, a Ctrl-C during its import held until it has loaded
    import torch

    if not torch.cuda.is_available():
        p = cuda[0]
        raise ConfigError(f"probe {p.name!r} measures on device={p.device!r}, but torch sees no CUDA GPU on this machine "
                          "(torch.cuda.is_available() is False): run the study where the GPU is, or measure on "
                          "device='cpu'")


def check_energy_counters(study: Study, probes: Sequence[Any]) -> None:
    """Refuse, before the first trial, an energy probe that cannot measure on this machine (no NVML or RAPL counter,
    no ``watts=`` estimate), rather than failing every trial; and NaN energies the study would need.

    Raises:
        ConfigError: naming the probe, the device and why there is no counter.
    """
    from moo_hpo.objectives.energy import Energy, TrainingEnergy, estimate_arguments, unavailable_reason

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
                f"(on_unavailable='nan'), which the study's {needed} cannot take: pass {estimate_arguments(p.device)} "
                "for a labelled estimate, or leave energy out of the objectives and constraints"
            )
        nan_instead = isinstance(p, Energy) and not needed  # NaN only helps where nothing needs the energy
        raise ConfigError(
            f"probe {p.name!r} has no energy counter for {p.device!r} on this machine ({why}): pass "
            f"{estimate_arguments(p.device)} for a labelled estimate"
            + (", or on_unavailable='nan' to record NaN" if nan_instead else "")
        )


def _measurable(probe: Any) -> set[str]:
    """The metrics a probe can measure when asked (``measurable``), held-out ones too when it has a held-out split."""
    names = set(getattr(probe, "measurable", ()))
    if getattr(probe, "holdout", None) is not None:
        from moo_hpo.objectives.holdout import holdout_name

        names |= {holdout_name(m) for m in names}
    return names


def first_finished(trials: Sequence[Trial], k: int) -> list[Trial]:
    """The first ``k`` trials to finish (by when they were told; running and interrupted ones left out): the trials
    the study's early checks judge, however many were told at once (several end while an optimizer proposes)."""
    from moo_hpo.trial import TrialStatus

    finished = [t for t in trials if t.status not in (TrialStatus.RUNNING, TrialStatus.INTERRUPTED)]
    return sorted(finished, key=lambda t: (t.finished_at or 0.0, t.number))[:k]


def note_unreachable_bound(study: Study, trial: Trial) -> None:
    """Warn, once, when the study's first :data:`SAME_BOUND_WARN` finished trials were all skipped before training
    (``infeasible_skipped``) on one hard bound: a budget no candidate of the search space meets (a latency below what
    any model takes) leaves the study without a feasible trial, however long it runs. The study goes on (the
    optimizer may yet find the region within the bound); the warning names the bound and the best value measured.

    Called by optimize after each trial skipped before training (``trial``); it judges when ``trial`` is one of the
    first trials to finish (at the last of them).
    """
    from moo_hpo.analysis import bounds_broken_by_all
    from moo_hpo.trial import TrialStatus

    finished = first_finished(study.trials, SAME_BOUND_WARN)
    if len(finished) < SAME_BOUND_WARN or trial.number != finished[-1].number:  # once: at the fifth to finish
        return
    if any(t.status is not TrialStatus.INFEASIBLE_SKIPPED for t in finished):
        return
    shared = bounds_broken_by_all(study.problem, finished)
    if not shared:
        return
    said = []
    for c in shared:
        best = (min if c.kind == "at_most" else max)(finished, key=lambda t, c=c: t.metrics[c.name])
        said.append(f"{c.describe()} (the best measured: {best.metrics[c.name]:.4g}, trial #{best.number})")
    it = "it" if len(shared) == 1 else "them"
    warn(
        f"the first {SAME_BOUND_WARN} trials were all skipped before training, each breaking {' and '.join(said)}: "
        f"the bound{'' if len(shared) == 1 else 's'} may be out of reach of this search space, and then no trial "
        f"becomes feasible however long the study runs; loosen {it}, or widen the space towards candidates within {it} "
        "(the study goes on)",
    )
