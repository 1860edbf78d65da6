"""The fairness audit with a held-out split: validation and held-out figures side by side, and the flag for a
bound met on validation but broken on held-out data."""

from __future__ import annotations

import html
import json
import re

import pytest

import moo_hpo as mh

# trial -> validation (accuracy, eo_diff), held-out (accuracy, eo_diff)
FIGURES = {
    0: ((0.86, 0.09), (0.85, 0.10)),   # the most accurate; above the bound on both
    1: ((0.84, 0.04), (0.83, 0.07)),   # the most accurate within 0.05 on validation, above it on held-out data
    2: ((0.82, 0.02), (0.815, 0.03)),  # within the bound on both
    3: ((0.80, 0.05), (0.79, 0.04)),   # dominated by #2 on validation: not audited
}


def _groups(rate: float) -> list[dict]:
    return [{"sex": g, "count": 50, "accuracy": 0.8, "selection_rate": rate, "tpr": rate + 0.3, "fpr": rate / 4} for g in ("Female", "Male")]


@pytest.fixture(scope="module")
def study_with_holdout():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     [mh.AtMost("eo_diff", 0.05)], optimizer="random", seed=0, name="held-out audit")
    for trial in study.ask(len(FIGURES)):
        (acc, gap), (h_acc, h_gap) = FIGURES[trial.number]
        study.tell(trial, {"accuracy": acc, "eo_diff": gap, "holdout_accuracy": h_acc, "holdout_eo_diff": h_gap},
                   extra={"fairness": {"by_group": _groups(0.2), "holdout_by_group": _groups(0.25)}})
    return study


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", page)))


def test_held_out_metrics_are_recorded_but_never_objectives_or_constraints(study_with_holdout):
    study = study_with_holdout
    assert all({"holdout_accuracy", "holdout_eo_diff"} <= set(t.metrics) for t in study.trials)
    # #1 breaks the bound on held-out data (0.07 > 0.05) and is still feasible: the study selects on validation only
    assert {t.number for t in study.feasible_trials()} == {1, 2, 3}
    assert {t.number for t in study.pareto_front()} == {1, 2}


def test_the_audit_reports_validation_and_held_out_figures_side_by_side(study_with_holdout, tmp_path):
    audit = mh.fairness_audit(study_with_holdout)
    assert audit.holdout and audit.bound == 0.05
    assert [r["number"] for r in audit.rows] == [0, 1, 2]
    by_number = {r["number"]: r for r in audit.rows}
    for n, r in by_number.items():
        (acc, gap), (h_acc, h_gap) = FIGURES[n]
        assert (r["accuracy"], r["gap"], r["holdout_accuracy"], r["holdout_gap"]) == (acc, gap, h_acc, h_gap)
        assert len(r["holdout_by_group"]) == 2
    assert "no choice was made on" in audit.note and "optimistic" in audit.note

    md = audit.to_markdown()
    assert "| trial | accuracy (validation) | accuracy (held-out) | eo_diff (validation) | eo_diff (held-out) |" in md
    assert "| #2 | 0.82 | 0.815 | 0.02 | 0.03 | yes | yes | both classes |" in md
    assert "### Trial #2 by group (validation)" in md and "### Trial #2 by group (held-out)" in md
    assert audit.note in md

    page = audit.to_html()
    text = _text(page)
    assert "eo_diff (validation)" in text and "eo_diff (held-out)" in text and "by group (held-out)" in text
    assert "audited trials on held-out data" in page  # the held-out points in the figure
    assert audit.note in text

    data = json.loads(audit.to_json())
    assert data["holdout"] is True and data["holdout_metrics"] == ["holdout_accuracy", "holdout_eo_diff"]
    assert data["note"] == audit.note
    assert {t["number"]: t["holdout_gap"] for t in data["trials"]} == {0: 0.10, 1: 0.07, 2: 0.03}
    for suffix in (".html", ".md", ".json"):
        assert audit.save(tmp_path / f"audit{suffix}").stat().st_size > 100


def test_a_bound_met_on_validation_but_broken_on_held_out_data_is_flagged(study_with_holdout):
    audit = mh.fairness_audit(study_with_holdout)
    flags = {r["number"]: (r["meets_bound"], r["holdout_meets_bound"], r["broken_on_holdout"]) for r in audit.rows}
    assert flags == {0: (False, False, False), 1: (True, False, True), 2: (True, True, False)}
    # the recommended models: chosen on validation figures, shown with both
    assert [(c["role"], c["number"]) for c in audit.choices] == [("most accurate", 0), ("most accurate within the bound", 1)]
    fair = audit.choices[1]
    assert (fair["gap"], fair["holdout_gap"], fair["broken_on_holdout"]) == (0.04, 0.07, True)
    assert "within 0.05 (trial #1)" in audit.summary and "costs 0.02 accuracy (0.02 on held-out data)" in audit.summary
    assert "On held-out data trial #1 is NOT within the bound: its gap there is 0.07." in audit.summary
    assert "meet the bound of 0.05 on validation data but break it on held-out data (flagged BROKEN ON HELD-OUT): #1." in audit.summary

    md = audit.to_markdown()
    assert "| #1 | 0.84 | 0.83 | 0.04 | 0.07 | yes | BROKEN ON HELD-OUT | both classes |" in md
    assert "| most accurate within the bound | #1 | 0.84 | 0.83 | 0.04 | 0.07 | yes | BROKEN ON HELD-OUT |" in md
    text = _text(audit.to_html())
    assert "Recommended models" in text and text.count("BROKEN ON HELD-OUT") >= 3  # note, recommended, audited
    data = json.loads(audit.to_json())
    assert [t["broken_on_holdout"] for t in data["trials"]] == [False, True, False]
    assert data["choices"][1]["broken_on_holdout"] is True

    # with a looser bound, #1 meets it on both and nothing is flagged
    loose = mh.fairness_audit(study_with_holdout, bound=0.08)
    assert not any(r["broken_on_holdout"] for r in loose.rows) and "BROKEN" not in loose.summary
    assert "On held-out data trial #1 is within the bound too." in loose.summary


