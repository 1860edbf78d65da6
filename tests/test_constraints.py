"""Constraints: how they read and rebuild."""

from __future__ import annotations

import moo_hpo as mh


def test_a_constraint_reads_back_its_bound_exactly():
    c = mh.AtMost("latency_ms", 0.1234567, soft=True, penalty=2.5)
    assert c.describe() == "latency_ms <= 0.1234567 (soft)"
    assert eval(repr(c), {"AtMost": mh.AtMost}) == c  # noqa: S307 - the repr rebuilds it
    assert repr(mh.AtLeast("accuracy", 0.9)) == "AtLeast('accuracy', 0.9)"


def test_a_negative_bound_on_a_fairness_gap_is_warned_of():
    # AtMost("tpr_diff", -0.05) (a sign typo for |TPR_diff| <= 0.05) made every trial infeasible without a hint
    import pytest

    with pytest.warns(mh.MooHpoWarning, match=r"AtMost\('sex_tpr_diff', -0.05\): a fairness gap is never below 0.*"
                                              r"AtMost\('sex_tpr_diff', 0.05\) bounds its size"):
        mh.AtMost("sex_tpr_diff", -0.05)
    with pytest.warns(mh.MooHpoWarning, match=r"a fairness ratio is never below 0.*AtLeast\('dp_ratio', 0.8\) keeps the fairer"):
        mh.AtMost("dp_ratio", -0.8)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mh.AtMost("tpr_diff", 0.05)
        mh.AtMost("loss_change", -0.05)  # a metric that may be negative: its bound is the user's
