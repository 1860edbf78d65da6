from __future__ import annotations

import functools
import itertools
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pandas as pd
import pytest

import moo_hpo as mh
from moo_hpo.optimizers import Capabilities, Optimizer, Proposal
from tests.conftest import mixed_space, two_objectives


def simple_study(**kw) -> mh.Study:
    space = mh.Space({"x": mh.Float(0.0, 1.0), "k": mh.Int(0, 3)})
    kw.setdefault("optimizer", "random")
    kw.setdefault("seed", 0)
    return mh.Study(space, [mh.Minimize("a"), mh.Maximize("b")], **kw)


def ab(config: dict) -> dict:
    return {"a": config["x"], "b": config["x"] ** 0.5 - 0.1 * config["k"]}


# ---------------------------------------------------------------- definition errors
def test_definition_errors():
    space = mh.Space({"x": mh.Float(0, 1)})
    with pytest.raises(mh.ConfigError, match="at least one objective"):
        mh.Study(space, [])
    with pytest.raises(mh.ConfigError, match="unique"):
        mh.Study(space, [mh.Minimize("a"), mh.Maximize("a")])
    with pytest.raises(mh.ConfigError, match="mh.Minimize"):
        mh.Study(space, ["a"])
    with pytest.raises(mh.ConfigError, match="mh.AtMost"):
        mh.Study(space, [mh.Minimize("a")], constraints=[("a", 1)])
    with pytest.raises(mh.ConfigError, match="unknown optimizer 'nope'"):
        mh.Study(space, [mh.Minimize("a")], optimizer="nope")
    with pytest.raises(mh.ConfigError, match=r"'auto' is chosen by the study once it knows its budget"):
        mh.optimizers.make_optimizer("auto")  # "unknown optimizer 'auto'; expected 'auto' or ..." before
    told = mh.Study(space, [mh.Minimize("a")], seed=0)
    assert told.tell(told.ask(), error=RuntimeError("out of memory")).error == "RuntimeError: out of memory"  # once
    with pytest.raises(mh.ConfigError, match="seed"):
        mh.Study(space, [mh.Minimize("a")], seed=1.5)
    with pytest.raises(mh.ConfigError, match="metric name"):
        mh.Minimize("")
    with pytest.raises(mh.ConfigError, match="finite"):
        mh.AtMost("a", float("nan"))
    with pytest.raises(mh.ConfigError, match="penalty"):
        mh.AtLeast("a", 1.0, soft=True, penalty=0)


class _SingleObjectiveOnly(Optimizer):
    name = "single"
    capabilities = Capabilities(max_objectives=1, constraints=False, categorical=False)

    def __init__(self) -> None:
        pass

    def ask(self, n, pending=()):
        return [Proposal(c) for c in self.problem.space.sample(n, seed=len(pending))]


def test_capabilities_checked_at_construction():
    with pytest.raises(mh.UnsupportedError) as info:
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("f1", 1)], optimizer=_SingleObjectiveOnly())
    msg = str(info.value)
    assert "'single'" in msg and "at most 1 objective" in msg and "hard constraints" in msg and "categorical" in msg


# ---------------------------------------------------------------- ask / tell
def test_tell_errors():
    study = simple_study()
    t = study.ask()
    with pytest.raises(mh.ConfigError, match="exactly one"):
        study.tell(t)
    with pytest.raises(mh.ConfigError, match="exactly one"):
        study.tell(t, {"a": 1, "b": 2}, error="x")
    with pytest.raises(mh.ConfigError, match="unknown trial #5"):
        study.tell(5, {"a": 1, "b": 2})
    study.tell(t, {"a": 1, "b": 2})
    with pytest.raises(mh.ConfigError, match="already complete"):
        study.tell(t, {"a": 1, "b": 2})
    with pytest.raises(mh.ConfigError, match="positive integer"):
        study.ask(0)


def test_a_refused_tell_leaves_the_trial_as_it_was(tmp_path):
    for storage in (None, tmp_path / "s.db"):
        study = simple_study(storage=storage)
        t = study.ask()
        with pytest.raises(mh.ConfigError, match=r"tell\(status=...\) expects one of \['complete', 'infeasible_skipped', 'pruned'\]"):
            study.tell(t, {"a": 1, "b": 2}, extra={"note": 1}, status="bogus")
        for reread in (False, True):
            if reread:
                study.refresh()  # what the store holds
            record = study.trials[t.number]
            assert record.status is mh.TrialStatus.RUNNING and record.finished_at is None
            assert "note" not in record.extra and record.metrics == {}
        # a value too large for a float is data about the run, not a crash of tell
        done = study.tell(t, {"a": 10**400, "b": 2})
        assert done.status is mh.TrialStatus.FAILED and "metric 'a' is not a number" in done.error


def test_trial_record_fields():
    study = simple_study(seed=3)
    t = study.ask()
    assert t.status is mh.TrialStatus.RUNNING and t.finished_at is None and t.started_at > 0
    done = study.tell(t, mh.Result({"a": 0.1, "b": 0.2, "extra_metric": 3}, extra={"groups": {"f": 1}}))
    assert done.metrics == {"a": 0.1, "b": 0.2, "extra_metric": 3.0}
    assert done.extra["groups"] == {"f": 1}
    assert set(done.extra) == {"groups", "optimizer"} and done.extra["optimizer"]["seconds"] >= 0.0
    assert done.finished_at >= done.started_at and done.duration >= 0
    assert done.optimizer == "random" and isinstance(done.seed, int)
    assert simple_study(seed=3).ask().seed == t.seed != simple_study(seed=4).ask().seed


def test_two_metrics_moo_hpo_measures_are_no_typo_of_each_other():
    from moo_hpo.trial import check_metrics

    _, error = check_metrics({"accuracy": 0.9, "eo_diff": 0.1}, ["accuracy", "tpr_diff"])
    assert error == ("missing metric(s) ['tpr_diff']; the objective returned ['accuracy', 'eo_diff'] (a FairnessGap probe "
                     "measures 'tpr_diff' only when asked for it: FairnessGap(..., metrics=[..., 'tpr_diff']))")
    assert check_metrics({"loss": 0.3}, ["accuracy"])[1] == "missing metric(s) ['accuracy']; the objective returned ['loss']"
    assert check_metrics({"a": 1.0}, ["holdout_eo_diff"])[1].endswith("when given a held-out split: FairnessGap(..., holdout=...))")
    assert "(an Accuracy probe measures 'f1' only when asked" in check_metrics({"a": 1.0}, ["f1"])[1]
    _, error = check_metrics({"accuracy": 0.9, "tpr_dif": 0.1}, ["accuracy", "tpr_diff"])
    assert error.endswith("('tpr_dif' looks like 'tpr_diff': a typo in a metric name?)")
    # a metric the study requires too is no typo of the one missing
    _, error = check_metrics({"latency_p50_ms": 1.0}, ["latency_p50_ms", "latency_p99_ms"])
    assert error == "missing metric(s) ['latency_p99_ms']; the objective returned ['latency_p50_ms']"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"a": float("nan"), "b": 1.0}, "metric 'a' is nan"),
        ({"a": 1.0, "b": float("inf")}, "metric 'b' is inf"),
        ({"a": 1.0}, "missing metric(s) ['b']"),
        ({"a": 1.0, "b": "high"}, "metric 'b' is not a number: a str ('high')"),  # said once, not as missing too
        ({"a": 1.0, "B": 2.0}, "missing metric(s) ['b']; the objective returned ['B', 'a'] ('B' looks like 'b'"),
        ({"a": 1.0, 2: 2.0}, "metric name 2 is a int; expected a string"),
        ([1.0, 2.0], "expected a mapping"),
        (None, "returned None"),
    ],
)
def test_bad_results_fail_the_trial_and_name_the_cause(result, expected):
    study = simple_study()
    study.optimize(lambda c: result, n_trials=2, show_progress=False)
    assert [t.status for t in study.trials] == [mh.TrialStatus.FAILED] * 2
    assert expected in study.trials[0].error
    if result == {"a": 1.0, "b": "high"}:  # a metric that is there but not a number is not called missing too
        assert "missing" not in study.trials[0].error


def test_a_metric_nothing_needs_that_is_nan_or_not_a_number_is_left_out_and_logged(caplog):
    # a label or a None beside the figures failed a finished training run, while a NaN there was left out
    study = simple_study()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(lambda c: {"a": 1.0, "b": 2.0, "note": "abc", "energy": None, "size": float("nan")}, n_trials=2,
                       show_progress=False)
    assert [(t.status, t.metrics) for t in study.trials] == [(mh.TrialStatus.COMPLETE, {"a": 1.0, "b": 2.0})] * 2
    (said,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]  # once
    assert ("trial 0: metric(s) ['note', 'energy', 'size'] came back NaN, infinite or not a number and are left out" in said
            and said.endswith("keep data other than figures with mh.Result(metrics, extra={...}) or trial.extra"))


def test_missing_constraint_metric_fails_the_trial():
    study = simple_study(constraints=[mh.AtMost("size_kb", 10)])
    study.optimize(ab, n_trials=1, show_progress=False)
    assert "missing metric(s) ['size_kb']" in study.trials[0].error


def test_exception_recorded_with_type_message_and_traceback():
    def fn(config):
        if config["k"] == 0:
            raise ValueError("learning rate too high")
        return ab(config)

    study = simple_study()
    study.optimize(fn, n_trials=20, show_progress=False)
    failed = [t for t in study.trials if t.status is mh.TrialStatus.FAILED]
    assert failed and all(t.config["k"] == 0 for t in failed)
    assert failed[0].error.startswith("ValueError: learning rate too high")
    assert "Traceback" in failed[0].error and "in fn" in failed[0].error
    assert study.count("complete") == 20 - len(failed)


def test_catch_empty_reraises_after_recording():
    study = simple_study()
    with pytest.raises(ZeroDivisionError):
        study.optimize(lambda c: 1 / 0, n_trials=3, catch=(), show_progress=False)
    assert len(study.trials) == 1 and study.trials[0].status is mh.TrialStatus.FAILED


def test_exception_outside_catch_reraises():
    study = simple_study()
    with pytest.raises(KeyError):
        study.optimize(lambda c: {}["x"], n_trials=3, catch=(ValueError,), show_progress=False)
    assert study.trials[0].error.startswith("KeyError")


def test_keyboard_interrupt_saves_finished_trials(tmp_path):
    calls = itertools.count()

    def fn(config):
        if next(calls) == 3:
            raise KeyboardInterrupt
        return ab(config)

    study = simple_study(storage=tmp_path / "s.db")
    with pytest.raises(KeyboardInterrupt):
        study.optimize(fn, n_trials=10, show_progress=False)
    study.close()
    again = mh.Study.load(tmp_path / "s.db")
    assert [t.status.value for t in again.trials] == ["complete"] * 3 + ["interrupted"]
    assert "interrupted" in again.trials[3].error


def test_fn_may_take_the_trial():
    seen = []

    def fn(config, trial):
        seen.append(trial.number)
        return ab(config)

    simple_study().optimize(fn, n_trials=3, show_progress=False)
    assert seen == [0, 1, 2]


def test_a_second_parameter_with_a_default_other_than_none_keeps_it():
    X_val = np.arange(3.0)
    seen = []

    def with_data(config, X=X_val, verbose=False):  # data bound as defaults: not replaced by the trial
        seen.append((X is X_val, verbose))
        return ab(config)

    def optional(config, t=None):  # an optional trial
        seen.append(t.number)
        return ab(config)

    simple_study().optimize(with_data, n_trials=2, show_progress=False)
    simple_study().optimize(optional, n_trials=2, show_progress=False)
    simple_study().optimize(lambda *args: seen.append(len(args)) or ab(args[0]), n_trials=1, show_progress=False)
    assert seen == [(True, False), (True, False), 0, 1, 2]


def keyword_only_trial(config, scale=1.0, *, trial):
    return {"a": config["x"] * scale, "b": float(trial.number)}


@pytest.mark.parametrize("n_workers", [1, 2])
def test_fn_may_take_the_trial_as_a_keyword_only_parameter(n_workers):
    study = simple_study()
    study.optimize(keyword_only_trial, n_trials=3, n_workers=n_workers, show_progress=False)
    assert [t.status.value for t in study.trials] == ["complete"] * 3
    assert sorted(t.metrics["b"] for t in study.trials) == [0.0, 1.0, 2.0]  # the trial, not the positional `scale`


