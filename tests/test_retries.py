"""Interrupted trials run again, once, when their study goes on (moo_hpo.retries)."""

from __future__ import annotations

import itertools
import logging
import time

import pytest

import moo_hpo as mh
from moo_hpo.retries import RETRY_OF


def make_study(path, **kw) -> mh.Study:
    space = mh.Space({"x": mh.Float(0.0, 1.0), "k": mh.Int(0, 3)})
    kw.setdefault("optimizer", "random")
    return mh.Study(space, [mh.Minimize("a"), mh.Maximize("b")], storage=path, seed=0, **kw)


def ab(config: dict) -> dict:
    return {"a": config["x"], "b": config["x"] ** 0.5 - 0.1 * config["k"]}


def interrupting_at(call: int):
    """An objective that raises KeyboardInterrupt (Ctrl-C) at its ``call``-th call (from 0)."""
    calls = itertools.count()

    def fn(config):
        if next(calls) == call:
            raise KeyboardInterrupt
        return ab(config)

    return fn


def crash_while_running(path, **kw) -> mh.Trial:
    """Ask a trial of the stored study at ``path`` and let its process die before telling it (the lock goes with the
    store, as it does with a killed process)."""
    study = mh.Study.load(path, **kw)
    trial = study.ask()
    study._store.close()
    return trial


def test_a_trial_interrupted_by_ctrl_c_runs_again_first_in_the_same_process(tmp_path, caplog):
    study = make_study(tmp_path / "s.db")
    with caplog.at_level(logging.WARNING, logger="moo_hpo"), pytest.raises(KeyboardInterrupt):
        study.optimize(interrupting_at(3), n_trials=10, show_progress=False)
    assert "its configuration runs again first" in caplog.text
    interrupted = study.trials[3]
    assert interrupted.status is mh.TrialStatus.INTERRUPTED

    assert "retry_of" not in study.to_dataframe()
    study.optimize(ab, n_trials=3, show_progress=False)
    retry = study.trials[4]
    frame = study.to_dataframe()
    assert frame["retry_of"].isna().tolist()[3:6] == [True, False, True] and frame["retry_of"][4] == 3
    assert retry.config == interrupted.config and retry.extra[RETRY_OF] == 3 and retry.optimizer == "enqueued"
    assert retry.status is mh.TrialStatus.COMPLETE
    assert [RETRY_OF in t.extra for t in study.trials[5:]] == [False, False]  # then the optimizer's proposals


def test_the_retry_is_kept_in_the_file_for_the_next_opening(tmp_path):
    with make_study(tmp_path / "s.db") as study, pytest.raises(KeyboardInterrupt):
        study.optimize(interrupting_at(2), n_trials=10, show_progress=False)
    with mh.Study.load(tmp_path / "s.db") as again:
        trial = again.ask()
        assert trial.config == again.trials[2].config and trial.extra[RETRY_OF] == 2


def test_a_crashed_studys_running_trials_run_again_once(tmp_path, caplog):
    path = tmp_path / "s.db"
    with make_study(path) as study:
        study.optimize(ab, n_trials=2, show_progress=False)
    lost = crash_while_running(path)

    with caplog.at_level(logging.WARNING, logger="moo_hpo"):
        study = mh.Study.load(path)
    assert study.interrupted == [lost.number]
    assert "their configurations run again first" in caplog.text
    retry = study.ask()
    assert retry.config == lost.config and retry.extra[RETRY_OF] == lost.number
    study._store.close()  # the retry dies too (a trial that takes the study's process down with it)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="moo_hpo"):
        study = mh.Study.load(path)
    assert study.interrupted == [retry.number]
    assert f"recorded as interrupted; [{retry.number}] not again (a retry interrupted in turn" in caplog.text  # said
    fresh = study.ask()
    assert RETRY_OF not in fresh.extra and fresh.config != lost.config  # not a third time
    study.close()


def test_retry_interrupted_false_runs_none_and_forgets_the_stored_ones(tmp_path):
    path = tmp_path / "s.db"
    with make_study(path) as study, pytest.raises(KeyboardInterrupt):
        study.optimize(interrupting_at(1), n_trials=5, show_progress=False)
    lost = crash_while_running(path, retry_interrupted=False)  # the Ctrl-C's retry is dropped
    assert RETRY_OF not in lost.extra
    with mh.Study.load(path, retry_interrupted=False) as study:  # this crash's trial is not queued
        assert study.interrupted == [lost.number]

    with mh.Study.load(path) as study:
        assert study.count("interrupted") == 2
        study.optimize(ab, n_trials=3, show_progress=False)
        assert not any(RETRY_OF in t.extra for t in study.trials)


def test_an_interrupted_repetition_is_left_to_reevaluate(tmp_path):
    path = tmp_path / "s.db"
    with make_study(path) as study:
        study.optimize(ab, n_trials=6, show_progress=False)
        with pytest.raises(KeyboardInterrupt):
            study.reevaluate(interrupting_at(0), top_k=1, repeats=2, show_progress=False)
        repetition = study.trials[6]
        assert repetition.status is mh.TrialStatus.INTERRUPTED and "repeat_of" in repetition.extra
        study.optimize(ab, n_trials=1, show_progress=False)
        assert RETRY_OF not in study.trials[7].extra


