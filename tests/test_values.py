"""NumPy numbers taken where Python numbers are, and stored as Python values."""

from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.values import is_integer, is_number, plain


def test_number_checks_take_numpy_scalars_and_refuse_bools() -> None:
    assert is_integer(np.int64(3)) and is_integer(7) and not is_integer(np.float64(3.0))
    assert not is_integer(True) and not is_integer(np.bool_(True))
    assert is_number(np.float32(0.5)) and is_number(np.int8(2)) and is_number(1.5)
    assert not is_number(True) and not is_number("1") and not is_number(None) and not is_number(1j)


def test_plain_turns_numpy_scalars_into_python_values_at_any_depth() -> None:
    value = plain({"a": np.int64(3), "b": [np.float32(0.5), (np.str_("x"), np.bool_(True))], np.str_("k"): None})
    assert value == {"a": 3, "b": [0.5, ("x", True)], "k": None}
    assert type(value["a"]) is int and type(value["b"][0]) is float and type(value["b"][1][0]) is str
    assert type(value["b"][1][1]) is bool and all(type(k) is str for k in value)


SPACE = mh.Space({"x": mh.Float(0.0, 1.0)})


@pytest.mark.parametrize("make", [
    lambda: mh.AtMost("size_kb", np.int64(500)),
    lambda: mh.AtMost("size_kb", np.float32(500), soft=True, penalty=np.float32(2)),
    lambda: mh.Minimize("latency_ms", ref=np.int64(50)),
    lambda: mh.HypervolumeStagnation(np.int64(10), rel_tol=np.float32(1e-3)),
    lambda: mh.Study(SPACE, [mh.Minimize("f"), mh.Minimize("g")], optimizer=mh.optimizers.NSGA2(pop_size=np.int64(8))).optimizer,
    lambda: mh.Study(SPACE, [mh.Minimize("f"), mh.Minimize("g")], optimizer=mh.optimizers.EHVI(time_share=np.float32(0.2))),
], ids=["bound", "soft-penalty", "ref", "stagnation", "pop_size", "time_share"])
def test_numpy_numbers_are_taken_where_numbers_are(make) -> None:
    made = make()
    assert made is not None


def test_numpy_bounds_are_stored_as_python_floats() -> None:
    c = mh.AtMost("size_kb", np.float32(500), soft=True, penalty=np.int64(2))
    assert type(c.bound) is float and type(c.penalty) is float and c.bound == 500.0


def test_optimize_takes_numpy_budgets() -> None:
    study = mh.Study(SPACE, [mh.Minimize("f")], optimizer="random", seed=0)
    stop = mh.HypervolumeStagnation(np.int64(50))
    study.optimize(lambda c: {"f": c["x"]}, n_trials=np.int64(3), timeout=np.float32(60), n_workers=np.int64(1),
                   callbacks=[stop], show_progress=False)
    assert len(study.trials) == 3


def test_numpy_options_of_optimizer_and_pruner_survive_a_reopening(tmp_path) -> None:
    path = tmp_path / "s.db"
    objectives = [mh.Minimize("f"), mh.Minimize("g")]
    with mh.Study(SPACE, objectives, optimizer=mh.optimizers.EHVI(n_init=np.int64(3)), storage=path, seed=0,
                  pruner=mh.pruners.MOASHA(1, np.int64(9), 3)) as study:
        trial = study.ask()
        study.tell(trial, {"f": 0.1, "g": 0.2})
    with mh.Study.load(path) as again:
        assert again.optimizer_info["params"]["n_init"] == 3
        assert again.optimizer.n_init == 3
        assert again.pruner is not None and again.pruner.max_resource == 9


def test_numpy_value_in_active_if_is_the_configs_value(tmp_path) -> None:
    space = mh.Space({"n_layers": mh.Int(1, 2), "width2": mh.Int(8, 64, active_if={"n_layers": np.int64(2)}),
                      "kind": mh.Categorical(["a", "b"]), "alpha": mh.Float(0, 1, active_if={"kind": np.str_("a")})})
    assert space.validate({"n_layers": 2, "width2": 16, "kind": "b"}) == {"n_layers": 2, "width2": 16, "kind": "b"}
    configs = space.sample(64, seed=0)
    assert all(("width2" in c) == (c["n_layers"] == 2) for c in configs)
    assert any("width2" in c for c in configs) and any("alpha" in c for c in configs)
    with mh.Study(space, [mh.Minimize("f")], storage=tmp_path / "a.db", optimizer="random", seed=0) as study:
        study.ask()
    with mh.Study.load(tmp_path / "a.db") as again:
        assert again.space.params["width2"].active_if == {"n_layers": (2,)}


def test_space_validate_takes_numpy_values_and_returns_python_ones() -> None:
    space = mh.Space({"x": mh.Float(0.0, 1.0), "n": mh.Int(1, 4), "c": mh.Categorical(["a", "b"])})
    config = space.validate({"x": np.float32(0.5), "n": np.int64(2), "c": np.str_("a")})
    assert config == {"x": 0.5, "n": 2, "c": "a"}
    assert [type(v) for v in config.values()] == [float, int, str]


class _NumpyProposer(mh.optimizers.Optimizer):
    name = "numpy-proposer"

    def ask(self, n: int, pending=()):
        from moo_hpo.optimizers.base import Proposal

        return [Proposal({"w": np.int64(3)}) for _ in range(n)]


def test_a_custom_optimizers_numpy_proposal_is_stored_as_python_values(tmp_path) -> None:
    space = mh.Space({"w": mh.Int(1, 8)})
    with mh.Study(space, [mh.Minimize("f")], optimizer=_NumpyProposer(), storage=tmp_path / "c.db") as study:
        trial = study.ask()
        assert type(trial.config["w"]) is int
        study.tell(trial, {"f": 1.0})
    with mh.Study.load(tmp_path / "c.db", read_only=True) as again:
        assert again.trials[0].config == {"w": 3}



def test_choices_that_print_alike_are_told_apart():
    from moo_hpo.values import choice_text

    texts = [choice_text(v) for v in (None, True, 1, 1.0, "1", "True", "adam", 2.5, 64.0, 1e-5, float("inf"))]
    assert texts == ["None", "True", "1", "1.0", "'1'", "'True'", "adam", "2.5", "64.0", "1e-05", "inf"]
    assert choice_text(0.00123456789) == "0.00123457" and choice_text(0.00123456789, 4) == "0.001235"