def test_timeout_budget_stops_the_study():
    study = simple_study()
    t0 = time.monotonic()

    def slow(config):
        time.sleep(0.05)
        return ab(config)

    study.optimize(slow, timeout=0.3, show_progress=False)
    assert 0.3 <= time.monotonic() - t0 < 1.5
    assert 3 <= len(study.trials) <= 8


def test_callbacks_run_and_can_stop():
    seen = []

    def cb(study, trial):
        seen.append(trial.number)
        if trial.number == 4:
            study.stop("enough")

    study = simple_study()
    study.optimize(ab, n_trials=50, callbacks=[cb], show_progress=False)
    assert seen == [0, 1, 2, 3, 4] and len(study.trials) == 5


def test_progress_shows_without_a_terminal(capsys):
    simple_study(name="demo").optimize(ab, n_trials=5, show_progress=True)
    err = capsys.readouterr().err  # no terminal here: plain lines on standard error
    assert "demo: 5/5 trials" in err and "feasible 5" in err


def test_zero_trials_is_a_no_op():
    study = simple_study()
    study.optimize(ab, n_trials=0, show_progress=False)
    assert study.trials == []


# ---------------------------------------------------------------- processes
def test_workers_run_in_parallel_processes():
    def fn(config):
        t0 = time.time()
        time.sleep(0.2)
        return {**ab(config), "pid": os.getpid(), "t0": t0, "t1": time.time()}

    study = simple_study()
    study.optimize(fn, n_trials=6, n_workers=2, show_progress=False)
    assert study.count("complete") == 6
    assert len({t.metrics["pid"] for t in study.trials}) == 2  # two worker processes, each runs trials in turn
    assert os.getpid() not in {t.metrics["pid"] for t in study.trials}
    span = max(t.metrics["t1"] for t in study.trials) - min(t.metrics["t0"] for t in study.trials)
    assert span < 6 * 0.2  # the trials overlapped
    for t in study.trials:  # the metrics belong to the trial's own config
        assert t.metrics["a"] == t.config["x"]


def test_trial_timeout_stops_a_hung_trial():
    def fn(config):
        if config["k"] == 1:
            time.sleep(30)
        return ab(config)

    study = simple_study()
    t0 = time.monotonic()
    study.optimize(fn, n_trials=8, trial_timeout=0.5, show_progress=False)
    assert time.monotonic() - t0 < 10
    hung = [t for t in study.trials if t.config["k"] == 1]
    assert hung and all(t.status is mh.TrialStatus.FAILED and t.error.startswith("timeout") for t in hung)
    assert all(t.status is mh.TrialStatus.COMPLETE for t in study.trials if t.config["k"] != 1)


def test_crashed_worker_process_is_a_failed_trial():
    def fn(config):
        if config["k"] == 2:
            os._exit(3)
        return ab(config)

    study = simple_study()
    study.optimize(fn, n_trials=10, n_workers=2, show_progress=False)
    crashed = [t for t in study.trials if t.config["k"] == 2]
    assert crashed and all("exit code 3" in t.error for t in crashed)
    assert study.count("complete") == 10 - len(crashed)


def test_worker_exception_recorded_with_traceback():
    def fn(config):
        raise RuntimeError("boom in worker")

    study = simple_study()
    study.optimize(fn, n_trials=2, n_workers=2, show_progress=False)
    assert all(t.error.startswith("RuntimeError: boom in worker") and "Traceback" in t.error for t in study.trials)


# ---------------------------------------------------------------- results
def brute_force_front(points: np.ndarray) -> np.ndarray:
    n = len(points)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if np.all(points[j] <= points[i]) and np.any(points[j] < points[i]):
                keep[i] = False
    return keep


def test_pareto_front_is_feasible_and_non_dominated():
    study = mh.Study(
        mixed_space(),
        [mh.Minimize("f1"), mh.Minimize("f2")],
        [mh.AtMost("size_kb", 40.0)],
        optimizer="random",
        seed=1,
    )
    study.optimize(two_objectives, n_trials=80, show_progress=False)
    feasible = [t for t in study.trials if t.metrics["size_kb"] <= 40.0]
    assert 0 < len(feasible) < 80
    pts = np.array([[t.metrics["f1"], t.metrics["f2"]] for t in feasible])
    expected = [t.number for t, k in zip(feasible, brute_force_front(pts)) if k]
    assert [t.number for t in study.pareto_front()] == expected


def test_pareto_front_respects_maximize():
    study = simple_study()
    for x, b in [(0.1, 0.5), (0.2, 0.9), (0.3, 0.8), (0.05, 0.1)]:
        t = study.ask()
        study.tell(t, {"a": x, "b": b})
    assert [t.number for t in study.pareto_front()] == [0, 1, 3]


def test_soft_constraint_penalizes_optimizer_view_only():
    study = simple_study(constraints=[mh.AtMost("a", 0.5, soft=True, penalty=10.0)])
    t = study.ask()
    study.tell(t, {"a": 0.7, "b": 0.3})
    assert study.trials[0].metrics == {"a": 0.7, "b": 0.3}
    assert study.n_feasible == 1  # soft constraints never make a trial infeasible
    penalized = study.problem.objective_matrix(study.trials, penalized=True)
    np.testing.assert_allclose(penalized, [[0.7 + 2.0, -0.3 + 2.0]])
    np.testing.assert_allclose(study.problem.objective_matrix(study.trials), [[0.7, -0.3]])


def test_to_dataframe_columns():
    study = simple_study(constraints=[mh.AtMost("a", 0.5)])
    study.optimize(ab, n_trials=6, show_progress=False)
    t = study.ask()
    df = study.to_dataframe()
    assert len(df) == 7
    for col in ["number", "status", "params_x", "params_k", "metrics_a", "metrics_b", "feasible", "violation", "error", "duration_s", "optimizer"]:
        assert col in df.columns
    assert df["feasible"].sum() == study.n_feasible
    assert df.loc[df.number == t.number, "status"].item() == "running"


class _Buggy(Optimizer):
    name = "buggy"

    def __init__(self) -> None:
        pass

    def ask(self, n, pending=()):
        return [Proposal({"x": 5.0, "k": 1})]


def test_invalid_proposal_is_never_evaluated():
    calls = []
    study = simple_study(optimizer=_Buggy())
    study.optimize(lambda c: calls.append(c) or ab(c), n_trials=2, show_progress=False)
    assert calls == []
    assert all(t.status is mh.TrialStatus.FAILED and "invalid configuration" in t.error for t in study.trials)


def test_auto_choice_is_logged(caplog):
    import logging

    caplog.set_level(logging.INFO, logger="moo_hpo")
    study = simple_study(optimizer="auto")
    study.optimize(ab, n_trials=4, show_progress=False)
    assert "auto:" in study.optimizer_reason
    assert any("optimizer" in r.message for r in caplog.records)


# ---------------------------------------------------------------- storage and resume
def test_reopening_with_a_different_definition_is_refused(tmp_path):
    path = tmp_path / "s.db"
    simple_study(storage=path).close()
    space = mh.Space({"x": mh.Float(0.0, 2.0), "k": mh.Int(0, 3)})
    with pytest.raises(mh.ConfigError, match="different space"):
        mh.Study(space, [mh.Minimize("a"), mh.Maximize("b")], storage=path)
    space = mh.Space({"x": mh.Float(0.0, 1.0), "k": mh.Int(0, 3)})
    with pytest.raises(mh.ConfigError, match="different objectives"):
        mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], storage=path)
    with pytest.raises(mh.ConfigError, match="different constraints"):
        mh.Study(space, [mh.Minimize("a"), mh.Maximize("b")], [mh.AtMost("a", 1)], storage=path)
    with pytest.raises(mh.ConfigError, match=r"seed=0; received seed=9: leave seed out \(or give seed=0\) to resume it, or use another storage file"):
        mh.Study(space, [mh.Minimize("a"), mh.Maximize("b")], storage=path, seed=9)


@pytest.mark.parametrize(("first", "then"), [([3, 5], [3.0, 5.0]), ([0, 1], [False, True]), ([False, True], [0, 1])])
def test_choices_of_another_type_are_another_space(tmp_path, first, then):
    path = tmp_path / "s.db"
    objectives = [mh.Maximize("a"), mh.Minimize("b")]
    with mh.Study(mh.Space({"c": mh.Categorical(first), "x": mh.Float(0, 1)}), objectives, storage=path, seed=0,
                  optimizer="random") as study:
        study.optimize(lambda c: {"a": c["x"] + int(c["c"]), "b": 1 - c["x"]}, n_trials=3, show_progress=False)
    with pytest.raises(mh.ConfigError, match=rf"different space: parameter 'c' is .*{first!r}.* stored, .*{then!r}.* given"):
        mh.Study(mh.Space({"c": mh.Categorical(then), "x": mh.Float(0, 1)}), objectives, storage=path, optimizer="random")
    with mh.Study.load(path, optimizer="parego") as study:  # the file holds one type still: its model encodes it
        assert study.ask().config["c"] in first


def test_same_definition_resumes(tmp_path):
    path = tmp_path / "s.db"
    with simple_study(storage=path) as s:
        s.optimize(ab, n_trials=5, show_progress=False)
    with simple_study(storage=path, seed=None) as s:
        assert len(s.trials) == 5 and s.seed == 0
        s.optimize(ab, n_trials=5, show_progress=False)
        assert [t.number for t in s.trials] == list(range(10))


def test_load_errors(tmp_path):
    with pytest.raises(mh.StorageError, match="no study file"):
        mh.Study.load(tmp_path / "missing.db")


def test_load_without_rules_cannot_propose(tmp_path):
    path = tmp_path / "s.db"
    study = mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], storage=path, seed=0, optimizer="random")
    study.optimize(two_objectives, n_trials=3, show_progress=False)
    study.close()
    loaded = mh.Study.load(path)
    assert len(loaded.trials) == 3 and len(loaded.pareto_front()) >= 1
    with pytest.raises(mh.ConfigError, match="stored by name only"):
        loaded.ask()
    loaded.close()
    with mh.Study.load(path, space=mixed_space()) as resumed:
        resumed.ask()


KILL_SCRIPT = """
import sys, time
import moo_hpo as mh
space = mh.Space({"x": mh.Float(0.0, 1.0), "k": mh.Int(0, 3)})
study = mh.Study(space, [mh.Minimize("a"), mh.Maximize("b")], storage=sys.argv[1], seed=5, optimizer="sobol")
def fn(config):
    time.sleep(0.05)
    return {"a": config["x"], "b": config["x"] ** 0.5 - 0.1 * config["k"]}
study.optimize(fn, n_trials=30, show_progress=False)
"""


@pytest.mark.slow
def test_sigkill_then_resume_loses_nothing(tmp_path):
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILL_SCRIPT), str(path)])
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline:
        time.sleep(0.01)
        if path.exists():
            try:
                with mh.Study.load(path, read_only=True) as view:
                    done = view.count("complete")
            except (mh.StorageError, mh.ConfigError):
                continue
            if done >= 12:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert done >= 12
    with mh.Study.load(path, read_only=True) as view:
        before = [(t.number, t.config, t.metrics) for t in view.trials if t.status is mh.TrialStatus.COMPLETE]
    assert len(before) >= 12

    study = mh.Study.load(path)
    assert study.interrupted == [t.number for t in study.trials if t.error and "interrupted" in t.error]
    stored = len(study.trials)
    study.optimize(lambda c: {"a": c["x"], "b": c["x"] ** 0.5 - 0.1 * c["k"]}, n_trials=30 - len(before), show_progress=False)
    retries = study.trials[stored: stored + len(study.interrupted)]  # the killed run's running trials, first
    assert [t.extra.get("retry_of") for t in retries] == study.interrupted
    assert [t.config for t in retries] == [study.trials[n].config for n in study.interrupted]
    numbers = [t.number for t in study.trials]
    assert numbers == sorted(set(numbers)) == list(range(len(numbers)))
    assert study.count("complete") == 30
    assert study.count("running") == 0
    after = [(t.number, t.config, t.metrics) for t in study.trials if t.status is mh.TrialStatus.COMPLETE]
    assert after[: len(before)] == before
    study.close()


# ---------------------------------------------------------------- hypervolume and choices
def _hv_study(**kw):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    return mh.Study(space, [mh.Maximize("acc", ref=0.0), mh.Minimize("lat", ref=10.0)], optimizer="random", seed=0, **kw)


def _tell_all(study, rows):
    for row in rows:
        study.tell(study.ask(), row)


