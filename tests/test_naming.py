"""The "did you mean" of error messages: one close name, case ignored, or none."""

from moo_hpo.naming import closest_name


def test_the_closest_name_ignores_case_and_keeps_the_candidates_spelling():
    assert closest_name("f2", ["F2", "f1x"]) == "F2"
    assert closest_name("acuracy", ["eo_diff", "accuracy"]) == "accuracy"
    assert closest_name("size", ["latency_p99_ms"]) is None
    assert closest_name("acc", ["val_acc"], cutoff=0.75) is None  # a stricter cutoff asks for a closer name
    assert closest_name("acc", []) is None
