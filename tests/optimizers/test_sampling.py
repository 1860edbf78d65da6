from __future__ import annotations

import numpy as np

import moo_hpo as mh
from tests.optimizers.contract import OptimizerContract


class TestRandomContract(OptimizerContract):
    optimizer_name = "random"


class TestSobolContract(OptimizerContract):
    optimizer_name = "sobol"


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