def test_hypervolume_with_explicit_reference_and_maximize():
    study = _hv_study(constraints=[mh.AtMost("lat", 8.0)])
    _tell_all(study, [{"acc": 0.5, "lat": 5.0}, {"acc": 0.8, "lat": 9.0}, {"acc": 0.9, "lat": 2.0}])
    # feasible: (0.5, 5) and (0.9, 2); (0.9, 2) dominates: box = 0.9 * (10 - 2)
    assert study.hypervolume() == pytest.approx(0.9 * 8.0)
    assert study.reference_point == {"acc": 0.0, "lat": 10.0} and study.reference_point_frozen
    assert study.hypervolume(ref={"acc": 0.5, "lat": 10.0}) == pytest.approx(0.4 * 8.0)
    np.testing.assert_allclose(study.hypervolume_history(), [0.5 * 5, 0.5 * 5, 0.9 * 8])
    with pytest.raises(mh.ConfigError, match=r"names \['latency'\], which is no objective; expected one value for each of"):
        study.hypervolume(ref={"acc": 0.5, "lat": 10.0, "latency": 5.0})  # a misspelt name is not ignored


def test_derived_reference_point_freezes_after_ten_feasible_trials(tmp_path):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0, storage=tmp_path / "s.db")
    _tell_all(study, [{"a": float(i), "b": float(9 - i)} for i in range(9)])
    assert not study.reference_point_frozen
    assert study.reference_point == pytest.approx({"a": 8.8, "b": 9.8})  # worst + 10% of the range
    _tell_all(study, [{"a": 20.0, "b": 20.0}])
    assert study.reference_point == pytest.approx({"a": 22.0, "b": 21.9})
    assert study.reference_point_frozen
    _tell_all(study, [{"a": 100.0, "b": 100.0}])
    assert study.reference_point == pytest.approx({"a": 22.0, "b": 21.9})  # frozen: unchanged
    study.close()
    assert mh.Study.load(tmp_path / "s.db").reference_point == pytest.approx({"a": 22.0, "b": 21.9})


@pytest.mark.parametrize("size_unit", [1.0, 1024.0])  # kB or bytes: the same pick
def test_the_least_violating_trial_is_judged_relative_to_each_bound(size_unit):
    # 3.5 kB over a 40 kB budget (9%) against 0.05 ms over a 0.2 ms one (25%): the sum in the metrics' own units
    # named the latency's trial, and in bytes any size overshoot outweighed every latency
    study = _hv_study(constraints=[mh.AtMost("size", 40.0 * size_unit), mh.AtMost("lat", 0.2)])
    _tell_all(study, [{"acc": 0.5, "size": 43.5 * size_unit, "lat": 0.1}, {"acc": 0.8, "size": 39.0 * size_unit, "lat": 0.25}])
    with pytest.raises(mh.NoFeasibleTrialError, match=r"the least violating is trial #0 \(over its bounds by 8.8% in all") as info:
        study.recommend()
    assert info.value.least_violating == 0
    zero = _hv_study(constraints=[mh.AtMost("lat", 0.0)])  # a bound of 0: no share of it to give
    _tell_all(zero, [{"acc": 0.5, "size": 1.0, "lat": 0.0236}])
    with pytest.raises(mh.NoFeasibleTrialError, match=r"the least violating is trial #0 \(breaks lat <= 0") as info:
        zero.recommend()
    assert "%" not in str(info.value)
    skipped = _hv_study(constraints=[mh.AtMost("size", 40.0 * size_unit), mh.AtMost("lat", 0.2)])
    for metrics in ({"size": 43.5 * size_unit}, {"lat": 0.25}):  # skipped before training, each on what it measured
        skipped.tell(skipped.ask(), metrics, status="infeasible_skipped")
    with pytest.raises(mh.NoFeasibleTrialError, match=r"trial #0 comes closest: size <= ") as info:
        skipped.recommend()
    assert info.value.least_violating == 0


def test_no_feasible_trial_names_the_least_violating():
    study = _hv_study(constraints=[mh.AtMost("lat", 1.0)])
    _tell_all(study, [{"acc": 0.5, "lat": 5.0}, {"acc": 0.8, "lat": 3.0}])
    with pytest.raises(mh.NoFeasibleTrialError, match="trial #1") as info:
        study.recommend()
    assert info.value.least_violating == 1 and "lat <= 1" in str(info.value)
    assert study.pareto_front() == []
    assert study.hypervolume() == 0.0
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    derived = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], [mh.AtMost("a", 0.0)], optimizer="random")
    _tell_all(derived, [{"a": 1.0, "b": 1.0}])
    with pytest.raises(mh.NoFeasibleTrialError, match="least violating is trial #0"):
        derived.reference_point


def test_recommend_methods_and_filters():
    study = _hv_study()
    _tell_all(study, [{"acc": 0.70, "lat": 1.0}, {"acc": 0.85, "lat": 3.0}, {"acc": 0.90, "lat": 8.0}, {"acc": 0.60, "lat": 4.0}])
    assert study.recommend("best", objective="acc").trial.number == 2
    assert study.recommend("best", objective="lat").trial.number == 0
    assert study.recommend("knee").trial.number == 1
    eps = study.recommend("best", objective="acc", constraints=[mh.AtMost("lat", 5.0)])
    assert eps.trial.number == 1 and "lat <= 5" in eps.reason and "acc=0.85" in eps.reason
    assert study.recommend("asf", weights={"acc": 10.0, "lat": 1.0}).trial.number == 2
    assert study.recommend("asf", weights={"acc": 1.0, "lat": 10.0}).trial.number == 0
    assert [r.method for r in study.recommendations(weights=[1, 1])] == ["knee", "best", "best", "asf"]
    with pytest.raises(mh.ConfigError, match="unknown method"):
        study.recommend("magic")
    with pytest.raises(mh.ConfigError, match="needs weights"):
        study.recommend("asf")
    with pytest.raises(mh.ConfigError, match="unknown objectives"):
        study.recommend("asf", weights={"speed": 1.0})
    with pytest.raises(mh.ConfigError, match=r"normalized=False applies to the method 'asf' only; method 'knee' works on"):
        study.recommend("knee", normalized=False)  # it was ignored
    with pytest.raises(mh.ConfigError, match=r"received \[0.0, 0.0\]$"):  # plain numbers, not np.float64(0.0)
        study.recommend("asf", weights={"acc": 0.0, "lat": 0.0})
    with pytest.raises(mh.ConfigError, match=r"names; did you mean 'lat'\? The trials measured"):
        study.recommend(constraints=[mh.AtMost("latt", 1.0)])
    with pytest.raises(mh.NoFeasibleTrialError, match="satisfies"):
        study.recommend(constraints=[mh.AtMost("lat", 0.5)])


def test_contributions_keyed_by_trial():
    study = _hv_study()
    _tell_all(study, [{"acc": 0.5, "lat": 5.0}, {"acc": 0.9, "lat": 8.0}, {"acc": 0.4, "lat": 6.0}])
    c = study.hypervolume_contributions()
    assert set(c) == {0, 1}
    assert c[0] == pytest.approx(0.5 * 3.0) and c[1] == pytest.approx(0.4 * 2.0)


def test_contributions_of_a_one_objective_study_are_the_best_trials_hypervolume():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("loss", ref=10.0)], optimizer="random", seed=0)
    _tell_all(study, [{"loss": 3.0}, {"loss": 1.0}, {"loss": 2.5}, {"loss": 12.0}])
    assert study.hypervolume_contributions() == {1: pytest.approx(9.0)}  # the front is the best trial alone
    alone = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("acc", ref=0.5)], optimizer="random", seed=0)
    _tell_all(alone, [{"acc": 0.8}])
    assert alone.hypervolume_contributions() == {0: pytest.approx(0.3)} and alone.hypervolume() == pytest.approx(0.3)


def test_a_reference_point_derived_from_values_near_the_floats_limit_names_the_trial():
    import sys

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    rows = [{"a": float(i), "b": 10.0 - i} for i in range(11)]
    rows[3]["a"] = sys.float_info.max  # a diverged model's sentinel
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from numpy on the way
        _tell_all(study, rows)
        with pytest.raises(mh.ConfigError, match=r"reference point of 'a' .* not a finite number: trial #3 measured 1.79769e\+308.*ref="):
            study.hypervolume()
    assert not study.problem.reference.is_frozen  # an infinite point is never stored
    study.set_reference_point({"a": 20.0, "b": 20.0})
    assert study.hypervolume() > 0


def test_a_one_objective_study_recommends_its_best_without_naming_it_and_asks_for_numpy_counts():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("loss")], optimizer="random", seed=0)
    _tell_all(study, [{"loss": 3.0}, {"loss": 1.0}, {"loss": 2.0}])
    assert study.recommend("best").trial.number == 1
    assert len(study.ask(np.int64(2))) == 2


def test_enqueued_configurations_are_asked_first_and_kept_in_the_file_until_they_run(tmp_path):
    space = mh.Space({"lr": mh.Float(1e-4, 1.0, log=True), "opt": mh.Categorical(["sgd", "adam"]),
                      "momentum": mh.Float(0.0, 0.9, active_if={"opt": "sgd"})})
    path = tmp_path / "s.db"
    with mh.Study(space, [mh.Minimize("loss")], storage=path, optimizer="random", seed=0) as study:
        study.enqueue({"lr": 0.01, "opt": "adam"})
        study.enqueue({"lr": np.float64(0.1), "opt": "sgd", "momentum": 0.9})  # NumPy values as theirs
        for bad, said in (({"lr": 2.0, "opt": "adam"}, "lr=2.0 is outside its domain"),
                          ({"lr": 0.1, "opt": "adam", "momentum": 0.5}, "'momentum' is inactive here"),
                          ({"lr": 0.1, "lr2": 0.1}, r"unknown parameter\(s\) \['lr2'\]"),
                          ([0.1, "sgd"], "expects a configuration")):
            with pytest.raises(mh.ConfigError, match=said):
                study.enqueue(bad)
        first = study.ask()
        assert first.config == {"lr": 0.01, "opt": "adam"} and first.optimizer == "enqueued"
        study.tell(first, {"loss": 1.0})
    with mh.Study.load(path) as study:  # the second one waited in the file
        second, third = study.ask(2)
        assert second.config == {"lr": 0.1, "opt": "sgd", "momentum": 0.9} and second.optimizer == "enqueued"
        assert third.optimizer == "random"
    with mh.Study.load(path, read_only=True) as view, pytest.raises(mh.StorageError, match="read-only"):
        view.enqueue({"lr": 0.01, "opt": "adam"})


def test_enqueue_skip_if_exists_queues_a_baseline_once_across_runs_of_a_script(tmp_path):
    space = mh.Space({"lr": mh.Float(1e-4, 1.0, log=True), "opt": mh.Categorical(["sgd", "adam"])})
    path = tmp_path / "s.db"
    for run in range(3):  # the same script run three times: its baselines run once
        with mh.Study(space, [mh.Minimize("loss")], storage=path, optimizer="random", seed=0) as study:
            queued = [study.enqueue({"lr": 0.01, "opt": "adam"}, skip_if_exists=True),
                      study.enqueue({"opt": "sgd", "lr": 0.1}, skip_if_exists=True)]
            assert queued == ([True, True] if run == 0 else [False, False])
            if run == 0:  # one ran, the other still queued when the first run stops
                study.optimize(lambda c: {"loss": c["lr"]}, n_trials=1, show_progress=False)
            else:
                study.optimize(lambda c: {"loss": c["lr"]}, n_trials=2, show_progress=False)
    with mh.Study.load(path, read_only=True) as study:
        enqueued = [t.config for t in study.trials if t.optimizer == "enqueued"]
        assert enqueued == [{"lr": 0.01, "opt": "adam"}, {"lr": 0.1, "opt": "sgd"}] and len(study.trials) == 5
    study = mh.Study(space, [mh.Minimize("loss")], optimizer="random", seed=0)
    assert study.enqueue({"lr": 0.01, "opt": "adam"}) and study.enqueue({"lr": 0.01, "opt": "adam"})  # by default: twice
    assert len(study.queued) == 2


