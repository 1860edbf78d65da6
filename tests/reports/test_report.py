from __future__ import annotations

import html
import json
import re
import statistics

import numpy as np
import pytest

import moo_hpo as mh
from moo_hpo.trial import config_key
from tests.reports.conftest import XSS


def test_report_data_covers_every_section(finished_study):
    r = mh.report(finished_study, weights={"accuracy": 2, "eo_diff": 1, "latency_p99_ms": 1})
    d = r.data
    assert d["counts"]["total"] == 40 and d["counts"]["failed"] == sum(1 for t in finished_study.trials if t.config["k"] == 3)
    assert [o["name"] for o in d["objectives"]] == ["accuracy", "eo_diff", "latency_p99_ms"]
    assert {t["number"] for t in d["front"]} == {t.number for t in finished_study.pareto_front()}
    assert d["hypervolume"]["value"] == finished_study.hypervolume()
    assert len(d["hypervolume"]["history"]) == 40
    # one row per recommended trial, naming every method that chose it, in the order they are first chosen
    expected: dict[int, list[str]] = {}
    for rec in finished_study.recommendations(weights={"accuracy": 2, "eo_diff": 1, "latency_p99_ms": 1}):
        expected.setdefault(rec.trial.number, []).append(rec.reason.split(" (")[0] if rec.method == "best" else rec.method)
    assert {r["number"]: r["method"].split(", ") for r in d["recommendations"]} == expected
    assert sum(len(m) for m in expected.values()) == 5 and len(d["recommendations"]) == len(expected)
    assert d["failures"][0]["reason"].startswith("RuntimeError: diverged")
    size = next(s for s in d["constraint_summary"] if s["text"].startswith("size_kb"))
    assert size["measured"] == d["counts"]["complete"] and size["satisfied"] < size["measured"]
    assert "moo_hpo" in d["versions"] and d["seed"] == 0


def test_the_report_shows_the_time_the_optimizer_took(finished_study):
    d = mh.report(finished_study).data
    recorded = sum(t.extra["optimizer"]["seconds"] for t in finished_study.trials)
    assert recorded > 0 and d["time"]["proposal_seconds"] == pytest.approx(recorded)
    line = re.compile(r"[\d.]+ s wall, [\d.]+ s in trials, [\d.]+ s proposing \(\d+% of the wall time\)")
    assert line.search(mh.report(finished_study).to_html()) and line.search(mh.report(finished_study).to_markdown())


def test_html_is_self_contained_and_escapes_user_strings(finished_study):
    page = mh.report(finished_study).to_html()
    assert "<script src" not in page and "Plotly" in page  # plotly.js embedded, nothing loaded from outside
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "report &lt;test&gt;" in page
    assert "diverged at &lt;b&gt;epoch 3&lt;/b&gt;" in page
    assert page.count('class="plotly-graph-div"') >= 3  # scatter matrix, parallel coordinates, hypervolume


def test_markdown_json_and_static_figures(two_objective_study, tmp_path):
    r = mh.report(two_objective_study)
    assert r._repr_markdown_() == r.to_markdown()  # what a notebook shows
    md = r.to_markdown(figures=tmp_path / "figs")
    assert "## Recommended operating points" in md and "![front]" in md
    assert (tmp_path / "figs" / "front.png").stat().st_size > 1000
    assert (tmp_path / "figs" / "hypervolume.png").exists()
    assert "&lt;script>" in md and XSS not in md
    data = json.loads(r.to_json())
    assert data["counts"]["total"] == 24
    for suffix in (".html", ".md", ".json"):
        assert r.save(tmp_path / f"report{suffix}").stat().st_size > 100


def test_one_objective_has_a_static_figure_and_long_names_are_broken_into_lines(tmp_path):
    space = mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)})
    long = "validation_balanced_accuracy_on_the_holdout_split_of_customers"
    one = mh.Study(space, [mh.Maximize(long)], optimizer="random", seed=0)
    one.optimize(lambda c: {long: c["x"]}, n_trials=6, show_progress=False)
    md = mh.report(one).to_markdown(figures=tmp_path / "one")
    assert "## Objective by trial" in md and "![front]" in md  # the HTML draws it; the static figures had none
    assert (tmp_path / "one" / "front.png").stat().st_size > 1000
    names = [long, "latency_p99_ms_on_raspberry_pi_4_with_four_threads", "size_kb"]
    three = mh.Study(space, [mh.Maximize(names[0]), mh.Minimize(names[1]), mh.Minimize(names[2])], optimizer="random", seed=0)
    three.optimize(lambda c: {names[0]: c["x"], names[1]: 1 - c["x"], names[2]: c["y"]}, n_trials=6, show_progress=False)
    from moo_hpo.reports.html import front_figures

    grid, parallel = front_figures(mh.report(three).data)
    titles = [a.title.text for a in (*grid.select_xaxes(), *grid.select_yaxes()) if a.title.text]
    assert all(max(len(line) for line in t.split("<br>")) <= 55 for t in titles)  # fits its panel: overlapped before
    assert any(t.replace("<br>", "") == f"{long} (max)" for t in titles)  # broken, nothing lost
    labels = [d["label"] for d in parallel.data[0].dimensions]
    assert all(max(len(line) for line in t.split("<br>")) <= 33 for t in labels) and labels[2] == "size_kb (min)"


def test_wrap_label_breaks_at_separators_and_cuts_only_a_word_longer_than_a_line():
    from moo_hpo.reports.labels import wrap_entries, wrap_label

    assert wrap_label("latency_p99_ms (min)", 30) == "latency_p99_ms (min)"
    assert wrap_label("energy per inference measured on device (min)", 30) == "energy per inference measured\non device (min)"
    assert wrap_label("a" * 20, 8, "<br>") == "aaaaaaaa<br>aaaaaaaa<br>aaaa"
    assert wrap_entries(["a = 1", "b = 2", "c" * 12 + " = 3"], 12, "<br>") == "a = 1, b = 2,<br>cccccccccccc = 3"
    assert wrap_label("  leading spaces that are long enough ", 8) == "leading\nspaces\nthat are\nlong\nenough"  # no empty line
    assert wrap_label("name\nwith a break", 30) == "name with a break"


def test_report_of_a_study_without_feasible_trials():
    space = mh.Space({"x": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], [mh.AtMost("a", -1)], optimizer="random", seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=5, show_progress=False)
    r = mh.report(study)
    assert r.data["recommendations"] == [] and "least violating" in r.data["hypervolume"]["note"]
    assert "nothing to recommend" in r.to_html()


def test_fairness_audit(finished_study, tmp_path):
    audit = mh.fairness_audit(finished_study)
    assert audit.bound == 0.1  # taken from the study's constraint
    best = max((t for t in finished_study.trials if t.status is mh.TrialStatus.COMPLETE), key=lambda t: t.metrics["accuracy"])
    assert f"trial #{best.number}" in audit.summary and "within 0.1" in audit.summary
    assert all(r["meets_bound"] == (r["gap"] <= 0.1) for r in audit.rows)
    assert audit.rows and all(len(r["by_group"]) == 2 for r in audit.rows)
    accs = [r["accuracy"] for r in audit.rows]
    assert accs == sorted(accs, reverse=True)
    page = audit.to_html()
    assert XSS not in page and "by group" in page
    assert "Fairness audit" in audit.save(tmp_path / "a.md").read_text()


