"""Early stopping in the reports: learning curves with pruned and complete trials told apart, what early stopping
saved (steps exactly, time consistently), in HTML (rendered in Chromium), Markdown and JSON (the command line:
tests/test_cli.py; the live view: tests/reports/test_live.py).

The study is driven with ask / report / tell, so every trial's steps are chosen here:

====  ==========================  ==========  =================================================
 #    reports at steps            status      counted in "compute saved"
====  ==========================  ==========  =================================================
 0    1 .. 9                      complete    9 of 9 steps
 1    1, 2, 3 (accuracy only)     pruned      3 of 9
 2    1                           pruned      1 of 9
 3    1, 3, 9                     complete    9 of 9
 4    none                        complete    no: it reported nothing
 5    1, 2                        failed      no: only complete and pruned trials count
 6    1                           running     no
====  ==========================  ==========  =================================================

so 4 trials trained 22 steps of the 36 that full training (the pruned ones to step 9) would have taken: 14 saved.
"""

from __future__ import annotations

import json
import time
import re

import numpy as np
import pytest

import moo_hpo as mh
from tests.reports.conftest import PAUSE, early_stopping_study
from tests.reports.test_browser import attributes, render


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> str:
    """The study above, in an SQLite file; the trial left running stays running."""
    return early_stopping_study(tmp_path_factory.mktemp("curves") / "study.db")


@pytest.fixture(scope="module")
def report(stored) -> mh.reports.Report:
    with mh.Study.load(stored, read_only=True) as study:
        return mh.report(study)


def test_learning_curves_mark_pruned_complete_and_front_trials(stored, report):
    curves = report.data["learning_curves"]
    assert [m["name"] for m in curves["metrics"]] == ["acc", "gap"]
    rows = {r["number"]: r for r in curves["trials"]}
    assert {n: r["status"] for n, r in rows.items()} == {0: "complete", 1: "pruned", 2: "pruned", 3: "complete", 5: "failed", 6: "running"}
    assert {n for n, r in rows.items() if r["on_front"]} == {0, 3}  # the front's trials that reported; #4 is dominated
    assert rows[3]["steps"] == [1, 3, 9] and rows[3]["values"]["gap"] == [0.05] * 3
    assert rows[1]["values"]["gap"] == [None] * 3  # it reported accuracy only
    assert rows[2]["values"]["acc"] == [pytest.approx(0.25)] and rows[0]["config"]["act"] in ("relu", "<b>tanh</b>")


def test_compute_saved_counts_the_steps_exactly_and_the_time_consistently(stored, report):
    saved = report.data["compute_saved"]
    assert saved["full_step"] == 9 and saved["trials"] == 4
    assert saved["steps"] == {"trained": 22, "full": 36, "saved": 14, "saved_share": pytest.approx(14 / 36)}
    by_status = {r["status"]: r for r in saved["by_status"]}
    assert by_status["complete"]["trials"] == 2 and by_status["complete"]["steps"]["saved"] == 0
    assert by_status["pruned"]["trials"] == 2 and by_status["pruned"]["steps"] == {"trained": 4, "full": 18, "saved": 14,
                                                                                    "saved_share": pytest.approx(14 / 18)}
    assert saved["stopped_at"] == [{"step": 1, "trials": 1}, {"step": 3, "trials": 1}]
    # time: what the counted trials took, against their estimate (their own time plus the steps they skipped
    # at their own pace); complete trials that reached the last step cost what they took
    with mh.Study.load(stored, read_only=True) as study:
        counted = [study.trial(n) for n in (0, 1, 2, 3)]
    spent = sum(t.duration for t in counted)

    def pace(t):  # between its first and last reports; one report: from its start, at most the others' median
        first, last = t.reports[0], t.reports[-1]
        return (last["at"] - first["at"]) / (last["step"] - first["step"]) if last["step"] > first["step"] else None

    typical = float(np.median([pace(t) for t in counted if pace(t) is not None]))
    own = {t.number: pace(t) or min((t.reports[-1]["at"] - t.started_at) / t.reports[-1]["step"], typical) for t in counted}
    estimate = sum(t.duration + own[t.number] * (9 - t.reports[-1]["step"]) for t in counted)
    seconds = saved["seconds"]
    assert seconds["spent"] == pytest.approx(spent) and seconds["full"] == pytest.approx(estimate)
    assert 0 < seconds["spent"] < seconds["full"] and seconds["saved"] == pytest.approx(estimate - spent)
    assert by_status["complete"]["seconds"]["spent"] == pytest.approx(by_status["complete"]["seconds"]["full"])
    # at one pause or more per step, the pruned trials (3 and 1 steps of 9) would have taken 18 pauses or more
    assert by_status["pruned"]["seconds"]["full"] >= 18 * PAUSE * 0.99