def test_enqueue_draws_the_parameters_left_out_once_seeded_and_keeps_the_values_given(tmp_path, caplog):
    space = mh.Space({"lr": mh.Float(1e-4, 1.0, log=True), "width": mh.Int(8, 256), "opt": mh.Categorical(["sgd", "adam"]),
                      "momentum": mh.Float(0.0, 0.9, active_if={"opt": "sgd"})})

    def queue(path):
        with mh.Study(space, [mh.Minimize("loss")], storage=path, optimizer="random", seed=3) as study:
            with caplog.at_level(logging.INFO, logger="moo_hpo"):
                assert study.enqueue({"lr": 0.01})  # as Optuna's enqueue_trial: the rest sampled
            assert "drawn for the parameters not given" in caplog.text
            study.enqueue({"momentum": 0.5})  # a conditional value: its parent drawn so that it is active
            study.enqueue({"lr": 0.1, "opt": "sgd"})  # momentum, active, left out
            assert not study.enqueue({"lr": 0.01}, skip_if_exists=True)  # a queued configuration holds it
            return study.queued

    first = queue(tmp_path / "a.db")
    assert all(space.is_valid(c) for c in first) and first[0]["lr"] == 0.01
    assert first[1]["momentum"] == 0.5 and first[1]["opt"] == "sgd" and first[2]["opt"] == "sgd" and "momentum" in first[2]
    assert queue(tmp_path / "b.db") == first  # seeded by the study's seed: a script run again queues the same
    with mh.Study.load(tmp_path / "a.db") as study:  # kept complete in the file, and run as queued
        assert study.ask().config == first[0]
    study = mh.Study(space, [mh.Minimize("loss")], seed=3)
    with pytest.raises(mh.ConfigError, match=r"'momentum' is inactive here but has a value \(0.5\)"):
        study.enqueue({"opt": "adam", "momentum": 0.5})  # no draw could make it active
    with pytest.raises(mh.ConfigError, match="lr=3.0 is outside its domain"):
        study.enqueue({"lr": 3.0})
    with pytest.raises(mh.ConfigError, match="received an empty configuration"):
        study.enqueue({})
    row = {"params_lr": 0.01, "params_width": float("nan"), "params_opt": "adam"}  # a data frame's row is whole
    with pytest.raises(mh.ConfigError, match="missing value for active parameter 'width'"):
        study.enqueue(row)
    # the drawn values are not the optimizer's first proposal (its seed was the study's, as theirs was)
    own = mh.Study(space, [mh.Minimize("loss")], optimizer="random", seed=3)
    own.enqueue({"lr": 0.01})
    queued, proposed = own.queued[0], own.ask(2)[1].config
    assert (queued["width"], queued["opt"]) != (proposed["width"], proposed["opt"])
    # skip_if_exists with parameters left out: the queue's and the enqueued trials' values, not the optimizer's trials
    assert own.enqueue({"opt": proposed["opt"], "width": proposed["width"]}, skip_if_exists=True)
    # a conditional value whose parent takes one of many values: the parent is set, not drawn until it comes up
    rare = mh.Space({"arch": mh.Categorical([f"a{i}" for i in range(400)]), "depth": mh.Int(1, 8, active_if={"arch": "a7"})})
    rare_study = mh.Study(rare, [mh.Minimize("loss")], seed=0)
    rare_study.enqueue({"depth": 3})
    assert rare_study.queued == [{"arch": "a7", "depth": 3}]
    ruled = mh.Space({"a": mh.Int(0, 9), "b": mh.Int(0, 9)}, rules=[mh.Rule("a + b <= 9", lambda c: c["a"] + c["b"] <= 9)])
    ruled_study = mh.Study(ruled, [mh.Minimize("loss")], seed=0)
    ruled_study.enqueue({"a": 8})
    assert ruled_study.queued[0]["b"] <= 1  # the drawn values pass the space's rules
    assert study.queued == []


def test_a_row_of_the_data_frame_keeps_the_values_chosen_and_goes_back_into_enqueue():
    # before, a choice of None came back NaN (pandas' string columns) and an integer with inactive rows as a float,
    # which set_params and enqueue refused
    space = mh.Space({"class_weight": mh.Categorical([None, "balanced"]), "model": mh.Categorical(["lr", "hgb"]),
                      "depth": mh.Int(2, 12, active_if={"model": "hgb"}), "lr": mh.Float(0.01, 1.0)})
    study = mh.Study(space, [mh.Minimize("loss")], optimizer="random", seed=0)
    study.optimize(lambda c: {"loss": c["lr"]}, n_trials=12, show_progress=False)
    frame = study.to_dataframe()
    for t, (_, row) in zip(study.trials, frame.iterrows(), strict=True):
        assert row["params_class_weight"] == t.config["class_weight"]
        if "depth" in t.config:
            assert row["params_depth"] == t.config["depth"]
        else:
            assert row["params_depth"] is pd.NA
    assert None in frame["params_class_weight"].tolist() and str(frame["params_depth"].dtype) == "Int64"
    row = frame.iloc[int(np.flatnonzero(frame["params_model"] == "hgb")[0])]
    study.enqueue({k.removeprefix("params_"): v for k, v in row.items() if k.startswith("params_")})
    lr_row = frame.iloc[int(np.flatnonzero(frame["params_model"] == "lr")[0])]  # its depth <NA>: inactive
    study.enqueue({k.removeprefix("params_"): v for k, v in lr_row.items() if k.startswith("params_")})
    study.enqueue({"class_weight": None, "model": "hgb", "depth": 6.0, "lr": 0.5})  # an integral float
    with pytest.raises(mh.ConfigError, match=r"depth=6.5 is outside its domain .* expected an int"):
        study.enqueue({"class_weight": None, "model": "hgb", "depth": 6.5, "lr": 0.5})
    record = {k.removeprefix("params_"): v for k, v in lr_row.to_dict().items() if k.startswith("params_")}
    assert record["depth"] is None or record["depth"] is pd.NA  # pandas 3 gives None for <NA> in to_dict
    study.enqueue({**record, "depth": None})  # None for a number parameter: no value, as <NA>
    first, second, third, fourth = study.ask(4)
    assert first.config == study.trials[int(row["number"])].config
    assert second.config == study.trials[int(lr_row["number"])].config and "depth" not in second.config
    assert third.config["depth"] == 6 and type(third.config["depth"]) is int
    assert fourth.config == second.config
    study.enqueue(lr_row)  # the row itself, as to_dataframe gives it
    study.enqueue(lr_row.to_dict())
    assert [t.config for t in study.ask(2)] == [second.config, second.config]


def test_the_data_frame_of_a_study_with_an_invalid_configuration_kept_as_given():
    class Buggy(Optimizer):  # a user's optimizer that proposes a float for an integer parameter
        name = "buggy"

        def ask(self, n, pending=()):
            return [Proposal({"depth": 3.5, "lr": 0.1})]

        def tell(self, trials):
            pass

    study = mh.Study(mh.Space({"depth": mh.Int(2, 12), "lr": mh.Float(0.01, 1.0)}), [mh.Minimize("loss")],
                     optimizer=Buggy(), seed=0)
    assert study.ask().status is mh.TrialStatus.FAILED  # not evaluated, kept as given
    frame = study.to_dataframe()  # before, pandas refused to make an Int64 column of it: no frame at all
    assert frame["params_depth"].tolist() == [3.5]


# ---------------------------------------------------------------- tell never splits memory and disk
def test_an_extra_that_cannot_be_stored_leaves_the_trial_unchanged(tmp_path, caplog):
    study = simple_study(storage=tmp_path / "s.db")
    t = study.ask()
    with pytest.raises(mh.ConfigError, match="cannot be stored.*unchanged"):
        study.tell(t, ab(t.config), extra={"model": object()})
    assert study.trials[0].status is mh.TrialStatus.RUNNING
    study.tell(t, ab(t.config))  # told once, properly
    assert mh.Study.load(tmp_path / "s.db", read_only=True).trials[0].status is mh.TrialStatus.COMPLETE

    import datetime

    def fn(config):
        return mh.Result(ab(config), extra={"when": datetime.date(2026, 12, 6), "n": 3, "deep": [object()]})

    # through optimize the metrics are kept (they failed the trial), and a value JSON cannot hold as its text
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(fn, n_trials=2, show_progress=False)
    assert [t.status for t in study.trials[1:]] == [mh.TrialStatus.COMPLETE] * 2
    assert study.trials[1].metrics == ab(study.trials[1].config)
    assert study.trials[1].extra["when"] == "2026-12-06" and study.trials[1].extra["n"] == 3
    assert study.trials[1].extra["deep"][0].startswith("<object object")
    assert "trial 1: extra data JSON cannot hold (TypeError: Trial.extra must be JSON-able; received datetime.date(2026, 12, 6)" in caplog.text
    assert caplog.text.count("its metrics are kept") == 1  # logged once
    with mh.Study.load(tmp_path / "s.db", read_only=True) as stored:
        assert stored.trials[2].extra["when"] == "2026-12-06"


def test_metrics_must_be_numbers():
    import torch

    study = simple_study()
    outcomes = {
        "string": {"a": "0.9", "b": 1.0},
        "bool": {"a": True, "b": 1.0},
        "meta tensor": {"a": torch.empty((), device="meta"), "b": 1.0},
        "vector": {"a": np.array([1.0, 2.0]), "b": 1.0},
    }
    for label, metrics in outcomes.items():
        t = study.ask()
        study.tell(t, metrics)
        assert t.status is mh.TrialStatus.FAILED and "metric 'a'" in t.error, label
    t = study.ask()
    study.tell(t, {"a": np.float32(0.5), "b": torch.tensor(2.0)})  # NumPy and torch scalars are numbers
    assert t.status is mh.TrialStatus.COMPLETE and t.metrics == {"a": 0.5, "b": 2.0}
    study.optimize(lambda c: {"a": torch.empty((), device="meta"), "b": 1.0}, n_trials=1, show_progress=False)
    assert study.trials[-1].status is mh.TrialStatus.FAILED and "is not a number" in study.trials[-1].error