def test_device_sizing(finished_study, tmp_path):
    from moo_hpo.reports.sizing import write_csv

    profiles = [mh.DeviceProfile("phone", max_latency_ms=3.0), mh.DeviceProfile("mcu", max_size_kb=10.0, max_latency_ms=1.5),
                mh.DeviceProfile("nothing", max_latency_ms=0.1)]
    results = mh.size_for_devices(finished_study, profiles)
    feasible = finished_study.feasible_trials()
    phone = [t for t in feasible if t.metrics["latency_p99_ms"] <= 3.0]
    assert results[0].best.number == max(phone, key=lambda t: t.metrics["accuracy"]).number
    assert results[0].n_fitting == len(phone)
    assert all(t.metrics["size_kb"] <= 10 and t.metrics["latency_p99_ms"] <= 1.5 for t in results[1].front)
    assert results[2].best is None and "no feasible trial fits" in results[2].reason
    text = write_csv(results, tmp_path / "s.csv").read_text()
    assert text.splitlines()[0].startswith("device,max_size_kb,max_latency_ms,max_energy_j,budget_metrics,")
    assert len(text.splitlines()) == 4 and ',"size_kb, latency_p99_ms",' in text  # the metrics the mcu's budgets apply to
    # a budget on a metric no trial measured says so, instead of only "nothing fits"
    energy = mh.size_for_devices(finished_study, mh.DeviceProfile("mcu", max_energy_j=1.0))  # one profile alone
    assert len(energy) == 1 and energy[0].best is None
    assert "no trial measured ['energy_per_inference_j'] (the trials measure [" in energy[0].reason
    assert "'latency_p99_ms'" in energy[0].reason
    with pytest.raises(mh.ConfigError, match="max_size_kb must be a positive number or None; received True"):
        mh.DeviceProfile("x", max_size_kb=True)
    with pytest.raises(mh.ConfigError, match="DeviceProfile 'x' has no budget"):
        mh.DeviceProfile("x")
    with pytest.raises(mh.ConfigError, match="name must be a non-empty string; received None"):
        mh.DeviceProfile(None, max_size_kb=1.0)
    with pytest.raises(mh.ConfigError, match="latency_metric must be a non-empty string"):
        mh.DeviceProfile("x", max_latency_ms=1.0, latency_metric="")
    with pytest.raises(mh.ConfigError, match="two devices are named 'mcu'"):
        mh.size_for_devices(finished_study, [profiles[1], profiles[1]])
    with pytest.raises(mh.ConfigError, match=r"received 'mcu:size=20' \(a \"name:size=...,latency=...\" text is the command line's form\)"):
        mh.report(finished_study, devices="mcu:size=20")  # named its first character, 'm'


def test_device_sizing_breaks_a_tie_in_the_objective_by_the_fitting_front():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb"), mh.Minimize("latency_p99_ms")], seed=0)
    for metrics in ({"accuracy": 0.85, "size_kb": 60.0, "latency_p99_ms": 1.9}, {"accuracy": 0.85, "size_kb": 5.0, "latency_p99_ms": 0.2}):
        study.tell(study.ask(), metrics)
    (mcu,) = mh.size_for_devices(study, mh.DeviceProfile("mcu", max_size_kb=64.0, max_latency_ms=2.0))
    assert mcu.best.number == 1 and [t.number for t in mcu.front] == [1]  # not the trial #1 dominates


def test_device_sizing_judges_a_configuration_run_again_on_its_mean(tmp_path):
    from moo_hpo.reports.sizing import write_csv

    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("latency_p99_ms")], optimizer="random", seed=0)
    lucky, steady = study.ask(), study.ask()
    study.tell(lucky, {"accuracy": 0.9, "latency_p99_ms": 1.0})  # a lucky run: its repeats take 3.0 and 3.2 ms
    study.tell(steady, {"accuracy": 0.8, "latency_p99_ms": 0.5})
    again = {lucky.config["x"]: iter([3.0, 3.2]), steady.config["x"]: iter([0.5, 0.5])}
    study.reevaluate(lambda config: {"accuracy": 0.9 if config == lucky.config else 0.8,
                                     "latency_p99_ms": next(again[config["x"]])}, repeats=2, show_progress=False)
    assert sum("repeat_of" in t.extra for t in study.trials) == 4
    phone, mcu = mh.size_for_devices(study, [mh.DeviceProfile("phone", max_latency_ms=5.0), mh.DeviceProfile("mcu", max_latency_ms=2.0)])
    # the mcu is not offered the lucky configuration: 1.0 ms once, 2.4 ms on average over its three runs
    assert mcu.best.number == steady.number and mcu.runs == 3 and mcu.metrics == {"accuracy": 0.8, "latency_p99_ms": 0.5}
    assert mcu.n_fitting == 1 and mcu.reason == "best accuracy (0.8, mean of 3 runs) of 1 fitting configuration"
    assert phone.best.number == lucky.number and phone.metrics["latency_p99_ms"] == pytest.approx(2.4) and phone.n_fitting == 2
    assert [t.number for t in phone.front] == [lucky.number, steady.number]
    assert mcu.best.metrics["latency_p99_ms"] == 0.5 and lucky.metrics["latency_p99_ms"] == 1.0  # the trials are left as measured
    rows = mh.size_for_devices(study, [mh.DeviceProfile("phone", max_latency_ms=5.0)]).summary_rows()
    assert rows[0]["figures"] == "latency_p99_ms 2.4 (mean of 3 runs)"
    text = write_csv([phone, mcu], tmp_path / "s.csv").read_text().splitlines()
    assert text[0].split(",")[5:8] == ["best_trial", "runs", "n_fitting"] and text[1].split(",")[5:7] == [str(lucky.number), "3"]


def test_device_sizing_says_when_some_runs_did_not_measure_a_budget_metric():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb")], optimizer="random", seed=0)
    first = study.ask()
    study.tell(first, {"accuracy": 0.9, "size_kb": 3.0, "latency_p99_ms": 5.0})
    study.reevaluate(lambda config: {"accuracy": 0.9, "size_kb": 3.0}, repeats=1, show_progress=False)  # times nothing
    (device,) = mh.size_for_devices(study, mh.DeviceProfile("edge", max_latency_ms=6.0))
    assert device.runs == 2 and device.measured_runs == {"accuracy": 2, "latency_p99_ms": 1, "size_kb": 2}
    (row,) = mh.size_for_devices(study, [mh.DeviceProfile("edge", max_latency_ms=6.0)]).summary_rows()
    assert row["figures"] == "latency_p99_ms 5 (mean of 1 of 2 runs)"
    (none,) = mh.size_for_devices(study, mh.DeviceProfile("tiny", max_latency_ms=1.0))
    assert none.reason.startswith("no feasible configuration fits latency_p99_ms <= 1 (1 feasible configuration)")


