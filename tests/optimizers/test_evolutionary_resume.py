"""Resuming an evolutionary study is linear in its stored trials."""

from __future__ import annotations

import pytest

import moo_hpo as mh
from moo_hpo.optimizers import evolutionary


@pytest.mark.slow
def test_resume_after_an_interrupted_trial_rebuilds_the_population_once(tmp_path, monkeypatch):
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})

    def make():
        return mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="nsga2", storage=tmp_path / "s.db", seed=0)

    def fn(c):
        return {"a": c["x"], "b": 1 - c["x"] ** 0.5 + c["y"]}

    study = make()
    study.optimize(fn, n_trials=300, show_progress=False)
    study.ask()  # running when the study stops: it becomes interrupted and breaks the replay
    study.close()
    study = make()
    study.optimize(fn, n_trials=1700, show_progress=False)  # bred after the interrupted one
    study.close()
    rebuilds = []
    real = evolutionary._PymooOptimizer._rebuild
    monkeypatch.setattr(evolutionary._PymooOptimizer, "_rebuild", lambda self: rebuilds.append(1) or real(self))
    resumed = make()
    assert len(resumed.trials) == 2001 and resumed.count("interrupted") == 1
    resumed.optimize(fn, n_trials=5, show_progress=False)
    assert len(rebuilds) == 1  # once, not once per stored trial after the interrupted one
    assert resumed.count("complete") == 2005
