from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import moo_hpo as mh
from moo_hpo.objectives import energy


def tiny():
    return torch.nn.Linear(4, 2)


def test_cuda_energy_is_measured_or_refused_never_invented():
    probe = mh.objectives.Energy(np.zeros(4), device="cuda", min_window_s=0.2)
    if energy.available_energy_source("cuda") == "nvml":  # a GPU machine: the real counter
        m = probe.measure(tiny())
        assert m["energy_per_inference_j"] > 0 and m.extra["energy_source"] == "nvml"
        return
    with pytest.raises(mh.ProbeError, match="no energy counter"):
        probe.measure(tiny())
    nan = mh.objectives.Energy(np.zeros(4), device="cuda", min_window_s=0.01, on_unavailable="nan").measure(tiny())
    assert math.isnan(nan["energy_per_inference_j"]) and nan.extra["energy_source"] == "unavailable"


def test_estimate_mode_is_labelled_and_uses_the_given_watts():
    m = mh.objectives.Energy(np.zeros(4), device="cpu", min_window_s=0.05, watts=10.0, grid_g_per_kwh=400.0)
    m.measure(tiny())  # warm
    with energy.EnergyMeter("cpu", watts=10.0) as meter:
        pass
    got = m.measure(tiny())
    if got.extra["energy_source"] == "estimate":
        window, n = got.extra["energy"]["window_s"], got.extra["energy"]["inferences"]
        assert got["energy_per_inference_j"] == pytest.approx(10.0 * window / n)
    assert got["co2e_per_inference_g"] == pytest.approx(got["energy_per_inference_j"] / 3.6e6 * 400.0)
    assert meter.source in ("estimate", "rapl") and meter.joules >= 0


def test_rapl_counter_reads_and_handles_wrap_around(tmp_path):
    dom = tmp_path / "intel-rapl:0"
    dom.mkdir()
    (tmp_path / "intel-rapl:0:0").mkdir()  # a sub-domain: not counted twice
    (dom / "max_energy_range_uj").write_text("1000000\n")
    (dom / "energy_uj").write_text("999000\n")
    counter = energy._RaplCounter(str(tmp_path))
    (dom / "energy_uj").write_text("2000\n")  # wrapped: 1000 + 2000 uJ later
    assert counter.read_j() == pytest.approx(3000 / 1e6)
    (dom / "energy_uj").write_text("5000\n")
    assert counter.read_j() == pytest.approx(6000 / 1e6)


def test_training_energy_only_inside_a_study():
    with pytest.raises(mh.ProbeError, match="fit step"):
        mh.objectives.TrainingEnergy().measure(tiny())
