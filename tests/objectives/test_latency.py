from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import moo_hpo as mh
from moo_hpo.objectives.latency import summarize_times


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))


def big_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 10))


def test_cpu_latency_reflects_the_work_of_a_forward_pass():
    # Repeatability (two measurements within 10% at p50) is a property of the machine as much as of
    # the probe; it is measured in benchmarks/probes.py. Here: the probe times what the model does.
    probe = mh.objectives.Latency(np.zeros(256, dtype=np.float32), batch_size=64, threads=1, min_repeats=200, max_repeats=2000)
    small, big = probe.measure(model()), probe.measure(big_model())  # big: ~14x the multiply-adds
    assert 0 < small["latency_p50_ms"] <= small["latency_p90_ms"] <= small["latency_p99_ms"]
    assert big["latency_p50_ms"] > 4 * small["latency_p50_ms"]
    info = small.extra["latency"]
    assert info["device"] == "cpu" and info["threads"] == 1 and info["batch_size"] == 64 and info["timed_calls"] >= 200


class ScriptedClock:
    """A clock that reports scripted call times (ms) in order, so the stopping rule can be checked exactly.

    ``now`` is a wall clock on which each call takes its scripted time (warm-up calls too).
    """

    def __init__(self, times_ms):
        self.times_ms, self.calls, self.elapsed_s = list(times_ms), 0, 0.0

    def call(self):
        self.calls += 1
        self.elapsed_s += self.times_ms[min(self.calls - 1, len(self.times_ms) - 1)] / 1000

    def clock(self, call):
        call()
        return self.times_ms[min(self.calls - 1, len(self.times_ms) - 1)]

    def now(self):
        return self.elapsed_s


def timing_probe(**kwargs):
    kwargs.setdefault("min_time_s", 0.0)
    return mh.objectives.Latency(np.zeros(4), warmup=5, warmup_s=0.0, block=10, **kwargs)


def test_timing_stops_at_min_repeats_once_blocks_agree():
    scripted = ScriptedClock([1.0] * 1000)
    times, info = timing_probe(min_repeats=30, max_repeats=500)._time_loop(scripted.call, scripted.clock, now=scripted.now)
    assert len(times) == 30 and scripted.calls == 5 + 30
    assert info["stopped_by"] == "settled" and not info["stopped_at_cap"] and info["timed_calls"] == 30


def test_timing_covers_min_time_s_for_fast_calls():
    scripted = ScriptedClock([1 / 64] * 100_000)  # 15.6 us per call (exact in binary): 0.05 s take 3,200 calls
    times, _ = timing_probe(min_repeats=30, min_time_s=0.05, max_repeats=20_000)._time_loop(scripted.call, scripted.clock, now=scripted.now)
    assert len(times) == 3200
    scripted = ScriptedClock([1 / 64] * 100_000)  # max_repeats still caps the sample
    times, info = timing_probe(min_repeats=30, min_time_s=0.05, max_repeats=1000)._time_loop(scripted.call, scripted.clock, now=scripted.now)
    assert len(times) == 1000 and info["stopped_by"] == "max_repeats"


def test_timing_goes_on_while_the_level_shifts_and_stops_at_max_repeats():
    # the time per call halves after the first 40 timed calls
    # (5 warm-up calls, then 40 timed calls at 2 ms): blocks after the shift disagree with the running
    # median until the new level holds most of the calls (after 50 of them), and the next block agrees.
    scripted = ScriptedClock([2.0] * 45 + [1.0] * 1000)
    times, _ = timing_probe(min_repeats=50, max_repeats=500)._time_loop(scripted.call, scripted.clock, now=scripted.now)
    assert len(times) == 100 and np.median(times) == 1.0
    # block medians alternating between 1 and 3 ms never settle: timing stops at max_repeats
    noisy = ScriptedClock([1.0] * 5 + list(np.tile(np.r_[[1.0] * 10, [3.0] * 10], 100)))
    times, info = timing_probe(min_repeats=20, max_repeats=200)._time_loop(noisy.call, noisy.clock, now=noisy.now)
    assert len(times) == 200 and info["stopped_by"] == "max_repeats"


