"""The defaults of the Bayesian optimizers, in one table.

Each row is one (optimizer, exact objectives, number of objectives) case (exact: told ``noiseless=True``, or
every objective measured the same twice under ``noiseless="auto"``); :func:`resolve` returns what an
optimizer uses for a case, with the caller's explicit arguments taking precedence. Where a value differs
from BoTorch's usual settings a measured gain is the reason; the measurements are in
``docs/lab/2026-12-05-bayesian-adapter-notes.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["DEFAULTS", "MIN_INITIAL_DESIGN", "Settings", "initial_design_size", "objectives_key", "resolve"]


@dataclass(frozen=True)
class Settings:
    """The acquisition's effort settings.

    Attributes:
        num_restarts: L-BFGS starts of the acquisition's optimization, from the best of ``raw_samples``.
        raw_samples: random points scored to choose those starts (and to replace an invalid optimum).
        mc_samples: quasi-Monte-Carlo posterior samples of the acquisition.
        front_starts: extra L-BFGS starts near the measured front's configurations.
    """

    num_restarts: int
    raw_samples: int
    mc_samples: int
    front_starts: int


_BOTORCH = Settings(num_restarts=4, raw_samples=128, mc_samples=64, front_starts=0)

#: (optimizer name, noiseless, objectives: "1", "2" or "3+") -> Settings.
DEFAULTS: dict[tuple[str, bool, str], Settings] = {
    ("ehvi", False, "2"): _BOTORCH,
    # qLogNEHVI builds one box decomposition per posterior sample: costly from three objectives on
    ("ehvi", False, "3+"): replace(_BOTORCH, mc_samples=16),
    # noiseless: qLogEHVI over one decomposition of the measured front makes a restart cheap, and more
    # restarts and starts near the front found more hypervolume (see the lab note)
    ("ehvi", True, "2"): Settings(num_restarts=20, raw_samples=512, mc_samples=16, front_starts=5),
    ("ehvi", True, "3+"): Settings(num_restarts=60, raw_samples=1024, mc_samples=16, front_starts=5),
    ("parego", False, "2"): _BOTORCH,
    ("parego", False, "3+"): _BOTORCH,
    ("parego", True, "2"): _BOTORCH,
    ("parego", True, "3+"): _BOTORCH,
    ("cei", False, "1"): _BOTORCH,
    ("cei", True, "1"): _BOTORCH,
}


def objectives_key(n_objectives: int) -> str:
    """The table's objectives column for ``n_objectives``: ``"1"``, ``"2"`` or ``"3+"``."""
    return str(n_objectives) if n_objectives <= 2 else "3+"


def resolve(name: str, noiseless: bool, n_objectives: int, **given: Any) -> Settings:
    """The settings an optimizer uses: the table's row for its case, with ``given`` values that are not None.

    Args:
        name: the optimizer's name (``"ehvi"``, ``"parego"`` or ``"cei"``).
        noiseless: the optimizer's ``noiseless`` option.
        n_objectives: the study's number of objectives.
        **given: explicit arguments (fields of :class:`Settings`); None keeps the default.

    Returns:
        The resolved settings.

    Raises:
        KeyError: for a case the table does not hold.
    """
    row = DEFAULTS[(name, noiseless, objectives_key(n_objectives))]
    return replace(row, **{k: int(v) for k, v in given.items() if v is not None})


#: the smallest initial design a budget shrinks the default one to
MIN_INITIAL_DESIGN = 5


def initial_design_size(dim: int, budget: int | None) -> int:
    """The default Sobol initial design: ``2 * (dim + 1)`` trials, but no more than half a known budget (at least
    :data:`MIN_INITIAL_DESIGN`), so that a study of 20 trials in 12 dimensions takes model steps at all (the design
    alone was 26 trials: Sobol search only).

    Args:
        dim: the encoded space's dimensions.
        budget: the trials the study expects to run, or None when unknown.

    Returns:
        The number of initial-design trials.
    """
    full = 2 * (dim + 1)
    return full if budget is None else min(full, max(MIN_INITIAL_DESIGN, budget // 2))