def test_contradictory_hard_constraints_are_warned_about():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    with pytest.warns(UserWarning, match="'size_kb' contradict.*<= 100 and >= 200"):
        mh.Study(space, [mh.Minimize("a")], [mh.AtMost("size_kb", 100), mh.AtLeast("size_kb", 200)])
    with pytest.warns(UserWarning, match=r"2 hard constraints bound 'eo_diff' <= \(0.05, 0.2\): only the tightest, 0.05, decides"):
        mh.Study(space, [mh.Minimize("a")], [mh.AtMost("eo_diff", 0.05), mh.AtMost("eo_diff", 0.2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a hard bound beside a soft one on the same metric: both mean something
        mh.Study(space, [mh.Minimize("a")], [mh.AtMost("eo_diff", 0.2), mh.AtMost("eo_diff", 0.05, soft=True)])


def test_a_refused_study_keeps_no_lock(tmp_path):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    mh.Study(space, [mh.Minimize("a")], storage=tmp_path / "s.db", seed=1).close()
    with pytest.raises(mh.ConfigError, match="seed=1"):
        mh.Study(space, [mh.Minimize("a")], storage=tmp_path / "s.db", seed=2)  # refused: another seed
    mh.Study(space, [mh.Minimize("a")], storage=tmp_path / "s.db", seed=1).close()  # the file is free
    with pytest.raises(mh.ConfigError, match=r"\[0, 2\*\*63\)"):
        mh.Study(space, [mh.Minimize("a")], seed=-1)
    with pytest.raises(mh.ConfigError, match="trial_timeout"):
        mh.Study(space, [mh.Minimize("a")]).optimize(lambda c: {"a": 1.0}, n_trials=1, trial_timeout=float("inf"))


def test_a_store_with_an_option_since_removed_resumes(tmp_path, caplog):
    import sqlite3

    path = tmp_path / "s.db"
    study = simple_study(storage=path, optimizer=mh.optimizers.NSGA2(pop_size=8))
    study.optimize(ab, n_trials=4, show_progress=False)
    study.close()
    con = sqlite3.connect(path)  # as written by a moo_hpo that had the option
    con.execute("""UPDATE meta SET value = '{"name": "nsga2", "params": {"pop_size": 8, "n_offsprings": null, "gone": true}}'
                   WHERE key = 'optimizer'""")
    con.commit(), con.close()
    resumed = mh.Study.load(path)
    resumed.optimize(ab, n_trials=2, show_progress=False)
    assert resumed.optimizer.pop_size == 8 and "no longer takes: ['gone']" in caplog.text


# ---------------------------------------------------------------- misuse answered with moo_hpo errors
def test_a_closed_study_says_so(tmp_path):
    path = tmp_path / "s.db"
    with simple_study(storage=path) as study:
        study.optimize(ab, n_trials=2, show_progress=False)
    assert len(study.pareto_front()) >= 1  # results stay readable from memory
    for use in (study.ask, lambda: study.optimize(ab, n_trials=1, show_progress=False), study.refresh):
        with pytest.raises(mh.StorageError, match="was closed.*mh.Study.load"):
            use()


def test_tell_refuses_a_trial_of_another_study_and_odd_numbers():
    a, b = simple_study(seed=0), simple_study(seed=1)
    foreign, own = a.ask(), b.ask()
    with pytest.raises(mh.ConfigError, match="asked of another study"):
        b.tell(foreign, ab(foreign.config))
    assert own.status is mh.TrialStatus.RUNNING and not own.metrics
    for odd in ("0", 0.0, True, None):
        with pytest.raises(mh.ConfigError, match="expected a trial of this study or its number"):
            b.tell(odd, ab(own.config))
    assert b.tell(np.int64(0), ab(own.config)).status is mh.TrialStatus.COMPLETE
    twin_a, twin_b = simple_study(optimizer="sobol", seed=3), simple_study(optimizer="sobol", seed=3)
    same = twin_a.ask()
    twin_b.ask()
    assert same.config == twin_b.trial(0).config
    with pytest.raises(mh.ConfigError, match="was asked of another study"):
        twin_b.tell(same, ab(same.config))
    with pytest.raises(mh.ConfigError, match="has config .* but this study's trial #0 has"):
        twin_b.tell(mh.Trial(0, {"x": 0.123, "k": 1}), {"a": 1.0, "b": 1.0})  # a record rebuilt by hand


def test_count_names_the_statuses():
    with pytest.raises(mh.ConfigError, match="unknown trial status 'done'.*'complete'"):
        simple_study().count("done")


def test_one_constraint_or_none_is_accepted():
    space = mh.Space({"x": mh.Float(0, 1)})
    assert len(mh.Study(space, mh.Minimize("a"), mh.AtMost("a", 1)).constraints) == 1
    assert mh.Study(space, mh.Minimize("a"), None).constraints == ()
    with pytest.raises(mh.ConfigError, match="constraints must be a list"):
        mh.Study(space, mh.Minimize("a"), "a <= 1")


def test_hypervolume_history_has_one_value_per_trial_when_nothing_is_feasible():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], [mh.AtMost("a", -1)], seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=3, show_progress=False)
    assert study.hypervolume_history().tolist() == [0.0, 0.0, 0.0]
    assert study.hypervolume_history(ref={"a": 2, "b": 2}).tolist() == [0.0, 0.0, 0.0]


def test_reference_point_values_must_be_finite_numbers():
    study = simple_study()
    for bad in ({"a": float("nan"), "b": 0.0}, {"a": "x", "b": 0.0}, {"a": True, "b": 0.0}):
        with pytest.raises(mh.ConfigError, match="must be a finite number"):
            study.set_reference_point(bad)
    assert not study.reference_point_frozen


class _MyRandom(Optimizer):
    name = "myrandom"

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def setup(self, problem):
        super().setup(problem)
        self.rng = np.random.default_rng(problem.seed)

    def ask(self, n, pending=()):
        return [Proposal({"x": float(self.rng.random()), "k": int(self.rng.integers(0, 4))}) for _ in range(n)]


def test_a_study_of_an_optimizer_of_ones_own_reopens_and_asks_for_it_to_go_on(tmp_path):
    path = tmp_path / "custom.db"
    with simple_study(optimizer=_MyRandom(), storage=path) as study:
        study.optimize(ab, n_trials=4, show_progress=False)
    with mh.Study.load(path, read_only=True) as view:
        assert len(view.trials) == 4 and view.hypervolume() > 0 and "myrandom" in mh.report(view).to_markdown()
    with mh.Study.load(path) as again, pytest.raises(mh.ConfigError, match="optimizer 'myrandom'.*pass it again"):
        again.ask()
    with mh.Study.load(path, optimizer=_MyRandom()) as again:
        again.optimize(ab, n_trials=2, show_progress=False)
        assert len(again.trials) == 6


def test_one_optimizer_instance_configures_studies_that_do_not_share_it():
    given = mh.optimizers.RandomSearch()
    a = simple_study(optimizer=given, seed=1)
    b = mh.Study(mh.Space({"lr": mh.Float(1e-5, 1e-1, log=True)}), [mh.Minimize("f")], optimizer=given, seed=2)
    a.ask(), b.ask()
    assert set(a.ask().config) == {"x", "k"}  # not b's parameters
    assert a.optimizer is given and b.optimizer is not given  # the first study keeps the instance
    alone = simple_study(optimizer=mh.optimizers.RandomSearch(), seed=1)
    assert [alone.ask().config for _ in range(2)] == [t.config for t in a.trials]  # a proposes as if it were alone
    import pickle

    fresh = mh.optimizers.NSGA2(pop_size=8)
    simple_study(optimizer=fresh)
    assert pickle.loads(pickle.dumps(fresh)).get_params() == {"pop_size": 8, "n_offsprings": None}  # still pickles


def test_a_closed_study_hands_its_optimizer_instance_on(tmp_path):
    given = mh.optimizers.RandomSearch()
    first = simple_study(optimizer=given, storage=tmp_path / "s.db")
    first.optimize(ab, n_trials=2, show_progress=False)
    first.close()
    with mh.Study.load(tmp_path / "s.db", optimizer=given) as again:
        assert again.optimizer is given


def test_an_optimizer_of_ones_own_that_breaks_the_conventions_is_told_how():
    class Forgetful(_MyRandom):
        def __init__(self, scale: float = 1.0) -> None:
            self.factor = scale  # not kept as `scale`

    class Dicts(_MyRandom):
        def ask(self, n, pending=()):
            return [{"x": 0.5, "k": 1}]

    with pytest.raises(mh.ConfigError, match=r"takes \['scale'\] but keeps no attribute of that name.*self.scale = scale"):
        simple_study(optimizer=Forgetful()).ask()
    assert repr(Forgetful()) == "Forgetful()"
    with pytest.raises(mh.ConfigError, match=r"ask must return a list of mh.optimizers.Proposal\(config\); received dict"):
        simple_study(optimizer=Dicts()).ask()


def test_warnings_speak_in_the_metrics_units_and_come_once(recwarn):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a")], [mh.AtMost("size_kb", 100), mh.AtLeast("size_kb", 200)], seed=0)
    study.ask()
    assert sum("contradict" in str(w.message) for w in recwarn) == 1  # not again when the optimizer is set up
    study = simple_study()
    study.optimize(ab, n_trials=3, show_progress=False)
    with pytest.warns(RuntimeWarning, match=r"reference point \{'a': -1.0, 'b': 5.0\}") as caught:
        assert study.hypervolume(ref={"a": -1.0, "b": 5.0}) == 0.0
    assert caught[0].filename == __file__  # points at the caller's line


def test_a_changed_definition_is_named(tmp_path):
    path = tmp_path / "s.db"
    mh.Study(mh.Space({"lr": mh.Float(1e-4, 0.1, log=True), "k": mh.Int(1, 3)}), [mh.Minimize("a")], storage=path, seed=0).close()
    other = mh.Space({"lr": mh.Float(1e-5, 0.1, log=True), "depth": mh.Int(1, 3)})
    with pytest.raises(mh.ConfigError, match=r"parameter 'lr' is .*0.0001.* stored, .*1e-05.* given; parameter 'k' is only stored; parameter 'depth' is only given"):
        mh.Study(other, [mh.Minimize("a")], storage=path, seed=0)
    with pytest.raises(mh.ConfigError, match="parameter 'k' is only stored"):
        mh.Study.load(path, space=other)


def test_an_objective_that_needs_more_arguments_is_refused_before_any_trial():
    def three(a, b, c):
        return {"a": 1.0, "b": 1.0}

    study = simple_study()
    def keyword_only(config, *, scale):
        return ab(config)

    with pytest.raises(mh.ConfigError, match=r"optimize calls fn\(config\) or fn\(config, trial\); the objective 'three' takes \(a, b, c\)"):
        study.optimize(three, n_trials=3, show_progress=False)
    with pytest.raises(mh.ConfigError, match=r"takes \(config, \*, scale\)"):
        study.optimize(keyword_only, n_trials=3, show_progress=False)
    assert study.trials == []

    def injected(f):  # a decorator that supplies an argument: its own signature is the one called
        @functools.wraps(f)
        def wrapper(config, trial=None):
            return f(config, trial, 0.0)

        return wrapper

    study.optimize(injected(lambda config, trial, shift: ab(config)), n_trials=1, show_progress=False)
    study.optimize(functools.partial(lambda config, shift: ab(config), shift=1.0), n_trials=1, show_progress=False)
    assert study.count("complete") == 2
    study.optimize(lambda config, trial, verbose=False: ab(config), n_trials=1, show_progress=False)  # defaults are fine
    assert study.count("complete") == 3


def test_what_cannot_be_kept_says_where_it_goes(caplog):
    study = simple_study()
    study.optimize(lambda c: mh.Result(ab(c), extra={"model": object()}), n_trials=1, show_progress=False)
    assert study.trials[0].status is mh.TrialStatus.COMPLETE  # its metrics kept, the model as its text
    assert study.trials[0].extra["model"].startswith("<object object at")
    with caplog.at_level("WARNING", logger="moo_hpo"):  # a label beside the metrics: left out, saying where it goes
        study.optimize(lambda c: {**ab(c), "note": "hi"}, n_trials=1, show_progress=False)
    assert study.trials[1].status is mh.TrialStatus.COMPLETE and "note" not in study.trials[1].metrics
    assert "keep data other than figures with mh.Result(metrics, extra={...})" in caplog.text
    study.optimize(lambda c: {"a": "hi", "b": 1.0}, n_trials=1, show_progress=False)  # an objective's: the trial fails
    assert "keep other data with mh.Result(metrics, extra={...})" in study.trials[2].error
    # a required metric missing: a value that is not a number may be its typo, so it is named, not left out
    t = study.ask()
    study.tell(t, {"aa": "0.91", "b": 1.0})
    assert t.error.startswith("metric 'aa' is not a number: a str ('0.91')") and "missing metric(s) ['a']" in t.error


def test_a_study_stored_with_a_penalty_on_a_hard_constraint_still_opens(tmp_path):
    """Such a penalty is refused in new code (it did nothing); files written before must still open."""
    from moo_hpo.constraints import Constraint

    path = tmp_path / "old.db"
    space = mh.Space({"x": mh.Float(0, 1)})
    old = Constraint("c", "at_most", 1.0, False, 2.0)  # what AtMost("c", 1, penalty=2) used to build
    with mh.Study(space, [mh.Minimize("a")], [old], storage=path, seed=0) as study:
        study.optimize(lambda c: {"a": c["x"], "c": 0.5}, n_trials=2, show_progress=False)
    with mh.Study.load(path, read_only=True) as view:
        assert view.count("complete") == 2 and view.constraints[0].penalty == 2.0


def test_a_skip_before_training_must_break_a_hard_bound():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a")], [mh.AtMost("size_kb", 5.0), mh.AtMost("energy", 1.0, soft=True)], seed=0)
    fits, breaks, unmeasured = study.ask(), study.ask(), study.ask()
    with pytest.raises(mh.ConfigError, match=r"trial #0: status='infeasible_skipped' is for a trial whose pre-training "
                       r"metrics break a hard constraint; the metrics given \({'size_kb': 3.0}\) break none of \['size_kb <= 5'\]"):
        study.tell(fits, {"size_kb": 3.0}, status="infeasible_skipped")
    with pytest.raises(mh.ConfigError, match="status='infeasible_skipped' is for a trial whose"):  # a numpy value too
        study.tell(fits, {"size_kb": np.float32(3.0)}, status="infeasible_skipped")
    assert study.trials[0].status is mh.TrialStatus.RUNNING  # left as it was, to be told again
    assert study.tell(fits, {"a": 0.1, "size_kb": 3.0, "energy": 0.5}).status is mh.TrialStatus.COMPLETE
    assert study.tell(breaks, {"size_kb": 9.0}, status="infeasible_skipped").status is mh.TrialStatus.INFEASIBLE_SKIPPED
    # a bound left unmeasured may be what the skip rests on (a soft one is no reason)
    assert study.tell(unmeasured, {"energy": 0.5}, status="infeasible_skipped").status is mh.TrialStatus.INFEASIBLE_SKIPPED
    free = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a")], seed=0)
    with pytest.raises(mh.ConfigError, match=r"break nothing \(the study has no hard constraints\)"):
        free.tell(free.ask(), {"a": 1.0}, status="infeasible_skipped")


def test_a_nan_in_a_metric_the_study_uses_fails_the_trial_whatever_its_status():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a")], [mh.AtMost("energy", 5.0)], seed=0)
    pruned, skipped, fine = study.ask(), study.ask(), study.ask()
    assert study.tell(pruned, {"a": float("nan")}, status="pruned").status is mh.TrialStatus.FAILED
    assert study.tell(skipped, {"energy": float("nan")}, status="infeasible_skipped").status is mh.TrialStatus.FAILED
    done = study.tell(fine, {"a": 0.5, "energy": 1.0, "loss": float("inf")})
    assert done.status is mh.TrialStatus.COMPLETE and "loss" not in done.metrics


def test_plain_progress_counts_every_trial_in_its_hypervolume_and_says_what_it_waits_for(capsys, monkeypatch):
    import re

    from moo_hpo.execution import progress

    study = simple_study(name="plain")
    study.optimize(ab, n_trials=30, show_progress=True)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "plain: 30/30 trials" in last
    assert float(re.search(r"HV (\S+) \|", last).group(1)) == pytest.approx(study.hypervolume(), rel=1e-3)
    monkeypatch.setattr(progress, "PLAIN_LINE_SECONDS", 0.2)

    def slow(config):
        time.sleep(0.6)
        return ab(config)

    study.optimize(slow, n_trials=2, show_progress=True)
    assert "still working: 1 trial running" in capsys.readouterr().err


def test_a_study_loaded_read_only_because_it_is_being_written_says_so_when_written(tmp_path):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    writer = mh.Study(space, [mh.Minimize("a")], storage=tmp_path / "s.db", seed=0)
    writer.optimize(lambda c: {"a": c["x"]}, n_trials=1, show_progress=False)
    again = mh.Study.load(tmp_path / "s.db")  # the writer is still open: a read-only view
    with pytest.raises(mh.StorageError, match=r"open read-only \(Study.load opened it so: an unclosed Study in this process "
                                              r"is writing it; load it again once that writer is closed\)"):
        again.optimize(lambda c: {"a": c["x"]}, n_trials=1, show_progress=False)
    again.close()
    writer.close()
    with mh.Study.load(tmp_path / "s.db") as resumed:
        resumed.optimize(lambda c: {"a": c["x"]}, n_trials=1, show_progress=False)
        assert len(resumed.trials) == 2
    with mh.Study.load(tmp_path / "s.db", read_only=True) as view, pytest.raises(mh.StorageError) as refused:
        view.ask()
    assert "Study.load opened it so" not in str(refused.value)  # asked for read-only: nothing to explain


def test_a_derived_reference_tighter_than_a_hard_limit_on_the_objective_is_logged(caplog):
    space = mh.Space({"x": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb")], [mh.AtMost("size_kb", 50.0)], optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        for t in study.ask(10):  # the first ten feasible trials are all small: the reference freezes near 21
            study.tell(t, {"accuracy": t.config["x"], "size_kb": 1.0 + 18.0 * t.config["x"]})
    assert study.reference_point_frozen and study.reference_point["size_kb"] < 50
    (line,) = [r.getMessage() for r in caplog.records if "reference point" in r.getMessage()]
    assert "tighter than the hard limit size_kb <= 50" in line and "give Minimize('size_kb', ref=50) (in a TOML study, ref = 50" in line
    explicit = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb", ref=50.0)], [mh.AtMost("size_kb", 50.0)],
                        optimizer="random", seed=0)
    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        for t in explicit.ask(10):
            explicit.tell(t, {"accuracy": t.config["x"], "size_kb": 1.0 + 18.0 * t.config["x"]})
    assert not [r for r in caplog.records if "reference point" in r.getMessage()]


def test_reopening_a_study_under_another_name_renames_it_in_the_store(tmp_path):
    path = tmp_path / "s.db"
    space = mh.Space({"x": mh.Float(0, 1)})
    mh.Study(space, [mh.Minimize("a")], storage=path, seed=0).close()
    with mh.Study.load(path, read_only=True) as view:
        assert view.name == "study"
    with pytest.raises(mh.UnsupportedError):  # a study refused on opening renames nothing
        mh.Study(space, [mh.Minimize("a")], storage=path, seed=0, name="refused", optimizer="nsga3")
    with mh.Study.load(path, read_only=True) as view:
        assert view.name == "study"
    with mh.Study(space, [mh.Minimize("a")], storage=path, seed=0, name="other") as renamed:
        assert renamed.name == "other"
    with mh.Study.load(path, read_only=True) as again:
        assert again.name == "other"


def test_resuming_with_another_optimizer_is_said(tmp_path, caplog):
    path = tmp_path / "s.db"
    space = mh.Space({"x": mh.Float(0, 1)})
    with mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], storage=path, seed=0, optimizer="random") as study:
        study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=2, show_progress=False)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], storage=path, seed=0, optimizer="random").close()
        assert "was run with" not in caplog.text
        mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], storage=path, seed=0, optimizer="sobol").close()
    assert "was run with random; it goes on with sobol, as given" in caplog.text


