"""noiseless="auto": one repeat after the design decides, per metric, between interpolating and inferring noise."""

from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.optimizers.bayesian.data import Outcome
from moo_hpo.optimizers.bayesian.noise_check import (
    REPEAT_TOLERANCE,
    repeat_verdicts,
    repeated_rows,
)
from tests.optimizers.bayesian.studies import FAST


def outcome(kind: str, index: int, X, Y) -> Outcome:
    return Outcome(kind, index, tuple(range(len(Y))), np.asarray(X, dtype=float), np.asarray(Y, dtype=float))


def test_repeated_rows_group_identical_inputs():
    X = [[0.1, 0.2], [0.3, 0.4], [0.1, 0.2], [0.5, 0.5], [0.1, 0.2], [0.3, 0.4]]
    assert repeated_rows(X) == [[0, 2, 4], [1, 5]]
    assert repeated_rows([[0.1], [0.2]]) == []


def test_a_metric_is_exact_when_its_repeats_agree_within_the_tolerance():
    X = [[0.1], [0.5], [0.9], [0.1]]
    spread = float(np.std([1.0, 3.0, 2.0, 1.0]))
    verdicts = repeat_verdicts([
        outcome("objective", 0, X, [1.0, 3.0, 2.0, 1.0]),  # the same value twice
        outcome("objective", 1, X, [1.0, 3.0, 2.0, 1.0 + 0.5 * REPEAT_TOLERANCE * spread]),  # rounding
        outcome("constraint", 0, X, [1.0, 3.0, 2.0, 1.2]),  # noise
        outcome("constraint", 1, X[:3], [1.0, 3.0, 2.0]),  # never repeated: no verdict
        outcome("failure", 0, X, [1.0, -1.0, -1.0, -1.0]),  # not checked
    ])
    assert verdicts == {("objective", 0): True, ("objective", 1): True, ("constraint", 0): False}


def study(noiseless="auto", seed: int = 0) -> mh.Study:
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    return mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("g", 1.2)],
                    optimizer=make_optimizer("ehvi", {**FAST, "noiseless": noiseless}), seed=seed)


def objective(noise_on: str | None):
    rng = np.random.default_rng(1)

    def fn(c):
        out = {"f1": c["x"] ** 2 + c["y"], "f2": (1 - c["x"]) ** 2 + 0.5 * c["y"], "g": c["x"] + c["y"]}
        if noise_on:
            out[noise_on] += float(rng.normal(0.0, 0.1))
        return out

    return fn


def test_auto_repeats_a_design_front_member_then_treats_each_metric_by_its_repeat():
    from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

    s = study()
    s.optimize(objective("g"), n_trials=8, show_progress=False)  # only the constraint is noisy
    repeat = s.trials[2]  # FAST: a design of 2
    label = repeat.extra["optimizer"]["acquisition"]
    number = int(label.split("#")[1].split(" ")[0])
    assert number < 2 and label == f"repeat of trial #{number} (noise check)"
    assert repeat.config == s.trials[number].config
    assert [t.extra["optimizer"]["acquisition"].startswith("repeat") for t in s.trials].count(True) == 1
    audit = s.trials[-1].extra["optimizer"]
    assert audit["noise"] == "exact" and audit["acquisition"].startswith("qLogEHVI")  # exact objectives
    assert audit["noise_repeats"] == {"f1": "exact", "f2": "exact", "g": "noisy"}  # the metrics' own names
    opt = s.optimizer
    assert opt.surrogate.noisy == {("constraint", 0)}
    data = opt.training_data()
    objectives_gp, constraint_gp = opt.surrogate.model([*data.objectives, *data.constraints]).models
    assert isinstance(objectives_gp.likelihood, FixedNoiseGaussianLikelihood)  # interpolates
    assert not isinstance(constraint_gp.likelihood, FixedNoiseGaussianLikelihood)  # infers its noise

    s = study()
    s.optimize(objective("f2"), n_trials=6, show_progress=False)  # a noisy objective
    audit = s.trials[-1].extra["optimizer"]
    assert audit["noise"] == "inferred" and audit["acquisition"].startswith("qLogNEHVI")
    assert audit["noise_repeats"]["f2"] == "noisy"


