"""Model-free samplers: uniform random and scrambled Sobol.

Both draw a deterministic stream of valid configurations from the study's seed (configurations
that break a validity rule are dropped from the stream). Trial ``k`` of a study is always the
``k``-th configuration of the stream, whether the configurations were asked one at a time or in
batches, and whether the study ran straight through or was resumed from its store.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from moo_hpo.exceptions import ConfigError
from moo_hpo.optimizers.base import Capabilities, Optimizer, Proposal
from moo_hpo.problem import Problem
from moo_hpo.trial import Trial

__all__ = ["RandomSearch", "SobolSearch"]

_CHUNK = 64  # a power of two keeps Sobol's balance properties
_MAX_REJECTED_CHUNKS = 50


class _StreamOptimizer(Optimizer):
    capabilities = Capabilities()

    def setup(self, problem: Problem) -> None:
        super().setup(problem)
        self._buffer: list[dict] = []
        self._emitted = 0
        self._start_stream()

    def _start_stream(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self, k: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fill(self, n: int) -> None:
        space = self.problem.space
        rejected_chunks = 0
        while len(self._buffer) < n:
            configs = space.from_unit(self._draw(_CHUNK))
            valid = [c for c in configs if all(r(c) for r in space.rules)]
            if not valid:
                rejected_chunks += 1
                if rejected_chunks >= _MAX_REJECTED_CHUNKS:
                    raise ConfigError(
                        f"validity rules {[r.name for r in space.rules]} rejected "
                        f"{rejected_chunks * _CHUNK} candidates in a row"
                    )
            self._buffer.extend(valid)

    def _take(self, n: int) -> list[dict]:
        self._fill(n)
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        self._emitted += n
        return out

    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        return [Proposal(c) for c in self._take(n)]

    def tell(self, trials: Sequence[Trial]) -> None:
        # A resumed study tells trials this instance never proposed: skip them in the stream.
        seen = max((t.number for t in trials), default=-1) + 1
        if seen > self._emitted:
            self._take(seen - self._emitted)


class RandomSearch(_StreamOptimizer):
    """Uniform random search (each parameter uniform on its own scale, log where ``log=True``)."""

    name = "random"

    def __init__(self) -> None:
        pass

    def _start_stream(self) -> None:
        self._rng = np.random.default_rng(self.problem.seed)

    def _draw(self, k: int) -> np.ndarray:
        return self._rng.random((k, self.problem.space.dim))


class SobolSearch(_StreamOptimizer):
    """Scrambled Sobol sequence over the compact unit cube (one coordinate per parameter).

    Args:
        scramble: Owen-scramble the sequence (seeded by the study's seed).
    """

    name = "sobol"

    def __init__(self, scramble: bool = True) -> None:
        self.scramble = scramble

    def _start_stream(self) -> None:
        from scipy.stats import qmc

        self._sobol = qmc.Sobol(self.problem.space.dim, scramble=self.scramble, seed=self.problem.seed)

    def _draw(self, k: int) -> np.ndarray:
        return self._sobol.random(k)
