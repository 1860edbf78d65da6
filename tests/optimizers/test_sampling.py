from __future__ import annotations

import numpy as np

import moo_hpo as mh
from tests.optimizers.contract import Benchmark, OptimizerContract

# The baselines' behaviour checks: 256 trials (cheap), so a sampling defect shows beyond chance.
BASELINE_BENCHMARK = Benchmark(n_trials=256, seeds=(0, 1))

class TestRandomContract(OptimizerContract):
    optimizer_name = "random"
    benchmark = BASELINE_BENCHMARK
    # random search is the rival of every other optimizer; its own hypervolume check is against a
    # search confined to half of each range (where nothing is feasible): a sampler that does not
    # cover the space loses it
    hv_rival = "corner"
    # its proposals are uniform: the feasible share is the space's exact feasible fraction
    # (0.231 here) within 0.1, 3.8 binomial standard deviations at 256 trials (seed 0 draws 0.160, -2.7
    # of them); a sampler that misses part of a range is further off (half of it: 0 or twice the share)
    feasible_share_tolerance = 0.1


class MyRandom(mh.optimizers.RandomSearch):
    """An optimizer of a user's (a variant of random search under a name of its own)."""

    name = "my-random"


class TestContractOfAnOptimizerNamedByItsClass(TestRandomContract):
    """The suite run as a user runs it on an optimizer of theirs: named by its class, rebuilt in another process."""

    optimizer_name = "tests.optimizers.test_sampling:MyRandom"


class TestSobolContract(OptimizerContract):
    optimizer_name = "sobol"
    benchmark = BASELINE_BENCHMARK
    # a quasi-random design is no optimizer: it must do at least as well as random's worst seed
    hv_rule = "worst"
    # low discrepancy: far closer to the exact feasible fraction than random's 3.8 standard deviations
    # (0.1); a configuration drawn twice is skipped, which loosens the balance a little (seeds 0-1: 0.024
    # and 0.009 off the exact 0.231 at 256 trials), so 0.04
    feasible_share_tolerance = 0.04


def _configs(name: str, asks: list[int]) -> list[dict]:
    space = mh.Space({"a": mh.Float(0, 1), "b": mh.Int(0, 9)}, rules=[lambda c: c["b"] != 3])
    study = mh.Study(space, [mh.Minimize("y")], optimizer=name, seed=4)
    out = []
    for n in asks:
        out += [t.config for t in study.ask(n)]
    return out


def test_batching_does_not_change_the_stream():
    for name in ("random", "sobol"):
        assert _configs(name, [1] * 10) == _configs(name, [3, 7]) == _configs(name, [10])


def test_sobol_covers_the_space_more_evenly_than_random():
    def discrepancy(name: str) -> float:
        from scipy.stats import qmc

        space = mh.Space({"a": mh.Float(0, 1), "b": mh.Float(0, 1)})
        study = mh.Study(space, [mh.Minimize("y")], optimizer=name, seed=0)
        pts = np.array([[t.config["a"], t.config["b"]] for t in study.ask(128)])
        return qmc.discrepancy(pts)

    assert discrepancy("sobol") < discrepancy("random")


def test_an_initial_design_tries_every_pair_of_choices_of_two_yes_no_parameters():
    # in 6 dimensions the first binary digits of Sobol's coordinates 0 and 5 are equal (or opposite) for the first 16
    # points whatever the scramble: the two choices went together in all of them
    import collections

    space = mh.Space({"model": mh.Categorical(["logreg", "svc"]), "a": mh.Float(0, 1), "b": mh.Float(0, 1),
                      "c": mh.Float(0, 1), "d": mh.Float(0, 1), "class_weight": mh.Categorical([None, "balanced"])})
    every_pair = 0
    for seed in range(40):
        trials = mh.Study(space, [mh.Minimize("y")], optimizer="sobol", seed=seed).ask(16)
        every_pair += len(collections.Counter((t.config["model"], t.config["class_weight"]) for t in trials)) == 4
        models = collections.Counter(t.config["model"] for t in trials)
        assert abs(models["svc"] - models["logreg"]) <= 2  # each choice about as often
    assert every_pair >= 36  # measured: 39 of 40 seeds (independent random choices: 38 expected); 0 unshifted


def test_a_small_space_is_proposed_whole_before_any_repeat():
    space = mh.Space({"a": mh.Categorical(["x", "y", "z"]), "b": mh.Int(0, 2)})  # 9 configurations
    for name in ("random", "sobol"):
        study = mh.Study(space, [mh.Minimize("y")], optimizer=name, seed=0)
        configs = [tuple(t.config.values()) for t in study.ask(12)]
        assert len(set(configs[:9])) == 9 and set(configs[9:]) <= set(configs[:9])


def test_a_study_resumed_from_trials_another_stream_gave_proposes_no_repeat(tmp_path):
    # a study begun with another version of the stream (or by hand): its configurations are not proposed again
    space = mh.Space({"a": mh.Categorical(["p", "q", "r"]), "b": mh.Categorical(["u", "v", "w"])})
    path = tmp_path / "s.db"
    with mh.Study(space, [mh.Minimize("y")], storage=path, optimizer="random", seed=3) as study:
        for _ in range(5):  # five configurations no Sobol stream of this seed gave in this order
            t = study.ask()
            study.tell(t, {"y": 1.0})
    with mh.Study.load(path, optimizer="sobol") as study:
        study.optimize(lambda c: {"y": 1.0}, n_trials=4, show_progress=False)
        configs = [tuple(t.config.values()) for t in study.trials]
    assert len(configs) == 9 and len(set(configs)) == 9  # the whole space, each once