def test_before_the_repeat_finishes_the_metrics_count_as_noisy():
    s = study()
    s.optimize(objective(None), n_trials=2, show_progress=False)
    batch = s.ask(3)  # the repeat first; the others are proposed while it runs
    assert batch[0].extra["optimizer"]["acquisition"].startswith("repeat of trial")  # a feasible design trial
    assert all(t.extra["optimizer"]["noise"] == "inferred" for t in batch[1:])
    assert all(not t.extra["optimizer"]["acquisition"].startswith("repeat") for t in batch[1:])


def test_a_resumed_study_decides_as_an_uninterrupted_one(tmp_path):
    whole = study()
    whole.optimize(objective(None), n_trials=7, show_progress=False)
    first = mh.Study(whole.space, whole.objectives, whole.constraints,
                     optimizer=make_optimizer("ehvi", FAST), seed=0, storage=tmp_path / "s.db")
    first.optimize(objective(None), n_trials=4, show_progress=False)
    first.close()
    resumed = mh.Study.load(tmp_path / "s.db")
    resumed.optimize(objective(None), n_trials=3, show_progress=False)
    assert [t.config for t in resumed.trials] == [t.config for t in whole.trials]
    assert [t.extra["optimizer"].get("noise") for t in resumed.trials] == [t.extra["optimizer"].get("noise") for t in whole.trials]


@pytest.mark.parametrize("retry", [True, False])
def test_a_repeat_the_studys_stop_interrupted_is_asked_again_on_resume(tmp_path, retry):
    # before, the interrupted repeat counted as asked: no repeat ever ran, the metrics stayed "noisy", and the
    # report said the check had run. The study runs the interrupted trial again (retry_interrupted), and that run is
    # the repeat; without it, the optimizer asks the repeat again itself
    path = tmp_path / "s.db"
    first = mh.Study(study().space, study().objectives, study().constraints, optimizer=make_optimizer("ehvi", FAST),
                     seed=0, storage=path)
    first.optimize(objective(None), n_trials=2, show_progress=False)
    repeat = first.ask()  # the noise check's repeat, running when the study stops
    assert repeat.extra["optimizer"]["acquisition"].startswith("repeat of trial")
    first.close()  # recorded interrupted
    resumed = mh.Study.load(path, retry_interrupted=retry)
    assert resumed.trials[2].status is mh.TrialStatus.INTERRUPTED
    from moo_hpo.reports.data import repeated_runs

    assert repeated_runs(resumed) is None  # the report says no check ran
    resumed.optimize(objective(None), n_trials=2, show_progress=False)
    again = resumed.trials[3]
    if retry:
        assert again.extra["retry_of"] == 2 and again.extra["repeat_of"] == repeat.extra["repeat_of"]
    else:
        assert again.extra["optimizer"]["acquisition"] == repeat.extra["optimizer"]["acquisition"]
    assert again.config == repeat.config and again.status is mh.TrialStatus.COMPLETE
    assert sum(t.config == repeat.config for t in resumed.trials) == 3  # the original, the interrupted one, this one
    assert resumed.trials[4].extra["optimizer"]["noise"] == "exact"  # the verdict of the repeat that ran


