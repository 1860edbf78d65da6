"""The training data built from the told trials."""

from __future__ import annotations

import pytest

import moo_hpo as mh
from tests.optimizers.bayesian.studies import study_with_a_failing_half


def test_failure_labels_skip_interrupted_trials_and_need_a_failure_and_a_success():
    from moo_hpo.trial import Trial

    study, _ = study_with_a_failing_half(seed=0)
    opt = study.optimizer
    opt.setup(study.problem)

    def told(number, status, x, error=None):
        metrics = {"f1": x, "f2": 1.0 - x} if status is mh.TrialStatus.COMPLETE else {}
        return Trial(number=number, config={"x": x, "y": 0.5}, status=status, metrics=metrics, error=error)

    opt.tell([told(0, mh.TrialStatus.COMPLETE, 0.1), told(1, mh.TrialStatus.COMPLETE, 0.2)])
    assert opt.training_data().failures is None  # no failure yet: nothing to learn
    opt.tell([told(2, mh.TrialStatus.INTERRUPTED, 0.9, "interrupted: KeyboardInterrupt (Ctrl-C) while this trial was running")])
    assert opt.training_data().failures is None  # an interrupted trial says nothing about its configuration
    opt.tell([told(3, mh.TrialStatus.FAILED, 0.8, "RuntimeError: out of memory")])
    failures = opt.training_data().failures
    assert failures.numbers == (0, 1, 3)
    assert failures.Y.tolist() == [-1.0, -1.0, 1.0]
    assert failures.X[:, 0].tolist() == pytest.approx([0.1, 0.2, 0.8])
    opt.model_failures = False
    assert opt.training_data().failures is None


def test_tukey_cutoff_follows_axs_rule_and_never_reaches_below_the_bound():
    import numpy as np

    from moo_hpo.optimizers.bayesian.data import tukey_cutoff

    values = np.arange(1.0, 9.0)  # q1 = 2 (lower), q3 = 7 (higher)
    assert tukey_cutoff(values) == pytest.approx(7.0 + 1.5 * 5.0)
    assert tukey_cutoff(values, bound=10.0) == pytest.approx(10.0 + 1.5 * 8.0)  # the bound lifts the fence
    assert tukey_cutoff(values, bound=0.0) == pytest.approx(7.0 + 1.5 * 5.0)
    assert tukey_cutoff(np.array([1.0, 2.0, np.nan])) is None  # too few values to judge a tail


def _heavy_tailed_study(winsorize: bool, bilog_constraints: bool = False):
    from moo_hpo.trial import Trial

    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    study = mh.Study(space, [mh.Minimize("loss", ref=2.0), mh.Minimize("size", ref=2.0)], [mh.AtMost("mem", 1.0)],
                     optimizer=mh.optimizers.EHVI(winsorize=winsorize, bilog_constraints=bilog_constraints), seed=0)
    opt = study.optimizer
    opt.setup(study.problem)
    # twelve ordinary trials and one that diverged: loss 1e6, memory 1e4 times the bound
    rows = [(i / 12, 0.1 + i / 12, 1.0 - i / 12, 0.5 + 0.05 * i) for i in range(12)] + [(0.99, 1e6, 0.3, 1e4)]
    opt.tell([Trial(number=i, config={"x": x}, status=mh.TrialStatus.COMPLETE,
                    metrics={"loss": loss, "size": size, "mem": mem}) for i, (x, loss, size, mem) in enumerate(rows)])
    return opt.training_data()


def test_winsorizing_clips_only_the_bad_tail_beyond_the_reference_point_and_bound():
    import numpy as np

    raw, clipped = _heavy_tailed_study(False), _heavy_tailed_study(True)
    loss_raw, loss = -raw.objectives[0].Y, -clipped.objectives[0].Y
    assert loss_raw[-1] == 1e6 and 2.0 < loss[-1] < 10.0  # the diverged run's loss is clipped, beyond the ref
    np.testing.assert_array_equal(loss[:-1], loss_raw[:-1])  # every other value as measured
    np.testing.assert_array_equal(clipped.objectives[1].Y, raw.objectives[1].Y)  # no tail: unchanged
    mem_raw, mem = raw.constraints[0].Y, clipped.constraints[0].Y
    assert mem_raw[-1] > 1e3 and 0.0 < mem[-1] < 10.0  # still infeasible, but no longer a thousand times out
    np.testing.assert_array_equal(mem[:-1], mem_raw[:-1])
    assert ((mem > 0) == (mem_raw > 0)).all()  # feasibility of every trial kept
    assert [t.number for t in clipped.feasible] == [t.number for t in raw.feasible]


def test_bilog_is_the_identity_near_zero_logarithmic_far_from_it_and_inverted_exactly():
    import numpy as np

    from moo_hpo.optimizers.bayesian.data import bilog, inverse_bilog

    values = np.array([-1e4, -3.0, -1e-3, 0.0, 1e-3, 3.0, 1e4])
    assert bilog(values).tolist() == pytest.approx([-np.log(1e4 + 1), -np.log(4.0), -1e-3, 0.0, 1e-3, np.log(4.0), np.log(1e4 + 1)], rel=1e-3)
    np.testing.assert_allclose(inverse_bilog(bilog(values)), values, rtol=1e-12)