def test_a_slow_start_is_not_taken_for_the_pace_of_training():
    # a trial whose first step came after a long start (import torch on a fresh worker, time queued) trains its
    # steps as fast as the others: full training is not its start multiplied by the steps it skipped
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Maximize("acc")], optimizer="random", seed=0)
    trials = study.ask(3)
    for t in trials:
        t.started_at = 1000.0
    for t, starts in zip(trials, (0.0, 0.0, 30.0), strict=True):  # #2 waits 30 s before its first step
        steps = range(1, 10) if t.number < 2 else [1]
        for step in steps:
            study.report(t, step, {"acc": 0.1 * step})
            t.reports[-1]["at"] = 1000.0 + starts + step  # one second per step
        study.tell(t, {"acc": 0.5}, status="pruned" if t.number == 2 else None)
        t.finished_at = t.reports[-1]["at"]
    saved = mh.reports.data.compute_saved(study.trials)
    pruned = next(r for r in saved["by_status"] if r["status"] == "pruned")
    assert pruned["seconds"]["spent"] == pytest.approx(31.0)
    assert pruned["seconds"]["full"] == pytest.approx(31.0 + 8 * 1.0)  # before: 31 + 8 * 31
    assert "largest step any trial reported" in saved["rule"]


def test_html_has_the_learning_curves_and_the_compute_saved_table(report):
    page = report.to_html()
    assert "<h2 id='learning-curves'>Learning curves</h2>" in page and "<h2 id='compute-saved'>Compute saved</h2>" in page
    assert 'id="curves-0"' in page and 'id="curves-1"' in page and 'id="curves-2"' not in page  # acc and gap
    assert "<div class='card'><b>2</b>pruned</div>" in page
    assert re.search(r"<td>pruned</td><td class='num'>2</td><td class='num'>4</td><td class='num'>18</td><td class='num'>14 \(78%\)</td>", page)
    assert re.search(r"<td>all</td><td class='num'>4</td><td class='num'>22</td><td class='num'>36</td><td class='num'>14 \(39%\)</td>", page)
    assert "4 trials trained 22 steps of the 36 that full training (the pruned ones to step 9) would have taken: 39% of the steps saved" in page
    assert "step 1 (1 trial), step 3 (1 trial)" in page and "How it is estimated" in page
    assert "<b>tanh</b>" not in page and "&lt;b&gt;tanh&lt;/b&gt;" in page  # a configuration in the hover text, escaped


def test_a_study_without_reports_has_no_learning_curves(finished_study):
    r = mh.report(finished_study)
    assert r.data["learning_curves"] == {"metrics": [], "trials": [], "rungs": []} and r.data["compute_saved"] is None
    page = r.to_html()
    assert "Learning curves" not in page and "Compute saved" not in page and "pruned</div>" not in page
    assert "## Early stopping" not in r.to_markdown()


