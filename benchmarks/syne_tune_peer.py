"""Syne Tune's MOASHA as a peer of moo_hpo's early stopping in :mod:`benchmarks.pruning_suite`.

Syne Tune is not a moo_hpo dependency; it runs in an environment of its own and this script is its side of
the simulation, driven over pipes (one JSON object a line) by ``benchmarks/pruning_suite.py``, which keeps the
simulated workers, the learning-curve table and the bookkeeping, the same as for moo_hpo's methods:

    python -m venv /tmp/synevenv && /tmp/synevenv/bin/pip install "syne-tune==0.16.0"
    python -m benchmarks.pruning_suite --syne-python /tmp/synevenv/bin/python

This script imports neither moo_hpo nor the ``benchmarks`` package (only the standard library, numpy and
Syne Tune). It drives ``syne_tune.optimizer.schedulers.multiobjective.moasha.MOASHA`` (0.16 does not
export it from the package) through its scheduler API as
Syne Tune's own ``Tuner`` does: ``suggest()`` then ``on_trial_add(trial)`` for a new trial (MOASHA samples
the configuration at random from the config space: its built-in searcher), ``on_trial_result(trial,
result)`` for every epoch, and ``on_trial_remove(trial)`` once the answer is ``STOP`` (which it also is at
``max_t``). The global numpy generator, which Syne Tune's sampling and bracket draws use, is seeded with
the run's seed.

Protocol (stdin -> stdout), after the first line ``{"space": <moo_hpo Space.to_dict()>, "seed": int,
"metrics": [...], "max_t": int, "grace_period": int, "reduction_factor": int, "priority": "default" | "ranks"}``
(``"ranks"``: :func:`RankPriority`, a patch of Syne Tune's ranking, labelled as such wherever it is used) is answered with
``{"ready": true, "versions": {...}}``:

* ``{"op": "suggest"}`` -> ``{"trial_id": int, "config": {...}}``;
* ``{"op": "result", "trial_id": int, "epoch": int, "metrics": {...}}`` -> ``{"decision": "CONTINUE" | "STOP"}``
  (metrics are minimised: send ``error`` = 1 - accuracy);
* ``{"op": "close"}`` -> ``{"num_stopped": int}``, and the script ends.

``/tmp/synevenv/bin/python benchmarks/syne_tune_peer.py --selftest`` (Syne Tune's environment) checks the scheduler
API on a toy problem.
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any


def syne_space(space: dict[str, Any]) -> dict[str, Any]:
    """moo_hpo's ``Space.to_dict()`` as a Syne Tune config space (same ranges and scales)."""
    from syne_tune.config_space import choice, loguniform, lograndint, randint, uniform

    out: dict[str, Any] = {}
    for name, p in space["params"].items():
        kind = p["type"]
        if kind == "float":
            out[name] = (loguniform if p.get("log") else uniform)(float(p["low"]), float(p["high"]))
        elif kind == "int":
            if p.get("step", 1) != 1:
                raise ValueError(f"{name}: integer steps other than 1 are not translated")
            out[name] = (lograndint if p.get("log") else randint)(int(p["low"]), int(p["high"]))
        elif kind == "categorical":
            out[name] = choice(list(p["choices"]))
        else:
            raise ValueError(f"{name}: parameter type {kind!r} is not translated")
    if space.get("rules"):
        raise ValueError("spaces with validity rules are not translated")
    return out


