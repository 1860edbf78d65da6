"""Running a study's trials: the executors (in this process, local worker processes) and the loop.

* :mod:`moo_hpo.execution.executors`: where a trial's objective runs (one small interface:
  ``capacity``, ``submit``, ``wait``, ``shutdown``).
* :mod:`moo_hpo.execution.loop`: :meth:`moo_hpo.Study.optimize`'s loop over ask / run / tell.
* :mod:`moo_hpo.execution.progress`: the progress display of that loop.
"""

from __future__ import annotations

from moo_hpo.execution.executors import InProcessExecutor, Outcome, ProcessExecutor, call_objective, format_exception

__all__ = ["InProcessExecutor", "Outcome", "ProcessExecutor", "call_objective", "format_exception"]