def test_device_sizing_with_nothing_fitting_names_the_nearest_trial_and_why_none_is_feasible():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    skipped = mh.Study(space, [mh.Maximize("accuracy")], [mh.AtMost("latency_p99_ms", 0.0001)], optimizer="random", seed=0)
    for latency in (0.05, 0.031, 0.07):  # every candidate broke the study's latency budget before training
        skipped.tell(skipped.ask(), {"latency_p99_ms": latency}, status="infeasible_skipped")
    (mcu,) = mh.size_for_devices(skipped, mh.DeviceProfile("mcu", max_latency_ms=0.01))
    assert mcu.reason == (
        "no feasible trial fits latency_p99_ms <= 0.01 (0 feasible trials); the nearest: trial #1 (latency_p99_ms "
        "0.031, skipped before training); no trial has completed yet: all 3 trials were skipped before training, each "
        "breaking a hard constraint on what it measured then; trial #1 comes closest: latency_p99_ms <= 0.0001 "
        "(measured 0.031); every one broke latency_p99_ms <= 0.0001, which may be out of reach of the search space: "
        "loosen it, or widen the space towards candidates within it"
    )
    feasible = mh.Study(space, [mh.Maximize("accuracy")], optimizer="random", seed=0)
    for size in (80.0, 60.0, 90.0):
        feasible.tell(feasible.ask(), {"accuracy": 0.9, "size_kb": size})
    (tiny,) = mh.size_for_devices(feasible, mh.DeviceProfile("tiny", max_size_kb=50))
    assert tiny.reason == "no feasible trial fits size_kb <= 50 (3 feasible trials); the nearest: trial #1 (size_kb 60)"
    (flash,) = mh.size_for_devices(feasible, mh.DeviceProfile("flash", max_size_kb=59.99))  # 60 beside 59.99: told apart
    assert flash.reason.endswith("the nearest: trial #1 (size_kb 60)") and "size_kb <= 59.99" in flash.reason
    close = mh.Study(space, [mh.Maximize("accuracy")], optimizer="random", seed=0)
    close.tell(close.ask(), {"accuracy": 0.9, "size_kb": 39998 / 1024})  # 39.0605 KiB over a 39.06 KiB budget
    (mcu,) = mh.size_for_devices(close, mh.DeviceProfile("mcu", max_size_kb=39.06))
    assert mcu.reason.endswith("the nearest: trial #0 (size_kb 39.061)")  # it read "size_kb 39.06" beside "<= 39.06"


def test_model_check_sets_the_bayesian_optimizers_predictions_beside_the_measurements():
    from moo_hpo.optimizers import make_optimizer

    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    params = {"n_init": 4, "num_restarts": 1, "raw_samples": 16, "mc_samples": 8, "maxiter": 10}
    study = mh.Study(
        space,
        [mh.Minimize("f1"), mh.Maximize("f2")],
        [mh.AtMost("size", 1.2), mh.AtMost("f1", 0.5, soft=True, penalty=2.0)],
        optimizer=make_optimizer("ehvi", params),
        seed=3,
    )

    def fn(c):
        if c["x"] > 0.8:
            raise RuntimeError("out of memory")
        return {"f1": c["x"] + 0.1 * c["y"], "f2": 1.0 - (1.0 - c["x"]) ** 2 - c["y"], "size": c["x"] + c["y"]}

    study.optimize(fn, n_trials=12, show_progress=False)
    check = mh.report(study).data["model_check"]
    by_trial = {t.number: t for t in study.trials}
    # model-based: not the noise check's repeat, which has no prediction
    proposals = [t for t in study.trials[4:] if t.status is mh.TrialStatus.COMPLETE
                 and not t.extra["optimizer"]["acquisition"].startswith("repeat of trial #")]
    assert proposals, "the study should have complete model-based trials"
    assert {m["metric"]: m["proposals"] for m in check["summary"]} == {"f1": len(proposals), "f2": len(proposals), "size": len(proposals)}
    for row in check["rows"]:
        t = by_trial[row["number"]]
        pred = t.extra["optimizer"]["predicted"][row["metric"]]
        assert (row["mean"], row["std"]) == (pred["mean"], pred["std"])
        expected = t.metrics[row["metric"]]
        if row["metric"] == "f1":  # the model learned f1 with the soft constraint's penalty: 2 * max(f1 - 0.5, 0)
            expected += 2.0 * max(t.metrics["f1"] - 0.5, 0.0)
        assert row["measured"] == pytest.approx(expected)
        assert row["z"] == pytest.approx((row["measured"] - row["mean"]) / row["std"])
    zs = [r["z"] for r in check["rows"] if r["metric"] == "size"]
    assert check["summary"][2]["median_abs_z"] == pytest.approx(statistics.median(abs(z) for z in zs))
    # the Sobol design put a trial in the failing region, so the failure model scored every later proposal
    scored = [t for t in study.trials if t.extra.get("optimizer", {}).get("failure_probability") is not None]
    failures = check["failures"]
    assert scored and failures["scored"] == len(scored) == failures["risky"] + failures["safe"]
    assert failures["risky_failed"] + failures["safe_failed"] == sum(t.status is mh.TrialStatus.FAILED for t in scored)
    assert "Failure model:" in mh.report(study).to_html()
    page = mh.report(study).to_html()
    assert "<h2>Model check</h2>" in page and 'id="model-check"' in page
    assert "## Model check" in mh.report(study).to_markdown()
    assert "| metric | proposals measured | within 2 sd |" in mh.report(study).to_markdown()  # the complete ones only


def test_model_check_counts_a_proposal_skipped_before_training_on_what_it_measured():
    from moo_hpo.optimizers import make_optimizer

    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    params = {"n_init": 4, "num_restarts": 1, "raw_samples": 16, "mc_samples": 8, "maxiter": 10}
    study = mh.Study(space, [mh.Minimize("f1"), mh.Minimize("size_kb")], [mh.AtMost("size_kb", 1.2)],
                     optimizer=make_optimizer("ehvi", params), seed=3)
    for _ in range(5):  # the design, and the noise check's repeat
        t = study.ask()
        study.tell(t, {"f1": t.config["x"], "size_kb": t.config["x"] + t.config["y"]})
    proposal = study.ask()  # the model's: predicted size beside it
    assert "size_kb" in proposal.extra["optimizer"]["predicted"]
    study.tell(proposal, {"size_kb": 9.0}, status="infeasible_skipped")  # its size broke the bound before training
    rows = [r for r in mh.report(study).data["model_check"]["rows"] if r["number"] == proposal.number]
    assert [(r["metric"], r["measured"]) for r in rows] == [("size_kb", 9.0)]


def test_no_model_check_without_a_model_based_optimizer(finished_study):
    assert mh.report(finished_study).data["model_check"] == {"rows": [], "summary": [], "failures": None}
    assert "Model check" not in mh.report(finished_study).to_html()


def test_a_report_reads_the_stored_optimizer_and_never_sets_it_up(tmp_path):
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="nsga2", storage=tmp_path / "s.db", seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"] + c["y"]}, n_trials=40, show_progress=False)
    study.close()
    for loaded in (mh.Study.load(tmp_path / "s.db", read_only=True), mh.Study.load(tmp_path / "s.db")):
        data = mh.report(loaded).data
        assert data["optimizer"]["name"] == "nsga2" and data["optimizer"]["reason"] == "chosen by the user"
        assert loaded._optimizer is None  # replaying every generation just to print a name is gone
        loaded.close()