def test_a_negative_cost_on_held_out_data_is_said_in_words():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random", seed=0)
    trials = study.ask(2)
    study.tell(trials[0], {"accuracy": 0.86, "eo_diff": 0.09, "holdout_accuracy": 0.84, "holdout_eo_diff": 0.10})
    study.tell(trials[1], {"accuracy": 0.85, "eo_diff": 0.04, "holdout_accuracy": 0.845, "holdout_eo_diff": 0.045})
    summary = mh.fairness_audit(study, bound=0.05).summary
    assert "costs 0.01 accuracy (on held-out data trial #1 is the more accurate one, by 0.005)" in summary
    assert "On held-out data trial #1 is within the bound too." in summary


def test_without_held_out_metrics_the_audit_says_what_it_evaluates_on(two_objective_study):
    audit = mh.fairness_audit(two_objective_study)
    assert not audit.holdout and "holdout_gap" not in audit.rows[0]
    expected = "All figures are measured on the data the study optimised on"
    how = "FairnessGap(X_val, y_val, sensitive=A_val, holdout=(X_test, y_test, A_test))"
    for text in (audit.note, audit.to_markdown(), _text(audit.to_html()), json.loads(audit.to_json())["note"]):
        assert expected in text and how in text and "holdout_eo_diff" in text
    assert "(held-out)" not in audit.to_markdown()


def test_held_out_accuracy_without_held_out_gaps_shows_what_there_is():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random", seed=0)
    for trial in study.ask(3):
        study.tell(trial, {"accuracy": 0.8 + 0.01 * trial.number, "eo_diff": 0.01 * (trial.number + 1), "holdout_accuracy": 0.79})
    audit = mh.fairness_audit(study, bound=0.05)
    assert audit.holdout and all(r["holdout_gap"] is None and r["holdout_meets_bound"] is None for r in audit.rows)
    assert "(held-out: accuracy 0.79)" in audit.summary
    assert "| 0.82 | 0.79 | 0.03 | - | yes | - |" in audit.to_markdown()


@pytest.mark.slow
def test_the_demo_audit_shows_validation_and_held_out_figures():
    from moo_hpo.demo import AdultMLP, run_demo

    task = AdultMLP()
    assert len(task.y_train) == 8000 and len(task.y_valid) == 4000 and len(task.y_test) == 4000
    study = run_demo(n_trials=2, seed=0, storage=None, show_progress=False)
    assert [o.name for o in study.objectives] == ["accuracy", "eo_diff", "latency_p99_ms", "size_kb"]
    assert [c.name for c in study.constraints] == ["eo_diff"]
    for t in study.trials:
        assert {"holdout_accuracy", "holdout_balanced_accuracy", "holdout_eo_diff", "holdout_dp_diff"} <= set(t.metrics)
        assert t.extra["fairness"]["holdout_by_group"] and {"sex"} <= set(t.extra["fairness"]["holdout_by_group"][0])
    audit = mh.fairness_audit(study, accuracy="accuracy", gap="eo_diff")
    assert audit.holdout and all(r["holdout_accuracy"] is not None and r["holdout_gap"] is not None for r in audit.rows)
    md = audit.to_markdown()
    assert "accuracy (held-out)" in md and "eo_diff (held-out)" in md and "(held-out: accuracy" in audit.summary


@pytest.mark.slow
def test_the_held_out_audit_renders_in_chromium(study_with_holdout, tmp_path):
    from tests.reports.test_browser import attributes, render

    dom = render(tmp_path, mh.fairness_audit(study_with_holdout).to_html(), "--dump-dom")
    errors, plots = attributes(dom)
    assert errors == [] and plots >= 1 and "BROKEN ON HELD-OUT" in dom


def test_a_misspelled_metric_is_refused_with_what_the_study_measures(study_with_holdout):
    with pytest.raises(mh.ConfigError, match=r"no complete trial has both 'accuracy' and 'eo_dif'; expected a study that "
                                             r"measures them \(its complete trials measure \['accuracy', 'eo_diff', "
                                             r"'holdout_accuracy', 'holdout_eo_diff'\]; 'eo_diff' for 'eo_dif'\?\)"):
        mh.fairness_audit(study_with_holdout, accuracy="accuracy", gap="eo_dif")
    # a held-out name is never offered: the audit refuses it
    with pytest.raises(mh.ConfigError, match=r"'accuracy' for 'balanced_accuracy'\?\)$"):
        mh.fairness_audit(study_with_holdout, accuracy="balanced_accuracy")
    with pytest.raises(mh.ConfigError, match=r"'accuracy' for 'acc'\?\)$"):  # an abbreviation of one name
        mh.fairness_audit(study_with_holdout, accuracy="acc")


def test_ratios_bad_bounds_and_unknown_trials_are_refused_and_no_bound_is_a_dash(study_with_holdout):
    with pytest.raises(mh.ConfigError, match="reads a gap, where lower is fairer; received the ratio 'dp_ratio'.*'dp_diff'"):
        mh.fairness_audit(study_with_holdout, gap="dp_ratio")
    for bad in ("0.1", -1, float("nan"), True):
        with pytest.raises(mh.ConfigError, match="bound must be a finite number >= 0"):
            mh.fairness_audit(study_with_holdout, bound=bad)
    with pytest.raises(mh.ConfigError, match=r"trials \[11\] are not in the study; expected trial numbers 0..3"):
        mh.fairness_audit(study_with_holdout, trials=[3, 11])
    with pytest.raises(mh.ConfigError, match="chooses on the figures the study selected on.*audit 'accuracy' and 'eo_diff'"):
        mh.fairness_audit(study_with_holdout, gap="holdout_eo_diff")
    unbounded = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("dp_diff")], seed=0)
    for trial in unbounded.ask(3):
        unbounded.tell(trial, {"accuracy": 0.8 + 0.01 * trial.number, "dp_diff": 0.05 * (trial.number + 1)})
    audit = mh.fairness_audit(unbounded, gap="dp_diff")
    assert audit.bound is None and all(r["meets_bound"] is None for r in audit.rows)
    assert "with a demographic-parity gap of" in audit.summary  # "a", not "an", before a consonant
    assert "| - |" in audit.to_markdown()


