"""The optimizer classes and their proposal loop: the contract, audit trail, batches, repairs, cei, failures."""

from __future__ import annotations

import math

import pytest

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from tests.conftest import mixed_space, two_objectives
from tests.optimizers.bayesian.studies import (
    FAST,
    mixed_study,
    study_with_a_failing_half,
)
from tests.optimizers.contract import Benchmark, OptimizerContract


class TestEHVIContract(OptimizerContract):
    optimizer_name = "ehvi"
    params = FAST
    n_trials = 4
    # seed 0 is the one of 16 measured where it falls below random's best (the Benchmark docstring has them all)
    benchmark = Benchmark(seeds=(1,))


class TestEHVINoiselessContract(OptimizerContract):
    """``noiseless=True``: qLogEHVI over the measured front (constraints and failures included)."""

    optimizer_name = "ehvi"
    params = {**FAST, "noiseless": True}
    n_trials = 4


class TestParEGOContract(OptimizerContract):
    optimizer_name = "parego"
    params = FAST
    n_trials = 3  # one model-based proposal per run: the machinery is shared with EHVI


class TestCEIContract(OptimizerContract):
    """Constrained EI: one objective (the contract picks it for ``cei``)."""

    optimizer_name = "cei"
    params = FAST
    n_trials = 4
    # a seed at which it finds the optimum (6 of 6 seeds do; the Benchmark docstring has them all)
    benchmark = Benchmark(seeds=(1,))


def test_audit_trail_records_acquisition_and_predictions_in_metric_units():
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    study = mh.Study(
        space,
        [mh.Maximize("acc"), mh.Minimize("loss")],
        [mh.AtMost("size", 0.9)],
        optimizer=make_optimizer("ehvi", FAST),
        seed=1,
    )

    def fn(c):
        return {"acc": 10.0 + c["x"], "loss": (c["x"] - 0.3) ** 2 + c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=5, show_progress=False)
    first, last = study.trials[0], study.trials[-1]
    assert first.extra["optimizer"]["acquisition"] == "sobol (initial design)"
    assert set(first.extra["optimizer"]) == {"acquisition", "seconds"}
    audit = last.extra["optimizer"]
    assert audit["acquisition"] == "qLogEHVI x P(feasible)"  # too few trials to show noise: treated as exact
    assert audit["noise"] == "exact"
    assert math.isfinite(audit["acquisition_value"])
    assert set(audit["predicted"]) == {"acc", "loss", "size"}
    for stats in audit["predicted"].values():
        assert set(stats) == {"mean", "std"} and stats["std"] >= 0.0
    # Maximize("acc") is negated inside and "size" is modelled as g = size - 0.9: both predictions
    # come back in the metric's own units (acc ~ 10-11, size ~ 0-2)
    assert 9.0 < audit["predicted"]["acc"]["mean"] < 12.0
    assert -0.5 < audit["predicted"]["size"]["mean"] < 2.5


def test_constraint_predictions_come_back_in_the_metrics_units_from_the_bilog_scale():
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("size_kb", 900.0)],
                     optimizer=make_optimizer("ehvi", FAST), seed=3)

    def fn(c):  # g = size_kb - 900 spans -900..1100: about -6.8..7.0 on the bilog scale
        return {"f1": c["x"], "f2": 1.0 - c["x"] + c["y"], "size_kb": 1000.0 * (c["x"] + c["y"])}

    study.optimize(fn, n_trials=12, show_progress=False)
    audited = [t for t in study.trials if "predicted" in t.extra["optimizer"]]
    # once the GP has a few points of this (exact, linear) metric, its predictions at the proposals are close
    # to what was then measured, in kB: on the bilog scale they would read 900 +- a few units
    for t in audited[-3:]:
        size = t.extra["optimizer"]["predicted"]["size_kb"]
        assert abs(size["mean"] - t.metrics["size_kb"]) < 50.0 and size["std"] >= 0.0
        assert abs(t.metrics["size_kb"] - 900.0) > 100.0


def test_batch_ask_gives_distinct_valid_configs():
    study = mixed_study("ehvi", seed=2)
    study.optimize(two_objectives, n_trials=4, show_progress=False)
    batch = study.ask(3)
    assert len(batch) == 3
    keys = {tuple(sorted(t.config.items())) for t in batch}
    assert len(keys) == 3
    old = {tuple(sorted(t.config.items())) for t in study.trials[:4]}
    assert not keys & old
    for t in batch:
        assert study.space.problems(t.config) == []
        assert t.extra["optimizer"]["acquisition"].startswith("qLogEHVI")  # exact metrics (noiseless="auto")


