"""MOASHA: rungs, promotions within 1/eta, ranking by constrained domination, ties, replay."""

from __future__ import annotations

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.problem import Problem
from moo_hpo.pruners.asha import rung_steps
from moo_hpo.pruners.base import points, position_of_last, rank_order


def _problem(constraints=()) -> Problem:
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    return Problem(space, (mh.Maximize("accuracy"), mh.Minimize("gap")), tuple(constraints))


def _pruner(problem=None, **kw) -> mh.pruners.MOASHA:
    p = mh.pruners.MOASHA(**{"min_resource": 1, "max_resource": 27, "reduction_factor": 3, **kw})
    p.setup(problem or _problem())
    return p


def test_rungs_sit_at_powers_of_eta_below_the_maximum():
    assert rung_steps(1, 27, 3) == [1, 3, 9]
    assert rung_steps(2, 100, 4) == [2, 8, 32]
    assert rung_steps(0.5, 4, 2) == [0.5, 1, 2]
    # fractional steps as a user writes them: 0.1 x 3 was 0.30000000000000004, which a report at 0.3 stayed below
    assert rung_steps(0.1, 1.0, 3) == [0.1, 0.3, 0.9] and rung_steps(0.2, 1.0, 3) == [0.2, 0.6]
    assert rung_steps(1 / 3, 3, 2)[1] == 2 / 3  # never above its product: a report at 2/3 reaches it
    assert rung_steps(1, 1e14, 3)[-1] == 3**29 and rung_steps(1 / 7, 1, 3)[1] <= 3 / 7


def test_a_report_at_a_fractional_rung_s_step_is_judged_there():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("acc")], optimizer="random", seed=0,
                     pruner=mh.pruners.MOASHA(min_resource=0.1, max_resource=1.0, reduction_factor=3))
    for i in range(4):
        trial = study.ask()
        for k in range(1, 11):
            step = round(k / 10, 2)
            if study.report(trial, step, {"acc": i if step < 0.3 else -i}):  # best at 0.1, worst from 0.3 on
                study.tell(trial, status="pruned")
                break
        else:
            study.tell(trial, {"acc": -i})
    pruned = [t for t in study.trials if t.status is mh.TrialStatus.PRUNED]
    assert pruned and all(t.reports[-1]["step"] == 0.3 and "judged on the report" not in t.extra["pruned"] for t in pruned)



def test_a_trial_that_completes_at_a_fractional_rung_is_said_to_end_at_a_rung(caplog):
    # 0.7 x 3 is the rung 2.0999999999999996: a trial that completed at step 2.1 was not said to end at a rung
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("acc")], optimizer="random", seed=0,
                     pruner=mh.pruners.MOASHA(min_resource=0.7, max_resource=100, reduction_factor=3))
    trial = study.ask()
    for step in (0.7, 2.1):
        study.report(trial, step, {"acc": 0.5})
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.tell(trial, {"acc": 0.5})
    assert "trial 0 completed at step 2.1, below the pruner's max_resource 100, where a rung sits" in caplog.text


def _position(pruner, k, number):
    """The trial's position (from 0) in rung ``k`` as the rung stands."""
    rung = pruner.rung(k)
    members = list(rung)
    order = rank_order(points(pruner.problem, [rung[m] for m in members]), np.zeros(len(members)))
    return int(np.flatnonzero(np.array(members)[order] == number)[0]), len(members)


def test_under_asynchronous_arrivals_a_trial_goes_on_exactly_when_it_ranks_in_the_best_third():
    rng = np.random.default_rng(0)
    judged = 0
    for _ in range(10):
        pruner = _pruner()
        alive = {n: 0 for n in range(60)}  # trial -> the last step it reported
        points_ = {n: rng.random(2) for n in alive}
        while alive:
            n = int(rng.choice(list(alive)))  # any running trial reports next
            step = alive[n] + 1
            acc, gap = points_[n] + 0.01 * step
            decision = pruner.decide(n, step, {"accuracy": acc, "gap": gap})
            if step in pruner.rung_steps:  # recorded in that rung now: judged against it
                k = pruner.rung_steps.index(step)
                position, size = _position(pruner, k, n)
                assert decision.prune == (position > size / 3), (position, size, decision)
                assert (n in pruner.promoted(k)) == (not decision.prune)
                judged += 1
            if decision.prune or step == 27:
                del alive[n]
            else:
                alive[n] = step
        # about a third of the first rung goes on (random arrivals; the first of a rung always does)
        assert len(pruner.promoted(0)) <= 0.55 * len(pruner.rung(0))
    assert judged > 600


