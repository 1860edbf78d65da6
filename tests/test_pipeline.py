from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pytest
import torch

import moo_hpo as mh


def make_study(**kw):
    space = mh.Space({"width": mh.Int(4, 256, log=True), "lr": mh.Float(1e-3, 1e-1, log=True)})
    return mh.Study(
        space,
        [mh.Maximize("accuracy"), mh.Minimize("size_kb")],
        [mh.AtMost("size_kb", 2.0)],
        optimizer="random",
        seed=0,
        **kw,
    )


X = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(int)


def build(config):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, config["width"]), torch.nn.ReLU(), torch.nn.Linear(config["width"], 1))


def test_fit_never_called_for_a_candidate_that_breaks_a_hard_size_bound():
    calls = []

    def fit(model, config):
        calls.append(config["width"])
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
        x, y = torch.as_tensor(X), torch.as_tensor(Y, dtype=torch.float32)
        for _ in range(20):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), y).backward()
            opt.step()

    study = make_study()
    study.optimize(fit, build=build, probes=[mh.objectives.ModelSize(), mh.objectives.Accuracy(X, Y)], n_trials=20, show_progress=False)
    skipped = [t for t in study.trials if t.status is mh.TrialStatus.INFEASIBLE_SKIPPED]
    complete = [t for t in study.trials if t.status is mh.TrialStatus.COMPLETE]
    # 8*w + w + w + 1 params at 4 bytes <= 2 KB  <=>  w <= 51
    assert skipped and complete
    assert all(t.config["width"] > 51 for t in skipped) and all(t.config["width"] <= 51 for t in complete)
    assert sorted(calls) == sorted(t.config["width"] for t in complete)  # fit ran exactly for the kept ones
    assert all("accuracy" not in t.metrics and t.metrics["size_kb"] > 2.0 for t in skipped)
    assert all("breaks size_kb <= 2" in t.extra["skipped"] for t in skipped)
    assert all(0.5 < t.metrics["accuracy"] <= 1.0 for t in complete)
    assert study.pareto_front()


def test_a_latency_skip_of_a_model_declared_int8_says_it_judged_the_float_model():
    # an int8 candidate was skipped on its float latency with nothing said (the int8 model it would ship fits)
    latency = mh.objectives.Latency(np.zeros(8, dtype=np.float32), min_repeats=3, max_repeats=3, warmup=0)

    def int8_build(config):
        model = build(config)
        model.moo_hpo_precision = "int8"
        return model

    study = mh.Study(make_study().space, [mh.Minimize("size_kb")], [mh.AtMost("latency_p99_ms", 1e-9),
                                                                      mh.AtMost("size_kb", 0.01)], optimizer="random", seed=0)
    study.optimize(lambda m, c: m, build=int8_build, probes=[mh.objectives.ModelSize(), latency], n_trials=2,
                   show_progress=False)
    said = study.trials[0].extra["skipped"]
    assert study.trials[0].status is mh.TrialStatus.INFEASIBLE_SKIPPED
    assert ("(latency_p99_ms measured on the model as built, before fit: its moo_hpo_precision='int8' counts in "
            "sizes only; a model quantized in fit may run faster than this)") in said
    assert "size_kb measured" not in said  # a size counts at the declared precision: nothing to say of it
    sized = mh.Study(make_study().space, [mh.Minimize("size_kb")], [mh.AtMost("device_excess", 0.0)], optimizer="random",
                     seed=0)
    fit_size = mh.objectives.DeviceFit(mh.DeviceProfile("mcu", max_size_kb=0.01))  # a size budget, derived
    sized.optimize(lambda m, c: m, build=int8_build, probes=[mh.objectives.ModelSize(), fit_size], n_trials=1,
                   show_progress=False)
    assert sized.trials[0].status is mh.TrialStatus.INFEASIBLE_SKIPPED and "as built" not in sized.trials[0].extra["skipped"]
    timed = mh.Study(make_study().space, [mh.Minimize("size_kb")], [mh.AtMost("device_excess", 0.0)], optimizer="random",
                     seed=0)
    fast = mh.objectives.DeviceFit(mh.DeviceProfile("mcu", max_latency_ms=1e-9))  # a latency budget, derived
    timed.optimize(lambda m, c: m, build=int8_build, probes=[mh.objectives.ModelSize(), latency, fast], n_trials=1,
                   show_progress=False)
    assert "(latency_p99_ms measured on the model as built, before fit" in timed.trials[0].extra["skipped"]
    # a device with both budgets, its size alone broken: the skip names that budget, and no latency note
    # (it said "device_excess measured on the model as built ... may run faster" whatever broke)
    both = mh.Study(make_study().space, [mh.Minimize("size_kb")], [mh.AtMost("device_excess", 0.0)], optimizer="random",
                    seed=0)
    roomy = mh.objectives.DeviceFit(mh.DeviceProfile("mcu", max_size_kb=0.01, max_latency_ms=1e6))
    both.optimize(lambda m, c: m, build=int8_build, probes=[mh.objectives.ModelSize(), latency, roomy], n_trials=1,
                  show_progress=False)
    said = both.trials[0].extra["skipped"]
    assert both.trials[0].status is mh.TrialStatus.INFEASIBLE_SKIPPED and "as built" not in said
    assert re.search(r"breaks device_excess <= 0 \(mcu: size_kb [0-9.]+ > 0\.01\)$", said), said


