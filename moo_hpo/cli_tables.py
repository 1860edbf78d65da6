"""The command line's tables and lines on a study: its Pareto front (``moo-hpo run``, ``front``, ``demo``) and its
trials counted by status."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

import moo_hpo as mh
from moo_hpo.values import choice_text

__all__ = ["FRONT_ROWS", "counts_text", "front_table"]

#: front rows printed when not told (``--limit``): a large front is shown spread along its first objective
FRONT_ROWS = 50


def front_table(study: mh.Study, title: str = "Pareto front", limit: int | None = FRONT_ROWS,
                all_rows: str = "--limit 0 shows them all") -> Table:
    """The study's Pareto front as a rich table: objective values, then the configuration (the front by the
    model's estimates when the study's metrics showed noise, as :meth:`moo_hpo.Study.pareto_front` decides).
    A front of more than ``limit`` trials (None or 0: no limit) shows ``limit`` of them, evenly spread along the
    first objective, both ends included."""
    basis = study.front_basis()
    front = study.pareto_front(by=basis)
    everything = len(front)
    if limit and everything > limit:
        first = study.objectives[0].name
        along = sorted(front, key=lambda t: t.metrics[first])
        picked = {round(k * (everything - 1) / (limit - 1)) for k in range(limit)} if limit > 1 else {0}
        front = sorted((along[i] for i in picked), key=lambda t: t.number)
    if front and basis == "model":
        title += ", chosen by the model's estimates (the metrics are noisy; measured values shown)"
    table = Table(title=escape(title))  # names are the user's: '[/]' in one is text, not rich markup
    table.add_column("#", justify="right")
    from moo_hpo.objectives.energy import estimated_metrics
    from moo_hpo.reports.estimates import labelled

    estimates = estimated_metrics(study.trials)  # energy from watts=...: an estimate, said so as the reports say it
    for o in study.objectives:
        table.add_column(escape(f"{labelled(o.name, estimates)} ({'max' if o.direction == 'maximize' else 'min'})"),
                         justify="right")
    table.add_column("configuration", overflow="fold")
    for t in front:
        config = ", ".join(f"{k}={choice_text(v)}" for k, v in t.config.items())
        table.add_row(str(t.number), *[f"{t.metrics[o.name]:.4g}" for o in study.objectives], escape(config))
    if not front:
        from moo_hpo.infeasibility import no_feasible_reason

        why, closest = no_feasible_reason(study.problem, study.trials)
        table.caption = ("no feasible trial yet: the front is empty (the counts below say why)" if closest is None else
                         escape(f"no feasible trial yet: the front is empty; {why}"))
    elif len(front) < everything:
        table.caption = (f"{len(front)} of the {everything} trials on the front, spread along {escape(study.objectives[0].name)} "
                         f"({escape(all_rows)})")
    from moo_hpo.reports.fairness_cells import one_class_only

    one_class = [f"#{t.number}" for t in front if one_class_only(t)]
    if one_class:  # a zero gap by construction: on the front, but no model to choose
        said = (f"{', '.join(one_class)} predict{'s' if len(one_class) == 1 else ''} one class for everyone (accuracy the "
                "base rate, fairness gap 0 by construction): no usable model")
        table.caption = f"{table.caption}; {said}" if table.caption else said
    return table


def counts_text(study: mh.Study) -> str:
    """The study's trials counted by status, in one line: complete (feasible), pruned, failed, and the
    other statuses once there are any (pruned too as soon as a trial reported intermediate metrics)."""
    n = {s.value: study.count(s) for s in mh.TrialStatus}
    parts = [f"{n['complete']} complete ({study.n_feasible} feasible)"]
    if n["pruned"] or any(t.reports for t in study.trials):
        parts.append(f"{n['pruned']} pruned")
    parts.append(f"{n['failed']} failed")
    labels = {"infeasible_skipped": "skipped before training", "interrupted": "interrupted", "running": "running"}
    parts += [f"{n[key]} {label}" for key, label in labels.items() if n[key]]
    text = f"{len(study.trials)} trials: " + ", ".join(parts)
    left = study.left_running()
    if left:
        they, their = ("they were", "their configurations") if len(left) > 1 else ("it was", "its configuration")
        text += (f" ({they} running when the study's run stopped: no process writes the study now; resumed, the study "
                 f"records {'them' if len(left) > 1 else 'it'} interrupted and runs {their} again)")
    return text