def test_the_audit_defines_its_gap_shows_the_differences_and_says_when_nothing_holds_out(study_with_holdout):
    audit = mh.fairness_audit(study_with_holdout)
    md = audit.to_markdown()
    assert "eo_diff (equalized-odds gap): the larger of the largest between-group differences in true-positive rate" in md
    assert "Groups: sex (2 groups: Female, Male)." in md  # between whom
    # per group: readable columns and the largest difference of each rate (tpr 0.5 - 0.5 = 0 here)
    assert "| sex | people | accuracy | selection rate (predicted positive) | tpr (true-positive rate) |" in md
    assert "| largest difference |  | 0 | 0 | 0 | 0 |" in md
    assert "On the held-out data, #2 meets eo_diff <= 0.05 too." in md
    strict = mh.fairness_audit(study_with_holdout, bound=0.02)  # #2 reaches 0.03 on held-out data
    assert "No audited model meets eo_diff <= 0.02 on the held-out data" in strict.to_markdown()
    assert "No audited model meets" in _text(strict.to_html())


def test_a_model_that_meets_the_bound_on_held_out_data_only_is_not_shown_as_good_news(tmp_path):
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], seed=0)
    for trial, (gap, held_out_gap) in zip(study.ask(2), [(0.09, 0.08), (0.07, 0.04)], strict=True):
        study.tell(trial, {"accuracy": 0.8, "eo_diff": gap, "holdout_accuracy": 0.8, "holdout_eo_diff": held_out_gap},
                   extra={"fairness": {"by_group": _groups(0.2), "holdout_by_group": _groups(0.25)}})
    audit = mh.fairness_audit(study, bound=0.05)
    said = ("#1 meets eo_diff <= 0.05 on the held-out data only, not on the validation data that models are chosen on: not a model "
            "to choose by its held-out figure.")
    assert said in audit.to_markdown()
    page = audit.to_html()
    assert "class='note'><b>#1 meets eo_diff &lt;= 0.05 on the held-out data only" in page and "class='ok'" not in page


def test_the_audit_says_when_a_group_behind_the_gap_is_tiny():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("tpr_diff")], seed=0)
    groups = [{"eth": "W", "count": 900, "positives": 300, "negatives": 600, "selection_rate": 0.3, "tpr": 0.8, "fpr": 0.1},
              {"eth": "O", "count": 12, "positives": 1, "negatives": 11, "selection_rate": 0.0, "tpr": 0.0, "fpr": 0.0}]
    for trial in study.ask(2):
        study.tell(trial, {"accuracy": 0.8 + 0.01 * trial.number, "tpr_diff": 0.8 - 0.1 * trial.number},
                   extra={"fairness": {"by_group": groups}})
    summary = mh.fairness_audit(study, gap="tpr_diff").summary
    assert ("Group O (1 positive label) has fewer than 10 positive labels in the validation data: its TPR rests on so "
            "few people that a tpr_diff set by it is mostly chance") in summary
    assert "negative label" not in summary  # an FPR plays no part in tpr_diff (O has 11 negatives anyway)

    none = [{**groups[0]}, {**groups[1], "positives": 0, "negatives": 12, "tpr": None}]  # O: no positive at all
    study.tell(study.ask(), {"accuracy": 0.9, "tpr_diff": 0.8}, extra={"fairness": {"by_group": none}})
    markdown = mh.fairness_audit(study, gap="tpr_diff", trials=[2]).to_markdown()
    # the table shows how the gap was reached: O's undefined TPR counts as 0, as in fairlearn's gap
    assert "| largest difference |  |  |  | 0.3 | 0.8 (an undefined rate counted as 0) | 0.1 |" in markdown
    # where a defined rate is 0 anyway, counting the undefined one as 0 changes nothing: no note
    zero = [*none, {"eth": "Z", "count": 50, "positives": 10, "negatives": 40, "selection_rate": 0.0, "tpr": 0.0, "fpr": 0.0}]
    study.tell(study.ask(), {"accuracy": 0.85, "tpr_diff": 0.8}, extra={"fairness": {"by_group": zero}})
    markdown = mh.fairness_audit(study, gap="tpr_diff", trials=[3]).to_markdown()
    assert "| largest difference |  |  |  | 0.3 | 0.8 | 0.1 |" in markdown and "counted as 0)" not in markdown.split("by group")[-1]
    summary = mh.fairness_audit(study, gap="tpr_diff", trials=[2]).summary  # no positive at all: undefined, not "few"
    assert ("Group O (0 positive labels) has no positive labels in the validation data: its TPR is undefined (a rate "
            "over nobody, counted as 0), so a tpr_diff set by it means nothing") in summary
    for table in (groups, none):  # few positives, and none
        assert "an eo_diff set by" in mh.fairness_audit(_told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], [
            {"accuracy": 0.8, "eo_diff": 0.3}], extra={0: {"fairness": {"by_group": table}}})).summary


def test_the_audit_keeps_to_the_studys_other_hard_limits_and_chooses_among_the_trials_given():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     [mh.AtMost("size_kb", 300)], optimizer="random", seed=0)
    figures = {0: (0.90, 0.10, 680.0), 1: (0.86, 0.06, 120.0), 2: (0.84, 0.03, 90.0)}  # #0: the most accurate, too big
    for trial in study.ask(3):
        acc, gap, size = figures[trial.number]
        study.tell(trial, {"accuracy": acc, "eo_diff": gap, "size_kb": size},
                   extra={"fairness": {"by_group": _groups(0.2)}})
    audit = mh.fairness_audit(study, bound=0.05)
    assert [c["number"] for c in audit.choices] == [1, 2] and 0 not in audit.front
    assert "(size_kb <= 300): 1 trial breaking them is left out (#0)." in audit.summary
    page = audit.to_html()  # drawn apart from the trials that merely lost, so the front does not look wrong
    assert "breaking the study&#x27;s other hard limits (left out)" in page or "breaking the study's other hard limits (left out)" in page
    assert [p["within_limits"] for p in audit.points] == [False, True, True]
    picked = mh.fairness_audit(study, bound=0.05, trials=[2])
    assert [c["number"] for c in picked.choices] == [2] and "trial #2" in picked.summary and "#1" not in picked.summary
    assert "Every audited trial keeps to the study's other hard limits" in picked.summary
    two = mh.fairness_audit(study, bound=0.05, trials=[0, 1])  # #0 breaks the size limit: left out of the choices
    assert [c["number"] for c in two.choices] == [1] and "1 audited trial breaking them is left out (#0)." in two.summary
    assert "no audited trial meets the bound of 0.05" in two.summary
    big = mh.fairness_audit(study, bound=0.05, trials=[0])
    assert [c["number"] for c in big.choices] == [0] and "No audited trial keeps to the study's other hard limits" in big.summary
    failed = study.ask()
    study.tell(failed, error="diverged")
    with pytest.raises(mh.ConfigError, match=r"none of the trials \[3\] is complete"):
        mh.fairness_audit(study, trials=[failed.number])


