"""Repeated runs of the front (``Study.reevaluate``) and the robust view of it (``Study.robust_front``)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.optimizers.base import config_key
from moo_hpo.robust import REEVALUATE, judged_configurations, p_dominated

SPACE = {"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)}
NOISE = 0.2  # standard deviation of the noise on f2


def true_values(config: dict) -> np.ndarray:
    """The known function: f1 trades off against f2, and y only makes f2 worse."""
    return np.array([config["x"], 1.0 - config["x"] + 0.5 * config["y"]])


def noisy(config: dict, trial: mh.Trial) -> dict:
    """``true_values`` with Gaussian noise on f2, drawn from the trial's own seed."""
    rng = np.random.default_rng(trial.seed)
    f1, f2 = true_values(config)
    return {"f1": float(f1), "f2": float(f2 + rng.normal(0.0, NOISE))}


def exact(config: dict) -> dict:
    f1, f2 = true_values(config)
    return {"f1": float(f1), "f2": float(f2)}


def make_study(optimizer="random", seed: int = 1, **kwargs) -> mh.Study:
    return mh.Study(mh.Space(SPACE), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=optimizer, seed=seed, **kwargs)


@pytest.fixture(autouse=True)
def _quiet(caplog):
    caplog.set_level(logging.ERROR, logger="moo_hpo")


# ------------------------------------------------------------------ reevaluate records repetitions
def test_reevaluate_records_each_repetition_linked_to_its_original_with_a_seed_of_its_own():
    study = make_study()
    study.optimize(noisy, n_trials=20, show_progress=False)
    originals = [t.number for t in study.pareto_front()]
    reps = study.reevaluate(noisy, repeats=3, show_progress=False)
    assert len(reps) == 3 * len(originals) and len(study.trials) == 20 + len(reps)
    assert [t.number for t in reps] == list(range(20, 20 + len(reps)))
    assert sorted(t.extra["repeat_of"] for t in reps) == sorted(originals * 3)
    for t in reps:
        original = study.trial(t.extra["repeat_of"])
        assert t.config == original.config and t.status is mh.TrialStatus.COMPLETE and t.optimizer == REEVALUATE
        assert "predicted" not in t.extra.get("optimizer", {})  # the original's audit trail is not copied
    seeds = [t.seed for t in reps] + [study.trial(n).seed for n in originals]
    assert len(set(seeds)) == len(seeds)  # every run a new draw
    # the measured front judges each trial on its own: repetitions are trials like any other
    assert study.pareto_front(by="measured") == mh.analysis.pareto_front(study.problem, study.trials)
    # and the repetitions showed noise: the study's front is now the model's
    assert study.front_basis() == "model" and study.pareto_front() == [m.trial for m in study.model_front()]


def test_top_k_takes_the_largest_hypervolume_contributions_and_a_repetition_stands_for_its_original():
    study = make_study()
    study.optimize(noisy, n_trials=20, show_progress=False)
    contributions = study.hypervolume_contributions()
    best_two = sorted(contributions, key=lambda n: -contributions[n])[:2]
    reps = study.reevaluate(noisy, top_k=2, repeats=1, show_progress=False)
    assert sorted(t.extra["repeat_of"] for t in reps) == sorted(best_two)
    # again over the whole front: a repetition on the front is run as its original's configuration
    more = study.reevaluate(noisy, repeats=1, show_progress=False)
    assert all(study.trial(t.extra["repeat_of"]).extra.get("repeat_of") is None for t in more)
    front_roots = {t.extra.get("repeat_of", t.number) for t in study.trials[:-len(more)] if t in study.pareto_front(by="measured")}
    assert {t.extra["repeat_of"] for t in more} <= front_roots | set(best_two)


def test_a_failing_repetition_is_recorded_failed_and_linked():
    study = make_study()
    study.optimize(noisy, n_trials=12, show_progress=False)

    def flaky(config, trial):
        if trial.number % 2:
            raise RuntimeError("out of memory")
        return noisy(config, trial)

    reps = study.reevaluate(flaky, top_k=2, repeats=2, show_progress=False)
    assert {t.status for t in reps} == {mh.TrialStatus.COMPLETE, mh.TrialStatus.FAILED}
    assert all("repeat_of" in t.extra for t in reps)
    failed = [t for t in reps if t.status is mh.TrialStatus.FAILED]
    assert all("out of memory" in t.error for t in failed)
    members = {m.number: m for m in study.robust_front()}
    for t in failed:  # listed with the configuration, not counted as a run
        m = members[t.extra["repeat_of"]]
        assert t.number in m.repeats and t.number not in m.trials and m.runs == 1 + sum(
            r.status is mh.TrialStatus.COMPLETE for r in reps if r.extra["repeat_of"] == m.number)