def test_a_stored_study_resumed_with_a_new_ref_takes_it(tmp_path, caplog):
    # as the warning about a reference tighter than a hard limit advises; before, the study refused to open
    space = mh.Space({"x": mh.Float(0, 1)})
    path = tmp_path / "s.db"
    with mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb")], [mh.AtMost("size_kb", 50.0)], storage=path,
                  optimizer="random", seed=0) as study:
        for t in study.ask(12):
            study.tell(t, {"accuracy": t.config["x"], "size_kb": 1.0 + 18.0 * t.config["x"]})
        derived = study.reference_point
    assert derived["size_kb"] < 50
    with caplog.at_level("WARNING", logger="moo_hpo"), mh.Study(
            space, [mh.Maximize("accuracy"), mh.Minimize("size_kb", ref=50.0)], [mh.AtMost("size_kb", 50.0)], storage=path,
            optimizer="random") as resumed:
        assert resumed.reference_point == {"accuracy": derived["accuracy"], "size_kb": 50.0}  # the other stays frozen
        assert len(resumed.trials) == 12
    assert "the objectives' reference values changed (size_kb: None -> 50.0)" in caplog.text
    with mh.Study.load(path, read_only=True) as view:  # stored: every later view agrees
        assert view.reference_point["size_kb"] == 50.0 and view.objectives[1].ref == 50.0
    # a refused opening stores nothing of its new ref
    with pytest.raises(mh.ConfigError, match="unknown optimizer"):
        mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb", ref=70.0)], [mh.AtMost("size_kb", 50.0)],
                 storage=path, optimizer="no_such_optimizer")
    with mh.Study.load(path, read_only=True) as view:
        assert view.reference_point["size_kb"] == 50.0
    # the script as it was, without ref=, goes on with the stored ref (as a seed left out keeps the stored seed);
    # before, it was refused: "'size_kb': ref 50.0 stored, None given"
    with caplog.at_level("INFO", logger="moo_hpo"), mh.Study(
            space, [mh.Maximize("accuracy"), mh.Minimize("size_kb")], [mh.AtMost("size_kb", 50.0)], storage=path,
            optimizer="random") as again:
        assert again.reference_point["size_kb"] == 50.0 and again.objectives[1].ref == 50.0
    assert "objectives given without ref= keep the stored study's (size_kb: ref=50)" in caplog.text
    # anything else that differs is refused, naming the field
    with pytest.raises(mh.ConfigError, match=r"has different objectives: 'size_kb': direction 'minimize' stored, 'maximize' given"):
        mh.Study(space, [mh.Maximize("accuracy"), mh.Maximize("size_kb", ref=50.0)], [mh.AtMost("size_kb", 50.0)],
                 storage=path, optimizer="random")


def test_queued_lists_what_enqueue_queued_until_it_is_proposed():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.enqueue({"x": 0.2})
    study.enqueue({"x": 0.4})
    assert study.queued == [{"x": 0.2}, {"x": 0.4}]
    study.queued.clear()  # a copy: the study's queue is its own
    trial = study.ask()
    assert trial.config == {"x": 0.2} and study.queued == [{"x": 0.4}]


class _SlowRandom(_MyRandom):
    """An optimizer whose proposals take a moment, as a Bayesian model step does."""

    name = "slowrandom"

    def ask(self, n, pending=()):
        time.sleep(0.5)
        return super().ask(n, pending)


def test_a_queued_trial_asked_in_one_batch_with_a_proposal_starts_when_the_batch_is_handed_over(tmp_path):
    # ask(2) records the enqueued baseline first, then waits for the optimizer's proposal: the baseline's duration
    # counted that wait (a pass saw 41.9 s recorded for 0.5 s of training)
    with simple_study(optimizer=_SlowRandom(), storage=tmp_path / "s.db") as study:
        study.enqueue({"x": 0.5, "k": 1})
        before = time.time()
        baseline, proposed = study.ask(2)
        handed_over = time.time()
        assert baseline.optimizer == "enqueued" and baseline.started_at >= before + 0.45
        assert proposed.started_at <= handed_over and baseline.started_at <= handed_over
        for trial in (baseline, proposed):
            study.tell(trial, ab(trial.config))
        assert study.trial(baseline.number).duration < 0.3
    with mh.Study.load(tmp_path / "s.db", read_only=True) as view:  # as stored
        assert view.trial(baseline.number).started_at == pytest.approx(baseline.started_at)


def test_tell_refuses_extra_data_that_would_overwrite_what_moo_hpo_recorded_at_ask(caplog):
    # extra={"optimizer": "adam"} (the training's optimizer, a natural name) replaced the proposal's audit trail
    study = simple_study()
    trial = study.ask()
    with pytest.raises(mh.ConfigError, match=r"\['optimizer'\] is moo_hpo's own record.*'user_optimizer'.*unchanged"):
        study.tell(trial, ab(trial.config), extra={"optimizer": "adam"})
    with pytest.raises(mh.ConfigError, match="moo_hpo's own record"):  # in a Result too
        study.tell(trial, mh.Result(ab(trial.config), extra={"optimizer": "adam"}))
    assert study.trial(trial.number).status is mh.TrialStatus.RUNNING
    study.tell(trial, ab(trial.config), extra={"train_optimizer": "adam"})
    assert "seconds" in study.trial(trial.number).extra["optimizer"]
    assert study.trial(trial.number).extra["train_optimizer"] == "adam"

    def objective(config):  # in optimize, the objective's key is kept under another name, with a warning
        return mh.Result(ab(config), extra={"optimizer": "sgd", "epochs": 3})

    caplog.set_level("WARNING", logger="moo_hpo")
    study.optimize(objective, n_trials=2, show_progress=False)
    for t in study.trials[1:]:
        assert t.status is mh.TrialStatus.COMPLETE and "seconds" in t.extra["optimizer"]
        assert t.extra["user_optimizer"] == "sgd" and t.extra["epochs"] == 3
    assert caplog.text.count("kept as ['user_optimizer']") == 1


def test_tell_takes_a_pandas_series_and_refuses_what_is_not_metrics_leaving_the_trial_running():
    study = simple_study()
    trial = study.ask()
    study.tell(trial, pd.Series({"a": 0.25, "b": 0.5}))  # a row of scores, df.iloc[i]
    assert study.trial(trial.number).metrics == {"a": 0.25, "b": 0.5}
    trial = study.ask()
    for bad in ([0.1, 0.2], "0.3", 0.5):
        with pytest.raises(mh.ConfigError, match=rf"received {type(bad).__name__} .*told with error=.*unchanged"):
            study.tell(trial, bad)
    with pytest.raises(mh.ConfigError, match="received 'failed'; a failed evaluation is told with error="):
        study.tell(trial, ab(trial.config), status="failed")
    assert study.trial(trial.number).status is mh.TrialStatus.RUNNING
    study.tell(trial, error="diverged")
    # an objective's: a Series counts, a list fails its trial with the reason (the study goes on)
    study.optimize(lambda c: pd.Series(ab(c)), n_trials=1, show_progress=False)
    study.optimize(lambda c: [c["x"]], n_trials=1, show_progress=False)
    assert study.trials[-2].status is mh.TrialStatus.COMPLETE
    assert study.trials[-1].status is mh.TrialStatus.FAILED and study.trials[-1].error.startswith("the objective returned list")


def test_a_pruned_trial_that_measured_no_hard_constraint_has_no_violation_in_the_data_frame():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a")], [mh.AtMost("gap", 0.1)], optimizer="random", seed=0)
    for metrics in ({}, {"gap": 0.3}):  # told pruned before it reported anything; pruned having measured the gap
        study.tell(study.ask(), metrics, status="pruned")
    assert np.isnan(study.to_dataframe()["violation"][0]) and study.to_dataframe()["violation"][1] == pytest.approx(0.2)


