"""How the fairness audit writes its figures: table cells, numbers in sentences, one-class models (and the summary when
they are all there is) and small groups."""

from __future__ import annotations

from collections import Counter
from typing import Any

from moo_hpo.exceptions import ConfigError
from moo_hpo.reports.fairness_names import fairness_extra
from moo_hpo.trial import Trial
from moo_hpo.values import choice_text

__all__ = ["GROUP_COLUMNS", "config_text", "dash", "group_cell", "group_tables", "holdout_meets", "near", "no_audited_trials_error",
           "no_usable_model_note",
           "one_class_notes", "one_class_only", "predicts", "short", "small_groups_note", "trial_cell", "yes_no"]

#: The per-group columns, as a reader knows them.
GROUP_COLUMNS = {"count": "people", "positives": "positives (actual)", "negatives": "negatives (actual)",
                 "weight": "weight (sum of the rows' weights)",
                 "selection_rate": "selection rate (predicted positive)", "tpr": "tpr (true-positive rate)",
                 "fpr": "fpr (false-positive rate)"}


def group_cell(key: str, value: Any) -> Any:
    """A per-group cell: a rate over nobody (no positives for tpr, no negatives for fpr) is undefined."""
    if value is None and key in ("tpr", "fpr"):
        return f"undefined (no {'positives' if key == 'tpr' else 'negatives'})"
    return round(value, 4) if isinstance(value, float) else value


def trial_cell(row: dict[str, Any]) -> str:
    """The trial cell of a row: its number, and over how many runs its figures are means, where more than one (the
    per-group tables are its first run's)."""
    runs = row.get("runs", 1)
    return f"#{row['number']}" + (f" (mean of {runs} runs)" if runs > 1 else "")


def config_text(config: dict[str, Any]) -> str:
    """A configuration in a table cell: numbers to 4 significant digits, choices that print alike told apart."""
    return ", ".join(f"{k}={choice_text(v, 4)}" for k, v in config.items())


def short(x: float) -> str:
    """A figure in a sentence: 3 significant digits below 1, else 4."""
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.4g}"


def near(x: float, bound: float) -> str:
    """``x`` beside ``bound``: with the digits it takes to tell them apart (0.050004 over a bound of 0.05 is not
    "0.05")."""
    for digits in range(3, 10):
        text = f"{x:.{digits}g}"
        if x == bound or text != f"{bound:.{digits}g}":
            return text
    return repr(x)


def gap_cell(value: Any, bound: float | None) -> Any:
    """A gap in a table cell (which prints 6 significant digits): with the digits it takes to tell it from the
    bound where those would print it as the bound (0.0500000001 over a bound of 0.05 beside "no")."""
    if value is None:
        return "-"
    if bound is None or value == bound or f"{value:.6g}" != f"{bound:.6g}":
        return value
    return near(value, bound)


def one_class_only(trial: Trial, fairness: dict[str, Any] | None = None) -> bool:
    """True when a trial's classifier predicted a single class for everyone (every group's selection rate
    is 0, or every one is 1): a degenerate model whose zero gap says nothing about fairness. ``fairness``: the
    audited gap's probe's stored data (default: the trial's first fairness table)."""
    from moo_hpo.objectives.fairness import predicts_one_class

    return predicts_one_class(trial.extra if fairness is None else {"fairness": fairness})


