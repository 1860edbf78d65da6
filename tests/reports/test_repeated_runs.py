"""The report's "Repeated runs" section: the front's configurations on all their runs, in HTML, Markdown and JSON."""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from moo_hpo.reports.data import FRONT_BY_MODEL
from moo_hpo.reports.html import front_figures
from tests.reports.conftest import XSS

MEANING = "A front member with a high probability of being dominated may be a lucky draw"


def _noisy(config, trial):
    rng = np.random.default_rng(trial.seed)
    worse = 0.1 if config["act"] == XSS else 0.0
    return {"f1": config["x"], "f2": 1.0 - config["x"] + worse + float(rng.normal(0.0, 0.1)), "size_kb": 10 * config["x"] + float(rng.normal(0.0, 1.0))}


@pytest.fixture(scope="module")
def repeated_study():
    """A Bayesian study (the model's predictions are recorded) whose front ran twice more."""
    space = mh.Space({"x": mh.Float(0.0, 1.0), "act": mh.Categorical(["relu", XSS])})
    fast = {"n_init": 3, "num_restarts": 1, "raw_samples": 16, "mc_samples": 8, "maxiter": 10}
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], [mh.AtMost("size_kb", 6.0)],
                     optimizer=make_optimizer("ehvi", fast), seed=0, name="noisy <study>")
    study.optimize(_noisy, n_trials=7, show_progress=False)
    study.reevaluate(_noisy, repeats=2, show_progress=False)
    return study


def test_the_data_holds_the_robust_view(repeated_study):
    section = mh.report(repeated_study).data["repeated_runs"]
    members = repeated_study.robust_front()
    assert section["members"] == [m.to_dict() for m in members]
    assert section["repetitions"] == sum("repeat_of" in t.extra for t in repeated_study.trials) > 0
    assert [o["name"] for o in section["objectives"]] == ["f1", "f2"]
    assert MEANING in section["meaning"] and "Monte Carlo" in section["method"]
    assert any(m["predicted"] for m in section["members"]), "a member proposed by the model carries its prediction"


def test_html_shows_mean_sd_runs_p_dominated_and_the_prediction(repeated_study):
    page = mh.report(repeated_study).to_html()
    assert "<h2 id='repeated-runs'>Repeated runs</h2>" in page and MEANING in page
    section = page.split("id='repeated-runs'")[1].split("<h2")[0]
    assert "How it is estimated: P(dominated) is the share of seeded Monte Carlo draws" in section
    for header in ("runs", "f1 (min), mean ± sd", "f2 (min), mean ± sd", "P(dominated)", "model&#x27;s prediction (before the run)"):
        assert f"<th>{header}</th>" in section
    member = next(m for m in repeated_study.robust_front() if m.predicted and m.runs == 3)
    assert f"{member.mean['f2']:.4g} ± {member.std['f2']:.2g}" in section
    assert f"{100 * member.p_dominated:.0f}%" in section
    assert f"f2 {member.predicted['f2']['mean']:.4g} ± {member.predicted['f2']['std']:.2g}" in section
    assert XSS not in page


def test_markdown_and_json_carry_the_section(repeated_study, tmp_path):
    r = mh.report(repeated_study)
    md = r.to_markdown()
    assert "## Repeated runs" in md and MEANING in md and "How it is estimated: P(dominated)" in md
    table = md.split("## Repeated runs")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| #")]
    assert len(rows) == len(repeated_study.robust_front())
    assert XSS not in md
    data = json.loads(r.save(tmp_path / "r.json").read_text())
    assert data["repeated_runs"]["members"][0]["runs"] >= 1
    assert {m["number"] for m in data["repeated_runs"]["members"]} == {m.number for m in repeated_study.robust_front()}


def test_no_section_without_repetitions(two_objective_study):
    r = mh.report(two_objective_study)
    assert r.data["repeated_runs"] is None
    assert "Repeated runs" not in r.to_html() and "Repeated runs" not in r.to_markdown()


def test_once_repeats_show_noise_the_front_is_the_models_with_its_estimates(repeated_study, tmp_path):
    r = mh.report(repeated_study)
    assert repeated_study.front_basis() == "model" and r.data["front_basis"] == "model"
    by_model = {m.trial.number: m for m in repeated_study.model_front()}
    assert [row["number"] for row in r.data["front"]] == sorted(by_model)
    page = r.to_html()
    assert html.escape(FRONT_BY_MODEL) in page
    section = page.split("<h2>Front trials</h2>")[1].split("<h2")[0]
    assert "<th>f1 (model)</th>" in section and "<th>f2 (model)</th>" in section
    member = by_model[r.data["front"][0]["number"]]
    assert f"{member.estimate['f2']:.4g} ± {member.std['f2']:.2g}" in section
    line = next(t for t in front_figures(r.data)[-1].data if t.name == "the model's estimates")  # through the estimates
    assert line.name == "the model's estimates" and line.showlegend
    assert sorted(line.x) == sorted(m.estimate["f1"] for m in by_model.values())
    md = r.to_markdown()
    assert FRONT_BY_MODEL in md and "| f1 (model) | f2 (model) |" in md
    data = json.loads(r.save(tmp_path / "r.json").read_text())
    assert data["front_basis"] == "model" and set(data["front"][0]["estimate"]) == {"f1", "f2"}