def test_the_best_trial_of_a_rung_always_goes_on_and_arrival_order_breaks_ties():
    pruner = _pruner()
    pts = [(0.9, 0.5), (0.5, 0.1), (0.4, 0.6), (0.3, 0.7), (0.7, 0.3), (0.2, 0.8)]
    decisions = [pruner.decide(n, 1, {"accuracy": a, "gap": g}) for n, (a, g) in enumerate(pts)]
    # trial 1 is non-dominated too, but second of two (position 1 > 2/3): arrival order decides a tie
    assert [d.prune for d in decisions] == [False, True, True, True, True, True]
    assert "ranked 2 of 2, outside the best 1/3" in decisions[1].reason
    late = pruner.decide(6, 1, {"accuracy": 0.95, "gap": 0.05})  # dominates every other: first of 7
    assert not late.prune and pruner.promoted(0) == {0, 6}


def test_a_stop_judged_on_a_report_past_the_rungs_step_names_both_steps():
    pruner = _pruner(max_resource=9)  # rungs at 1 and 3; these trials report every third epoch
    assert not pruner.decide(0, 3, {"accuracy": 0.9, "gap": 0.1}).prune
    late = pruner.decide(1, 3, {"accuracy": 0.5, "gap": 0.5})  # joins rung 0 (step 1) with its step-3 report
    assert late.prune and late.reason.startswith("pruned at rung 1 of 2 (step 1, judged on the report at step 3): ranked 2 of 2")
    on_time = pruner.decide(2, 1, {"accuracy": 0.4, "gap": 0.6})
    assert on_time.reason.startswith("pruned at rung 1 of 2 (step 1): ranked 3 of 3")


def test_equal_reports_rank_in_order_of_arrival():
    pruner = _pruner()
    d = [pruner.decide(n, 1, {"accuracy": 0.8, "gap": 0.1}) for n in range(7)]
    # a later equal report ranks behind every earlier one, outside the best third
    assert [x.prune for x in d] == [False] + [True] * 6
    assert "ranked 7 of 7" in d[6].reason
    better = pruner.decide(7, 1, {"accuracy": 0.8, "gap": 0.09})  # a strictly better one goes first
    assert not better.prune


def test_copies_of_a_degenerate_point_do_not_fill_a_rung():
    """Many models can report one point (a classifier that predicts one class: its gap is 0, so it is on the
    front); the rung keeps one of them and judges the others behind every distinct report."""
    rng = np.random.default_rng(1)
    pruner, kept = _pruner(), {"constant": 0, "learning": 0}
    for n in range(60):
        if n % 4 == 0:
            kind, metrics = "constant", {"accuracy": 0.7592, "gap": 0.0}
        else:
            kind, metrics = "learning", {"accuracy": 0.76 + 0.1 * rng.random(), "gap": 0.02 + 0.2 * rng.random()}
        decision = pruner.decide(n, 1, metrics)
        kept[kind] += not decision.prune
        if kind == "constant" and n > 0:  # the reason says why a point on the front was stopped
            assert decision.reason.endswith("(the same point as trial #0's report, which the rung kept: it keeps one of each point)")
        elif decision.prune:
            assert "same point" not in decision.reason
    assert kept["constant"] == 1 and kept["learning"] >= 8


def test_with_one_objective_ranked_an_equal_report_ties_instead_of_ranking_last():
    """A discrete accuracy (k / 171 on a small validation set) ties often: a report equal to the rung's best ranks
    second, as a single-objective ASHA ranks it, not behind every other report as a copy on a front would."""
    pruner = _pruner()
    for n, acc in enumerate((0.50, 0.60, 0.95)):
        pruner.decide(n, 1, {"accuracy": acc})  # the reports carry accuracy only (the gap is measured at the end)
    tie = pruner.decide(3, 1, {"accuracy": 0.95})
    assert not tie.prune  # second of 4, within the best third (before: ranked 4 of 4, pruned)
    worse = pruner.decide(4, 1, {"accuracy": 0.949})  # third of 5: outside, as any report of that rank
    assert worse.prune and "ranked 3 of 5" in worse.reason and "same point" not in worse.reason
    Y = points(pruner.problem, [{"accuracy": a} for a in (0.95, 0.5, 0.95, 0.95)])
    assert list(rank_order(Y, np.zeros(4))) == [0, 2, 3, 1]  # equal values in order of arrival, before worse ones
    assert position_of_last(Y, np.zeros(4)) == 2