def test_a_study_with_validity_rules_reports_without_the_rules_code(tmp_path):
    from typer.testing import CliRunner

    from moo_hpo.cli import app

    space = mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)}, rules=[mh.Rule("x <= y", lambda c: c["x"] <= c["y"])])
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], storage=tmp_path / "s.db", seed=0, optimizer="nsga2")
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["y"]}, n_trials=20, show_progress=False)
    study.close()
    for read_only in (True, None):  # the rule is stored by name only
        with mh.Study.load(tmp_path / "s.db", read_only=read_only) as loaded:
            assert not loaded.space.rules_available
            assert "x &lt;= y" in mh.report(loaded).to_html()
    result = CliRunner().invoke(app, ["report", str(tmp_path / "s.db"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output


def test_markdown_escapes_markup_but_keeps_comparisons():
    from moo_hpo.reports import markdown

    assert markdown.escape("<script>alert(1)</script>") == "&lt;script>alert(1)&lt;/script>"
    assert markdown.escape("eo_diff <= 0.05 | size < 5") == "eo_diff <= 0.05 \\| size < 5"
    assert markdown.escape("a &lt;b") == "a &lt;b"  # no tag opening: left as written


def test_fairness_audit_markdown_escapes_the_study_name(tmp_path):
    space = mh.Space({"t": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random", seed=0, name=XSS)
    study.optimize(lambda c: {"accuracy": 0.5 + 0.4 * c["t"], "eo_diff": 0.1 * c["t"]}, n_trials=8, show_progress=False)
    text = mh.fairness_audit(study, accuracy="accuracy", gap="eo_diff", bound=0.05).to_markdown()
    assert XSS not in text and "&lt;script>" in text and "meets <= 0.05" in text


def test_a_report_refuses_a_suffix_it_cannot_write(two_objective_study, tmp_path):
    from typer.testing import CliRunner

    from moo_hpo.cli import app

    for suffix in (".png", ".pdf", ".txt", ""):
        with pytest.raises(mh.ConfigError, match="expected .html, .md or .json"):
            mh.report(two_objective_study).save(tmp_path / f"r{suffix}")
        assert not (tmp_path / f"r{suffix}").exists()
    db = tmp_path / "s.db"
    study = mh.Study(two_objective_study.space, two_objective_study.objectives, storage=db, seed=0, optimizer="random")
    study.optimize(lambda c: {o.name: 0.5 for o in study.objectives}, n_trials=3, show_progress=False)
    study.close()
    result = CliRunner().invoke(app, ["report", str(db), "-o", str(tmp_path / "r.png")])
    assert result.exit_code != 0 and "expected .html, .md or .json" in result.output


def test_device_sizing_is_a_table_and_its_csv_config_is_json(finished_study, tmp_path):
    import csv

    from moo_hpo.reports.sizing import write_csv

    table = mh.size_for_devices(finished_study, [mh.DeviceProfile("phone", max_size_kb=1e9), mh.DeviceProfile("mcu", max_size_kb=1e-9)])
    text = str(table)
    assert text.splitlines()[0].split()[:3] == ["device", "max_size_kb", "max_latency_ms"] and "phone" in text and "mcu" in text
    df = table.to_dataframe()
    assert list(df["device"]) == ["phone", "mcu"] and df["best_trial"].iloc[0] == table[0].best.number
    best_cell = text.splitlines()[1].split()[5]  # phone's best trial (after its budget metric): an integer, though mcu has none
    assert best_cell == str(table[0].best.number)
    rows = list(csv.DictReader(write_csv(table, tmp_path / "s.csv").open()))
    assert json.loads(rows[0]["config"]) == table[0].best.config and rows[1]["config"] == ""


def test_the_hypervolume_comes_normalized_with_its_meaning(finished_study):
    r = mh.report(finished_study)
    hv = r.data["hypervolume"]
    assert 0 < hv["normalized"] <= 1 and hv["normalized"] == pytest.approx(finished_study.hypervolume(normalized=True))
    import re

    for text in (re.sub("<[^>]+>", "", r.to_html()), r.to_markdown()):
        assert f"{hv['normalized']:.3f} normalized (raw {hv['value']:.6g})" in text and "share (0 to 1)" in text


def test_the_fairness_audit_flags_classifiers_that_predict_one_class():
    space = mh.Space({"t": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random", seed=0)
    for t in study.ask(6):
        one_class = t.number in (1, 4)
        rate = 0.0 if one_class else 0.4
        groups = [{"sex": g, "count": 50, "accuracy": 0.76 if one_class else 0.8, "selection_rate": rate,
                   "tpr": rate, "fpr": rate / 4} for g in ("Female", "Male")]
        metrics = {"accuracy": 0.76, "eo_diff": 0.0} if one_class else {"accuracy": 0.8 + 0.01 * t.number, "eo_diff": 0.02 * (t.number + 1)}
        study.tell(t, metrics, extra={"fairness": {"by_group": groups}})
    audit = mh.fairness_audit(study, accuracy="accuracy", gap="eo_diff", bound=0.05)
    assert "#1, #4 predict one class only" in audit.summary
    assert "within 0.05 (trial #0)" in audit.summary  # the degenerate ones (gap 0) are not chosen
    flagged = {r["number"] for r in audit.rows if r["degenerate"]}
    assert flagged == {1, 4} and "ONE CLASS ONLY" in audit.to_markdown()  # on the front (gap 0), and flagged


def test_markdown_saved_with_figures_links_them_from_its_own_folder(two_objective_study, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = mh.report(two_objective_study).save("out/report.md", figures="out/figs")
    text = path.read_text()
    assert "![front](figs/front.png)" in text and (tmp_path / "out" / "figs" / "front.png").exists()
    with pytest.raises(mh.ConfigError, match="figures=... goes with a Markdown report"):
        mh.report(two_objective_study).save("out/report.html", figures="out/figs")
    (tmp_path / "taken").write_text("")
    with pytest.raises(mh.ConfigError, match="'taken' is a file"):
        mh.report(two_objective_study).save_figures("taken")


def test_a_report_of_a_study_file(tmp_path):
    path = tmp_path / "s.db"
    with mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], storage=path, seed=0) as study:
        study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=3, show_progress=False)
    assert mh.report(path).data["counts"]["total"] == 3
    with pytest.raises(mh.ConfigError, match="report expects a study"):
        mh.report(42)


def test_skipped_trials_count_in_the_violations_and_the_time_line_has_no_gaps():
    from moo_hpo.timing import busy_seconds

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a")], [mh.AtMost("size_kb", 1.0)], optimizer="random", seed=0)
    big, small = study.ask(), study.ask()
    study.tell(big, {"size_kb": 3.5}, status="infeasible_skipped")
    study.tell(small, {"a": 0.1, "size_kb": 0.5})
    df = study.to_dataframe()
    assert df.loc[df.number == big.number, "violation"].item() == pytest.approx(2.5)
    (row,) = mh.report(study).data["constraint_summary"]
    assert (row["measured"], row["satisfied"], row["worst_violation"], row["skipped_before_training"]) == (2, 1, 2.5, 1)
    # two sessions a day apart: the day between them is not the study's time
    a, b = mh.Trial(0, {}, started_at=0.0, finished_at=10.0), mh.Trial(1, {}, started_at=5.0, finished_at=12.0)
    c = mh.Trial(2, {}, started_at=86_400.0, finished_at=86_403.0)
    # a trial interrupted by a crash ends when the study was reopened: it counts nothing
    lost = mh.Trial(3, {}, status=mh.TrialStatus.INTERRUPTED, started_at=11.0, finished_at=86_399.0)
    assert busy_seconds([a, b, c, lost], with_proposals=True) == pytest.approx(15.0)
    c.extra = {"optimizer": {"seconds": 2.0}}  # its proposal took 2 s before it started
    assert busy_seconds([a, b, c, lost], with_proposals=True) == pytest.approx(17.0)


def test_a_trial_found_interrupted_without_an_end_time_keeps_its_proposal_in_the_time_line(tmp_path):
    # found interrupted on reopening, a trial that never reported has no end time: the report left it out of the
    # figures, and with it the proposal it cost
    import json
    import sqlite3

    path = tmp_path / "s.db"
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a"), mh.Minimize("b")], storage=path,
                     optimizer="random", seed=0)
    study.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=2, show_progress=False)
    asked = study.ask()
    study.close()
    with sqlite3.connect(path) as con:  # as a slow model step would have recorded it
        extra = json.loads(con.execute("select extra from trials where number=?", (asked.number,)).fetchone()[0])
        extra.setdefault("optimizer", {})["seconds"] = 30.0
        con.execute("update trials set extra=? where number=?", (json.dumps(extra), asked.number))
    with mh.Study.load(path) as study:
        assert study.trials[asked.number].finished_at is None
        assert mh.report(study).data["time"]["proposal_seconds"] >= 30.0


def test_the_optimizers_share_of_the_wall_time_counts_interrupted_trials_alike():
    # a study killed twice and resumed: before, the interrupted trials' proposals counted in the proposing but not in
    # the wall time, and their runs (to when the study noticed, a day later) in the time in trials: "37.0 s wall,
    # 172743.0 s in trials, 85.0 s proposing (230% of the wall time)"
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a")], optimizer="random", seed=0)
    trials = study.ask(6)
    for t in trials:
        study.tell(t, {"a": 0.5})
    # (proposal seconds, started, finished, interrupted)
    plan = [(5.0, 100.0, 110.0, False),  # session 1
            (30.0, 140.0, 86_500.0, True),  # killed; recorded interrupted when the study was opened again
            (0.0, 86_500.0, 86_510.0, False),  # session 2: its retry
            (30.0, 86_540.0, 172_900.0, True),  # killed again
            (10.0, 172_920.0, 172_921.0, False), (10.0, 172_920.0, 172_922.0, False)]  # session 3: a batch of two (20 s)
    for t, (seconds, start, end, lost) in zip(study.trials, plan, strict=True):
        t.extra = {"optimizer": {"seconds": seconds}} if seconds else {}
        t.started_at, t.finished_at = start, end
        t.status = mh.TrialStatus.INTERRUPTED if lost else mh.TrialStatus.COMPLETE
    time = mh.report(study).data["time"]
    # wall: 15 + 30 (the first kill's proposal) + 10 + 30 (the second's) + 22 (the batch: 20 s proposing, 2 s running)
    assert time == {"wall_seconds": pytest.approx(107.0), "trial_seconds": pytest.approx(23.0), "proposal_seconds": pytest.approx(85.0)}
    assert "Time: 107.0 s wall, 23.0 s in trials, 85.0 s proposing (79% of the wall time)." in mh.report(study).to_markdown()


def test_the_proposing_never_exceeds_the_wall_time():
    import random

    from moo_hpo.timing import busy_seconds, proposal_seconds

    rng = random.Random(0)
    for _ in range(200):
        trials: list[mh.Trial] = []
        clock = 0.0
        for _ in range(rng.randint(1, 12)):
            batch = rng.randint(1, 3)  # proposed together: recorded with one start, the time split among them
            seconds = rng.uniform(0.0, 30.0)
            clock += seconds
            for _ in range(batch):
                lost = rng.random() < 0.3  # interrupted: noticed much later
                end = clock + (rng.uniform(1e4, 1e5) if lost else rng.uniform(0.0, 5.0))
                trials.append(mh.Trial(len(trials), {}, status=mh.TrialStatus.INTERRUPTED if lost else mh.TrialStatus.COMPLETE,
                                       started_at=clock, finished_at=end, extra={"optimizer": {"seconds": seconds / batch}}))
            clock += rng.uniform(0.0, 3.0) if rng.random() < 0.5 else 0.0  # the next proposal while these run, or after
        assert proposal_seconds(trials) <= busy_seconds(trials, with_proposals=True) + 1e-6


def test_an_empty_study_reads_well():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a")], seed=0)
    assert study.to_dataframe()["status"].tolist() == []
    text = mh.report(study).to_markdown()
    assert "0 trials:" in text and "Optimizer: none chosen yet" in text
    assert study.optimizer_info == {}  # the report set nothing up
    t = study.ask()
    study.tell(t, {"a": 1.0})
    assert "1 trial:" in mh.report(study).to_markdown()


def test_the_hypervolume_chart_is_on_the_headline_scale_and_the_recommended_trials_are_marked(finished_study, tmp_path):
    from moo_hpo.reports.html import front_figures, hypervolume_figure

    r = mh.report(finished_study)
    hv = r.data["hypervolume"]
    assert hv["history_normalized"][-1] == pytest.approx(hv["normalized"])
    assert list(hypervolume_figure(r.data).data[0].y) == hv["history_normalized"]
    marked = [t for t in front_figures(r.data)[0].data if t.name == "recommended"]
    assert len(marked) == 3  # one scatter per pair of the 3 objectives, each with every recommended trial
    assert all(len(t.x) == len(r.data["recommendations"]) for t in marked)
    assert "non-dominated in all 3 objectives together" in r.to_html()
    text = r.to_markdown(figures=tmp_path / "figs", relative_to=tmp_path)
    assert text.index("## Pareto front") < text.index("![front]") < text.index("## Hypervolume") < text.index("![hypervolume]")
    quoted = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("a"), mh.Minimize('lat "ms"')], optimizer="random", seed=0)
    for x in (0.2, 0.9):
        quoted.tell(quoted.ask(), {"a": x, 'lat "ms"': x})
    fig = front_figures(mh.report(quoted).data)[0]
    assert fig.layout.yaxis.title.text == 'lat "ms" (min)'  # plotly shows &quot; as written; markup stays escaped
    one = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("a")], optimizer="random", seed=0)
    for x in (0.2, 0.9, 0.5):
        one.tell(one.ask(), {"a": x})
    single = mh.report(one)  # one objective: its figure stars the recommended trial too, as the text says
    (stars,) = [t for t in front_figures(single.data)[0].data if t.name == "recommended"]
    assert list(stars.x) == [r["number"] for r in single.data["recommendations"]] == [1]