def test_fn_returning_a_model_is_measured_by_every_probe():
    from sklearn.linear_model import LogisticRegression

    study = mh.Study(mh.Space({"C": mh.Float(0.01, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("param_count")], optimizer="random", seed=0)
    study.optimize(lambda c: LogisticRegression(C=c["C"]).fit(X, Y), probes=[mh.objectives.Accuracy(X, Y), mh.objectives.ModelSize()], n_trials=3, show_progress=False)
    assert study.count("complete") == 3
    assert all(t.metrics["param_count"] == 9 for t in study.trials)


def test_probe_failure_fails_the_trial_with_the_probe_name():
    @mh.objectives.probe(metrics=["accuracy"])
    def broken(model):
        raise ValueError("no validation data on this node")

    study = make_study()
    study.optimize(lambda m, c: None, build=build, probes=[mh.objectives.ModelSize(), broken], n_trials=4, show_progress=False)
    failed = [t for t in study.trials if t.status is mh.TrialStatus.FAILED]
    assert failed and all("probe 'broken' raised ValueError: no validation data" in t.error for t in failed)


def test_fit_may_add_metrics_and_training_energy_estimate():
    def fit(model, config):
        return {"train_loss": 0.5}

    study = make_study()
    probes = [mh.objectives.ModelSize(), mh.objectives.Accuracy(X, Y), mh.objectives.TrainingEnergy(device="cpu", watts=50.0)]
    study.optimize(fit, build=build, probes=probes, n_trials=6, show_progress=False)
    done = [t for t in study.trials if t.status is mh.TrialStatus.COMPLETE]
    assert done and all(t.metrics["train_loss"] == 0.5 and t.metrics["energy_train_j"] >= 0 for t in done)
    assert all(t.extra["energy_source"] in ("estimate", "rapl") for t in done)


def test_two_probes_with_one_metric_are_refused():
    import pytest

    with pytest.raises(mh.ConfigError, match="provided by two probes"):
        make_study().optimize(lambda m, c: None, build=build, probes=[mh.objectives.ModelSize(), mh.objectives.ModelSize()], n_trials=1)


def _digits():
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    X, y = load_digits(return_X_y=True)
    return X[:1200] / 16.0, y[:1200], X[1200:] / 16.0, y[1200:]


def test_scikit_learn_estimators_are_sized_and_timed_after_fit():
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    Xt, yt, Xv, yv = _digits()

    def build(config):
        if config["model"] == "knn":
            return KNeighborsClassifier(n_neighbors=config["k"])
        return LogisticRegression(C=config["C"], max_iter=200)

    def fit(model, config):
        return model.fit(Xt, yt)

    space = mh.Space({"model": mh.Categorical(["logreg", "knn"]), "C": mh.Float(0.01, 10, log=True), "k": mh.Int(1, 15)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("latency_p99_ms")], [mh.AtMost("size_kb", 1e6)],
                     optimizer="random", seed=0)
    probes = [mh.objectives.ModelSize(), mh.objectives.Latency(Xv[0], min_time_s=0.05, max_time_s=0.2), mh.objectives.Accuracy(Xv, yv)]
    study.optimize(fit, build=build, probes=probes, n_trials=8, show_progress=False)
    assert study.count("complete") == 8, [t.error for t in study.trials]
    kinds = {t.config["model"] for t in study.trials}
    assert kinds == {"logreg", "knn"}
    for t in study.trials:
        assert t.metrics["size_kb"] > 0 and t.metrics["latency_p99_ms"] > 0 and t.metrics["accuracy"] > 0.8
        if t.config["model"] == "logreg":
            assert t.metrics["param_count"] == 64 * 10 + 10  # coefficients and intercepts
        else:  # no parameter arrays: the pickled size, and no made-up count
            assert "param_count" not in t.metrics and t.metrics["size_kb"] == t.metrics["serialized_kb"]


def test_an_unfitted_estimator_is_not_sized_as_zero():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(mh.ProbeError, match="LogisticRegression is not fitted"):
        mh.objectives.ModelSize().measure(LogisticRegression())


def test_a_probe_of_my_own_that_needs_no_training_runs_before_fit_whatever_the_model():
    early = mh.objectives.probe(["width"], needs_training=False)(lambda model: {"width": float(model["width"])})
    trained = []

    def fit(model, config):
        trained.append(config)
        return {"y": 1.0}

    study = mh.Study(mh.Space({"w": mh.Int(1, 10)}), [mh.Minimize("y")], [mh.AtMost("width", 5)], optimizer="random", seed=0)
    study.optimize(fit, build=lambda c: {"width": c["w"]}, probes=[early], n_trials=10, show_progress=False)
    skipped = [t for t in study.trials if t.status is mh.TrialStatus.INFEASIBLE_SKIPPED]
    assert skipped and len(trained) == 10 - len(skipped)  # measured on the built model, before fit


def test_fit_given_the_trial_reports_and_a_pruned_model_is_not_measured_after_training():
    measured_after = []

    @mh.objectives.probe(["final_check"])
    def final_check(model):
        measured_after.append(1)
        return {"final_check": 1.0}

    def fit(model, config, trial):
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
        x, y = torch.as_tensor(X), torch.as_tensor(Y, dtype=torch.float32)
        for epoch in range(1, 10):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), y)
            loss.backward()
            opt.step()
            acc = float(((model(x).squeeze(1) > 0).numpy() == Y).mean())
            trial.report(epoch, {"accuracy": acc})
            if trial.should_prune():
                return {"accuracy": acc}
        return {"accuracy": acc}

    study = make_study(pruner=mh.pruners.MOASHA(1, 9, 3))
    study.optimize(fit, build=build, probes=[mh.objectives.ModelSize(), final_check], n_trials=12, show_progress=False)
    trained = [t for t in study.trials if t.status in (mh.TrialStatus.COMPLETE, mh.TrialStatus.PRUNED)]
    pruned = [t for t in trained if t.status is mh.TrialStatus.PRUNED]
    assert pruned and all(t.reports for t in trained)
    assert all("size_kb" in t.metrics and "final_check" not in t.metrics for t in pruned)
    assert len(measured_after) == len(trained) - len(pruned)  # only the models that finished training


def test_a_third_parameter_with_a_default_is_not_given_the_trial():
    seen = []

    def fit(model, config, verbose=False):
        seen.append(verbose)

    study = make_study(pruner=mh.pruners.MOASHA(1, 9, 3))
    with pytest.warns(UserWarning, match="takes no trial, so it cannot report"):  # and the user is told
        study.optimize(fit, build=build, probes=[mh.objectives.ModelSize()], n_trials=3, show_progress=False)
    assert seen and all(v is False for v in seen)


def test_fit_may_take_the_trial_as_a_keyword_only_parameter():
    reported = []

    def fit(model, config, verbose=False, *, trial):
        trial.report(1, {"size_kb": 1.0})
        reported.append(trial.number)

    study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(fit, build=build, probes=[mh.objectives.ModelSize()], n_trials=3, show_progress=False)
    assert sorted(reported) == [0, 1, 2] and all(t.status is mh.TrialStatus.COMPLETE for t in study.trials)
    assert all(t.reports for t in study.trials)


def test_build_may_take_the_trial_to_seed_the_weights():
    # build(config, trial) was refused ("missing 'trial'"), so trial.seed could not seed a model's initialisation
    def unseeded(config):
        return torch.nn.Sequential(torch.nn.Linear(8, config["width"]), torch.nn.ReLU(), torch.nn.Linear(config["width"], 1))

    def seeded_build(config, trial):
        torch.manual_seed(trial.seed)
        return unseeded(config)

    def keyword_build(config, *, trial):
        return seeded_build(config, trial)

    def fit(model, config):
        return {"first_weight": float(next(model.parameters()).flatten()[0])}

    firsts = []
    for made in (seeded_build, keyword_build):
        study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
        study.optimize(fit, build=made, probes=[mh.objectives.ModelSize()], n_trials=3, show_progress=False)
        assert study.count("complete") == 3
        firsts.append([t.metrics["first_weight"] for t in study.trials])
    assert firsts[0] == firsts[1] and len(set(firsts[0])) == 3  # each trial's own seed, the same in both studies

    def with_device(config, device=None):  # a second parameter of its own: never given the trial
        assert device is None
        return unseeded(config)

    study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(fit, build=with_device, probes=[mh.objectives.ModelSize()], n_trials=2, show_progress=False)
    assert study.count("complete") == 2

    def short_name(config, t):  # a required second parameter: the trial, whatever its name
        torch.manual_seed(t.seed)
        return unseeded(config)

    study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(fit, build=short_name, probes=[mh.objectives.ModelSize()], n_trials=3, show_progress=False)
    assert [t.metrics["first_weight"] for t in study.trials] == firsts[0]
    torch.manual_seed(study.trials[1].seed)
    assert firsts[0][1] == float(next(unseeded(study.trials[1].config).parameters()).flatten()[0])


