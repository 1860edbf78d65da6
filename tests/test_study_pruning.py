"""Early stopping in a study: reports stored as they arrive, pruned trials recorded and kept off the front,
the pruner's decisions replayed on resume, reports from worker processes and a crashed worker's reports kept."""

from __future__ import annotations

import os
import signal

import pytest

import moo_hpo as mh
from moo_hpo.storage import SQLiteStore


def _space() -> mh.Space:
    return mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})


def _study(storage=None, pruner=None, **kw) -> mh.Study:
    pruner = pruner if pruner is not None else mh.pruners.MOASHA(1, 9, 3)
    return mh.Study(_space(), [mh.Maximize("acc"), mh.Minimize("gap")], [mh.AtMost("size_kb", 50.0)],
                    optimizer=kw.pop("optimizer", "random"), storage=storage, seed=0, pruner=pruner, **kw)


def train(config, trial):
    """Accuracy rises with epochs towards 1 - x; the gap stays at y."""
    acc = 0.0
    for epoch in range(1, 10):
        acc = (1 - config["x"]) * (1 - 0.5 ** epoch)
        trial.report(epoch, {"acc": acc, "gap": config["y"]})
        if trial.should_prune():
            break
    return {"acc": acc, "gap": config["y"], "size_kb": 10.0}


def test_reports_are_stored_and_pruned_trials_stay_off_the_front(tmp_path):
    study = _study(tmp_path / "s.db")
    study.optimize(train, n_trials=20, show_progress=False)
    pruned = [t for t in study.trials if t.status is mh.TrialStatus.PRUNED]
    complete = [t for t in study.trials if t.status is mh.TrialStatus.COMPLETE]
    assert pruned and complete and len(pruned) + len(complete) == 20
    assert all(len(t.reports) == 9 for t in complete) and all(len(t.reports) < 9 for t in pruned)
    for t in pruned:  # its metrics: what the objective returned after it stopped
        assert t.metrics["acc"] == pytest.approx(t.reports[-1]["metrics"]["acc"]) and t.extra["pruned"].startswith("pruned at rung")
    assert {t.number for t in study.pareto_front()} <= {t.number for t in complete}
    assert study.n_feasible == len(complete)
    study.close()
    stored = SQLiteStore(tmp_path / "s.db", read_only=True).load_reports()
    assert {n: [r["step"] for r in rs] for n, rs in stored.items()} == {t.number: [r["step"] for r in t.reports] for t in study.trials}


def test_a_resumed_study_replays_the_pruners_decisions_and_goes_on(tmp_path):
    first = _study(tmp_path / "s.db")
    first.optimize(train, n_trials=12, show_progress=False)
    decisions = {t.number: first.should_prune(t.number) for t in first.trials}
    first.close()
    resumed = mh.Study.load(tmp_path / "s.db", pruner=mh.pruners.MOASHA(1, 9, 3))
    assert {t.number: resumed.should_prune(t.number) for t in resumed.trials} == decisions
    assert resumed.pruner.promoted(0) and resumed.count("pruned") == first.count("pruned")
    resumed.optimize(train, n_trials=8, show_progress=False)
    assert len(resumed.trials) == 20 and resumed.count("pruned") > first.count("pruned")
    resumed.close()


def test_raising_trial_pruned_records_the_last_report():
    def fn(config, trial):
        trial.report(1, {"acc": 0.3, "gap": 0.2})
        trial.report(2, {"acc": 0.4, "gap": 0.2})
        raise mh.TrialPruned()

    study = _study(pruner=mh.pruners.DominatedPruner())
    study.optimize(fn, n_trials=2, show_progress=False)
    assert [t.status for t in study.trials] == [mh.TrialStatus.PRUNED] * 2
    assert study.trials[0].metrics == {"acc": 0.4, "gap": 0.2}
    assert study.trials[0].extra["pruned"] == "the objective raised TrialPruned"


def test_the_objective_s_own_reason_for_raising_trial_pruned_is_kept():
    # `raise mh.TrialPruned("val_loss diverged")` recorded only "the objective raised TrialPruned"
    def fn(config, trial):
        trial.report(1, {"acc": 0.3, "gap": 0.2})
        raise mh.TrialPruned("val_loss diverged (9.0 > 5.0)\nat step 1")

    class TrialPrunedError(ValueError):  # a user's own error of a like name: a failure
        pass

    def fails(config, trial):
        raise TrialPrunedError("bad input")

    for n_workers in (1, 2):  # in the study's process, and in a worker (its outcome travels as text)
        study = _study(pruner=mh.pruners.DominatedPruner())
        study.optimize(fn, n_trials=2, n_workers=n_workers, show_progress=False)
        assert [t.extra["pruned"] for t in study.trials] == ["the objective raised TrialPruned: val_loss diverged (9.0 > "
                                                             "5.0)\nat step 1"] * 2
        study.optimize(fails, n_trials=1, n_workers=n_workers, show_progress=False)
        assert study.trials[-1].status is mh.TrialStatus.FAILED


def test_a_report_that_breaks_a_hard_bound_stops_the_trial_at_once():
    def fn(config, trial):
        for epoch in range(1, 10):
            trial.report(epoch, {"acc": 0.5, "gap": 0.1, "size_kb": 80.0 if config["x"] > 0.5 else 20.0})
            if trial.should_prune():
                return {"acc": 0.5, "gap": 0.1, "size_kb": 80.0}
        return {"acc": 0.5, "gap": 0.1, "size_kb": 20.0}

    study = _study()
    study.optimize(fn, n_trials=10, show_progress=False)
    big = [t for t in study.trials if t.config["x"] > 0.5]
    assert big and all(t.status is mh.TrialStatus.PRUNED and len(t.reports) == 1 for t in big)
    assert all("size_kb = 80 breaks the hard bound size_kb <= 50" in t.extra["pruned"] for t in big)