def test_the_audit_lists_a_configuration_run_again_with_the_same_figures_once():
    def exact(config):
        return {"accuracy": 0.8 + 0.1 * config["t"], "eo_diff": 0.02 + 0.1 * config["t"]}

    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0)
    study.optimize(exact, n_trials=4, show_progress=False)
    (repeat,) = study.reevaluate(exact, top_k=1, repeats=1, show_progress=False)
    audit = mh.fairness_audit(study)
    assert repeat.number not in audit.front and audit.front == [t.number for t in study.pareto_front()]


def _told(objectives, rows, constraints=(), extra=None):
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), objectives, list(constraints), optimizer="random", seed=0)
    for trial, metrics in zip(study.ask(len(rows)), rows, strict=True):
        if metrics is None:
            study.tell(trial, error="diverged")
        else:
            study.tell(trial, metrics, extra=(extra or {}).get(trial.number))
    return study


def test_an_error_rate_audited_as_accuracy_is_lower_is_better():
    rows = [{"error": 0.14, "eo_diff": 0.08}, {"error": 0.30, "eo_diff": 0.02}, {"error": 0.16, "eo_diff": 0.04}]
    for objectives in ([mh.Minimize("error"), mh.Minimize("eo_diff")], [mh.Minimize("eo_diff")]):  # said by the study, or by the name
        audit = mh.fairness_audit(_told(objectives, rows), accuracy="error", bound=0.05)
        assert [r["number"] for r in audit.rows] == [0, 2, 1]  # best first
        assert [(c["role"], c["number"]) for c in audit.choices] == [("most accurate", 0), ("most accurate within the bound", 2)]
        assert "(trial #2) reaches 0.16 with a gap of 0.04: meeting the bound costs 0.02 error" in audit.summary


def test_the_summary_tells_one_class_models_apart_and_a_gap_from_its_bound():
    one_class = {"fairness": {"by_group": [{"sex": g, "count": 5, "selection_rate": 0.0} for g in "FM"]}}
    both = {"fairness": {"by_group": [{"sex": g, "count": 5, "selection_rate": 0.3} for g in "FM"]}}
    rows = [{"accuracy": 0.86, "eo_diff": 0.09}, {"accuracy": 0.76, "eo_diff": 0.0}]
    audit = mh.fairness_audit(_told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows, extra={0: both, 1: one_class}), bound=0.05)
    assert "no trial that predicts both classes meets the bound of 0.05 (the smallest gap among them is 0.09; only models " \
           "that predict one class for everyone do)." in audit.summary
    assert "Trial #1 predicts one class only (its accuracy is the base rate" in audit.summary
    near = [{"accuracy": 0.86, "eo_diff": 0.050004}, {"accuracy": 0.84, "eo_diff": 0.049996}]
    audit = mh.fairness_audit(_told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], near), bound=0.05)
    assert "with an equalized-odds gap of 0.050004;" in audit.summary and "(trial #1) reaches 0.84 with a gap of 0.049996" in audit.summary


def test_a_choice_that_selects_no_one_in_a_group_is_flagged():
    # a model that selects no woman and 1% of men meets an equalized-odds bound of 0.05: the audit recommended it
    # without a word
    lopsided = {"fairness": {"by_group": [{"sex": "Female", "count": 50, "selection_rate": 0.0},
                                          {"sex": "Male", "count": 90, "selection_rate": 0.011}]}}
    both = {"fairness": {"by_group": [{"sex": g, "count": 70, "selection_rate": 0.3} for g in "FM"]}}
    rows = [{"accuracy": 0.86, "eo_diff": 0.09}, {"accuracy": 0.7655, "eo_diff": 0.03}, {"accuracy": 0.80, "eo_diff": 0.2}]
    study = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows, extra={0: both, 1: lopsided, 2: lopsided})
    audit = mh.fairness_audit(study, bound=0.05)
    assert [(c["role"], c["number"]) for c in audit.choices] == [("most accurate", 0), ("most accurate within the bound", 1)]
    assert ("Trial #1, a choice above, predicts one class for everyone in a group (sex=Female (selects no one)): its gap "
            "there compares rates of 0 or 1, which say nothing of how it treats that group's people") in audit.summary
    assert "small whatever" not in audit.summary  # its gap may be large (a group selected entirely, another not)
    assert "| #1 | 0.7655 | 0.03 | yes | both classes; one class in sex=Female (selects no one) |" in audit.to_markdown()
    assert "| #0 | 0.86 | 0.09 | no | both classes |" in audit.to_markdown()
    hover = _text(audit.to_html())  # the figure's points name their figures, not the configuration alone
    assert "trial #1: accuracy 0.7655, eo_diff 0.03" in hover
    assert "Trial #0, a choice" not in audit.summary and "Trial #2, a choice" not in audit.summary  # only the choices
    fair = study.recommend("best", objective="eo_diff")  # and the recommendation says so too
    assert fair.trial.number == 1 and fair.caution == "this model predicts one class for everyone in a group: sex=Female (selects no one)"
    assert study.recommend("best", objective="accuracy").caution is None
    two = {"sex_fairness": both["fairness"], "race_fairness": {"by_group": [{"race": "A", "count": 9, "selection_rate": 0.0},
                                                                           {"race": "B", "count": 90, "selection_rate": 0.2}]}}
    probes = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], [{"accuracy": 0.8, "eo_diff": 0.01}], extra={0: two})
    assert probes.recommend("best", objective="eo_diff").caution.endswith("race=A (selects no one)")  # not the first table


def test_a_failed_trial_asked_for_is_listed_as_failed():
    rows = [{"accuracy": 0.86, "eo_diff": 0.09}, None, {"accuracy": 0.8, "eo_diff": 0.02}]
    audit = mh.fairness_audit(_told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows), bound=0.05, trials=[0, 1, 2])
    failed = next(r for r in audit.rows if r["number"] == 1)
    assert failed["status"] == "failed" and failed["meets_bound"] is None
    assert "| #1 | - | - | - | - (failed) |" in audit.to_markdown()