def RankPriority() -> Any:
    """Syne Tune's default ``NonDominatedPriority`` with its answer turned from an order into ranks.

    In Syne Tune 0.16, ``NonDominatedPriority`` returns ``nondominated_sort(X)``: the indices of the points from
    best to worst (an argsort), while MOASHA's ``Bracket.on_result`` reads its answer as each point's priority
    (lower is better) and ranks the newest point by ``priorities[-1]``, i.e. by the index of the worst point.
    A new point that dominates every other one in its rung can be stopped (``--selftest`` shows one).
    This subclass returns each point's position in that order instead: the ranking the scheduler expects.
    """
    import numpy as np
    from syne_tune.optimizer.schedulers.multiobjective.multiobjective_priority import NonDominatedPriority

    class _RankPriority(NonDominatedPriority):
        def priority_unsafe(self, objectives: np.ndarray) -> np.ndarray:
            order = np.asarray(super().priority_unsafe(objectives))
            ranks = np.empty(len(order), dtype=int)
            ranks[order] = np.arange(len(order))
            return ranks

    return _RankPriority()


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (for JSON)."""
    return value.item() if hasattr(value, "item") else value


class Peer:
    """One MOASHA run: the scheduler and the trials it started."""

    def __init__(self, space: dict[str, Any], seed: int, metrics: list[str], max_t: int, grace_period: int,
                 reduction_factor: int, priority: str = "default") -> None:
        import numpy as np
        from syne_tune.optimizer.schedulers.multiobjective.moasha import MOASHA

        np.random.seed(seed)  # Syne Tune samples configurations and brackets from numpy's global generator
        if priority not in ("default", "ranks"):
            raise ValueError(f"priority must be 'default' or 'ranks'; received {priority!r}")
        self.scheduler = MOASHA(config_space=syne_space(space), metrics=list(metrics), do_minimize=True,
                                time_attr="epoch", max_t=max_t, grace_period=grace_period,
                                reduction_factor=reduction_factor, random_seed=seed,
                                multiobjective_priority=RankPriority() if priority == "ranks" else None)
        self.trials: dict[int, Any] = {}

    def suggest(self) -> dict[str, Any]:
        from syne_tune.backend.trial_status import Trial

        suggestion = self.scheduler.suggest()
        trial = Trial(trial_id=len(self.trials), config=dict(suggestion.config), creation_time=datetime.datetime.now())
        self.trials[trial.trial_id] = trial
        self.scheduler.on_trial_add(trial=trial)
        return {"trial_id": trial.trial_id, "config": {k: _plain(v) for k, v in trial.config.items()}}

    def result(self, trial_id: int, epoch: int, metrics: dict[str, float]) -> dict[str, Any]:
        from syne_tune.optimizer.scheduler import SchedulerDecision

        trial = self.trials[trial_id]
        decision = self.scheduler.on_trial_result(trial=trial, result={"epoch": epoch, **metrics})
        if decision == SchedulerDecision.STOP:
            self.scheduler.on_trial_remove(trial=trial)  # as Syne Tune's Tuner does after STOP
        return {"decision": "STOP" if decision == SchedulerDecision.STOP else "CONTINUE"}


def versions() -> dict[str, str]:
    import platform
    from importlib.metadata import version

    import numpy as np

    return {"syne_tune": version("syne-tune"), "numpy": np.__version__, "python": platform.python_version()}


def serve() -> None:
    """Answer the driver's requests (see the module docstring) until it closes."""
    out = sys.stdout
    sys.stdout = sys.stderr  # anything Syne Tune prints must not break the protocol
    setup = json.loads(sys.stdin.readline())
    peer = Peer(setup["space"], int(setup["seed"]), setup["metrics"], int(setup["max_t"]), int(setup["grace_period"]),
                int(setup["reduction_factor"]), setup.get("priority", "default"))

    def answer(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    answer({"ready": True, "versions": versions()})
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg.get("op")
        if op == "suggest":
            answer(peer.suggest())
        elif op == "result":
            answer(peer.result(int(msg["trial_id"]), int(msg["epoch"]), msg["metrics"]))
        elif op == "close":
            answer({"num_stopped": int(peer.scheduler.num_stopped)})
            return
        else:
            answer({"error": f"unknown op {op!r}"})


def selftest() -> None:
    """A toy run (error falls with epochs towards x, the gap is y): MOASHA must stop some trials early; and
    the default priority's ranking of a rung in which the newest point dominates every other one."""
    import numpy as np
    from syne_tune.optimizer.schedulers.asha import Bracket
    from syne_tune.optimizer.scheduler import SchedulerDecision
    from syne_tune.optimizer.schedulers.multiobjective.multiobjective_priority import NonDominatedPriority

    decisions = {}
    for label, priority in (("default", NonDominatedPriority()), ("ranks", RankPriority())):
        bracket = Bracket(1, 27, 3, 0, priority)
        for i, point in enumerate([(0.5, 0.5), (0.6, 0.4), (0.4, 0.6), (0.7, 0.7), (0.8, 0.8)]):
            bracket.on_result(i, 1, {"error": point[0], "gap": point[1]})
        best = bracket.on_result(5, 1, {"error": 0.1, "gap": 0.1})  # dominates the five others
        decisions[label] = "STOP" if best == SchedulerDecision.STOP else "CONTINUE"
    assert decisions["ranks"] == "CONTINUE", decisions
    space = {"params": {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False},
                        "y": {"type": "float", "low": 0.0, "high": 1.0, "log": False}}, "rules": []}
    peer = Peer(space, 0, ["error", "gap"], 27, 1, 3)
    np.random.seed(0)
    stopped_at = []
    for _ in range(30):
        s = peer.suggest()
        for epoch in range(1, 28):
            c = s["config"]
            r = peer.result(s["trial_id"], epoch, {"error": c["x"] + 1 / epoch, "gap": c["y"]})
            if r["decision"] == "STOP":
                stopped_at.append(epoch)
                break
    assert any(e < 27 for e in stopped_at) and any(e == 27 for e in stopped_at), stopped_at
    print(json.dumps({"ok": True, "stopped_at": stopped_at, "newest point dominates its rung": decisions,
                      "versions": versions()}))


if __name__ == "__main__":
    try:
        import syne_tune  # noqa: F401 - only to say where it is missing
    except ModuleNotFoundError:
        raise SystemExit(
            "syne_tune is not installed in this Python; run this script with Syne Tune's own environment, e.g.\n"
            '  python -m venv /tmp/synevenv && /tmp/synevenv/bin/pip install "syne-tune==0.16.0"\n'
            "  /tmp/synevenv/bin/python benchmarks/syne_tune_peer.py --selftest"
        ) from None
    selftest() if "--selftest" in sys.argv else serve()