def test_timing_of_calls_that_never_settle_stops_at_the_wall_clock_cap():
    # block medians alternate between 95 and 105 ms and never settle; the cap is 6 s of wall time from the
    # first warm-up call: 5 warm-up calls (0.5 s), then 40 timed calls (4 s), 10 at 95 ms (to 5.45 s) and
    # 5 at 105 ms (to 5.975 s): a sixth would end at 6.08 s, after the cap, so it is not started
    noisy = ScriptedClock([100.0] * 5 + list(np.tile(np.r_[[95.0] * 10, [105.0] * 10], 100)))
    times, info = timing_probe(min_repeats=30, max_repeats=20_000, max_time_s=6.0)._time_loop(noisy.call, noisy.clock, now=noisy.now)
    assert len(times) == 55 and noisy.calls == 5 + 55
    assert info == {"timed_calls": 55, "warmup_calls": 5, "wall_s": pytest.approx(5.975), "stopped_by": "max_time_s", "stopped_at_cap": True}


def test_with_the_defaults_a_2_s_model_stops_at_the_10_s_cap_warm_up_included():
    # warm-up may use a quarter of the cap (2.5 s): one call (0-2 s), a second would end at 4 s. Timed calls
    # from 2 s: 4, 6, 8, 10 s; a fifth would end at 12 s. Without the cap: 10 warm-up and 100 timed calls, 220 s.
    slow = ScriptedClock([2000.0] * 1000)
    probe = mh.objectives.Latency(np.zeros(4))
    assert (probe.min_time_s, probe.max_time_s, probe.max_repeats) == (0.5, 10.0, 20_000)
    times, info = probe._time_loop(slow.call, slow.clock, now=slow.now)
    assert len(times) == 4 and slow.calls == 1 + 4 and slow.elapsed_s == 10.0
    assert info["stopped_by"] == "max_time_s" and info["stopped_at_cap"] and info["warmup_calls"] == 1