def test_the_held_out_verdict_does_not_advise_a_constraint_the_study_has(study_with_holdout):
    tight = mh.fairness_audit(study_with_holdout, bound=0.02)  # a bound of the audit's own: nothing meets it held out
    assert "or tune with the bound as a hard constraint" in tight._holdout_verdict()
    study = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                  [{"accuracy": 0.86, "eo_diff": 0.04, "holdout_accuracy": 0.85, "holdout_eo_diff": 0.09}],
                  constraints=[mh.AtMost("eo_diff", 0.05)])
    verdict = mh.fairness_audit(study)._holdout_verdict()
    assert verdict.startswith("No audited model meets eo_diff <= 0.05 on the held-out data")
    assert "tune with a tighter bound than the one to meet, for a margin" in verdict and "as a hard constraint" not in verdict


def test_the_json_has_no_nan(study_with_holdout):
    study = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], [{"accuracy": 0.86, "eo_diff": 0.04}],
                  extra={0: {"fairness": {"by_group": [{"sex": g, "count": 5, "tpr": float("nan")} for g in "FM"]}}})
    text = mh.fairness_audit(study).to_json()
    assert "NaN" not in text and json.loads(text)["trials"][0]["by_group"][0]["tpr"] is None


def test_an_objective_of_ones_own_keeps_the_per_group_tables_through_result():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, sex = rng.normal(size=(300, 3)), rng.choice(["F", "M"], size=300)
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    gap = mh.objectives.FairnessGap(X, y, sensitive=sex)

    def evaluate(config):  # what a TOML study's entry does: no probes, its own metrics
        model = LogisticRegression(C=config["C"]).fit(X, y)
        measured = gap.measure(model)
        return mh.Result({"accuracy": model.score(X, y), **measured}, extra=measured.extra)

    study = mh.Study(mh.Space({"C": mh.Float(0.01, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0)
    study.optimize(evaluate, n_trials=3, show_progress=False)
    audit = mh.fairness_audit(study)
    assert all(len(r["by_group"]) == 2 for r in audit.rows) and "### Trial #" in audit.to_markdown()


def test_an_audit_of_weighted_rows_shows_each_groups_weight_and_says_the_rates_are_weighted():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    sex = rng.choice(["Female", "Male"], size=400)
    y = (X[:, 0] + 0.5 * (sex == "Male") + rng.normal(scale=0.5, size=400) > 0.3).astype(int)
    weight = rng.uniform(0.5, 3.0, size=400)
    probe = mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=["eo_diff"], sample_weight=weight)
    study = mh.Study(mh.Space({"C": mh.Float(0.01, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], seed=0)
    for trial in study.ask(2):
        model = LogisticRegression(C=trial.config["C"]).fit(X, y)
        measured = probe.measure(model)
        study.tell(trial, {"accuracy": model.score(X, y), **measured}, extra=measured.extra)
    md = mh.fairness_audit(study).to_markdown()
    assert "| sensitive_feature_0 | people | positives (actual) | negatives (actual) | weight (sum of the rows' weights) |" in md
    assert f"| Female | {int((sex == 'Female').sum())} |" in md
    assert "the gap and the rates are weighted, the people and labels counted are rows" in md
    assert "Groups: sex (2 groups: Female, Male)." not in md  # the probe names the column sensitive_feature_0
    assert "Groups: the sensitive feature (2 groups: Female, Male)." in md
    assert "held-out rows carry none" not in md
    # weighted validation beside unweighted held-out rows: warned as the probe is made, and said in the audit
    with pytest.warns(mh.MooHpoWarning, match="held-out rows are unweighted.*pass holdout_sample_weight"):
        held = mh.objectives.FairnessGap(X, y, sensitive=sex, metrics=["eo_diff"], sample_weight=weight, holdout=(X, y, sex))
    with pytest.warns(mh.MooHpoWarning, match="Accuracy: sample_weight weighs the validation rows"):
        mh.objectives.Accuracy(X, y, sample_weight=weight, holdout=(X, y))
    study = mh.Study(mh.Space({"C": mh.Float(0.01, 10, log=True)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], seed=0)
    trial = study.ask()
    measured = held.measure(LogisticRegression(C=trial.config["C"]).fit(X, y))
    study.tell(trial, {"accuracy": 0.8, "holdout_accuracy": 0.8, **measured}, extra=measured.extra)
    assert "the held-out rows carry none (no holdout_sample_weight): their figures count rows" in mh.fairness_audit(study).to_markdown()


def test_an_accuracy_and_a_gap_given_the_wrong_way_round_are_refused(study_with_holdout):
    with pytest.raises(mh.ConfigError, match=r"the study maximizes 'accuracy': were the two swapped\? \(accuracy='accuracy', gap='eo_diff'\)"):
        mh.fairness_audit(study_with_holdout, accuracy="eo_diff", gap="accuracy")
    with pytest.raises(mh.ConfigError, match="an accuracy and a fairness gap; received 'size_kb' for both"):
        mh.fairness_audit(study_with_holdout, accuracy="size_kb", gap="size_kb")
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Minimize("dp_diff"), mh.Minimize("eo_diff")], seed=0)
    study.tell(study.ask(), {"dp_diff": 0.1, "eo_diff": 0.2, "balanced_accuracy": 0.7})
    with pytest.raises(mh.ConfigError, match="'dp_diff' is a fairness gap"):
        mh.fairness_audit(study, accuracy="dp_diff", gap="eo_diff")
    with pytest.raises(mh.ConfigError, match="'balanced_accuracy' is a measure of accuracy"):
        mh.fairness_audit(study, accuracy="eo_diff", gap="balanced_accuracy")
    assert mh.fairness_audit(study, accuracy="balanced_accuracy", gap="eo_diff").rows  # the right way round


def test_the_summary_says_the_complete_trials_keep_to_the_other_limits():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     [mh.AtMost("size_kb", 300)], seed=0)
    for acc, gap in ((0.8, 0.1), (0.7, 0.05)):
        study.tell(study.ask(), {"accuracy": acc, "eo_diff": gap, "size_kb": 100})
    study.tell(study.ask(), error="diverged")
    assert "Every complete trial keeps to the study's other hard limits (size_kb <= 300)." in mh.fairness_audit(study).summary


def test_a_prefixed_error_is_lower_is_better_and_a_renamed_gap_keeps_its_tables():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Minimize("test_error"), mh.Minimize("val_eo_diff")], seed=0)
    for err, gap in ((0.1, 0.05), (0.4, 0.01)):  # an objective of the user's own renames the probe's eo_diff
        study.tell(study.ask(), {"test_error": err, "val_eo_diff": gap}, extra={"fairness": {"by_group": _groups(0.2)}})
    audit = mh.fairness_audit(study, accuracy="test_error", gap="val_eo_diff")
    assert "The most accurate model (trial #0) reaches test_error 0.1" in audit.summary
    assert all(len(r["by_group"]) == 2 for r in audit.rows)
    with pytest.raises(mh.ConfigError, match="'cv_accuracy' is a measure of accuracy"):
        mh.fairness_audit(study, accuracy="val_eo_diff", gap="cv_accuracy")
    worst = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("worst_group_error")], seed=0)
    worst.tell(worst.ask(), {"accuracy": 0.8, "worst_group_error": 0.3})
    assert mh.fairness_audit(worst, gap="worst_group_error").rows  # an error can be a gap: lower is fairer


