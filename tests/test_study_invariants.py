"""Study invariants under generated spaces and ask/tell histories (hypothesis, random search).

Whatever the space (floats, log floats, integers, categoricals, a conditional parameter), the
objectives and constraints, and whatever happens to the trials (complete, failed, skipped before
training, NaN metrics, asked in batches and told out of order, some still running):

* every told trial is stored exactly once, with the status and metrics it was told;
* trial numbers are dense, ``0..n-1``, in order;
* reopening the SQLite store gives the same trials;
* ``pareto_front(by="measured")`` is the non-dominated set of the complete trials that satisfy every hard constraint,
  computed here independently with a plain O(n^2) domination check (soft constraints do not filter; a
  configuration run again with the same values counts once).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import moo_hpo as mh

OUTCOMES = ("complete", "complete", "complete", "failed", "skipped", "nan", "running")
# few distinct metric values: ties, duplicates and dominated points are common
VALUES = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, -1.0, 3.25])


@st.composite
def params(draw, name: str) -> mh.Float | mh.Int | mh.Categorical:
    kind = draw(st.sampled_from(["float", "logfloat", "int", "cat"]))
    if kind == "float":
        low = draw(st.floats(-10, 10, allow_nan=False))
        return mh.Float(low, low + draw(st.floats(0.01, 10)))
    if kind == "logfloat":
        low = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
        return mh.Float(low, low * draw(st.sampled_from([2.0, 100.0, 1e4])), log=True)
    if kind == "int":
        low = draw(st.integers(-5, 5))
        return mh.Int(low, low + draw(st.integers(1, 20)))
    return mh.Categorical(draw(st.lists(st.sampled_from(["a", "b", "c", 1, 2.5, True]), min_size=1, max_size=4, unique_by=repr)))


@st.composite
def spaces(draw) -> mh.Space:
    n = draw(st.integers(1, 4))
    spec = {f"p{i}": draw(params(f"p{i}")) for i in range(n)}
    if draw(st.booleans()):  # a conditional parameter under a categorical parent
        spec["parent"] = mh.Categorical(["on", "off"])
        spec["child"] = mh.Float(0.0, 1.0, active_if={"parent": "on"})
    return mh.Space(spec)


@st.composite
def definitions(draw) -> tuple[list, list]:
    m = draw(st.integers(1, 3))
    objectives = [draw(st.sampled_from([mh.Minimize, mh.Maximize]))(f"m{i}") for i in range(m)]
    constraints = []
    for name in ("g", "h")[: draw(st.integers(0, 2))]:
        make = draw(st.sampled_from([mh.AtMost, mh.AtLeast]))
        constraints.append(make(name, draw(VALUES), soft=draw(st.booleans())))
    return objectives, constraints


@st.composite
def histories(draw) -> list[tuple[int, list[tuple[str, dict]], list[int]]]:
    """Rounds of (batch size, one (outcome, metrics) per trial, the order they are told in)."""
    rounds = []
    for _ in range(draw(st.integers(1, 6))):
        k = draw(st.integers(1, 3))
        outcomes = [(draw(st.sampled_from(OUTCOMES)), {n: draw(VALUES) for n in ("m0", "m1", "m2", "g", "h")}) for _ in range(k)]
        rounds.append((k, outcomes, draw(st.permutations(range(k)))))
    return rounds


def dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def expected_front(trials: list[mh.Trial], objectives: list, constraints: list) -> list[int]:
    def feasible(t: mh.Trial) -> bool:
        if t.status is not mh.TrialStatus.COMPLETE:
            return False
        for c in constraints:
            if c.soft:
                continue
            v = t.metrics[c.name]
            if (c.kind == "at_most" and not v <= c.bound) or (c.kind == "at_least" and not v >= c.bound):
                return False
        return True

    def point(t: mh.Trial) -> list[float]:  # minimized: a maximized metric is negated
        return [t.metrics[o.name] * (1.0 if o.sign > 0 else -1.0) for o in objectives]

    pool = [t for t in trials if feasible(t)]
    front, seen = [], set()
    for t in pool:
        # a configuration run again with the same values is one member, its first trial
        key = (tuple(sorted((k, repr(v)) for k, v in t.config.items())), tuple(point(t)))
        if key not in seen and not any(dominates(point(q), point(t)) for q in pool if q is not t):
            seen.add(key)
            front.append(t.number)
    return front


def same_record(a: mh.Trial, b: mh.Trial) -> bool:
    """Equal records (a NaN metric equals a NaN metric)."""
    def key(t: mh.Trial) -> tuple:
        return t.number, repr(t.config), t.status, repr(sorted(t.metrics.items())), t.error

    return key(a) == key(b)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(space=spaces(), definition=definitions(), history=histories(), seed=st.integers(0, 2**31 - 1))
def test_study_invariants(space, definition, history, seed):
    objectives, constraints = definition
    needed = {o.name for o in objectives} | {c.name for c in constraints}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.db"
        study = mh.Study(space, objectives, constraints, optimizer="random", storage=path, seed=seed)
        told: dict[int, tuple[str, dict]] = {}
        running: list[int] = []
        for k, outcomes, order in history:
            batch = study.ask(k)
            assert len(batch) == k
            for i in order:
                trial, (outcome, values) = batch[i], outcomes[i]
                metrics = {n: v for n, v in values.items() if n in needed}
                assert space.problems(trial.config) == [], trial.config
                if outcome == "running":
                    running.append(trial.number)
                    continue
                if outcome == "complete":
                    study.tell(trial, metrics)
                elif outcome == "failed":
                    study.tell(trial, error=RuntimeError("diverged"))
                elif outcome == "nan":
                    study.tell(trial, {**metrics, objectives[0].name: math.nan})
                else:  # skipped before training: only a pre-training metric, when the study has one
                    metrics = {n: v for n, v in metrics.items() if n in {"g", "h"}}
                    hard = [c for c in constraints if not c.soft]
                    if all(c.is_satisfied(metrics[c.name]) for c in hard):  # a skip that breaks no bound is refused
                        with pytest.raises(mh.ConfigError, match="status='infeasible_skipped' is for a trial whose"):
                            study.tell(trial, metrics, status="infeasible_skipped")
                        running.append(trial.number)  # and the trial is left as it was
                        continue
                    study.tell(trial, metrics, status="infeasible_skipped")
                told[trial.number] = (outcome, metrics)

        trials = study.trials
        n = sum(k for k, _, _ in history)
        assert [t.number for t in trials] == list(range(n))  # dense, in order, each once
        for t in trials:
            if t.number in running:
                assert t.status is mh.TrialStatus.RUNNING and t.metrics == {}
                continue
            outcome, metrics = told[t.number]
            if outcome == "complete":
                assert t.status is mh.TrialStatus.COMPLETE and t.metrics == metrics and t.error is None
            elif outcome == "skipped":
                assert t.status is mh.TrialStatus.INFEASIBLE_SKIPPED and t.metrics == metrics and t.error is None
            else:
                assert t.status is mh.TrialStatus.FAILED and t.error
                assert outcome != "nan" or "is nan" in t.error
        front = expected_front(trials, objectives, constraints)
        assert [t.number for t in study.pareto_front(by="measured")] == front
        assert study.n_feasible == sum(1 for t in trials if t.status is mh.TrialStatus.COMPLETE
                                       and all(c.soft or c.is_satisfied(t.metrics[c.name]) for c in constraints))
        study.close()

        # a read-only view sees exactly what was written, running trials included
        with mh.Study.load(path, read_only=True) as view:
            assert len(view.trials) == n and all(same_record(a, b) for a, b in zip(view.trials, trials, strict=True))
            assert [t.number for t in view.pareto_front(by="measured")] == front
        # resuming marks the trials left running as finished without results; everything else is unchanged
        with mh.Study.load(path, space=space) as resumed:
            for a, b in zip(resumed.trials, trials, strict=True):
                if b.number in running:
                    assert a.is_finished and a.status is not mh.TrialStatus.COMPLETE and a.config == b.config
                else:
                    assert same_record(a, b)
            assert [t.number for t in resumed.pareto_front(by="measured")] == front
            more = resumed.ask(2)
            assert [t.number for t in more] == [n, n + 1]
