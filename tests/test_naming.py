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
    assert closest_name("acc", ["eo_diff", "accuracy"], abbreviation=True) == "accuracy"
    assert closest_name("lat", ["latency_p50_ms", "latency_p99_ms"], abbreviation=True) is None  # two it begins: none
    assert closest_name("ac", ["accuracy"], abbreviation=True) is None  # too short to say
    # where other names are allowed (a reported metric no objective names), a name that begins like one is no typo
    assert closest_name("loss", ["loss_during_training"]) is None


def test_optimize_names_an_unknown_option_and_what_it_may_mean():
    import pytest

    import moo_hpo as mh

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], optimizer="random", seed=0)
    with pytest.raises(mh.ConfigError, match=r"optimize takes no 'n_jobs' \(moo_hpo's n_workers\?\); it takes n_trials, "
                                             r"timeout, n_workers,"):
        study.optimize(lambda c: {"f": c["x"]}, n_trials=2, n_jobs=2)
    with pytest.raises(mh.ConfigError, match=r"optimize takes no 'n_trial' \('n_trials'\?\)"):
        study.optimize(lambda c: {"f": c["x"]}, n_trial=2)
    with pytest.raises(mh.ConfigError, match=r"optimize takes no 'seed' \(the study's: mh.Study\(..., seed=...\)\)"):
        study.optimize(lambda c: {"f": c["x"]}, n_trials=2, seed=1)
    assert study.trials == []  # refused before anything ran
