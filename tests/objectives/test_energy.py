from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

import moo_hpo as mh
from moo_hpo.objectives import energy


def tiny():
    return torch.nn.Linear(4, 2)


def big():
    return torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024))


@pytest.fixture
def no_counters(monkeypatch):
    """This machine as the probe sees it without NVML and RAPL (the CPU-only test machine is so anyway;
    the patch makes the tests mean the same on a machine that has a counter)."""

    def missing(*args, **kwargs):
        raise OSError("no counter (test)")

    monkeypatch.setattr(energy, "_NvmlCounter", missing)
    monkeypatch.setattr(energy, "_RaplCounter", missing)


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_without_a_counter_energy_is_refused_or_nan_never_invented(no_counters, device):
    assert energy.available_energy_source(device) == "unavailable"
    probe = mh.objectives.Energy(np.zeros(4), device=device, min_window_s=0.01)
    hint = r"device='cpu', watts=\.\.\. \(torch sees no CUDA GPU here\)" if device == "cuda" and not torch.cuda.is_available() \
        else r"watts=\.\.\."
    with pytest.raises(mh.ProbeError, match=rf"no energy counter for .*pass {hint} for a labelled estimate"):
        probe.measure(tiny())
    nan = mh.objectives.Energy(np.zeros(4), device=device, min_window_s=0.01, on_unavailable="nan").measure(tiny())
    assert math.isnan(nan["energy_per_inference_j"]) and nan.extra["energy_source"] == "unavailable"


@pytest.mark.skipif(energy.available_energy_source("cuda") != "nvml", reason="needs an NVIDIA GPU with NVML's energy counter")
def test_nvml_counter_measures_inference_on_a_gpu():
    m = mh.objectives.Energy(np.zeros(256), batch_size=64, device="cuda", min_window_s=0.5).measure(big())
    assert m["energy_per_inference_j"] > 0 and m.extra["energy_source"] == "nvml"


def test_estimate_is_labelled_positive_and_grows_with_the_work(no_counters):
    def probe(example, batch_size=1):
        return mh.objectives.Energy(example, batch_size=batch_size, device="cpu", min_window_s=0.1, watts=10.0, grid_g_per_kwh=400.0)

    small = probe(np.zeros(4)).measure(tiny())
    assert small.extra["energy_source"] == "estimate"
    window, n = small.extra["energy"]["window_s"], small.extra["energy"]["inferences"]
    assert window >= 0.1 and n >= 10
    assert small["energy_per_inference_j"] == pytest.approx(10.0 * window / n) and small["energy_per_inference_j"] > 0
    assert small["co2e_per_inference_g"] == pytest.approx(small["energy_per_inference_j"] / 3.6e6 * 400.0)
    # about 80 MFLOP per inference against 8 FLOP: each inference takes far longer, and so costs more
    large = probe(np.zeros(256), batch_size=64).measure(big())
    assert large.extra["energy_source"] == "estimate"
    assert large["energy_per_inference_j"] > 3 * small["energy_per_inference_j"]


def test_energy_runs_a_pruned_model_as_it_ships_and_hands_the_model_back_as_it_came(no_counters):
    # a pruned model was run with its masks' hooks (3.7 times the dense model's energy while Latency timed it as it
    # ships), and measure left the model in eval mode (training after it lost dropout and batch-norm updates)
    import torch
    from torch.nn.utils import prune

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 1))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    model.train()
    ran = []
    model[0].register_forward_pre_hook(lambda module, args: ran.append(hasattr(module, "weight_mask")))
    measured = mh.objectives.Energy(np.zeros(4), device="cpu", min_window_s=0.05, watts=10.0).measure(model)
    assert measured.extra["energy"]["pruned"] and ran and not any(ran)  # what ran had no mask: the shipped copy
    assert model.training and hasattr(model[0], "weight_mask")  # handed back as it came, still pruned


def test_energy_meter_estimate_is_power_times_measured_time(no_counters):
    with pytest.raises(mh.ProbeError, match="no energy counter"), energy.EnergyMeter("cpu"):
        pass
    with energy.EnergyMeter("cpu", watts=10.0) as short:
        time.sleep(0.05)
    with energy.EnergyMeter("cpu", watts=10.0) as long:
        time.sleep(0.25)
    assert short.source == long.source == "estimate"
    assert short.joules == pytest.approx(10.0 * short.seconds) and short.seconds >= 0.05
    assert long.joules == pytest.approx(10.0 * long.seconds) and long.joules > short.joules + 1.5


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


