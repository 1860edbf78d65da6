"""Pareto analysis on ``(n, m)`` arrays in the internal convention (every objective minimized).

Non-dominated sets come from moocore, the fastest exact implementation there is.
"""

from __future__ import annotations

import numpy as np

from moo_hpo.exceptions import ConfigError

__all__ = ["pareto_mask"]


def _as_points(Y: np.ndarray) -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    if Y.ndim != 2:
        raise ConfigError(f"expected an (n, m) array of objective values; received shape {Y.shape}")
    if np.isnan(Y).any():
        raise ConfigError("objective values contain NaN; expected finite values (drop failed trials first)")
    return Y


def pareto_mask(Y: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``Y`` (minimization).

    Duplicates: rows with identical values are all kept (neither dominates the other).

    Args:
        Y: array of shape ``(n, m)``.

    Returns:
        Boolean array of shape ``(n,)``.

    Raises:
        ConfigError: for a wrong shape or NaN values.
    """
    import moocore

    Y = _as_points(Y)
    if len(Y) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(Y, maximise=False, keep_weakly=True), dtype=bool)
