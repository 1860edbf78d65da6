"""The log says when a Dask study's trials wait on no worker, and when workers are back."""

from __future__ import annotations

import threading
import time

import distributed
import pytest

import moo_hpo as mh
from moo_hpo.execution import worker_watch
from moo_hpo.execution.worker_watch import WorkerWatch


def test_one_line_per_spell_without_workers(caplog):
    cluster = {"slots": 2, "running": 3}
    watch = WorkerWatch(lambda: cluster["slots"], lambda: cluster["running"], "tcp://scheduler:8786")
    with caplog.at_level("WARNING", logger="moo_hpo"):
        watch.look()
        cluster["slots"] = 0
        watch.look()
        watch.look()  # still none: said once
        cluster["slots"] = 4
        watch.look()
        cluster["slots"], cluster["running"] = 0, 0
        watch.look()  # nothing waits: nothing to say
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "no Dask worker is left on the scheduler tcp://scheduler:8786 that can run the study's trials: 3 trial(s) wait "
        "for one (start workers; or stop with Ctrl-C, every finished trial is saved)",
        "Dask workers are back on the scheduler tcp://scheduler:8786: 4 trial(s) can run at once",
    ]

    def unreachable() -> int:
        raise OSError("scheduler gone")

    WorkerWatch(unreachable, lambda: 1, "x").look()  # the study loop reports a lost scheduler, not the watch


@pytest.mark.timeout(180)
def test_a_study_whose_workers_all_leave_says_so_and_goes_on_when_one_joins(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(worker_watch, "WATCH_SECONDS", 0.3)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    started = tmp_path / "started"

    def fn(config):
        started.touch()
        time.sleep(2)
        return {"a": config["x"], "b": config["y"]}

    def churn():
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.scale(0)  # every worker leaves while a trial runs
        while "no Dask worker is left" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
        cluster.scale(1)

    try:
        helper = threading.Thread(target=churn)
        with caplog.at_level("WARNING", logger="moo_hpo"):
            helper.start()
            s = mh.Study(mh.Space({"x": mh.Float(0, 1), "y": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")],
                         optimizer="random", seed=0)
            s.optimize(fn, n_trials=2, executor=client, show_progress=False)
            helper.join()
        assert s.count("complete") == 2, [t.error for t in s.trials]
        text = caplog.text
        assert "no Dask worker is left on the scheduler tcp://" in text and "trial(s) wait for one" in text
        assert "Dask workers are back on the scheduler" in text
    finally:
        client.close()
        cluster.close()


def test_one_line_per_spell_of_trials_waiting_behind_other_tasks(caplog):
    cluster = {"slots": 1, "running": 1, "crowded": (1, 2)}
    watch = WorkerWatch(lambda: cluster["slots"], lambda: cluster["running"], "tcp://s:8786", crowded=lambda: cluster["crowded"])
    with caplog.at_level("WARNING", logger="moo_hpo"):
        watch.look()  # once could be the moment the study's trials start
        watch.look()
        watch.look()  # still: said once
        cluster["crowded"] = (0, 2)  # the study's trial runs now
        watch.look()
        cluster["crowded"] = (1, 1)
        watch.look()
        watch.look()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("1 trial(s) of the study wait for a Dask worker: the workers on "
                                                   "tcp://s:8786 are busy with 2 task(s) that are not this study's")
    assert "client.restart() stops them" in lines[0] and "busy with 1 task(s)" in lines[1]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("other_client", ["open", "gone"])
def test_a_study_whose_trials_wait_behind_another_client_s_task_says_so(monkeypatch, caplog, other_client):
    # a study resumed after its process was killed waited minutes in silence behind the killed run's trials (whose
    # client is gone: the scheduler forgets their tasks, which run on on the workers)
    monkeypatch.setattr(worker_watch, "WATCH_SECONDS", 0.3)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    other = distributed.Client(cluster.scheduler_address)
    try:
        stray = other.submit(time.sleep, 4, pure=False)  # not the study's: it holds the only worker thread
        while not other.run(lambda dask_worker: len(dask_worker.state.executing)).popitem()[1]:
            time.sleep(0.05)
        if other_client == "gone":
            other.close()
        study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer="random", seed=0, name="resumed")
        with caplog.at_level("WARNING", logger="moo_hpo"):
            study.optimize(lambda c: {"a": c["x"]}, n_trials=1, executor=cluster.scheduler_address, show_progress=False)
        assert study.count("complete") == 1 and (other_client == "gone" or stray.done())
        # named: two studies may share the cluster and the process
        assert "1 trial(s) of the study 'resumed' wait for a Dask worker" in caplog.text and "busy with 1 task(s)" in caplog.text
    finally:
        other.close()
        cluster.close()


@pytest.fixture
def pausable(monkeypatch):
    """A one-worker cluster whose worker can be paused and resumed as Dask does at its memory limit: ``(client,
    set_status)``; the watch looks every half second."""
    monkeypatch.setattr(worker_watch, "WATCH_SECONDS", 0.5)
    # no memory limit: its monitor would resume the worker at once (this test's worker holds little memory)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit=0)
    client = distributed.Client(cluster)

    def set_status(status):
        def on_worker(dask_worker):
            dask_worker.status = status
        client.run(on_worker)

    yield client, set_status
    client.close()
    cluster.close()


def test_a_study_whose_worker_dask_pauses_at_its_memory_limit_is_told_so(caplog, pausable):
    # a leaking objective fills a long-lived worker: Dask pauses it, and the study's trials wait on it with no word
    from distributed.core import Status

    client, set_status = pausable

    def fn(config):
        time.sleep(0.3)
        return {"a": config["x"]}

    resume = threading.Timer(3.0, lambda: set_status(Status.running))

    def pause_once(study, trial):
        if trial.number == 0:
            set_status(Status.paused)  # as Dask does at 80% of the worker's memory limit
            resume.start()

    try:
        study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer="random", seed=0)
        with caplog.at_level("WARNING", logger="moo_hpo"):
            study.optimize(fn, n_trials=3, executor=client, callbacks=[pause_once], show_progress=False)
        assert study.count("complete") == 3
        (line,) = [r.getMessage() for r in caplog.records if "at their memory limit" in r.getMessage()]
        assert line.startswith("Dask paused 1 worker(s) on tcp://") and "distributed.worker.memory.pause: false" in line
    finally:
        resume.join()


def test_a_study_started_while_its_only_worker_is_paused_starts_and_says_so(caplog, pausable):
    # before: "no Dask worker joined the scheduler within 60 s", though a worker was there, paused by a previous study
    from distributed.core import Status

    client, set_status = pausable
    set_status(Status.paused)
    resume = threading.Timer(3.0, lambda: set_status(Status.running))
    resume.start()
    try:
        study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer="random", seed=0)
        with caplog.at_level("WARNING", logger="moo_hpo"):
            study.optimize(lambda config: {"a": config["x"]}, n_trials=2, executor=client, show_progress=False)
        assert study.count("complete") == 2
        assert any("at their memory limit" in r.getMessage() for r in caplog.records)
        assert not any("no Dask worker is left" in r.getMessage() for r in caplog.records)
    finally:
        resume.join()