def test_a_second_parameter_meant_for_something_else_is_named_when_the_trial_given_to_it_breaks_build_or_fit():
    # build(config, n_classes) was given the trial, and the trial's failure read "empty(): argument 'size' must be
    # tuple of ints, but found element of type Trial", naming neither the parameter nor why it held a trial
    def build_for_classes(config, n_classes):
        return torch.nn.Linear(8, n_classes)

    def fit_for_epochs(model, config, epochs):
        for _ in range(epochs):
            pass

    def fit(model, config):
        return model

    for made, trains, called, name in ((build_for_classes, fit, "build", "n_classes"),
                                       (build, fit_for_epochs, "fit", "epochs")):
        study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
        study.optimize(trains, build=made, probes=[mh.objectives.ModelSize()], n_trials=2, show_progress=False)
        assert study.count("failed") == 2
        first_line = study.trials[0].error.splitlines()[0]
        assert first_line.startswith("TypeError: ") and "Trial" in first_line  # the error itself, then the hint
        assert f"(moo_hpo passed the trial to {called}'s parameter '{name}', as to any parameter" in first_line
        assert f"functools.partial({made.__name__ if called == 'build' else trains.__name__}, {name}=...)" in first_line

    def objective(config, X):  # the objective itself: fn(config, X) with X required
        return {"size_kb": float(np.mean(X))}

    study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(objective, n_trials=2, show_progress=False, catch=(TypeError,))  # still a TypeError: caught
    assert study.count("failed") == 2
    assert "(moo_hpo passed the trial to the objective's parameter 'X'" in study.trials[0].error.splitlines()[0]

    def uses_the_trial_wrongly(config, trial):  # named trial: its own error, unchanged
        return {"size_kb": trial + 1}

    def calls_it_wrongly(config, t):  # the trial's own method called wrongly: no hint
        t.report(1)

    for fn in (uses_the_trial_wrongly, calls_it_wrongly):
        study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
        study.optimize(fn, n_trials=1, show_progress=False)
        assert study.trials[0].error.startswith("TypeError: ") and "moo_hpo passed" not in study.trials[0].error


def test_fit_returning_a_probe_metric_fails_the_trial_with_both_named():
    study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(lambda model, config: {"size_kb": 123.0}, build=build, probes=mh.objectives.ModelSize(), n_trials=1,
                   show_progress=False)
    (trial,) = study.trials
    assert trial.status is mh.TrialStatus.FAILED
    assert "fit returned ['size_kb'], which the probe 'model_size' measures too" in trial.error


def test_a_probe_of_my_own_returns_what_it_declares():
    named = mh.objectives.probe(metrics="sparsity")(lambda model: {"sparsity": 0.5})
    assert named.metrics == ("sparsity",) and named.measure(None) == {"sparsity": 0.5}
    wrong = mh.objectives.probe(metrics=["a"])(lambda model: {"b": 1.0})
    with pytest.raises(mh.ProbeError, match=r"declares the metrics \['a'\] but returned \['b'\].*not declared: \['b'\].*missing: \['a'\]"):
        wrong.measure(None)
    with pytest.raises(mh.ConfigError, match="metrics must be a name or a list of names"):
        mh.objectives.probe(metrics=3)(lambda model: {})


def test_probes_before_training_hand_the_model_back_in_training_mode():
    import torch

    modes = []

    def build_with_dropout(config):
        return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))

    def fit(model, config):
        modes.append(model.training)
        return {"f": 1.0}

    def my_probe_model(model):  # a probe of the user's that leaves the model in eval mode
        model.eval()
        return {"g": 1.0}

    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("f"), mh.Minimize("g")], optimizer="random", seed=0)
    probes = [mh.objectives.Latency(torch.zeros(4), min_time_s=0.05, max_time_s=0.2), mh.objectives.ModelSize(),
              mh.objectives.probe(["g"], needs_training=False)(my_probe_model)]
    study.optimize(fit, build=build_with_dropout, probes=probes, n_trials=2, show_progress=False)
    assert study.count("complete") == 2 and modes == [True, True]  # dropout on while it trains


def test_a_probe_of_the_users_that_measures_an_unfitted_estimator_is_named(caplog):
    import pickle

    from sklearn.linear_model import LogisticRegression

    @mh.objectives.probe(["flash_kb"], needs_training=False)
    def flash_before_training(model):
        return {"flash_kb": len(pickle.dumps(model)) / 1024}

    def fit(model, config):
        return {"f": 1.0}

    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("f"), mh.Minimize("flash_kb")], optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(fit, build=lambda c: LogisticRegression(), probes=[flash_before_training, mh.objectives.ModelSize()],
                       n_trials=2, show_progress=False)
    (line,) = [r.getMessage() for r in caplog.records if "before fit" in r.getMessage()]
    assert "'flash_before_training'" in line and "LogisticRegression" in line and "needs_training=True" in line
    caplog.clear()
    X = np.random.default_rng(0).normal(size=(60, 3))
    cv = mh.objectives.CrossValidated(X, (X[:, 0] > 0).astype(int), metrics=["accuracy"], n_splits=3)
    other = mh.Study(space, [mh.Maximize("accuracy")], optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):  # moo_hpo's own probe that fits clones before fit, on purpose
        other.optimize(lambda model, config: None, build=lambda c: LogisticRegression(), probes=[cv], n_trials=2,
                       show_progress=False)
    assert other.count("complete") == 2 and "before fit" not in caplog.text


def test_sizes_at_a_precision_need_the_precision_and_cpu_latency_with_workers_is_named():
    import torch

    space = make_study().space
    study = mh.Study(space, [mh.Minimize("f")], [mh.AtMost("size_kb_int8", 10.0)], optimizer="random", seed=0)
    with pytest.warns(UserWarning, match=r"ModelSize\(precisions=\['int8'\]\); unless fit returns it"):
        study.optimize(lambda model, config: {"f": 1.0, "size_kb_int8": 5.0}, build=build, probes=[mh.objectives.ModelSize()],
                       n_trials=1, show_progress=False)
    assert study.count("complete") == 1  # fit returned it itself: a quantized export of the user's
    latency = mh.objectives.Latency(torch.zeros(10), min_time_s=0.05, max_time_s=0.1)
    with pytest.warns(UserWarning, match="while 2 workers train on the same cores"):
        mh.Study(space, [mh.Minimize("latency_p99_ms")], optimizer="random", seed=0).optimize(
            lambda model, config: None, build=build, probes=[latency], n_trials=1, n_workers=2, show_progress=False)


