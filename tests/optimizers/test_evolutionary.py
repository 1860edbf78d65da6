from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.optimizers.evolutionary import NSGA3, default_pop_size, reference_directions
from tests.conftest import mixed_space, two_objectives
from tests.optimizers.contract import OptimizerContract


class TestNSGA2Contract(OptimizerContract):
    optimizer_name = "nsga2"
    params = {"pop_size": 8}
    n_trials = 24


class TestNSGA3Contract(OptimizerContract):
    optimizer_name = "nsga3"
    params = {"pop_size": 8}
    n_trials = 24


class TestSPEA2Contract(OptimizerContract):
    optimizer_name = "spea2"
    params = {"pop_size": 8}
    n_trials = 24


def test_default_population_sizes():
    assert [default_pop_size(b) for b in (50, 500, 5000, None)] == [16, 44, 100, 40]


def test_reference_directions_follow_objectives_and_population():
    assert len(reference_directions(2, 20)) == 20  # Das-Dennis, 19 partitions
    assert len(reference_directions(3, 91)) == 91  # Das-Dennis, 12 partitions
    dirs = reference_directions(3, 40)  # Das-Dennis gives 36 (>= 80%)
    assert len(dirs) == 36
    dirs = reference_directions(5, 30)  # Das-Dennis gives 15: too few, Riesz energy instead
    assert len(dirs) == 30 and np.allclose(dirs.sum(axis=1), 1.0)


def _zdt1(config):
    x = np.array([config[f"x{i}"] for i in range(6)])
    g = 1 + 9 * x[1:].mean()
    return {"f1": x[0], "f2": g * (1 - np.sqrt(x[0] / g))}


def test_nsga2_improves_over_its_first_generation():
    space = mh.Space({f"x{i}": mh.Float(0.0, 1.0) for i in range(6)})
    study = mh.Study(space, [mh.Minimize("f1", ref=1.1), mh.Minimize("f2", ref=11.0)], optimizer=mh.optimizers.make_optimizer("nsga2", {"pop_size": 16}), seed=0)
    study.optimize(_zdt1, n_trials=320, show_progress=False)
    hist = study.hypervolume_history()
    assert hist[-1] > hist[15] * 1.05
    gens = [t.extra["optimizer"]["generation"] for t in study.trials]
    assert gens[:16] == [0] * 16 and gens[-1] == 19


def test_generation_drains_then_waits_for_running_trials():
    study = mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=mh.optimizers.make_optimizer("nsga2", {"pop_size": 6}), seed=0)
    first = study.ask(4)
    rest = study.ask(10)  # only the rest of the generation
    assert len(first) == 4 and len(rest) == 2
    with pytest.raises(mh.MooHpoError, match="running trials"):
        study.ask()
    for t in first + rest:
        study.tell(t, two_objectives(t.config))
    assert len(study.ask(6)) == 6


def test_no_two_pending_trials_share_a_config():
    space = mh.Space({"k": mh.Int(0, 3), "c": mh.Categorical(["a", "b", "c"])})  # only 12 configs
    study = mh.Study(space, [mh.Minimize("y"), mh.Minimize("z")], optimizer=mh.optimizers.make_optimizer("nsga2", {"pop_size": 8}), seed=1)
    for _ in range(4):
        batch = study.ask(8)
        keys = [tuple(sorted(t.config.items())) for t in batch]
        assert len(set(keys)) == len(keys)
        for t in batch:
            study.tell(t, {"y": t.config["k"], "z": -t.config["k"] + (t.config["c"] == "a")})


def test_failures_and_infeasible_trials_never_crash_a_generation():
    def fn(config):
        if config["x"] > 1.0:
            raise RuntimeError("diverged")
        return two_objectives(config)

    study = mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("size_kb", 30.0)],
                     optimizer=mh.optimizers.make_optimizer("nsga2", {"pop_size": 10}), seed=2)
    study.optimize(fn, n_trials=60, show_progress=False)
    assert study.count("failed") > 0 and len(study.trials) == 60
    front = study.pareto_front()
    assert front and all(t.metrics["size_kb"] <= 30.0 for t in front)


def test_parallel_workers_evaluate_a_generation():
    study = mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=mh.optimizers.make_optimizer("nsga2", {"pop_size": 6}), seed=0)
    study.optimize(two_objectives, n_trials=18, n_workers=2, show_progress=False)
    assert study.count("complete") == 18


def test_resume_with_other_settings_rebuilds_population_from_trials(tmp_path):
    path = tmp_path / "s.db"
    study = mh.Study(mixed_space(), [mh.Minimize("f1"), mh.Minimize("f2")], storage=path, seed=0,
                     optimizer=mh.optimizers.make_optimizer("nsga2", {"pop_size": 6}))
    study.optimize(two_objectives, n_trials=12, show_progress=False)
    study.close()
    resumed = mh.Study.load(path, space=mixed_space(), optimizer=mh.optimizers.make_optimizer("nsga2", {"pop_size": 8}))
    resumed.optimize(two_objectives, n_trials=8, show_progress=False)
    assert len(resumed.trials) == 20
    old = {tuple(sorted(t.config.items())) for t in resumed.trials[:12]}
    assert all(tuple(sorted(t.config.items())) not in old for t in resumed.trials[12:])  # bred, no repeats


def test_nsga3_needs_two_objectives():
    with pytest.raises(mh.UnsupportedError, match="at least 2 objectives"):
        mh.Study(mixed_space(), [mh.Minimize("f1")], optimizer=NSGA3())


def test_generation_values_reach_pymoo_as_its_evaluator_would_set_them():
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.problems.static import StaticProblem

    from moo_hpo.optimizers.evolutionary import _set_evaluated

    rng = np.random.default_rng(3)
    X, F, G = rng.random((12, 4)), rng.random((12, 3)), rng.random((12, 2)) - 0.5
    pm = PymooProblem(n_var=4, n_obj=3, n_ieq_constr=2, xl=0.0, xu=1.0)
    by_evaluator, ours = Population.new(X=X), Population.new(X=X)
    Evaluator().eval(StaticProblem(pm, F=F, G=G), by_evaluator)
    _set_evaluated(ours, F, G)

    def state(ind):
        return {k: (v.tolist(), v.dtype, v.shape) if isinstance(v, np.ndarray) else v for k, v in vars(ind).items() if k != "config"}

    for a, b in zip(by_evaluator, ours, strict=True):
        assert state(a) == state(b)
        assert a.CV.tolist() == b.CV.tolist() and bool(a.feas) == bool(b.feas)
