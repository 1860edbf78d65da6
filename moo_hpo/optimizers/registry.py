"""Optimizer names and how ``"auto"`` chooses one.

Optimizers are imported only when used, so ``import moo_hpo`` stays light.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.optimizers.base import ENQUEUED, Optimizer, option_names, unknown_options_message
from moo_hpo.problem import Problem

__all__ = [
    "AUTO_LARGE_BUDGET", "AUTO_TIME_ALLOWANCE", "AUTO_TIME_SHARE", "OPTIMIZERS", "auto_options", "choose_auto",
    "is_registered", "known_params", "make_optimizer",
]

logger = logging.getLogger("moo_hpo")

#: name -> "module:Class"
OPTIMIZERS: dict[str, str] = {
    "random": "moo_hpo.optimizers.sampling:RandomSearch",
    "sobol": "moo_hpo.optimizers.sampling:SobolSearch",
    "nsga2": "moo_hpo.optimizers.evolutionary:NSGA2",
    "nsga3": "moo_hpo.optimizers.evolutionary:NSGA3",
    "spea2": "moo_hpo.optimizers.evolutionary:SPEA2",
    "ehvi": "moo_hpo.optimizers.bayesian:EHVI",
    "parego": "moo_hpo.optimizers.bayesian:ParEGO",
    "cei": "moo_hpo.optimizers.bayesian:ConstrainedEI",
}

#: Budgets above this many trials count as large: evolutionary search pays off there.
AUTO_LARGE_BUDGET = 300
#: The share of a study's time ``"auto"``'s Bayesian optimizers may spend proposing (their ``time_share``).
AUTO_TIME_SHARE = 0.2
#: Seconds of proposing ``"auto"``'s Bayesian optimizers may spend beyond their time share (their
#: ``time_allowance``): a minute, so a study of quick trials still gets its model steps, while a long study's
#: proposing stays within the share. On the defaults suite's instant problems the share alone left ``auto``
#: without model steps, ahead of Sobol search on only 9 of 13 (docs/lab/2026-12-05-defaults-suite.md).
AUTO_TIME_ALLOWANCE = 60.0
_MODEL_BASED = ("ehvi", "parego", "cei")


def make_optimizer(spec: str | Optimizer, params: dict[str, Any] | None = None) -> Optimizer:
    """Build an optimizer from a name (with constructor arguments) or pass an instance through.

    Args:
        spec: a registered name (see :data:`OPTIMIZERS`) or an :class:`Optimizer`.
        params: constructor arguments for a name.

    Raises:
        ConfigError: for an unknown name, unknown options, or something that is not an optimizer.
    """
    if isinstance(spec, Optimizer):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"optimizer must be a name or an Optimizer instance; received {spec!r}")
    key = spec.lower()
    if key == "auto":
        raise ConfigError(
            f"'auto' is chosen by the study once it knows its budget (mh.Study(..., optimizer='auto')); make_optimizer "
            f"builds one of {sorted(OPTIMIZERS)}"
        )
    if key not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {spec!r}; expected 'auto' or one of {sorted(OPTIMIZERS)}")
    cls, accepted = _class_and_options(key)
    params = dict(params or {})
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(unknown_options_message(f"optimizer {spec!r}", accepted, unknown))
    try:
        return cls(**params)
    except TypeError as exc:  # a value of the wrong kind that the constructor did not check itself
        raise ConfigError(f"optimizer {spec!r}: {exc}") from None


def check_own_name(optimizer: Optimizer) -> None:
    """Refuse an optimizer of the user's named as one of moo_hpo's: a study stores the name, and reopened without
    the instance it would rebuild moo_hpo's optimizer of that name in its place (a subclass of that optimizer, a
    variant of it, keeps the name).

    Raises:
        ConfigError: naming the class and the name it takes.
    """
    from moo_hpo.robust import REEVALUATE

    name = str(getattr(optimizer, "name", "")).lower()
    if name in ("auto", REEVALUATE, ENQUEUED):  # what moo_hpo records as a trial's source besides its optimizers
        raise ConfigError(f"optimizer {type(optimizer).__name__} is named {optimizer.name!r}, a name moo_hpo gives trials "
                          "it proposes itself; give yours a name of its own (class attribute name = '...')")
    if name in OPTIMIZERS and not isinstance(optimizer, _class_and_options(name)[0]):
        raise ConfigError(f"optimizer {type(optimizer).__name__} is named {optimizer.name!r}, the name of moo_hpo's "
                          f"{_class_and_options(name)[0].__name__}: a reopened study would rebuild that one in its place; "
                          "give yours a name of its own (class attribute name = '...')")


def _class_and_options(key: str) -> tuple[type[Optimizer], list[str]]:
    """The optimizer class registered as ``key`` (imported now) and its constructor's option names."""
    module, name = OPTIMIZERS[key].split(":")
    cls = getattr(importlib.import_module(module), name)
    return cls, option_names(cls)