# ------------------------------------------------------------------ the robust view
def test_the_robust_view_flags_a_lucky_draw_of_the_single_run_front():
    study = make_study(seed=9)
    study.optimize(noisy, n_trials=30, show_progress=False)
    truth = {t.number: true_values(t.config) for t in study.pareto_front()}
    # a lucky draw: on the single-run front, yet another front member is truly better in f2 by far (and no worse in f1)
    lucky = [n for n, v in truth.items() if any(np.all(w <= v - [0.0, 0.2]) for m, w in truth.items() if m != n)]
    assert lucky, "the seed should give a single-run front with a lucky draw"
    before = {m.number: m for m in study.robust_front()}
    assert set(before) == set(truth) and all(m.runs == 1 and m.std is None and m.p_dominated is None for m in before.values())

    study.reevaluate(noisy, repeats=8, show_progress=False)
    members = {m.number: m for m in study.robust_front()}
    assert set(members) >= set(truth)
    truly_good = [n for n, v in truth.items() if not any(np.all(w <= v) and np.any(w < v) for m, w in truth.items() if m != n)]
    for n in lucky:
        m = members[n]
        assert m.runs == 9 and m.p_dominated >= 0.95
        assert m.mean["f2"] > study.trial(n).metrics["f2"] + 0.1  # its run on the front was far better than its mean
        assert m.mean["f2"] == pytest.approx(np.mean([study.trial(k).metrics["f2"] for k in m.trials]))
        assert m.std["f2"] == pytest.approx(np.std([study.trial(k).metrics["f2"] for k in m.trials], ddof=1))
        assert m.std["f1"] == 0.0 and m.feasible_runs == 9
        assert all(members[g].p_dominated < m.p_dominated for g in truly_good)
    assert np.median([members[g].p_dominated for g in truly_good]) < 0.2
    assert study.robust_front() == list(members.values())  # seeded: the same estimate every time


def test_without_noise_no_front_member_is_dominated():
    study = make_study()
    study.optimize(exact, n_trials=15, show_progress=False)
    study.reevaluate(exact, repeats=2, show_progress=False)
    members = study.robust_front()
    assert members and all(m.p_dominated == 0.0 and m.std == {"f1": 0.0, "f2": 0.0} for m in members)


def test_a_maximized_objective_is_summarized_in_its_own_units():
    space = mh.Space(SPACE)
    study = mh.Study(space, [mh.Maximize("acc"), mh.Minimize("f2")], optimizer="random", seed=3)

    def fn(config, trial):
        values = noisy(config, trial)
        return {"acc": 1.0 - values["f1"], "f2": values["f2"]}

    study.optimize(fn, n_trials=12, show_progress=False)
    study.reevaluate(fn, top_k=1, repeats=2, show_progress=False)
    m = next(m for m in study.robust_front() if m.runs == 3)
    assert m.mean["acc"] == pytest.approx(np.mean([study.trial(k).metrics["acc"] for k in m.trials]))
    assert 0.0 < m.mean["acc"] <= 1.0


def test_p_dominated_counts_the_draws_in_which_another_member_dominates():
    means = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    exact_values = p_dominated(means, np.zeros_like(means), draws=10, seed=0)
    assert exact_values.tolist() == [0.0, 1.0, 1.0]  # ties in one objective still dominate when better in the other
    close = p_dominated(np.array([[0.0, 0.0], [0.0, 0.0]]), np.full((2, 2), 1.0), draws=20000, seed=0)
    assert close == pytest.approx([0.25, 0.25], abs=0.02)  # each beats the other in both with probability 1/4