def test_ask_tell_users_report_through_the_study():
    study = _study()
    t = study.ask()
    assert study.report(t, 1, {"acc": 0.5, "gap": 0.1}) is False  # the first in its rung goes on
    assert study.trial(t.number).reports[0]["metrics"] == {"acc": 0.5, "gap": 0.1}
    with pytest.raises(mh.ConfigError, match="steps must grow; received step 1 after step 1"):
        study.report(t, 1, {"acc": 0.5})
    with pytest.raises(mh.ConfigError, match="at step 2: metric 'acc' is nan"):
        study.report(t, 2, {"acc": float("nan")})
    import numpy as np
    import torch

    study.report(t, torch.tensor(2), {"acc": 0.6})  # an epoch counter kept as a tensor or a NumPy number
    study.report(t, np.float32(2.5), {"acc": 0.6})
    assert [r["step"] for r in study.trial(t.number).reports] == [1, 2, 2.5]
    for bad in (torch.tensor([1, 2]), "3", True):
        with pytest.raises(mh.ConfigError, match="step must be a finite number"):
            study.report(t, bad, {"acc": 0.6})
    study.tell(t, {"acc": 0.5, "gap": 0.1}, status="pruned")
    assert study.trial(t.number).status is mh.TrialStatus.PRUNED
    with pytest.raises(mh.ConfigError, match="only a running trial reports"):
        study.report(t, 3, {"acc": 0.5})
    with pytest.raises(mh.ConfigError, match="pruner must be an mh.pruners.Pruner .*, None or False"):
        mh.Study(_space(), [mh.Maximize("acc")], pruner="moasha")


def test_a_misspelled_objective_in_a_report_is_refused_and_a_missing_one_logged_once(caplog):
    study = _study()
    t = study.ask()
    with pytest.raises(mh.ConfigError, match=r"'acuracy' looks like the objective 'acc' \(a typo\?\); expected the "
                                             r"objectives \['acc', 'gap'\], received \['acuracy', 'gap'\]"):
        study.report(t, 1, {"acuracy": 0.9, "gap": 0.1})
    assert study.trial(t.number).reports == []  # nothing stored, nothing judged
    with pytest.raises(mh.ConfigError, match="metric name 1 is a int; expected a string"):
        study.report(t, 1, {1: 0.5, "acc": 0.5, "gap": 0.1})
    with pytest.raises(mh.ConfigError, match=r"metrics must be a mapping of metric name to number, at least one; received float \(0.5\)"):
        study.report(t, 1, 0.5)
    with pytest.raises(mh.ConfigError, match=r"\(Optuna's order is report\(value, step\); here the step comes first and the "
                                             r"figures by name: trial.report\(3, \{'accuracy': 0.82\}\)\)$"):
        t.report(0.82, 3)  # Optuna's habit
    with pytest.raises(mh.ConfigError, match=r"step must be a finite number >= 0 .*received -0.35 \(Optuna's order"):
        t.report(-0.35, 3)  # a negative score in Optuna's order
    with pytest.raises(mh.ConfigError, match=r"metric 'phase' is not a number"):  # a report is for the pruner: figures only
        study.report(t, 1, {"acc": 0.5, "gap": 0.1, "phase": "warmup"})
    with pytest.raises(mh.ConfigError, match=r"at least one; received dict \(\{\}\)"):  # a report of nothing
        study.report(t, 1, {})
    with pytest.raises(mh.ConfigError, match=r"received Result .*; report its metrics: trial.report\(step, result.metrics\)"):
        study.report(t, 1, mh.Result({"acc": 0.5, "gap": 0.1}))
    # an objective left out on purpose (reported only at the end): allowed, logged once
    with caplog.at_level("WARNING", logger="moo_hpo"):
        assert study.report(t, 1, {"acc": 0.5, "train_loss": 0.7}) is False
        study.report(t, 2, {"acc": 0.6, "train_loss": 0.6})
    logged = [r.getMessage() for r in caplog.records if "without the objective" in r.getMessage()]
    assert len(logged) == 1 and "['gap']" in logged[0] and "judges a report on the objectives it carries" in logged[0]
    with pytest.raises(mh.ConfigError, match="unknown trial #0; this study has no trials yet"):
        _study().report(0, 1, {"acc": 0.5, "gap": 0.1})
    other = _study()
    other.report(other.ask(), 1, {"acc_during_training": 0.9, "gap": 0.1})  # a metric that begins like an objective: no typo


def test_report_outside_a_study_keeps_the_reports_and_never_prunes():
    t = mh.Trial(number=0, config={"x": 0.1})
    assert train({"x": 0.1, "y": 0.2}, t)["acc"] > 0.8
    assert [r["step"] for r in t.reports] == list(range(1, 10)) and not t.should_prune()


def test_worker_processes_send_reports_and_get_the_pruners_answers():
    def fn(config, trial):
        out = train(config, trial)
        return {**out, "pid": os.getpid(), "seen": len(trial.reports)}  # the worker's copy saw its reports

    study = _study()
    study.optimize(fn, n_trials=16, n_workers=2, show_progress=False)
    assert study.count("pruned") and study.count("complete")
    assert len({t.metrics["pid"] for t in study.trials}) == 2 and os.getpid() not in {t.metrics["pid"] for t in study.trials}
    assert all(t.reports and [r["step"] for r in t.reports] == list(range(1, len(t.reports) + 1)) for t in study.trials)
    assert all(t.metrics["seen"] == len(t.reports) for t in study.trials)
    # the workers stopped exactly where the driver's pruner said so
    assert all(len(t.reports) < 9 for t in study.trials if t.status is mh.TrialStatus.PRUNED)