def test_energy_nan_where_nothing_needs_it_keeps_the_trial(no_counters, caplog):
    space = mh.Space({"width": mh.Int(2, 8)})
    probes = [mh.objectives.ModelSize(), mh.objectives.Energy(np.zeros(4), device="cpu", min_window_s=0.01, on_unavailable="nan")]

    def build(config):
        return torch.nn.Linear(4, config["width"])

    study = mh.Study(space, [mh.Minimize("size_kb")], optimizer="random", seed=0)
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(lambda model, config: None, build=build, probes=probes, n_trials=2, show_progress=False)
    assert [t.status for t in study.trials] == [mh.TrialStatus.COMPLETE] * 2
    assert all("energy_per_inference_j" not in t.metrics and t.extra["energy_source"] == "unavailable" for t in study.trials)
    assert sum("'energy_per_inference_j'" in r.getMessage() for r in caplog.records) == 1  # said once
    needed = mh.Study(space, [mh.Minimize("energy_per_inference_j")], optimizer="random", seed=0)
    # before, every trial ran and failed with "metric 'energy_per_inference_j' is nan"
    with pytest.raises(mh.ConfigError, match=r"probe 'energy' has no energy counter for 'cpu' on this machine \(OSError: "
                                             r"no counter \(test\)\), so it records NaN .* which the study's "
                                             r"\['energy_per_inference_j'\] cannot take"):
        needed.optimize(lambda model, config: None, build=build, probes=probes[1:], n_trials=1, show_progress=False)
    assert needed.trials == []


def test_an_energy_probe_without_a_counter_is_refused_before_the_first_trial(no_counters):
    space = mh.Space({"width": mh.Int(2, 8)})
    study = mh.Study(space, [mh.Minimize("size_kb"), mh.Minimize("energy_train_j")], optimizer="random", seed=0)
    run = dict(build=lambda c: torch.nn.Linear(4, c["width"]), n_trials=2, show_progress=False)
    for probe, name in ((mh.objectives.Energy(np.zeros(4), device="cpu"), "energy"), (mh.objectives.TrainingEnergy("cpu"), "training_energy")):
        with pytest.raises(mh.ConfigError, match=rf"probe '{name}' has no energy counter for 'cpu' on this machine "
                                                 r"\(OSError: no counter \(test\)\): pass watts=\.\.\. for a labelled estimate"
                                                 + (r", or on_unavailable='nan' to record NaN$" if name == "energy" else "$")):
            study.optimize(lambda model, config: None, probes=[mh.objectives.ModelSize(), probe], **run)
    assert study.trials == []
    needs_energy = mh.Study(space, [mh.Minimize("energy_per_inference_j")], optimizer="random", seed=0)
    with pytest.raises(mh.ConfigError, match=r"pass watts=\.\.\. for a labelled estimate$"):  # NaN would not do here
        needs_energy.optimize(lambda model, config: None, probes=[mh.objectives.Energy(np.zeros(4), device="cpu")], **run)
    if not torch.cuda.is_available():  # watts=... alone would be refused next (no GPU to run on): the device too
        with pytest.raises(mh.ConfigError, match=r"for 'cuda' on this machine .*: pass device='cpu', watts=\.\.\. \(torch "
                                                 r"sees no CUDA GPU here\) for a labelled estimate$"):
            needs_energy.optimize(lambda model, config: None, probes=[mh.objectives.Energy(np.zeros(4))], **run)
    estimated = [mh.objectives.ModelSize(), mh.objectives.TrainingEnergy("cpu", watts=10.0)]  # a labelled estimate runs
    study.optimize(lambda model, config: None, probes=estimated, **run)
    assert study.count("complete") == 2 and all(t.extra["energy_source"] == "estimate" for t in study.trials)


def test_a_stated_power_must_be_positive():
    with pytest.raises(mh.ConfigError, match="Energy: watts must be a finite number > 0"):
        mh.objectives.Energy(np.zeros(4), device="cpu", watts=-10)
    with pytest.raises(mh.ConfigError, match="TrainingEnergy: grid_g_per_kwh must be a finite number >= 0"):
        mh.objectives.TrainingEnergy(device="cpu", watts=10, grid_g_per_kwh=float("nan"))


def test_a_training_meter_that_cannot_start_names_its_probe(no_counters):
    from moo_hpo.pipeline import ProbePipeline

    pipeline = ProbePipeline(lambda model, config: None, lambda c: tiny(), [mh.objectives.TrainingEnergy("cpu")], [])
    with pytest.raises(mh.ProbeError, match=r"^probe 'training_energy' failed: no energy counter for 'cpu'"):
        pipeline({"width": 2})


