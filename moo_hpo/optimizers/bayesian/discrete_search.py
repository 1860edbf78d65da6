"""A local search over the discrete parameters of a proposal: every other choice of each categorical, one step
of each integer, by the acquisition.

Why: the acquisition is optimized by L-BFGS over the encoded unit cube, where a categorical is a one-hot
block relaxed to ``[0, 1]`` and an integer a continuous column; the optimum is then decoded (the block's
largest entry, the nearest integer). The decoded configuration need not be the best one near the relaxed
optimum: a block that L-BFGS leaves between two choices decodes to one of them whatever the acquisition says
of the other, and starts near the measured front stay with the front's choices. On a mixed problem whose
front needs one categorical value, EHVI kept proposing a worse one for the last 30 of 50 trials (see
``docs/lab/2026-12-05-defaults-suite.md``). Scoring each decoded neighbour by the acquisition itself and
moving while one is better fixes the choice in a handful of evaluations, the way Optuna's GP sampler
alternates gradient steps with a discrete search.

Why our own code: BoTorch's ``optimize_acqf_mixed_alternating`` expects categoricals as one ordinal column
each, while moo_hpo's models see one-hot blocks (and conditional parameters, and validity rules); the
neighbourhood here is built from configurations, so decoding, conditions and rules stay the space's own.
"""

from __future__ import annotations

import zlib
from typing import Any

from moo_hpo.optimizers.base import config_key as _key
from moo_hpo.params import Categorical, Int, same_value
from moo_hpo.space import Space

__all__ = ["DISCRETE_SEARCH_ROUNDS", "best_decoded", "discrete_neighbours", "has_discrete", "improve_discrete", "ranked_decoded"]

#: moves of the local search at most (each scores the current configuration's whole neighbourhood)
DISCRETE_SEARCH_ROUNDS = 4


def has_discrete(space: Space) -> bool:
    """Whether ``space`` has a categorical with two or more choices or an integer with two or more values."""
    return any(
        (isinstance(p, Categorical) and len(p.choices) > 1) or (isinstance(p, Int) and p.high > p.low)
        for p in space.params.values()
    )


def best_decoded(acq: Any, space: Space, candidates: Any, values: Any) -> dict[str, Any]:
    """The configuration, among the decoded optima of an acquisition's restarts, that the acquisition scores best.

    In a space with categoricals or integers the relaxed optimum (a one-hot block between two choices, an integer
    between two values) can score far above what its decoded configuration scores, while another restart's
    optimum decodes to a better one (on the defaults suite's mixed problem, EHVI's decoded proposals scored
    orders of magnitude below the front's unexplored ends); judging the restarts after decoding picks that one.

    Args:
        acq: the acquisition (a callable on ``(b, 1, d)`` encoded tensors).
        space: the study's space.
        candidates: ``(r, d)`` relaxed optima, one per restart.
        values: ``(r,)`` their acquisition values where they lie (used as they are in a space of floats only,
            where decoding does not move a point).

    Returns:
        The decoded configuration.
    """
    return ranked_decoded(acq, space, candidates, values)[0]


def ranked_decoded(acq: Any, space: Space, candidates: Any, values: Any) -> list[dict[str, Any]]:
    """The decoded optima of an acquisition's restarts, best first by the acquisition (see :func:`best_decoded`)."""
    import torch

    if not has_discrete(space):  # decoding moves no point: the restarts' own values rank them
        return space.decode(candidates[torch.argsort(values, descending=True)].numpy())
    configs = space.decode(candidates.numpy())
    decoded = torch.as_tensor(space.encode(configs), dtype=torch.double)
    with torch.no_grad():
        scores = acq(decoded.unsqueeze(1)).reshape(-1)
    return [configs[int(i)] for i in torch.argsort(scores, descending=True)]