@pytest.mark.parametrize("n_workers", [1, 2])
def test_a_nan_in_a_metric_the_study_does_not_use_is_left_out_of_the_report(n_workers, caplog):
    # a diverged val_loss failed the trial mid-training, where the same NaN in a final result is left out
    def fn(config, trial):
        for epoch in range(1, 4):
            trial.report(epoch, {"acc": config["x"], "gap": config["y"], "val_loss": float("nan")})
        if trial.number == 2:
            trial.report(4, {"acc": float("inf"), "gap": config["y"]})  # an objective's: refused in the objective
        return {"acc": config["x"], "gap": config["y"], "size_kb": 1.0}

    study = _study(pruner=mh.pruners.MOASHA(4, 12, 3))  # rungs at 4 and 12: nothing stops in 3 steps
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(fn, n_trials=4, n_workers=n_workers, show_progress=False)
    assert [t.status for t in study.trials] == [mh.TrialStatus.COMPLETE] * 2 + [mh.TrialStatus.FAILED, mh.TrialStatus.COMPLETE]
    assert "metric 'acc' is inf" in study.trials[2].error
    assert all(r["metrics"].keys() == {"acc", "gap"} for t in study.trials for r in t.reports)
    assert "metric(s) ['val_loss'] were NaN or infinite in its report at step 1 and are left out" in caplog.text


def test_the_reports_of_a_trial_whose_worker_crashed_are_kept(tmp_path):
    def fn(config, trial):
        trial.report(1, {"acc": 0.2, "gap": 0.2})
        trial.report(2, {"acc": 0.3, "gap": 0.2})
        if trial.number == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-training
        return {"acc": 0.3, "gap": 0.2, "size_kb": 1.0}

    study = _study(tmp_path / "s.db", pruner=mh.pruners.DominatedPruner())
    study.optimize(fn, n_trials=3, n_workers=2, show_progress=False)
    crashed = study.trial(1)
    assert crashed.status is mh.TrialStatus.FAILED and "worker process ended" in crashed.error
    study.close()
    again = mh.Study.load(tmp_path / "s.db", read_only=True)
    assert [r["step"] for r in again.trial(1).reports] == [1, 2]


def test_an_error_after_the_pruner_said_stop_stays_a_failure():
    def fn(config, trial):
        trial.report(1, {"acc": 0.1, "gap": 0.9})
        if trial.should_prune():
            raise ValueError("diverged while stopping")
        return {"acc": 0.1, "gap": 0.9, "size_kb": 1.0}

    study = _study(pruner=mh.pruners.DominatedPruner(min_reports=1, margin=0.0))
    study.tell(study.ask(), {"acc": 0.9, "gap": 0.1, "size_kb": 1.0})
    t = study.ask()
    study.report(t, 1, {"acc": 0.9, "gap": 0.1})  # a better report at step 1 for the others to lose to
    study.tell(t, {"acc": 0.9, "gap": 0.1, "size_kb": 1.0})
    study.optimize(fn, n_trials=2, show_progress=False)
    assert [x.status for x in study.trials[2:]] == [mh.TrialStatus.FAILED] * 2
    assert "diverged while stopping" in study.trials[2].error
    with pytest.raises(ValueError, match="diverged"):
        study.optimize(fn, n_trials=1, catch=(), show_progress=False)


def test_a_pruned_trial_keeps_its_last_reported_metrics_under_what_it_returned_and_its_extra():
    def fn(config, trial):
        trial.report(1, {"acc": 0.2, "gap": 0.3})
        return mh.Result({"size_kb": 5.0}, extra={"note": "stopped early"})  # returns no objective

    study = _study(pruner=mh.pruners.DominatedPruner(min_reports=1, margin=0.0))
    t = study.ask()
    study.report(t, 1, {"acc": 0.9, "gap": 0.1})
    study.tell(t, {"acc": 0.9, "gap": 0.1, "size_kb": 1.0})
    study.optimize(fn, n_trials=1, show_progress=False)
    pruned = study.trials[-1]
    assert pruned.status is mh.TrialStatus.PRUNED
    assert pruned.metrics == {"acc": 0.2, "gap": 0.3, "size_kb": 5.0} and pruned.extra["note"] == "stopped early"


def test_ask_tell_reports_reach_the_study_and_its_store(tmp_path):
    study = _study(tmp_path / "s.db")
    t = study.ask()
    t.report(1, {"acc": 0.5, "gap": 0.1})
    t.report(2, {"acc": 0.6, "gap": 0.1})
    assert not t.should_prune()
    study.tell(t, {"acc": 0.6, "gap": 0.1, "size_kb": 1.0})
    study.close()
    with mh.Study.load(tmp_path / "s.db", read_only=True) as again:
        assert [r["step"] for r in again.trial(0).reports] == [1, 2]


def test_a_pruner_moo_hpo_cannot_rebuild_leaves_the_study_readable(tmp_path, caplog):
    class StopAfter(mh.pruners.Pruner):
        name = "stop_after"

        def __init__(self, steps: int = 2) -> None:
            self.steps = steps

        def decide(self, number, step, metrics):
            return mh.pruners.Decision(step >= self.steps, "enough")

    study = _study(tmp_path / "s.db", pruner=StopAfter())
    study.optimize(train, n_trials=3, show_progress=False)
    assert study.count("pruned") == 3
    study.close()
    with mh.Study.load(tmp_path / "s.db", read_only=True) as view:
        assert view.pruner is None and view.count("pruned") == 3
    with caplog.at_level("WARNING", logger="moo_hpo"):
        resumed = mh.Study.load(tmp_path / "s.db")
    assert "cannot rebuild" in caplog.text and resumed.pruner is None
    resumed.close()


def test_repeated_runs_are_not_pruned(tmp_path):
    def noisy(config, trial):
        import random

        rng = random.Random(trial.seed)
        return train(config, trial) | {"acc": (1 - config["x"]) * 0.99 + 0.05 * rng.random()}

    study = _study()
    study.optimize(noisy, n_trials=15, show_progress=False)
    repeats = study.reevaluate(noisy, top_k=2, repeats=3, show_progress=False)
    assert len(repeats) == 6 and all(t.status is mh.TrialStatus.COMPLETE and len(t.reports) == 9 for t in repeats)
    assert study.pruner is not None  # back for the trials to come