def test_without_repeats_the_front_is_measured_and_the_report_says_nothing_of_a_model(two_objective_study):
    r = mh.report(two_objective_study)
    assert r.data["front_basis"] == "measured" and all("estimate" not in row for row in r.data["front"])
    assert not front_figures(r.data)[-1].data[-1].showlegend  # the front's line through the measurements
    page = r.to_html()
    assert "(model)</th>" not in page.split("<h2>Front trials</h2>")[1] and html.escape(FRONT_BY_MODEL) not in page


def test_the_noise_check_is_a_repeated_run_with_its_own_explanation():
    """A Bayesian study's noise check runs one configuration twice: the report shows it, and says who ran it."""
    from moo_hpo.reports.data import NOISE_CHECK_MEANING, REPEATS_MEANING

    space = mh.Space({"x": mh.Float(0.0, 1.0), "act": mh.Categorical(["relu", "tanh"])})
    fast = {"n_init": 3, "num_restarts": 1, "raw_samples": 16, "mc_samples": 8, "maxiter": 10}
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("f2")], optimizer=make_optimizer("ehvi", fast), seed=0)
    study.optimize(_noisy, n_trials=5, show_progress=False)
    repeat = next(t for t in study.trials if "noise check" in t.extra["optimizer"].get("acquisition", ""))
    assert repeat.extra["repeat_of"] < repeat.number and study.trial(repeat.extra["repeat_of"]).config == repeat.config
    section = mh.report(study).data["repeated_runs"]
    assert section["repetitions"] == 1 and section["meaning"] == NOISE_CHECK_MEANING
    member = next(m for m in section["members"] if m["number"] == repeat.extra["repeat_of"])
    assert member["runs"] == 2 and member["trials"] == [member["number"], repeat.number]
    page = mh.report(study).to_html()
    assert "id='repeated-runs'" in page and "noise check" in page
    assert "were therefore run again" in REPEATS_MEANING and "were therefore run again" not in page


def test_a_recommendation_judged_on_the_mean_of_its_runs_is_starred_at_that_mean(repeated_study):
    report = mh.report(repeated_study)
    recs = [r for r in report.data["recommendations"] if r["runs"] > 1]
    assert recs, "the knee or a best trial of the re-run front is judged on a mean"
    figure = front_figures(report.data)[0]
    stars = next(t for t in figure.data if t.name == "recommended")
    for rec in recs:
        i = list(stars.text).index(f"#{rec['number']}")
        assert (stars.x[i], stars.y[i]) == pytest.approx((rec["metrics"]["f1"], rec["metrics"]["f2"]))
        first_run = next(t for t in repeated_study.trials if t.number == rec["number"])
        assert stars.y[i] != pytest.approx(first_run.metrics["f2"])  # not the original run's point
        assert f"trial #{rec['number']} (the mean of {rec['runs']} runs)" in stars.hovertext[i]


def test_the_fairness_audit_judges_a_configuration_run_again_on_its_mean_as_recommend_does():
    def noisy(config, trial):
        rng = np.random.default_rng(trial.seed)
        groups = [{"sex": g, "count": 50, "selection_rate": rng.uniform(0.1, 0.3)} for g in ("F", "M")]
        return mh.Result({"accuracy": 0.8 + 0.05 * config["x"] + rng.normal(0, 0.02),
                          "eo_diff": 0.1 * config["x"] + abs(rng.normal(0, 0.01))}, extra={"fairness": {"by_group": groups}})

    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], [mh.AtMost("eo_diff", 0.06)],
                     optimizer="random", seed=0)
    study.optimize(noisy, n_trials=15, show_progress=False)
    study.reevaluate(noisy, repeats=3)
    chosen = study.recommend("best", objective="accuracy")
    runs = [t for t in study.trials if t.status is mh.TrialStatus.COMPLETE
            and (t.number == chosen.trial.number or t.extra.get("repeat_of") == chosen.trial.number)]
    assert len(runs) == 4
    audit = mh.fairness_audit(study)
    within = next(c for c in audit.choices if c["role"] == "most accurate within the bound")
    assert within["number"] == chosen.trial.number and within["runs"] == 4
    assert within["accuracy"] == pytest.approx(np.mean([t.metrics["accuracy"] for t in runs]))
    assert f"(trial #{chosen.trial.number}, mean of 4 runs)" in audit.summary
    numbers = [r["number"] for r in audit.rows]
    assert all(study.trial(n).extra.get("repeat_of") is None for n in numbers) and len(numbers) == len(set(numbers))
    assert f"| #{chosen.trial.number} (mean of 4 runs) |" in audit.to_markdown()
    # its row holds the means, its per-group table one run's: said where the table is (it could contradict the row)
    assert (f"### Trial #{chosen.trial.number} by group (its first run of 4: the figures above are the means of its runs)"
            in audit.to_markdown())
    single = next(r for r in audit.rows if r["runs"] == 1)
    assert f"### Trial #{single['number']} by group\n" in audit.to_markdown()
    # a repeated run named in trials= stands for its configuration
    named = mh.fairness_audit(study, trials=[runs[-1].number, chosen.trial.number])
    assert [(r["number"], r["runs"]) for r in named.rows] == [(chosen.trial.number, 4)]

