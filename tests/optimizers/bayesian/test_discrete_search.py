"""The local search over a proposal's discrete parameters (categorical choices, integer steps)."""

from __future__ import annotations

import moo_hpo as mh
from moo_hpo.optimizers.bayesian.discrete_search import (
    best_decoded,
    discrete_neighbours,
    has_discrete,
    improve_discrete,
)


def _space(rules=()) -> mh.Space:
    return mh.Space({
        "x": mh.Float(0.0, 1.0),
        "n": mh.Int(1, 4),
        "kind": mh.Categorical(["a", "b", "c"]),
        "shift": mh.Float(0.0, 1.0, active_if={"kind": "c"}),
    }, rules=rules)


def test_neighbours_are_one_discrete_move_away_decoded_by_the_space():
    space = _space()
    config = {"x": 0.3, "n": 1, "kind": "a"}
    out = discrete_neighbours(space, config)
    assert {"x": 0.3, "n": 2, "kind": "a"} in out  # one step up (n = 0 is outside the domain)
    assert {"x": 0.3, "n": 1, "kind": "b"} in out
    c = [o for o in out if o["kind"] == "c"]
    assert len(c) == 1 and c[0]["shift"] == 0.5  # a parameter that becomes active takes its imputed value
    assert len(out) == 3 and config not in out
    assert discrete_neighbours(space, {"x": 0.3, "n": 4, "kind": "c", "shift": 0.1})[0]["n"] == 3


def test_neighbours_keep_to_the_validity_rules_and_floats_only_spaces_have_none():
    space = _space(rules=[mh.Rule("no b", lambda c: c["kind"] != "b")])
    assert all(o["kind"] != "b" for o in discrete_neighbours(space, {"x": 0.3, "n": 2, "kind": "a"}))
    floats = mh.Space({"x": mh.Float(0.0, 1.0)})
    assert not has_discrete(floats) and discrete_neighbours(floats, {"x": 0.5}) == []
    assert has_discrete(_space()) and not has_discrete(mh.Space({"k": mh.Categorical(["only"])}))


def test_local_search_moves_while_the_acquisition_improves():
    import torch

    space = _space()
    kind_col = space.columns("kind")
    n_col = space.columns("n")

    def acq(X):  # prefers kind "b" (the middle one-hot column), then a large n
        X = X.reshape(X.shape[0], -1)
        return X[:, kind_col][:, 1] * 10.0 + X[:, n_col][:, 0]

    start = {"x": 0.3, "n": 1, "kind": "a"}
    assert improve_discrete(acq, space, start) == {"x": 0.3, "n": 4, "kind": "b"}  # 1 categorical + 3 integer moves
    assert improve_discrete(acq, space, start, rounds=1) == {"x": 0.3, "n": 1, "kind": "b"}
    best = {"x": 0.3, "n": 4, "kind": "b"}
    assert improve_discrete(acq, space, best) == best  # nothing better: unchanged
    assert isinstance(acq(torch.zeros(1, 1, space.n_encoded)), torch.Tensor)


def test_a_parameter_a_move_switches_on_takes_the_value_the_acquisition_prefers_not_its_midpoint():
    # the move to kind "c" activated shift at its imputed 0.5, which nothing optimized: EHVI and ParEGO proposed a
    # conditional parameter's midpoint over and over
    space = _space()
    kind_col, shift_col = space.columns("kind"), space.columns("shift")

    def acq(X):  # prefers kind "c", then shift near 0.9
        X = X.reshape(X.shape[0], -1)
        return X[:, kind_col][:, 2] * 10.0 - (X[:, shift_col][:, 0] - 0.9) ** 2

    moved = improve_discrete(acq, space, {"x": 0.3, "n": 1, "kind": "a"})
    assert moved["kind"] == "c" and abs(moved["shift"] - 0.9) < 0.02
    assert improve_discrete(acq, space, {"x": 0.3, "n": 1, "kind": "a"}) == moved  # replayed alike
    kept = {"x": 0.3, "n": 1, "kind": "c", "shift": 0.2}  # active already: the relaxed optimum's value is kept
    assert improve_discrete(acq, space, kept) == kept
    # a rule the switched-on parameter breaks at its midpoint only: the move was dropped
    ruled = _space(rules=[mh.Rule("shift small", lambda c: c.get("shift", 0.0) < 0.4)])
    moved = improve_discrete(acq, ruled, {"x": 0.3, "n": 1, "kind": "a"})
    assert moved["kind"] == "c" and moved["shift"] < 0.4 and ruled.is_valid(moved)


def test_ehvi_settles_on_the_categorical_choice_that_the_front_needs():
    """Objectives that only choice "b" brings to the front, after a design without "b": the model steps
    propose "b" (without the discrete search, the decoded relaxations kept the design's choices)."""
    from moo_hpo.optimizers import make_optimizer
    from moo_hpo.trial import Trial
    from tests.optimizers.bayesian.studies import FAST

    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0), "kind": mh.Categorical(["a", "b", "c"])})
    penalty = {"a": 0.3, "b": 0.0, "c": 0.6}
    study = mh.Study(space, [mh.Minimize("f1", ref=2.0), mh.Minimize("f2", ref=2.0)], seed=0,
                     optimizer=make_optimizer("ehvi", {**FAST, "n_init": 4}))
    opt = study.optimizer
    opt.setup(study.problem)

    def told(number: int, c: dict) -> Trial:
        p = penalty[c["kind"]] + c["y"]
        return Trial(number=number, config=c, status=mh.TrialStatus.COMPLETE, metrics={"f1": c["x"] + p, "f2": 1.0 - c["x"] + p})

    opt.tell([told(i, {"x": 0.2 + 0.2 * i, "y": 0.5, "kind": "a" if i % 2 else "c"}) for i in range(4)])
    kinds = []
    for number in range(4, 12):
        config = opt.ask(1)[0].config
        kinds.append(config["kind"])
        opt.tell([told(number, config)])
    assert kinds.count("b") >= 4, kinds


def test_the_restarts_are_judged_after_decoding():
    """A relaxed optimum between two choices scores highest before decoding; another restart's optimum decodes to
    a configuration the acquisition scores higher, and that one is proposed."""
    import numpy as np
    import torch

    space = _space()
    kind_col, x_col = space.columns("kind"), space.columns("x")

    def acq(X):  # the relaxation pays for a block between choices; decoded, only x counts
        X = X.reshape(X.shape[0], -1)
        between = 1.0 - (X[:, kind_col] - 0.5).abs().sum(dim=-1)  # 1 for the one-hot [.5, .5, 0], <= 0 for any choice
        return 10.0 * between.clamp(min=0.0) + X[:, x_col][:, 0]

    relaxed = space.encode([{"x": 0.2, "n": 2, "kind": "a"}])[0]
    relaxed[kind_col] = [0.5, 0.5, 0.0]
    decodes_well = space.encode([{"x": 0.9, "n": 2, "kind": "a"}])[0]
    candidates = torch.as_tensor(np.vstack([relaxed, decodes_well]), dtype=torch.double)
    values = acq(candidates)
    assert values[0] > values[1]  # before decoding, the relaxed point leads
    assert best_decoded(acq, space, candidates, values)["x"] == 0.9
    floats = mh.Space({"x": mh.Float(0.0, 1.0)})
    xs = torch.tensor([[0.1], [0.7]], dtype=torch.double)
    assert best_decoded(None, floats, xs, torch.tensor([2.0, 1.0]))["x"] == 0.1  # floats only: as scored, no call