def test_study_by_name_with_int_and_categorical_parameters():
    space = mh.Space({"k": mh.Int(1, 20), "kind": mh.Categorical(["a", "b", "c"]), "u": mh.Float(0.0, 1.0)})

    def fn(c):
        shift = {"a": 0.0, "b": 0.5, "c": 1.0}[c["kind"]]
        return {"f1": (c["k"] - 5) ** 2 / 100 + c["u"] + shift, "f2": (c["k"] - 15) ** 2 / 100 + (1 - c["u"]) + shift}

    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer="ehvi", seed=0)
    assert study.optimizer.get_params()["n_init"] is None
    study.optimize(fn, n_trials=10, show_progress=False)  # default n_init = 2 * (3 + 1) = 8
    kinds = [t.extra["optimizer"]["acquisition"] for t in study.trials]
    # a front member of the design measured again (the noise check), then exact metrics: improvement over the measured front
    assert kinds[:8] == ["sobol (initial design)"] * 8 and kinds[8].startswith("repeat of trial #") and kinds[9] == "qLogEHVI"
    for t in study.trials:
        assert isinstance(t.config["k"], int) and t.config["kind"] in ("a", "b", "c")
    assert len({tuple(sorted(t.config.items())) for t in study.trials}) == 9


def test_validity_rule_never_broken_and_replacements_recorded():
    # both objectives are best at a < b, which the rule forbids: the relaxed optimum lands there
    space = mh.Space({"a": mh.Float(0.0, 1.0), "b": mh.Float(0.0, 1.0)}, rules=[mh.Rule("a >= b", lambda c: c["a"] >= c["b"])])

    def fn(c):
        return {"f1": (c["a"] - 0.2) ** 2 + (c["b"] - 0.8) ** 2, "f2": (c["a"] - 0.1) ** 2 + (c["b"] - 0.9) ** 2}

    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("parego", FAST), seed=1)
    study.optimize(fn, n_trials=5, show_progress=False)
    assert study.count("complete") == 5
    assert all(t.config["a"] >= t.config["b"] for t in study.trials)
    replaced = [t for t in study.trials if "replaced" in t.extra["optimizer"]]
    assert replaced and all(t.extra["optimizer"]["replaced"] == "the optimum broke a validity rule" for t in replaced)
    assert all(t.extra["optimizer"]["acquisition"] == "qLogNParEGO" for t in replaced)


def test_bad_constructor_arguments_raise_config_error_at_setup():
    with pytest.raises(mh.ConfigError, match=r"num_restarts must be a positive integer or None; received 0"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {"num_restarts": 0})).ask()
    with pytest.raises(mh.ConfigError, match=r"model_failures must be True or False; received 'yes'"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", {"model_failures": "yes"})).ask()
    with pytest.raises(mh.ConfigError, match="raw_samples must be at least num_restarts"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("parego", {"num_restarts": 8, "raw_samples": 4})).ask()


def test_an_unknown_trend_is_a_config_error():
    with pytest.raises(mh.ConfigError, match="trend must be one of 'constant', 'quadratic'; received 'cubic'"):
        mixed_study("ehvi", trend="cubic").ask()


def test_capabilities():
    with pytest.raises(mh.UnsupportedError, match="handles at most 4"):
        mh.Study(mixed_space(), [mh.Minimize(f"f{i}") for i in range(5)], optimizer="ehvi")
    with pytest.raises(mh.UnsupportedError, match="at least 2 objectives"):
        mh.Study(mixed_space(), [mh.Minimize("f1")], optimizer="parego")
    with pytest.raises(mh.UnsupportedError, match="handles at most 1"):
        mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer="cei")


# ---------------------------------------------------------------- constrained EI (one objective)


def _cei_study(seed: int = 0, storage=None) -> mh.Study:
    return mh.Study(
        mh.Space({"x": mh.Float(0.0, 1.0)}),
        [mh.Minimize("y")],
        [mh.AtMost("x_metric", 0.5)],
        optimizer=make_optimizer("cei", {"n_init": 3, "num_restarts": 1, "raw_samples": 16, "mc_samples": 16, "maxiter": 20}),
        storage=storage,
        seed=seed,
    )


def _cei_fn(c):
    return {"y": (c["x"] - 0.7) ** 2, "x_metric": c["x"]}