def test_a_gap_the_probe_did_not_measure_shows_none_of_its_tables():
    # a race gap computed by the user's objective beside a sex probe's tables: the audit showed the sex tables for it
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("race_tpr_diff"),
                                                       mh.Minimize("my_gap")], seed=0)
    sex = {"by_group": _groups(0.2), "gaps": {"tpr_diff": 0.03}}
    study.tell(study.ask(), {"accuracy": 0.8, "race_tpr_diff": 0.1, "my_gap": 0.03}, extra={"fairness": sex})
    race = mh.fairness_audit(study, gap="race_tpr_diff")
    assert race.rows[0]["by_group"] == [] and "Groups: sex" not in race.to_markdown()
    assert "### Trial #0 by group" not in race.to_markdown()
    assert mh.fairness_audit(study, gap="my_gap").rows[0]["by_group"] == sex["by_group"]  # its value is the probe's
    other = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("my_gap")], seed=0)
    other.tell(other.ask(), {"accuracy": 0.8, "my_gap": 0.2}, extra={"fairness": sex})  # not the probe's value
    assert mh.fairness_audit(other, gap="my_gap").rows[0]["by_group"] == []
    two = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("my_gap")], seed=0)
    race = {"by_group": [{"race": g, "count": 9, "selection_rate": 0.0} for g in ("A", "B")], "gaps": {"race_tpr_diff": 0.0}}
    zero = {"by_group": _groups(0.2), "gaps": {"tpr_diff": 0.0}}  # both probes' gaps 0: whose is my_gap cannot be told
    two.tell(two.ask(), {"accuracy": 0.76, "my_gap": 0.0}, extra={"fairness": zero, "race_fairness": race})
    assert mh.fairness_audit(two, gap="my_gap").rows[0]["by_group"] == []


def test_the_default_bound_is_the_tightest_hard_one():
    with pytest.warns(UserWarning, match="only the tightest"):
        study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                         [mh.AtMost("eo_diff", 0.2, soft=True), mh.AtMost("eo_diff", 0.1), mh.AtMost("eo_diff", 0.05)], seed=0)
    for acc, gap in ((0.8, 0.1), (0.7, 0.04)):
        study.tell(study.ask(), {"accuracy": acc, "eo_diff": gap})
    assert mh.fairness_audit(study).bound == 0.05
    soft_only = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                         [mh.AtMost("eo_diff", 0.2, soft=True)], seed=0)
    soft_only.tell(soft_only.ask(), {"accuracy": 0.8, "eo_diff": 0.1})
    assert mh.fairness_audit(soft_only).bound == 0.2


def test_one_class_models_are_told_by_the_audited_gaps_own_table():
    study = mh.Study(mh.Space({"t": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("race_eo_diff")], seed=0)
    nobody = [{"race": g, "count": 50, "selection_rate": 0.0} for g in ("a", "b")]
    for acc in (0.8, 0.7):
        study.tell(study.ask(), {"accuracy": acc, "race_eo_diff": 0.0},
                   extra={"sex_fairness": {"by_group": _groups(0.2)}, "race_fairness": {"by_group": nobody}})
    assert all(r["degenerate"] for r in mh.fairness_audit(study, gap="race_eo_diff").rows)


def test_no_model_is_recommended_when_every_trial_within_the_other_limits_predicts_one_class():
    # the summary recommended a one-class model ("the most accurate model (trial #1) reaches accuracy 0.759 with a
    # gap of 0") and then said it was left out of the choices
    one_class = {"fairness": {"by_group": [{"sex": g, "count": 5, "selection_rate": 0.0} for g in "FM"]}}
    both = {"fairness": {"by_group": [{"sex": g, "count": 5, "selection_rate": 0.3} for g in "FM"]}}
    rows = [{"accuracy": 0.84, "eo_diff": 0.3, "tpr_diff": 0.2}, {"accuracy": 0.759, "eo_diff": 0.0, "tpr_diff": 0.0},
            {"accuracy": 0.759, "eo_diff": 0.0, "tpr_diff": 0.0}]
    study = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows, [mh.AtMost("tpr_diff", 0.05)],
                  extra={0: both, 1: one_class, 2: one_class})
    for bound in (None, 0.1):
        audit = mh.fairness_audit(study, bound=bound)
        assert audit.choices == []
        assert audit.summary.startswith("No model to recommend: every trial that keeps to the study's other hard limits "
                                        "(tpr_diff <= 0.05) predicts one class for everyone (#1, #2)")
        assert "The most accurate trial that predicts both classes (trial #0: accuracy 0.84, eo_diff 0.3) breaks those limits." \
               in audit.summary
        assert "Recommended models" not in audit.to_markdown() and "reaches" not in audit.summary
    every = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows[1:], extra={0: one_class, 1: one_class})
    assert mh.fairness_audit(every).summary.startswith("No model to recommend: every trial predicts one class")


