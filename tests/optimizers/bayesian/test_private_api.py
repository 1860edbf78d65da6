"""Every private name of torch, BoTorch and GPyTorch that moo_hpo uses still exists and still does what it did.

A failure here after an upgrade means: update ``moo_hpo/optimizers/bayesian/_private_api.py`` (and the
version bounds in pyproject.toml) for the new version.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from moo_hpo.optimizers.bayesian import _private_api
from moo_hpo.optimizers.bayesian._private_api import PRIVATE_NAMES, PrivateApiChanged


def _resolve(path: str):
    """A module, or a class inside one, from its dotted path."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("owner", "name"), PRIVATE_NAMES)
def test_every_private_name_still_exists(owner, name):
    import botorch
    import gpytorch

    assert hasattr(_resolve(owner), name), (
        f"{owner}.{name} is gone (torch {torch.__version__}, BoTorch {botorch.__version__}, "
        f"GPyTorch {gpytorch.__version__}): update moo_hpo/optimizers/bayesian/_private_api.py for this version"
    )


def test_build_directory_is_under_the_extensions_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    assert _private_api.torch_extension_build_directory("some_ext") == str(tmp_path / "some_ext")


def test_fused_kernel_flag_reads_and_marks(monkeypatch):
    from botorch.acquisition.multi_objective import logei

    monkeypatch.setattr(logei, "_load_attempted", False)
    assert _private_api.fused_kernel_load_attempted() is False
    assert _private_api.fused_kernel_load_attempted(mark=True) is True
    assert logei._load_attempted is True


def test_input_batch_shape_of_a_gp():
    from botorch.models import SingleTaskGP

    X, Y = torch.rand(6, 2, dtype=torch.double), torch.rand(6, 1, dtype=torch.double)
    assert _private_api.input_batch_shape(SingleTaskGP(X, Y)) == torch.Size([])
    assert _private_api.input_batch_shape(SingleTaskGP(X.expand(3, 6, 2), Y.expand(3, 6, 1))) == torch.Size([3])
    with pytest.raises(PrivateApiChanged, match="_input_batch_shape.*_private_api must be updated"):
        _private_api.input_batch_shape(object())


def test_log_qehvi_of_samples_is_what_qlogehvi_computes():
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement,
    )
    from botorch.models import SingleTaskGP
    from botorch.sampling.normal import SobolQMCNormalSampler
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    g = torch.Generator().manual_seed(0)
    X, Y = torch.rand(8, 2, dtype=torch.double, generator=g), torch.rand(8, 2, dtype=torch.double, generator=g)
    model = SingleTaskGP(X, Y).eval()
    ref = torch.zeros(2, dtype=torch.double)
    acq = qLogExpectedHypervolumeImprovement(
        model, ref_point=ref, partitioning=FastNondominatedPartitioning(ref_point=ref, Y=Y),
        sampler=SobolQMCNormalSampler(torch.Size([8]), seed=0),
    )
    Xq = torch.rand(4, 1, 2, dtype=torch.double, generator=g)
    with torch.no_grad():
        samples = acq.get_posterior_samples(model.posterior(Xq))
        torch.testing.assert_close(_private_api.log_qehvi_of_samples(acq, samples, Xq), acq(Xq))


def test_provides_extended_shape_answers_botorchs_hook():
    from moo_hpo.optimizers.bayesian.cached_posterior import ExactGaussianPosterior

    posterior = ExactGaussianPosterior(torch.zeros(5, 2, 3), torch.ones(5, 3, 2, 2))
    assert posterior._extended_shape() == torch.Size([5, 2, 3])
    assert posterior._extended_shape(torch.Size([4])) == posterior.extended_shape(torch.Size([4])) == (4, 5, 2, 3)
