"""The proposal that keeps to the validity rules: another restart's optimum, the rule's boundary, or the best of
random candidates, whichever the acquisition prefers."""

from __future__ import annotations

import torch

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.optimizers.bayesian.valid_optimum import rule_boundary, valid_optimum


def _budget_space() -> mh.Space:
    return mh.Space({"w": mh.Float(0.0, 1.0), "d": mh.Float(0.0, 1.0)}, rules=[mh.Rule("budget", lambda c: c["w"] + c["d"] <= 1.2)])


def _sum_acquisition(X: torch.Tensor) -> torch.Tensor:
    return X.sum(dim=-1).reshape(-1)  # higher toward (1, 1), beyond the rule


def test_the_boundary_is_found_by_bisection_on_the_segment():
    space = _budget_space()
    edge = rule_boundary(space, {"w": 0.2, "d": 0.2}, {"w": 1.0, "d": 1.0})
    assert space.passes_rules(edge) and 1.2 - 1e-3 < edge["w"] + edge["d"] <= 1.2
    assert abs(edge["w"] - edge["d"]) < 1e-9  # on the segment
    assert rule_boundary(space, {"w": 0.6, "d": 0.6}, {"w": 1.0, "d": 1.0}) is None  # only the valid end passes


def test_an_invalid_optimum_gives_way_to_the_best_of_the_valid_options():
    space = _budget_space()
    ranked = [{"w": 1.0, "d": 1.0}, {"w": 0.4, "d": 0.3}]
    config, reason, how = valid_optimum(_sum_acquisition, space, ranked, lambda c: True, lambda: {"w": 0.1, "d": 0.2})
    assert reason == "the optimum broke a validity rule" and how == "the rule's boundary"
    assert config["w"] + config["d"] > 1.19 and space.passes_rules(config)
    # a valid best optimum is kept; a repeated one gives way to the next restart's
    assert valid_optimum(_sum_acquisition, space, ranked[1:], lambda c: True, lambda: {"w": 0.0, "d": 0.0})[1:] == (None, None)
    seen = {(0.4, 0.3)}
    config, reason, how = valid_optimum(_sum_acquisition, space, [{"w": 0.4, "d": 0.3}, {"w": 0.35, "d": 0.3}],
                                        lambda c: (c["w"], c["d"]) not in seen, lambda: {"w": 0.1, "d": 0.1})
    assert (config, reason, how) == ({"w": 0.35, "d": 0.3}, "the optimum repeats a configuration already proposed",
                                     "another restart's optimum")


def test_ehvi_proposes_on_the_rules_boundary_where_the_front_lies_beyond_it():
    space = mh.Space({"w": mh.Float(0.0, 1.0), "d": mh.Float(0.0, 1.0), "x": mh.Float(0.0, 1.0)},
                     rules=[mh.Rule("budget", lambda c: c["w"] + c["d"] <= 1.2)])

    def fn(c):
        return {"f1": (1 - c["w"]) ** 2 + 0.3 * c["x"] + 0.2 * (1 - c["d"]),
                "f2": (1 - c["d"]) ** 2 + 0.3 * (1 - c["x"]) + 0.2 * (1 - c["w"])}

    fast = {"n_init": 5, "num_restarts": 2, "raw_samples": 32, "mc_samples": 16, "maxiter": 30}
    study = mh.Study(space, [mh.Minimize("f1", ref=1.5), mh.Minimize("f2", ref=1.5)], optimizer=make_optimizer("ehvi", fast), seed=0)
    study.optimize(fn, n_trials=9, show_progress=False)
    steps = [t for t in study.trials if t.extra["optimizer"]["acquisition"].startswith("q")]
    assert steps and all(space.passes_rules(t.config) for t in study.trials)
    on_edge = [t for t in steps if t.extra["optimizer"].get("replacement") == "the rule's boundary"]
    assert len(on_edge) >= len(steps) // 2  # the optimum lies beyond the rule: its boundary is where to look
    assert all(t.config["w"] + t.config["d"] > 1.19 for t in on_edge)