def test_cei_finds_the_constrained_optimum():
    study = _cei_study()
    study.optimize(_cei_fn, n_trials=8, show_progress=False)
    best = min(study.feasible_trials(), key=lambda t: t.metrics["y"])
    assert 0.45 <= best.config["x"] <= 0.5
    model_based = [t for t in study.trials[3:] if not t.extra["optimizer"]["acquisition"].startswith("repeat of trial #")]
    assert len(model_based) >= 4 and all(t.extra["optimizer"]["acquisition"] == "qLogNEI" for t in model_based)  # one was feasible
    assert sum(abs(t.config["x"] - 0.5) <= 0.05 for t in model_based) >= 3  # it works along the boundary


def test_cei_proposes_the_same_configurations_whatever_the_constraints_unit():
    # the bound in MB or in kB is one problem: with the constraint modelled as sign(g) log(1 + |g|) of g itself,
    # the kB study's model saw a step at the bound and proposed other configurations
    def run(unit):
        study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("y")], [mh.AtMost("size", 0.5 * unit)],
                         optimizer=make_optimizer("cei", {"n_init": 3, "num_restarts": 1, "raw_samples": 16, "mc_samples": 16, "maxiter": 20}),
                         seed=1)
        study.optimize(lambda c: {"y": (c["x"] - 0.7) ** 2, "size": unit * c["x"]}, n_trials=7, show_progress=False)
        return study.trials

    mb, kb = run(1.0), run(1000.0)
    assert [t.config["x"] for t in kb] == pytest.approx([t.config["x"] for t in mb], abs=1e-4)
    predicted = [(a.extra["optimizer"].get("predicted"), b.extra["optimizer"].get("predicted")) for a, b in zip(mb, kb, strict=True)]
    pairs = [(a["size"], b["size"]) for a, b in predicted if a and "size" in a]
    assert pairs  # the model steps' predictions, in each study's own units
    for a, b in pairs:
        assert b["mean"] == pytest.approx(1000.0 * a["mean"], rel=1e-3, abs=1e-2)


def test_ehvi_spreads_its_proposals_while_no_trial_reaches_an_explicit_reference_point():
    # ref=0.2 in both objectives, every value at least 0.3: the hypervolume is 0 whatever is proposed, so the criterion
    # was flat and the model steps kept to x = 0.95 (4-6 distinct values in 8); the acquisition's point now reaches
    # as far as the feasible values, and the steps spread along the front (y = 0) until a trial reaches the user's
    def f(c):
        return {"f1": 0.3 + c["x"] + 0.2 * c["y"], "f2": 0.3 + (1 - c["x"]) ** 2 + 0.2 * c["y"]}

    study = mh.Study(mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)}), [mh.Minimize("f1", ref=0.2), mh.Minimize("f2", ref=0.2)],
                     optimizer=make_optimizer("ehvi", {**FAST, "n_init": 4, "noiseless": True}), seed=0)
    study.optimize(f, n_trials=12, show_progress=False)
    xs = [round(t.config["x"], 2) for t in study.trials[4:]]
    assert len(set(xs)) == 8 and max(xs) - min(xs) > 0.5, xs
    assert study.hypervolume() == 0.0  # the study's own figure keeps the user's point


def test_cei_searches_feasibility_first_when_nothing_is_feasible():
    # both Sobol points of the initial design break x <= 0.25, so the feasible region must be found first
    study = mh.Study(
        mh.Space({"x": mh.Float(0.0, 1.0)}),
        [mh.Minimize("y")],
        [mh.AtMost("x_metric", 0.25)],
        optimizer=make_optimizer("cei", {"n_init": 2, "num_restarts": 2, "raw_samples": 32}),
        seed=2,  # its first Sobol points: x = 0.456, 0.504
    )
    for t in study.ask(2):
        assert t.config["x"] > 0.25
        study.tell(t, _cei_fn(t.config))
    t = study.ask()
    assert t.extra["optimizer"]["acquisition"] == "qLogProbabilityOfFeasibility"
    assert set(t.extra["optimizer"]["predicted"]) == {"x_metric"}
    study.tell(t, _cei_fn(t.config))
    for _ in range(4):
        if study.n_feasible:
            break
        t = study.ask()
        assert t.extra["optimizer"]["acquisition"] == "qLogProbabilityOfFeasibility"
        study.tell(t, _cei_fn(t.config))
    assert study.n_feasible >= 1
    repeat = study.ask()  # the noise check: the feasible trial measured again
    assert repeat.extra["optimizer"]["acquisition"].startswith("repeat of trial #")
    assert repeat.config == study.feasible_trials()[0].config
    study.tell(repeat, _cei_fn(repeat.config))
    assert study.ask().extra["optimizer"]["acquisition"] == "qLogNEI"


