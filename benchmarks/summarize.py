"""Summarize benchmark runs: median and min-max tables, and hypervolume-vs-evaluations plots."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_runs", "plot", "table"]


def load_runs(folder: Path) -> list[dict[str, Any]]:
    """The single-run records (``benchmarks.runner``'s) among the JSON files in ``folder``; other benchmarks'
    result files that share the folder are left out."""
    runs = []
    for path in sorted(Path(folder).glob("*.json")):
        record = json.loads(path.read_text())
        if isinstance(record, dict) and {"problem", "budget", "optimizer"} <= record.keys():
            runs.append(record)
    return runs


def _groups(runs: list[dict[str, Any]]) -> dict[tuple[str, int, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(r["problem"], r["budget"], r.get("tag", r["optimizer"]))].append(r)
    return groups


def _fmt(values: list[float], digits: int = 4) -> str:
    if not values:
        return "n/a"
    v = np.array(values, dtype=float)
    return f"{np.median(v):.{digits}g} [{v.min():.{digits}g}, {v.max():.{digits}g}]"


def table(runs: list[dict[str, Any]]) -> str:
    """A Markdown table: per problem, budget and optimizer, medians with [min, max] over seeds."""
    lines = [
        "| problem | budget | optimizer | seeds | final HV | log10 gap | front all feasible | optimizer ms/eval |",
        "|---|---:|---|---:|---|---|---|---|",
    ]
    for (problem, budget, tag), rs in sorted(_groups(runs).items()):
        gaps = [r["log10_gap"] for r in rs if r["log10_gap"] is not None]
        lines.append(
            f"| {problem} | {budget:,} | {tag} | {len(rs)} | {_fmt([r['final_hv'] for r in rs], 6)} | {_fmt(gaps, 3)} | "
            f"{all(r['front_all_feasible'] for r in rs)} | {_fmt([r['optimizer_ms_per_eval'] for r in rs], 3)} |"
        )
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Median hypervolume vs. evaluations, one panel per problem, shaded min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({r["problem"] for r in runs})
    fig, axes = plt.subplots(1, len(problems), figsize=(5 * len(problems), 3.6), squeeze=False)
    for ax, problem in zip(axes[0], problems, strict=True):
        for (p, _budget, tag), rs in sorted(_groups(runs).items()):
            if p != problem:
                continue
            n = min(len(r["hv"]) for r in rs)
            H = np.array([r["hv"][:n] for r in rs])
            x = np.arange(1, n + 1)
            ax.plot(x, np.median(H, axis=0), label=tag)
            ax.fill_between(x, H.min(axis=0), H.max(axis=0), alpha=0.2)
        max_hv = next((r["max_hv"] for r in runs if r["problem"] == problem and r["max_hv"]), None)
        if max_hv:
            ax.axhline(max_hv, color="k", ls=":", lw=1, label="max HV")
        ax.set_title(problem)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("hypervolume")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