def discrete_neighbours(space: Space, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The configurations one discrete move from ``config``: another choice of one active categorical, or one
    step up or down of one active integer, decoded by the space (a parameter that becomes active takes the
    value its encoding imputes, or, where that value breaks a validity rule, the first of
    :data:`ACTIVATED_VALUES` seeded draws that passes) and passing its validity rules.

    Args:
        space: the search space.
        config: a configuration of it.

    Returns:
        Distinct configurations, none equal to ``config``.
    """
    moved: list[dict[str, Any]] = []
    for name, p in space.params.items():
        if name not in config:
            continue
        if isinstance(p, Categorical):
            moved += [{**config, name: c} for c in p.choices if not same_value(c, config[name])]
        elif isinstance(p, Int):
            moved += [{**config, name: v} for v in (config[name] - p.step, config[name] + p.step) if p.low <= v <= p.high]
    if not moved:
        return []
    out, keys = [], {_key(config)}
    for c in space.decode(space.encode(moved)):
        if _key(c) in keys:
            continue
        if not space.passes_rules(c):  # a parameter the move switched on may break a rule at its imputed value only
            switched_on = [name for name in c if name not in config]
            design = _rng_of(c).random((ACTIVATED_VALUES, len(switched_on)))
            c = next((o for o in _with_values_of(space, c, switched_on, design) if space.passes_rules(o)),
                     None) if switched_on else None
            if c is None or _key(c) in keys:
                continue
        keys.add(_key(c))
        out.append(c)
    return out


def improve_discrete(acq: Any, space: Space, config: dict[str, Any], rounds: int = DISCRETE_SEARCH_ROUNDS) -> dict[str, Any]:
    """``config`` after a best-improvement local search over :func:`discrete_neighbours` by ``acq``; a parameter a
    move switched on (a momentum the move to ``sgd`` activates) then takes the best by ``acq`` of
    :data:`ACTIVATED_VALUES` values of its range, rather than the midpoint its encoding imputes, which nothing
    optimized (ParEGO and EHVI proposed ``momentum = 0.745``, the middle of [0.5, 0.99], over and over).

    Args:
        acq: a BoTorch acquisition function (``b x q x d`` to ``b``), maximized.
        space: the search space.
        config: the decoded optimum of the acquisition.
        rounds: moves at most.

    Returns:
        The best configuration found (``config`` itself when no neighbour scores higher).
    """
    import torch

    def score(configs: list[dict[str, Any]]) -> Any:
        X = torch.as_tensor(space.encode(configs), dtype=torch.double).unsqueeze(1)
        with torch.no_grad():
            return torch.nan_to_num(torch.cat([acq(chunk).reshape(-1) for chunk in X.split(64)]), nan=-torch.inf)

    best, best_value = config, float(score([config])[0])
    for _ in range(rounds):
        neighbours = discrete_neighbours(space, best)
        if not neighbours:
            break
        values = score(neighbours)
        i = int(torch.argmax(values))
        if not float(values[i]) > best_value:
            break
        best, best_value = neighbours[i], float(values[i])
    activated = [name for name in best if name not in config]
    if not activated:
        return best
    # switched on by a move at the value its encoding imputes (a midpoint): chosen by the acquisition, over their
    # whole ranges, then around the best of those
    import numpy as np

    rng = _rng_of(best)
    columns = [space.names.index(name) for name in activated]
    for stage in ("range", "around"):
        if stage == "range":
            U = rng.random((ACTIVATED_VALUES, len(activated)))
        else:
            centre = space.to_unit([best])[0][columns]
            spread = ACTIVATED_REFINE_SPREAD
            U = np.clip(centre + rng.uniform(-spread, spread, (ACTIVATED_VALUES // 4, len(activated))), 0.0, 1.0)
        others = [c for c in _with_values_of(space, best, activated, U) if space.passes_rules(c)]
        if not others:
            break
        values = score(others)
        i = int(torch.argmax(values))
        if float(values[i]) > best_value:
            best, best_value = others[i], float(values[i])
    return best


#: values scored for the parameters a discrete move switched on: a random design over their ranges, then a quarter
#: as many within :data:`ACTIVATED_REFINE_SPREAD` of the best (in the unit range)
ACTIVATED_VALUES = 64
ACTIVATED_REFINE_SPREAD = 0.05


def _rng_of(config: dict[str, Any]) -> Any:
    """A generator seeded by ``config`` (so that a study replays its draws, whatever else ran before)."""
    import numpy as np

    return np.random.default_rng(zlib.crc32(repr(sorted(config.items(), key=str)).encode()))


def _with_values_of(space: Space, config: dict[str, Any], names: list[str], U: Any) -> list[dict[str, Any]]:
    """``config`` with other values of ``names``, one configuration per row of ``U`` (unit values, one column per
    name), those in which each of them is still active."""
    import numpy as np

    out = []
    for row in U:
        moved = dict(config)
        for name, u in zip(names, row, strict=True):
            moved[name] = space.params[name].from_unit(np.array([u]))[0]
        if not space.problems(moved):
            out.append(moved)
    return out