# ------------------------------------------------------------------ the model's estimate
@pytest.mark.slow
def test_a_bayesian_study_with_repetitions_shows_the_prediction_resumes_and_proposes_new_configurations(tmp_path):
    fast = {"n_init": 4, "num_restarts": 1, "raw_samples": 16, "mc_samples": 8, "maxiter": 10}
    path = tmp_path / "bo.db"
    study = make_study(make_optimizer("ehvi", fast), seed=0, storage=path)
    study.optimize(noisy, n_trials=8, show_progress=False)
    reps = study.reevaluate(noisy, repeats=2, show_progress=False)
    members = study.robust_front()
    for m in members:  # the prediction recorded when the model proposed the original, before it ran
        audit = study.trial(m.number).extra["optimizer"]
        if "predicted" in audit:
            assert m.predicted == {n: audit["predicted"][n] for n in ("f1", "f2")}
        else:
            assert m.predicted is None and audit["acquisition"].startswith("sobol")
    assert any(m.predicted for m in members)
    study.optimize(noisy, n_trials=2, show_progress=False)
    live = [t.config for t in study.trials[-2:]]
    study.close()

    repeated = {config_key(t.config) for t in reps}
    resumed = mh.Study.load(path)
    assert len(resumed.trials) == 8 + len(reps) + 2
    resumed.optimize(noisy, n_trials=2, show_progress=False)
    new = resumed.trials[8 + len(reps):]
    assert all(t.optimizer == "ehvi" and config_key(t.config) not in repeated for t in new)
    assert [t.config for t in new[:2]] == live
    resumed.close()


# ------------------------------------------------------------------ evolutionary optimizers resume and go on
@pytest.mark.parametrize("name", ["nsga2", "spea2"])
def test_an_evolutionary_study_with_repetitions_goes_on_and_resumes(tmp_path, name):
    path = tmp_path / "ea.db"
    study = make_study(make_optimizer(name, {"pop_size": 6}), storage=path)
    study.optimize(noisy, n_trials=9, show_progress=False)  # stops inside the second generation
    reps = study.reevaluate(noisy, top_k=3, repeats=2, show_progress=False)
    assert len(reps) == 6
    study.optimize(noisy, n_trials=8, show_progress=False)
    study.close()

    resumed = mh.Study.load(path)
    resumed.optimize(noisy, n_trials=8, show_progress=False)
    assert resumed.count("complete") == 9 + 6 + 8 + 8
    repeated = {config_key(t.config) for t in reps}
    new = [t for t in resumed.trials if t.optimizer == name and t.number >= 9]
    assert len(new) == 16 and not any(config_key(t.config) in repeated for t in new)
    assert len({config_key(t.config) for t in new}) == 16
    # and once more: repetitions of a resumed study, then new proposals
    resumed.reevaluate(noisy, top_k=1, repeats=1, show_progress=False)
    resumed.optimize(noisy, n_trials=3, show_progress=False)
    assert resumed.trials[-1].optimizer == name
    resumed.close()


