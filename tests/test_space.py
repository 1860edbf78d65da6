from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moo_hpo as mh
from tests.conftest import mixed_space


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: mh.Float(1.0, 1.0), r"low < high.*use Categorical\(\[1.0\]\)"),
        (lambda: mh.Float(2.0, 1.0), "low < high"),
        (lambda: mh.Float(0.0, 1.0, log=True), "low > 0"),
        (lambda: mh.Float(-1.0, 1.0, log=True), "low > 0"),
        (lambda: mh.Float(0.0, float("inf")), "finite"),
        (lambda: mh.Float("a", 1.0), "real number"),
        (lambda: mh.Int(5, 5), r"low < high.*use Categorical\(\[5\]\)"),
        (lambda: mh.Int(0, 10, log=True), "low > 0"),
        (lambda: mh.Int(1, 10, step=0), "step >= 1"),
        (lambda: mh.Int(0, 10, step=3), "multiple of step"),
        (lambda: mh.Int(1.5, 10), "integer"),
        (lambda: mh.Categorical([]), "at least one choice"),
        (lambda: mh.Categorical(["a", "a"]), "unique"),
        (lambda: mh.Categorical([[1, 2]]), "str, int, float, bool or None"),
        (lambda: mh.Categorical([(64, 32), (16,)]), r"\(tuple\) \(a tuple such as hidden_layer_sizes: give text choices"),
        (lambda: mh.Categorical([float("nan")]), "finite"),
        (lambda: mh.Space({}), "at least one parameter"),
        (lambda: mh.Space([("a", mh.Float(0, 1)), ("a", mh.Int(0, 3))]), "unique"),
        (lambda: mh.Space({"a": mh.Float(0, 1, active_if={"nope": 1})}), "not a parameter"),
        (lambda: mh.Space({"a": mh.Categorical(["x"]), "b": mh.Float(0, 1, active_if={"a": "y"})}), "can never take"),
        (
            lambda: mh.Space(
                {"a": mh.Categorical([1, 2], active_if={"b": 1}), "b": mh.Categorical([1, 2], active_if={"a": 1})}
            ),
            "cycle",
        ),
        (lambda: mh.Space({"a": mh.Float(0, 1)}, rules=[lambda c: c["a"] > 2]), "rejected all"),
        (lambda: mh.Space({"a": mh.Float(0, 1)}, rules=[lambda c: c["missing"] > 2]), "raised KeyError"),
        (lambda: mh.Space({"a": mh.Float(0, 1)}, rules=["not callable"]), "callable"),
        (lambda: mh.Space({"a": "Float(0, 1)"}), "Float, Int or Categorical"),
    ],
)
def test_bad_definitions_raise_config_error(build, message):
    with pytest.raises(mh.ConfigError, match=message):
        build()


def test_config_error_says_expected_and_received():
    with pytest.raises(mh.ConfigError) as info:
        mh.Float(3.0, 1.0)
    assert "expects low < high" in str(info.value) and "low=3.0" in str(info.value)


def test_categorical_tells_one_true_and_one_point_zero_apart():
    c = mh.Categorical([1, True, 1.0, None, "1"])
    assert [c.index(v) for v in (1, True, 1.0, None, "1")] == [0, 1, 2, 3, 4]
    assert not c.contains(2)


def test_conditional_parameter_absent_when_inactive(space):
    configs = space.sample(200, seed=1)
    for c in configs:
        assert ("momentum" in c) == (c["opt"] == "sgd")
        assert ("nesterov" in c) == (c["opt"] == "sgd")
    assert {c["opt"] for c in configs} == {"sgd", "adam"}


def test_nested_conditions():
    space = mh.Space(
        {
            "model": mh.Categorical(["linear", "mlp"]),
            "act": mh.Categorical(["relu", "tanh"], active_if={"model": "mlp"}),
            "slope": mh.Float(0.0, 0.3, active_if={"act": "relu"}),
        }
    )
    for c in space.sample(300, seed=0):
        assert ("act" in c) == (c["model"] == "mlp")
        assert ("slope" in c) == (c.get("act") == "relu")


