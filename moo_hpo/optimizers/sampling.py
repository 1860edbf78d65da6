"""Model-free samplers: uniform random and scrambled Sobol.

Both draw a deterministic stream of valid configurations from the study's seed (configurations
that break a validity rule, or that the stream already proposed, are dropped from it). Trial ``k`` of a study is always the
``k``-th configuration of the stream, whether the configurations were asked one at a time or in
batches, and whether the study ran straight through or was resumed from its store. Told trials that ran other
configurations (queued ones, or a study begun with another optimizer or another version of the stream) change that:
the stream's configurations they passed over are proposed first, and theirs are not proposed again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from moo_hpo.exceptions import ConfigError
from moo_hpo.optimizers.base import Capabilities, Optimizer, Proposal, config_key, reject_unknown_options
from moo_hpo.problem import Problem
from moo_hpo.space import Space
from moo_hpo.trial import Trial

__all__ = ["ConfigStream", "RandomSearch", "SobolSearch", "sobol_stream"]

_CHUNK = 64  # a power of two keeps Sobol's balance properties
#: chunks in a row with no valid configuration before giving up: 64,000 candidates, enough for a rule that only one
#: configuration in 4,096 passes (the fewest a Space accepts: one of its 4,096 samples passed) at 1 - 1e-6
_MAX_REJECTED_CHUNKS = 1000
_MAX_STALE_CHUNKS = 8


class ConfigStream:
    """The valid configurations of a stream of compact-cube points, in order: ``stream[i]``.

    Points come in chunks of 64 from ``draw(k)``; configurations that break a validity rule, and
    configurations the stream already holds, are dropped, so ``stream[i]`` is the ``i``-th *new valid*
    configuration, whatever order it is read in. A small discrete space runs out of new
    configurations: once 8 chunks in a row bring nothing new, repeats are let through.

    Raises:
        ConfigError: when the rules reject 1,000 chunks in a row.
    """

    def __init__(self, space: Space, draw: Callable[[int], np.ndarray]) -> None:
        self.space, self.draw = space, draw
        self._configs: list[dict] = []
        self._seen: set[tuple] = set()

    def __getitem__(self, i: int) -> dict:
        rejected_chunks = stale_chunks = 0
        while len(self._configs) <= i:
            valid = [c for c in self.space.from_unit(self.draw(_CHUNK)) if self.space.passes_rules(c)]
            if not valid:
                rejected_chunks += 1
                if rejected_chunks >= _MAX_REJECTED_CHUNKS:
                    raise ConfigError(
                        f"validity rules {[r.name for r in self.space.rules]} rejected "
                        f"{rejected_chunks * _CHUNK} candidates in a row; expected rules that a sizeable share of the "
                        "space satisfies"
                    )
                continue
            fresh = []
            for c in valid:
                key = config_key(c)
                if key not in self._seen:
                    self._seen.add(key)
                    fresh.append(c)
            if fresh:
                self._configs.extend(fresh)
            else:
                stale_chunks += 1
                if stale_chunks >= _MAX_STALE_CHUNKS:  # every configuration was drawn: repeats from now on
                    self._configs.extend(valid)
        return self._configs[i]


def sobol_stream(space: Space, seed: int, scramble: bool = True) -> ConfigStream:
    """The scrambled Sobol stream of valid configurations seeded with ``seed``.

    A categorical parameter's coordinate is shifted by a random amount modulo 1 (a Cranley-Patterson rotation, seeded
    too): its choice is read from the coordinate's leading digits, and the leading binary digit of some pairs of
    Sobol's coordinates is the same, or its opposite, for all of the first 2^m points (a scramble keeps that), so two
    yes/no parameters went together in every point of an initial design (in 6 dimensions, 14 points: one such pair of
    the 15; in 12, 26 points: two of 66), and a categorical and a float alike (momentum above its midpoint for every
    ``sgd``). The shift keeps each coordinate spread as evenly over its range (choices drawn within one of equally
    often).
    """
    from scipy.stats import qmc

    from moo_hpo.params import Categorical

    sobol = qmc.Sobol(space.dim, scramble=scramble, seed=seed % 2**64)
    categorical = [j for j, p in enumerate(space.params.values()) if isinstance(p, Categorical)]
    if not scramble or not categorical:
        return ConfigStream(space, sobol.random)
    shift = np.random.default_rng([seed % 2**64, 1]).random(len(categorical))

    def draw(k: int) -> np.ndarray:
        U = sobol.random(k)
        U[:, categorical] = (U[:, categorical] + shift) % 1.0
        return U

    return ConfigStream(space, draw)


class _StreamOptimizer(Optimizer):
    capabilities = Capabilities()

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        self._emitted = 0
        self._stream = self._make_stream()
        self._streamed: set[tuple] = set()  # the keys of the stream's configurations up to _emitted
        self._foreign: set[tuple] = set()  # told configurations the stream did not give (another version's stream)
        self._owed: list[dict] = []  # stream configurations passed over for told trials that ran others

    def _make_stream(self) -> ConfigStream:  # pragma: no cover - abstract
        raise NotImplementedError

    def _take(self, n: int) -> list[dict]:
        out = [self._stream[self._emitted + j] for j in range(n)]
        self._emitted += n
        self._streamed.update(config_key(c) for c in out)
        return out

    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        out: list[Proposal] = []
        while len(out) < n:
            (config,) = [self._owed.pop(0)] if self._owed else self._take(1)
            key = config_key(config)
            if key in self._foreign:  # ran already (told, not from this stream): once skipped, it may come again
                self._foreign.discard(key)
                continue
            out.append(Proposal(config))
        return out

    def tell(self, trials: Sequence[Trial]) -> None:
        # A resumed study tells trials this instance never proposed: skip them in the stream.
        seen = max((t.number for t in trials), default=-1) + 1
        told = {config_key(t.config) for t in trials}
        if seen > self._emitted:
            # the trials ran these configurations, unless they ran others (queued ones, or a study begun with another
            # version of the stream): those passed over are proposed first
            self._owed += [c for c in self._take(seen - self._emitted) if config_key(c) not in told]
        self._owed = [c for c in self._owed if config_key(c) not in told]
        # configurations told that the stream did not give are not proposed again (once skipped, they may come back
        # only when the space holds nothing new)
        self._foreign.update(k for k in told if k not in self._streamed)


class RandomSearch(_StreamOptimizer):
    """Uniform random search (each parameter uniform on its own scale, log where ``log=True``)."""

    name = "random"

    def __init__(self, **unknown: Any) -> None:
        reject_unknown_options(self, unknown)

    def _make_stream(self) -> ConfigStream:
        rng = np.random.default_rng(self.problem.seed)
        space = self.problem.space
        return ConfigStream(space, lambda k: rng.random((k, space.dim)))


class SobolSearch(_StreamOptimizer):
    """Scrambled Sobol sequence over the compact unit cube (one coordinate per parameter).

    Args:
        scramble: Owen-scramble the sequence (seeded by the study's seed).
    """

    name = "sobol"

    def __init__(self, scramble: bool = True, **unknown: Any) -> None:
        reject_unknown_options(self, unknown)
        self.scramble = scramble

    def check_options(self) -> None:
        """Check ``scramble``.

        Raises:
            ConfigError: when it is not True or False.
        """
        if not isinstance(self.scramble, bool):
            raise ConfigError(f"{self.name}: scramble must be True or False; received {self.scramble!r}")

    def _make_stream(self) -> ConfigStream:
        return sobol_stream(self.problem.space, self.problem.seed, self.scramble)
