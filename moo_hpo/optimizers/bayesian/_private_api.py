"""Every private name of torch, BoTorch and GPyTorch that the Bayesian optimizers rely on, one function each.

These names are not part of the libraries' public API and may change in any release. Keeping each behind
one function here means one place to fix, and ``tests/optimizers/bayesian/test_private_api.py`` checks
every one of them against the installed versions, so an upgrade that changes one fails loudly there
instead of somewhere deep in a study. pyproject.toml caps botorch and gpytorch at the versions tested.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PRIVATE_NAMES",
    "PrivateApiChanged",
    "fused_kernel_load_attempted",
    "input_batch_shape",
    "log_qehvi_of_samples",
    "provides_extended_shape",
    "torch_extension_build_directory",
]

#: (module, attribute): the private names used here, for the test that checks they still exist.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("torch.utils.cpp_extension", "_get_build_directory"),
    ("botorch.acquisition.multi_objective.logei", "_load_attempted"),
    ("botorch.acquisition.multi_objective.logei", "_try_load_fused_kernel"),  # the tests stand in for it
    ("botorch.acquisition.multi_objective.logei.qLogExpectedHypervolumeImprovement", "_compute_log_qehvi"),
    ("botorch.posteriors.posterior.Posterior", "_extended_shape"),
)


class PrivateApiChanged(RuntimeError):
    """A private name of torch, BoTorch or GPyTorch that moo_hpo uses is gone or changed."""


def _changed(owner: str, name: str) -> PrivateApiChanged:
    import botorch
    import gpytorch

    return PrivateApiChanged(
        f"{owner} has no {name!r} any more (BoTorch {botorch.__version__}, GPyTorch {gpytorch.__version__}); "
        "moo_hpo.optimizers.bayesian._private_api must be updated for this version"
    )


def torch_extension_build_directory(name: str) -> str:
    """The folder where torch's JIT extension builder compiles the extension ``name`` (and keeps its lock).

    Args:
        name: the extension's name.

    Returns:
        The folder's path (created if missing, as torch's builder does).

    Raises:
        PrivateApiChanged: when torch no longer has ``_get_build_directory``.
        OSError: when the folder cannot be created.
    """
    from torch.utils import cpp_extension

    get = getattr(cpp_extension, "_get_build_directory", None)
    if get is None:
        raise _changed("torch.utils.cpp_extension", "_get_build_directory")
    return get(name, False)


def fused_kernel_load_attempted(mark: bool = False) -> bool:
    """Whether BoTorch has tried to load its fused qLogEHVI kernel in this process (``logei._load_attempted``).

    Args:
        mark: first record that it has, so BoTorch never loads (or builds) the kernel in this process and
            computes the same values in pure Python.

    Returns:
        True when BoTorch will not try again (or when it has no such kernel).
    """
    from botorch.acquisition.multi_objective import logei

    if mark:
        logei._load_attempted = True
    return bool(getattr(logei, "_load_attempted", True))


def input_batch_shape(model: Any) -> Any:
    """A BoTorch GP's batch shape of its training inputs (``model._input_batch_shape``).

    Raises:
        PrivateApiChanged: when the model has no ``_input_batch_shape``.
    """
    try:
        return model._input_batch_shape
    except AttributeError:
        raise _changed(type(model).__name__, "_input_batch_shape") from None


def log_qehvi_of_samples(acquisition: Any, samples: Any, X: Any) -> Any:
    """qLogEHVI's log hypervolume improvement of given posterior samples (``_compute_log_qehvi``).

    Args:
        acquisition: a BoTorch ``qLogExpectedHypervolumeImprovement``.
        samples: its posterior samples of the candidates ``X``.
        X: the candidates.

    Raises:
        PrivateApiChanged: when qLogEHVI has no ``_compute_log_qehvi``.
    """
    compute = getattr(acquisition, "_compute_log_qehvi", None)
    if compute is None:
        raise _changed(type(acquisition).__name__, "_compute_log_qehvi")
    return compute(samples=samples, X=X)


def provides_extended_shape(cls: type) -> type:
    """Class decorator: a BoTorch ``Posterior`` subclass answers BoTorch's ``_extended_shape`` hook (the shape
    of its samples, which BoTorch's samplers and noisy criteria ask for) with its public ``extended_shape``.

    Raises:
        PrivateApiChanged: when BoTorch's ``Posterior`` no longer declares ``_extended_shape``.
    """
    from botorch.posteriors.posterior import Posterior

    if not hasattr(Posterior, "_extended_shape"):
        raise _changed("botorch.posteriors.posterior.Posterior", "_extended_shape")
    cls._extended_shape = cls.extended_shape
    return cls