@pytest.mark.slow
def test_the_learning_curves_render_in_chromium(report, tmp_path):
    dom = render(tmp_path, report.to_html(), "--dump-dom")
    errors, plots = attributes(dom)
    assert errors == []
    curves = re.search(r"<h2 id=\"learning-curves\">.*<h2 id=\"compute-saved\">", dom, re.DOTALL).group(0)
    assert curves.count('class="main-svg"') >= 2 * 2  # two figures drawn (plotly draws two SVG layers each)
    legend = " ".join(re.findall(r'class="legendtext"[^>]*>([^<]*)<', curves))
    for label in ("pruned", "complete", "complete, on the Pareto front", "running", "failed or interrupted"):
        assert label in legend, legend
    assert plots >= 2 + 2  # the front and hypervolume figures too


def test_markdown_json_and_static_figures_carry_compute_saved(report, tmp_path):
    text = report.to_markdown(figures=tmp_path / "figs")
    assert "## Early stopping" in text and "### Compute saved" in text
    assert "| pruned | 2 | 4 | 18 | 14 (78%) |" in text and "| all | 4 | 22 | 36 | 14 (39%) |" in text
    assert "6 trials reported intermediate metrics (2 complete, 1 failed, 2 pruned, 1 running); metrics reported: acc, gap" in text
    assert ", 2 pruned, 1 failed" in text.splitlines()[2]  # the summary line counts them
    assert "![learning_curves]" in text and (tmp_path / "figs" / "learning_curves.png").stat().st_size > 1000
    data = json.loads(report.to_json())
    assert data["counts"]["pruned"] == 2 and data["compute_saved"]["steps"]["saved"] == 14
    assert [r["number"] for r in data["learning_curves"]["trials"]] == [0, 1, 2, 3, 5, 6]


def test_with_no_trial_complete_full_training_is_the_pruners_and_the_bound_breakers_are_counted():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Maximize("acc"), mh.Minimize("gap")], [mh.AtMost("size_kb", 50.0), mh.AtMost("gap", 0.5)],
                     optimizer="random", seed=0, pruner=mh.pruners.MOASHA(1, 9, 3))
    big = study.ask()
    assert study.report(big, 1, {"acc": 0.5, "gap": 0.1, "size_kb": 80.0})  # breaks the size bound: stopped at once
    study.tell(big, status="pruned")
    slow = study.ask()
    study.report(slow, 1, {"acc": 0.4, "gap": 0.2})
    study.report(slow, 2, {"acc": 0.45, "gap": 0.2})
    study.tell(slow, status="pruned")  # stopped by hand before the end
    report = mh.report(study)
    saved = report.data["compute_saved"]
    assert saved["full_step"] == 9 and saved["steps"] == {"trained": 3, "full": 18, "saved": 15, "saved_share": 15 / 18}
    size, gap = report.data["constraint_summary"]
    assert (size["stopped_early"], gap["stopped_early"]) == (1, 0)
    # the pruned trials measured them (their last reports): before, "measured 0" beside "stopped early for it 1"
    assert (size["measured"], size["satisfied"], size["worst_violation"]) == (1, 0, 30.0)
    assert (gap["measured"], gap["satisfied"], gap["worst_violation"]) == (2, 2, 0.0)
    section = report.to_html().split("<h2>Constraints</h2>")[1].split("<h2")[0]
    assert "<th>stopped early for it</th>" in section
    assert "| stopped early for it |" in report.to_markdown()
    from moo_hpo.reports.html import learning_curve_figures

    figures = learning_curve_figures(report.data)
    assert report.data["learning_curves"]["rungs"] == [1.0, 3.0]
    # size_kb, under a hard bound and no objective, is drawn too: the pruner stopped a trial on it
    acc_fig, gap_fig, size_fig = figures
    assert report.data["learning_curves"]["metrics"][2] == {"name": "size_kb", "direction": "minimize", "constraint": True,
                                                            "bounds": [{"value": 50.0, "text": "size_kb <= 50"}]}
    assert [shape.y0 for shape in size_fig.layout.shapes if shape.y0 == shape.y1] == [50.0]
    assert "metrics reported: acc, gap, size_kb (a hard constraint)" in report.to_markdown()
    assert sorted(shape.x0 for shape in acc_fig.layout.shapes) == [1.0, 3.0]  # the rungs, in every figure
    assert [shape.y0 for shape in gap_fig.layout.shapes if shape.y0 == shape.y1] == [0.5]  # gap <= 0.5 is hard
    assert any(a.text == "gap &lt;= 0.5" for a in gap_fig.layout.annotations)
    stops = [tr for fig in figures for tr in fig.data if tr.name == "where a pruned trial stopped"]
    hover = " ".join(text for tr in stops for text in tr.hovertext)
    assert f"trial #{big.number} pruned at step 1: size_kb = 80 breaks the hard bound size_kb &lt;= 50" in hover
    assert f"trial #{slow.number} told pruned (study.tell)" in hover