def one_class_notes(candidates: list[Trial], usable: list[Trial], choices: list[dict[str, Any]], gap: str) -> str:
    """The summary's sentences on one-class predictions: the candidates that predict one class for everyone (left
    out of the choices), then each choice that does so within a group (its gap there is one between rates of 0 or 1,
    small whatever the model's merit: a model that selects no woman meets an equalized-odds bound if it selects
    almost no man either), or ``""``."""
    from moo_hpo.objectives.fairness import one_class_groups

    text = ""
    degenerate = [t.number for t in candidates if one_class_only(t, fairness_extra(t, gap))]
    if degenerate:
        one = len(degenerate) == 1
        text += (
            f" {'Trial' if one else 'Trials'} {', '.join(f'#{n}' for n in degenerate)} predict{'s' if one else ''} one class "
            f"only ({'its' if one else 'their'} accuracy is the base rate and {'its' if one else 'their'} gap is 0 by "
            "construction): flagged, and left out of the choices above."
        )
    chosen = {c["number"] for c in choices}
    for t in usable:
        groups = one_class_groups({"fairness": fairness_extra(t, gap)}) if t.number in chosen else []
        if groups:
            text += (f" Trial #{t.number}, a choice above, predicts one class for everyone in a group ({'; '.join(groups)}): "
                     "its gap there compares rates of 0 or 1, which say nothing of how it treats that group's people; "
                     "check that it serves every group before choosing it.")
        rate = selection_rate(fairness_extra(t, gap)) if t.number in chosen and not groups else None
        if rate is not None and min(rate, 1 - rate) < NEARLY_ONE_CLASS:
            by = " (by sample weight)" if weighted(fairness_extra(t, gap).get("by_group") or []) else ""
            text += (f" Trial #{t.number}, a choice above, selects {_percent(rate)} of people{by}, nearly one class for everyone: "
                     "a gap between rates near 0 (or 1) is small whatever the model's merit; check that it serves the "
                     "purpose before choosing it.")
    return text


def _percent(rate: float) -> str:
    """A share as a percentage with the digits that keep it off 0% and 100% (0.9997: "99.97%", not "100%")."""
    text = f"{100 * rate:.3g}"
    if "e" not in text and 0 < float(text) < 100:
        return f"{text}%"
    for digits in range(1, 10):
        text = f"{100 * rate:.{digits}f}".rstrip("0").rstrip(".")
        if 0 < float(text) < 100:
            return f"{text}%"
    return f"{100 * rate:g}%"


#: A choice that selects fewer than this share of people (or more than 1 minus it) is said to be nearly one class.
NEARLY_ONE_CLASS = 0.02


def selection_rate(fairness: dict[str, Any]) -> float | None:
    """The share of people a model selects, from its per-group table (each group's rate weighed by its count, or by
    its total sample ``weight`` when the table has one: its rates are weighted then), or None without one."""
    groups = fairness.get("by_group") or []
    size = "weight" if weighted(groups) else "count"
    rows = [g for g in groups if isinstance(g.get(size), (int, float))
            and isinstance(g.get("selection_rate"), (int, float)) and g["selection_rate"] == g["selection_rate"]]
    total = sum(g[size] for g in rows)
    return sum(g[size] * g["selection_rate"] for g in rows) / total if total > 0 else None


def weighted(groups: list[dict[str, Any]]) -> bool:
    """True when a per-group table was made with sample weights (each group has its total ``weight``)."""
    return bool(groups) and all(isinstance(g.get("weight"), (int, float)) for g in groups)


def yes_no(meets: bool | None) -> str:
    """A "meets the bound" cell: yes, no, or a dash when there is no bound."""
    return "-" if meets is None else ("yes" if meets else "no")


def predicts(row: dict[str, Any]) -> str:
    """The "predicts" cell: one class only, both classes (naming a group given one class for everyone), or the status
    of a trial that did not complete."""
    if row.get("status", "complete") != "complete":
        return f"- ({row['status']})"
    if row.get("degenerate"):
        return "ONE CLASS ONLY"
    if not row.get("by_group"):
        return "-"
    from moo_hpo.objectives.fairness import one_class_groups

    within = one_class_groups({"fairness": {"by_group": row["by_group"]}})  # one class for everyone in some group
    return f"both classes; one class in {'; '.join(within)}" if within else "both classes"


def dash(value: Any) -> Any:
    """A cell without a value is a dash."""
    return "-" if value is None else value


def holdout_meets(row: dict[str, Any]) -> str:
    """The held-out "meets the bound" cell, flagging a bound met on validation and broken on held-out data."""
    if row.get("broken_on_holdout"):
        return "BROKEN ON HELD-OUT"
    met = row.get("holdout_meets_bound")
    return "-" if met is None else "yes" if met else "no"


