"""Stopping rules for :meth:`moo_hpo.Study.optimize`, used as callbacks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from moo_hpo.exceptions import ConfigError

if TYPE_CHECKING:
    from moo_hpo.study import Study
    from moo_hpo.trial import Trial

__all__ = ["HypervolumeStagnation"]

logger = logging.getLogger("moo_hpo")


class HypervolumeStagnation:
    """Stop a study once its hypervolume improved by less than ``rel_tol`` over the last ``window`` trials.

    Pass it in ``callbacks``: ``study.optimize(fn, n_trials=500, callbacks=[mh.HypervolumeStagnation(30, 1e-3)])``.
    The hypervolume is the study's (feasible trials, frozen reference point). The rule waits for
    ``window`` finished trials after the first feasible one, so a slow start does not stop the study.

    Args:
        window: number of finished trials to look back.
        rel_tol: relative improvement below which the study stops (0.001 = 0.1%).
    """

    def __init__(self, window: int = 30, rel_tol: float = 1e-3) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigError(f"window must be a positive integer; received {window!r}")
        if not (isinstance(rel_tol, (int, float)) and rel_tol >= 0):
            raise ConfigError(f"rel_tol must be a number >= 0; received {rel_tol!r}")
        self.window = window
        self.rel_tol = rel_tol

    def __call__(self, study: Study, trial: Trial) -> None:
        if study.n_feasible == 0:
            return
        history = study.hypervolume_history()  # recomputed: stays right if the reference point froze late
        started = int(np.argmax(history > 0)) if np.any(history > 0) else len(history)
        if len(history) - started <= self.window:
            return
        before, now = history[-1 - self.window], history[-1]
        gain = (now - before) / now if now > 0 else 0.0
        if gain < self.rel_tol:
            reason = (
                f"hypervolume improved by {100 * gain:.3g}% over the last {self.window} trials "
                f"(< {100 * self.rel_tol:.3g}%): {before:.6g} -> {now:.6g}"
            )
            logger.info("stopping: %s", reason)
            study.stop(reason)