def test_only_the_keys_moo_hpo_records_at_ask_are_refused_in_tell():
    class NotingOptimizer(_MyRandom):
        name = "noting"

        def ask(self, n, pending=()):
            return [Proposal(p.config, {"note": "the optimizer's"}) for p in super().ask(n, pending)]

    study = simple_study(optimizer=NotingOptimizer())
    trial = study.ask()
    study.tell(trial, ab(trial.config), extra={"note": "mine"})  # an optimizer's own key is no moo_hpo record
    assert study.trial(trial.number).extra["note"] == "mine"


def test_an_objective_s_asked_key_is_renamed_without_dropping_a_key_of_that_name(caplog):
    study = simple_study()
    caplog.set_level("WARNING", logger="moo_hpo")
    study.optimize(lambda c: mh.Result(ab(c), extra={"optimizer": "sgd", "user_optimizer": "adam"}), n_trials=1,
                   show_progress=False)
    extra = study.trial(0).extra
    assert extra["user_optimizer"] == "adam" and extra["user_user_optimizer"] == "sgd" and "seconds" in extra["optimizer"]
    assert "kept as ['user_user_optimizer']" in caplog.text  # the name it was kept under



def test_a_user_s_repeat_of_is_refused_even_on_a_trial_that_has_none():
    # accepted on a trial without one, it made two configurations one repeated run: recommend averaged them
    study = simple_study()
    first, second = study.ask(2)
    study.tell(first, ab(first.config))
    with pytest.raises(mh.ConfigError, match=r"\['repeat_of'\] is moo_hpo's own record"):
        study.tell(second, ab(second.config), extra={"repeat_of": first.number})
    with pytest.raises(mh.ConfigError, match=r"\['retry_of'\]"):
        study.tell(second, ab(second.config), extra={"retry_of": first.number})


def test_tell_refuses_extra_that_is_not_a_mapping():
    study = simple_study()
    trial = study.ask()
    with pytest.raises(mh.ConfigError, match=r"tell\(extra=...\) expects a mapping of names to data; received str"):
        study.tell(trial, ab(trial.config), extra="my optimizer notes")  # not taken for the key 'optimizer'
    assert study.trial(trial.number).status is mh.TrialStatus.RUNNING


def test_a_series_naming_a_metric_twice_is_refused():
    study = simple_study()
    trial = study.ask()
    with pytest.raises(mh.ConfigError, match=r"name \['a'\] more than once"):
        study.tell(trial, pd.Series([0.1, 0.2, 0.5], index=["a", "a", "b"]))
    assert study.trial(trial.number).status is mh.TrialStatus.RUNNING
    study.tell(trial, error="set aside")
    # an objective's: its trial fails with the reason, the study goes on
    study.optimize(lambda c: pd.Series([0.1, 0.2, 0.5], index=["a", "a", "b"]), n_trials=2, show_progress=False)
    assert [t.status for t in study.trials[1:]] == [mh.TrialStatus.FAILED] * 2
    assert "the objective's metrics given as a pandas Series name ['a'] more than once" in study.trials[1].error


def test_objectives_and_constraints_given_as_generators_are_kept():
    limits = {"b": 0.5}
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), (o for o in [mh.Minimize("a")]),
                     constraints=(mh.AtMost(k, v) for k, v in limits.items()), optimizer="random", seed=0)
    assert [o.name for o in study.objectives] == ["a"] and study.constraints == (mh.AtMost("b", 0.5),)
    study.tell(study.ask(), {"a": 0.1, "b": 9.0})  # breaks the hard limit
    assert study.pareto_front() == []


@pytest.mark.parametrize(("argument", "value", "match"), [
    ("name", 3, "name must be a non-empty string or None; received 3"),
    ("name", " ", "name must be a non-empty string or None; received ' '"),
    ("retry_interrupted", "no", "retry_interrupted must be True or False; received 'no'"),
])
def test_study_refuses_arguments_of_the_wrong_type(argument, value, match):
    with pytest.raises(mh.ConfigError, match=match):
        simple_study(**{argument: value})


def test_optimize_takes_one_exception_type_for_catch_and_refuses_a_flag_given_as_text():
    study = simple_study()

    def fails(config):
        raise ValueError("boom")

    study.optimize(fails, n_trials=1, catch=ValueError, show_progress=False)  # as Optuna takes it
    assert study.trials[0].status is mh.TrialStatus.FAILED
    with pytest.raises(ValueError, match="boom"):
        study.optimize(fails, n_trials=1, catch=KeyError, show_progress=False)
    with pytest.raises(mh.ConfigError, match=r"catch must be a tuple of exception types \(or one\); received \('ValueError',\)"):
        study.optimize(ab, n_trials=1, catch=("ValueError",))
    with pytest.raises(mh.ConfigError, match="show_progress must be True or False; received 'no'"):
        study.optimize(ab, n_trials=1, show_progress="no")
    study.optimize(ab, n_trials=1, show_progress=0)  # taken as before: 0, 1 and None
    study.optimize(ab, n_trials=1, show_progress=None)
    assert simple_study(retry_interrupted=0).optimize(ab, n_trials=1, show_progress=False).count("complete") == 1


@pytest.mark.parametrize("refused", [
    {"optimizer": "cei"},                                           # one objective only: the study has two
    {"optimizer": mh.optimizers.ConstrainedEI(n_init=0)},           # a bad option
    {"optimizer": "no-such-optimizer"},
    {"pruner": mh.pruners.DominatedPruner(min_step=30, max_resource=27)},  # refused as the pruner is set up
])
def test_a_study_refused_as_it_is_created_leaves_its_file_for_the_next_one(tmp_path, refused):
    path = tmp_path / "s.db"
    with pytest.raises((mh.ConfigError, mh.UnsupportedError)):
        simple_study(storage=path, seed=0, **refused)
    # the mistake fixed, with another definition and seed: the file takes it
    space = mh.Space({"y": mh.Float(0.0, 1.0)})
    with mh.Study(space, [mh.Minimize("a")], storage=path, seed=5, optimizer="random") as study:
        study.tell(study.ask(), {"a": 0.5})
    with mh.Study.load(path, read_only=True) as again:
        assert again.seed == 5 and [o.name for o in again.objectives] == ["a"] and len(again.trials) == 1


def test_a_refused_load_leaves_the_study_file_writable(tmp_path):
    path = tmp_path / "s.db"
    with simple_study(storage=path) as study:
        study.optimize(ab, n_trials=2, show_progress=False)
    with pytest.raises(mh.UnsupportedError, match="handles at most 1 objective") as refused:
        mh.Study.load(path, optimizer="cei")
    with mh.Study.load(path) as again:  # the error still kept (a notebook's last traceback), its frames with it
        assert not again.read_only and refused.value is not None


class _CountingOptimizer(Optimizer):
    """A user's optimizer that proposes the middle of the space and counts its asks."""

    name = "counting"

    def __init__(self) -> None:
        self.asks = 0

    def ask(self, n, pending=()):
        self.asks += 1
        return [Proposal({"x": 0.5, "k": 1}) for _ in range(n)]


def test_a_closed_study_still_reports_and_refuses_to_propose_before_its_optimizer_runs(tmp_path):
    counting = _CountingOptimizer()
    with simple_study(storage=tmp_path / "s.db", optimizer=counting) as study:
        study.optimize(ab, n_trials=2, show_progress=False)
    assert mh.report(study).data["counts"]["complete"] == 2  # the next notebook cell, after the `with` block
    asks = counting.asks
    with pytest.raises(mh.StorageError, match=r"was closed .*open it again with mh.Study.load"):
        study.ask()
    assert counting.asks == asks  # refused before the optimizer worked on a proposal nothing could record


def test_loading_a_study_this_process_still_writes_warns_that_it_is_read_only(tmp_path, caplog):
    caplog.set_level("WARNING", logger="moo_hpo")
    path = tmp_path / "s.db"
    study = simple_study(storage=path)
    study.optimize(ab, n_trials=1, show_progress=False)
    view = mh.Study.load(path)  # `study = mh.Study.load(...)` run again: the first one is still bound
    assert view.read_only
    assert "opened read-only: an unclosed Study in this process is writing it (a cell run again" in caplog.text
    view.close()
    study.close()


def test_enqueue_refuses_a_data_frame_and_leaves_the_queue_as_it_was(tmp_path):
    study = simple_study(storage=tmp_path / "s.db")
    study.optimize(ab, n_trials=2, show_progress=False)
    frame = study.to_dataframe()
    for given in (frame.iloc[[0]], frame):
        with pytest.raises(mh.ConfigError, match=r"a data frame: give one row, df.iloc\[i\]"):
            study.enqueue(given)
    assert study._queued == []  # noqa: SLF001 - nothing half-queued
    study.enqueue(frame.iloc[0])
    assert study.ask().config == study.trials[0].config
    study.close()


def test_enqueue_takes_a_row_whose_parameter_shares_a_column_name_and_a_value_set_by_hand():
    space = mh.Space({"optimizer": mh.Categorical(["adam", "sgd"]), "lr": mh.Float(1e-3, 1.0, log=True)})
    study = mh.Study(space, [mh.Minimize("loss")], optimizer="random", seed=0)
    study.optimize(lambda c: {"loss": c["lr"]}, n_trials=2, show_progress=False)
    row = study.to_dataframe().iloc[0]  # its own "optimizer" column says "random"
    study.enqueue(row)
    study.enqueue({**row.to_dict(), "lr": 0.5})  # a row with one value changed by hand
    first, second = study.ask(2)
    assert first.config == study.trials[0].config
    assert second.config == {**study.trials[0].config, "lr": 0.5}


def test_a_closed_in_memory_study_goes_on_as_before():
    with simple_study() as study:
        study.optimize(ab, n_trials=2, show_progress=False)
    study.optimize(ab, n_trials=1, show_progress=False)  # nothing to reopen: its records are this object's
    assert len(study.trials) == 3


def test_a_refused_load_leaves_a_store_of_the_users_open(tmp_path):
    from moo_hpo.storage import SQLiteStore

    store = SQLiteStore(tmp_path / "u.db")
    study = simple_study(storage=store)  # a store of the user's: the study does not close it
    study.optimize(ab, n_trials=1, show_progress=False)
    with pytest.raises(mh.ConfigError, match="differs from the stored one"):
        mh.Study.load(store, space=mh.Space({"z": mh.Float(0.0, 1.0)}))
    assert len(mh.Study.load(store).trials) == 1
    store.close()


def test_a_trials_extra_reads_the_same_before_and_after_a_reload(tmp_path):
    path = tmp_path / "s.db"
    with simple_study(storage=path) as study:
        told = study.tell(study.ask(), {"a": 0.1, "b": 0.2},
                          extra={"shape": (3, 4), "best_epoch": np.int64(7), "by_fold": {1: 0.5}, "curve": np.arange(3)})
        in_memory = told.extra
    with mh.Study.load(path, read_only=True) as again:
        assert again.trials[0].extra == in_memory
    assert {k: in_memory[k] for k in ("shape", "best_epoch", "by_fold", "curve")} == {
        "shape": [3, 4], "best_epoch": 7, "by_fold": {"1": 0.5}, "curve": [0, 1, 2]}