#: per gap, the per-group counts its rates divide by (TPR: positives, FPR: negatives, selection rate: people)
_GAP_COUNTS = {"tpr_diff": ("positives",), "eop_diff": ("positives",), "fpr_diff": ("negatives",),
               "eo_diff": ("positives", "negatives"), "dp_diff": ("count",)}
_COUNT_WORDS = {"positives": ("positive label", "TPR"), "negatives": ("negative label", "FPR"), "count": ("person", "selection rate")}


def small_groups_note(rows: list[dict[str, Any]], gap: str) -> str:
    """Sentences naming the groups whose rate behind ``gap`` rests on fewer than ``FEW_LABELS`` people in the
    validation data, then in the held-out data (a gap set by such a group is mostly chance), or ``""``."""
    return _small_groups(rows, gap, "by_group", "validation") + _small_groups(rows, gap, "holdout_by_group", "held-out")


def _small_groups(rows: list[dict[str, Any]], gap: str, table: str, split: str) -> str:
    from moo_hpo.objectives.fairness import FEW_LABELS, gap_parts

    groups = next((r[table] for r in rows if r.get(table)), None)
    base = gap_parts(gap)[1]  # a probe's prefix ("sex_tpr_diff") left out
    if not groups or base not in _GAP_COUNTS:
        return ""
    sentences = []
    for key in _GAP_COUNTS[base]:
        word, rate = _COUNT_WORDS[key]
        small = [(g, g[key]) for g in groups if isinstance(g.get(key), int) and g[key] < FEW_LABELS]
        if not small:
            continue
        named = ", ".join(f"{' / '.join(str(v) for k, v in g.items() if k not in GROUP_COLUMNS and k != 'accuracy')} "
                          f"({n} {word}{'' if n == 1 else 's'})" for g, n in small[:8])
        one = len(small) == 1
        none = all(n == 0 for _, n in small)  # a rate over nobody: undefined, counted as 0
        article = "an" if gap[:1] in "aeiou" else "a"
        rests = (f"{'its' if one else 'their'} {rate} is undefined (a rate over nobody, counted as 0), so {article} {gap} set by "
                 f"{'it' if one else 'them'} means nothing" if none else
                 f"{'its' if one else 'their'} {rate} rests on so few people that {article} "
                 f"{gap} set by {'it' if one else 'them'} is mostly chance (a rate over nobody counts as 0)")
        sentences.append(
            f" {'Group' if one else 'Groups'} {named}{', ...' if len(small) > 8 else ''} {'has' if one else 'have'} "
            f"{'no' if none else 'fewer than ' + str(FEW_LABELS)} {word}s in the {split} data: {rests}; merge or "
            "drop such groups for a gap that means something."
        )
    return "".join(sentences)


def no_usable_model_note(pool: list[Trial], candidates: list[Trial], limits: list[Any], scope: str, accuracy: str, gap: str,
                     score: Any) -> str:
    """The audit's summary when every candidate predicts one class for everyone: no model is recommended; the most
    accurate one that predicts both classes is named when only the study's other hard limits rule it out."""
    numbers = ", ".join(f"#{t.number}" for t in candidates[:10]) + (", ..." if len(candidates) > 10 else "")
    within = f" that keeps to the study's other hard limits ({', '.join(c.describe() for c in limits)})" if limits else ""
    text = (f"No model to recommend: every {scope}{within} predicts one class for everyone ({numbers}): such a model's "
            f"{accuracy} is the base rate and its gap is 0 by construction, so none is usable.")
    learners = [t for t in pool if t not in candidates and not one_class_only(t, fairness_extra(t, gap))]
    if learners:
        other = max(learners, key=score)
        text += (f" The most accurate {scope} that predicts both classes (trial #{other.number}: {accuracy} "
                 f"{short(other.metrics[accuracy])}, {gap} {short(other.metrics[gap])}) breaks those limits.")
    return text


