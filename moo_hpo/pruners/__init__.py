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

__all__ = ["MOASHA", "Decision", "DominatedPruner", "Hyperband", "Pruner"]