def test_a_broken_hard_bound_stops_at_once_and_never_enters_a_rung():
    problem = _problem([mh.AtMost("size_kb", 100.0), mh.AtMost("gap", 0.3)])
    pruner = _pruner(problem)
    stop = pruner.decide(0, 1, {"accuracy": 0.99, "gap": 0.01, "size_kb": 150.0})
    assert stop.prune and "size_kb = 150 breaks the hard bound size_kb <= 100" in stop.reason
    later = pruner.decide(1, 2, {"accuracy": 0.99, "gap": 0.35})  # between rungs: still stopped at once
    assert later.prune and "gap = 0.35 breaks the hard bound gap <= 0.3" in later.reason
    assert pruner.rung(0) == {} and not pruner.decide(2, 1, {"accuracy": 0.5, "gap": 0.2}).prune


def test_decisions_are_identical_for_a_replayed_order():
    rng = np.random.default_rng(3)
    events = [(int(n), int(s), {"accuracy": float(a), "gap": float(g)})
              for n, s, a, g in zip(rng.integers(0, 30, 400), rng.integers(1, 28, 400), rng.random(400), rng.random(400), strict=True)]
    runs = []
    for _ in range(2):
        pruner, last, out = _pruner(), {}, []
        for n, step, m in events:
            if step <= last.get(n, 0):
                continue
            last[n] = step
            out.append(pruner.decide(n, step, m))
        runs.append(out)
    assert runs[0] == runs[1] and any(d.prune for d in runs[0])


@pytest.mark.parametrize("kw, message", [
    ({"min_resource": 0}, "min_resource must be a positive number"),
    ({"max_resource": "27"}, "max_resource must be a positive number"),
    ({"reduction_factor": 1}, "reduction_factor must be an integer >= 2"),
    ({"min_resource": 27, "max_resource": 9}, "min_resource must be below max_resource"),
])
def test_bad_options_are_refused(kw, message):
    with pytest.raises(mh.ConfigError, match=message):
        _pruner(**kw)


@pytest.mark.parametrize("pruner, message", [
    (mh.pruners.Hyperband(min_resource=27, max_resource=27), "hyperband: min_resource must be below max_resource"),
    (mh.pruners.Hyperband(reduction_factor=1), "hyperband: reduction_factor must be an integer >= 2"),
    (mh.pruners.DominatedPruner(min_step="3"), "dominated: min_step must be a finite number >= 0; received '3'"),
    (mh.pruners.DominatedPruner(min_step=float("nan")), "dominated: min_step must be a finite number >= 0; received nan"),
    (mh.pruners.DominatedPruner(margin=float("inf")), "dominated: margin must be a finite number >= 0; received inf"),
    (mh.pruners.DominatedPruner(min_reports=0), "dominated: min_reports must be an integer >= 1"),
    (mh.pruners.DominatedPruner(min_step=20, max_resource=9), r"dominated: min_step must be below max_resource .*min_step=20, max_resource=9"),
])
def test_the_other_pruners_refuse_bad_options_under_their_own_names(pruner, message):
    with pytest.raises(mh.ConfigError, match=message):
        pruner.setup(_problem())


def test_hyperband_brackets_start_later_and_take_trials_in_turn():
    hb = mh.pruners.Hyperband(1, 27, 3)
    hb.setup(_problem())
    assert [b.rung_steps for b in hb.brackets] == [[1, 3, 9], [3, 9], [9]]
    assert [hb.bracket(n) for n in range(6)] == [0, 1, 2, 0, 1, 2]
    # the last bracket never stops a trial before step 9
    assert not any(hb.decide(n, s, {"accuracy": 0.1, "gap": 0.9}).prune for n in (2, 5) for s in range(1, 9))
    d = [hb.decide(n, 1, {"accuracy": 0.5 - 0.1 * n, "gap": 0.5}) for n in (0, 3)]  # bracket 0: judged at step 1
    assert d[1].prune and d[1].reason.startswith("bracket 1 of 3: pruned at rung 1 of 3 (step 1)")