# ------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeats": 0}, "repeats must be a positive integer; received 0"),
        ({"repeats": True}, "repeats must be a positive integer; received True"),
        ({"repeats": 1.5}, "repeats must be a positive integer; received 1.5"),
        ({"top_k": 0}, "top_k must be a positive integer or None; received 0"),
        ({"n_trials": 3}, "reevaluate takes optimize's options"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs, message):
    study = make_study()
    study.optimize(exact, n_trials=4, show_progress=False)
    with pytest.raises(mh.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        study.reevaluate(exact, **kwargs)
    assert len(study.trials) == 4
    with pytest.raises(mh.ConfigError, match="draws must be a positive integer; received 0"):
        study.robust_front(draws=0)


def test_a_study_without_a_complete_trial_has_no_front_to_run_again():
    study = make_study()
    with pytest.raises(mh.NoFeasibleTrialError, match=r"reevaluate needs a Pareto front to run again: no trial has completed yet \(0 trials\)"):
        study.reevaluate(exact)

    def broken(config):
        raise RuntimeError("bug")

    study.optimize(broken, n_trials=3, show_progress=False)
    with pytest.raises(mh.NoFeasibleTrialError, match=r"no trial has completed yet: all 3 trials failed; the error: RuntimeError: bug"):
        study.reevaluate(exact)
    assert study.robust_front() == []


def test_a_study_without_a_feasible_trial_names_the_least_violating_one():
    study = mh.Study(mh.Space(SPACE), [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("f1", -1.0)], optimizer="random", seed=0)
    study.optimize(exact, n_trials=3, show_progress=False)
    with pytest.raises(mh.NoFeasibleTrialError, match="none of the 3 complete trials satisfies every hard constraint"):
        study.reevaluate(exact)


def test_a_read_only_study_cannot_run_repetitions(tmp_path):
    path = tmp_path / "s.db"
    with make_study(storage=path) as study:
        study.optimize(exact, n_trials=4, show_progress=False)
    view = mh.Study.load(path, read_only=True)
    with pytest.raises(mh.StorageError, match="read-only"):
        view.reevaluate(exact)
    view.close()


def test_only_rows_allowed_to_dominate_count():
    means = np.array([[0.0, 0.0], [1.0, 1.0]])  # row 0 dominates row 1
    errors = np.zeros_like(means)
    assert p_dominated(means, errors, draws=100, seed=0).tolist() == [0.0, 1.0]
    # row 0 mostly infeasible: it proves nothing about row 1
    assert p_dominated(means, errors, draws=100, seed=0, can_dominate=np.array([False, True])).tolist() == [0.0, 0.0]


def test_recommendations_judge_a_configuration_run_again_on_its_mean():
    # before, the best run of a configuration could be recommended for its luck (a noise-check repeat)
    study = make_study()
    lucky = {}

    def once_lucky(config, trial):
        values = exact(config)
        if not lucky and config["x"] > 0.3:  # one run of one configuration measures far better than it is
            lucky[trial.number] = config
            values["f2"] -= 2.0
        elif config == lucky.get(min(lucky, default=-1)):
            values["f2"] += 2.0  # and its next run as much worse: its mean is its true value
        return values

    study.optimize(once_lucky, n_trials=12, show_progress=False)
    (number,) = lucky
    assert study.recommend("best", objective="f2").trial.number == number  # judged on its one lucky run
    study.reevaluate(once_lucky, repeats=1, show_progress=False)
    best = study.recommend("best", objective="f2")
    assert best.trial.number != number and best.runs == 1
    assert best.metrics == best.trial.metrics
    true_best = min((t for t in study.trials if t.extra.get("repeat_of") is None), key=lambda t: exact(t.config)["f2"])
    assert best.trial.number == true_best.number
    x = lucky[number]["x"]  # filtered down to it: judged on the mean of its two runs, which is its true value
    alone = study.recommend("best", objective="f2", constraints=[mh.AtLeast("f1", x), mh.AtMost("f1", x)])
    assert alone.trial.number == number and alone.runs == 2 and "mean of 2 runs" in alone.reason
    assert alone.metrics["f2"] == pytest.approx(exact(lucky[number])["f2"])


def test_reevaluate_runs_its_repetitions_and_leaves_the_queue_for_later():
    study = make_study()
    study.optimize(exact, n_trials=6, show_progress=False)
    study.enqueue({"x": 0.5, "y": 0.5})
    reps = study.reevaluate(exact, top_k=1, repeats=1, show_progress=False)
    assert len(reps) == 1 and reps[0].optimizer == REEVALUATE  # before, the queued configuration ran instead
    study.optimize(exact, n_trials=1, show_progress=False)
    assert study.trials[-1].config == {"x": 0.5, "y": 0.5} and study.trials[-1].optimizer == "enqueued"


def test_a_repeat_skipped_before_training_counts_in_its_configurations_mean():
    # the repeats of a lucky configuration were skipped before training (3 ms against a 2 ms bound) and left out, so
    # device sizing and recommend chose it on its one lucky run (1 ms)
    import torch

    calls = {}

    @mh.objectives.probe(metrics=["latency_p99_ms"], needs_training=False)
    def latency(model):
        width = model.weight.shape[0]
        calls[width] = calls.get(width, 0) + 1
        return {"latency_p99_ms": 1.0 if width != 16 or calls[width] == 1 else 3.0}

    @mh.objectives.probe(metrics=["accuracy"])
    def accuracy(model):
        return {"accuracy": 0.5 + model.weight.shape[0] / 100}

    def build(config):
        return torch.nn.Linear(8, config["w"])

    def fit(model, config):
        return model

    study = mh.Study(mh.Space({"w": mh.Categorical([4, 16])}), [mh.Maximize("accuracy")],
                     [mh.AtMost("latency_p99_ms", 2.0)], optimizer="random", seed=0)
    study.enqueue({"w": 16})
    study.enqueue({"w": 4})
    study.optimize(fit, build=build, probes=[latency, accuracy], n_trials=2, show_progress=False)
    study.reevaluate(fit, repeats=2, build=build, probes=[latency, accuracy], show_progress=False)
    assert [t.status.value for t in study.trials[2:]] == ["infeasible_skipped"] * 2  # the repeats of #0
    (mcu,) = mh.size_for_devices(study, [mh.DeviceProfile("mcu", max_latency_ms=2.0)])
    assert mcu.best.number == 1 and study.recommend("best", objective="accuracy").trial.number == 1
    judged = {t.number: (runs, t.metrics) for t, _, runs, _ in judged_configurations(study.problem, study.trials, False)}
    counts = {t.number: c for t, _, _, c in judged_configurations(study.problem, study.trials, False)}
    assert judged[0][1]["latency_p99_ms"] == pytest.approx(7.0 / 3)  # 1, 3, 3 ms
    assert judged[0][0] == 3 and counts[0] == {"latency_p99_ms": 3, "accuracy": 1}  # its accuracy is one run's
    from moo_hpo.robust import runs_phrase

    assert [runs_phrase(c, 3) for c in (3, 2, 1)] == ["mean of 3 runs", "mean of 2 of 3 runs", "one of 3 runs"]
    assert runs_phrase(1, 1) == ""
    looser = mh.Study(mh.Space({"w": mh.Categorical([4, 16])}), [mh.Maximize("accuracy")],
                      [mh.AtMost("latency_p99_ms", 2.5)], optimizer="random", seed=0)  # 16's mean, 2.33 ms, fits
    calls.clear()
    looser.enqueue({"w": 16})
    looser.enqueue({"w": 4})
    looser.optimize(fit, build=build, probes=[latency, accuracy], n_trials=2, show_progress=False)
    looser.reevaluate(fit, repeats=2, build=build, probes=[latency, accuracy], show_progress=False)
    best = looser.recommend("best", objective="accuracy")  # each figure says how many runs it is of
    assert best.trial.number == 0 and best.reason == "best accuracy (accuracy=0.66 (one of 3 runs))" and best.runs == 3
    assert best.metrics["latency_p99_ms"] == pytest.approx(7.0 / 3)  # its constraint judged on the mean of all 3
    (phone,) = mh.size_for_devices(looser, [mh.DeviceProfile("phone", max_latency_ms=5.0)])
    assert phone.best.number == 0 and "best accuracy (0.66, one of 3 runs)" in phone.reason
    # no configuration feasible on its means while a run is: the report says so (it raised NoFeasibleTrialError) and
    # sizing does not blame trial #0's single run nor count its repeats as candidates of their own
    only = mh.Study(mh.Space({"w": mh.Categorical([16])}), [mh.Maximize("accuracy")], [mh.AtMost("latency_p99_ms", 2.0)],
                    optimizer="random", seed=0)
    calls.clear()
    only.optimize(fit, build=build, probes=[latency, accuracy], n_trials=1, show_progress=False)
    only.reevaluate(fit, repeats=2, build=build, probes=[latency, accuracy], show_progress=False)
    assert only.n_feasible == 1 and "Nothing to recommend: no configuration is feasible on the mean of its runs" in (
        mh.report(only).to_markdown())
    (mcu,) = mh.size_for_devices(only, [mh.DeviceProfile("mcu", max_latency_ms=5.0)])
    assert mcu.best is None and mcu.reason.endswith("no configuration is feasible on the mean of its runs")
    assert "skipped before training" not in mcu.reason


def test_the_dataframe_names_each_repeats_original_trial():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=3, show_progress=False)
    assert "repeat_of" not in study.to_dataframe()  # nothing ran again yet
    repeats = study.reevaluate(lambda c: {"a": c["x"], "b": 1 - c["x"]}, top_k=1, repeats=2, show_progress=False)
    frame = study.to_dataframe()
    original = repeats[0].extra["repeat_of"]
    assert str(frame["repeat_of"].dtype) == "Int64"
    assert frame["repeat_of"].tolist()[3:] == [original, original] and frame["repeat_of"][:3].isna().all()