def test_samples_valid_and_inside_space(space):
    configs = space.sample(500, seed=3)
    assert all(space.is_valid(c) for c in configs)
    assert all(c["width"] * c["layers"] <= 1000 for c in configs)
    assert {c["layers"] for c in configs} == {1, 3, 5, 7}


def test_rules_reject_invalid_and_validate_explains(space):
    config = {"x": 0.0, "lr": 0.01, "width": 256, "layers": 7, "opt": "adam"}
    assert not space.is_valid(config)
    with pytest.raises(mh.ConfigError, match="width \\* layers <= 1000"):
        space.validate(config)
    with pytest.raises(mh.ConfigError, match="inactive"):
        space.validate({**config, "layers": 1, "momentum": 0.5})
    with pytest.raises(mh.ConfigError, match="outside its domain"):
        space.validate({**config, "layers": 2})


def test_log_sampling_is_uniform_in_log_space():
    space = mh.Space({"lr": mh.Float(1e-4, 1.0, log=True)})
    lr = np.array([c["lr"] for c in space.sample(4000, seed=0)])
    share_below = np.mean(lr < 1e-2)  # half the log range
    assert 0.46 < share_below < 0.54


def test_int_values_equally_likely():
    space = mh.Space({"k": mh.Int(1, 4)})
    values = np.array([c["k"] for c in space.sample(8000, seed=0)])
    counts = np.bincount(values)[1:]
    assert counts.min() > 1800 and counts.max() < 2200


def test_encoding_shape_and_one_hot(space):
    assert space.n_encoded == 1 + 1 + 1 + 1 + 2 + 1 + 2
    X = space.encode({"x": 0.0, "lr": 0.01, "width": 8, "layers": 1, "opt": "adam"})
    sl = space.columns("opt")
    assert X[0, sl].tolist() == [0.0, 1.0]
    assert X[0, space.columns("momentum")].tolist() == [0.5]  # inactive numeric imputed at the centre
    assert X[0, space.columns("nesterov")].tolist() == [0.0, 0.0]  # inactive one-hot all zeros
    assert ((X >= 0) & (X <= 1)).all()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7))
def test_round_trip_exact_from_compact_points(u):
    space = mixed_space()
    config = space.from_unit(np.array([u]))[0]
    assert space.decode(space.encode(config)) == [config]


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(1e-6, 1e6), st.floats(0.0, 1.0))
def test_linear_float_round_trip(low, width, frac):
    p = mh.Float(low, low + width)
    produced = p.from_unit(np.array([frac]))[0]
    assert p.decode_block(p.encode_values([produced])) == [produced]  # exact for produced values
    value = min(max(low + frac * width, p.low), p.high)  # any value: within a few floats
    back = p.decode_block(p.encode_values([value]))[0]
    assert abs(back - value) <= 4 * np.spacing(max(abs(p.low), abs(p.high)))


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-8, 1e3), st.floats(1.5, 1e6), st.floats(0.0, 1.0))
def test_log_float_round_trip_exact_for_produced_values(low, ratio, u):
    p = mh.Float(low, low * ratio, log=True)
    value = p.from_unit(np.array([u]))[0]
    assert p.low <= value <= p.high
    assert p.decode_block(p.encode_values([value])) == [value]


def test_decode_of_arbitrary_cube_points_is_inside_space(space):
    rng = np.random.default_rng(0)
    for c in space.decode(rng.random((200, space.n_encoded))):
        assert not [p for p in space.problems(c) if "rule" not in p]


def test_decode_clips_out_of_range_points():
    space = mh.Space({"a": mh.Float(0, 1), "k": mh.Int(0, 10)})
    assert space.decode(np.array([[-0.5, 1.5]])) == [{"a": 0.0, "k": 10}]


def test_to_dict_round_trip_keeps_rule_names(space):
    again = mh.Space.from_dict(space.to_dict())
    assert again == space
    assert not again.rules_available
    with pytest.raises(mh.ConfigError, match="stored by name only"):
        again.rules[0]({})


