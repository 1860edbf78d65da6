"""Stopping rules for :meth:`moo_hpo.Study.optimize`, used as callbacks."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from moo_hpo.analysis import HypervolumeMonitor
from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_integer, is_number

if TYPE_CHECKING:
    from moo_hpo.study import Study
    from moo_hpo.trial import Trial

__all__ = ["HypervolumeStagnation"]

logger = logging.getLogger("moo_hpo")


class HypervolumeStagnation:
    """Stop a study once its hypervolume improved by less than ``rel_tol`` over the last ``window`` trials.

    Pass it in ``callbacks``: ``study.optimize(fn, n_trials=500, callbacks=[mh.HypervolumeStagnation(30, 1e-3)])``.
    The hypervolume is the study's (feasible trials, frozen reference point). The rule waits for
    ``window`` finished trials after the first feasible one, so a slow start does not stop the study, and for
    ``window`` trials beyond the optimizer's :attr:`~moo_hpo.optimizers.Optimizer.initial_trials` (its initial design
    or first generation: NSGA-II's population, 88 for a budget of 2,000, is proposed before any result steers it).
    It is updated trial by trial (an exact computation only when a trial enters the front), so it costs
    the same at trial 5,000 as at trial 50.

    Args:
        window: number of finished trials to look back.
        rel_tol: relative improvement below which the study stops (0.001 = 0.1%).

    Raises:
        ConfigError: for a window that is not a positive integer or a negative tolerance.
    """

    def __init__(self, window: int = 30, rel_tol: float = 1e-3) -> None:
        if not is_integer(window) or window < 1:
            raise ConfigError(f"window must be a positive integer; received {window!r}")
        if not (is_number(rel_tol) and 0 <= rel_tol < float("inf")):
            raise ConfigError(f"rel_tol must be a finite number >= 0; received {rel_tol!r}")
        self.window = int(window)
        self.rel_tol = float(rel_tol)
        self._study: Study | None = None
        self._monitor: HypervolumeMonitor | None = None
        self._recent: deque[float] = deque(maxlen=self.window + 1)

    def _start(self, study: Study) -> None:
        """Track ``study`` from here on: the history so far (number order), from its first feasible trial."""
        self._study = study
        self._monitor = HypervolumeMonitor(study.problem)
        history = self._monitor.start(study.trials)
        started = next((i for i, v in enumerate(history) if v > 0), len(history))
        self._recent.clear()
        self._recent.extend(history[started:].tolist())

    def __call__(self, study: Study, trial: Trial) -> None:
        if study.n_feasible == 0 or not study.reference_point_frozen:
            return  # values before the reference point is frozen have no lasting meaning
        if self._study is not study or self._monitor is None:
            self._start(study)
        else:
            value = self._monitor.add(trial)
            if self._recent or value > 0:
                self._recent.append(value)
        if len(self._recent) <= self.window:
            return
        initial = getattr(study.optimizer, "initial_trials", 0)
        if len(study.trials) < initial + self.window:  # the window must hold trials that a result steered
            return
        before, now = self._recent[0], self._recent[-1]
        gain = (now - before) / now if now > 0 else 0.0
        if gain < self.rel_tol:
            reason = (
                f"hypervolume improved by {100 * gain:.3g}% over the last {self.window} trials "
                f"(< {100 * self.rel_tol:.3g}%): {before:.6g} -> {now:.6g}"
            )
            logger.info("stopping: %s", reason)
            study.stop(reason)
