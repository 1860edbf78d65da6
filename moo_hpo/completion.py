"""Complete a partial configuration: the values a user gave, the parameters they left out drawn from the space.

:meth:`moo_hpo.Study.enqueue` takes a configuration that names only some parameters (``{"lr": 3e-4}``, as Optuna's
``enqueue_trial`` does) and queues it completed: each parameter left out is drawn uniformly on its own scale, a
conditional one only where the values around it make it active (a parent left out takes one of the values that
make a given child active), and the result passes the space's validity rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.params import same_value
from moo_hpo.rules import Config
from moo_hpo.space import Space

__all__ = ["complete", "holds", "is_partial"]


def is_partial(space: Space, config: Mapping[str, Any]) -> bool:
    """Whether ``config`` leaves out a parameter it needs.

    Args:
        space: the study's space.
        config: parameter name -> value.

    Returns:
        True when some parameter without a value is active given its values (a top-level parameter always is; a
        conditional one whose parent is left out makes the parent missing).
    """
    return any(name not in config and space.is_active(name, config) for name in space.names)


def holds(config: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """Whether ``config`` has every value of ``given``.

    Args:
        config: a configuration (complete, most often).
        given: parameter name -> value for some parameters.

    Returns:
        True when each of ``given``'s parameters has its value in ``config`` (1 and 1.0 told apart).
    """
    return all(name in config and same_value(config[name], value) for name, value in given.items())


def complete(space: Space, given: Mapping[str, Any], rng: np.random.Generator, max_tries: int = 200) -> Config:
    """``given`` with the parameters it leaves out drawn from ``space``.

    Args:
        space: the study's space.
        given: parameter name -> value for some of its parameters, each inside its domain.
        rng: the generator the draws come from (seeded by the caller, so that a study replays them).
        max_tries: complete configurations drawn before giving up.

    Returns:
        A configuration of the space holding every value of ``given``.

    Raises:
        ConfigError: for a name the space does not have or a value outside its parameter's domain, or when no draw
            makes every given value active and passes the validity rules (a given parameter whose parent's values
            are given too and leave it inactive, most often).
    """
    unknown = [name for name in given if name not in space.params]
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; expected only {space.names}")
    outside = [f"{name}={value!r} is outside its domain {space.params[name]!r}" for name, value in given.items()
               if not space.params[name].contains(value)]
    if outside:
        raise ConfigError("; ".join(outside))
    inactive = [f"parameter {name!r} is inactive here but has a value ({value!r})" for name, value in given.items()
                if all(parent in given for parent in space.params[name].active_if) and not space.is_active(name, given)]
    if inactive:  # its parents' values are given and leave it out: no draw can change that
        raise ConfigError("; ".join(inactive))
    for _ in range(max_tries):
        fixed = {**_parents_for(space, given, rng), **given}  # parents left out: values that make a given child active
        drawn = space.from_unit(rng.random((1, space.dim)))[0]
        values: dict[str, Any] = {}
        for name in space.order:
            if space.is_active(name, values):
                values[name] = (fixed[name] if name in fixed else drawn[name] if name in drawn
                                else _draw_one(space, name, rng))
        config = {n: values[n] for n in space.params if n in values}
        if holds(config, given) and not space.problems(config):
            return config
    raise ConfigError(
        f"no configuration of the space holds {dict(given)!r:.300} with every value active and every validity rule "
        f"passed ({max_tries} drawn): give the values of the parameters that make these active, or other values")


def _parents_for(space: Space, given: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Values for the parents ``given`` leaves out of its conditional parameters, each drawn among those that make
    its child active (and so on up: a parent's own parents), so that a rare parent value need not be drawn by
    chance."""
    fixed: dict[str, Any] = {}
    waiting = list(given)
    while waiting:
        name = waiting.pop()
        for parent, values in space.params[name].active_if.items():
            if parent not in given and parent not in fixed:
                fixed[parent] = list(values)[int(rng.integers(len(values)))]
                waiting.append(parent)
    return fixed


def _draw_one(space: Space, name: str, rng: np.random.Generator) -> Any:
    """One value of parameter ``name``, drawn on its own scale (a conditional parameter the draw left inactive and
    the given values make active)."""
    return space.params[name].from_unit(rng.random(1))[0]