def test_a_resumed_study_can_go_on_without_its_pruner(tmp_path):
    first = _study(tmp_path / "s.db")
    first.optimize(train, n_trials=6, show_progress=False)
    first.close()
    resumed = mh.Study.load(tmp_path / "s.db", pruner=False)
    assert resumed.pruner is None
    resumed.optimize(train, n_trials=4, show_progress=False)
    assert all(t.status is mh.TrialStatus.COMPLETE and len(t.reports) == 9 for t in resumed.trials[6:])
    resumed.close()


def test_a_resumed_study_left_without_its_pruner_stays_so(tmp_path):
    first = _study(tmp_path / "s.db")
    first.optimize(train, n_trials=6, show_progress=False)
    first.close()
    mh.Study.load(tmp_path / "s.db", pruner=False).close()
    with mh.Study.load(tmp_path / "s.db") as again:
        assert again.pruner is None  # pruner=False was recorded, not only for that opening


def test_setting_a_pruner_on_an_open_study_works_as_passing_it(tmp_path):
    study = _study(tmp_path / "s.db", pruner=False)
    study.optimize(train, n_trials=4, show_progress=False)
    study.pruner = mh.pruners.MOASHA(1, 9, 3)  # every later trial failed: the pruner was never set up
    study.optimize(train, n_trials=12, show_progress=False)
    assert study.count("failed") == 0 and study.count("pruned") > 0
    study.pruner = None
    study.optimize(train, n_trials=3, show_progress=False)
    assert all(t.status is mh.TrialStatus.COMPLETE for t in study.trials[-3:])
    study.pruner = mh.pruners.DominatedPruner(max_resource=9)
    study.close()
    with mh.Study.load(tmp_path / "s.db") as again:
        assert isinstance(again.pruner, mh.pruners.DominatedPruner)  # recorded, as pruner= is


def test_an_optimizers_noise_check_repeat_is_not_pruned():
    # the repeat reports the very points its original did, which MOASHA ranks last as a copy: it was pruned
    # at the first rung every time, and the optimizer never learned that the metrics are exact
    from moo_hpo.optimizers import make_optimizer
    from moo_hpo.robust import REPEAT_OF
    from tests.optimizers.bayesian.studies import FAST

    study = mh.Study(_space(), [mh.Maximize("acc"), mh.Minimize("gap")], [mh.AtMost("size_kb", 50.0)], seed=0,
                     optimizer=make_optimizer("ehvi", FAST), pruner=mh.pruners.MOASHA(1, 9, 3))
    study.optimize(train, n_trials=7, show_progress=False)
    repeats = [t for t in study.trials if REPEAT_OF in t.extra]
    assert len(repeats) == 1 and repeats[0].status is mh.TrialStatus.COMPLETE and len(repeats[0].reports) == 9
    assert study.trials[-1].extra["optimizer"]["noise"] == "exact"


def test_one_pruner_instance_judges_for_one_open_study():
    pruner = mh.pruners.MOASHA(1, 9, 3)
    first = _study(pruner=pruner)
    second = mh.Study(_space(), [mh.Maximize("score")], optimizer="random", seed=0, pruner=pruner)
    assert first.pruner is pruner and second.pruner is not pruner and repr(second.pruner) == repr(pruner)
    assert [o.name for o in first.pruner.problem.objectives] == ["acc", "gap"]  # not rebound to the second study
    first.optimize(train, n_trials=12, show_progress=False)
    assert first.count("pruned") > 0  # judged on its own objectives (a pruner rebound to "score" judges nothing)
    assert all("ranked" in t.extra["pruned"] for t in first.trials if t.status is mh.TrialStatus.PRUNED)
    first.close()
    third = _study(pruner=pruner)
    assert third.pruner is pruner  # a closed study hands it on


def test_a_bound_broken_at_the_last_step_leaves_the_trial_complete_and_infeasible():
    def fn(config, trial):
        for epoch in range(1, 10):
            trial.report(epoch, {"acc": 0.5, "gap": 0.1, **({"size_kb": 80.0} if epoch == 9 else {})})
            if trial.should_prune():
                break
        return {"acc": 0.5, "gap": 0.1, "size_kb": 80.0}

    study = _study()
    study.optimize(fn, n_trials=1, show_progress=False)
    (trial,) = study.trials
    assert trial.status is mh.TrialStatus.COMPLETE and trial.reports[-1]["step"] == 9
    assert study.feasible_trials() == [] and study.to_dataframe()["violation"].iloc[0] == pytest.approx(30.0)


def test_ask_tell_a_trial_the_pruner_stopped_is_told_pruned_with_its_reason_and_last_report(caplog):
    study = _study(pruner=mh.pruners.DominatedPruner(margin=0.0, min_reports=1))
    good = study.ask()
    study.report(good, 1, {"acc": 0.9, "gap": 0.1})
    bad = study.ask()
    assert study.report(bad, 1, {"acc": 0.5, "gap": 0.2})
    study.tell(bad, {"gap": 0.2}, status="pruned")
    record = study.trial(bad.number)
    assert record.status is mh.TrialStatus.PRUNED and record.metrics == {"acc": 0.5, "gap": 0.2}  # over its last report
    assert record.extra["pruned"] == study.prune_reason(bad)
    assert f"dominated by trial #{good.number} by at least the margin" in record.extra["pruned"]
    worse = study.ask()
    assert study.report(worse, 1, {"acc": 0.4, "gap": 0.3})
    study.tell(worse, status="pruned")  # no metrics: its last report's
    assert study.trial(worse.number).metrics == {"acc": 0.4, "gap": 0.3}
    early = study.tell(study.ask(), status="pruned")  # stopped before its first report, as TrialPruned does
    assert early.status is mh.TrialStatus.PRUNED and early.metrics == {} and early.extra["pruned"] == "told pruned (study.tell)"
    with caplog.at_level("WARNING", logger="moo_hpo"):
        for _ in range(2):  # trained on although the pruner said stop: complete, as the caller says, and logged once
            kept = study.ask()
            assert study.report(kept, 1, {"acc": 0.3, "gap": 0.3})
            study.tell(kept, {"acc": 0.3, "gap": 0.3, "size_kb": 1.0})
            assert study.trial(kept.number).status is mh.TrialStatus.COMPLETE and "pruned" not in study.trial(kept.number).extra
    (line,) = [r.getMessage() for r in caplog.records if "although the pruner said stop" in r.getMessage()]
    assert "status='pruned'" in line
    failed = study.ask()
    assert study.report(failed, 1, {"acc": 0.1, "gap": 0.9})
    assert study.tell(failed, error="diverged").status is mh.TrialStatus.FAILED  # an error stays a failure


