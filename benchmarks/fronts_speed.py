"""Speed of moo_hpo.fronts beside moocore called directly, in one run.

Targets: Pareto mask of 100,000 x 3 points within 1.5x of ``moocore.is_nondominated``; hypervolume
of 10,000 x 3 and 1,000 x 5 points within 1.2x of ``moocore.hypervolume``; full non-dominated sort
(all ranks) of 20,000 x 2 points under 0.5 s.

Usage:
    python benchmarks/fronts_speed.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import moocore
import numpy as np

from moo_hpo import fronts


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def on_sphere(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Points near a concave front (many mutually non-dominated), plus dominated noise."""
    x = np.abs(rng.normal(size=(n, m)))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x + rng.random((n, 1)) * 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []

    Y = rng.random((100_000, 3))
    ours = best_of(lambda: fronts.pareto_mask(Y), args.repeats)
    ref = best_of(lambda: moocore.is_nondominated(Y, keep_weakly=True), args.repeats)
    rows.append(("Pareto mask, 100,000 x 3", ours, ref, "<= 1.5x"))

    for n, m in ((10_000, 3), (1_000, 5)):
        Y = on_sphere(n, m, rng)
        r = np.full(m, 2.0)
        ours = best_of(lambda Y=Y, r=r: fronts.hypervolume(Y, r), args.repeats)
        ref = best_of(lambda Y=Y, r=r: moocore.hypervolume(Y, ref=r), args.repeats)
        rows.append((f"hypervolume, {n:,} x {m}", ours, ref, "<= 1.2x"))

    Y = rng.random((20_000, 2))
    ours = best_of(lambda: fronts.non_dominated_ranks(Y), args.repeats)
    ref = best_of(lambda: moocore.pareto_rank(Y), args.repeats)
    rows.append(("all ranks, 20,000 x 2", ours, ref, "< 0.5 s"))

    print("| operation | moo_hpo (ms) | moocore direct (ms) | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for name, ours, ref, target in rows:
        print(f"| {name} | {1000 * ours:.2f} | {1000 * ref:.2f} | {ours / ref:.2f}x | {target} |")
    print(f"\nbest of {args.repeats} runs; moocore {moocore.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