def test_small_studies_read_without_empty_figures_or_false_figures():
    space = mh.Space({"x": mh.Float(0, 1)})
    empty = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], [mh.AtMost("a", 0.5)], seed=0)
    page = mh.report(empty).to_html()
    assert "No trial yet" in page and "—" in page  # no objective-space grid, no 'worst violation 0' for nothing measured
    one = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], seed=0)
    t = one.ask()
    one.tell(t, {"a": 0.2, "b": 0.3})
    report = mh.report(one)
    assert "1 by construction" in report.data["hypervolume"]["meaning"]
    assert [r["method"] for r in report.data["recommendations"]] == ["knee, best a, best b"]  # one row, every choice named
    assert "<b>1</b>trial<" in report.to_html()


def test_a_recommended_model_that_predicts_one_class_is_flagged():
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("eo_diff")], optimizer="random", seed=0)
    one_class = [{"sex": g, "count": 50, "selection_rate": 0.0, "tpr": 0.0, "fpr": 0.0} for g in ("F", "M")]
    both = [{"sex": g, "count": 50, "selection_rate": 0.3, "tpr": 0.6, "fpr": 0.1} for g in ("F", "M")]
    for (acc, gap), groups in (((0.76, 0.0), one_class), ((0.85, 0.08), both)):
        study.tell(study.ask(), {"accuracy": acc, "eo_diff": gap}, extra={"fairness": {"by_group": groups}})
    rows = {r["number"]: r["reason"] for r in mh.report(study).data["recommendations"]}
    assert "predicts one class for everyone" in rows[0] and "predicts one class" not in rows[1]


def test_a_report_with_devices_says_what_fits_each(finished_study):
    devices = [mh.DeviceProfile("phone", max_size_kb=1e9), mh.DeviceProfile("mcu", max_size_kb=1e-9)]
    r = mh.report(finished_study, devices=devices)
    rows = {row["device"]: row for row in r.data["device_sizing"]}
    phone = mh.size_for_devices(finished_study, devices)[0]
    assert rows["phone"]["best_trial"] == phone.best.number and rows["mcu"]["best_trial"] is None
    assert rows["mcu"]["budgets"] == "size_kb <= 1e-09"
    md = r.to_markdown()
    figures = f"size_kb {phone.best.metrics['size_kb']:.4g}"  # the chosen trial's figure on the budget's metric
    assert rows["phone"]["figures"] == figures
    assert "## Device sizing" in md and f"| phone | size_kb <= 1e+09 | #{phone.best.number} ({figures}) |" in md and "none fits" in md
    assert "<h2>Device sizing</h2>" in r.to_html() and "device_sizing" not in mh.report(finished_study).data