def test_audited_trials_are_listed_once_and_a_bool_is_no_trial_number():
    rows = [{"accuracy": 0.84, "eo_diff": 0.3}, {"accuracy": 0.8, "eo_diff": 0.1}]
    study = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows)
    audit = mh.fairness_audit(study, trials=[1, 1, 0])
    assert [r["number"] for r in audit.rows] == [1, 0]
    for given in ([False, True], [1, True]):  # True equals 1: refused before the list is made unique
        with pytest.raises(mh.ConfigError, match="a bool is no trial number"):
            mh.fairness_audit(study, trials=given)


def test_an_audit_of_a_study_that_minimizes_error_names_that_objective_when_accuracy_is_missing():
    rows = [{"error": 0.14, "eo_diff": 0.08}, {"error": 0.30, "eo_diff": 0.02}]
    study = _told([mh.Minimize("error"), mh.Minimize("eo_diff")], rows)
    with pytest.raises(mh.ConfigError, match=r"the study's objective 'error' for 'accuracy'\? \(accuracy='error'\)"):
        mh.fairness_audit(study)


def test_no_held_out_verdict_is_given_on_models_that_predict_one_class():
    one_class = {"fairness": {"by_group": [{"sex": g, "count": 5, "selection_rate": 0.0} for g in "FM"],
                              "holdout_by_group": [{"sex": g, "count": 5, "selection_rate": 0.0} for g in "FM"]}}
    rows = [{"accuracy": 0.759, "eo_diff": 0.0, "holdout_accuracy": 0.75, "holdout_eo_diff": 0.0}] * 2
    audit = mh.fairness_audit(_told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows, extra={0: one_class, 1: one_class}),
                              bound=0.05)
    assert audit.choices == [] and audit.summary.startswith("No model to recommend")
    assert "meet eo_diff <= 0.05 too" not in audit.to_markdown() and "class='ok'" not in audit.to_html()


def test_the_audit_names_a_group_too_small_in_the_held_out_data_too():
    # "On held-out data trial #0 is within the bound too" stood on a group without a negative label there
    fine = [{"sex": g, "count": 500, "positives": 100, "negatives": 400, "selection_rate": 0.3} for g in "FM"]
    held = [fine[0], {"sex": "M", "count": 6, "positives": 6, "negatives": 0, "selection_rate": 0.5}]
    rows = [{"accuracy": 0.84, "eo_diff": 0.04, "holdout_accuracy": 0.83, "holdout_eo_diff": 0.03}]
    study = _told([mh.Maximize("accuracy"), mh.Minimize("eo_diff")], rows,
                  extra={0: {"fairness": {"by_group": fine, "holdout_by_group": held}}})
    summary = mh.fairness_audit(study, bound=0.05).summary
    assert "Group M (0 negative labels) has no negative labels in the held-out data: its FPR is undefined" in summary
    assert "in the validation data" not in summary


def test_an_audit_of_a_study_whose_every_trial_was_pruned_says_so():
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random",
                     seed=0, pruner=mh.pruners.MOASHA(1, 3))
    for _ in range(3):
        trial = study.ask()
        study.report(trial, 1, {"accuracy": 0.7, "eo_diff": 0.2})
        study.tell(trial, status="pruned")
    study.tell(study.ask(), error="out of memory")
    with pytest.raises(mh.ConfigError, match=r"no trial has completed \(3 pruned, 1 failed\): the audit judges complete trials"):
        mh.fairness_audit(study)


def test_the_static_figure_draws_the_held_out_points_and_names_its_stars(study_with_holdout):
    from moo_hpo.reports.fairness_figure import fairness_figure

    fig = fairness_figure(mh.fairness_audit(study_with_holdout))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "audited trials on held-out data" in labels and "recommended models" in labels  # as the docs and the HTML say
    # no model meets the bound: its choices are the closest, not "recommended" (in the figure and the headings)
    strict = mh.fairness_audit(study_with_holdout, bound=0.01)
    fig = fairness_figure(strict)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "closest models (none meets eo_diff <= 0.01)" in labels and "recommended models" not in labels
    assert "## Closest models (none meets eo_diff <= 0.01)" in strict.to_markdown()
    assert "Recommended models" not in strict.to_markdown() + strict.to_html()


def test_the_markdown_audit_links_its_figure_and_the_json_holds_its_points(tmp_path):
    import warnings

    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], [mh.AtMost("eo_diff", 0.05)],
                     optimizer="random", seed=0)
    for accuracy, gap in ((0.86, 0.09), (0.84, 0.04), (0.82, 0.02), (0.80, 0.05)):
        study.tell(study.ask(), {"accuracy": accuracy, "eo_diff": gap})
    audit = mh.fairness_audit(study)
    written = audit.save(tmp_path / "out" / "audit.md", figures=tmp_path / "out" / "figures")
    text = written.read_text()
    assert "![accuracy vs. eo_diff](figures/fairness_front.png)" in text  # relative to the Markdown's folder
    png = tmp_path / "out" / "figures" / "fairness_front.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fairness_front.png" not in audit.to_markdown()  # without figures=, no link
    points = json.loads(audit.to_json())["points"]
    assert sorted((p["accuracy"], p["gap"]) for p in points) == [
        (0.80, 0.05), (0.82, 0.02), (0.84, 0.04), (0.86, 0.09)]
    with pytest.raises(mh.ConfigError, match=r"figures=\.\.\. goes with a Markdown report"):
        audit.save(tmp_path / "audit.html", figures=tmp_path / "figures")
    # the study report's static front of a study whose every trial was pruned: a note, no empty legend
    pruned = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random",
                      seed=0, pruner=mh.pruners.MOASHA(1, 3))
    trial = pruned.ask()
    pruned.report(trial, 1, {"accuracy": 0.7, "eo_diff": 0.2})
    pruned.tell(trial, status="pruned")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels found to put in legend"
        mh.report(pruned).save(tmp_path / "r.md", figures=tmp_path / "pruned_figures")
    assert (tmp_path / "pruned_figures" / "front.png").exists()


def _study_of(figures: list[dict], constraints=None, name: str = "ties") -> mh.Study:
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     constraints if constraints is not None else [mh.AtMost("eo_diff", 0.05)], optimizer="random",
                     seed=0, name=name)
    for metrics in figures:
        study.tell(study.ask(), metrics)
    return study


