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