def no_audited_trials_error(study: Any, accuracy: str, gap: str) -> ConfigError:
    """The error of an audit without a complete trial that measured both metrics: that no trial completed (all pruned,
    failed ...), or which metrics the complete ones measure, with the names the user may have meant."""
    from moo_hpo.naming import closest_name
    from moo_hpo.reports.fairness_names import (
        HIGHER_IS_BETTER,
        LOWER_IS_BETTER,
        named_as,
    )
    from moo_hpo.trial import TrialStatus

    complete = [t for t in study.trials if t.status is TrialStatus.COMPLETE]
    if not complete:
        counts = Counter(t.status.value for t in study.trials)
        statuses = ", ".join(f"{n} {status}" for status, n in counts.most_common())
        return ConfigError(f"no trial has completed ({statuses or 'no trials'}): the audit judges complete trials, "
                           f"which measured {accuracy!r} and {gap!r} on the trained model; a pruned trial's figures are "
                           "those of a model stopped early")
    measured = sorted({m for t in complete for m in t.metrics})
    chosen_on = [m for m in measured if not m.startswith("holdout_")]

    def like(name: str) -> str | None:  # a near name, or the one name it abbreviates ('acc' for 'accuracy')
        starting = [m for m in chosen_on if len(name) >= 3 and m.startswith(name)]
        return closest_name(name, chosen_on) or (starting[0] if len(starting) == 1 else None)

    hints = [f"{close!r} for {name!r}?" for name in (accuracy, gap) if name not in measured and (close := like(name))]
    scored = [o.name for o in study.objectives if o.name in measured and named_as(o.name, HIGHER_IS_BETTER + LOWER_IS_BETTER)]
    if accuracy not in measured and scored and not any(h.endswith(f"for {accuracy!r}?") for h in hints):
        hints.append(f"the study's objective {scored[0]!r} for {accuracy!r}? (accuracy={scored[0]!r})")
    return ConfigError(
        f"no complete trial has both {accuracy!r} and {gap!r}; expected a study that measures them "
        f"(its complete trials measure {measured or 'nothing'}{'; ' + ' '.join(hints) if hints else ''})"
    )


def group_tables(r: dict[str, Any], holdout: bool) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Per audited trial, its per-group tables (validation, held-out): title, header, rows, the last row the
    largest between-group difference of each rate (what the gaps are made of)."""
    tables, runs = [], r.get("runs", 1)
    # a configuration run more than once: its row holds the means of its runs, its tables are one run's
    first = f"its first run of {runs}: the figures above are the means of its runs" if runs > 1 else ""
    valid = "; ".join(p for p in ("validation" if holdout else "", first) if p)
    for title, groups in ((f"Trial #{r['number']} by group" + (f" ({valid})" if valid else ""), r["by_group"]),
                          (f"Trial #{r['number']} by group (held-out{'; ' + first if first else ''})", r.get("holdout_by_group"))):
        if not groups:
            continue
        keys = list(groups[0])
        rates = [k for k in keys if k in ("accuracy", "selection_rate", "tpr", "fpr")]
        first = [k for k in keys if k not in GROUP_COLUMNS and k not in rates]  # the group's own column(s)
        rows = [[group_cell(k, g[k]) for k in keys] for g in groups]
        if len(groups) > 1:
            spread: dict[str, Any] = {k: max(g[k] for g in groups) - min(g[k] for g in groups) for k in rates
                                      if all(isinstance(g[k], (int, float)) for g in groups)}
            for k in ("tpr", "fpr"):  # a rate over nobody: the gap counts it as 0 (fairlearn), and so does this
                values = [g.get(k) for g in groups]
                if k in rates and k not in spread and any(isinstance(v, (int, float)) for v in values):
                    counted, low = [v if isinstance(v, (int, float)) else 0.0 for v in values], min(v for v in values if isinstance(v, (int, float)))
                    spread[k] = f"{max(counted) - min(counted):.4g}" + (" (an undefined rate counted as 0)" if low > 0 else "")
            rows.append([("largest difference" if k == first[0] else "") if k in first else spread.get(k, "") for k in keys]
                        if first else [spread.get(k, "") for k in keys])
        tables.append((title, [GROUP_COLUMNS.get(k, k) for k in keys], rows))
    return tables
