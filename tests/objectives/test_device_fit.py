from __future__ import annotations

import warnings

import pytest
import torch

import moo_hpo as mh

MCU = mh.DeviceProfile("mcu", max_size_kb=10, max_latency_ms=200)  # small and slow: widths 2-142 here
PHONE = mh.DeviceProfile("phone", max_size_kb=200, max_latency_ms=1)  # large and fast: widths 400-512
FIT = mh.objectives.DeviceFit([MCU, PHONE])


def test_the_excess_is_over_the_tightest_budget_of_the_best_fitting_device():
    assert FIT.derive({"size_kb": 5.0, "latency_p99_ms": 50.0})["device_excess"] == pytest.approx(-0.5)  # mcu, size 1/2
    assert FIT.derive({"size_kb": 100.0, "latency_p99_ms": 0.5})["device_excess"] == pytest.approx(-0.5)  # phone
    neither = FIT.derive({"size_kb": 100.0, "latency_p99_ms": 50.0})
    assert neither["device_excess"] == pytest.approx(min(100 / 10 - 1, 50 / 1 - 1)) and neither.extra["device_fit"] == "mcu"
    assert FIT.derive({"size_kb": 10.0, "latency_p99_ms": 200.0})["device_excess"] == 0.0  # on a budget: fits


def test_a_budget_not_measured_yet_is_not_judged_before_training_and_takes_nothing_after():
    energy = mh.DeviceProfile("solar", max_size_kb=50, max_energy_j=1.0)
    fit = mh.objectives.DeviceFit([energy])
    assert fit.derive({"size_kb": 100.0}, final=False)["device_excess"] == pytest.approx(1.0)  # over already
    assert fit.derive({"size_kb": 10.0}, final=False)["device_excess"] == pytest.approx(-0.8)  # a lower bound
    with pytest.raises(mh.ProbeError, match=r"no device could be judged: 'solar' budget \['energy_per_inference_j'\]"):
        fit.derive({"size_kb": 10.0}, final=True)  # energy never measured
    assert fit.derive({"size_kb": 10.0, "energy_per_inference_j": 2.0})["device_excess"] == pytest.approx(1.0)
    only_energy = mh.objectives.DeviceFit([mh.DeviceProfile("e", max_energy_j=1.0)])
    assert "device_excess" not in only_energy.derive({"size_kb": 10.0}, final=False)  # nothing to judge yet


def test_bad_devices_and_measuring_a_model_alone_are_refused():
    for bad in ([], "mcu:size=20", [MCU, "phone"]):
        with pytest.raises(mh.ConfigError, match="DeviceFit expects a list of mh.DeviceProfile"):
            mh.objectives.DeviceFit(bad)
    with pytest.raises(mh.ConfigError, match="computed from the metrics of the other probes"):
        FIT.measure(torch.nn.Linear(2, 2))


@mh.objectives.probe(["latency_p99_ms"], needs_training=False, name="made_up_latency")
def latency(model):
    """A deterministic stand-in for a latency probe: a wide model is fast (as on a device with vector units)."""
    width = model[0].out_features
    return {"latency_p99_ms": 400.0 / width}


def build(config):
    return torch.nn.Sequential(torch.nn.Linear(16, config["width"]), torch.nn.ReLU(), torch.nn.Linear(config["width"], 1))


def run(constraints, probes):
    trained = []

    def fit(model, config):
        trained.append(config["width"])
        return {"accuracy": config["width"] / 512}

    study = mh.Study(mh.Space({"width": mh.Int(1, 512)}), [mh.Maximize("accuracy")], constraints,
                     optimizer="random", seed=3)
    study.optimize(fit, build=build, probes=[mh.objectives.ModelSize(), latency, *probes], n_trials=40)
    return study, trained


def test_a_study_trains_only_the_candidates_some_device_takes():
    study, trained = run([FIT.constraint()], [FIT])
    skipped = [t for t in study.trials if t.status.value == "infeasible_skipped"]
    complete = [t for t in study.trials if t.status.value == "complete"]
    assert skipped and complete and len(trained) == len(complete)
    assert all(not MCU.fits(t) and not PHONE.fits(t) for t in skipped)  # judged on the measured size and latency
    assert all(MCU.fits(t) or PHONE.fits(t) for t in complete)
    assert all(t.metrics["device_excess"] > 0 for t in skipped) and all(t.metrics["device_excess"] <= 0 for t in complete)
    best = mh.size_for_devices(study, [MCU, PHONE], objective="accuracy")
    assert all(r.best is not None for r in best)
    # the per-metric constraints alone train candidates that fit neither device (widths between the two)
    alone, _ = run(mh.device_constraints([MCU, PHONE]), [])
    assert any(not MCU.fits(t) and not PHONE.fits(t) for t in alone.trials if t.status.value == "complete")


