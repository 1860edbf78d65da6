"""The analysis layer: one reference-point policy shared by the study and its optimizers; reading never writes."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo import analysis
from moo_hpo.fronts import derive_reference_point
from moo_hpo.problem import Problem


def _study(storage=None, optimizer="random") -> mh.Study:
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    return mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("g", 0.8)],
                    optimizer=optimizer, storage=storage, seed=3)


def _fn(c: dict) -> dict:
    # the front widens as trials arrive, so a reference point derived later differs from an early one
    return {"f1": 10 * c["x"] ** 2, "f2": 10 * (1 - c["x"]) ** 2 + 30 * c["y"], "g": c["y"]}


def test_reading_results_never_changes_a_study(tmp_path):
    quiet = _study(tmp_path / "quiet.db")
    quiet.optimize(_fn, n_trials=30, show_progress=False)
    reader = _study(tmp_path / "read.db")

    def read_everything(study, trial):
        if study.n_feasible:
            study.reference_point, study.hypervolume(), study.pareto_front(), study.hypervolume_history()

    reader.optimize(_fn, n_trials=30, callbacks=[read_everything], show_progress=False)
    assert [t.config for t in reader.trials] == [t.config for t in quiet.trials]
    assert reader.reference_point == quiet.reference_point
    assert reader.hypervolume() == quiet.hypervolume()
    quiet.close(), reader.close()
    stored = [sqlite3.connect(tmp_path / n).execute("SELECT value FROM meta WHERE key='reference_point'").fetchone()[0]
              for n in ("quiet.db", "read.db")]
    assert stored[0] == stored[1]


def test_reference_point_is_frozen_in_tell_from_the_first_ten_feasible_trials():
    study = _study()
    study.optimize(_fn, n_trials=40, show_progress=False)
    feasible = study.feasible_trials()
    assert len(feasible) > analysis.REFERENCE_FREEZE_AFTER  # later trials would move a derived point
    Y = study.problem.objective_matrix(feasible[: analysis.REFERENCE_FREEZE_AFTER])
    expected = derive_reference_point(Y)
    assert list(study.reference_point.values()) == pytest.approx(expected.tolist())
    everything = derive_reference_point(study.problem.objective_matrix(feasible))
    assert not np.allclose(expected, everything)  # the test would not tell the two rules apart otherwise


def test_read_only_view_shows_the_stored_point(tmp_path):
    study = _study(tmp_path / "s.db")
    study.optimize(_fn, n_trials=30, show_progress=False)
    frozen = study.reference_point
    study.close()
    con = sqlite3.connect(tmp_path / "s.db")
    stored = json.loads(con.execute("SELECT value FROM meta WHERE key='reference_point'").fetchone()[0])
    con.close()
    view = mh.Study.load(tmp_path / "s.db", read_only=True)
    assert view.reference_point_frozen and view.reference_point == frozen
    assert list(view.reference_point.values()) == pytest.approx(stored["internal"])  # both objectives minimized


def test_a_refreshed_view_shows_the_point_the_writer_froze_since(tmp_path):
    writer = _study(tmp_path / "s.db")
    writer.optimize(_fn, n_trials=4, show_progress=False)
    view = mh.Study.load(tmp_path / "s.db", read_only=True)
    assert not view.reference_point_frozen
    writer.optimize(_fn, n_trials=26, show_progress=False)
    assert writer.reference_point_frozen
    view.refresh()
    assert view.reference_point_frozen and view.reference_point == writer.reference_point
    assert view.hypervolume() == pytest.approx(writer.hypervolume())
    writer.close(), view.close()


def test_ehvi_uses_the_studys_reference_point():
    study = _study(optimizer="ehvi")
    study.optimize(_fn, n_trials=14, show_progress=False)
    from moo_hpo.optimizers.bayesian.acquisition import reference_point

    data = study.optimizer.training_data()
    internal = analysis.reference_internal(study.problem, study.trials)
    np.testing.assert_allclose(reference_point(study.optimizer.problem, data), internal)
    assert study.reference_point_frozen


def test_a_problem_alone_gets_its_own_policy():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    p = Problem(space, (mh.Minimize("a", ref=3.0), mh.Maximize("b", ref=1.0)))
    assert p.reference.is_frozen and p.reference.frozen.tolist() == [3.0, -1.0]
    q = Problem(space, (mh.Minimize("a"), mh.Minimize("b")))
    assert not q.reference.is_frozen
    np.testing.assert_allclose(q.reference.value(np.array([[0.0, 1.0], [1.0, 0.0]])), [1.1, 1.1])


def test_hypervolume_monitor_matches_the_full_history():
    study = _study()
    study.optimize(_fn, n_trials=40, show_progress=False)
    monitor = analysis.HypervolumeMonitor(study.problem)
    history = monitor.start(study.trials)
    np.testing.assert_allclose(history, study.hypervolume_history())
    assert monitor.value == pytest.approx(study.hypervolume())


def test_a_repeat_that_measured_the_same_is_one_front_member():
    def exact(config):
        return {"a": config["x"], "b": (1 - config["x"]) ** 2}

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(exact, n_trials=6, show_progress=False)
    before = [t.number for t in study.pareto_front()]
    (repeat,) = study.reevaluate(exact, top_k=1, repeats=1, show_progress=False)
    assert study.front_basis() == "measured" and repeat.metrics == study.trial(repeat.extra["repeat_of"]).metrics
    assert [t.number for t in study.pareto_front()] == before  # the repeat is not a second member


def _all_skipped() -> mh.Study:
    """A study whose every candidate broke a latency budget before training (none trained, none measured accuracy)."""
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb")],
                     [mh.AtMost("latency_p99_ms", 0.0001), mh.AtLeast("accuracy", 0.5)], optimizer="random", seed=0)
    for latency in (0.05, 0.031, 0.07):
        study.tell(study.ask(), {"size_kb": 10.0, "latency_p99_ms": latency}, status="infeasible_skipped")
    return study


def test_with_every_trial_skipped_before_training_the_error_names_the_closest_and_the_bound_it_broke():
    study = _all_skipped()
    said = ("no trial has completed yet: all 3 trials were skipped before training, each breaking a hard constraint on "
            "what it measured then; trial #1 comes closest: latency_p99_ms <= 0.0001 (measured 0.031); every one broke "
            "latency_p99_ms <= 0.0001, which may be out of reach of the search space: loosen it, or widen the space "
            "towards candidates within it")
    with pytest.raises(mh.NoFeasibleTrialError) as info:
        study.recommend("best", objective="accuracy")
    assert str(info.value) == f"cannot recommend a trial: {said}" and info.value.least_violating == 1
    with pytest.raises(mh.NoFeasibleTrialError, match=re.escape(f"cannot derive a reference point: {said}")):
        _ = study.reference_point
    assert mh.report(study).data["hypervolume"]["note"] == f"cannot derive a reference point: {said}"
    # a failed trial beside them is counted apart; a complete one is judged as before
    study.tell(study.ask(), error="out of memory")
    with pytest.raises(mh.NoFeasibleTrialError, match=r"3 of the 4 trials were skipped before training.*trial #1 comes closest"):
        study.recommend()
    study.tell(study.ask(), {"accuracy": 0.4, "size_kb": 10.0, "latency_p99_ms": 0.00005})
    with pytest.raises(mh.NoFeasibleTrialError, match=r"none of the 1 complete trials .* trial #4 .*breaks accuracy >= 0.5 \(measured 0.4\)\)$"):
        study.recommend()


def test_an_unknown_recommend_method_is_said_first_even_before_any_trial_is_feasible():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    with pytest.raises(mh.ConfigError, match=r"unknown method 'kneee'; expected one of \['knee', 'best', 'asf', "
                                            r"'tchebycheff'\] \(did you mean 'knee'\?\)"):
        study.recommend("kneee")  # before: NoFeasibleTrialError "no trial has completed yet"


def test_with_every_trial_failed_the_error_and_sizing_say_so_and_name_the_error():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("size_kb")], optimizer="random", seed=0)
    for error in ("ValueError: bad shape in layer 2\n  (traceback)", "ValueError: bad shape in layer 2", "OSError: disk"):
        study.tell(study.ask(), error=error)
    said = "no trial has completed yet: all 3 trials failed; the most common error (2 of them): ValueError: bad shape in layer 2"
    with pytest.raises(mh.NoFeasibleTrialError, match=re.escape(said)):
        study.recommend()
    (sized,) = mh.size_for_devices(study, [mh.DeviceProfile("mcu", max_size_kb=4)])
    assert sized.best is None and sized.reason == f"no feasible trial fits size_kb <= 4 (0 feasible trials); {said}"
    study.tell(study.ask(), {"size_kb": 9.0})  # one complete: judged as before
    assert mh.size_for_devices(study, [mh.DeviceProfile("mcu", max_size_kb=4)])[0].reason.startswith(
        "no feasible trial fits size_kb <= 4 (1 feasible trial)")


def test_a_recommendation_passes_over_trials_beyond_an_objectives_ref():
    """``ref=`` is the worst value that still counts: the best latency is not a model below the accuracy's ref (it adds
    no hypervolume), unless no trial is within the refs."""
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy", ref=0.5), mh.Minimize("latency_ms")],
                     optimizer="random", seed=0)
    for acc, lat in ((0.43, 0.1), (0.9, 1.0), (0.7, 0.5)):
        study.tell(study.ask(), {"accuracy": acc, "latency_ms": lat})
    best = study.recommend("best", objective="latency_ms")
    assert best.trial.number == 2  # before: trial 0, accuracy 0.43 below the ref
    assert "among trials within the objectives' ref= (accuracy >= 0.5; 1 left out)" in best.reason
    assert "left out" not in study.recommend("best", objective="accuracy").reason  # trial 1 is chosen among all too
    (device,) = mh.size_for_devices(study, [mh.DeviceProfile("any", max_size_kb=1e9, size_metric="latency_ms")],
                                    objective="latency_ms")
    assert device.best.number == 2 and "among trials within the objectives' ref=" in device.reason  # sizing agrees
    # a ref on a metric the device budgets is no budget: the device's own says what fits (a size ref of 10 KiB, where
    # the hypervolume is measured from, kept a 500 KiB device to the trials under 10 KiB)
    sized = mh.Study({"w": mh.Int(1, 100)}, [mh.Maximize("accuracy"), mh.Minimize("size_kb", ref=10.0)],
                     optimizer="random", seed=0)
    for w in (7, 99, 40):
        sized.tell(sized.ask(), {"accuracy": 0.5 + w / 200, "size_kb": float(w)})
    (phone,) = mh.size_for_devices(sized, [mh.DeviceProfile("phone", max_size_kb=500)])
    assert phone.best.number == 1 and "ref=" not in phone.reason
    assert sized.recommend("best", objective="accuracy").trial.number == 0  # the study's own choice keeps the ref
    none_within = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy", ref=0.95), mh.Minimize("latency_ms")],
                           optimizer="random", seed=0)
    for acc, lat in ((0.43, 0.1), (0.9, 1.0)):
        none_within.tell(none_within.ask(), {"accuracy": acc, "latency_ms": lat})
    fallback = none_within.recommend("best", objective="latency_ms")
    assert fallback.trial.number == 0 and "no trial is within the objectives' ref= (accuracy >= 0.95): chosen among all" in fallback.reason
    at_ref = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy", ref=0.8), mh.Minimize("latency_ms")],
                      optimizer="random", seed=0)
    for acc, lat in ((0.8, 1.0), (0.95, 9.0)):  # a trial at the ref still counts (the worst value that does)
        at_ref.tell(at_ref.ask(), {"accuracy": acc, "latency_ms": lat})
    assert at_ref.recommend("best", objective="latency_ms").trial.number == 0
