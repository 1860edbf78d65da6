from __future__ import annotations

import numpy as np
import pytest
import torch

from moo_hpo.optimizers.bayesian.front_starts import (
    FRONT_START_SIGMAS,
    front_starts,
    perturb_anchors,
)


def test_perturbations_stay_in_the_cube_near_their_anchors_and_follow_the_seed():
    anchors = np.array([[0.1, 0.9, 0.5], [0.5, 0.5, 0.0]])
    points = perturb_anchors(anchors, 400, [0.01], np.random.default_rng(3))
    assert points.shape == (400, 3)
    assert points.min() >= 0.0 and points.max() <= 1.0
    nearest = np.min(np.linalg.norm(points[:, None, :] - anchors[None], axis=-1), axis=1)
    assert nearest.max() < 0.1  # sigma 0.01 in three dimensions: far inside 10 sigma
    assert nearest.mean() > 0.005  # perturbed, not copies
    # both anchors are used
    assert (np.argmin(np.linalg.norm(points[:, None, :] - anchors[None], axis=-1), axis=1) == 1).mean() > 0.3
    again = perturb_anchors(anchors, 400, [0.01], np.random.default_rng(3))
    np.testing.assert_array_equal(points, again)


def test_perturbation_widths_are_drawn_from_the_given_sigmas():
    anchors = np.full((1, 50), 0.5)
    points = perturb_anchors(anchors, 2000, [0.01, 0.1], np.random.default_rng(0))
    spread = np.std(points - 0.5, axis=1)  # one width per point
    assert ((spread < 0.02).mean() > 0.4) and ((spread > 0.07).mean() > 0.4)


@pytest.mark.parametrize(
    ("anchors", "sigmas", "match"),
    [
        (np.empty((0, 2)), [0.1], r"non-empty \(m, d\) array; received shape \(0, 2\)"),
        (np.zeros(3), [0.1], r"received shape \(3,\)"),
        (np.zeros((1, 2)), [0.0], r"sigmas must be a non-empty sequence of positive numbers; received \[0.0\]"),
        (np.zeros((1, 2)), [], r"positive numbers; received \[\]"),
        (np.zeros((1, 2)), 0.1, r"positive numbers; received 0.1"),
    ],
)
def test_bad_anchors_or_sigmas_are_rejected(anchors, sigmas, match):
    with pytest.raises(ValueError, match=match):
        perturb_anchors(anchors, 5, sigmas, np.random.default_rng(0))


class _CloseTo(torch.nn.Module):
    """A toy acquisition: the higher, the closer ``x`` is to ``target`` (``b x 1 x d`` -> ``b``)."""

    def __init__(self, target):
        super().__init__()
        self.target = torch.as_tensor(target, dtype=torch.double)

    def forward(self, X):
        return -((X.squeeze(-2) - self.target) ** 2).sum(-1)


def test_front_starts_are_the_best_of_the_pool_by_the_acquisition():
    anchors = np.array([[0.2, 0.2], [0.8, 0.8]])
    acq = _CloseTo([0.75, 0.85])
    starts = front_starts(acq, anchors, k=4, pool=64, seed=7)
    assert starts.shape == (4, 1, 2) and starts.dtype == torch.double
    pool = torch.as_tensor(perturb_anchors(anchors, 64, FRONT_START_SIGMAS, np.random.default_rng([7, 4242])))
    values = acq(pool.unsqueeze(1))
    chosen = acq(starts)
    assert torch.allclose(chosen.sort(descending=True).values, values.sort(descending=True).values[:4])
    assert (np.linalg.norm(starts.squeeze(1).numpy() - [0.8, 0.8], axis=1) < 0.4).all()  # near the better anchor
    assert torch.equal(starts, front_starts(acq, anchors, k=4, pool=64, seed=7))
    assert not torch.equal(starts, front_starts(acq, anchors, k=4, pool=64, seed=8))


def test_front_starts_never_choose_a_point_whose_acquisition_is_nan_over_a_finite_one():
    class NanLeft(_CloseTo):
        def forward(self, X):
            v = super().forward(X)
            return torch.where(X[..., 0, 0] < 0.5, torch.full_like(v, float("nan")), v)

    starts = front_starts(NanLeft([0.5, 0.5]), np.array([[0.45, 0.5], [0.55, 0.5]]), k=3, pool=64, seed=0)
    assert (starts[..., 0] >= 0.5).all()


def test_a_negative_count_is_rejected():
    with pytest.raises(ValueError, match=r"n must be at least 0; received -1"):
        perturb_anchors(np.zeros((1, 2)), -1, [0.1], np.random.default_rng(0))


def test_front_starts_check_k_and_pool():
    with pytest.raises(ValueError, match=r"need 1 <= k <= pool; received k=5, pool=4"):
        front_starts(_CloseTo([0.5]), np.zeros((1, 1)), k=5, pool=4, seed=0)
    with pytest.raises(ValueError, match=r"received k=0"):
        front_starts(_CloseTo([0.5]), np.zeros((1, 1)), k=0, pool=4, seed=0)
