"""Early stopping across objectives: pruners stop the trials that cannot reach the front.

An objective reports intermediate metrics with ``trial.report(step, metrics)`` and asks
``trial.should_prune()``; the study's pruner answers from every trial's reports so far. Pruned trials keep
their reports and last metrics, and never enter the front or the hypervolume.

* :class:`MOASHA`: multi-objective asynchronous successive halving (the default choice);
* :class:`Hyperband`: brackets of MOASHA that differ in how early they judge;
* :class:`DominatedPruner`: the simple rule, stop when clearly dominated at the same step.
"""

from __future__ import annotations

from moo_hpo.pruners.asha import MOASHA
from moo_hpo.pruners.base import Decision, Pruner
from moo_hpo.pruners.dominated import DominatedPruner
from moo_hpo.pruners.hyperband import Hyperband

from typing import Any

from moo_hpo.exceptions import ConfigError

__all__ = ["MOASHA", "PRUNERS", "Decision", "DominatedPruner", "Hyperband", "Pruner", "make_pruner"]

#: name -> pruner class (the names a study file and the stored study use)
PRUNERS: dict[str, type[Pruner]] = {"moasha": MOASHA, "hyperband": Hyperband, "dominated": DominatedPruner}


def make_pruner(name: str, params: dict[str, Any] | None = None) -> Pruner:
    """A pruner by name (``"moasha"``, ``"hyperband"``, ``"dominated"``) with its options.

    Args:
        name: the pruner's name (a key of :data:`PRUNERS`).
        params: its constructor's options (``{"max_resource": 27}``); None for the defaults.

    Returns:
        The pruner (options are checked when a study sets it up).

    Raises:
        ConfigError: for an unknown name or unknown options.
    """
    import inspect

    if name not in PRUNERS:
        raise ConfigError(f"unknown pruner {name!r}; expected one of {sorted(PRUNERS)}")
    cls = PRUNERS[name]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params or {}) - set(accepted))
    if unknown:
        from moo_hpo.optimizers.base import unknown_options_message

        raise ConfigError(unknown_options_message(f"pruner {name!r}", accepted, unknown))
    return cls(**(params or {}))