def test_parallel_coordinates_put_better_up_and_markdown_names_the_derived_reference(finished_study):
    from moo_hpo.reports.html import front_figures

    r = mh.report(finished_study)
    par = front_figures(r.data)[-1].data[0]
    by_label = {d["label"]: d for d in par.dimensions}
    latency = next(d for label, d in by_label.items() if label.startswith("latency_p99_ms"))
    accuracy = next(d for label, d in by_label.items() if label.startswith("accuracy"))
    assert latency["range"][0] > latency["range"][1] and accuracy["range"][0] < accuracy["range"][1]  # min axes reversed
    assert max(latency["values"]) < latency["range"][0]  # padded: no line on the frame
    for d in (latency, accuracy):  # ticks on the values only: no label in the padding (a negative latency)
        assert min(d["values"]) == pytest.approx(min(d["tickvals"])) and max(d["values"]) == pytest.approx(max(d["tickvals"]))
    from moo_hpo.reports.scatter_grid import _better_up

    narrow = _better_up({"name": "accuracy", "direction": "maximize"}, [0.91231, 0.91238])
    assert len(set(narrow["ticktext"])) == 5  # as many digits as it takes to tell the ticks apart
    md = r.to_markdown()
    ref = r.data["hypervolume"]["reference_point"]
    derived = [o for o in r.data["objectives"] if o["ref"] is None]
    assert all(f"derived: {ref[o['name']]:.6g} (" in md for o in derived)


def test_the_recommendations_say_which_to_pick(finished_study):
    from moo_hpo.reports.data import RECOMMENDATIONS_GUIDE

    r = mh.report(finished_study)
    assert RECOMMENDATIONS_GUIDE.removesuffix(", starred in the figures above.") in r.to_markdown()  # no figures written
    import html

    assert html.escape(RECOMMENDATIONS_GUIDE, quote=True) in r.to_html()


def test_device_sizing_says_when_the_studys_own_limit_is_tighter_than_a_budget():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Maximize("accuracy")], [mh.AtMost("size_kb", 20.0)], seed=0)
    study.tell(study.ask(), {"accuracy": 0.8, "size_kb": 10.0})
    phone, mcu = mh.size_for_devices(study, [mh.DeviceProfile("phone", max_size_kb=500.0), mh.DeviceProfile("mcu", max_size_kb=15.0)])
    assert "the study's own limit size_kb <= 20 is tighter than this device's budget" in phone.reason
    assert "tighter" not in mcu.reason


def test_a_recommendation_off_the_models_front_is_marked_so():
    from moo_hpo.reports.data import RECOMMENDATIONS_GUIDE_MODEL
    from tests.conftest import noisy_latency_study

    study = noisy_latency_study(seed=1, top_k=3)  # the front is the model's, the recommendations the measurements'
    data = mh.report(study).data
    front = {config_key(t.config) for t in study.pareto_front()}
    assert data["front_basis"] == "model"
    off = [r for r in data["recommendations"] if not r["on_front"]]
    assert off and all(config_key(r["config"]) not in front and "; off the model's front" in r["reason"] for r in off)
    assert all("off the model's front" not in r["reason"] for r in data["recommendations"] if r["on_front"])
    assert data["recommendations_guide"].startswith(RECOMMENDATIONS_GUIDE_MODEL)
    assert "All are trials on the front" not in RECOMMENDATIONS_GUIDE_MODEL
    assert html.escape(RECOMMENDATIONS_GUIDE_MODEL, quote=True)[:60] in mh.report(study).to_html()


def test_device_constraints_skip_before_training_what_no_device_takes():
    import torch

    devices = [mh.DeviceProfile("mcu", max_size_kb=1.0, max_latency_ms=2), mh.DeviceProfile("phone", max_size_kb=2.0),
               mh.DeviceProfile("npu", max_size_kb=1.5, max_latency_ms=50, max_energy_j=0.1)]
    # size: every device budgets it, the loosest is the phone's; latency and energy: the phone takes any
    assert [c.describe() for c in mh.device_constraints(devices)] == ["size_kb <= 2"]
    assert [c.describe() for c in mh.device_constraints(devices[:1] + devices[2:])] == ["size_kb <= 1.5", "latency_p99_ms <= 50"]
    for bad in ([], ["mcu"], "mcu:size=20"):
        with pytest.raises(mh.ConfigError, match="device_constraints expects mh.DeviceProfile objects"):
            mh.device_constraints(bad)
    with pytest.raises(mh.ConfigError, match=r"received the text 'mcu:size=20' \(the command line's device syntax"):
        mh.device_constraints("mcu:size=20")
    study = mh.Study(mh.Space({"width": mh.Int(4, 256, log=True)}), [mh.Minimize("size_kb")],
                     mh.device_constraints(devices), optimizer="random", seed=0)
    trained = []

    def fit(model, config):
        trained.append(config["width"])

    study.optimize(fit, build=lambda c: torch.nn.Linear(8, c["width"]), probes=[mh.objectives.ModelSize()], n_trials=12,
                   show_progress=False)
    skipped = [t for t in study.trials if t.status is mh.TrialStatus.INFEASIBLE_SKIPPED]
    assert skipped and all(t.metrics["size_kb"] > 2.0 and t.config["width"] not in trained for t in skipped)
    assert sorted(trained) == sorted(t.config["width"] for t in study.trials if t.status is mh.TrialStatus.COMPLETE)
    assert all(t.metrics["size_kb"] <= 2.0 for t in study.trials if t.status is mh.TrialStatus.COMPLETE)


def test_the_static_front_draws_every_pair_of_objectives(tmp_path):
    import struct

    def png_size(path):
        with open(path, "rb") as f:
            return struct.unpack(">II", f.read(24)[16:24])

    sizes = {}
    for m in (2, 3, 4):
        study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize(f"f{i}") for i in range(m)], optimizer="random", seed=0)
        names = [o.name for o in study.objectives]
        study.optimize(lambda c: {n: (c["x"] + i / 7) % 1 for i, n in enumerate(names)}, n_trials=6, show_progress=False)
        (path,) = [p for p in mh.report(study).save_figures(tmp_path / str(m)) if p.name == "front.png"]
        sizes[m] = png_size(path)
    # one panel for 2 objectives; 3 panels in a row for 3 (before: the first two objectives only); 6 in two rows for 4
    assert sizes[2] == (720, 504) and sizes[3] == (1656, 504) and sizes[4] == (1656, 1008)


def test_device_sizing_chooses_as_recommend_best_under_the_devices_budgets_ties_included():
    # before, sizing broke a tie in the objective by trial number and recommend by the smallest sum of normalized
    # objectives: the two named different trials for one device
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Maximize("accuracy"), mh.Minimize("size_kb"),
                                                       mh.Minimize("latency_ms")], optimizer="random", seed=0)
    rows = [(0.857, 40.0, 9.0), (0.857, 20.0, 12.0), (0.857, 30.0, 3.0), (0.80, 10.0, 1.0), (0.90, 90.0, 20.0)]
    for trial, (acc, size, lat) in zip(study.ask(len(rows)), rows):
        study.tell(trial, {"accuracy": acc, "size_kb": size, "latency_ms": lat})
    for size, lat in ((50, 15), (45, 10), (35, 25), (100, 25), (15, 5)):
        device = mh.DeviceProfile("d", max_size_kb=size, max_latency_ms=lat, latency_metric="latency_ms")
        sized = mh.size_for_devices(study, [device], objective="accuracy")[0]
        best = study.recommend("best", objective="accuracy",
                               constraints=[mh.AtMost("size_kb", size), mh.AtMost("latency_ms", lat)])
        assert sized.best.number == best.trial.number, (size, lat)