def test_sample_gives_up_on_rare_rules_or_returns_what_it_found():
    space = mh.Space({"a": mh.Float(0, 1)}, rules=[lambda c: c["a"] < 0.001])
    with pytest.raises(mh.ConfigError, match=r"let \d+ of the \d+ candidates drawn pass; expected 50"):
        space.sample(50, seed=0, max_tries=10)  # said "in a row" of a count that held valid ones
    found = space.sample(50, seed=1, max_tries=100, at_least=1)  # a search that can choose among fewer
    assert 1 <= len(found) < 50 and all(c["a"] < 0.001 for c in found)


@pytest.mark.parametrize("optimizer", ["ehvi", "sobol", "nsga2"])
def test_every_optimizer_proposes_under_a_rule_one_configuration_in_a_thousand_passes(optimizer):
    # a rule the Space accepted crashed the Bayesian optimizers' first model step (and Sobol, nsga2 at times)
    space = mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)}, rules=[mh.Rule("rare", lambda c: c["x"] + c["y"] > 1.955)])
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer=optimizer, seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": c["y"]}, n_trials=9, show_progress=False)
    assert study.count("complete") == 9 and all(t.config["x"] + t.config["y"] > 1.955 for t in study.trials)


def test_to_unit_inverts_from_unit(space):
    configs = space.sample(100, seed=9)
    assert space.from_unit(space.to_unit(configs)) == configs


def test_space_decoding_equals_each_parameter_decoding():
    # linear floats are decoded together in one vectorized pass; it must give each parameter's own answer
    space = mh.Space(
        {
            "a": mh.Float(0.0, 1.0),
            "b": mh.Float(-3.3, 1e-3),
            "c": mh.Float(1e-5, 1.0, log=True),
            "d": mh.Int(1, 9),
            "e": mh.Float(0.1, 0.7),
            "f": mh.Categorical(["x", "y"]),
        }
    )
    rng = np.random.default_rng(0)
    U = rng.random((5000, 6))
    U[:300] = rng.choice([0.0, 1.0, -0.5, 1.5, 1e-17, 1 - 1e-16, 0.5], size=(300, 6))
    decoded = space.from_unit(U)
    for j, (name, param) in enumerate(space.params.items()):
        expected = param.from_unit(U[:, j])
        got = [c[name] for c in decoded]
        assert got == expected, name
        assert [type(v) for v in got] == [type(v) for v in expected], name
    assert space.from_unit(space.to_unit(decoded)) == decoded


def test_int_bounds_a_float_cannot_hold_are_refused():
    with pytest.raises(mh.ConfigError, match=r"within \+-2\*\*53"):
        mh.Int(0, 10**20)
    with pytest.raises(mh.ConfigError, match=r"within \+-2\*\*53"):
        mh.Int(-(2**60), 0)
    p = mh.Int(0, 2**53)
    space = mh.Space({"n": p})
    for optimizer in ("random", "sobol", "nsga2"):
        study = mh.Study(space, [mh.Minimize("y")], optimizer=optimizer, seed=0)
        study.optimize(lambda c: {"y": float(c["n"])}, n_trials=20, show_progress=False)
        assert study.count("complete") == 20 and all(p.contains(t.config["n"]) for t in study.trials)


def test_conditions_that_contradict_are_warned_about():
    with pytest.warns(UserWarning, match=r"\['warm'\] can never be active"):
        mh.Space({
            "opt": mh.Categorical(["sgd", "adam"]),
            "sched": mh.Categorical(["cos", "step"], active_if={"opt": "adam"}),
            "warm": mh.Float(0, 1, active_if={"opt": "sgd", "sched": "cos"}),  # sched exists only with adam
        })
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mh.Space({
            "opt": mh.Categorical(["sgd", "adam"]),
            "sched": mh.Categorical(["cos", "step"], active_if={"opt": "adam"}),
            "warm": mh.Float(0, 1, active_if={"opt": "adam", "sched": "cos"}),
        })


def test_the_ends_of_a_log_float_are_its_bounds_exactly():
    p = mh.Float(1e-3, 3e-2, log=True)
    assert p.from_unit(np.array([0.0, 1.0])) == [1e-3, 3e-2]
    space = mh.Space({"lr": p, "m": mh.Float(0.1, 0.7)})
    configs = [{"lr": 0.03, "m": 0.7}, {"lr": 0.001, "m": 0.1}]
    assert space.decode(space.encode(configs)) == configs
    assert space.decode(space.encode(space.decode(space.encode(configs)))) == configs