def test_a_bound_on_a_fairness_metric_the_probe_was_not_asked_for_is_named_before_training():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, sex = rng.normal(size=(200, 3)), rng.choice(["F", "M"], size=200)
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    gap = mh.objectives.FairnessGap(X, y, sensitive=sex, holdout=(X, y, sex))  # eo_diff only, by default
    study = mh.Study(mh.Space({"C": mh.Float(0.1, 10, log=True)}), [mh.Maximize("accuracy")], [mh.AtMost("tpr_diff", 0.05)],
                     optimizer="random", seed=0)
    with pytest.warns(UserWarning, match=r"'tpr_diff', which FairnessGap measures only when asked for it: "
                                         r"FairnessGap\(\.\.\., metrics=\['eo_diff', 'tpr_diff'\]\)"):
        study.optimize(lambda model, config: model.fit(X, y), build=lambda c: LogisticRegression(C=c["C"]),
                       probes=[mh.objectives.Accuracy(X, y), gap], n_trials=1, show_progress=False)
    held = mh.Study(mh.Space({"C": mh.Float(0.1, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("holdout_dp_diff")],
                    optimizer="random", seed=0)
    with pytest.warns(UserWarning, match=r"'holdout_dp_diff', which FairnessGap measures only when asked for it: .*'dp_diff'\]"):
        held.optimize(lambda model, config: model.fit(X, y), build=lambda c: LogisticRegression(C=c["C"]),
                      probes=[mh.objectives.Accuracy(X, y), gap], n_trials=1, show_progress=False)


def test_probes_deciding_labels_at_different_thresholds_are_warned_about():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, sex = rng.normal(size=(200, 3)), rng.choice(["F", "M"], size=200)
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    study = mh.Study(mh.Space({"C": mh.Float(0.1, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0)
    run = dict(build=lambda c: LogisticRegression(C=c["C"]), n_trials=1, show_progress=False)
    with pytest.warns(UserWarning, match=r"different thresholds \(Accuracy its predict, FairnessGap 0.25\)"):
        study.optimize(lambda model, config: model.fit(X, y),
                       probes=[mh.objectives.Accuracy(X, y), mh.objectives.FairnessGap(X, y, sensitive=sex, threshold=0.25)], **run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same threshold, or an accuracy of scores only: nothing to say
        study.optimize(lambda model, config: model.fit(X, y), probes=[mh.objectives.Accuracy(X, y, threshold=0.25),
                                                                    mh.objectives.FairnessGap(X, y, sensitive=sex, threshold=0.25)], **run)
        scores = mh.Study(mh.Space({"C": mh.Float(0.1, 10, log=True)}), [mh.Maximize("roc_auc"), mh.Minimize("eo_diff")],
                          optimizer="random", seed=0)
        scores.optimize(lambda model, config: model.fit(X, y), probes=[mh.objectives.Accuracy(X, y, metrics=["roc_auc"]),
                                                                     mh.objectives.FairnessGap(X, y, sensitive=sex, threshold=0.25)], **run)
        same = [mh.objectives.Accuracy(X, y, pos_label=0, threshold=0.25), mh.objectives.FairnessGap(X, y, sensitive=sex, pos_label=0, threshold=0.25)]
        study.optimize(lambda model, config: model.fit(X, y), probes=same, **run)
        no_threshold = [mh.objectives.Accuracy(X, y), mh.objectives.FairnessGap(X, y, sensitive=sex, pos_label=0)]
        study.optimize(lambda model, config: model.fit(X, y), probes=no_threshold, **run)  # predict decides: no matter
    with pytest.warns(UserWarning, match=r"count different labels as positive \(Accuracy 1, FairnessGap 0\)"):
        study.optimize(lambda model, config: model.fit(X, y),
                       probes=[mh.objectives.Accuracy(X, y, threshold=0.25), mh.objectives.FairnessGap(X, y, sensitive=sex, pos_label=0, threshold=0.25)], **run)


def test_probes_given_different_held_out_splits_are_warned_about():
    # the audit showed a held-out accuracy and a held-out gap of two different splits as one model's figures
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, sex = rng.normal(size=(300, 3)), rng.choice(["F", "M"], size=300)
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    val, a, b = slice(0, 100), slice(100, 200), slice(150, 300)
    study = mh.Study(mh.Space({"C": mh.Float(0.1, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0)
    run = dict(build=lambda c: LogisticRegression(C=c["C"]), n_trials=1, show_progress=False)

    def probes(acc_rows, gap_rows):
        return [mh.objectives.Accuracy(X[val], y[val], holdout=(X[acc_rows], y[acc_rows])),
                mh.objectives.FairnessGap(X[val], y[val], sensitive=sex[val], holdout=(X[gap_rows], y[gap_rows], sex[gap_rows]))]

    with pytest.warns(UserWarning, match=r"same 100 validation rows but were given different held-out splits "
                                         r"\(Accuracy 100 rows, FairnessGap 150 rows, or other labels\)"):
        study.optimize(lambda model, config: model.fit(X[val], y[val]), probes=probes(a, b), **run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same split: nothing to say
        study.optimize(lambda model, config: model.fit(X[val], y[val]), probes=probes(a, a), **run)
    assert study.count("complete") == 2
    # a gap per sensitive feature (prefix=) is audited beside the accuracy: compared too; so are the rows, not
    # only their labels
    shifted = X[a] + 1.0
    prefixed = [mh.objectives.Accuracy(X[val], y[val], holdout=(X[a], y[a])),
                mh.objectives.FairnessGap(X[val], y[val], sensitive=sex[val], holdout=(shifted, y[a], sex[a]), prefix="sex")]
    by_sex = mh.Study(study.space, [mh.Maximize("accuracy"), mh.Minimize("sex_eo_diff")], optimizer="random", seed=0)
    with pytest.warns(UserWarning, match=r"different held-out splits \(Accuracy 100 rows, FairnessGap 'sex_' 100 rows"):
        by_sex.optimize(lambda model, config: model.fit(X[val], y[val]), probes=prefixed, **run)

    ood = [*prefixed[:1], mh.objectives.Accuracy(X[val], y[val], holdout=(X[b], y[b]), prefix="ood"), prefixed[1]]
    ood[2] = mh.objectives.FairnessGap(X[val], y[val], sensitive=sex[val], holdout=(X[a], y[a], sex[a]), prefix="sex")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a prefixed accuracy on a test set of its own: a second measurement on purpose
        by_sex.optimize(lambda model, config: model.fit(X[val], y[val]), probes=ood, **run)

    only_prefixed = [mh.objectives.Accuracy(X[val], y[val], holdout=(X[a], y[a]), prefix="w"), prefixed[1]]
    with pytest.warns(UserWarning, match=r"different held-out splits \(Accuracy 'w_' 100 rows, FairnessGap 'sex_'"):
        by_sex.optimize(lambda model, config: model.fit(X[val], y[val]), probes=only_prefixed, **run)

    class OwnProbe(mh.objectives.Probe):  # a probe of the user's with attributes of those names: not read
        name, metrics, needs_training = "own", ("own",), True

        def __init__(self):
            self.holdout, self.y = 0.25, y[val]

        def measure(self, model):
            return mh.objectives.Measurement({"own": 1.0})

    own = mh.Study(study.space, [mh.Maximize("accuracy")], optimizer="random", seed=0)
    own.optimize(lambda model, config: model.fit(X[val], y[val]), probes=[probes(a, b)[0], OwnProbe()], **run)
    assert own.count("complete") == 1


def test_probes_weighing_the_same_rows_differently_are_warned_about():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, sex = rng.normal(size=(200, 3)), rng.choice(["F", "M"], size=200)
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    w = rng.uniform(0.5, 2.0, size=200)
    study = mh.Study(mh.Space({"C": mh.Float(0.1, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0)
    run = dict(build=lambda c: LogisticRegression(C=c["C"]), n_trials=1, show_progress=False)
    with pytest.warns(UserWarning, match=r"weigh the same 200 rows differently \(Accuracy unweighted, FairnessGap weighted\)"):
        study.optimize(lambda model, config: model.fit(X, y),
                       probes=[mh.objectives.Accuracy(X, y), mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=w)], **run)
    with pytest.warns(UserWarning, match=r"\(Accuracy weighted, FairnessGap weighted\)"):
        study.optimize(lambda model, config: model.fit(X, y),
                       probes=[mh.objectives.Accuracy(X, y, sample_weight=w[::-1]),
                               mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=w)], **run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same weights, or other rows: nothing to say
        study.optimize(lambda model, config: model.fit(X, y),
                       probes=[mh.objectives.Accuracy(X, y, sample_weight=list(w)),
                               mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=w)], **run)
        study.optimize(lambda model, config: model.fit(X, y),
                       probes=[mh.objectives.Accuracy(X[:100], y[:100]),
                               mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=w)], **run)
        half = np.r_[y[100:], y[:100]]  # other rows of the same size
        study.optimize(lambda model, config: model.fit(X, y),
                       probes=[mh.objectives.Accuracy(np.r_[X[100:], X[:100]], half),
                               mh.objectives.FairnessGap(X, y, sensitive=sex, sample_weight=w)], **run)
        study.optimize(lambda model, config: model.fit(X, y),  # a second weighting recorded apart on purpose
                       probes=[mh.objectives.Accuracy(X, y), mh.objectives.Accuracy(X, y, sample_weight=w, prefix="w"),
                               mh.objectives.FairnessGap(X, y, sensitive=sex)], **run)
    assert len(study.trials) == 6


def test_a_study_that_selects_on_a_held_out_figure_is_warned_about():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, sex = rng.normal(size=(200, 3)), rng.choice(["F", "M"], size=200)
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    study = mh.Study(mh.Space({"C": mh.Float(0.1, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     [mh.AtMost("holdout_eo_diff", 0.5)], optimizer="random", seed=0)
    probes = [mh.objectives.Accuracy(X, y), mh.objectives.FairnessGap(X, y, sensitive=sex, holdout=(X, y, sex))]
    with pytest.warns(UserWarning, match=r"the study selects on \['holdout_eo_diff'\], measured on the held-out split.*"
                                         r"name \['eo_diff'\] instead"):
        study.optimize(lambda model, config: model.fit(X, y), build=lambda c: LogisticRegression(C=c["C"]),
                       probes=probes, n_trials=1, show_progress=False)


def test_a_models_own_threshold_applied_to_different_positive_labels_is_logged_once(caplog):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, sex = rng.normal(size=(200, 3)), rng.choice(["F", "M"], size=200)
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)

    def build(config):
        model = LogisticRegression()
        model.moo_hpo_threshold = config["threshold"]
        return model

    def run(gap):
        study = mh.Study(mh.Space({"threshold": mh.Float(0.6, 0.8)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                         optimizer="random", seed=0)
        caplog.clear()
        with caplog.at_level("WARNING", logger="moo_hpo"):
            study.optimize(lambda model, config: model.fit(X, y), build=build, n_trials=3, show_progress=False,
                           probes=[mh.objectives.Accuracy(X, y), gap])
        return [r.getMessage() for r in caplog.records if "moo_hpo_threshold" in r.getMessage()]

    said = run(mh.objectives.FairnessGap(X, y, sensitive=sex, pos_label=0))
    assert len(said) == 1 and "count different ones (Accuracy 1, FairnessGap 0)" in said[0]
    assert run(mh.objectives.FairnessGap(X, y, sensitive=sex)) == []  # the same positive label: one classifier


def test_a_threshold_set_by_build_goes_with_the_model_fit_returns_in_its_place(caplog):
    # fit returning CalibratedClassifierCV(model).fit(...) dropped the searched threshold: stored None, no effect
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)

    def build(config):
        model = LogisticRegression()
        model.moo_hpo_threshold = config["threshold"]
        return model

    study = mh.Study(mh.Space({"threshold": mh.Float(0.1, 0.9)}), [mh.Maximize("accuracy")], optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(lambda model, config: CalibratedClassifierCV(model, cv=3).fit(X, y), build=build, n_trials=3,
                       show_progress=False, probes=[mh.objectives.Accuracy(X, y)])
    said = [r.getMessage() for r in caplog.records if "goes with it" in r.getMessage()]
    assert len(said) == 1 and "fit returned another model (CalibratedClassifierCV)" in said[0]
    for t in study.trials:  # the accuracy is the searched threshold's
        fitted = CalibratedClassifierCV(LogisticRegression(), cv=3).fit(X, y)
        expected = ((fitted.predict_proba(X)[:, 1] >= t.config["threshold"]).astype(int) == y).mean()
        assert t.metrics["accuracy"] == pytest.approx(expected)


def test_the_recorded_size_is_the_trained_model_s_when_fit_quantizes_or_prunes():
    # the probes measured before training decided the skip; the size recorded is what fit returned or left
    import torch.ao.quantization as tq
    from torch.nn.utils import prune

    seen = []  # which model each measure of the counting probe saw

    @mh.objectives.probe(metrics=["layers"], needs_training=False)
    def layers(model):
        seen.append(model)
        return {"layers": float(len(list(model.modules())))}

    def fit(model, config):
        if config["how"] == "quantize":  # a new model: every probe of the built one measures it again
            return tq.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        if config["how"] == "prune":  # in place: its layers changed, so every probe measures it again
            prune.l1_unstructured(model[0], "weight", amount=0.9)
            prune.remove(model[0], "weight")
        return model

    space = mh.Space({"how": mh.Categorical(["quantize", "prune", "none"])})
    study = mh.Study(space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    for how in ("quantize", "prune", "none"):
        study.enqueue({"how": how})
    built = {}

    def build_one(config):
        built[config["how"]] = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
        return built[config["how"]]

    study.optimize(fit, build=build_one, probes=[mh.objectives.ModelSize(), layers], n_trials=3, show_progress=False)
    by = {t.config["how"]: t for t in study.trials}
    fp32_kb = (64 * 64 + 64 + 64 + 1) * 4 / 1024
    assert by["none"].metrics["size_kb"] == pytest.approx(fp32_kb)
    assert by["quantize"].metrics["size_kb"] < 0.5 * fp32_kb  # int8 weights, not the fp32 module built
    assert by["prune"].metrics["size_kb"] == pytest.approx(fp32_kb)  # dense storage, as prune.remove ships it
    assert by["prune"].metrics["param_count_nonzero"] < 0.2 * by["none"].metrics["param_count_nonzero"]
    # the counting probe: the built model and the quantized copy fit returned; the model pruned in place twice (its
    # state changed); once the model fit kept as it was
    assert seen[0] is built["quantize"] and seen[1] is not built["quantize"]
    assert seen[2:] == [built["prune"], built["prune"], built["none"]]


def test_a_model_changed_in_place_or_scripted_and_what_is_no_model_are_measured_or_said():
    import torch.ao.quantization as tq

    example = torch.as_tensor(X[:1])
    built = {}

    def build_one(config):
        if config["how"] == "no model":
            return None  # forgot to return it
        torch.manual_seed(0)
        built[config["how"]] = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
        return built[config["how"]]

    def fit(model, config):
        if config["how"] == "in place":  # quantized in place: its latency and memory are the quantized model's too
            tq.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
            return None
        if config["how"] == "scripted":
            return torch.jit.script(model)
        return (model, {"accuracy": 0.5}) if config["how"] == "pair" else model

    hows = ["in place", "scripted", "pair", "no model", "kept"]
    study = mh.Study(mh.Space({"how": mh.Categorical(hows)}), [mh.Minimize("size_kb")], optimizer="random", seed=0)
    for how in hows:
        study.enqueue({"how": how})
    study.optimize(fit, build=build_one, probes=[mh.objectives.ModelSize(precisions=["int8"]), mh.objectives.PeakMemory(example)],
                   n_trials=len(hows), show_progress=False)
    by = {t.config["how"]: t for t in study.trials}
    quantized = tq.quantize_dynamic(build_one({"how": "fresh"}), {torch.nn.Linear}, dtype=torch.qint8)
    assert by["in place"].metrics["peak_memory_kb"] == pytest.approx(mh.objectives.PeakMemory(example).measure(quantized)["peak_memory_kb"])
    assert by["in place"].metrics["peak_memory_kb"] < 0.5 * by["kept"].metrics["peak_memory_kb"]
    assert by["in place"].metrics["size_kb_int8"] >= by["in place"].metrics["size_kb"]  # never less than it stores
    assert "TorchScript module" in by["scripted"].error and "script it for deployment after the study" in by["scripted"].error
    assert "fit returned a tuple of (Sequential, dict); expected the trained model" in by["pair"].error
    assert "build(config) must return the untrained model" in by["no model"].error and "received None" in by["no model"].error


def test_peak_memory_hooks_a_dynamically_quantized_linear_layer():
    import torch.ao.quantization as tq

    model = torch.nn.Sequential(torch.nn.Linear(784, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    quantized = tq.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    peak = mh.objectives.PeakMemory(torch.zeros(1, 784)).measure(quantized)["peak_memory_kb"]
    stored = mh.objectives.ModelSize().measure(quantized)["size_kb"]
    assert peak >= stored + (784 + 16) * 4 / 1024  # the first layer's input and output (its children hold weights only)


def test_a_fit_that_returns_a_loss_or_its_history_is_told_what_to_return():
    def build_one(config):
        return torch.nn.Linear(8, 1)

    returns = {"tensor": lambda: torch.tensor(0.3), "array": lambda: np.float32(0.3), "history": lambda: [0.1] * 100_000}
    study = mh.Study(mh.Space({"what": mh.Categorical(list(returns))}), [mh.Minimize("size_kb")], optimizer="random", seed=0)
    for what in returns:
        study.enqueue({"what": what})
    study.optimize(lambda model, config: returns[config["what"]](), build=build_one, probes=[mh.objectives.ModelSize()],
                   n_trials=3, show_progress=False)
    for t in study.trials:  # a loss is no model: its pickle was sized as one, and passed any budget
        assert t.status is mh.TrialStatus.FAILED and "expected the trained model" in t.error and len(t.error) < 1000
    assert "a list of (float, float, float, float, ...)" in study.trials[2].error


def test_a_torchscript_module_inside_a_model_is_refused_too():
    import torch.ao.quantization as tq

    inner = torch.jit.script(tq.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(64, 64)), {torch.nn.Linear}, dtype=torch.qint8))
    wrapper = torch.nn.Sequential(inner)
    for probe in (mh.objectives.ModelSize(), mh.objectives.PeakMemory(torch.zeros(1, 64))):
        with pytest.raises(mh.ProbeError, match="TorchScript module"):
            probe.measure(wrapper)


def test_a_scripted_float_module_is_sized_and_a_numpy_model_object_is_a_model():
    plain = torch.nn.Sequential(torch.nn.Linear(100, 100), torch.nn.ReLU())
    scripted = torch.nn.Sequential(torch.jit.script(torch.nn.Linear(100, 100)), torch.nn.ReLU())
    scripted[0].load_state_dict(plain[0].state_dict())
    size = mh.objectives.ModelSize()
    assert size.measure(scripted)["size_kb"] == pytest.approx(size.measure(plain)["size_kb"])  # its float weights read
    with pytest.raises(mh.ProbeError, match=r"TorchScript module \(0: Linear\).*take no forward hooks"):
        mh.objectives.PeakMemory(torch.zeros(1, 100)).measure(scripted)

    def fit(model, config):  # a fitted polynomial: a model, though NumPy's
        x = np.linspace(0, 1, 20)
        return np.poly1d(np.polyfit(x, x**2, 2))

    study = mh.Study(mh.Space({"d": mh.Int(1, 3)}), [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(fit, build=lambda c: np.poly1d([0.0]), probes=[mh.objectives.ModelSize()], n_trials=1, show_progress=False)
    assert study.trials[0].status is mh.TrialStatus.COMPLETE


class _Sparsity(mh.objectives.Probe):
    """A probe of the user's: the share of a torch model's weights that are zero."""

    needs_training = True
    name = "sparsity"

    def __init__(self, returns: str = "right") -> None:
        self.returns = returns
        self.metrics = ("sparsity",)

    def measure(self, model):
        if self.returns == "none":
            return None
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        share = float((weights == 0).float().mean())
        return {"sparsity": share} if self.returns == "right" else {"sparsity": share, "density": 1 - share}


@pytest.mark.parametrize(("returns", "said"), [
    ("none", "probe 'sparsity' returned NoneType; expected a mapping of metric name to float"),
    ("more", r"probe 'sparsity' declares the metrics \['sparsity'\] but returned \['sparsity', 'density'\] \(not declared: \['density'\]\)"),
])
def test_a_probe_subclass_is_held_to_the_metrics_it_declares(returns, said):
    study = make_study()
    study.optimize(lambda m, c: None, build=build, probes=[_Sparsity(returns)], n_trials=1, show_progress=False)
    assert study.trials[0].status is mh.TrialStatus.FAILED and re.search(said, study.trials[0].error)
    fine = mh.Study(mh.Space({"width": mh.Int(4, 8), "lr": mh.Float(1e-3, 1e-1, log=True)}), [mh.Maximize("accuracy")],
                    optimizer="random", seed=0)
    fine.optimize(lambda m, c: {"accuracy": 0.5}, build=build, probes=[_Sparsity()], n_trials=1, show_progress=False)
    assert fine.trials[0].metrics["sparsity"] == 0.0


def test_a_probe_naming_its_metric_as_text_is_refused_before_any_trial():
    probe = _Sparsity()
    probe.metrics = "sparsity"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before its metrics were read as names (one per character)
        with pytest.raises(mh.ConfigError, match=r"probe 'sparsity': metrics must be a tuple of metric names, e.g. \('sparsity',\)"):
            make_study().optimize(lambda m, c: None, build=build, probes=[probe], n_trials=1, show_progress=False)


def test_a_subclass_of_moo_hpos_own_probe_measures_as_that_probe_does():
    from sklearn.neighbors import KNeighborsClassifier

    class MySize(mh.objectives.ModelSize):  # a name of its own, ModelSize's measuring
        name = "my_size"

    study = mh.Study(mh.Space({"k": mh.Int(1, 5)}), [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(lambda model, config: model.fit(X, Y), build=lambda c: KNeighborsClassifier(c["k"]), probes=[MySize()],
                   n_trials=1, show_progress=False)  # a model of no parameter arrays: no param_count, as ModelSize
    assert study.trials[0].status is mh.TrialStatus.COMPLETE and "param_count" not in study.trials[0].metrics


def test_a_model_slimmed_in_place_by_fit_is_measured_again_by_every_probe():
    # structured pruning (torch-pruning, channel slimming) cuts layers to fewer units in place: same layers, same
    # tensor names and dtypes, other shapes; latency and peak memory are those of the slim model that ships
    def build(config):
        return torch.nn.Sequential(torch.nn.Linear(16, 512), torch.nn.ReLU(), torch.nn.Linear(512, 2))

    def fit(model, config):
        first, last = model[0], model[2]
        first.weight = torch.nn.Parameter(first.weight.data[:8].clone())
        first.bias = torch.nn.Parameter(first.bias.data[:8].clone())
        first.out_features = 8
        last.weight = torch.nn.Parameter(last.weight.data[:, :8].clone())
        last.in_features = 8

    x = np.zeros(16, dtype=np.float32)
    study = mh.Study({"k": mh.Int(1, 2)}, [mh.Minimize("peak_memory_kb")], optimizer="random", seed=0)
    study.optimize(fit, build=build, probes=[mh.objectives.ModelSize(), mh.objectives.PeakMemory(x[None])], n_trials=1,
                   show_progress=False)
    slim = build({})
    fit(slim, {})
    recorded = study.trials[0].metrics
    assert recorded["peak_memory_kb"] == pytest.approx(mh.objectives.PeakMemory(x[None]).measure(slim)["peak_memory_kb"])
    assert recorded["size_kb"] == pytest.approx(mh.objectives.ModelSize().measure(slim)["size_kb"])


def test_a_build_that_returns_the_model_s_class_is_refused():
    study = mh.Study({"k": mh.Int(1, 2)}, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    with pytest.raises(mh.MooHpoError, match=r"received the class Linear itself: return Linear\(\.\.\.\)"):
        study.optimize(lambda model, config: None, build=lambda config: torch.nn.Linear, probes=[mh.objectives.ModelSize()],
                       n_trials=5, show_progress=False)
    with pytest.raises(mh.ProbeError, match=r"received the class Linear itself"):
        mh.objectives.ModelSize().measure(torch.nn.Linear)


@pytest.mark.parametrize("which", ["latency", "energy"])
def test_a_probe_on_a_cuda_device_is_refused_before_the_first_trial_where_there_is_no_gpu(which):
    study = mh.Study({"k": mh.Int(1, 2)}, [mh.Minimize("latency_p99_ms" if which == "latency" else "energy_per_inference_j")],
                     optimizer="random", seed=0)
    probe = (mh.objectives.Latency(np.zeros(4, dtype=np.float32), device="cuda", max_time_s=0.5) if which == "latency"
             else mh.objectives.Energy(np.zeros(4, dtype=np.float32), device="cuda", watts=50.0, min_window_s=0.05))

    def run():
        study.optimize(lambda model, config: None, build=lambda config: torch.nn.Linear(4, 2), probes=[probe], n_trials=1,
                       show_progress=False)

    if torch.cuda.is_available():  # a GPU machine: the probe measures there
        run()
        assert study.trials[0].status is mh.TrialStatus.COMPLETE
    else:
        with pytest.raises(mh.ConfigError, match=rf"probe '{which}' measures on device='cuda', but torch sees no CUDA GPU"):
            run()
        assert study.trials == []  # refused before any trial


def test_probes_beside_an_objective_that_returns_metrics_fail_the_trial_saying_what_to_return():
    from sklearn.linear_model import LogisticRegression

    X, y = np.random.default_rng(0).normal(size=(60, 3)), np.arange(60) % 2
    study = mh.Study({"C": mh.Float(0.1, 1.0, log=True)}, [mh.Maximize("accuracy"), mh.Minimize("size_kb")],
                     optimizer="random", seed=0)

    def train(config):
        model = LogisticRegression(C=config["C"]).fit(X, y)
        return {"accuracy": model.score(X, y)}  # the model is not returned: ModelSize has nothing to measure

    with pytest.raises(mh.MooHpoError, match="the first 5 trials all failed the same way"):
        study.optimize(train, probes=[mh.objectives.ModelSize()], n_trials=8, show_progress=False)
    assert len(study.trials) == 5 and all(t.status is mh.TrialStatus.FAILED for t in study.trials)
    assert "the probes ['model_size'] measure a model, but the objective returned metrics (['accuracy'])" in study.trials[0].error
    assert "return the trained model" in study.trials[0].error

    def train_and_return(config):
        return LogisticRegression(C=config["C"]).fit(X, y)

    study = mh.Study({"C": mh.Float(0.1, 1.0, log=True)}, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(train_and_return, probes=[mh.objectives.ModelSize()], n_trials=2, show_progress=False)
    assert all(t.status is mh.TrialStatus.COMPLETE and t.metrics["size_kb"] > 0 for t in study.trials)


def test_a_fit_given_with_probes_but_without_build_is_refused_before_any_trial():
    # it was called as fn(config, trial): "'dict' object has no attribute 'parameters'" in the user's code, or the
    # configuration it returned read as metrics
    def fit(model, config):
        return model

    study = make_study()
    with pytest.raises(mh.ConfigError, match=r"the objective 'fit' takes \(model, config, \.\.\.\), as fit does, but "
                                             r"optimize was given no build=: it would be called as fn\(config, trial\)"):
        study.optimize(fit, probes=[mh.objectives.ModelSize()], n_trials=1, show_progress=False)
    assert study.trials == []

    def objective(config, trial):  # fn(config, trial) returning a model: measured as before
        return build(config)

    def train(model, config={"width": 8}):  # noqa: B006 - `model` the configuration, called as fn(config): as before
        return build(model)

    for fn in (objective, train):
        sized = mh.Study(study.space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
        sized.optimize(fn, probes=[mh.objectives.ModelSize()], n_trials=1, show_progress=False)
        assert sized.trials[0].status is mh.TrialStatus.COMPLETE and sized.trials[0].metrics["size_kb"] > 0


def test_the_trial_hint_reaches_errors_that_make_their_own_message_and_is_given_once():
    # an error whose message is not its argument (pydantic's ValidationError) lost the hint; the same exception
    # object raised twice got it twice
    class OwnMessage(ValueError):
        def __str__(self):
            return "input_type=Trial is not an int"

    def build_checked(config, n_classes):
        raise OwnMessage()

    saved = TypeError("cannot use Trial here")

    def raises_the_same(config, X):
        raise saved

    study = mh.Study(make_study().space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(lambda model, config: model, build=build_checked, probes=[mh.objectives.ModelSize()], n_trials=1,
                   show_progress=False)
    assert "(moo_hpo passed the trial to build's parameter 'n_classes'" in study.trials[0].error  # below its traceback
    study.optimize(raises_the_same, n_trials=2, show_progress=False)
    assert all(t.error.splitlines()[0].count("moo_hpo passed the trial") == 1 for t in study.trials[1:])


def test_a_trained_model_far_from_the_one_judged_before_training_is_said(caplog):
    # fit returned a quantized copy: candidates were skipped on their float size (3.5x the int8 one) with nothing said
    def quantized(model, config):
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    study = mh.Study(mh.Space({"width": mh.Int(4, 256, log=True)}), [mh.Minimize("size_kb")], [mh.AtMost("size_kb", 1.0)],
                     optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(quantized, build=build, probes=[mh.objectives.ModelSize()], n_trials=8, show_progress=False)
    said = [r.getMessage() for r in caplog.records if "on the model build returned" in r.getMessage()]
    assert len(said) == 1, said  # once
    assert "(size_kb <= 1): a candidate skipped for it may fit once trained; give the built model the precision" in said[0]

    # the other way: declared int8, but quantize_dynamic leaves the convolution at fp32
    def conv(config):
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
        model(torch.zeros(1, 1, 8, 8))
        model.moo_hpo_precision = "int8"
        return model

    caplog.clear()
    fits = mh.objectives.DeviceFit(mh.DeviceProfile("mcu", max_size_kb=0.45))  # through a device's excess: 0.34 -> 0.47
    grown = mh.Study(mh.Space({"width": mh.Int(4, 8)}), [mh.Minimize("size_kb")], [fits.constraint()], optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        grown.optimize(quantized, build=conv, probes=[mh.objectives.ModelSize(), fits], n_trials=1, show_progress=False)
    (said,) = [r.getMessage() for r in caplog.records if "on the model build returned" in r.getMessage()]
    assert ("(device_excess <= 0: some device takes it): this one passed the check before training and fails it once "
            "trained") in said

    # several devices: a model that grows out of the small one's budget but fits the large one is fine (it was warned
    # of against the first device's bound); one a hair over its own bound is said (under 10% it was not)
    caplog.clear()
    grow = lambda m, c: torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Linear(16, 16))  # noqa: E731
    two = mh.objectives.DeviceFit([mh.DeviceProfile("mcu", max_size_kb=0.5), mh.DeviceProfile("phone", max_size_kb=1000)])
    roomy = mh.Study(mh.Space({"width": mh.Int(4, 8)}), [mh.Minimize("size_kb")], [two.constraint()], optimizer="random",
                     seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        roomy.optimize(grow, build=lambda c: torch.nn.Linear(16, 16), probes=[mh.objectives.ModelSize(), two], n_trials=1,
                       show_progress=False)
    assert roomy.count("complete") == 1 and not [r for r in caplog.records if "build returned" in r.getMessage()]
    hair = mh.Study(mh.Space({"width": mh.Int(4, 8)}), [mh.Minimize("size_kb")], [mh.AtMost("size_kb", 1.1)],
                    optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):  # 1.0625 KiB built, 1.129 trained
        hair.optimize(lambda m, c: torch.nn.Linear(16, 17), build=lambda c: torch.nn.Linear(16, 16),
                      probes=[mh.objectives.ModelSize()], n_trials=1, show_progress=False)
    assert [r for r in caplog.records if "(size_kb <= 1.1): this one passed the check before training" in r.getMessage()]

    # the recommended flow: declared int8, quantize_dynamic's scales make it a little larger, within the bound; and a
    # copy of the model (the same weights) timed again: nothing said (both were warned of)
    def declared(config):
        model = build(config)
        model.moo_hpo_precision = "int8"
        return model

    caplog.clear()
    latency = mh.objectives.Latency(np.zeros(8, dtype=np.float32), min_repeats=3, max_repeats=3, warmup=0)
    for fit, probes, bound in ((quantized, [mh.objectives.ModelSize()], mh.AtMost("size_kb", 1.0)),
                               (lambda m, c: copy.deepcopy(m), [mh.objectives.ModelSize(), latency], mh.AtMost("latency_p99_ms", 100))):
        fine = mh.Study(mh.Space({"width": mh.Int(2, 16)}), [mh.Minimize("size_kb")], [bound], optimizer="random", seed=0)
        with caplog.at_level("WARNING", logger="moo_hpo"):
            fine.optimize(fit, build=declared, probes=probes, n_trials=4, show_progress=False)
        assert fine.count("complete") == 4
    assert not [r for r in caplog.records if "on the model build returned" in r.getMessage()]

    caplog.clear()  # fit that trains in place: the same figures, nothing said
    with caplog.at_level("WARNING", logger="moo_hpo"):
        make_study().optimize(lambda m, c: m, build=build, probes=[mh.objectives.ModelSize()], n_trials=3, show_progress=False)
    assert not [r for r in caplog.records if "on the model build returned" in r.getMessage()]
