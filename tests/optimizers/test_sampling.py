from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from tests.optimizers.contract import Benchmark, OptimizerContract

# The baselines' behaviour checks: 256 trials (cheap), so a sampling defect shows beyond chance.
BASELINE_BENCHMARK = Benchmark(n_trials=256, seeds=(0, 1))

# A defect of moo_hpo.optimizers.sampling (2026-12-05): ConfigStream yields the i-th valid point of the
# stream without skipping configurations it already yielded, so on integer/categorical parameters random
# search and Sobol propose a configuration again (256 trials over 1,331 configurations, seeds 0-4: 16-24
# repeats for random, 6-14 for Sobol; a batch of 6 over 27 configurations repeats one). The Bayesian optimizers'
# Sobol design already takes "the k-th valid point not yet proposed".
REPEATS = "sampling.ConfigStream does not skip configurations it already proposed"


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

    @pytest.mark.xfail(strict=True, reason=REPEATS)
    def test_no_configuration_proposed_twice(self):
        super().test_no_configuration_proposed_twice()

    @pytest.mark.xfail(strict=True, reason=REPEATS)
    def test_pending_proposals_of_a_batch_are_distinct(self):
        super().test_pending_proposals_of_a_batch_are_distinct()


class TestSobolContract(OptimizerContract):
    optimizer_name = "sobol"
    benchmark = BASELINE_BENCHMARK
    # a quasi-random design is no optimizer: it must do at least as well as random's worst seed
    hv_rule = "worst"
    # low discrepancy: far closer to the exact feasible fraction than random's 3 standard deviations
    feasible_share_tolerance = 0.02

    @pytest.mark.xfail(strict=True, reason=REPEATS)
    def test_no_configuration_proposed_twice(self):
        super().test_no_configuration_proposed_twice()


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