def test_steps_beyond_max_resource_and_trials_that_end_at_a_rung_are_logged_once(caplog):
    def by_samples(config, trial):
        for epoch in range(1, 4):
            trial.report(1000 * epoch, {"acc": 0.5, "gap": config["y"]})
        return {"acc": 0.5, "gap": config["y"], "size_kb": 1.0}

    with caplog.at_level("WARNING", logger="moo_hpo"):
        _study().optimize(by_samples, n_trials=3, show_progress=False)
    beyond = [r.getMessage() for r in caplog.records if "beyond the pruner's max_resource" in r.getMessage()]
    assert len(beyond) == 1 and "step 1000" in beyond[0] and "max_resource 9" in beyond[0]
    caplog.clear()

    def nine_epochs(config, trial):  # the pruner is told 27
        for epoch in range(1, 10):
            trial.report(epoch, {"acc": (1 - config["x"]) * epoch / 9, "gap": config["y"]})
            if trial.should_prune():
                break
        return {"acc": (1 - config["x"]) * epoch / 9, "gap": config["y"], "size_kb": 1.0}

    with caplog.at_level("WARNING", logger="moo_hpo"):
        _study(pruner=mh.pruners.MOASHA(1, 27, 3)).optimize(nine_epochs, n_trials=6, show_progress=False)
    below = [r.getMessage() for r in caplog.records if "below the pruner's max_resource" in r.getMessage()]
    assert len(below) == 1 and "completed at step 9" in below[0] and "set max_resource to it" in below[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        _study().optimize(train, n_trials=6, show_progress=False)  # trials train to max_resource: nothing to say
    assert not [r for r in caplog.records if "max_resource" in r.getMessage()]


def test_a_changed_pruner_on_resume_is_named(tmp_path, caplog):
    db = tmp_path / "s.db"
    with _study(db) as study:
        study.optimize(train, n_trials=4, show_progress=False)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        mh.Study.load(db).close()  # the stored pruner again: nothing to say
        _study(db).close()
    assert not [r for r in caplog.records if "judges it from now on" in r.getMessage()]
    with caplog.at_level("WARNING", logger="moo_hpo"):
        mh.Study.load(db, pruner=mh.pruners.MOASHA(1, 27, 3)).close()
    (line,) = [r.getMessage() for r in caplog.records if "judges it from now on" in r.getMessage()]
    assert "moasha(min_resource=1, max_resource=9, reduction_factor=3)" in line and "max_resource=27" in line


def test_a_pruner_with_an_objective_that_takes_no_trial_is_named():
    def plain(config):
        return {"acc": 0.5, "gap": 0.1, "size_kb": 1.0}

    study = _study()
    with pytest.warns(UserWarning, match=r"the objective 'plain' takes no trial, so it cannot report.*fn\(config, trial\)"):
        study.optimize(plain, n_trials=1, show_progress=False)


def test_the_dataframe_gives_each_trials_last_step_why_it_was_pruned_and_what_it_broke():
    import pandas as pd

    study = _study()
    assert "last_step" not in study.to_dataframe().columns
    big = study.ask()
    study.report(big, 1, {"acc": 0.5, "gap": 0.1, "size_kb": 80.0})
    study.tell(big, status="pruned")
    done = study.ask()
    study.report(done, 9, {"acc": 0.5, "gap": 0.1})
    study.tell(done, {"acc": 0.5, "gap": 0.1, "size_kb": 10.0})
    df = study.to_dataframe().set_index("number")
    assert df.loc[big.number, "status"] == "pruned" and df.loc[big.number, "last_step"] == 1
    assert "breaks the hard bound" in df.loc[big.number, "pruned"] and df.loc[big.number, "violation"] == pytest.approx(30.0)
    assert df.loc[done.number, "last_step"] == 9 and pd.isna(df.loc[done.number, "pruned"]) and df.loc[done.number, "violation"] == 0


def test_an_objective_through_the_probes_that_is_not_given_the_trial_is_named():
    def fit(config, verbose=False):  # its second parameter has a default: the pipeline does not pass the trial
        return {"acc": 0.5, "gap": 0.1}

    study = mh.Study(_space(), [mh.Maximize("acc"), mh.Minimize("gap")], optimizer="random", seed=0,
                     pruner=mh.pruners.MOASHA(1, 9, 3))
    with pytest.warns(UserWarning, match="the objective 'fit' takes no trial"):
        study.optimize(fit, probes=[mh.objectives.ModelSize()], n_trials=1, show_progress=False, catch=(Exception,))


def test_a_run_whose_every_trial_the_pruner_stopped_says_so(caplog):
    # a bound on a metric that grows while training: every trial breaks it in a report and stops, none completes
    def growing_gap(config, trial):
        for epoch in range(1, 10):
            metrics = {"acc": config["x"], "gap": 0.05 * epoch + 0.01 * config["y"], "size_kb": 10.0}
            trial.report(epoch, metrics)
            if trial.should_prune():
                break
        return metrics

    study = mh.Study(_space(), [mh.Maximize("acc"), mh.Minimize("gap")], [mh.AtMost("gap", 0.1)],
                     optimizer="random", seed=0, pruner=mh.pruners.MOASHA(1, 9, 3))
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(growing_gap, n_trials=4, show_progress=False)
    assert study.count("pruned") == 4
    by_bound = sum("breaks the hard bound gap <= 0.1" in t.extra["pruned"] for t in study.trials)
    assert by_bound >= 1 and "the pruner stopped all 4 trials of this run" in caplog.text
    assert f"({by_bound} of them on a hard bound broken in a report" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        _study().optimize(train, n_trials=6, show_progress=False)
    assert "stopped all" not in caplog.text

    def own_rule(config, trial):
        trial.report(1, {"acc": config["x"], "gap": config["y"]})
        raise mh.TrialPruned()  # the objective's own early stopping

    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        mh.Study(_space(), [mh.Maximize("acc"), mh.Minimize("gap")], optimizer="random", seed=0).optimize(
            own_rule, n_trials=3, show_progress=False)
    said = " ".join(caplog.text.split())
    assert "the pruner" not in said and "raised TrialPruned in all 3 trials of this run, and the study has no pruner" in said
    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):  # with a pruner that never said stop: the stops are still the objective's
        _study().optimize(own_rule, n_trials=3, show_progress=False)
    said = " ".join(caplog.text.split())
    assert "the pruner stopped all" not in said
    study = _study()
    study.optimize(own_rule, n_trials=3, show_progress=False)
    own = sum(t.extra["pruned"] == "the objective raised TrialPruned" for t in study.trials)
    assert 0 < own < 3  # the first trial of the rung goes on: its stop is the objective's; later ones ranked out
    assert (f"the pruner stopped {3 - own} and the objective itself (raising TrialPruned before the pruner said stop) "
            f"{own} of the 3 trials of this run") in said

    def own_rule_first(config, trial):
        raise mh.TrialPruned()  # before any report: the pruner never judged it

    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        _study().optimize(own_rule_first, n_trials=3, show_progress=False)
    said = " ".join(caplog.text.split())
    assert "raised TrialPruned in all 3 trials of this run before the pruner said stop (these stops were the objective's own)" in said


