from __future__ import annotations

import json

import moo_hpo as mh
from tests.reports.conftest import XSS


def test_report_data_covers_every_section(finished_study):
    r = mh.report(finished_study, weights={"accuracy": 2, "eo_diff": 1, "latency_p99_ms": 1})
    d = r.data
    assert d["counts"]["total"] == 40 and d["counts"]["failed"] == sum(1 for t in finished_study.trials if t.config["k"] == 3)
    assert [o["name"] for o in d["objectives"]] == ["accuracy", "eo_diff", "latency_p99_ms"]
    assert {t["number"] for t in d["front"]} == {t.number for t in finished_study.pareto_front()}
    assert d["hypervolume"]["value"] == finished_study.hypervolume()
    assert len(d["hypervolume"]["history"]) == 40
    assert [r["method"] for r in d["recommendations"]] == ["knee", "best", "best", "best", "asf"]
    assert d["failures"][0]["reason"].startswith("RuntimeError: diverged")
    size = next(s for s in d["constraint_summary"] if s["text"].startswith("size_kb"))
    assert size["measured"] == d["counts"]["complete"] and size["satisfied"] < size["measured"]
    assert "moo_hpo" in d["versions"] and d["seed"] == 0


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
    md = r.to_markdown(figures=tmp_path / "figs")
    assert "## Recommended operating points" in md and "![front]" in md
    assert (tmp_path / "figs" / "front.png").stat().st_size > 1000
    assert (tmp_path / "figs" / "hypervolume.png").exists()
    assert "&lt;script&gt;" in md and XSS not in md
    data = json.loads(r.to_json())
    assert data["counts"]["total"] == 24
    for suffix in (".html", ".md", ".json"):
        assert r.save(tmp_path / f"report{suffix}").stat().st_size > 100


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
    assert text.splitlines()[0].startswith("device,max_size_kb") and len(text.splitlines()) == 4
