"""The acquisition's best proposal that keeps to the space's validity rules and repeats nothing.

BoTorch optimizes an acquisition over the unit cube; moo_hpo's validity rules (:class:`~moo_hpo.space.Rule`) are
predicates over decoded configurations, which the gradient-based search cannot see. Where a rule binds where the
objectives are best, every restart climbs out of the valid region (on a budget rule ``w + d <= 1.2`` with both
objectives best beyond it, all 12 of ``ehvi``'s model steps). A best-of-random replacement then throws away where
the optimum was. Here the choice is made among: the best restart's optimum that is valid and new; the best of random
valid configurations (the replacement as before); and the point where the segment from the better of those two to
the invalid optimum leaves the valid region, found by bisection on the rules (the rule's boundary, where such an
optimum usually lies). The acquisition decides among them. Written here because BoTorch's constrained acquisition
search takes only linear or differentiable constraints, and a rule is neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from moo_hpo.space import Space

__all__ = ["BISECTION_STEPS", "rule_boundary", "valid_optimum"]

#: halvings of the segment between a valid and an invalid point: 2**-12 of its length
BISECTION_STEPS = 12


def rule_boundary(space: Space, valid: dict[str, Any], invalid: dict[str, Any], steps: int = BISECTION_STEPS) -> dict[str, Any] | None:
    """The last configuration that passes the rules on the segment (in the unit-cube encoding) from ``valid`` to
    ``invalid``, to within ``2**-steps`` of its length; None when only ``valid`` itself passes."""
    start, end = space.encode([valid])[0], space.encode([invalid])[0]
    low, high, found = 0.0, 1.0, None
    for _ in range(steps):
        middle = (low + high) / 2
        config = space.decode((start + middle * (end - start))[None, :])[0]
        if space.passes_rules(config):
            low, found = middle, config
        else:
            high = middle
    return found


def valid_optimum(acq: Any, space: Space, ranked: list[dict[str, Any]], new: Callable[[dict[str, Any]], bool],
                  best_random: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], str | None, str | None]:
    """The proposal among the restarts' decoded optima ``ranked`` (best first), valid and new.

    Args:
        acq: the acquisition (a callable on ``(b, 1, d)`` encoded tensors).
        space: the study's space (its rules).
        ranked: the decoded optima of the acquisition's restarts, best first.
        new: whether a configuration was not proposed before.
        best_random: the best of random valid, new configurations by the acquisition (called only when needed).

    Returns:
        The configuration; why the best optimum was replaced (None when it was not); and by what
        (``"another restart's optimum"``, ``"the rule's boundary"``, ``"the best of random candidates"``).
    """
    import torch

    best = ranked[0]
    broke = not space.passes_rules(best)
    if not broke and new(best):
        return best, None, None
    reason = "the optimum broke a validity rule" if broke else "the optimum repeats a configuration already proposed"
    options: list[tuple[dict[str, Any], str]] = [(c, "another restart's optimum") for c in ranked[1:]
                                                 if space.passes_rules(c) and new(c)][:1]
    options.append((best_random(), "the best of random candidates"))
    scores = _scores(acq, space, [c for c, _ in options])
    if broke:  # where the segment from the better valid option toward the optimum leaves the valid region
        edge = rule_boundary(space, options[int(torch.argmax(scores))][0], best)
        if edge is not None and new(edge):
            options.append((edge, "the rule's boundary"))
            scores = torch.cat([scores, _scores(acq, space, [edge])])
    config, how = options[int(torch.argmax(scores))]
    return config, reason, how


def _scores(acq: Any, space: Space, configs: list[dict[str, Any]]) -> Any:
    import torch

    X = torch.as_tensor(np.asarray(space.encode(configs)), dtype=torch.double).unsqueeze(1)
    with torch.no_grad():  # a NaN never wins
        return torch.nan_to_num(acq(X).reshape(-1), nan=-torch.inf)
