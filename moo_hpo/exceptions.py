"""The one exception hierarchy of moo_hpo.

Every error that moo_hpo raises on purpose derives from :class:`MooHpoError`, so a caller can
catch them all at once, or one kind at a time.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "MooHpoError",
    "NoFeasibleTrialError",
    "ProbeError",
    "StorageError",
    "TrialPruned",
    "UnsupportedError",
]


class MooHpoError(Exception):
    """Base class of every error raised by moo_hpo."""


class ConfigError(MooHpoError, ValueError):
    """A study, space, objective, constraint or option is defined wrongly.

    The message says what was expected and what was received.
    """


class UnsupportedError(MooHpoError):
    """An optimizer (or another component) cannot handle what the study asks of it."""


class ProbeError(MooHpoError):
    """A probe could not measure a model; the trial that used it is recorded as failed."""


class StorageError(MooHpoError):
    """A study store cannot be opened, read or written."""


class NoFeasibleTrialError(MooHpoError):
    """No finished trial satisfies every hard constraint.

    Attributes:
        least_violating: the number of the trial whose overshoots, each relative to its bound, sum least
            (:func:`~moo_hpo.infeasibility.relative_violation`; ``to_dataframe()``'s ``violation`` column sums them
            in the metrics' own units), or None when no trial has finished at all.
    """

    def __init__(self, message: str, least_violating: int | None = None) -> None:
        super().__init__(message)
        self.least_violating = least_violating


class TrialPruned(Exception):
    """Raised by an objective to end its trial early because the study's pruner said so.

    ``if trial.should_prune(): raise mh.TrialPruned()``; returning normally after ``should_prune()``
    answered True records the trial as pruned too. Raised by the objective's own rule, before the pruner said stop,
    its message is kept: ``raise mh.TrialPruned("loss diverged")`` records ``extra["pruned"]`` = ``"the objective
    raised TrialPruned: loss diverged"``. Not a :class:`MooHpoError`: it is a signal, not an
    error, and the study records the trial with status ``pruned`` and its last reported metrics.
    """