def test_the_page_counts_interrupted_and_running_trials_and_says_why_the_objective_space_is_empty(tmp_path):
    # a study stopped before any trial completed: its page counted 0 of everything and showed empty axes
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    path = tmp_path / "s.db"
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0, storage=path)
    study.tell(study.ask(), {"a": 0.5}, status="pruned")
    study.ask()
    study.close()  # the running trial is interrupted when the study is next opened
    with mh.Study.load(path) as again:
        again.ask()  # its retry, running
        page = mh.report(again).to_html()
    text = re.sub(r"<[^>]+>", " ", page)
    assert re.search(r"\b1\s+interrupted\b", text) and re.search(r"\b1\s+running\b", text)
    assert "No complete trial to show" in page and "id='front-0'" not in page and 'id="front-0"' not in page


def test_device_sizing_reads_a_study_file_and_refuses_no_devices(tmp_path):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    path = tmp_path / "s.db"
    with mh.Study(space, [mh.Maximize("accuracy")], storage=path, optimizer="random", seed=0) as study:
        for size in (5.0, 50.0):
            study.tell(study.ask(), {"accuracy": size / 100, "size_kb": size})
    results = mh.size_for_devices(path, [mh.DeviceProfile("mcu", max_size_kb=10.0)])  # a path, as mh.report takes
    assert results[0].best.metrics["size_kb"] == 5.0
    with mh.Study.load(path, read_only=True) as study, pytest.raises(mh.ConfigError, match="at least one device"):
        mh.size_for_devices(study, [])
    with pytest.raises(mh.ConfigError, match="expects a study .* received 3"):
        mh.size_for_devices(3, [mh.DeviceProfile("mcu", max_size_kb=10.0)])


def test_a_row_chosen_by_several_methods_says_its_figures_once_and_a_front_without_a_knee_says_so():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    for a, b in ((0.1, 0.9), (0.9, 0.1), (0.95, 0.95)):  # a front of two points, each the best in one objective
        study.tell(study.ask(), {"a": a, "b": b})
    data = mh.report(study).data
    merged = [r for r in data["recommendations"] if "," in r["method"]]
    assert merged and all(r["reason"].count("a=") == 1 for r in merged)
    assert "This front has no knee (its row says why)" in data["recommendations_guide"]
    md = mh.report(study).to_markdown()  # no figures written: nothing "starred in the figures above"
    assert "starred in the figures above" not in md and "All are trials on the front." in md


def test_a_hypervolume_of_zero_says_why_in_the_report(recwarn):
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Maximize("accuracy", ref=0.99), mh.Minimize("b")],
                     optimizer="random", seed=0)
    study.optimize(lambda c: {"accuracy": 0.5 * c["x"], "b": c["x"]}, n_trials=4, show_progress=False)
    report = mh.report(study)
    assert report.data["hypervolume"]["meaning"].startswith("0 because no feasible trial is better than the reference point")
    assert "0 because no feasible trial" in report.to_markdown()
    assert not [w for w in recwarn if "better than the reference point" in str(w.message)]  # said in the report instead
    from moo_hpo.reports.html import hypervolume_figure

    assert "<br><sup>reference point: accuracy = 0.99, b = " in hypervolume_figure(report.data).layout.title.text


def test_device_sizing_says_when_latency_was_measured_on_another_kind_of_device_and_refuses_a_dict():
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy"), mh.Minimize("size_kb")], optimizer="random", seed=0)
    for accuracy, latency in ((0.8, 0.5), (0.9, 2.0)):
        trial = study.ask()
        study.tell(trial, mh.Result({"accuracy": accuracy, "size_kb": 10.0, "latency_p99_ms": latency},
                                    extra={"latency": {"device": "cpu", "device_name": "x86"}}))
    gpu, cpu, sized = (mh.DeviceProfile("jetson", max_latency_ms=1.0, device="cuda"), mh.DeviceProfile("pi", max_latency_ms=1.0),
                       mh.DeviceProfile("mcu", max_size_kb=20.0, device="cuda"))
    rows = {r.profile.name: r for r in mh.size_for_devices(study, [gpu, cpu, sized])}
    assert rows["jetson"].reason.endswith("; latency measured on cpu, not on this device's cuda")
    assert "measured on" not in rows["pi"].reason and "measured on" not in rows["mcu"].reason  # same kind; no latency budget
    with pytest.raises(mh.ConfigError, match=r"received a dict \(its keys would be read as the profiles\): pass list\(profiles.values\(\)\)"):
        mh.size_for_devices(study, {"jetson": gpu})
    # two Latency probes, one per device: each budget is judged by where its own metric was measured
    both = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Maximize("accuracy")], optimizer="random", seed=0)
    both.tell(both.ask(), mh.Result({"accuracy": 0.8, "cpu_latency_p99_ms": 0.5, "gpu_latency_p99_ms": 0.1},
                                    extra={"cpu_latency": {"device": "cpu"}, "gpu_latency": {"device": "cuda:0"}}))
    rows = mh.size_for_devices(both, [mh.DeviceProfile("pi", max_latency_ms=1.0, latency_metric="cpu_latency_p99_ms"),
                                      mh.DeviceProfile("orin", max_latency_ms=1.0, latency_metric="gpu_latency_p99_ms", device="cuda"),
                                      mh.DeviceProfile("orin-cpu", max_latency_ms=1.0, latency_metric="cpu_latency_p99_ms", device="cuda")])
    assert [r.reason.endswith("not on this device's cuda") for r in rows] == [False, False, True]
    assert mh.reports.sizing.profile_from_text("orin:latency=1,device=cuda").device == "cuda"


@pytest.mark.parametrize("which", ["finished_study", "two_objective_study"])
def test_the_front_is_drawn_on_top_of_the_dominated_trials_and_listed_first(which, request):
    from moo_hpo.reports.html import front_figures

    study = request.getfixturevalue(which)
    scatters = [t for t in front_figures(mh.report(study).data)[0].data if t.mode == "markers"]
    by_axes: dict = {}
    for position, t in enumerate(scatters):  # per pair of objectives, the order in which plotly draws them
        by_axes.setdefault((t.xaxis, t.yaxis), []).append((position, t.name))
    for drawn in by_axes.values():
        names = [name for _, name in drawn]
        assert names.index("Pareto front (feasible)") > max(i for i, n in enumerate(names) if n.startswith(("feasible", "infeasible")))
    ranks = {t.name: t.legendrank for t in scatters}
    assert ranks["Pareto front (feasible)"] < ranks["feasible, dominated"] < ranks["infeasible (breaks a hard constraint)"]


def test_the_report_counts_the_trials_of_each_optimizer_a_resumed_study_ran(tmp_path):
    path = tmp_path / "s.db"
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    fn = lambda c: {"a": c["x"], "b": 1 - c["x"]}  # noqa: E731
    with mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], storage=path, optimizer="random", seed=0) as study:
        study.optimize(fn, n_trials=5, show_progress=False)
    with mh.Study.load(path, optimizer="sobol") as study:
        study.optimize(fn, n_trials=3, show_progress=False)
        report = mh.report(study)
    assert report.data["optimizer"]["trials_by"] == {"random": 5, "sobol": 3}
    assert "sobol (" in report.to_markdown() and "trials proposed by random: 5, sobol: 3" in report.to_markdown()
    assert "trials proposed by random: 5, sobol: 3" in report.to_html()