def test_of_two_equally_accurate_models_the_audit_recommends_the_fairer_whatever_their_order():
    # accuracy is a count over one validation set, so ties are common: the first of them was recommended, a model
    # dominated by the other (not on the front, so without per-group tables), and trials=[1, 0] named the other
    study = _study_of([{"accuracy": 0.84, "eo_diff": 0.22}, {"accuracy": 0.84, "eo_diff": 0.21},
                   {"accuracy": 0.80, "eo_diff": 0.04}, {"accuracy": 0.80, "eo_diff": 0.03}])
    audit = mh.fairness_audit(study)
    assert [(c["role"], c["number"]) for c in audit.choices] == [("most accurate", 1), ("most accurate within the bound", 3)]
    assert all(c["number"] in [r["number"] for r in audit.rows] for c in audit.choices)  # each with its tables
    for order in ([0, 1], [1, 0]):
        assert mh.fairness_audit(study, trials=order).choices[0]["number"] == 1
    free = _study_of([{"accuracy": 0.84, "eo_diff": 0.22}, {"accuracy": 0.84, "eo_diff": 0.21}], constraints=[])
    assert mh.fairness_audit(free).choices[0]["number"] == free.recommend("best", objective="accuracy").trial.number == 1


def test_the_audit_figure_leaves_no_trial_out_when_none_keeps_the_other_limits():
    # no trial kept eo_diff <= 0.05, so the choices were made among them all, yet the trials off the front were drawn
    # "breaking the study's other hard limits (left out)", the closest model among them
    study = _study_of([{"accuracy": 0.84, "eo_diff": 0.20, "dp_diff": 0.20}, {"accuracy": 0.83, "eo_diff": 0.15, "dp_diff": 0.15},
                   {"accuracy": 0.82, "eo_diff": 0.30, "dp_diff": 0.25}])
    audit = mh.fairness_audit(study, gap="dp_diff", bound=0.1)
    assert "No trial keeps to the study's other hard limits" in audit.summary
    assert [(p["number"], p["within_limits"], p["left_out"]) for p in audit.points] == [(0, False, False), (1, False, False),
                                                                                        (2, False, False)]
    assert "left out" not in audit.to_html()
    some_keep = _study_of([{"accuracy": 0.84, "eo_diff": 0.20, "dp_diff": 0.20}, {"accuracy": 0.80, "eo_diff": 0.04, "dp_diff": 0.15}])
    kept = mh.fairness_audit(some_keep, gap="dp_diff", bound=0.1)
    assert [p["left_out"] for p in kept.points] == [True, False] and "(left out)" in kept.to_html()
    chosen_among = mh.fairness_audit(some_keep, gap="dp_diff", bound=0.1, trials=[0])  # none of these keeps them
    assert [p["left_out"] for p in chosen_among.points] == [False, False] and "left out" not in chosen_among.to_html()


def test_a_gap_a_hair_above_the_bound_is_not_printed_as_the_bound():
    # "0.05 ... no" in the tables and "(held-out: ..., gap 0.05)" beside "NOT within the bound: its gap there is
    # 0.0500001" in the summary
    study = _study_of([{"accuracy": 0.85, "eo_diff": 0.0500000001, "holdout_accuracy": 0.84, "holdout_eo_diff": 0.0500001},
                   {"accuracy": 0.80, "eo_diff": 0.01, "holdout_accuracy": 0.80, "holdout_eo_diff": 0.01}], constraints=[])
    audit = mh.fairness_audit(study, bound=0.05)
    assert "(held-out: accuracy 0.84, gap 0.0500001)" in audit.summary and "gap 0.05)" not in audit.summary
    markdown = audit.to_markdown()
    row = next(line for line in markdown.splitlines() if line.startswith("| #0"))
    assert "| 0.0500000001 | 0.0500001 | no | no |" in row
    assert "| 0.01 | 0.01 | yes | yes |" in next(line for line in markdown.splitlines() if line.startswith("| #1"))


def test_a_choice_that_selects_almost_no_one_is_named_as_nearly_one_class():
    # a model selecting 1% of people was recommended as one that predicts both classes, its small gap unremarked
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0, name="nearly one class")
    study.tell(study.ask(), {"accuracy": 0.77, "eo_diff": 0.01}, extra={"fairness": {"by_group": _groups(0.01)}})
    study.tell(study.ask(), {"accuracy": 0.70, "eo_diff": 0.005}, extra={"fairness": {"by_group": _groups(0.3)}})
    audit = mh.fairness_audit(study, bound=0.008)
    assert [c["number"] for c in audit.choices] == [0, 1]
    assert "Trial #0, a choice above, selects 1% of people, nearly one class for everyone" in audit.summary
    assert "Trial #1, a choice above, selects" not in audit.summary  # 30% of people: nothing to say


def test_the_share_a_choice_selects_is_weighted_as_its_rates_are():
    # the per-group rates of a table made with sample weights are weighted: the share selected was weighed by the
    # counts of people (a group of many light rows and one of few heavy ones)
    def weighted(rates_weights):
        return [{"sex": g, "count": count, "weight": weight, "accuracy": 0.8, "selection_rate": rate, "tpr": 0.5, "fpr": 0.01}
                for g, (count, weight, rate) in zip(("Female", "Male"), rates_weights)]
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")],
                     optimizer="random", seed=0, name="weighted share")
    few_heavy = weighted([(10, 990.0, 0.01), (90, 10.0, 0.9)])  # by people 82% selected, by weight 1.9%
    study.tell(study.ask(), {"accuracy": 0.77, "eo_diff": 0.01}, extra={"fairness": {"by_group": few_heavy}})
    many_light = weighted([(90, 10.0, 0.01), (10, 990.0, 0.3)])  # by people 3.9%, by weight 29.7%
    study.tell(study.ask(), {"accuracy": 0.70, "eo_diff": 0.005}, extra={"fairness": {"by_group": many_light}})
    audit = mh.fairness_audit(study, bound=0.008)
    assert [c["number"] for c in audit.choices] == [0, 1]
    assert "Trial #0, a choice above, selects 1.89% of people (by sample weight), nearly one class" in audit.summary
    assert "Trial #1, a choice above, selects" not in audit.summary
