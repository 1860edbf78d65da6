"""Running a study's trials: the executors (in this process, local worker processes) and the loop.

* :mod:`moo_hpo.execution.executors`: running one objective, and trials in this process (one small
  executor interface: ``capacity``, ``submit``, ``wait``, ``shutdown``).
* :mod:`moo_hpo.execution.workers`: trials in local worker processes (fresh interpreters).
* :mod:`moo_hpo.execution.loop`: :meth:`moo_hpo.Study.optimize`'s loop over ask / run / tell.
* :mod:`moo_hpo.execution.progress`: the progress display of that loop.
"""

from __future__ import annotations

from moo_hpo.execution.executors import InProcessExecutor, Outcome, call_objective, format_exception
from moo_hpo.execution.workers import WorkerPoolExecutor

__all__ = ["InProcessExecutor", "Outcome", "WorkerPoolExecutor", "call_objective", "format_exception"]
