"""Constraints: how they read and rebuild."""

from __future__ import annotations

import moo_hpo as mh


def test_a_constraint_reads_back_its_bound_exactly():
    c = mh.AtMost("latency_ms", 0.1234567, soft=True, penalty=2.5)
    assert c.describe() == "latency_ms <= 0.1234567 (soft)"
    assert eval(repr(c), {"AtMost": mh.AtMost}) == c  # noqa: S307 - the repr rebuilds it
    assert repr(mh.AtLeast("accuracy", 0.9)) == "AtLeast('accuracy', 0.9)"
