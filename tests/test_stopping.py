from __future__ import annotations

import logging

import numpy as np
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
    # a plain script shows warnings only: the early stop is one, with its reason
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "optimize stopped after 11 trials: hypervolume improved by 0% over the last 10 trials (< 0.1%): 4 -> 4"]


@pytest.mark.parametrize(("optimizer", "initial"), [("nsga2", 88), ("ehvi", 4)])
def test_stagnation_waits_beyond_the_trials_no_result_steered(optimizer, initial):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a", ref=2.0), mh.Minimize("b", ref=2.0)], optimizer=optimizer, seed=0)
    # a flat objective: the front is reached at once; NSGA-II's first generation (88 for 2,000 trials) is random
    study.optimize(lambda c: {"a": 0.0, "b": 0.0}, n_trials=2000 if optimizer == "nsga2" else 40,
                   callbacks=[mh.HypervolumeStagnation(window=10, rel_tol=1e-3)], show_progress=False)
    assert study.optimizer.initial_trials == initial
    assert len(study.trials) == initial + 10  # stopped as soon as 10 trials beyond them changed nothing


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


def test_stagnation_costs_one_exact_hypervolume_per_front_change(monkeypatch):
    # counted through moocore itself (the real computation runs): recomputing the whole history after
    # every trial would cost a number of computations that grows with the square of the trials
    import moocore

    calls = []
    real = moocore.hypervolume
    monkeypatch.setattr(moocore, "hypervolume", lambda *a, **k: calls.append(1) or real(*a, **k))
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    rule = mh.HypervolumeStagnation(window=1000, rel_tol=0.0)
    study.optimize(lambda c: {"a": c["x"], "b": (1 - c["x"] ** 0.5) ** 2}, n_trials=400, callbacks=[rule], show_progress=False)
    assert len(study.trials) == 400
    assert len(calls) < 400  # one per trial entering the front, not one per trial and earlier trial


def test_stagnation_decides_as_the_full_history_does():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=1)
    rule = mh.HypervolumeStagnation(window=15, rel_tol=0.01)
    study.optimize(lambda c: {"a": c["x"], "b": (1 - c["x"] ** 0.5) ** 2}, n_trials=500, callbacks=[rule], show_progress=False)
    n = len(study.trials)
    assert 30 < n < 500  # it stopped, after the reference point froze
    history = study.hypervolume_history()
    started = int(np.argmax(history > 0))
    h = history[started:]
    gains = [(h[i] - h[i - 15]) / h[i] for i in range(15, len(h))]
    assert gains[-1] < 0.01 and all(g >= 0.01 for g in gains[:-1])