def test_constraints_are_modelled_on_the_bilog_scale_with_every_trials_feasibility_kept():
    import numpy as np

    from moo_hpo.optimizers.bayesian.data import bilog

    raw, logged = _heavy_tailed_study(True), _heavy_tailed_study(True, bilog_constraints=True)
    mem_raw, mem = raw.constraints[0].Y, logged.constraints[0].Y
    assert logged.constraints[0].bilog and not raw.constraints[0].bilog
    scale = logged.constraints[0].scale
    assert scale == pytest.approx(np.median(np.abs(mem_raw)))  # in units of the median distance from the bound
    np.testing.assert_allclose(mem, bilog(mem_raw / scale))  # after winsorizing: the clipped tail, compressed
    np.testing.assert_allclose(logged.constraints[0].measured(mem), mem_raw)  # and mapped back exactly
    assert ((mem > 0) == (mem_raw > 0)).all() and (mem > 0).any() and (mem <= 0).any()
    assert [t.number for t in logged.feasible] == [t.number for t in raw.feasible]
    for a, b in zip(raw.objectives, logged.objectives, strict=True):  # objectives as they were
        np.testing.assert_array_equal(a.Y, b.Y)
    assert mh.optimizers.EHVI().bilog_constraints  # the default


def test_a_trial_pruned_for_breaking_a_hard_bound_teaches_the_constraint_model():
    # before, only complete and skipped trials did: with a pruner stopping every trial that broke the bound, the
    # constraint model saw the region as unexplored and the optimizer kept proposing it
    from moo_hpo.optimizers.bayesian.data import training_data
    from moo_hpo.trial import Trial

    space = mh.Space({"x": mh.Float(0, 1)})
    study = mh.Study(space, [mh.Maximize("acc"), mh.Minimize("gap")], [mh.AtMost("gap", 0.2), mh.AtMost("kb", 10.0)],
                     optimizer="random", seed=0)

    def pruned(number, x, reported):
        t = Trial(number=number, config={"x": x}, status=mh.TrialStatus.PRUNED)
        t.reports = [{"step": 1, "metrics": {"acc": 0.5, **reported}, "time": 0.0}]
        return t

    told = [
        Trial(number=0, config={"x": 0.1}, status=mh.TrialStatus.COMPLETE, metrics={"acc": 0.8, "gap": 0.1, "kb": 5.0}),
        pruned(1, 0.9, {"gap": 0.5, "kb": 5.0}),  # stopped for its gap: a row of the gap's model only
        pruned(2, 0.5, {"gap": 0.15}),  # stopped by the ranking, within the bound: no row (its gap may change)
        Trial(number=3, config={"x": 0.3}, status=mh.TrialStatus.INFEASIBLE_SKIPPED, metrics={"kb": 20.0}),
    ]
    data = training_data(study.problem, told, model_failures=False)
    gap, kb = data.constraints
    assert gap.numbers == (0, 1) and gap.Y.tolist() == pytest.approx([-0.1, 0.3])
    assert gap.X[:, 0].tolist() == pytest.approx([0.1, 0.9])
    assert kb.numbers == (0, 3) and kb.Y.tolist() == pytest.approx([-5.0, 10.0])
    assert data.objectives[0].numbers == (0,)  # objectives still learn from complete trials only


@pytest.mark.parametrize("unit", [1e-3, 1e3])
def test_a_constraint_is_modelled_alike_in_any_unit(unit):
    # sign(g) log(1 + |g|) of g itself is nearly the identity for a bound in MB and a step for the same bound in
    # kB (every trial many units from it): the model saw two different problems
    import numpy as np

    from moo_hpo.optimizers.bayesian.data import bilog_constraints, bilog_scale, training_data
    from moo_hpo.trial import Trial

    def data(scale):
        space = mh.Space({"x": mh.Float(0.0, 1.0)})
        study = mh.Study(space, [mh.Minimize("loss"), mh.Minimize("gap")], [mh.AtMost("size", 0.6 * scale)], seed=0)
        told = [Trial(number=i, config={"x": x}, status=mh.TrialStatus.COMPLETE,
                      metrics={"loss": 1.0 - x, "gap": x, "size": scale * x ** 2})
                for i, x in enumerate(np.linspace(0.0, 1.0, 9))]
        return bilog_constraints(training_data(study.problem, told, model_failures=False)).constraints[0]

    base, other = data(1.0), data(unit)
    np.testing.assert_allclose(other.Y, base.Y, rtol=1e-9, atol=1e-12)
    assert other.scale == pytest.approx(unit * base.scale)
    np.testing.assert_allclose(other.measured(other.Y), unit * base.measured(base.Y), rtol=1e-9, atol=1e-9 * unit)
    assert bilog_scale(np.array([0.0, 0.0, 0.0, 2.0])) == 0.5  # most on the bound: the mean distance
    assert bilog_scale(np.zeros(3)) == 1.0 and bilog_scale(np.array([np.nan])) == 1.0