def test_a_report_after_the_objective_returned_is_refused_not_kept_in_memory_only(tmp_path):
    kept = []

    def keeps_its_trial(config, trial):
        kept.append(trial)
        return train(config, trial)

    study = _study(tmp_path / "s.db")
    study.optimize(keeps_its_trial, n_trials=2, show_progress=False)
    steps = [r["step"] for r in study.trials[0].reports]
    with pytest.raises(mh.ConfigError, match=r"trial #0 is already (complete|pruned); only a running trial reports"):
        kept[0].report(50, {"acc": 0.9, "gap": 0.1})  # before: appended to the study's record, never stored
    assert [r["step"] for r in study.trials[0].reports] == steps
    study.close()
    with mh.Study.load(tmp_path / "s.db") as again, pytest.raises(mh.ConfigError, match="only a running trial reports"):
        again.trials[1].report(50, {"acc": 0.9, "gap": 0.1})  # a finished record from a reopened study
    writer = _study(tmp_path / "w.db")
    writer.ask()  # running in the writer
    view = mh.Study.load(tmp_path / "w.db", read_only=True)
    with pytest.raises(mh.StorageError, match="open read-only"):
        view.trials[0].report(1, {"acc": 0.5, "gap": 0.1})  # before: kept on the view's record, never stored
    assert view.trials[0].reports == [] and writer.trial(0).reports == []
    view.refresh()
    with pytest.raises(mh.StorageError, match="open read-only"):
        view.trials[0].report(1, {"acc": 0.5, "gap": 0.1})  # trials read again report through the view too
    view.close()
    writer.close()


def test_steps_below_zero_are_refused_and_huge_ones_stored(tmp_path):
    study = _study(tmp_path / "s.db")
    t = study.ask()
    with pytest.raises(mh.ConfigError, match=r"step must be a finite number >= 0 .*; received -5"):
        study.report(t, -5, {"acc": 0.5, "gap": 0.1})
    study.report(t, 0, {"acc": 0.5, "gap": 0.1})  # before training: a step of 0 is fine
    study.report(t, 1e300, {"acc": 0.6, "gap": 0.1})  # before: SQLite's integer overflowed, the trial failed
    study.tell(t, {"acc": 0.6, "gap": 0.1, "size_kb": 1.0})
    study.close()
    assert [r["step"] for r in mh.Study.load(tmp_path / "s.db", read_only=True).trials[0].reports] == [0, 1e300]


def test_a_trial_whose_reports_end_below_the_first_rung_is_said_never_judged(caplog):
    def from_zero(config, trial):  # an epoch counter from 0, and a pruner whose first rung is at 1
        for epoch in range(1):
            trial.report(epoch, {"acc": 1 - config["x"], "gap": config["y"]})
        return {"acc": 1 - config["x"], "gap": config["y"], "size_kb": 10.0}

    with caplog.at_level("WARNING", logger="moo_hpo"):
        _study().optimize(from_zero, n_trials=3, show_progress=False)
    said = " ".join(caplog.text.split())
    assert "trial 0 completed with its last report at step 0, below the pruner's first rung (step 1): the pruner never judged it" in said
    assert said.count("below the pruner's first rung") == 1  # logged once


