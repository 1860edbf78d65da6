from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import moo_hpo as mh
from moo_hpo.objectives.latency import summarize_times


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))


def test_cpu_latency_repeats_within_ten_percent_at_p50():
    probe = mh.objectives.Latency(np.zeros(256, dtype=np.float32), batch_size=64, threads=1, min_repeats=200, max_repeats=2000)
    m = model()
    first, second = probe.measure(m), probe.measure(m)
    assert first["latency_p50_ms"] > 0
    assert abs(first["latency_p50_ms"] - second["latency_p50_ms"]) <= 0.10 * first["latency_p50_ms"]
    assert first["latency_p50_ms"] <= first["latency_p90_ms"] <= first["latency_p99_ms"]
    info = first.extra["latency"]
    assert info["device"] == "cpu" and info["threads"] == 1 and info["batch_size"] == 64 and info["timed_calls"] >= 200


def test_thread_count_restored():
    before = torch.get_num_threads()
    mh.objectives.Latency(np.zeros(256, dtype=np.float32), threads=1, min_repeats=10, max_repeats=20).measure(model())
    assert torch.get_num_threads() == before


def test_sklearn_predict_latency_and_prefix():
    X = np.random.default_rng(0).normal(size=(100, 5))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    m = mh.objectives.Latency(X[0], batch_size=64, prefix="latency_b64", min_repeats=20, max_repeats=50).measure(clf)
    assert set(m) == {"latency_b64_p50_ms", "latency_b64_p90_ms", "latency_b64_p99_ms", "latency_b64_mean_ms"}


def test_cuda_without_gpu_is_a_probe_error():
    if torch.cuda.is_available():  # on a GPU machine the CUDA path runs for real instead
        m = mh.objectives.Latency(np.zeros(256, dtype=np.float32), device="cuda", min_repeats=20, max_repeats=100).measure(model())
        assert m["latency_p50_ms"] > 0 and "cuda" in m.extra["latency"]["device"]
        return
    with pytest.raises(mh.ProbeError, match="needs a CUDA GPU"):
        mh.objectives.Latency(np.zeros(256), device="cuda").measure(model())


def test_wrong_input_shape_is_a_probe_error():
    with pytest.raises(mh.ProbeError, match="forward pass failed on input of shape"):
        mh.objectives.Latency(np.zeros(7, dtype=np.float32), min_repeats=5, max_repeats=5).measure(model())


def test_summary_percentiles():
    s = summarize_times(np.arange(1, 101, dtype=float))
    assert s["latency_p50_ms"] == pytest.approx(50.5) and s["latency_mean_ms"] == pytest.approx(50.5)
    assert s["latency_p99_ms"] == pytest.approx(99.01)


def test_bad_arguments():
    with pytest.raises(mh.ConfigError):
        mh.objectives.Latency(np.zeros(3), batch_size=0)
    with pytest.raises(mh.ConfigError):
        mh.objectives.Latency(np.zeros(3), device="tpu")
