"""The defaults table resolves to what the optimizers use, and explicit arguments take precedence."""

from __future__ import annotations

import pytest
import torch

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.optimizers.bayesian.defaults import (
    DEFAULTS,
    Settings,
    objectives_key,
    resolve,
)


def _record_optimize_acqf(monkeypatch) -> list[dict]:
    """Record the arguments that reach BoTorch's ``optimize_acqf`` (which still runs)."""
    import botorch.optim

    calls: list[dict] = []
    real = botorch.optim.optimize_acqf

    def record(acq, bounds, **kwargs):
        calls.append({"acq": acq, **kwargs})
        return real(acq, bounds, **kwargs)

    monkeypatch.setattr(botorch.optim, "optimize_acqf", record)
    return calls


def test_every_case_has_a_row_and_objectives_keys_cover_any_number():
    assert [objectives_key(m) for m in (1, 2, 3, 4, 7)] == ["1", "2", "3+", "3+", "3+"]
    for name, objectives in (("ehvi", ("2", "3+")), ("parego", ("2", "3+")), ("cei", ("1",))):
        for noiseless in (False, True):
            for key in objectives:
                assert isinstance(DEFAULTS[(name, noiseless, key)], Settings)


@pytest.mark.parametrize(("name", "noiseless", "key"), sorted(DEFAULTS))
def test_the_table_is_what_the_optimizer_uses(monkeypatch, name, noiseless, key):
    calls = _record_optimize_acqf(monkeypatch)
    m = {"1": 1, "2": 2, "3+": 3}[key]
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    objectives = [mh.Minimize(f"f{i}") for i in range(m)]
    study = mh.Study(space, objectives, optimizer=make_optimizer(name, {"n_init": 3, "noiseless": noiseless}), seed=0)
    study.optimize(lambda c: {f"f{i}": (c["x"] - i / 3) ** 2 + c["y"] for i in range(m)}, n_trials=4, show_progress=False)
    row = DEFAULTS[(name, noiseless, key)]
    assert study.optimizer.settings == row
    (call,) = calls
    assert call["raw_samples"] == row.raw_samples
    assert call["num_restarts"] == row.num_restarts + row.front_starts  # given starts join the random ones
    starts = call.get("batch_initial_conditions")
    assert (0 if starts is None else len(starts)) == row.front_starts
    assert call["acq"].sampler.sample_shape == torch.Size([row.mc_samples])


def test_explicit_arguments_take_precedence():
    row = DEFAULTS[("ehvi", True, "3+")]
    assert resolve("ehvi", True, 3) == row
    assert resolve("ehvi", True, 4, num_restarts=2, raw_samples=None, front_starts=0) == Settings(2, row.raw_samples, row.mc_samples, 0)
    with pytest.raises(mh.ConfigError, match=rf"raw_samples must be at least num_restarts \({row.num_restarts}\); received raw_samples=16"):
        study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize(f"f{i}") for i in range(3)],
                         optimizer=make_optimizer("ehvi", {"noiseless": True, "raw_samples": 16}))
        study.ask()


def test_the_default_initial_design_is_at_most_half_a_known_budget(tmp_path):
    # 20 trials in 12 dimensions: the design of 26 was the whole study (Sobol search under the name ehvi)
    from moo_hpo.optimizers.bayesian.defaults import initial_design_size

    assert [initial_design_size(12, b) for b in (None, 20, 60, 8)] == [26, 10, 26, 5]
    space = mh.Space({f"x{i}": mh.Float(0, 1) for i in range(12)})
    objectives = [mh.Minimize("f"), mh.Minimize("g")]
    settings = {"num_restarts": 1, "raw_samples": 16, "mc_samples": 8}
    study = mh.Study(space, objectives, optimizer=make_optimizer("ehvi", settings), seed=0, storage=tmp_path / "s.db")
    study.optimize(lambda c: {"f": c["x0"], "g": 1 - c["x0"] + c["x1"] ** 2}, n_trials=12, show_progress=False)
    kinds = [t.extra["optimizer"]["acquisition"] for t in study.trials]
    assert study.optimizer.initial_trials == 6 and kinds[:6] == ["sobol (initial design)"] * 6
    assert all(k != "sobol (initial design)" for k in kinds[6:])  # model steps (and the noise check's repeat)
    study.close()
    # resumed for a larger budget, whose default design (26) is longer than the study's first: not started again
    resumed = mh.Study.load(tmp_path / "s.db")
    resumed._set_budget(60)
    assert resumed.ask().extra["optimizer"]["acquisition"] != "sobol (initial design)"
    assert resumed.optimizer.initial_trials == 6
    resumed.close()
    from moo_hpo.optimizers.registry import choose_auto

    chosen = mh.Study(space, objectives, seed=0)  # auto's reason says how long the design is
    chosen._set_budget(20)
    assert "expected hypervolume improvement after a Sobol design of 10 trials;" in choose_auto(chosen.problem)[1]
    # optimize in chunks: a design still running is sized for the larger budget (it stayed 5 for a study of 204)
    chunks = mh.Study(space, objectives, optimizer=make_optimizer("ehvi", settings), seed=0)
    chunks.optimize(lambda c: {"f": c["x0"], "g": 1 - c["x0"]}, n_trials=4, show_progress=False)
    assert chunks.optimizer.initial_trials == 5
    chunks._set_budget(200)  # what optimize(n_trials=200) does first
    assert chunks.optimizer.initial_trials == 26
    chunks._set_budget(2)  # a smaller budget later: the design is not cut (it went down to 5)
    assert chunks.optimizer.initial_trials == 26
    open_ended = mh.Study(space, objectives, optimizer=make_optimizer("ehvi", settings), seed=0)
    open_ended.ask()  # no budget: the full design
    open_ended._set_budget(20)
    assert open_ended.optimizer.initial_trials == 26  # not shortened under trials that may stand on it
    study_again = mh.Study.load(tmp_path / "s.db")  # its design over (model steps ran): a larger budget keeps it
    study_again._set_budget(6)
    study_again.ask()
    study_again._set_budget(200)
    assert study_again.optimizer.initial_trials == 6
    explicit = mh.Study(space, objectives, optimizer=make_optimizer("ehvi", {**settings, "n_init": 9}), seed=0)
    explicit._set_budget(12)
    assert explicit.optimizer.initial_trials == 9  # given: kept