def test_a_report_of_a_broken_hard_bound_alone_is_not_said_to_go_on(caplog):
    study = mh.Study(_space(), [mh.Maximize("acc"), mh.Minimize("gap")], [mh.AtMost("size_kb", 100.0)],
                     optimizer="random", seed=0, pruner=mh.pruners.MOASHA(1, 9, 3))
    t = study.ask()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        assert study.report(t, 1, {"size_kb": 500.0}) is True
    assert "size_kb = 500 breaks the hard bound size_kb <= 100" in study.prune_reason(t)
    assert "lets the trial go on" not in caplog.text  # before: logged, while the same report stopped it
    t2 = study.ask()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        assert study.report(t2, 1, {"size_kb": 50.0}) is False
    assert "none of the objectives ['acc', 'gap']: the pruner cannot rank such a report and lets the trial go on" in caplog.text

    class LetsAllGoOn(mh.pruners.Pruner):  # a user's pruner that never looks at bounds
        name = "lets_all_go_on"

        def decide(self, number, step, metrics):
            return mh.pruners.Decision(False)

    own = mh.Study(_space(), [mh.Maximize("acc"), mh.Minimize("gap")], [mh.AtMost("size_kb", 100.0)],
                   optimizer="random", seed=0, pruner=LetsAllGoOn())
    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        assert own.report(own.ask(), 1, {"size_kb": 500.0}) is False  # it goes on: the log says so
    assert "lets the trial go on" in caplog.text


def test_a_pruned_trials_extra_that_json_cannot_hold_is_kept_as_text():
    # a pruned trial's tell had no such fallback: its ConfigError stopped the whole run
    import datetime

    def fn(config, trial):
        train(config, trial)
        return mh.Result({"acc": config["x"], "gap": config["y"], "size_kb": 1.0}, extra={"when": datetime.date(2026, 12, 6)})

    study = _study()
    study.optimize(fn, n_trials=10, show_progress=False)
    assert study.count("pruned") and study.count("interrupted") == 0
    assert all(t.extra["when"] == "2026-12-06" for t in study.trials)


def test_a_stop_stands_through_later_reports(caplog):
    # before, a report at a step without a rung answered "go on" again: an objective that asked every other epoch
    # was never stopped, and its later reports joined later rungs
    def asks_every_other_epoch(config, trial):
        for epoch in range(1, 10):
            metrics = {"acc": (1 - config["x"]) * (1 - 0.5 ** epoch), "gap": config["y"]}
            trial.report(epoch, metrics)
            if epoch % 2 == 0 and trial.should_prune():
                break
        return {**metrics, "size_kb": 10.0}

    with caplog.at_level("WARNING", logger="moo_hpo"):
        every_other = _study()
        every_other.optimize(asks_every_other_epoch, n_trials=12, show_progress=False)
    every = _study()
    every.optimize(train, n_trials=12, show_progress=False)
    assert every.count("pruned") > 0
    assert every_other.count("pruned") == every.count("pruned")  # the same trials stop, one step later
    for late, on_time in zip(every_other.trials, every.trials, strict=True):
        assert late.status == on_time.status and late.extra.get("pruned") == on_time.extra.get("pruned")
        if late.status is mh.TrialStatus.PRUNED:
            assert late.reports[-1]["step"] == on_time.reports[-1]["step"] + 1
    assert "should_prune() stays True from then on; ask it after every report and stop training once it returns True" in caplog.text
    study = _study()  # ask/tell: the answer stays True, and the study's rungs never see the later reports
    answers = {}
    for _ in range(2):
        t = study.ask()
        answers[t.number] = [study.report(t, e, {"acc": 0.9 - 0.8 * t.number, "gap": 0.1}) for e in (1, 2, 3)]
        study.tell(t, status="pruned" if answers[t.number][-1] else None, metrics={"acc": 0.5, "gap": 0.1, "size_kb": 1.0})
    assert answers == {0: [False, False, False], 1: [True, True, True]}
    assert study.pruner._rungs[1] == {0: {"acc": 0.9 - 0.0, "gap": 0.1}}  # trial 1's step-3 report is not there
    never_asks = _study()  # trains every trial to max_resource: all complete, though stops were said on the way
    never_asks.optimize(lambda config, trial: [trial.report(e, {"acc": config["x"], "gap": config["y"]}) for e in range(1, 10)]
                        and {"acc": config["x"], "gap": config["y"], "size_kb": 1.0}, n_trials=8, show_progress=False)
    assert never_asks.count("complete") == 8


@pytest.mark.parametrize("pruner", [mh.pruners.MOASHA(1, 9, 3), mh.pruners.Hyperband(1, 9, 3), mh.pruners.DominatedPruner(margin=0.0, min_reports=1)])
@pytest.mark.parametrize("reopened", [False, True])
def test_the_retry_of_an_interrupted_trial_is_judged_as_that_trial_would_have_been_without_the_stop(tmp_path, pruner, reopened):
    # judged under its own number, a retry met its interrupted run's reports in the rungs and was stopped as a copy of
    # itself ("the same point as trial #0's report"): a member of the front lost to a Ctrl-C (MOASHA; the Hyperband
    # and DominatedPruner variants check that the retry keeps those pruners' decisions too)
    import copy

    without = _study(pruner=copy.deepcopy(pruner))
    without.optimize(train, n_trials=12, show_progress=False)
    target = next(t.number for t in without.trials[2:] if t.status is mh.TrialStatus.COMPLETE)  # a member of the front
    stopped = {"done": False}

    def train_stopped_once(config, trial):
        acc = 0.0
        for epoch in range(1, 10):
            acc = (1 - config["x"]) * (1 - 0.5 ** epoch)
            trial.report(epoch, {"acc": acc, "gap": config["y"]})
            if trial.number == target and epoch == 5 and not stopped["done"]:
                stopped["done"] = True
                raise KeyboardInterrupt  # Ctrl-C in the study's process, mid-trial
            if trial.should_prune():
                break
        return {"acc": acc, "gap": config["y"], "size_kb": 10.0}

    study = _study(tmp_path / "s.db", pruner=copy.deepcopy(pruner))
    with pytest.raises(KeyboardInterrupt):
        study.optimize(train_stopped_once, n_trials=12, show_progress=False)
    if reopened:
        study.close()
        study = mh.Study.load(tmp_path / "s.db")
    study.optimize(train_stopped_once, n_trials=12 - sum(t.status is not mh.TrialStatus.INTERRUPTED for t in study.trials),
                   show_progress=False)
    retry = next(t for t in study.trials if t.extra.get("retry_of") == target)
    assert retry.status is mh.TrialStatus.COMPLETE and [r["step"] for r in retry.reports] == list(range(1, 10))
    assert retry.config == without.trial(target).config


