"""Energy estimated from watts=... (no counter) is labelled wherever a report or the device sizing shows it."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

import moo_hpo as mh
from moo_hpo.objectives import energy
from moo_hpo.reports.sizing import write_csv

LABEL = "energy_per_inference_j (estimate: 10 W x time)"


@pytest.fixture
def no_counters(monkeypatch):
    """No NVML and no RAPL, as on a machine without energy counters."""

    def missing(*args, **kwargs):
        raise OSError("no counter (test)")

    monkeypatch.setattr(energy, "_NvmlCounter", missing)
    monkeypatch.setattr(energy, "_RaplCounter", missing)


def _study() -> mh.Study:
    return mh.Study(mh.Space({"width": mh.Int(2, 64)}), [mh.Minimize("size_kb"), mh.Minimize("energy_per_inference_j")],
                    [mh.AtMost("energy_per_inference_j", 1.0)], optimizer="random", seed=0)


DEVICE = mh.DeviceProfile("mcu", max_size_kb=1000, max_energy_j=1.0)


def test_an_estimated_energy_is_labelled_in_every_format_and_the_sizing_table(no_counters, tmp_path):
    # before, the report, the recommendations, the sizing table and its CSV showed the estimate as if measured
    study = _study()
    probes = [mh.objectives.ModelSize(), mh.objectives.Energy(np.zeros(4), device="cpu", min_window_s=0.01, watts=10)]
    study.optimize(lambda model, config: None, build=lambda c: torch.nn.Linear(4, c["width"]), probes=probes, n_trials=3,
                   show_progress=False)
    report = mh.report(study, devices=[DEVICE])
    data = json.loads(report.to_json())
    assert data["estimated_metrics"] == {"energy_per_inference_j": "estimate: 10 W x time"}
    assert data["objectives"][1]["estimated"] == "estimate: 10 W x time" and "estimated" not in data["objectives"][0]
    assert data["constraints"][0]["text"] == "energy_per_inference_j <= 1 (estimate: 10 W x time)"
    assert "Estimates, not measurements: " + LABEL in data["recommendations_guide"]
    assert data["device_sizing"][0]["figures"].endswith("energy_per_inference_j " + f"{_energy(study, data):.4g}"
                                                        + " (estimate: 10 W x time)")
    markdown = report.to_markdown()
    assert "Estimated, not measured: " + LABEL + ". No energy counter" in markdown
    assert f"| {LABEL} | minimize |" in markdown  # the objectives
    assert f"| size_kb (min) | {LABEL} (min) |" in markdown  # the front table's header
    page = report.to_html()
    assert f"{LABEL} (min)" in page and "Estimated, not measured: " + LABEL in page  # an axis; the Study table
    table = mh.size_for_devices(study, [DEVICE])
    assert table.rows()[0]["estimated_metrics"] == LABEL
    with write_csv(table, tmp_path / "sizing.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["estimated_metrics"] == LABEL and float(row["energy_per_inference_j"]) > 0  # the figure stays a number
    assert all(t.extra["energy"]["source"] == "estimate" and t.extra["energy"]["watts"] == 10.0 for t in study.trials)

    # energy measured by a counter carries no label
    measured = _study()
    for width in (4, 8):
        t = measured.ask()
        measured.tell(t, {"size_kb": width / 10, "energy_per_inference_j": 1e-4 / width},
                      extra={"energy_source": "rapl", "energy": {"source": "rapl", "device": "cpu"}})
    report = mh.report(measured, devices=[DEVICE])
    assert report.data["estimated_metrics"] == {} and "estimate" not in report.to_markdown()
    assert "estimated_metrics" not in mh.size_for_devices(measured, [DEVICE]).rows()[0]
    with write_csv(mh.size_for_devices(measured, [DEVICE]), tmp_path / "measured.csv").open() as fh:
        assert "estimated_metrics" not in next(csv.reader(fh))


def _energy(study: mh.Study, data: dict) -> float:
    return study.trial(data["device_sizing"][0]["best_trial"]).metrics["energy_per_inference_j"]


def test_the_label_says_which_power_and_how_many_trials():
    from moo_hpo.objectives.energy import estimated_metrics

    def trial(number: int, metrics: dict, extra: dict) -> mh.Trial:
        return mh.Trial(number, {}, status=mh.TrialStatus.COMPLETE, metrics=metrics, extra=extra)

    inference = {"energy_per_inference_j": 1e-4, "co2e_per_inference_g": 1e-8}
    estimated = {"energy_source": "estimate", "energy": {"source": "estimate", "watts": 10.0}}
    trials = [trial(0, inference, estimated), trial(1, inference, {"energy_source": "rapl", "energy": {"source": "rapl"}}),
              trial(2, {"energy_train_j": 3.0}, {"energy_source": "estimate", "training_energy": {"source": "estimate", "watts": 65.0}}),
              trial(3, {"energy_train_j": 4.0}, {"energy_source": "estimate"}),  # recorded before the power was kept
              trial(4, {"energy_per_inference_j": float("nan")}, {"energy_source": "unavailable"})]  # neither
    assert estimated_metrics(trials) == {
        "energy_per_inference_j": "estimate in 1 of 2 trials: 10 W x time",
        "co2e_per_inference_g": "estimate in 1 of 2 trials: 10 W x time",  # from the estimated energy
        "energy_train_j": "estimate: 65 W or a stated power x time",
    }
    assert estimated_metrics(trials[1:2]) == {}


def test_training_energy_keeps_its_power(no_counters):
    study = mh.Study(mh.Space({"width": mh.Int(2, 8)}), [mh.Minimize("size_kb"), mh.Minimize("energy_train_j")],
                     optimizer="random", seed=0)
    study.optimize(lambda model, config: None, build=lambda c: torch.nn.Linear(4, c["width"]),
                   probes=[mh.objectives.ModelSize(), mh.objectives.TrainingEnergy("cpu", watts=65)], n_trials=2,
                   show_progress=False)
    assert "| energy_train_j (estimate: 65 W x time) | minimize |" in mh.report(study).to_markdown()
    assert all(t.extra["training_energy"]["watts"] == 65.0 for t in study.trials)


def test_the_command_lines_sizing_table_labels_an_estimated_budget(no_counters, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from moo_hpo import cli
    from moo_hpo.cli import app

    monkeypatch.setattr(cli.console, "_width", 300)  # a table wide enough to keep each cell on one line

    study = mh.Study(mh.Space({"width": mh.Int(2, 64)}), [mh.Minimize("size_kb"), mh.Minimize("energy_per_inference_j")],
                     [mh.AtMost("energy_per_inference_j", 1.0)], optimizer="random", seed=0, storage=tmp_path / "s.db")
    probes = [mh.objectives.ModelSize(), mh.objectives.Energy(np.zeros(4), device="cpu", min_window_s=0.01, watts=10)]
    study.optimize(lambda model, config: None, build=lambda c: torch.nn.Linear(4, c["width"]), probes=probes, n_trials=2,
                   show_progress=False)
    study.close()
    result = CliRunner().invoke(app, ["sizing", str(tmp_path / "s.db"), "-d", "mcu:size=1000,energy=1",
                                      "-o", str(tmp_path / "sizing.csv")])
    assert result.exit_code == 0, result.output
    assert f"{LABEL} <= 1" in " ".join(result.output.split())  # before: the bare metric name, as if measured


def test_the_model_check_and_the_command_lines_front_label_an_estimate(tmp_path, monkeypatch):
    # the model check's table and figure, and `moo-hpo front`, showed an estimated energy as if measured
    from typer.testing import CliRunner

    from moo_hpo import cli

    study = _study()
    study.close()
    study = mh.Study(study.space, study.objectives, study.constraints, optimizer="random", seed=0, storage=tmp_path / "s.db")
    for width in range(2, 8):
        t = study.ask()
        predicted = {"energy_per_inference_j": {"mean": 1e-4 * width, "std": 1e-5}, "size_kb": {"mean": width, "std": 0.5}}
        t.extra["optimizer"]["predicted"] = predicted  # as a Bayesian optimizer's proposal records its predictions
        study.tell(t, {"size_kb": float(width), "energy_per_inference_j": 1e-4 * width + 2e-6},
                   extra={"energy_source": "estimate", "energy": {"source": "estimate", "watts": 10.0}})
    report = mh.report(study)
    assert f"| {LABEL} | 6 |" in report.to_markdown()  # the model check's row
    page = report.to_html()
    check = page[page.index("<h2>Model check</h2>"):]
    assert "estimate: 10 W x time" in check[:check.index("<h2>", 10)]  # its table and its figure's panel title
    study.close()
    monkeypatch.setattr(cli.console, "_width", 300)
    result = CliRunner().invoke(cli.app, ["front", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert f"{LABEL} (min)" in result.output


def test_a_peak_memory_counted_on_the_cpu_is_labelled_an_estimate(tmp_path):
    # the sizing table, its CSV and the reports showed PeakMemory's CPU count as if measured
    study = mh.Study(mh.Space({"width": mh.Int(2, 64)}), [mh.Minimize("size_kb"), mh.Minimize("peak_memory_kb")],
                     optimizer="random", seed=0)
    probes = [mh.objectives.ModelSize(), mh.objectives.PeakMemory(torch.zeros(1, 4))]
    study.optimize(lambda model, config: None, build=lambda c: torch.nn.Linear(4, c["width"]), probes=probes, n_trials=3,
                   show_progress=False)
    label = "peak_memory_kb (estimate: weights + largest layer or operation)"
    device = mh.DeviceProfile("mcu", max_size_kb=1000, max_memory_kb=1000)
    with write_csv(mh.size_for_devices(study, [device]), tmp_path / "sizing.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["estimated_metrics"] == label
    markdown = mh.report(study, devices=[device]).to_markdown()
    assert f"| size_kb (min) | {label} (min) |" in markdown
    assert "keep a margin under a RAM budget" in markdown and "No energy counter" not in markdown
    flash = mh.Study(mh.Space({"width": mh.Int(2, 64)}), [mh.Minimize("peak_memory_kb")], optimizer="random", seed=0)
    flash.optimize(lambda model, config: None, build=lambda c: torch.nn.Linear(4, c["width"]),
                   probes=[mh.objectives.PeakMemory(torch.zeros(1, 4), weights="flash")], n_trials=2, show_progress=False)
    assert mh.objectives.energy.estimated_metrics(flash.trials) == {"peak_memory_kb": "estimate: largest layer or operation"}
    # measured on a GPU (its method says so): no label
    gpu = mh.Study(mh.Space({"width": mh.Int(2, 64)}), [mh.Minimize("peak_memory_kb")], optimizer="random", seed=0)
    gpu.tell(gpu.ask(), {"peak_memory_kb": 3.0}, extra={"peak_memory_method": "cuda max_memory_allocated"})
    assert mh.objectives.energy.estimated_metrics(gpu.trials) == {}