@pytest.mark.parametrize("make", [
    lambda device: mh.objectives.Energy(np.zeros(4), device=device),
    lambda device: mh.objectives.TrainingEnergy(device=device),
    lambda device: mh.objectives.Latency(np.zeros(4), device=device),
], ids=["energy", "training_energy", "latency"])
def test_a_device_that_is_not_cpu_or_cuda_is_refused(make):
    with pytest.raises(mh.ConfigError, match=r"device must be one of 'cpu', 'cuda', 'cuda:<n>'.*; received 'gpu' \(for an NVIDIA GPU: 'cuda'\)"):
        make("gpu")  # read the CPU's counter before
    with pytest.raises(mh.ConfigError, match="received 'cuda:x'"):
        make("cuda:x")
    assert make("cuda:1") is not None and make("cpu") is not None


def test_energy_refuses_a_batch_size_that_is_not_an_integer():
    with pytest.raises(mh.ConfigError, match="batch_size an integer >= 1; received 1.0, '2'"):
        mh.objectives.Energy(np.zeros(4), device="cpu", min_window_s=1.0, batch_size="2")


def test_energy_on_apples_gpu_reads_no_counter_and_estimates_from_watts():
    probe = mh.objectives.Energy(np.zeros(4), device="mps", min_window_s=0.01, watts=30.0)
    if torch.backends.mps.is_available():
        measured = probe.measure(torch.nn.Linear(4, 1))
        assert measured["energy_per_inference_j"] > 0 and measured.extra["energy_source"] == "estimate"
    else:  # timed on the CPU, the estimate would be recorded as the GPU's
        with pytest.raises(mh.ProbeError, match="device='mps', which torch does not see on this machine"):
            probe.measure(torch.nn.Linear(4, 1))
    with energy.EnergyMeter("mps", watts=30.0) as meter:
        time.sleep(0.05)
    assert meter.source == "estimate" and meter.joules == pytest.approx(30.0 * meter.seconds)
    with pytest.raises(mh.ProbeError, match="no energy counter is read for 'mps'"):
        mh.objectives.Energy(np.zeros(4), device="mps", min_window_s=0.01).measure(torch.nn.Linear(4, 1))


def test_energy_measures_on_threads_held_and_gives_them_back(no_counters):
    # Energy ran a model on whatever threads it carried: a forest with n_jobs=-1 on every core beside one with
    # n_jobs=1, and torch on all of its intra-op threads, so trials compared thread settings as much as models
    from sklearn.ensemble import RandomForestClassifier
    from threadpoolctl import threadpool_info

    X = np.random.default_rng(0).normal(size=(60, 4))
    forest = RandomForestClassifier(n_estimators=4, n_jobs=-1, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    seen, predict = [], forest.predict

    def spy(rows):
        seen.append((forest.n_jobs, {i["num_threads"] for i in threadpool_info()}))
        return predict(rows)

    forest.predict = spy
    m = mh.objectives.Energy(X[0], device="cpu", min_window_s=0.01, watts=10.0, threads=2).measure(forest)
    assert seen and {s[0] for s in seen} == {2} and all(s[1] <= {2} for s in seen)
    assert forest.n_jobs == -1 and m.extra["energy"]["threads"] == 2

    torch_threads, before = [], torch.get_num_threads()
    model = tiny()
    model.register_forward_pre_hook(lambda module, args: torch_threads.append(torch.get_num_threads()))
    mh.objectives.Energy(np.zeros(4), device="cpu", min_window_s=0.01, watts=10.0).measure(model)
    assert set(torch_threads) == {1} and torch.get_num_threads() == before
    with pytest.raises(mh.ConfigError, match="threads an integer >= 1; received 0"):
        mh.objectives.Energy(np.zeros(4), device="cpu", threads=0)


def test_energy_on_a_gpu_refuses_a_scikit_learn_model_that_runs_on_the_cpu(no_counters, monkeypatch):
    # the GPU's counter would have read the GPU idling while the CPU predicted
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(20, 4))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    available = energy.available_energy_source
    monkeypatch.setattr(energy, "available_energy_source", lambda device: "nvml")  # as on a machine with a GPU
    for watts in (None, 10.0):
        with pytest.raises(mh.ProbeError, match=r"Energy measures on device='cuda'; LogisticRegression runs on the "
                                                r"CPU: measure it with device='cpu'"):
            mh.objectives.Energy(X[0], device="cuda", watts=watts, min_window_s=0.01).measure(clf)
    monkeypatch.setattr(energy, "available_energy_source", available)
    with pytest.raises(mh.ProbeError, match=r"LogisticRegression runs on the CPU"):  # CPU time at the GPU's power
        mh.objectives.Energy(X[0], device="cuda", watts=10.0, min_window_s=0.01).measure(clf)
    # without a counter to misread and no power stated: NaN, as asked (the study's other figures kept)
    nan = mh.objectives.Energy(X[0], device="cuda", on_unavailable="nan", min_window_s=0.01).measure(clf)
    assert nan.extra["energy_source"] == "unavailable"
