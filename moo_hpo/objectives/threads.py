"""CPU threads held for a measurement: torch's intra-op threads, the BLAS and OpenMP pools, and joblib's ``n_jobs``
of a scikit-learn model and of every estimator inside it, each given back as it was.

Latency and Energy measure a model on a fixed number of threads, so that two trials compare their models rather than
the thread settings they happen to carry (a forest with ``n_jobs=-1`` beside one with ``n_jobs=1``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from moo_hpo.objectives.base import is_torch_module

__all__ = ["cpu_threads_held", "n_jobs_held"]


@contextlib.contextmanager
def cpu_threads_held(model: Any, threads: int) -> Iterator[None]:
    """Run the block with ``model`` on ``threads`` CPU threads: torch's intra-op threads for a torch module; the BLAS
    and OpenMP pools and ``n_jobs`` (:func:`n_jobs_held`) for any other model. Everything is given back as it was.

    Args:
        model: a torch module or a scikit-learn model.
        threads: the number of threads, an integer >= 1.
    """
    if is_torch_module(model):
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
        return
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    with threadpool_limits(limits=threads), n_jobs_held(model, threads):
        yield


@contextlib.contextmanager
def n_jobs_held(model: Any, threads: int) -> Iterator[None]:
    """Hold the ``n_jobs`` of a scikit-learn model and of every estimator inside it (a pipeline's steps, a search's
    ``best_estimator_``, an ensemble's fitted ``estimators_``) to ``threads`` while it is measured, and give each back
    as it was: a random forest with ``n_jobs=-1`` predicts on every core through joblib, which the BLAS and OpenMP
    limits do not reach."""
    held = [(est, est.n_jobs) for est in _estimators_in(model)  # None too: joblib's default, which parallel_config sets
            if "n_jobs" in getattr(est, "__dict__", {}) and (est.n_jobs is None or isinstance(est.n_jobs, int))
            and est.n_jobs != threads]
    for est, _ in held:
        _set_n_jobs(est, threads)
    try:
        yield
    finally:
        for est, n_jobs in held:
            _set_n_jobs(est, n_jobs)


def _set_n_jobs(estimator: Any, n_jobs: int | None) -> None:
    """Set an estimator's ``n_jobs`` as it sets its parameters (a wrapper's ``set_params`` may pass it on to the
    library it wraps), or as an attribute where it has no such parameter."""
    try:
        estimator.set_params(n_jobs=n_jobs)
    except Exception:  # noqa: BLE001 - n_jobs is not one of its parameters: the attribute itself
        estimator.n_jobs = n_jobs


def _estimators_in(model: Any, depth: int = 6) -> list[Any]:
    """``model`` and the estimators its attributes hold (in lists, tuples and dicts too), ``depth`` levels down."""
    found: dict[int, Any] = {}

    def visit(value: Any, level: int) -> None:
        if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.dtype == object):
            for item in list(value)[:10_000]:
                visit(item, level)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item, level)
        elif hasattr(value, "get_params") and hasattr(value, "__dict__") and id(value) not in found and level <= depth:
            found[id(value)] = value
            for item in vars(value).values():
                visit(item, level + 1)

    visit(model, 0)
    return list(found.values())
