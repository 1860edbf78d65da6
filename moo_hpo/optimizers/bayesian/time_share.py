"""The time share's bookkeeping: what the trials earned, what proposing cost, and the steps' first guesses.

See :mod:`moo_hpo.optimizers.bayesian.optimizers` (the *Time share* paragraph) for the rule, and
``docs/lab/2026-12-05-auto-time-share.md`` for how the steps were chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from moo_hpo.exceptions import ConfigError
from moo_hpo.values import is_number
from moo_hpo.timing import busy_seconds, proposal_seconds  # re-exported: the time share counts with these
from moo_hpo.trial import Trial

__all__ = [
    "ECONOMY_CANDIDATES",
    "ECONOMY_MC_SAMPLES",
    "MUTATION_SIGMAS",
    "FIRST_ECONOMY_STEP_GUESS",
    "FIRST_FULL_STEP_GUESS",
    "busy_seconds",
    "check_time_options",
    "proposal_seconds",
    "proposing_seconds",
]

def proposing_seconds(trials: Sequence[Trial]) -> float:
    """The proposal time of ``trials`` that the time share counts: :func:`proposal_seconds` less the one-off seconds
    a proposal spent loading BoTorch's kernel (``extra["optimizer"]["one_off_seconds"]``: building it, the first time
    on a machine, takes up to about a minute, which would otherwise use up a study's first allowance)."""
    return max(0.0, proposal_seconds(trials) - proposal_seconds(trials, key="one_off_seconds"))


#: seconds a full model step is assumed to take before one was measured
FIRST_FULL_STEP_GUESS = 1.0
#: seconds an economy step is assumed to take before one was measured
FIRST_ECONOMY_STEP_GUESS = 0.1
#: an economy step scores this many random valid configurations and as many perturbations of the front
ECONOMY_CANDIDATES = 64
#: posterior samples of an economy step's acquisition (at most the optimizer's ``mc_samples``)
ECONOMY_MC_SAMPLES = 8
#: widths (encoded unit cube) of a mutation's Gaussian step, one drawn per mutation: from a step along the
#: front to a jump across a third of the cube. On the defaults suite's 13 problems with instant trials
#: (mutations only, 5 seeds) these beat the acquisition starts' (0.02, 0.05, 0.1) on 11 and Sobol search on
#: 9 (the narrow ones: 4); docs/lab/2026-12-05-defaults-suite.md
MUTATION_SIGMAS = (0.05, 0.1, 0.2, 0.3)



def check_time_options(optimizer: str, time_share: object, time_allowance: object) -> None:
    """Check an optimizer's ``time_share`` (None, or a number between 0 and 1 exclusive) and
    ``time_allowance`` (seconds, 0 or more).

    Raises:
        ConfigError: naming the option, what it must be and what was received.
    """
    from moo_hpo.optimizers.registry import AUTO_TIME_ALLOWANCE, AUTO_TIME_SHARE

    def hint(value: object, auto: float) -> str:
        return f" (the study's optimizer='auto' gives {auto:g})" if isinstance(value, str) and value == "auto" else ""

    if time_share is not None and not (is_number(time_share) and 0 < time_share < 1):  # type: ignore[operator]
        raise ConfigError(f"{optimizer}: time_share must be a number between 0 and 1 (exclusive) or None; received "
                          f"{time_share!r}{hint(time_share, AUTO_TIME_SHARE)}")
    if not (is_number(time_allowance) and 0 <= time_allowance < math.inf):  # type: ignore[operator]
        raise ConfigError(f"{optimizer}: time_allowance must be a number of seconds, 0 or more; received "
                          f"{time_allowance!r}{hint(time_allowance, AUTO_TIME_ALLOWANCE)}")
    if time_share is None and time_allowance > 0:  # type: ignore[operator]
        import warnings

        warnings.warn(f"{optimizer}: time_allowance={time_allowance!r} has no effect: it is time beyond a time_share, and "
                      f"there is none (time_share=None: every step is a full model step, however long); give a "
                      f"time_share too (optimizer='auto' uses {AUTO_TIME_SHARE:g} and {AUTO_TIME_ALLOWANCE:g} s)",
                      UserWarning, stacklevel=4)