def test_devices_from_a_generator_numpy_budgets_and_repeated_names():
    import numpy as np

    fit = mh.objectives.DeviceFit(d for d in (MCU, PHONE))  # before, a generator was used up by the check: none kept
    assert [d.name for d in fit.devices] == ["mcu", "phone"]
    budget = mh.DeviceProfile("table", max_size_kb=np.int64(20), max_latency_ms=np.float32(2.5))
    assert budget.max_size_kb == 20.0 and type(budget.max_size_kb) is float and budget.max_latency_ms == 2.5
    twice = [MCU, mh.DeviceProfile("mcu", max_size_kb=50)]
    for make in (mh.objectives.DeviceFit, mh.device_constraints):
        with pytest.raises(mh.ConfigError, match="two devices are named 'mcu'"):
            make(twice)


def test_an_objective_that_returns_its_metrics_gets_the_excess_derived_from_them():
    def evaluate(config):  # no build: the objective measures and returns
        w = config["width"]
        return {"accuracy": w / 512, "size_kb": 0.07 * w, "latency_p99_ms": 400.0 / w}

    study = mh.Study(mh.Space({"width": mh.Int(1, 512)}), [mh.Maximize("accuracy")], [FIT.constraint()],
                     optimizer="random", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning of budgets "no probe measures": the objective returns them
        study.optimize(evaluate, probes=[FIT], n_trials=12)
    assert study.count("complete") == 12  # before, every trial failed: device_excess missing
    for t in study.trials:
        expected = FIT.derive({k: t.metrics[k] for k in ("size_kb", "latency_p99_ms")})["device_excess"]
        assert t.metrics["device_excess"] == pytest.approx(expected)
        assert study.problem.is_feasible(t) == (MCU.fits(t) or PHONE.fits(t))
    again = mh.Study(mh.Space({"width": mh.Int(1, 512)}), [mh.Maximize("accuracy")], optimizer="random", seed=0)
    again.optimize(lambda c: {**evaluate(c), "device_excess": -1.0}, probes=[FIT], n_trials=2)
    assert all("returned ['device_excess'], which the probe 'device_fit' measures too" in t.error for t in again.trials)
    with pytest.raises(mh.ConfigError, match="two devices are named 'mcu'"):  # a generator of devices too
        mh.size_for_devices(study, (d for d in (MCU, mh.DeviceProfile("mcu", max_size_kb=5))))


def test_a_budget_on_a_metric_no_probe_measures_is_said_before_the_first_trial():
    solar = mh.DeviceProfile("solar", max_size_kb=50, max_energy_j=0.01)  # no energy probe below
    fit = mh.objectives.DeviceFit([solar])
    study = mh.Study(mh.Space({"width": mh.Int(1, 64)}), [mh.Maximize("accuracy")], [fit.constraint()],
                     optimizer="random", seed=0)
    with pytest.warns(UserWarning, match="device 'solar' budgets the metric 'energy_per_inference_j', which no probe measures"):
        study.optimize(lambda model, config: {"accuracy": 0.5}, build=build, probes=[mh.objectives.ModelSize(), fit],
                       n_trials=2)
    failed = [t for t in study.trials if t.status.value == "failed"]
    assert failed and all("no device could be judged: 'solar' budget ['energy_per_inference_j'], which no probe measured"
                          in t.error and "raised ProbeError" not in t.error for t in failed)
    typo = mh.objectives.DeviceFit([mh.DeviceProfile("phone", max_size_kb=50, latency_metric="latency_p90ms",
                                                     max_latency_ms=2)])
    other = mh.Study(mh.Space({"width": mh.Int(1, 64)}), [mh.Maximize("accuracy")], [typo.constraint()],
                     optimizer="random", seed=0)
    with pytest.warns(UserWarning, match="device 'phone' budgets the metric 'latency_p90ms'.*did you mean 'latency_p90_ms'"):
        other.optimize(lambda model, config: {"accuracy": 0.5}, build=build,
                       probes=[mh.objectives.ModelSize(), mh.objectives.Latency(torch.zeros(16)), typo], n_trials=2)
    assert [t.status.value for t in other.trials] == ["failed", "failed"]  # fit did not return it: no device judged


def test_a_budget_on_a_near_name_fit_returns_is_said_and_judged_with_build():
    """A device budget on a metric ``fit`` returns itself, named like a probe's (a size in MB beside ``size_kb``):
    warned of before trial 0, not refused, and judged on what fit returns."""
    mb = mh.DeviceProfile("mcu-mb", max_size_kb=0.002, size_metric="size_mb")  # the bound in the metric's unit
    fit = mh.objectives.DeviceFit([mb])
    study = mh.Study(mh.Space({"width": mh.Int(1, 64)}), [mh.Maximize("accuracy")], [fit.constraint()],
                     optimizer="random", seed=0)

    def train(model, config):
        return {"accuracy": config["width"] / 64, "size_mb": sum(p.numel() for p in model.parameters()) * 4 / 1e6}

    with pytest.warns(UserWarning, match="device 'mcu-mb' budgets the metric 'size_mb'.*did you mean 'size_kb'.*Unless fit returns"):
        study.optimize(train, build=build, probes=[mh.objectives.ModelSize(), fit], n_trials=8)
    assert study.count("complete") == 8
    for t in study.trials:
        assert t.metrics["device_excess"] == pytest.approx(fit.derive({"size_mb": t.metrics["size_mb"]})["device_excess"])
    assert {study.problem.is_feasible(t) for t in study.trials} == {True, False}  # judged on size_mb both ways
    also = mh.Study(mh.Space({"width": mh.Int(1, 64)}), [mh.Maximize("accuracy"), mh.Minimize("size_mb")],
                    [fit.constraint()], optimizer="random", seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        also.optimize(train, build=build, probes=[mh.objectives.ModelSize(), fit], n_trials=1)
    said = [str(w.message) for w in caught if "did you mean 'size_kb'" in str(w.message)]
    assert len(said) == 1, said  # the study's metric is said once, not again for the device's budget on it


def test_a_budget_on_a_near_name_is_refused_for_an_objective_that_returns_a_model_too():
    typo = mh.objectives.DeviceFit([mh.DeviceProfile("phone", max_size_kb=50, size_metric="sizekb")])
    study = mh.Study(mh.Space({"width": mh.Int(1, 64)}), [mh.Minimize("size_kb")], [typo.constraint()],
                     optimizer="random", seed=0)
    with pytest.raises(mh.ConfigError, match="device 'phone' budgets the metric 'sizekb'.*did you mean 'size_kb'"):
        study.optimize(lambda config: build(config), probes=[mh.objectives.ModelSize(), typo], n_trials=2)  # no build
    assert not study.trials


def test_sizing_a_device_the_study_did_not_size_for_says_what_it_skipped():
    study, _ = run([FIT.constraint()], [FIT])
    box = mh.DeviceProfile("edge-box", max_size_kb=100, max_latency_ms=10)  # takes what fits neither mcu nor phone
    skipped = [t for t in study.trials if t.status.value == "infeasible_skipped" and box.fits(t)]
    assert skipped
    (result,) = mh.size_for_devices(study, [box], objective="accuracy")
    assert f"the study's hard constraints skipped before training {len(skipped)} candidates this device takes" in result.reason
    (mcu,) = mh.size_for_devices(study, [MCU], objective="accuracy")
    assert "skipped before training" not in mcu.reason  # none it takes was skipped


def test_a_device_budgets_its_ram_beside_its_flash_and_a_model_over_it_is_never_trained():
    # one DeviceProfile budgeted one size: a microcontroller's flash and RAM could not both be given
    mcu = mh.DeviceProfile("mcu", max_size_kb=20, max_memory_kb=12)
    assert mcu.limits() == [("size_kb", 20), ("peak_memory_kb", 12)]
    trained = []

    def fit(model, config):
        trained.append(config["width"])
        return {"accuracy": config["width"] / 512}

    fits = mh.objectives.DeviceFit([mcu])
    study = mh.Study(mh.Space({"width": mh.Int(1, 512)}), [mh.Maximize("accuracy")], [fits.constraint()],
                     optimizer="random", seed=3)
    probes = [mh.objectives.ModelSize(), mh.objectives.PeakMemory(torch.zeros(64, 16)), fits]
    study.optimize(fit, build=build, probes=probes, n_trials=30, show_progress=False)
    skipped = [t for t in study.trials if t.status.value == "infeasible_skipped"]
    over_ram = [t for t in skipped if t.metrics["size_kb"] <= 20]  # fit the flash, not the RAM: skipped all the same
    assert over_ram and all(t.metrics["peak_memory_kb"] > 12 for t in over_ram)
    assert len(trained) == study.count("complete") and all(mcu.fits(t) for t in study.trials if t.status.value == "complete")
    best = mh.size_for_devices(study, [mcu])[0]
    assert best.best is not None and best.metrics["peak_memory_kb"] <= 12
    assert "peak_memory_kb <= 12" in mh.size_for_devices(study, [mcu]).summary_rows()[0]["budgets"]
    assert mh.size_for_devices(study, [mcu]).rows()[0]["max_memory_kb"] == 12  # a column where a device budgets RAM
    with pytest.raises(mh.ConfigError, match="max_memory_kb must be a positive number"):
        mh.DeviceProfile("mcu", max_memory_kb=0)


def test_a_budgeted_metric_that_is_not_a_number_fails_the_trial_saying_so():
    # a size of "12" read as 12 made the trial feasible while the study left the text out as no number
    fits = mh.objectives.DeviceFit(mh.DeviceProfile("mcu", max_size_kb=16))
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy")], [fits.constraint()], optimizer="random",
                     seed=0)
    study.optimize(lambda c: {"accuracy": 0.9, "size_kb": "12"}, probes=[fits], n_trials=1, show_progress=False)
    (trial,) = study.trials
    assert trial.status is mh.TrialStatus.FAILED
    assert "size_kb, which a device's budget applies to, is not a number: a str ('12')" in trial.error
