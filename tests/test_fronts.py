from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import moo_hpo as mh
from moo_hpo import fronts


# ---------------------------------------------------------------- brute-force references
def dominates(a, b):
    return bool(np.all(a <= b) and np.any(a < b))


def bf_mask(Y):
    return np.array([not any(dominates(Y[j], Y[i]) for j in range(len(Y)) if j != i) for i in range(len(Y))], dtype=bool)


def bf_ranks(Y):
    ranks = np.full(len(Y), -1)
    left = set(range(len(Y)))
    r = 0
    while left:
        layer = {i for i in left if not any(dominates(Y[j], Y[i]) for j in left if j != i)}
        for i in layer:
            ranks[i] = r
        left -= layer
        r += 1
    return ranks


def bf_constrained_dominates(a, va, b, vb):
    if va <= 0 and vb > 0:
        return True
    if va > 0 and vb > 0:
        return va < vb
    if va <= 0 and vb <= 0:
        return dominates(a, b)
    return False


def bf_constrained_ranks(Y, v):
    ranks = np.full(len(Y), -1)
    left = set(range(len(Y)))
    r = 0
    while left:
        layer = {i for i in left if not any(bf_constrained_dominates(Y[j], v[j], Y[i], v[i]) for j in left if j != i)}
        for i in layer:
            ranks[i] = r
        left -= layer
        r += 1
    return ranks


def bf_hypervolume(Y, ref):
    """Exact HV by inclusion-exclusion over the grid cells spanned by the coordinates."""
    Y = Y[np.all(Y < ref, axis=1)]
    if len(Y) == 0:
        return 0.0
    m = Y.shape[1]
    grids = [np.unique(np.concatenate([Y[:, j], [ref[j]]])) for j in range(m)]
    total = 0.0
    for cell in itertools.product(*[range(len(g) - 1) for g in grids]):
        lo = np.array([grids[j][cell[j]] for j in range(m)])
        hi = np.array([grids[j][cell[j] + 1] for j in range(m)])
        if np.any(np.all(Y <= lo, axis=1)):
            total += float(np.prod(hi - lo))
    return total


# small integer grids make ties and duplicates common
points = st.integers(2, 5).flatmap(
    lambda m: arrays(np.float64, st.tuples(st.integers(0, 12), st.just(m)), elements=st.integers(0, 6).map(float))
)


@settings(max_examples=150, deadline=None)
@given(points)
def test_mask_and_ranks_match_brute_force(Y):
    np.testing.assert_array_equal(fronts.pareto_mask(Y), bf_mask(Y))
    np.testing.assert_array_equal(fronts.non_dominated_ranks(Y), bf_ranks(Y))


@settings(max_examples=150, deadline=None)
@given(points, st.data())
def test_constrained_ranks_match_brute_force(Y, data):
    v = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0]), min_size=len(Y), max_size=len(Y))))
    np.testing.assert_array_equal(fronts.constrained_ranks(Y, v), bf_constrained_ranks(Y, v))


@settings(max_examples=120, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda m: arrays(np.float64, st.tuples(st.integers(1, 7 if m < 5 else 5), st.just(m)), elements=st.floats(0, 10, allow_nan=False))
    )
)
def test_hypervolume_matches_brute_force(Y):
    ref = np.full(Y.shape[1], 11.0)
    expected = bf_hypervolume(Y, ref)
    got = fronts.hypervolume(Y, ref)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