def test_compute_saved_counts_a_cluster_trial_s_time_on_its_worker_not_its_time_queued():
    # on a busy Dask cluster a trial's proposal-to-result time counts minutes queued for a worker as time spent
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("acc")], optimizer="random", seed=0)
    for run_seconds in (0.25, None):
        trial = study.ask()
        for step in (1, 2):
            study.report(trial, step, {"acc": 0.5 * step})
        time.sleep(0.3)  # proposal to result: 0.3 s or more
        worker = {"worker": {"address": "tcp://w:1", "run_seconds": run_seconds}} if run_seconds else None
        study.tell(trial, {"acc": 0.9}, extra=worker)
    saved = mh.reports.data.compute_saved(study.trials)
    spent = saved["seconds"]["spent"]
    on_the_worker, own = 0.25, study.trial(1).duration
    assert spent == pytest.approx(on_the_worker + own) and study.trial(0).duration > 0.3


def test_the_pace_of_a_cluster_trial_that_reported_once_leaves_its_time_queued_out():
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("acc")], optimizer="random", seed=0)
    trial = study.ask()
    study.report(trial, 1, {"acc": 0.1})
    study.tell(trial, {"acc": 0.1}, status="pruned", extra={"worker": {"address": "tcp://w:1", "run_seconds": 2.0}})
    record = study.trial(trial.number)
    record.started_at = 1000.0
    record.reports[-1]["at"] = 1030.0  # 29 s waiting for a worker, then 1 s to its first step
    record.finished_at = 1031.0  # proposal to result: 31 s, of which 2 s on the worker
    from moo_hpo.reports.savings import compute_saved

    saved = compute_saved([record], max_resource=9)
    assert saved["seconds"]["spent"] == pytest.approx(2.0)
    assert saved["seconds"]["full"] == pytest.approx(2.0 + 8 * 1.0)  # before: at 30 s a step


def test_complete_trials_of_different_lengths_save_nothing_without_a_pruner():
    # the number of epochs searched (as in the demo's space): a short complete trial was not stopped early
    space = mh.Space({"epochs": mh.Int(2, 8), "y": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Maximize("acc"), mh.Minimize("gap")], optimizer="random", seed=0)

    def train(config, trial):
        for epoch in range(1, config["epochs"] + 1):
            metrics = {"acc": 0.5 + 0.04 * epoch, "gap": config["y"]}
            trial.report(epoch, metrics)
        return metrics

    study.optimize(train, n_trials=8, show_progress=False)
    lengths = [t.config["epochs"] for t in study.trials]
    assert len(set(lengths)) > 1
    saved = mh.report(study).data["compute_saved"]
    assert saved["steps"] == {"trained": sum(lengths), "full": sum(lengths), "saved": 0, "saved_share": 0.0}
    assert saved["seconds"]["saved"] == pytest.approx(0.0)
    # a pruned trial beside them saves the steps to the longest one
    short = study.ask()
    study.report(short, 1, {"acc": 0.5, "gap": 0.5})
    study.tell(short, status="pruned")
    saved = mh.report(study).data["compute_saved"]
    assert saved["steps"]["saved"] == max(lengths) - 1 and saved["full_step"] == max(lengths)
