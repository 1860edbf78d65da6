from __future__ import annotations

import math

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
    assert math.isnan(fit.derive({"size_kb": 10.0}, final=True)["device_excess"])  # energy never measured
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
