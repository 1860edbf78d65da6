"""Whether the figures a skip before training was decided on held for the trained model.

A study with ``build=`` measures the model as built and skips, untrained, a candidate that already breaks a hard
constraint (:class:`~moo_hpo.pipeline.ProbePipeline`). When ``fit`` changes what is measured (it quantizes the model
without ``moo_hpo_precision`` saying so; ``quantize_dynamic`` leaves convolutions at fp32), that check misjudges the
candidates: :func:`note_misjudged` logs so once per metric, from what :func:`judged_figures` kept before training.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from moo_hpo.constraints import Constraint
    from moo_hpo.objectives.base import Probe

__all__ = ["JUDGED_APART", "JUDGED_APART_TIMED", "Judged", "judged_figures", "note_misjudged"]

logger = logging.getLogger("moo_hpo")


#: how far (relative) the trained model's figure may be from the one judged before training before that is said; a
#: timed one (latency, energy) further, as two timings of one model differ by their noise
JUDGED_APART = 0.1
JUDGED_APART_TIMED = 0.25


class Judged(NamedTuple):
    """A figure a skip before training was decided on (:func:`judged_figures`)."""

    before: float  #: its value on the model as built
    bound_text: str  #: the bound, for messages
    bound: float | None  #: the bound (None: a metric a device budgets, judged through the device's excess)
    upper: bool  #: an upper bound (at most)
    excess: bool = False  #: a device's excess (only its sign says something)


def judged_figures(hard: Sequence[Constraint], derived: Sequence[Probe], metrics: Mapping[str, float]) -> dict[str, Judged]:
    """The figures a skip before training is decided on: the hard constraints' metrics; for a device's excess
    (:class:`~moo_hpo.objectives.DeviceFit`), the excess itself (bound 0) and the budgeted metrics it is derived from
    (no bound of their own: several devices may budget one metric, each its own).

    Args:
        hard: the study's hard constraints.
        derived: the probes computed from the others' metrics (a ``DeviceFit`` among them).
        metrics: the built model's metrics.

    Returns:
        Metric name -> what the check judged of it.
    """
    from moo_hpo.objectives.device_fit import DeviceFit

    fits = {m: p for p in derived if isinstance(p, DeviceFit) for m in p.metrics}
    out: dict[str, Judged] = {}
    for c in hard:
        if c.name in fits and c.name in metrics:
            out[c.name] = Judged(metrics[c.name], f"{c.describe()}: some device takes it", float(c.bound), True, True)
            devices = fits[c.name].devices
            for name in dict.fromkeys(n for d in devices for n, _ in d.limits()):
                if name in metrics and name not in out:
                    budgets = ", ".join(f"{bound:g} on {d.name!r}" for d in devices for n, bound in d.limits() if n == name)
                    out[name] = Judged(metrics[name], f"{name} budgets {budgets}", None, True)
    for c in hard:  # a constraint of its own on a metric a device budgets too: its bound
        if c.name not in fits and c.name in metrics:
            out[c.name] = Judged(metrics[c.name], c.describe(), float(c.bound), c.kind == "at_most")
    return out


def note_misjudged(judged: dict[str, Judged], metrics: Mapping[str, float], timed: set[str], retimed: bool,
                   noted: set[str]) -> None:
    """Log once per metric when the figure a skip before training was decided on misjudged the trained model: ``fit``
    quantized it without ``moo_hpo_precision`` saying so (the trained model more than 10% better: skips may have
    dropped candidates that fit), or left layers at a precision it did not say (the trained model fails the bound
    it passed). A timed figure (``timed``) only when the model's layers or dtypes changed in ``fit`` (``retimed``),
    and by more than two timings' noise.

    Args:
        judged: what :func:`judged_figures` kept before training.
        metrics: the trained model's metrics.
        timed: the metrics measured by timing the model (latency, energy).
        retimed: whether ``fit`` changed the model's layers or dtypes.
        noted: the keys of what was logged already in this process (updated).
    """
    for name, j in judged.items():
        after = metrics.get(name)
        if after is None or f":judged:{name}" in noted or not (math.isfinite(j.before) and math.isfinite(after)):
            continue
        if name in timed and not retimed:
            continue
        apart = JUDGED_APART_TIMED if name in timed else JUDGED_APART
        far = abs(after - j.before) > apart * max(abs(j.before), abs(after), 1e-12)
        better = (after < j.before) == j.upper  # the trained model is further within the bound than the built one
        if better:
            warn = far and not j.excess
        else:  # it passed before training (else it was skipped): does it still?
            fails = j.bound is not None and ((after > j.bound) if j.upper else (after < j.bound))
            warn = fails and (far or name not in timed)
        if not warn:
            continue
        noted.add(f":judged:{name}")
        hint = ("it is measured on the model as it runs: let build return the model as it ships, or set the bound a "
                "little looser" if name in timed else "give the built model the precision the trained one has "
                "(model.moo_hpo_precision = 'int8' where fit quantizes; quantize_dynamic leaves convolutions at fp32), "
                "or let build return the model as it ships")
        logger.warning(
            "%s was %.4g on the model build returned, on which candidates are skipped before training, and %.4g on the "
            "model fit returned (%s): %s; %s (logged once per process that runs trials)", name, j.before, after,
            j.bound_text, "a candidate skipped for it may fit once trained" if better
            else "this one passed the check before training and fails it once trained (it trained for nothing)", hint,
        )