def test_misread_arguments_are_refused():
    with pytest.warns(UserWarning, match="condition on 'p', a Float") as caught:
        mh.Space({"p": mh.Float(0, 1), "x": mh.Float(0, 1, active_if={"p": 0.5})})
    assert caught[0].filename == __file__
    with pytest.raises(mh.ConfigError, match=r"Float\(log=...\) expects True or False; received 'yes'"):
        mh.Float(1, 2, log="yes")
    with pytest.raises(mh.ConfigError, match=r"Int\(log=...\) expects True or False"):
        mh.Int(1, 20, log=1)
    with pytest.raises(mh.ConfigError, match=r"the name comes first: Rule\(name, predicate\)"):
        mh.Rule(lambda c: True, "always")
    with pytest.raises(mh.ConfigError, match="predicate must be callable"):
        mh.Rule("always", True)


def test_a_penalty_belongs_to_a_soft_constraint():
    with pytest.raises(mh.ConfigError, match="applies to soft constraints only; pass soft=True"):
        mh.AtMost("size_kb", 100, penalty=3)
    with pytest.raises(mh.ConfigError, match="soft of constraint on 'size_kb' must be True or False"):
        mh.AtMost("size_kb", 100, soft="yes")
    assert mh.AtMost("size_kb", 100, soft=True, penalty=3).penalty == 3.0


def test_a_nan_coordinate_is_refused_not_decoded_to_a_value():
    space = mh.Space({"w": mh.Int(1, 8), "x": mh.Float(0.0, 1.0)})
    with pytest.raises(mh.ConfigError, match=r"received NaN in row 1"):
        space.decode(np.array([[0.5] * space.n_encoded, [np.nan] * space.n_encoded]))
    with pytest.raises(mh.ConfigError, match=r"received NaN in row 0"):
        space.from_unit(np.array([[np.nan, 0.5]]))


def test_a_float_range_wider_than_a_float_is_refused():
    with pytest.raises(mh.ConfigError, match="width is a finite float"):
        mh.Float(-1e308, 1e308)
    assert mh.Float(-1e300, 1e300).high == 1e300


def test_a_set_of_choices_is_refused_for_its_changing_order():
    with pytest.raises(mh.ConfigError, match=r"received a set .* give sorted\(...\) or a list"):
        mh.Categorical({"relu", "tanh"})
    assert list(mh.Categorical({"relu"}).choices) == ["relu"]  # one choice has one order
    assert len(mh.Categorical({1, 2, 4}).choices) == 3  # numbers hash alike in every run: their order stays


def test_sample_refuses_a_negative_count_and_to_unit_takes_one_config():
    space = mh.Space({"x": mh.Float(0.0, 1.0), "c": mh.Categorical(["a", "b"])})
    with pytest.raises(mh.ConfigError, match="n, a number of configurations >= 0; received -1"):
        space.sample(-1)
    assert space.sample(np.int64(2), seed=0) == space.sample(2, seed=0)
    assert space.to_unit({"x": 0.25, "c": "b"}).tolist() == space.to_unit([{"x": 0.25, "c": "b"}]).tolist()


def test_a_space_of_no_mapping_is_refused_and_one_rule_alone_is_a_list_of_one():
    with pytest.raises(mh.ConfigError, match=r"expects a mapping of parameter name to Float, Int or Categorical \(or \(name, param\) pairs\); received None"):
        mh.Space(None)
    space = mh.Space({"a": mh.Int(1, 4), "b": mh.Int(1, 4)}, rules=lambda c: c["a"] <= c["b"])
    assert len(space.rules) == 1 and all(c["a"] <= c["b"] for c in space.sample(20, seed=0))


def test_a_space_takes_pairs_from_any_iterable():
    params = {"x": mh.Float(0.0, 1.0), "k": mh.Int(1, 3)}
    for pairs in (params.items(), zip(params, params.values()), ((n, p) for n, p in params.items())):
        assert mh.Space(pairs).names == ["x", "k"]
