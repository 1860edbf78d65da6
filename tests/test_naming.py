"""The "did you mean" of error messages: one close name, case ignored, or none."""

from moo_hpo.naming import closest_name


def test_the_closest_name_ignores_case_and_keeps_the_candidates_spelling():
    assert closest_name("f2", ["F2", "f1x"]) == "F2"
    assert closest_name("acuracy", ["eo_diff", "accuracy"]) == "accuracy"
    assert closest_name("size", ["latency_p99_ms"]) is None
    assert closest_name("acc", ["val_acc"], cutoff=0.75) is None  # a stricter cutoff asks for a closer name
    assert closest_name("acc", []) is None


def test_an_abbreviation_is_taken_for_the_one_name_it_begins():
    # Maximize("acc") beside a probe's "accuracy": too short to be close, so no "did you mean" and no check before trial 0
    assert closest_name("acc", ["eo_diff", "accuracy"]) == "accuracy"
    assert closest_name("lat", ["latency_p50_ms", "latency_p99_ms"]) is None  # two it begins: none
    assert closest_name("ac", ["accuracy"]) is None  # too short to say