def test_a_retry_whose_configuration_the_rules_now_refuse_is_skipped(tmp_path, caplog):
    def small(config):
        return True

    space = mh.Space({"x": mh.Float(0.0, 1.0), "k": mh.Int(0, 3)}, rules=[small])
    path = tmp_path / "s.db"
    with mh.Study(space, [mh.Minimize("a"), mh.Maximize("b")], optimizer="random", storage=path, seed=0) as study:
        study.optimize(ab, n_trials=2, show_progress=False)
    lost = crash_while_running(path, space=space)

    def small(config):  # noqa: F811 - the same rule, changed in the user's code since the crash
        return config["x"] != lost.config["x"]

    stricter = mh.Space({"x": mh.Float(0.0, 1.0), "k": mh.Int(0, 3)}, rules=[small])
    with caplog.at_level(logging.WARNING, logger="moo_hpo"), mh.Study.load(path, space=stricter) as study:
        trial = study.ask()
    assert RETRY_OF not in trial.extra and trial.config != lost.config
    assert f"trial #{lost.number} is not run again" in caplog.text


class ThreadedRandom(mh.optimizers.RandomSearch):
    ask_in_thread = True  # proposes in a thread of its own while the study answers reports, as ehvi does

    def ask(self, n, pending=()):
        time.sleep(0.2)
        return super().ask(n, pending)


def test_a_retry_recorded_but_never_started_waits_in_the_queue_again(tmp_path):
    path = tmp_path / "s.db"
    with make_study(path, optimizer=ThreadedRandom()) as study, pytest.raises(KeyboardInterrupt):
        study.optimize(interrupting_at(1), n_trials=5, show_progress=False)

    def stopped_while_proposing(seconds):  # Ctrl-C while the optimizer proposes, after the retry was recorded
        raise KeyboardInterrupt

    with mh.Study.load(path, optimizer=ThreadedRandom()) as study:
        with pytest.raises(KeyboardInterrupt):
            study._propose(2, stopped_while_proposing)  # the retry, then an ask that answers reports: stopped
        never_started = study.trials[2]
        assert never_started.extra[RETRY_OF] == 1 and never_started.status is mh.TrialStatus.INTERRUPTED
        assert study._retries.numbers == [1]  # before: dropped, and this configuration never ran again
    with mh.Study.load(path) as study:
        assert study.ask().extra[RETRY_OF] == 1


def test_a_retry_recorded_just_before_a_crash_is_not_queued_twice(tmp_path):
    path = tmp_path / "s.db"
    with make_study(path) as study, pytest.raises(KeyboardInterrupt):
        study.optimize(interrupting_at(1), n_trials=5, show_progress=False)
    with mh.Study.load(path) as study:
        retry = study.ask()
        study.tell(retry, ab(retry.config))
        study._store.set_meta("retries", [1])  # as if the process died between recording the retry and the queue
    with mh.Study.load(path) as study:
        assert RETRY_OF not in study.ask().extra  # the configuration ran once more, not twice


def test_telling_an_interrupted_trial_says_its_configuration_runs_again(tmp_path):
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    path = tmp_path / "s.db"
    study = mh.Study(space, [mh.Minimize("a")], optimizer="random", seed=0, storage=path)
    lost = study.ask()
    study.close()  # the process that asked stopped before telling: the trial is interrupted when it is next opened
    with mh.Study.load(path) as again:
        with pytest.raises(mh.ConfigError, match=r"already interrupted \(recorded when its study stopped; its configuration "
                                                 r"runs again first as a new trial\); each trial is told once"):
            again.tell(lost.number, {"a": 0.5})
        retry = again.ask()
        with pytest.raises(mh.ConfigError, match=rf"ran again as trial #{retry.number}\)"):
            again.tell(lost.number, {"a": 0.5})


def test_telling_an_interrupted_trial_does_not_name_a_retry_that_was_stopped_before_it_ran(tmp_path):
    class StoppedWhileAsking(mh.optimizers.RandomSearch):
        stop = False

        def ask(self, n, pending=()):
            if StoppedWhileAsking.stop:
                raise KeyboardInterrupt  # Ctrl-C during the optimizer's proposal
            return super().ask(n, pending)

    path = tmp_path / "s.db"
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=StoppedWhileAsking(), seed=0, storage=path)
    lost = study.ask()
    study.close()
    with mh.Study.load(path, optimizer=StoppedWhileAsking()) as again:
        StoppedWhileAsking.stop = True
        with pytest.raises(KeyboardInterrupt):
            again.ask(2)  # the retry is recorded, then the proposal for the second trial is stopped
        assert again.trial(1).extra.get("retry_of") == lost.number and again.trial(1).status is mh.TrialStatus.INTERRUPTED
        with pytest.raises(mh.ConfigError, match="its configuration runs again first as a new trial"):
            again.tell(lost.number, {"a": 0.5})