@pytest.mark.parametrize("failures, asked", [(1, 2), (5, 2)])
def test_a_failed_repeat_is_asked_once_more(failures, asked):
    # its configuration had completed once: a flaky failure; before, the check counted as done and an exact problem
    # stayed "inferred" for the rest of the study
    seen: dict[tuple, int] = {}
    exact = objective(None)

    def flaky(c):
        key = tuple(sorted(c.items()))
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 and seen[key] - 1 <= failures:
            raise RuntimeError("worker hiccup")
        return exact(c)

    s = study()
    s.optimize(flaky, n_trials=6, show_progress=False)
    repeats = [t for t in s.trials if t.extra["optimizer"].get("acquisition", "").startswith("repeat of")]
    assert len(repeats) == asked and all(t.config == repeats[0].config for t in repeats)
    if failures == 1:  # the second repeat ran: the verdict is the exact one
        assert repeats[1].status is mh.TrialStatus.COMPLETE and s.trials[-1].extra["optimizer"]["noise"] == "exact"
    else:  # two failures: not asked a third time
        assert all(t.status is mh.TrialStatus.FAILED for t in repeats)
        assert s.trials[-1].extra["optimizer"]["noise"] == "inferred"


@pytest.mark.parametrize("told, audit", [(True, "exact (told)"), (False, "inferred (told)")])
def test_a_user_who_says_gets_no_repeat(told, audit):
    s = study(told)
    s.optimize(objective("f2"), n_trials=6, show_progress=False)
    assert not any(t.extra["optimizer"]["acquisition"].startswith("repeat") for t in s.trials)
    last = s.trials[-1].extra["optimizer"]
    assert last["noise"] == audit and "noise_repeats" not in last
    assert last["acquisition"].startswith("qLogEHVI" if told else "qLogNEHVI")


def test_the_noise_check_names_the_metrics_as_the_user_gave_them():
    # before, the audit said {"objective 0": "exact", "constraint 0": "exact"}: the user had to count
    from moo_hpo.optimizers.bayesian.data import TrainingData
    from moo_hpo.optimizers.bayesian.noise_check import noise_treatment
    from moo_hpo.problem import Problem

    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    problem = Problem(space, (mh.Maximize("roc_auc"), mh.Minimize("size_kb")),
                      (mh.AtMost("size_kb", 100.0), mh.AtMost("latency_ms", 5.0), mh.AtMost("energy_j", 1.0, soft=True)))
    X = [[0.1], [0.5], [0.1]]
    raw = TrainingData(
        [outcome("objective", 0, X, [0.8, 0.9, 0.8]), outcome("objective", 1, X, [-50.0, -70.0, -50.0])],
        [outcome("constraint", 0, X, [-50.0, -30.0, -50.0]), outcome("constraint", 1, X, [-1.0, -2.0, -1.5])],
        np.asarray(X), True,
    )
    exact, noisy, audit = noise_treatment(raw, raw, problem)
    # a constraint on a metric an objective names too appears as written
    assert audit["noise_repeats"] == {"roc_auc": "exact", "size_kb": "exact", "size_kb <= 100": "exact", "latency_ms": "noisy"}
    assert exact and noisy == {("constraint", 1)}  # the optimizer's own bookkeeping keeps its positions


def test_the_log_and_the_report_give_the_noise_checks_verdict_by_name(caplog):
    s = study()
    with caplog.at_level("INFO", logger="moo_hpo"):
        s.optimize(objective("g"), n_trials=5, show_progress=False)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("noise check:")]
    assert said and said[0].startswith("noise check: f1 exact, f2 exact, g noisy")
    assert len(said) == 1  # said when reached, not at every proposal
    text = mh.report(s).to_markdown()
    assert "The noise check's verdict: f1 exact, f2 exact, g noisy." in text
    assert "nothing needs running again" not in text  # g is noisy
    exact = study()
    exact.optimize(objective(None), n_trials=5, show_progress=False)
    said = mh.report(exact).to_markdown()  # every metric exact: the noise advice is said not to apply
    assert "f1 exact, f2 exact, g exact. Every metric came out exact: one run tells a configuration's value" in said
    # a study recorded before the names were kept reads the same
    for t in s.trials:
        audit = t.extra.get("optimizer") or {}
        if "noise_repeats" in audit:
            audit["noise_repeats"] = {"objective 0": "exact", "objective 1": "exact", "constraint 0": "noisy"}
    assert mh.report(s).data["repeated_runs"]["noise_verdict"] == {"f1": "exact", "f2": "exact", "g": "noisy"}