def test_the_dominated_rule_waits_for_enough_reports_and_respects_the_margin():
    p = mh.pruners.DominatedPruner(margin=0.1, min_reports=2)
    p.setup(_problem())
    assert not p.decide(0, 1, {"accuracy": 0.9, "gap": 0.1}).prune
    assert not p.decide(1, 1, {"accuracy": 0.2, "gap": 0.9}).prune  # one other report only
    assert not p.decide(2, 1, {"accuracy": 0.85, "gap": 0.15}).prune  # dominated, but within the margin
    stop = p.decide(3, 1, {"accuracy": 0.3, "gap": 0.8})
    assert stop.prune and "dominated by" in stop.reason
    assert not p.decide(3, 2, {"accuracy": 0.3, "gap": 0.8}).prune  # nobody else at step 2 yet


def test_an_objective_no_report_carries_is_left_out_of_the_ranking():
    """Reports without the size (measured only at the end) rank on accuracy, not by order of arrival."""
    pruner = _pruner()
    decisions = [pruner.decide(n, 1, {"accuracy": acc}) for n, acc in enumerate([0.1, 0.2, 0.3, 0.9, 0.15, 0.8])]
    assert [d.prune for d in decisions] == [False, False, False, False, True, False]
    assert pruner.promoted(0) == {0, 1, 2, 3, 5}
    # a report is judged on the objectives it carries: with the gap, on both (the others, without it, rank behind);
    # the next one, without it, on accuracy (the one member with a gap does not make arrival order decide)
    assert not pruner.decide(6, 1, {"accuracy": 0.05, "gap": 0.1}).prune
    assert not pruner.decide(7, 1, {"accuracy": 0.95}).prune
    assert pruner.decide(8, 1, {"accuracy": 0.12}).prune


def test_a_report_without_any_objective_is_not_judged():
    pruner = _pruner()
    assert not any(pruner.decide(n, 1, {"val_loss": 1.0 - n / 10}).prune for n in range(9))
    assert pruner.rung(0) == {}  # they join the rungs with their first report that carries an objective
    assert not pruner.decide(0, 3, {"accuracy": 0.5, "gap": 0.1}).prune and set(pruner.rung(0)) == {0}


def test_a_full_trials_last_report_is_never_stopped_even_beyond_a_hard_bound():
    problem = _problem([mh.AtMost("size_kb", 50.0)])
    pruner = _pruner(problem)
    assert pruner.decide(0, 9, {"accuracy": 0.1, "gap": 0.9, "size_kb": 80.0}).prune  # before the end: at once
    assert not pruner.decide(1, 27, {"accuracy": 0.1, "gap": 0.9, "size_kb": 80.0}).prune
    assert not pruner.decide(2, 30, {"accuracy": 0.0, "gap": 1.0}).prune and pruner.rung(0) == {}
    hyperband = mh.pruners.Hyperband(1, 27, 3)
    hyperband.setup(problem)
    assert hyperband.rung_steps == [1, 3, 9] and not hyperband.decide(0, 27, {"size_kb": 80.0}).prune


def test_the_dominated_rule_judges_the_objectives_a_report_carries_and_not_the_last_step():
    pruner = mh.pruners.DominatedPruner(margin=0.0, min_reports=2, max_resource=5)
    pruner.setup(_problem())
    for n, acc in enumerate([0.8, 0.9]):
        assert not pruner.decide(n, 1, {"accuracy": acc}).prune
    assert pruner.decide(2, 1, {"accuracy": 0.5}).prune  # size-like objective missing: judged on accuracy
    for n, acc in enumerate([0.8, 0.9]):
        pruner.decide(n, 5, {"accuracy": acc, "gap": 0.1})
    assert not pruner.decide(2, 5, {"accuracy": 0.5, "gap": 0.2}).prune  # its last report: nothing left to save
    assert mh.pruners.DominatedPruner().get_params()["max_resource"] is None
    with pytest.raises(mh.ConfigError, match="max_resource must be a positive number"):
        mh.pruners.DominatedPruner(max_resource=0).setup(_problem())