def test_an_optimizer_or_pruner_of_the_users_named_as_one_of_moo_hpos_is_refused(tmp_path):
    class Mine(Optimizer):
        name = "nsga2"  # a wrapper of pymoo's, say: reopened, the study would rebuild moo_hpo's NSGA2 in its place

        def ask(self, n, pending=()):
            return [Proposal({"x": 0.5, "k": 1})]

    with pytest.raises(mh.ConfigError, match="named 'nsga2', the name of moo_hpo's NSGA2: .* a name of its own"):
        simple_study(optimizer=Mine(), storage=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()

    class MyPruner(mh.pruners.Pruner):
        name = "moasha"

        def decide(self, number, step, metrics):
            return mh.pruners.Decision(False)

    with pytest.raises(mh.ConfigError, match="named 'moasha', the name of moo_hpo's MOASHA"):
        simple_study(pruner=MyPruner())

    class Tweaked(mh.optimizers.RandomSearch):  # a variant of moo_hpo's own keeps its name
        pass

    assert simple_study(optimizer=Tweaked()).optimizer.name == "random"


def test_an_optimizer_without_batches_is_asked_for_one_trial_at_a_time():
    class OneAtATime(Optimizer):
        name = "one-at-a-time"
        capabilities = Capabilities(batch=False)

        def __init__(self) -> None:
            self.asked: list[tuple[int, int]] = []

        def ask(self, n, pending=()):
            self.asked.append((n, len(pending)))
            return [Proposal({"x": 0.1 * (len(self.asked) % 10), "k": 0}) for _ in range(n)]

    optimizer = OneAtATime()
    study = simple_study(optimizer=optimizer)
    assert len(study.ask(3)) == 3 and optimizer.asked == [(1, 0), (1, 1), (1, 2)]
    study.optimize(ab, n_trials=4, n_workers=2, show_progress=False)
    assert all(n == 1 for n, _ in optimizer.asked)


def test_a_proposal_a_study_file_cannot_hold_as_it_is_is_recorded_not_a_crash(tmp_path):
    class Sloppy(Optimizer):
        name = "sloppy"

        def __init__(self) -> None:
            self.calls = 0

        def ask(self, n, pending=()):
            self.calls += 1
            config = {"x": float("nan"), "k": 1} if self.calls == 1 else {"x": 0.5, "k": 1}
            return [Proposal(config, {"made_by": object()})]

    path = tmp_path / "s.db"
    with simple_study(optimizer=Sloppy(), storage=path) as study:
        study.optimize(ab, n_trials=2, show_progress=False)
        first, second = study.trials
        assert first.status is mh.TrialStatus.FAILED and first.error.startswith("invalid configuration, not evaluated")
        assert first.config["x"] == "nan" and second.status is mh.TrialStatus.COMPLETE
        assert second.extra["made_by"].startswith("<object object at")
    with mh.Study.load(path, read_only=True) as again:
        assert [t.config for t in again.trials] == [first.config, second.config]

    class NotAMapping(Sloppy):
        name = "not-a-mapping"

        def ask(self, n, pending=()):
            return [Proposal([0.5, 1])]

    with pytest.raises(mh.ConfigError, match=r"optimizer 'not-a-mapping': a Proposal's config must be a mapping .* list \[0.5, 1\]"):
        simple_study(optimizer=NotAMapping()).ask()


def test_a_proposals_audit_data_reads_the_same_before_and_after_a_reload(tmp_path):
    class Audited(Optimizer):
        name = "audited"

        def ask(self, n, pending=()):
            return [Proposal({"x": 0.5, "k": 1}, {"step": (0.5, 1), "score": np.float32(0.25), "by_rank": {3: "a"}})]

    with simple_study(optimizer=Audited(), storage=tmp_path / "s.db") as study:
        in_memory = study.ask().extra
    with mh.Study.load(tmp_path / "s.db", read_only=True) as again:
        assert again.trials[0].extra == in_memory
    assert {k: in_memory[k] for k in ("step", "score", "by_rank")} == {"step": [0.5, 1], "score": 0.25, "by_rank": {"3": "a"}}

    class ListExtra(Audited):
        name = "list-extra"

        def ask(self, n, pending=()):
            return [Proposal({"x": 0.5, "k": 1}, ["audit"])]

    with pytest.raises(mh.ConfigError, match=r"optimizer 'list-extra': a Proposal's extra must be a mapping"):
        simple_study(optimizer=ListExtra()).ask()


@pytest.mark.parametrize("name", ["reevaluate", "enqueued", "auto"])
def test_an_optimizer_named_as_moo_hpos_own_proposals_is_refused(name):
    class Mine(Optimizer):
        def ask(self, n, pending=()):
            return [Proposal({"x": 0.5, "k": 1})]

    Mine.name = name
    with pytest.raises(mh.ConfigError, match=f"named {name!r}, a name moo_hpo gives trials it proposes itself"):
        simple_study(optimizer=Mine())


def test_an_integer_enqueued_for_a_float_parameter_is_the_float_the_optimizers_propose():
    study = mh.Study({"C": mh.Float(0.1, 10.0, log=True), "k": mh.Int(1, 5)}, [mh.Minimize("f")], optimizer="random", seed=0)
    study.enqueue({"C": 1, "k": 3.0})
    trial = study.ask()
    assert trial.config == {"C": 1.0, "k": 3} and type(trial.config["C"]) is float and type(trial.config["k"]) is int


def test_reopening_a_file_under_another_name_warns_that_the_study_goes_on_renamed(tmp_path, caplog):
    path = tmp_path / "exp.db"
    with mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f")], storage=path, name="exp-v1", seed=0) as first:
        first.tell(first.ask(), {"f": 1.0})
    with caplog.at_level("WARNING", logger="moo_hpo"):
        with mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f")], storage=path, name="exp-v2", seed=0) as again:
            assert again.name == "exp-v2" and len(again.trials) == 1
    assert "goes on, renamed from 'exp-v1' to 'exp-v2': a file holds one study; for a new study, give another storage file" in caplog.text
    assert "(1 trial)" in caplog.text


def test_an_explicit_ref_no_trial_reaches_is_said_while_the_study_runs(caplog):
    """ref=1.0 of an accuracy, taken for a target: the hypervolume stays 0 and ehvi has nothing to aim at (before, said
    only when the user asked for the hypervolume)."""
    def run(ref, cost_ref=None):
        study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("acc", ref=ref), mh.Minimize("cost", ref=cost_ref)],
                         optimizer="random", seed=0)
        study.optimize(lambda c: {"acc": 0.5 + 0.4 * c["x"], "cost": c["x"]}, n_trials=14, show_progress=False)

    for cost_ref in (None, 2.0):  # every objective's ref given (the point frozen from the start): it was never said
        caplog.clear()
        with caplog.at_level("WARNING", logger="moo_hpo"):
            run(1.0, cost_ref)
        said = " ".join(caplog.text.split())
        assert said.count("none of the first 10 feasible trials is better than the ref of acc 1: the hypervolume stays 0") == 1
    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        run(0.6)
    assert "is better than the ref" not in caplog.text


def test_the_trials_handed_out_are_records_changed_only_by_the_study(tmp_path):
    # editing study.trials[i].metrics or recommend().trial.config changed the study's front in memory (its file kept
    # the old values), and a config edited before tell was stored outside the space, so the study could not propose
    import copy
    import pickle

    path = tmp_path / "s.db"
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0,
                     storage=path)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=4, show_progress=False)
    chosen = study.recommend("knee").trial
    with pytest.raises(TypeError, match=r"a trial's config is its study's record .* config = dict\(trial.config\)"):
        chosen.config["x"] /= 10
    for change in (lambda m: m.__setitem__("a", 100.0), lambda m: m.update(a=1.0), lambda m: m.pop("a"),
                   lambda m: m.setdefault("c", 1.0), lambda m: m.clear()):
        with pytest.raises(TypeError, match="a trial's metrics is its study's record"):
            change(study.trials[0].metrics)
    mine = dict(chosen.config)
    mine["x"] = 5.0  # a copy is the user's
    assert chosen.config.copy() == {"x": study.trial(chosen.number).config["x"]} and type(chosen.config.copy()) is dict
    asked = study.ask()
    with pytest.raises(TypeError):
        asked.config["x"] = 85.0
    study.tell(asked, {"a": 0.5, "b": 0.5})
    import dataclasses

    for mine in (copy.copy(chosen.config), copy.deepcopy(chosen.config), dataclasses.asdict(chosen)["config"]):
        assert type(mine) is dict  # copies are the user's to change
        mine["x"] = 2.0
    restored = pickle.loads(pickle.dumps(study.trials[0]))  # as trials travel to workers
    assert type(restored.config) is mh.trial.RecordDict
    assert restored.config == study.trials[0].config and copy.deepcopy(study.trials[0]).metrics == study.trials[0].metrics
    study.close()
    with mh.Study.load(path) as again:
        assert [t.config for t in again.trials] == [t.config for t in study.trials]
        with pytest.raises(TypeError):
            again.trials[0].config["x"] = 1.0


def test_tell_with_an_error_takes_no_other_status():
    # error= with status="pruned" was taken as failed, status dropped; with status="failed" it was refused
    study = simple_study()
    trial = study.ask()
    with pytest.raises(mh.ConfigError, match=r"tell\(error=...\) records a failed trial; received status='pruned'"):
        study.tell(trial, error="diverged", status="pruned")
    assert trial.status is mh.TrialStatus.RUNNING  # refused before anything changed
    told = study.tell(trial, error="diverged", status="failed")
    assert told.status is mh.TrialStatus.FAILED and told.error == "diverged"


def test_a_space_given_in_another_order_resumes_as_an_uninterrupted_run(tmp_path):
    # the same parameters listed in another order were taken as the same study, and the proposals then differed from
    # an uninterrupted run's (the order decides how the optimizer encodes them)
    def space(reverse):
        params = [("a", mh.Float(0, 1)), ("b", mh.Categorical(["x", "y"]))]
        return mh.Space(dict(reversed(params) if reverse else params))

    def fn(c):
        return {"f": c["a"] + (c["b"] == "y"), "g": 1 - c["a"]}

    objectives = [mh.Minimize("f"), mh.Minimize("g")]
    with mh.Study(space(False), objectives, optimizer="nsga2", seed=0, storage=tmp_path / "split.db") as first:
        first.optimize(fn, n_trials=8, show_progress=False)
    with mh.Study(space(True), objectives, optimizer="nsga2", seed=0, storage=tmp_path / "split.db") as resumed:
        assert list(resumed.space.params) == ["a", "b"]  # the stored order
        resumed.optimize(fn, n_trials=4, show_progress=False)
        split = [t.config for t in resumed.trials]
    with mh.Study(space(False), objectives, optimizer="nsga2", seed=0) as whole:
        whole.optimize(fn, n_trials=8, show_progress=False)
        whole.optimize(fn, n_trials=4, show_progress=False)
        assert split == [t.config for t in whole.trials]


def test_a_reference_point_set_by_hand_wins_over_the_refs_it_was_set_over_after_a_reload(tmp_path):
    # set_reference_point on a study whose objectives have ref= was lost on reopening (the refs came back), so the CLI
    # report gave another hypervolume than the session; and the report's objective table still named the refs
    path = tmp_path / "s.db"

    def study(acc_ref=0.7):
        return mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy", ref=acc_ref), mh.Minimize("latency_ms", ref=15)],
                        storage=path, seed=0, optimizer="random")

    with study() as first:
        first.optimize(lambda c: {"accuracy": 0.5 + 0.4 * c["x"], "latency_ms": 1 + 20 * c["x"] ** 2}, n_trials=12,
                       show_progress=False)
        first.set_reference_point({"accuracy": 0.6, "latency_ms": 20})
        hv = first.hypervolume()
        assert ("| accuracy | maximize | 0.6 (set: study.set_reference_point; its ref= 0.7 still counts in the "
                "recommendations) |") in mh.report(first).to_markdown()
    with mh.Study.load(path) as loaded:
        assert loaded.reference_point == {"accuracy": 0.6, "latency_ms": 20.0} and loaded.hypervolume() == hv
    with study() as again:  # the script run again, its refs as they were: the point set by hand stays
        assert again.reference_point == {"accuracy": 0.6, "latency_ms": 20.0}
    with study(acc_ref=0.65) as changed:  # a ref changed since: the script's refs are taken, as before
        assert changed.reference_point == {"accuracy": 0.65, "latency_ms": 15.0}
    other = tmp_path / "other.db"

    def no_latency_ref(acc_ref=None):
        return mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy", ref=acc_ref), mh.Minimize("latency_ms")],
                        storage=other, seed=0, optimizer="random")

    with no_latency_ref() as first:
        first.optimize(lambda c: {"accuracy": 0.5 + 0.4 * c["x"], "latency_ms": 1 + 20 * c["x"] ** 2}, n_trials=12,
                       show_progress=False)
        first.set_reference_point({"accuracy": 0.6, "latency_ms": 20})
    with no_latency_ref(acc_ref=0.55) as changed:  # a ref given since for the other objective: this value stays set
        assert changed.reference_point == {"accuracy": 0.55, "latency_ms": 20.0}
        text = mh.report(changed).to_markdown()
        assert "| latency_ms | minimize | 20 (set: study.set_reference_point) |" in text and "derived: 20" not in text
        assert "| accuracy | maximize | 0.55 |" in text
        changed.optimize(lambda c: {"accuracy": 0.9, "latency_ms": 1.0}, n_trials=1, show_progress=False)
    with no_latency_ref(acc_ref=0.55) as again:  # reopened once more: still set by hand (it read derived)
        assert again._reference.set_by_hand == ["latency_ms"]
        assert "| latency_ms | minimize | 20 (set: study.set_reference_point) |" in mh.report(again).to_markdown()