def is_registered(name: str) -> bool:
    """Whether ``name`` is one of moo_hpo's optimizers (an optimizer of the user's is not)."""
    return isinstance(name, str) and name.lower() in OPTIMIZERS


def known_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The stored options that optimizer ``name`` still takes; options a later moo_hpo removed are dropped
    with a warning, so a study stored before resumes."""
    if name.lower() not in OPTIMIZERS:
        return params
    _, accepted = _class_and_options(name.lower())
    dropped = sorted(set(params) - set(accepted))
    if dropped:
        logger.warning("the stored optimizer %r has options this moo_hpo no longer takes: %s; resuming without them", name, dropped)
    return {k: v for k, v in params.items() if k in accepted}


def auto_options(name: str) -> dict[str, Any]:
    """The options ``"auto"`` gives the optimizer it chose: a Bayesian one keeps its own time under
    :data:`AUTO_TIME_SHARE` of the study's time (its ``time_share``), whatever a trial costs, beyond a first
    :data:`AUTO_TIME_ALLOWANCE` seconds (its ``time_allowance``)."""
    return {"time_share": AUTO_TIME_SHARE, "time_allowance": AUTO_TIME_ALLOWANCE} if name in _MODEL_BASED else {}


def choose_auto(problem: Problem) -> tuple[str, str]:
    """The optimizer ``"auto"`` picks for a problem, and why.

    The rule:

    * budget unknown, or larger than :data:`AUTO_LARGE_BUDGET` trials: evolutionary search, which scales
      to any number of cheap trials with a flat overhead per trial: ``nsga2`` for one or two objectives,
      ``nsga3`` for three or more (its reference directions keep the population spread over a front
      surface, where NSGA-II's crowding distance loses it: DTLZ2 with 3 objectives, 3,000 trials, median
      hypervolume 0.708 vs 0.678, with 4 objectives, 1,000 trials, 0.573 vs 0.358, 5 seeds each,
      ``docs/lab/2026-12-05-auto-nsga3.md``);
    * otherwise, for expensive trials where sample efficiency decides: ``cei`` for one objective,
      ``ehvi`` for two to four objectives, ``parego`` for five or more (EHVI's box decompositions
      grow too fast beyond four). These keep their own time under :data:`AUTO_TIME_SHARE` of the study's
      beyond a first :data:`AUTO_TIME_ALLOWANCE` seconds (:func:`auto_options`): full model steps when the trials' time has paid for them, cheaper steps from
      the last fitted model in between, so short trials are not outweighed by proposing.

    Returns:
        ``(name, reason)``.
    """
    budget, m = problem.budget, problem.n_objectives
    if budget is None or budget > AUTO_LARGE_BUDGET:
        size = "budget unknown" if budget is None else f"budget of {budget} trials is large (> {AUTO_LARGE_BUDGET})"
        if m >= 3:
            return "nsga3", f"{size}, {m} objectives: evolutionary search with reference directions (NSGA-III)"
        return "nsga2", f"{size}: evolutionary search scales to any number of trials"
    from moo_hpo.optimizers.bayesian.defaults import initial_design_size

    design = f" after a Sobol design of {initial_design_size(problem.space.dim, budget)} trials"
    share = (f"; proposing kept under {AUTO_TIME_SHARE:.0%} of the study's time beyond its first {AUTO_TIME_ALLOWANCE:.0f} s"
             " (full model steps as trial time pays for them, cheaper steps from the last fit between)")
    if m == 1:
        return "cei", f"budget of {budget} trials, one objective: constrained expected improvement{design}{share}"
    if m <= 4:
        return "ehvi", f"budget of {budget} trials, {m} objectives: expected hypervolume improvement{design}{share}"
    return "parego", f"budget of {budget} trials, {m} objectives (> 4): ParEGO scalarizations{design}{share}"