def test_the_dominated_rule_counts_only_reports_it_can_compare():
    pruner = mh.pruners.DominatedPruner(margin=0.0, min_reports=2)
    pruner.setup(_problem())
    for n in range(2):
        assert not pruner.decide(n, 1, {"val_loss": 0.5}).prune  # no objective: neither judged nor a comparison
    assert not pruner.decide(2, 1, {"accuracy": 0.9, "gap": 0.1}).prune
    assert not pruner.decide(3, 1, {"accuracy": 0.1, "gap": 0.2}).prune  # one comparable report of the two needed
    assert pruner.decide(4, 1, {"accuracy": 0.05, "gap": 0.3}).prune


def test_hyperband_turns_go_to_reports_it_ranks():
    hyperband = mh.pruners.Hyperband(1, 27, 3)
    hyperband.setup(_problem([mh.AtMost("size_kb", 50.0)]))
    assert not hyperband.decide(0, 1, {"val_loss": 0.3}).prune  # nothing to rank: no bracket yet
    assert not hyperband.decide(1, 27, {"accuracy": 0.9, "gap": 0.1}).prune  # a full trial's last report
    stop = hyperband.decide(2, 1, {"accuracy": 0.9, "gap": 0.1, "size_kb": 80.0})
    assert stop.prune and "breaks the hard bound" in stop.reason
    assert not hyperband.decide(3, 1, {"accuracy": 0.5, "gap": 0.1}).prune
    hyperband.decide(0, 2, {"accuracy": 0.5, "gap": 0.1})
    assert (hyperband.bracket(3), hyperband.bracket(0)) == (0, 1)  # in the order of their first ranked report


def test_the_position_of_a_rungs_newest_report_is_the_full_orders():
    from moo_hpo.pruners.base import position_of_last, rank_order

    rng = np.random.default_rng(0)
    for _ in range(3000):  # ties, copies, broken bounds and unreported objectives
        n, m = int(rng.integers(1, 30)), int(rng.integers(1, 4))
        Y = rng.integers(0, 4, size=(n, m)).astype(float) if rng.random() < 0.6 else rng.normal(size=(n, m))
        if rng.random() < 0.3:
            Y[rng.random(n) < 0.2, int(rng.integers(m))] = np.inf
        if rng.random() < 0.2 and n > 1:
            Y[-1] = Y[int(rng.integers(n - 1))]
        violation = np.where(rng.random(n) < 0.3, rng.integers(0, 3, n).astype(float), 0.0)
        assert position_of_last(Y, violation) == int(np.flatnonzero(rank_order(Y, violation) == n - 1)[0])


def test_a_report_a_hair_below_the_first_rung_is_at_it_and_not_said_to_be_below(caplog):
    # 3 x 0.7 = 2.0999999999999996, judged at the rung 2.1: it was also said never to have been judged
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("acc")], optimizer="random", seed=0,
                     pruner=mh.pruners.MOASHA(min_resource=2.1, max_resource=100, reduction_factor=3))
    trial = study.ask()
    study.report(trial, 3 * 0.7, {"acc": 0.5})
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.tell(trial, {"acc": 0.5})
    assert "below the pruner's first rung" not in caplog.text and "where a rung sits" in caplog.text


def test_a_copy_of_a_stopped_trial_s_point_says_why_it_ranks_last():
    # it ranked behind dominated reports with no word of why: the note named only copies of points the rung kept
    pruner = _pruner(max_resource=9)
    for n, point in enumerate([(0.8, 0.1), (0.9, 0.3), (0.5, 0.5), (0.4, 0.6)]):
        pruner.decide(n, 1, {"accuracy": point[0], "gap": point[1]})
    assert 1 not in pruner.promoted(0)  # second of two non-dominated reports: stopped
    copy = pruner.decide(4, 1, {"accuracy": 0.9, "gap": 0.3})
    assert copy.prune and copy.reason.endswith("ranked 5 of 5, outside the best 1/3 (the same point as trial #1's report: "
                                               "a copy ranks behind every distinct report)")