def test_cei_resume_continues_like_an_uninterrupted_run(tmp_path):
    path = tmp_path / "cei.db"
    first = _cei_study(seed=4, storage=path)
    first.optimize(_cei_fn, n_trials=4, show_progress=False)  # 3 Sobol points, then 1 by the model
    first.close()
    resumed = mh.Study.load(path, space=mh.Space({"x": mh.Float(0.0, 1.0)}), optimizer=make_optimizer("cei", _cei_study().optimizer.get_params()))
    resumed.optimize(_cei_fn, n_trials=2, show_progress=False)
    straight = _cei_study(seed=4)
    straight.optimize(_cei_fn, n_trials=6, show_progress=False)
    assert [t.config for t in resumed.trials] == [t.config for t in straight.trials]


# ---------------------------------------------------------------------------- failure model


def test_failure_model_steers_proposals_away_from_a_region_that_keeps_failing():
    counts = {}
    for model_failures in (True, False):
        study, fn = study_with_a_failing_half(seed=2, model_failures=model_failures)
        study.optimize(fn, n_trials=16, show_progress=False)
        model_based = study.trials[4:]
        counts[model_failures] = sum(t.status is mh.TrialStatus.FAILED for t in model_based)
        if model_failures:
            probabilities = [t.extra["optimizer"].get("failure_probability") for t in model_based]
            known = [p for p in probabilities if p is not None]
            assert known and all(0.0 <= p <= 1.0 for p in known)
            # recorded from the first failure on; proposals that did fail had been given a higher risk
            failed = [p for t, p in zip(model_based, probabilities) if p is not None and t.status is mh.TrialStatus.FAILED]
            survived = [p for t, p in zip(model_based, probabilities) if p is not None and t.status is mh.TrialStatus.COMPLETE]
            assert not failed or max(failed) > sorted(survived)[len(survived) // 2]
    # without the failure model the unexplored, failing half looks as promising as ever
    assert counts[True] <= 2 < 8 <= counts[False], counts


def test_model_based_proposals_run_with_single_threaded_blas(monkeypatch):
    """SciPy's L-BFGS-B makes tens of thousands of tiny BLAS calls per ask; threads only synchronize there."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from moo_hpo.optimizers.bayesian import EHVI

    threads = []
    propose = EHVI._model_proposals

    def spy(self, *args, **kwargs):
        threads.append([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"])
        return propose(self, *args, **kwargs)

    monkeypatch.setattr(EHVI, "_model_proposals", spy)
    study = mixed_study("ehvi")
    with threadpool_limits(limits=2, user_api="blas"):  # what a study gets on a multi-core machine
        study.optimize(two_objectives, n_trials=4, show_progress=False)  # the design, the noise check, a model step
        outside = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert outside and all(n == 2 for n in outside)
    assert threads and all(n == 1 for per_ask in threads for n in per_ask)



@pytest.mark.parametrize("name", ["ehvi", "parego"])
def test_metrics_that_never_change_still_get_proposals(name):
    """Every measurement alike (a placeholder objective): no improvement anywhere the model sees, so the
    acquisition is -inf wherever BoTorch samples its starts; the study goes on with the best of random candidates."""
    space = mh.Space({"lr": mh.Float(1e-4, 1e-1, log=True), "width": mh.Int(8, 256, log=True)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("latency_ms", ref=50.0)],
                     optimizer=make_optimizer(name, FAST), seed=0)
    study.optimize(lambda c: {"accuracy": 0.91, "latency_ms": 12.0}, n_trials=7, show_progress=False)
    assert study.count("complete") == 7 and len({tuple(sorted(t.config.items())) for t in study.trials}) >= 6
    if name == "ehvi":
        audits = [t.extra["optimizer"] for t in study.trials]
        assert any("-inf or NaN wherever sampled" in a.get("replaced", "") for a in audits)


def test_other_errors_of_the_acquisition_search_are_not_taken_for_a_flat_acquisition(monkeypatch):
    import botorch.optim

    def broken(*args, **kwargs):
        raise RuntimeError("Inference tensors cannot be saved for backward")

    monkeypatch.setattr(botorch.optim, "optimize_acqf", broken)  # imported from there when a model step runs
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer=make_optimizer("ehvi", FAST), seed=0)
    with pytest.raises(RuntimeError, match="Inference tensors"):
        study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"] ** 2}, n_trials=8, show_progress=False)