class Sleeper(torch.nn.Module):
    """A torch module whose forward pass sleeps ``seconds``."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.linear = seconds, torch.nn.Linear(4, 1)

    def forward(self, x):
        time.sleep(self.seconds)
        return self.linear(x)


def test_a_slow_model_is_measured_within_the_cap_and_says_so():
    # 0.3 s per call, a 2 s cap: one warm-up call (a second would end after 0.5 s, a quarter of the cap),
    # then timed calls ending at 0.6, 0.9, 1.2, 1.5 and 1.8 s; a sixth would end at 2.1 s
    t0 = time.perf_counter()
    m = mh.objectives.Latency(np.zeros(4, dtype=np.float32), max_time_s=2.0).measure(Sleeper(0.3))
    elapsed = time.perf_counter() - t0
    info = m.extra["latency"]
    assert elapsed < 2.0 + 0.5  # the cap and a generous margin (without the cap: 10 + 100 calls, 33 s)
    assert info["timed_calls"] == 5 and info["warmup_calls"] == 1
    assert info["stopped_by"] == "max_time_s" and info["stopped_at_cap"] is True and info["wall_s"] <= elapsed
    assert 300 <= m["latency_p50_ms"] < 400


def test_a_fast_steady_model_stops_once_settled_long_before_max_repeats():
    t0 = time.perf_counter()
    m = mh.objectives.Latency(np.zeros(4, dtype=np.float32)).measure(Sleeper(0.001))  # about 1.1 ms per call
    elapsed = time.perf_counter() - t0
    info = m.extra["latency"]
    assert info["stopped_by"] == "settled" and info["stopped_at_cap"] is False
    assert 0.5 <= info["timed_calls"] * m["latency_mean_ms"] / 1000  # the 0.5 s time floor is covered
    assert info["timed_calls"] < 1000 and elapsed < 3.0  # about 450 calls and 0.7 s, far from 20,000 and 10 s


def test_thread_count_restored():
    before = torch.get_num_threads()
    mh.objectives.Latency(np.zeros(256, dtype=np.float32), threads=1, min_repeats=10, max_repeats=20).measure(model())
    assert torch.get_num_threads() == before


def test_sklearn_predict_latency_and_prefix():
    X = np.random.default_rng(0).normal(size=(100, 5))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    m = mh.objectives.Latency(X[0], batch_size=64, prefix="latency_b64", min_repeats=20, max_repeats=50).measure(clf)
    assert set(m) == {"latency_b64_p50_ms", "latency_b64_p90_ms", "latency_b64_p99_ms", "latency_b64_mean_ms"}


def test_a_scikit_learn_model_is_timed_with_its_thread_pools_held_to_threads():
    # only torch was held to threads=1: a scikit-learn model's BLAS and OpenMP pools ran on every core, recorded as 1
    from threadpoolctl import threadpool_info, threadpool_limits

    X = np.random.default_rng(0).normal(size=(100, 5))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    seen, predict = [], clf.predict

    def spy(rows):
        seen.append({i["num_threads"] for i in threadpool_info()})
        return predict(rows)

    clf.predict = spy
    with threadpool_limits(limits=2):  # the process's own setting: restored after the measurement
        m = mh.objectives.Latency(X[0], min_repeats=3, max_repeats=3, warmup=0).measure(clf)
        after = {i["num_threads"] for i in threadpool_info()}
    assert seen and all(s == {1} for s in seen) and m.extra["latency"]["threads"] == 1
    assert after == {2}


def _n_jobs_while_predicting(estimator) -> list:
    """The ``n_jobs`` ``estimator`` has at each of its ``predict`` calls from now on."""
    seen, predict = [], estimator.predict

    def spy(rows):
        seen.append(estimator.n_jobs)
        return predict(rows)

    estimator.predict = spy
    return seen


def test_a_scikit_learn_model_s_n_jobs_is_held_to_threads_and_given_back():
    # joblib's workers (a forest's n_jobs=-1) are beyond the BLAS and OpenMP limits: predict ran on every core
    import joblib
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).normal(size=(60, 4))
    forest = RandomForestClassifier(n_estimators=4, n_jobs=-1, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    seen = _n_jobs_while_predicting(forest)
    mh.objectives.Latency(X[0], threads=2, min_repeats=3, max_repeats=3, warmup=0).measure(forest)
    assert seen and set(seen) == {2} and forest.n_jobs == -1

    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=4, n_jobs=-1, random_state=0))
    search = GridSearchCV(pipeline, {"randomforestclassifier__max_depth": [2, 3]}, cv=2, n_jobs=-1)
    search.fit(X, (X[:, 0] > 0).astype(int))
    fitted = search.best_estimator_.steps[-1][1]  # the fitted step that predicts, not the search's template
    seen = _n_jobs_while_predicting(fitted)
    mh.objectives.Latency(X[0], threads=2, min_repeats=3, max_repeats=3, warmup=0).measure(search)
    assert seen and set(seen) == {2} and fitted.n_jobs == -1 and search.n_jobs == -1  # held, and given back

    default = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, (X[:, 0] > 0).astype(int))  # n_jobs None
    seen = _n_jobs_while_predicting(default)
    with joblib.parallel_config(n_jobs=2):  # None: joblib's default, which this makes 2
        mh.objectives.Latency(X[0], min_repeats=3, max_repeats=3, warmup=0).measure(default)
    assert set(seen) == {1} and default.n_jobs is None


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
    with pytest.raises(mh.ConfigError, match=r"batch_size >= 1 \(received 0\)"):
        mh.objectives.Latency(np.zeros(3), batch_size=0)
    with pytest.raises(mh.ConfigError):
        mh.objectives.Latency(np.zeros(3), device="tpu")
    with pytest.raises(mh.ConfigError, match=r"min_time_s >= 0 \(received -0.1\)"):
        mh.objectives.Latency(np.zeros(3), min_time_s=-0.1)
    with pytest.raises(mh.ConfigError, match=r"min_time_s <= max_time_s \(received min_time_s=2.0, max_time_s=1.0\)"):
        mh.objectives.Latency(np.zeros(3), min_time_s=2.0, max_time_s=1.0)
    short = mh.objectives.Latency(np.zeros(3), max_time_s=0.3)  # a cap under the default floor lowers the floor
    assert (short.min_time_s, short.max_time_s) == (0.15, 0.3)
    with pytest.raises(mh.ConfigError, match=r"min_repeats <= max_repeats \(received min_repeats=500, max_repeats=100\)"):
        mh.objectives.Latency(np.zeros(3), min_repeats=500, max_repeats=100)
    with pytest.raises(mh.ConfigError, match=r"max_time_s > 0 \(received -1\)"):
        mh.objectives.Latency(np.zeros(3), max_time_s=-1)
    with pytest.raises(mh.ConfigError, match=r"warmup_s >= 0 \(received -0.2\); max_time_s a finite number \(received None\)"):
        mh.objectives.Latency(np.zeros(3), warmup_s=-0.2, max_time_s=None)
    with pytest.raises(mh.ConfigError, match=r"max_repeats an integer \(received 10.5\)"):
        mh.objectives.Latency(np.zeros(3), max_repeats=10.5)


def test_latency_hands_the_model_back_as_it_came():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
    mh.objectives.Latency(torch.zeros(4), min_time_s=0.05, max_time_s=0.2).measure(model)
    assert model.training  # timed in eval mode, handed back in training mode
    model.eval()
    mh.objectives.Latency(torch.zeros(4), min_time_s=0.05, max_time_s=0.2).measure(model)
    assert not model.training
    model.train()
    model[1].eval()  # a frozen sub-module stays frozen
    mh.objectives.Latency(torch.zeros(4), min_time_s=0.05, max_time_s=0.2).measure(model)
    assert [m.training for m in model] == [True, False, True]


def test_an_example_given_with_its_batch_dimension_is_named():
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(20, 5))
    fitted = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(mh.ProbeError, match=r"\(the example has shape \(1, 5\): if its leading 1 is a batch dimension, "
                                            r"give one sample without it, such as X\[0\], not X\[:1\]\)"):
        mh.objectives.Latency(X[:1], min_repeats=5, max_repeats=5).measure(fitted)


def test_a_pandas_row_keeps_its_column_names_for_a_pipeline_that_selects_columns_by_name():
    # the example was turned into an array, so a ColumnTransformer over named columns failed on every trial
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = pd.DataFrame({"age": [25, 38, 52, 46] * 5, "hours": [40.0, 50.0, 20.0, 45.0] * 5,
                      "job": ["a", "b", "a", "c"] * 5})
    y = [0, 1, 1, 0] * 5
    pipe = make_pipeline(ColumnTransformer([("n", StandardScaler(), ["age", "hours"]), ("c", OneHotEncoder(), ["job"])]),
                         LogisticRegression()).fit(X, y)
    for example in (X.iloc[0], X.iloc[[0]]):  # a row as a Series, or a DataFrame of one row
        metrics = mh.objectives.Latency(example, batch_size=4, min_time_s=0.01, max_time_s=1.0).measure(pipe)
        assert metrics["latency_p50_ms"] > 0
    with pytest.raises(mh.ConfigError, match=r"a DataFrame example must be one row \(X.iloc\[\[0\]\]\); received 2 rows"):
        mh.objectives.Latency(X.iloc[:2], min_time_s=0.01, max_time_s=1.0).measure(pipe)


@pytest.mark.parametrize("prefix", [None, "", "__", "p99 ms", 3])
def test_latency_refuses_a_prefix_that_names_no_metric(prefix):
    with pytest.raises(mh.ConfigError, match="Latency: expected prefix to be a name without spaces"):
        mh.objectives.Latency(np.zeros(3), prefix=prefix)
    assert mh.objectives.Latency(np.zeros(3), prefix="cpu_latency").metrics[0] == "cpu_latency_p50_ms"
    assert mh.objectives.Latency(np.zeros(3), prefix="gpu-latency_").metrics[0] == "gpu-latency_p50_ms"


class TokenClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = torch.nn.EmbeddingBag(1000, 16), torch.nn.Linear(16, 2)

    def forward(self, ids):
        return self.out(self.emb(ids))


def test_probes_feed_integer_ids_to_a_model_whose_first_layer_is_an_embedding():
    ids = np.random.default_rng(0).integers(0, 1000, size=(50, 12))
    labels = np.random.default_rng(1).integers(0, 2, size=50)
    model = TokenClassifier()
    assert mh.objectives.Latency(ids[0], min_time_s=0.1, max_time_s=0.3).measure(model)["latency_p50_ms"] > 0
    assert mh.objectives.Latency(torch.as_tensor(ids[0]), min_time_s=0.1, max_time_s=0.3).measure(model)["latency_p50_ms"] > 0
    assert mh.objectives.PeakMemory(ids[:1]).measure(model)["peak_memory_kb"] > 0
    assert mh.objectives.PeakMemory(ids[:1].astype(np.uint16)).measure(model)["peak_memory_kb"] > 0  # token arrays
    with torch.no_grad():
        expected = (model(torch.as_tensor(ids)).argmax(dim=1).numpy() == labels).mean()
    assert mh.objectives.Accuracy(ids, labels).measure(model)["accuracy"] == pytest.approx(expected)
    # integer features into a model that starts with a Linear layer are cast, as before
    mlp = torch.nn.Sequential(torch.nn.Linear(12, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert mh.objectives.Latency(ids[0], min_time_s=0.1, max_time_s=0.3).measure(mlp)["latency_p50_ms"] > 0


def test_a_batch_given_as_latency_s_example_is_warned_of_and_its_shape_recorded():
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    X = np.zeros((32, 8), dtype=np.float32)
    probe = mh.objectives.Latency(X[:32], min_time_s=0.1, max_time_s=0.3)
    with pytest.warns(mh.MooHpoWarning, match=r"shape \(32, 8\).*runs 1 x 32 rows.*Latency\(X\[0\], batch_size=32\)"):
        m = probe.measure(mlp)
    assert m.extra["latency"]["example_shape"] == [32, 8] and m.extra["latency"]["batch_size"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe.measure(mlp)  # once per probe
        one = mh.objectives.Latency(X[0], batch_size=32, min_time_s=0.1, max_time_s=0.3).measure(mlp)  # one sample: no warning
    assert one.extra["latency"]["example_shape"] == [8]


@pytest.mark.parametrize("probe", [mh.objectives.Latency, mh.objectives.PeakMemory, mh.objectives.Energy])
def test_an_example_that_no_model_takes_is_refused_when_the_probe_is_made(probe):
    with pytest.raises(mh.ConfigError, match=f"{probe.__name__}: example must be an input for the model"):
        probe(None)
    if probe is mh.objectives.PeakMemory:  # torch modules only: no text
        with pytest.raises(mh.ConfigError, match="PeakMemory: example must be an input for the model"):
            probe("X[0]")


def test_a_text_pipeline_is_timed_on_a_text_example():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    texts, labels = ["good movie", "bad movie", "great film", "awful film"], [1, 0, 1, 0]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    m = mh.objectives.Latency("good movie", batch_size=8, min_time_s=0.1, max_time_s=0.3).measure(pipeline)
    assert m["latency_p50_ms"] > 0 and m.extra["latency"]["example_shape"] == []


def test_two_latency_probes_keep_their_records_apart_by_prefix():
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    x = np.zeros(8, dtype=np.float32)
    one = mh.objectives.Latency(x, prefix="single", min_time_s=0.1, max_time_s=0.3).measure(mlp)
    many = mh.objectives.Latency(x, batch_size=16, prefix="batched", min_time_s=0.1, max_time_s=0.3).measure(mlp)
    assert one.extra["single"]["batch_size"] == 1 and many.extra["batched"]["batch_size"] == 16
    assert "latency" not in one.extra and "single_p99_ms" in one