def test_a_misspelled_hard_constraint_metric_in_a_report_is_said_once(caplog):
    # a report may leave a bound's metric out, so a misspelled one went unnoticed and the bound was never checked; a
    # near name may be another metric of the user's, so it is logged, not refused
    study = _study()  # AtMost("size_kb", 50.0)
    t = study.ask()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        assert study.report(t, 1, {"acc": 0.5, "gap": 0.1, "size_k": 80.0}) is False
        study.report(t, 2, {"acc": 0.5, "gap": 0.1, "size_k": 80.0})
    said = [r.getMessage() for r in caplog.records if "looks like 'size_kb'" in r.getMessage()]
    assert said == ["trial 0 reported 'size_k', which looks like 'size_kb', the metric of a hard constraint: a report's "
                    "bound is checked under its exact name only (a typo?; logged once)"]
    assert study.report(t, 3, {"acc": 0.5, "gap": 0.1, "size_kb": 80.0}) is True  # the bound, spelled right, stops it
    study2 = mh.Study(_space(), [mh.Maximize("acc")], [mh.AtMost("flops", 1e9)], optimizer="random", seed=0)
    study2.report(study2.ask(), 1, {"acc": 0.5, "loss": 0.7})  # another metric near the bound's name: accepted

def test_a_pruned_trial_keeps_the_pandas_series_its_objective_returned():
    import pandas as pd

    study = _study(pruner=mh.pruners.DominatedPruner(margin=0.0, min_reports=1))

    def train_returning_a_series(config, trial):
        metrics = train(config, trial)
        return pd.Series({**metrics, "final_loss": 0.5})

    study.optimize(train_returning_a_series, n_trials=8, show_progress=False)
    pruned = [t for t in study.trials if t.status is mh.TrialStatus.PRUNED]
    assert pruned and all(t.metrics.get("final_loss") == 0.5 and t.metrics["size_kb"] == 10.0 for t in pruned)


def test_the_retry_of_a_trial_told_to_stop_before_the_study_stopped_stops_too(tmp_path):
    path = tmp_path / "s.db"
    study = _study(path)
    for acc in (0.9, 0.8, 0.85):  # better reports at the first rung
        t = study.ask()
        study.report(t, 1, {"acc": acc, "gap": 0.1})
        study.tell(t, {"acc": acc, "gap": 0.1, "size_kb": 1.0})
    stopped = study.ask()
    assert study.report(stopped, 1, {"acc": 0.1, "gap": 0.5}) is True  # told to stop; the study stopped first
    study.close()
    with mh.Study.load(path) as again:
        retry = again.ask()
        assert retry.extra["retry_of"] == stopped.number
        assert again.report(retry, 1, {"acc": 0.1, "gap": 0.5}) is True
        assert again.prune_reason(retry.number).endswith(f"(the decision on trial #{stopped.number}, which this trial runs again)")


def test_the_retry_of_a_trial_told_to_stop_at_a_later_rung_goes_on_until_that_rung(tmp_path):
    path = tmp_path / "s.db"
    study = _study(path)  # MOASHA(1, 9, 3): rungs at steps 1 and 3
    for acc in (0.1, 0.2, 0.9, 0.95):  # others: worse at step 1, better at step 3
        t = study.ask()
        study.report(t, 1, {"acc": acc / 10, "gap": 0.1})
        study.report(t, 3, {"acc": acc, "gap": 0.1})
        study.tell(t, {"acc": acc, "gap": 0.1, "size_kb": 1.0}, status="pruned" if study.should_prune(t) else None)
    stopped = study.ask()
    assert study.report(stopped, 1, {"acc": 0.5, "gap": 0.1}) is False  # the best at step 1
    assert study.report(stopped, 3, {"acc": 0.15, "gap": 0.1}) is True  # told to stop at step 3; the study stopped first
    study.close()
    with mh.Study.load(path) as again:
        retry = again.ask()
        assert again.report(retry, 1, {"acc": 0.5, "gap": 0.1}) is False  # it went on here: so does its retry
        assert again.report(retry, 3, {"acc": 0.15, "gap": 0.1}) is True
        assert again.prune_reason(retry.number).startswith("pruned at rung 2 of")


def test_a_pruner_with_an_objective_that_never_reports_is_warned_of_once():
    def silent(config, trial):  # takes the trial, never reports
        return {"acc": 0.5, "gap": 0.1, "size_kb": 1.0}

    study = _study()
    with pytest.warns(mh.MooHpoWarning, match=r"none of its first 3 complete trials reported intermediate metrics") as said:
        study.optimize(silent, n_trials=6, show_progress=False)
    assert sum("reported intermediate metrics" in str(w.message) for w in said) == 1

    def reporting(config, trial):
        trial.report(1, {"acc": 0.5, "gap": 0.1})
        return {"acc": 0.5, "gap": 0.1, "size_kb": 1.0}

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _study().optimize(reporting, n_trials=4, show_progress=False)  # reports: nothing said


def sleeps_then_stays_silent(config, trial):  # finishes out of order: trial 1 last of the first three
    import time

    time.sleep({0: 0.0, 1: 1.2, 2: 0.3}.get(trial.number, 0.0))
    return {"acc": 0.5, "gap": 0.1, "size_kb": 1.0}


def test_the_never_reports_warning_comes_when_parallel_trials_finish_out_of_order():
    study = _study()
    with pytest.warns(mh.MooHpoWarning, match=r"none of its first 3 complete trials reported") as said:
        study.optimize(sleeps_then_stays_silent, n_trials=3, n_workers=3, show_progress=False)
    assert sum("reported intermediate metrics" in str(w.message) for w in said) == 1