# coordinates on a 1e-3 grid (ties included)
@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.just(3)), elements=st.integers(0, 10_000).map(lambda k: k / 1000)))
def test_contributions_are_exclusive_volumes(Y):
    ref = np.full(3, 11.0)
    total = bf_hypervolume(Y, ref)
    contrib = fronts.hypervolume_contributions(Y, ref)
    for i in range(len(Y)):
        without = bf_hypervolume(np.delete(Y, i, axis=0), ref)
        assert contrib[i] == pytest.approx(total - without, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("scale", [1.0, 1e-4, 1e-7])
def test_a_small_contribution_in_raw_units_is_not_rounded_to_zero(scale):
    # the second point beats the first in the first objective only; the last objective in small units (seconds)
    Y = np.array([[0.5, 0.5, 0.5, 0.5 * scale], [0.4, 0.9, 0.9, 0.9 * scale]])
    ref = np.array([1.0, 1.0, 1.0, scale])
    contrib = fronts.hypervolume_contributions(Y, ref)
    exact = [fronts.hypervolume(Y, ref) - fronts.hypervolume(np.delete(Y, i, axis=0), ref) for i in range(2)]
    np.testing.assert_allclose(contrib, exact, rtol=1e-6)
    assert contrib[1] > 0


def test_a_contribution_below_a_billionth_of_the_box_is_computed_exactly():
    Y = np.array([[0.5, 0.5, 0.5, 0.5], [0.5 - 1e-7, 0.9, 0.9, 0.9], [0.6, 0.6, 0.6, 0.6], [0.5, 0.5, 0.5, 0.5]])
    contrib = fronts.hypervolume_contributions(Y, np.ones(4))
    assert contrib[1] == pytest.approx(1e-7 * 0.1**3, rel=1e-3)  # moocore gives 0 on the unit box
    assert contrib[2] == 0.0 and contrib[0] == contrib[3] == 0.0  # dominated; duplicates


def test_duplicates_share_rank_and_stay_on_front():
    Y = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    assert fronts.pareto_mask(Y).tolist() == [True, True, True, False]
    assert fronts.non_dominated_ranks(Y).tolist() == [0, 0, 0, 1]
    assert fronts.hypervolume_contributions(Y, [4, 4]).tolist()[:2] == [0.0, 0.0]


def test_reference_point_rule():
    Y = np.array([[0.0, 10.0], [2.0, 5.0]])
    np.testing.assert_allclose(fronts.derive_reference_point(Y), [2.2, 10.5])
    np.testing.assert_allclose(fronts.derive_reference_point(Y, [3.0, None]), [3.0, 10.5])
    np.testing.assert_allclose(fronts.derive_reference_point(np.array([[2.0, 0.0]])), [2.2, 0.1])
    with pytest.raises(mh.ConfigError, match="without observed points"):
        fronts.derive_reference_point(np.empty((0, 2)), [1.0, None])


def test_normalized_hypervolume_in_unit_interval():
    Y = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert fronts.hypervolume(Y, [2.0, 2.0], normalized=True) == pytest.approx(0.75)


def test_reference_dominated_by_no_point_warns():
    with pytest.warns(RuntimeWarning, match="no point strictly dominates"):
        assert fronts.hypervolume(np.array([[1.0, 1.0]]), [0.5, 2.0]) == 0.0


def test_nan_and_shape_errors():
    with pytest.raises(mh.ConfigError, match="NaN"):
        fronts.pareto_mask(np.array([[1.0, np.nan]]))
    with pytest.raises(mh.ConfigError, match=r"\(n, m\)"):
        fronts.pareto_mask(np.array([1.0, 2.0]))
    with pytest.raises(mh.ConfigError, match="3 values"):
        fronts.hypervolume(np.ones((2, 3)), [1.0, 2.0])


def test_history_matches_prefix_hypervolumes():
    rng = np.random.default_rng(0)
    Y = rng.random((40, 3))
    include = rng.random(40) < 0.7
    ref = np.full(3, 1.1)
    hist = fronts.hypervolume_history(Y, ref, include)
    for i in range(40):
        prefix = Y[: i + 1][include[: i + 1]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert hist[i] == pytest.approx(fronts.hypervolume(prefix, ref) if len(prefix) else 0.0, rel=1e-12)
    assert np.all(np.diff(hist) >= 0)


def test_relative_hypervolume():
    assert fronts.relative_hypervolume(0.5, 2.0) == 25.0
    with pytest.raises(mh.ConfigError):
        fronts.relative_hypervolume(0.5, 0.0)


def test_indicators():
    ref_front = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    assert fronts.igd(ref_front, ref_front) == 0.0
    assert fronts.igd_plus(ref_front, ref_front) == 0.0
    assert fronts.additive_epsilon(ref_front + 0.25, ref_front) == pytest.approx(0.25)
    assert fronts.igd_plus(ref_front + 0.1, ref_front) == pytest.approx(np.sqrt(0.02))


def test_attainment_surfaces():
    runs = [np.array([[1.0, 3.0], [3.0, 1.0]]), np.array([[2.0, 2.0]]), np.array([[1.5, 2.5], [2.5, 1.5]])]
    surf = fronts.attainment_surfaces(runs, percentiles=[50, 100])
    best_median = surf[50.0]
    # every median-surface point is attained by at least 2 of the 3 runs
    for p in best_median:
        attained = sum(np.any(np.all(r <= p, axis=1)) for r in runs)
        assert attained >= 2
    assert len(surf[100.0]) >= 1


def test_misshapen_input_is_a_config_error():
    from moo_hpo import fronts

    with pytest.raises(mh.ConfigError, match="without observed points"):
        fronts.derive_reference_point(np.zeros((0, 2)))
    with pytest.raises(mh.ConfigError, match=r"include must hold one boolean per point \(3\)"):
        fronts.hypervolume_history(np.ones((3, 2)), [2, 2], include=[True])
    for indicator in (fronts.igd, fronts.igd_plus, fronts.additive_epsilon):
        with pytest.raises(mh.ConfigError, match="the points have 2 objectives and the reference front 3"):
            indicator(np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(mh.ConfigError, match=r"runs of \[2, 3\] objectives"):
        fronts.attainment_surfaces([np.ones((2, 2)), np.ones((2, 3))])
    with pytest.raises(mh.ConfigError, match=r"percentiles must be numbers in \(0, 100\]"):
        fronts.attainment_surfaces([np.ones((2, 2))], percentiles=[150])


@pytest.mark.parametrize("m", [3, 4, 6])
def test_the_history_of_many_objectives_adds_each_point_s_gain_and_agrees_with_the_exact_volume(m):
    import moocore

    rng = np.random.default_rng(m)
    X = rng.random((80, m))
    Y = X + (1 - X).sum(axis=1, keepdims=True) / m  # a front-like cloud; some points past the reference
    Y[::7] = Y[3]  # repeats: weakly dominated, nothing changes
    ref = np.quantile(Y, 0.9, axis=0)
    history = fronts.hypervolume_history(Y, ref)
    for i in (0, 9, 40, 79):
        inside = Y[: i + 1][np.all(Y[: i + 1] < ref, axis=1)]
        exact = float(moocore.hypervolume(inside, ref=ref)) if len(inside) else 0.0
        assert history[i] == pytest.approx(exact, rel=1e-12, abs=1e-15)
    assert np.all(np.diff(history) >= -1e-15) and history[-1] > 0
