from __future__ import annotations

import logging

import pytest

import moo_hpo as mh


def test_stagnation_stops_a_study_whose_front_stopped_improving(caplog):
    caplog.set_level(logging.INFO, logger="moo_hpo")
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a", ref=2.0), mh.Minimize("b", ref=2.0)], optimizer="random", seed=0)
    # the front is reached at once: every trial after the first few changes nothing
    study.optimize(lambda c: {"a": 0.0 if c["x"] < 2 else 1.0, "b": 0.0}, n_trials=200,
                   callbacks=[mh.HypervolumeStagnation(window=10, rel_tol=1e-3)], show_progress=False)
    assert len(study.trials) == 11
    assert any("hypervolume improved by 0%" in r.message for r in caplog.records)


def test_stagnation_keeps_going_while_improving():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a", ref=2.0), mh.Minimize("b", ref=2.0)], optimizer="random", seed=0)
    # every trial strictly improves the front: a = b = 1 / (n + 2)
    study.optimize(lambda c, t: {"a": 1 / (t.number + 2), "b": 1 / (t.number + 2)}, n_trials=40,
                   callbacks=[mh.HypervolumeStagnation(window=10, rel_tol=1e-4)], show_progress=False)
    assert len(study.trials) == 40


def test_bad_arguments():
    with pytest.raises(mh.ConfigError):
        mh.HypervolumeStagnation(window=0)
    with pytest.raises(mh.ConfigError):
        mh.HypervolumeStagnation(rel_tol=-1)