def test_the_report_counts_an_interrupted_trials_retry_as_run_again_and_the_trials_stored(tmp_path):
    # a retry is recorded as enqueued (extra["retry_of"]): the report said "enqueued: 1" of a study that queued
    # nothing, and its "budget" row counted the interrupted trial among the trials asked for
    path = tmp_path / "s.db"
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    fn = lambda c: {"a": c["x"], "b": 1 - c["x"]}  # noqa: E731
    study = mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], storage=path, optimizer="random", seed=0)
    study.optimize(fn, n_trials=3, show_progress=False)
    study.ask()
    study.close()  # the asked trial is interrupted when the study is next opened
    with mh.Study.load(path) as study:
        study.optimize(fn, n_trials=2, show_progress=False)
        report = mh.report(study)
        retry = [t for t in study.trials if "retry_of" in t.extra]
    assert len(retry) == 1 and retry[0].optimizer == "enqueued"  # as recorded
    assert report.data["optimizer"]["trials_by"] == {"random": 5, "run again": 1}
    assert "trials proposed by random: 5, run again: 1" in report.to_html() and "enqueued" not in report.to_markdown()
    assert re.search(r"<td>trials stored</td><td>6</td>", report.to_html()) and "<td>budget</td>" not in report.to_html()


def test_the_normalized_hypervolume_is_said_to_be_the_studys_own_and_the_raw_one_compares():
    """A front that dominates another can score lower normalized (each study's own box): the report says to compare
    raw values against one reference point, which rank the two fronts right."""
    def study_of(points):
        study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("f1", ref=1.0), mh.Minimize("f2", ref=1.0)],
                         optimizer="random", seed=0)
        for p in points:
            study.tell(study.ask(), {"f1": p[0], "f2": p[1]})
        return study

    better, worse = study_of([(0.0, 0.6), (0.6, 0.0), (0.4, 0.4)]), study_of([(0.45, 0.45)])
    assert better.hypervolume() > worse.hypervolume(ref=better.reference_point)
    assert better.hypervolume(normalized=True) < worse.hypervolume(normalized=True) == 1.0
    text = " ".join(mh.report(worse).to_markdown().split())
    assert "does not compare between studies (a front of one point scores 1); to compare studies, compare their raw values" in text


def test_the_reports_tell_apart_choices_that_print_alike():
    """1, 1.0 and '1' are three choices of a categorical: the front table and the CLI print them apart."""
    study = mh.Study({"c": mh.Categorical([1, 1.0, "1"])}, [mh.Maximize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    for k, choice in enumerate([1, 1.0, "1"]):
        study.enqueue({"c": choice})
        study.tell(study.ask(), {"a": float(k), "b": float(k)})  # each on the front
    text = mh.report(study).to_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| #")]
    assert [row.split("|")[2].strip() for row in rows[:3]] == ["1", "1.0", "'1'"]


def test_failures_are_grouped_by_what_they_say_apart_from_numbers_and_name_their_trials():
    # one error whose message holds a number (the step a loss diverged at) made a group per trial: 56 for 59 failures
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], optimizer="random", seed=0)
    for step in (3, 7, 11):
        study.tell(study.ask(), error=f"RuntimeError: loss diverged at step {step}")
    study.tell(study.ask(), error="ValueError: bad batch")
    study.tell(study.ask(), {"f": 1.0})
    r = mh.report(study)
    assert r.data["failures"] == [
        {"reason": "RuntimeError: loss diverged at step 3", "count": 3, "trials": [0, 1, 2]},
        {"reason": "ValueError: bad batch", "count": 1, "trials": [3]},
    ]
    assert "| RuntimeError: loss diverged at step 3 | 3 | #0, #1, #2 |" in r.to_markdown()
    assert ">#0, #1, #2</td>" in r.to_html()
    study.tell(study.ask(), error="RuntimeError: " + "an objective that ends its own process " * 8)
    cut = mh.report(study).data["failures"][-1]["reason"]
    assert len(cut) == 200 and cut.endswith("\u2026")  # cut with a mark: it read as the whole reason


def test_a_lost_worker_s_trials_count_no_seconds_the_worker_did_not_report():
    # a lost trial has no time on a worker: its duration counted the minutes it waited for workers to restart
    from moo_hpo.reports.data import workers
    from moo_hpo.reports.sections import workers_rows

    ran = mh.Trial(number=0, config={}, status=mh.TrialStatus.COMPLETE, started_at=0.0, finished_at=9.0,
                   extra={"worker": {"name": "w1", "host": "h", "run_seconds": 2.5}})
    lost = mh.Trial(number=1, config={}, status=mh.TrialStatus.FAILED, started_at=0.0, finished_at=18.6,
                    extra={"worker_lost": "KilledWorker"})
    rows = {r["worker"]: r for r in workers([ran, lost])}
    assert rows["w1"]["seconds"] == 2.5 and rows["(lost)"]["seconds"] is None
    assert [r[-1] for r in workers_rows(list(rows.values()))] == ["2.5", "—"]


def test_a_lone_measured_front_beside_the_model_s_front_is_named_as_such():
    # "With a single trial on the front" sat beside a front table of 11 trials (the model's), and the hypervolume's
    # front was one lucky run
    def noisy(c, trial):
        rng = np.random.default_rng(trial.seed)
        return {"a": c["x"] + rng.normal(0, 0.05), "b": 1 - c["x"] + rng.normal(0, 0.05)}

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(noisy, n_trials=12, show_progress=False)
    lucky = study.ask()
    study.tell(lucky, {"a": -0.5, "b": -0.5})
    calls = []

    def again(c, trial):  # the first repeat fails: not one of the runs the recommendations average
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("lost")
        return {"a": 0.5, "b": 0.5}

    study.reevaluate(again, repeats=3)
    assert sum(t.status is mh.TrialStatus.FAILED for t in study.trials) == 1
    data = mh.report(study).data
    assert data["front_basis"] == "model" and len(data["front"]) > 1
    meaning = data["hypervolume"]["meaning"]
    assert "With a single trial on the front" not in meaning
    assert f"whose front is one trial, #{lucky.number}" in meaning and "ran 3 times to completion" in meaning


def test_the_report_says_how_many_proposals_the_model_made_when_its_time_share_ran_out(tmp_path):
    # a study of quick trials under `auto` made most proposals by mutation (no model) while the report said "ehvi"
    from moo_hpo.optimizers import make_optimizer
    from tests.optimizers.bayesian.studies import FAST

    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    optimizer = make_optimizer("ehvi", {**FAST, "noiseless": False, "time_share": 0.2})
    study = mh.Study(space, [mh.Minimize("a", ref=2.0), mh.Minimize("b", ref=2.0)], optimizer=optimizer, seed=0,
                     storage=tmp_path / "s.db")
    for _ in range(8):
        t = study.ask()
        study.tell(t, {"a": t.config["x"] + t.config["y"], "b": 1 - t.config["x"] + t.config["y"]})
    report = mh.report(study)
    assert report.data["optimizer"]["steps"] == {"mutation": 6}
    said = "its proposals after the initial design: 6 by mutation of front configurations (no model)"
    assert said in report.to_markdown() and said in report.to_html()

    study.close()
    with mh.Study.load(tmp_path / "s.db", optimizer="random") as resumed:  # went on with another optimizer
        resumed.tell(resumed.ask(), {"a": 0.5, "b": 0.5})
        assert mh.report(resumed).data["optimizer"]["steps"] == {}  # the earlier one's steps are not its

    plain = mh.Study(space, [mh.Minimize("a", ref=2.0), mh.Minimize("b", ref=2.0)], optimizer="random", seed=0)
    for _ in range(3):
        t = plain.ask()
        plain.tell(t, {"a": t.config["x"], "b": t.config["y"]})
    assert mh.report(plain).data["optimizer"]["steps"] == {} and "initial design" not in mh.report(plain).to_markdown()
