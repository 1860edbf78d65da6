"""Trials on a real Dask cluster: a LocalCluster with worker processes, and dask scheduler / worker over TCP."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import distributed
import pytest

import moo_hpo as mh

# slow; and one cluster at a time: these tests start schedulers and worker processes
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask")]


def study(**kw) -> mh.Study:
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    kw.setdefault("optimizer", "random")
    return mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], seed=0, **kw)


def sleepy(config):
    time.sleep(0.2)
    print(f"trained x={config['x']:.3f}")
    return {"a": config["x"], "b": (1 - config["x"]) ** 2 + config["y"], "pid": os.getpid()}


def _two_workers():
    """A LocalCluster of two worker processes of one thread, and its client (closed after)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


client = pytest.fixture(scope="module", name="client")(_two_workers)


def test_trials_run_on_the_workers_and_their_records_say_where(client):
    s = study()
    s.optimize(sleepy, n_trials=8, executor=client, show_progress=False)
    assert s.count("complete") == 8
    workers = set(client.scheduler_info()["workers"])
    assert {t.extra["worker"]["worker"] for t in s.trials} == workers  # both workers ran trials
    assert os.getpid() not in {t.metrics["pid"] for t in s.trials}
    assert all(t.extra["output"].startswith("trained x=") for t in s.trials)


def test_the_bayesian_optimizer_proposes_while_trials_run(client):
    s = study(optimizer="ehvi")
    s.optimize(sleepy, n_trials=9, executor=client, show_progress=False)
    assert s.count("complete") == 9
    configs = [tuple(sorted(t.config.items())) for t in s.trials]
    assert len(set(configs)) == 8  # one configuration measured twice: the noise check
    model_based = [t for t in s.trials if t.extra["optimizer"]["acquisition"].startswith("qLog")]
    assert model_based
    # asynchronous: a new trial was proposed while an earlier one was still running (a pending point)
    assert any(later.started_at < earlier.finished_at for earlier, later in zip(s.trials, s.trials[1:]))


def test_failures_are_data_on_the_cluster(client):
    class TwoArgs(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}/{b}")

    def fn(config):
        if config["x"] > 0.5:
            raise TwoArgs(1, 2)
        return {"a": config["x"], "b": config["y"]}

    s = study()
    s.optimize(fn, n_trials=10, executor=client, show_progress=False)
    failed = [t for t in s.trials if t.config["x"] > 0.5]
    assert failed and all(t.status is mh.TrialStatus.FAILED and t.error.startswith("TwoArgs: 1/2") for t in failed)
    assert s.count("complete") == 10 - len(failed)


def test_a_type_only_the_workers_can_import_fails_its_trial_not_the_study(client, tmp_path):
    # a package installed on the workers only (cupy, jax): before, the study stopped reading such a result
    module = f"worker_only_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text("class GpuOutOfMemory(RuntimeError):\n    pass\n\nclass Scalar(float):\n    pass\n")
    folder = str(tmp_path)

    def fn(config, trial):
        import importlib
        import sys

        sys.path.insert(0, folder)
        worker_only = importlib.import_module(module)
        # reports travel as plain numbers (trial.report reads them so)
        trial.report(1, {"a": worker_only.Scalar(config["x"]), "b": worker_only.Scalar(config["y"])})
        if config["x"] < 0.3:
            raise worker_only.GpuOutOfMemory("out of GPU memory")
        if config["x"] < 0.6:
            return {"a": worker_only.Scalar(config["x"]), "b": config["y"]}
        return {"a": config["x"], "b": config["y"]}

    s = study(pruner=mh.pruners.MOASHA(1, 9, 3))
    s.optimize(fn, n_trials=10, executor=client, show_progress=False)
    assert len(s.trials) == 10 and all(len(t.reports) == 1 for t in s.trials)
    for t in s.trials:
        if t.config["x"] < 0.3:
            assert t.status is mh.TrialStatus.FAILED and "GpuOutOfMemory: out of GPU memory" in t.error
        elif t.config["x"] < 0.6:
            assert t.status is mh.TrialStatus.FAILED
            assert t.error.startswith(f"the objective's return value could not be loaded in the study's process: "
                                      f"ModuleNotFoundError: No module named '{module}'")
        else:
            assert t.status in (mh.TrialStatus.COMPLETE, mh.TrialStatus.PRUNED)
    assert {t.status for t in s.trials if t.config["x"] >= 0.6} and any(t.config["x"] < 0.3 for t in s.trials)


def _curves(config, trial):
    for epoch in range(1, 10):
        trial.report(epoch, {"a": config["x"] + 1.0 / epoch, "b": config["y"] + 1.0 / epoch})
        if trial.should_prune():
            break
    return {"a": config["x"], "b": config["y"], "pid": os.getpid(), "seen": len(trial.reports)}


@pytest.mark.parametrize("trial_timeout", [None, 30.0])
def test_reports_travel_to_the_driver_and_its_pruner_answers(client, trial_timeout):
    s = study(pruner=mh.pruners.MOASHA(1, 9, 3))
    s.optimize(_curves, n_trials=12, executor=client, trial_timeout=trial_timeout, show_progress=False)
    assert s.count("pruned") and s.count("complete") and s.count("pruned") + s.count("complete") == 12
    assert os.getpid() not in {t.metrics["pid"] for t in s.trials}  # trained on the workers
    for t in s.trials:  # every report reached the driver while the trial ran, and the trial saw the answers
        assert [r["step"] for r in t.reports] == list(range(1, int(t.metrics["seen"]) + 1))
        assert (t.status is mh.TrialStatus.PRUNED) == (len(t.reports) < 9)
    # the reports' queue went with the study: a long-lived scheduler does not keep one per study run on it
    queues = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.extensions["queues"].queues))
    assert [q for q in queues if q.startswith("moo_hpo-reports-")] == []


def test_a_trial_dask_runs_again_after_its_worker_died_reports_from_its_first_step(tmp_path, caplog):
    marker = tmp_path / "first-run"

    def fn(config, trial):
        for step in range(1, 6):
            trial.report(step, {"a": config["x"], "b": config["y"]})
            if step == 3 and not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-training; Dask runs the task again
        return {"a": config["x"], "b": config["y"]}

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        s = study(storage=tmp_path / "s.db", pruner=mh.pruners.DominatedPruner())
        with caplog.at_level("WARNING", logger="moo_hpo"):
            s.optimize(fn, n_trials=1, executor=client, show_progress=False)
    finally:
        client.close()
        cluster.close()
    assert marker.exists() and s.trial(0).status is mh.TrialStatus.COMPLETE, s.trial(0).error
    assert [r["step"] for r in s.trial(0).reports] == [1, 2, 3, 4, 5]
    # said as it happens, and kept on the record (before: nothing said, no trace)
    assert "trial #0: its Dask worker was lost while it ran; Dask runs it again from its start, and its 3 report(s)" in caplog.text
    assert s.trial(0).extra["runs_lost"] == 1
    s.close()
    with mh.Study.load(tmp_path / "s.db", read_only=True) as again:  # the store holds the second run's only
        assert [r["step"] for r in again.trial(0).reports] == [1, 2, 3, 4, 5]


def test_a_trial_timeout_kills_the_trial_on_the_worker(client):
    def fn(config):
        if config["x"] > 0.5:
            time.sleep(60)
        return {"a": config["x"], "b": config["y"]}

    s = study()
    t0 = time.monotonic()
    s.optimize(fn, n_trials=6, executor=client, trial_timeout=3, show_progress=False)
    assert time.monotonic() - t0 < 50
    hung = [t for t in s.trials if t.config["x"] > 0.5]
    assert hung and all(t.error.startswith("timeout") for t in hung)


def test_definition_errors_before_any_trial(client, tmp_path, monkeypatch):
    import threading

    lock = threading.Lock()
    s = study()
    with pytest.raises(mh.ConfigError, match="picklable"):
        s.optimize(lambda c: {"a": 0.0, "b": 0.0, "l": bool(lock)}, n_trials=2, executor=client, show_progress=False)
    (tmp_path / "driver_only.py").write_text("def evaluate(config):\n    return {'a': config['x'], 'b': 1.0}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import driver_only  # importable here, not on the workers

    with pytest.raises(mh.ConfigError, match=r"the Dask worker tcp://\S+ \(and 1 other worker\(s\) of 2\) could not load the "
                                             r"objective.*driver_only"):
        s.optimize(driver_only.evaluate, n_trials=2, executor=client, show_progress=False)
    with pytest.raises(mh.ConfigError, match="n_workers"):
        s.optimize(sleepy, n_trials=2, executor=client, n_workers=2, show_progress=False)
    with pytest.raises(mh.ConfigError, match="resources"):
        s.optimize(sleepy, n_trials=2, resources={"GPU": 1}, show_progress=False)
    assert s.trials == []


def test_a_killed_worker_is_retried_or_recorded_lost(tmp_path):
    import dask

    marker = tmp_path / "pids"
    marker.mkdir()

    def fn(config, trial):
        (marker / f"{trial.number}-{os.getpid()}").touch()
        if trial.number == 0:
            time.sleep(30)  # killed meanwhile
        return {"a": config["x"], "b": config["y"]}

    def kill_first_runner():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = [p.name for p in marker.iterdir() if p.name.startswith("0-")]
            if started:
                os.kill(int(started[0].split("-")[1]), signal.SIGKILL)
                return
            time.sleep(0.1)

    import threading

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # Dask gives up at the first loss
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        for retries, expect in ((0, "failed"), (1, "complete")):
            for p in marker.iterdir():
                p.unlink()
            client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed one
            killer = threading.Thread(target=kill_first_runner)
            killer.start()
            s = study()
            s.optimize(fn, n_trials=4, executor=client, retries=retries, show_progress=False)
            killer.join()
            assert len(s.trials) == 4  # a trial retried is one trial
            first = s.trials[0]
            assert first.status.value == expect, first.error
            if expect == "failed":
                assert first.error.startswith("worker lost")
            assert s.count("complete") >= 3, [(t.number, t.status.value, t.error) for t in s.trials]
    finally:
        client.close()
        cluster.close()


def test_the_objective_outlives_every_worker_that_held_it(tmp_path):
    pids = tmp_path / "worker-pids"
    ran = tmp_path / "ran"
    ran.mkdir()

    def fn(config, trial):
        (ran / f"{trial.number}-{os.getpid()}").touch()
        if trial.number == 3 and not (tmp_path / "killed").exists():  # kill every worker, once
            (tmp_path / "killed").touch()
            for pid in map(int, pids.read_text().split()):
                if pid != os.getpid():
                    os.kill(pid, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        return {"a": config["x"], "b": config["y"]}

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        first_workers = set(client.run(os.getpid).values())
        pids.write_text(" ".join(map(str, first_workers)))
        s = study()
        s.optimize(fn, n_trials=8, executor=client, show_progress=False)
        assert (tmp_path / "killed").exists()
        assert s.count("complete") == 8, [t.error for t in s.trials]
        later = {int(p.name.split("-")[1]) for p in ran.iterdir() if p.name.split("-")[0] in {"4", "5", "6", "7"}}
        assert later and not later & first_workers  # new workers ran them, with the objective sent again
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def tcp_cluster(tmp_path_factory):
    """A scheduler and two workers started with the dask commands; one worker offers a (fake) GPU."""
    dask_cli = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    assert dask_cli, "the dask command comes with dask[distributed] (the test extra)"
    folder = tmp_path_factory.mktemp("dask")
    port = 18786 + os.getpid() % 1000
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(1.0)
    for name, extra in (("gpu-worker", ["--resources", "GPU=1"]), ("cpu-worker", [])):
        procs.append(subprocess.Popen(
            [dask_cli, "worker", address, "--nthreads", "1", "--name", name, "--no-dashboard", *extra],
            cwd=folder, env={**env, "CUDA_VISIBLE_DEVICES": "0" if extra else ""},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
    client = distributed.Client(address, timeout="30s")
    client.wait_for_workers(2, timeout=60)
    yield address, client
    client.close()
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


def test_a_study_over_tcp_and_gpu_trials_on_the_tagged_worker(tcp_cluster):
    address, client = tcp_cluster
    names = {addr: w["name"] for addr, w in client.scheduler_info()["workers"].items()}
    s = study()
    s.optimize(sleepy, n_trials=6, executor=address, resources={"GPU": 1}, show_progress=False)
    assert s.count("complete") == 6
    assert {names[t.extra["worker"]["worker"]] for t in s.trials} == {"gpu-worker"}
    assert {t.extra["worker"]["cuda_visible_devices"] for t in s.trials} == {"0"}
    both = study()
    both.optimize(sleepy, n_trials=8, executor=address, show_progress=False)
    assert {names[t.extra["worker"]["worker"]] for t in both.trials} == {"gpu-worker", "cpu-worker"}


DRIVER = textwrap.dedent(
    """
    import sys, time
    import moo_hpo as mh

    def slow(config):
        time.sleep(0.3 if config["x"] < 0.8 else 5)
        return {"a": config["x"], "b": 1 - config["x"]}

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")],
                     optimizer="random", storage=sys.argv[1], seed=0)
    study.optimize(slow, n_trials=40, executor=sys.argv[2], show_progress=False)
    """
)


def _loads_on_the_gpu_worker_only():
    if os.environ.get("CUDA_VISIBLE_DEVICES") != "0":  # as a package installed on the GPU machines only
        raise ImportError("No module named 'cupy'")
    return "loaded"


class _GpuOnly:
    def __reduce__(self):
        return (_loads_on_the_gpu_worker_only, ())


def test_with_resources_only_the_workers_that_hold_them_must_load_the_objective(tcp_cluster):
    # before, the CPU worker beside the GPU one stopped the study: "a Dask worker could not load the objective"
    address, client = tcp_cluster
    names = {addr: w["name"] for addr, w in client.scheduler_info()["workers"].items()}
    marker = _GpuOnly()

    def fn(config):
        assert marker == "loaded"
        return sleepy(config)

    s = study()
    s.optimize(fn, n_trials=3, executor=address, resources={"GPU": 1}, show_progress=False)
    assert s.count("complete") == 3 and {names[t.extra["worker"]["worker"]] for t in s.trials} == {"gpu-worker"}
    with pytest.raises(mh.ConfigError, match=r"the Dask worker tcp://127.0.0.1:\d+ could not load the objective: ImportError: "
                                             "No module named 'cupy'"):
        study().optimize(fn, n_trials=1, executor=address, show_progress=False)  # without resources, every worker


def test_a_killed_driver_resumes_from_its_store(tcp_cluster, tmp_path):
    address, _ = tcp_cluster
    (tmp_path / "driver.py").write_text(DRIVER)
    db = tmp_path / "s.db"
    driver = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(db), address])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if db.exists():
            try:
                with mh.Study.load(db, read_only=True) as view:
                    if view.count("complete") >= 3:
                        break
            except mh.StorageError as exc:  # the driver is still creating the study file
                assert "holds no study yet" in str(exc), exc
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    resumed = mh.Study.load(db)
    done = resumed.count("complete")
    assert done >= 3 and resumed.count("running") == 0
    resumed.optimize(lambda c: {"a": c["x"], "b": 1 - c["x"]}, n_trials=3, executor=address, show_progress=False)
    assert resumed.count("complete") == done + 3
    resumed.close()


def test_the_cli_says_to_run_the_command_again_after_losing_the_scheduler(tmp_path):
    from typer.testing import CliRunner

    from moo_hpo.cli import app

    address, scheduler, worker = scheduler_and_worker(20786)
    # the entry itself loses the scheduler at its third trial (a preempted scheduler node)
    (tmp_path / "entry.py").write_text(textwrap.dedent(f"""
        import os, pathlib, signal, time

        def evaluate(config):
            calls = pathlib.Path({str(tmp_path / "calls")!r})
            calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
            if len(calls.read_text()) == 3:
                os.kill({scheduler.pid}, signal.SIGKILL)
            time.sleep(0.3)
            return {{"a": config["x"], "b": 1 - config["x"]}}
        """))
    (tmp_path / "study.toml").write_text(toml_study(30))
    try:
        result = CliRunner().invoke(app, ["run", str(tmp_path / "study.toml"), "--dask", address])
        said = " ".join(result.output.split())
        assert result.exit_code == 1 and "resume by running this command again" in said and "mh.Study.load" not in said, said
    finally:
        worker.kill(), scheduler.kill()
        worker.wait(), scheduler.wait()


def test_the_cli_runs_a_toml_study_on_the_cluster(tcp_cluster, tmp_path):
    from typer.testing import CliRunner

    from moo_hpo.cli import app

    address, client = tcp_cluster
    (tmp_path / "entry.py").write_text("def evaluate(config):\n    return {'a': config['x'], 'b': (1 - config['x']) ** 2}\n")
    (tmp_path / "study.toml").write_text(toml_study(6))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "study.toml"), "--dask", address])
    assert result.exit_code == 0, result.output
    with mh.Study.load(tmp_path / "study.db", read_only=True) as s:
        assert s.count("complete") == 6 and all("worker" in t.extra for t in s.trials)
    # GPU trials from the command line, and from the file
    names = {addr: w["name"] for addr, w in client.scheduler_info()["workers"].items()}
    result = CliRunner().invoke(app, ["run", str(tmp_path / "study.toml"), "--dask", address, "--trials", "10",
                                      "--resources", "GPU=1", "--retries", "0"])
    assert result.exit_code == 0, result.output
    toml = (tmp_path / "study.toml").read_text().replace("n_trials = 6", f"n_trials = 14\ndask = '{address}'\nresources = {{GPU = 1}}")
    (tmp_path / "study.toml").write_text(toml)
    assert CliRunner().invoke(app, ["run", str(tmp_path / "study.toml")]).exit_code == 0
    with mh.Study.load(tmp_path / "study.db", read_only=True) as s:
        assert {names[t.extra["worker"]["worker"]] for t in s.trials[6:]} == {"gpu-worker"} and len(s.trials) == 14
    result = CliRunner().invoke(app, ["run", str(tmp_path / "study.toml"), "--resources", "GPU"])
    assert result.exit_code == 1 and "--resources takes NAME=AMOUNT (GPU=1); received 'GPU'" in result.output
    # a module beside the entry is not on the workers: the run says how to bring it there
    (tmp_path / "shapes.py").write_text("import threading\n_LOCK = threading.Lock()\n\ndef square(v):\n    return v ** 2\n")
    (tmp_path / "entry2.py").write_text("import shapes\n\ndef evaluate(config):\n"
                                        "    return {'a': config['x'], 'b': shapes.square(1 - config['x'])}\n")
    toml = (tmp_path / "study.toml").read_text().replace("entry:evaluate", "entry2:evaluate").replace("study.db", "study2.db")
    (tmp_path / "study2.toml").write_text(toml)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "study2.toml")])
    assert result.exit_code == 1 and "'shapes' lies beside the study file" in " ".join(result.output.split())


def test_workers_with_another_moo_hpo_version_are_refused(tmp_path):
    preload = tmp_path / "other_version.py"
    preload.write_text("import moo_hpo\nmoo_hpo.__version__ = '9.9.9'\n")  # as a worker with another release
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                       preload=[str(preload)])
    client = distributed.Client(cluster)
    try:
        s = study()
        with pytest.raises(mh.ConfigError, match=r"other versions than this process: moo_hpo .* here, 9\.9\.9 there"):
            s.optimize(sleepy, n_trials=2, executor=client, show_progress=False)
        assert s.trials == []
    finally:
        client.close()
        cluster.close()


def test_probes_and_constraints_checked_before_training_on_the_cluster(client):
    size = mh.objectives.probe(["size_kb"], needs_training=False)(lambda model: {"size_kb": model["width"] * 10.0})
    quality = mh.objectives.probe(["a", "b"])(lambda model: {"a": model["x"], "b": 1 - model["x"]})
    trained = []

    def build(config):
        return {"width": 1 + int(config["y"] * 10), "x": config["x"]}

    def fit(model, config):
        trained.append(config)  # in the worker: never seen here
        return model

    s = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)}), [mh.Minimize("a"), mh.Minimize("b")],
                 [mh.AtMost("size_kb", 50.0)], optimizer="random", seed=0)
    s.optimize(fit, build=build, probes=[size, quality], n_trials=12, executor=client, show_progress=False)
    skipped = [t for t in s.trials if t.status is mh.TrialStatus.INFEASIBLE_SKIPPED]
    assert skipped and all(t.metrics["size_kb"] > 50 and "a" not in t.metrics for t in skipped)
    assert s.count("complete") == 12 - len(skipped) and trained == []


def test_ctrl_c_on_the_cluster_records_running_trials_interrupted(own_client):
    client = own_client  # its trials after the third run on for 30 s: not on the cluster the next tests share
    def fn(config, trial):
        time.sleep(0.5 if trial.number < 3 else 30)  # the trials after the third still run at the Ctrl-C
        return {"a": config["x"], "b": config["y"]}

    def interrupt(study, trial):
        if study.count("complete") >= 3:
            raise KeyboardInterrupt

    s = study()
    with pytest.raises(KeyboardInterrupt):
        s.optimize(fn, n_trials=20, executor=client, callbacks=[interrupt], show_progress=False)
    assert s.count("complete") >= 3 and s.count("running") == 0
    assert s.count("interrupted") >= 1 and all(
        t.error.startswith("interrupted") for t in s.trials if t.status is mh.TrialStatus.INTERRUPTED
    )


def slow_after_the_first(config, trial):
    time.sleep(0.2 if trial.number == 0 else 3)
    return {"a": config["x"], "b": config["y"]}


def test_stopping_with_trials_running_on_the_cluster_says_they_run_on(own_client, caplog):
    client = own_client  # its second trial runs on after the stop
    def interrupt(study, trial):
        raise KeyboardInterrupt

    s = study()
    with caplog.at_level("WARNING", logger="moo_hpo"), pytest.raises(KeyboardInterrupt):
        s.optimize(slow_after_the_first, n_trials=2, executor=client, callbacks=[interrupt], show_progress=False)
    assert [t.status for t in s.trials] == [mh.TrialStatus.COMPLETE, mh.TrialStatus.INTERRUPTED]
    # the cluster outlives the study: the user is told the started trial runs on, and how to stop it
    assert any("1 trial(s) were running on the cluster: Dask cannot stop a task that has started" in r.getMessage()
               and "client.restart()" in r.getMessage() for r in caplog.records)


def scheduler_and_worker(base_port: int) -> tuple[str, subprocess.Popen, subprocess.Popen]:
    """A ``dask scheduler`` and one ``dask worker`` started as processes (a test kills them): the address and both."""
    dask_cli = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    port = base_port + os.getpid() % 1000
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    scheduler = subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return address, scheduler, worker


def toml_study(n_trials: int) -> str:
    """A TOML study of two objectives over one parameter, its objective ``entry:evaluate``, kept in ``study.db``."""
    return textwrap.dedent(
        f"""
        [study]
        entry = "entry:evaluate"
        storage = "study.db"
        seed = 1
        n_trials = {n_trials}

        [space.x]
        type = "float"
        low = 0.0
        high = 1.0

        [[objectives]]
        name = "a"

        [[objectives]]
        name = "b"
        """
    )


def test_a_lost_scheduler_stops_the_study_with_every_finished_trial_saved(tmp_path, caplog):
    address, scheduler, worker = scheduler_and_worker(19786)
    try:
        def fn(config):
            time.sleep(0.3)
            return {"a": config["x"], "b": 1 - config["x"]}

        def lose_the_scheduler(s, trial):
            if s.count("complete") == 3:
                scheduler.kill()

        s = study(storage=tmp_path / "s.db")
        with caplog.at_level("WARNING", logger="moo_hpo"), \
                pytest.raises(mh.MooHpoError, match="lost the connection to the Dask scheduler.*resume with mh.Study.load"):
            s.optimize(fn, n_trials=30, executor=address, callbacks=[lose_the_scheduler], show_progress=False)
        s.close()
        assert "Dask cannot stop a task" not in caplog.text  # its tasks went with the scheduler: no advice to restart it
        resumed = mh.Study.load(tmp_path / "s.db")
        assert resumed.count("complete") == 3 and resumed.count("running") == 0
        resumed.close()
    finally:
        worker.kill(), scheduler.kill()
        worker.wait(), scheduler.wait()


def test_the_workers_keep_the_latest_objectives_only_and_bad_executors_are_named(client):
    from moo_hpo.execution import cluster as dask_side

    for _ in range(3):
        study().optimize(sleepy, n_trials=2, executor=client, show_progress=False)
    assert all(len(loaded) <= 2 for loaded in client.run(lambda: list(dask_side._LOADED)).values())
    with pytest.raises(mh.ConfigError, match=r"wrap a cluster in a client: executor=distributed.Client\(cluster\)"):
        study().optimize(sleepy, n_trials=1, executor=client.cluster, show_progress=False)
    with pytest.raises(mh.ConfigError, match="cannot reach the Dask scheduler at 'http://nowhere/' .*tcp://host:8786"):
        study().optimize(sleepy, n_trials=1, executor="http://nowhere/", show_progress=False)
    closed = distributed.Client(client.scheduler.address)
    closed.close()
    with pytest.raises(mh.ConfigError, match="the Dask client given as executor is closed"):
        study().optimize(sleepy, n_trials=1, executor=closed, show_progress=False)


@pytest.mark.timeout(120)
def test_another_client_in_the_process_neither_stalls_nor_slows_the_study(client):
    # a client that failed to connect stays the process's newest default client while anything refers to it (here
    # the exception; in a test suite, a reference cycle until the garbage collector runs): distributed.wait used
    # to wait on its idle loop and never saw the trials end
    with pytest.raises(ValueError) as failed:
        distributed.Client("http://nowhere/", timeout="5s")
    assert distributed.default_client() is not client
    s = study()
    t0 = time.monotonic()
    s.optimize(sleepy, n_trials=6, executor=client, show_progress=False)
    assert s.count("complete") == 6 and time.monotonic() - t0 < 20
    # a study given an address makes a client of its own that never becomes the default, even one that failed
    before = distributed.default_client()
    with pytest.raises(mh.ConfigError, match="cannot reach the Dask scheduler") as ours:
        study().optimize(sleepy, n_trials=1, executor="http://nowhere/", show_progress=False)
    assert distributed.default_client() is before
    del failed, ours  # held until here: the failed client stays the default while its exception is referenced


def test_a_late_worker_with_other_versions_fails_its_trials_saying_so(client):
    from moo_hpo.execution.cluster import _run_trial

    trial = mh.Trial(number=0, config={"x": 0.5, "y": 0.5})
    message = client.submit(_run_trial, "moo_hpo-objective-none", trial, False, None, None, {"moo_hpo": "9.9.9"},
                            pure=False).result()
    assert message["error"].startswith("the Dask worker tcp://") and "moo_hpo 9.9.9 in the study" in message["error"]
    assert message["extra"]["worker"]["pid"] != os.getpid()


def test_objectives_that_kill_their_workers_stop_the_study_as_the_same_failure(tmp_path):
    import dask

    def dies(config):
        os._exit(1)

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        s = study()
        with pytest.raises(mh.MooHpoError, match="the first 5 trials all failed the same way.*worker lost"):
            s.optimize(dies, n_trials=8, executor=client, retries=0, show_progress=False)
        failed = [t for t in s.trials if t.status is mh.TrialStatus.FAILED]
        assert len(failed) == 5 and len({t.error for t in failed}) == 1 and "trial_timeout" in failed[0].error
        assert all("moo_hpo-trial-" in t.extra["worker_lost"] for t in failed)  # Dask's own words, kept aside
    finally:
        client.close()
        cluster.close()


own_client = pytest.fixture(name="own_client")(_two_workers)  # for a test that leaves trials running on its cluster


@pytest.mark.parametrize("trial_timeout", [None, 60.0])
def test_after_ctrl_c_a_trial_waiting_for_its_reports_answer_stops_soon(own_client, tmp_path, trial_timeout):
    client = own_client
    started, ended = tmp_path / "started", tmp_path / "ended"
    started.mkdir()
    ended.mkdir()

    def fn(config, trial):
        if trial.number == 0:
            time.sleep(1.0)  # the others start and report meanwhile
            return {"a": config["x"], "b": config["y"]}
        (started / str(trial.number)).touch()
        try:
            for step in range(1, 100):
                time.sleep(0.2)
                trial.report(step, {"a": config["x"], "b": config["y"]})
        finally:
            (ended / str(trial.number)).touch()
        return {"a": config["x"], "b": config["y"]}

    def interrupt(study, trial):
        raise KeyboardInterrupt

    s = study(pruner=mh.pruners.MOASHA(1, 200, 3))
    with pytest.raises(KeyboardInterrupt):
        s.optimize(fn, n_trials=3, executor=client, callbacks=[interrupt], show_progress=False, trial_timeout=trial_timeout)
    names = lambda folder: sorted(p.name for p in folder.iterdir())  # noqa: E731
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and names(ended) != names(started):
        time.sleep(0.2)
    assert names(started) and names(ended) == names(started)  # not 120 s of waiting for answers that never come


def test_each_trial_keeps_its_own_output_with_several_threads_per_worker():
    def chatty(config, trial):
        for i in range(10):
            print(f"trial {trial.number} line {i}")
            time.sleep(0.02)
        return {"a": config["x"], "b": config["y"]}

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        s = study()
        s.optimize(chatty, n_trials=4, executor=client, show_progress=False)
        for t in s.trials:
            assert t.extra["output"].splitlines() == [f"trial {t.number} line {i}" for i in range(10)]
        (stream,) = client.run(lambda: type(sys.stdout).__name__).values()
        assert stream != "ThreadOutput"  # no trial runs: the worker's own streams again
    finally:
        client.close()
        cluster.close()


def test_the_log_names_the_cluster_and_the_progress_counts_pruned_trials(client, caplog, capsys):
    def fn(config, trial):
        for step in range(1, 4):
            trial.report(step, {"a": config["x"] + 1 / step, "b": config["y"]})
            if trial.should_prune():
                break
        return {"a": config["x"], "b": config["y"]}

    s = study(pruner=mh.pruners.MOASHA(1, 3, 3))
    with caplog.at_level("INFO", logger="moo_hpo"):
        s.optimize(fn, n_trials=6, executor=client)
    assert any(r.getMessage().startswith(f"trials run on the Dask scheduler {client.scheduler.address}: 2 worker(s), 2 trial(s)")
               for r in caplog.records)
    assert f"| pruned {s.count('pruned')} |" in capsys.readouterr().err.splitlines()[-1]


def test_the_report_says_where_the_trials_ran(client):
    def fn(config):
        if config["x"] > 0.7:
            raise RuntimeError("out of memory")
        return sleepy(config)

    s = study()
    s.optimize(fn, n_trials=8, executor=client, show_progress=False)
    report = mh.report(s)
    rows = {r["worker"]: r for r in report.data["workers"]}
    names = {str(w["name"]) for w in client.scheduler_info()["workers"].values()}
    assert set(rows) <= names and sum(r["trials"] for r in rows.values()) == 8
    assert sum(r["failed"] for r in rows.values()) == s.count("failed") and sum(r["complete"] for r in rows.values()) == s.count("complete")
    assert "<h2>Workers</h2>" in report.to_html() and "## Workers" in report.to_markdown()
    assert "<h2>Workers</h2>" not in mh.report(study()).to_html()  # not for a study that never ran on a cluster
    # each trial's time on its worker, apart from time queued: at least the objective's 0.2 s, at most its duration
    ran = [t.extra["worker"]["run_seconds"] for t in s.trials if t.status is mh.TrialStatus.COMPLETE]
    assert ran and all(0.2 <= r <= t.duration for r, t in zip(ran, [t for t in s.trials if t.status is mh.TrialStatus.COMPLETE], strict=True))
    assert sum(r["seconds"] for r in rows.values()) == pytest.approx(sum(t.extra["worker"]["run_seconds"] for t in s.trials))


def test_the_output_router_gives_each_thread_its_prints_and_leaves_the_streams_as_they_were():
    import io
    import threading

    from moo_hpo.execution.thread_output import ThreadOutput

    original = sys.stdout
    outer, inner, other = io.StringIO(), io.StringIO(), io.StringIO()
    started = threading.Event()
    release = threading.Event()

    def elsewhere():
        with ThreadOutput.capture(other):
            print("other thread")
            started.set()
            release.wait(5)

    with ThreadOutput.capture(outer):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        started.wait(5)
        print("outer 1")
        with ThreadOutput.capture(inner):
            print("inner")
        print("outer 2")
        assert sys.stdout.encoding == original.encoding  # the stream's own attributes show through
        release.set()
        thread.join()
    assert (outer.getvalue(), inner.getvalue(), other.getvalue()) == ("outer 1\nouter 2\n", "inner\n", "other thread\n")
    assert sys.stdout is original  # no trial runs: the streams are the process's own again
    router = ThreadOutput(None)
    assert router.write("nowhere") == 7  # a worker without a stream prints nothing, as before


def test_a_worker_that_joins_with_other_versions_gets_no_more_trials(tmp_path, caplog):
    preload = tmp_path / "other_version.py"
    preload.write_text("import moo_hpo\nmoo_hpo.__version__ = '9.9.9'\n")
    dask_cli = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    late = []

    def fn(config):  # long enough for a trial sent to the unfit worker to come back from it more than three times
        time.sleep(2.5)
        return {"a": config["x"], "b": config["y"]}

    def start_a_late_worker(study, trial):
        if not late:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            late.append(subprocess.Popen([dask_cli, "worker", cluster.scheduler_address, "--nthreads", "1", "--no-dashboard",
                                          "--preload", str(preload)], env=env, cwd=tmp_path,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            client.wait_for_workers(2, timeout=60)

    try:
        s = study()
        with caplog.at_level("DEBUG", logger="moo_hpo"):
            s.optimize(fn, n_trials=5, executor=client, callbacks=[start_a_late_worker], show_progress=False)
        # its trial ran again on the worker that can run it, once: before, the unfit worker's slot kept one trial in
        # flight with nowhere else to go, sent back to the unfit worker until it failed after three moves
        assert s.count("complete") == 5
        moves = [r.getMessage() for r in caplog.records if "came back from the unfit worker" in r.getMessage()]
        assert len(moves) == 1, moves
        (line,) = [r.getMessage() for r in caplog.records if "trials go to the other workers" in r.getMessage()]
        assert "runs other versions than the study: moo_hpo" in line and "9.9.9 here" in line
    finally:
        for p in late:
            p.terminate()
            p.wait(timeout=30)
        client.close()
        cluster.close()


def test_a_large_objective_is_logged_and_dask_options_are_checked(client, caplog, monkeypatch):
    from moo_hpo.execution import cluster as dask_side

    monkeypatch.setattr(dask_side, "LARGE_OBJECTIVE_BYTES", 1000)
    data = bytes(5000)

    def closure(config):  # carries 5 KB of data with it
        return {"a": config["x"] + len(data) * 0.0, "b": config["y"]}

    with caplog.at_level("WARNING", logger="moo_hpo"):
        study().optimize(closure, n_trials=1, executor=client, show_progress=False)
    assert any("the objective pickles to 0 MB (a closure over a dataset?)" in r.getMessage() for r in caplog.records)
    with pytest.raises(mh.ConfigError, match="resources must map resource names to positive amounts"):
        study().optimize(sleepy, n_trials=1, executor=client, resources={"GPU": float("inf")}, show_progress=False)


def test_finished_trials_results_are_let_go_while_a_long_trial_runs():
    def uneven(config):  # takes no trial: waited for through the executor's as_completed
        time.sleep(3.0 if config["x"] < 0.1 else 0.05)
        return {"a": config["x"], "b": 1 - config["x"]}

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=4, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        s = study()
        held: list[int] = []
        s.optimize(uneven, n_trials=40, executor=client, show_progress=False, callbacks=[lambda st, t: held.append(len(client.futures))])
    finally:
        client.close()
        cluster.close()
    long_ones = [t for t in s.trials if t.config["x"] < 0.1]
    assert s.count("complete") == 40 and len(long_ones) >= 1 and long_ones[0].number < 20  # quick trials finish meanwhile
    assert max(held) <= 5, held  # the running ones, not every result finished since the long trial started


def _finish_then_kill_its_worker(client, executor, trial) -> float:
    """Submit ``trial``, let it finish on its worker, and kill that worker before the study gathers the result;
    returns the test's deadline."""
    executor.submit(trial)
    future = next(iter(executor._running))
    deadline = time.monotonic() + 60
    while future.status != "finished" and time.monotonic() < deadline:
        time.sleep(0.05)
    holder = next(iter(client.who_has([future])[future.key]))
    os.kill(client.run(os.getpid, workers=[holder])[holder], signal.SIGKILL)
    return deadline


def test_a_finished_trial_whose_worker_dies_before_its_result_is_gathered_is_lost_not_a_crash(tmp_path):
    import dask

    from moo_hpo.execution.cluster import DaskExecutor

    def fn(config):  # finishes once; run again (its result lost with its worker), it kills that worker
        mark = tmp_path / "ran"
        if mark.exists():
            os._exit(1)
        mark.touch()
        return {"a": config["x"], "b": config["y"]}

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    executor = DaskExecutor(fn, client, retries=0)
    try:
        trial = mh.Trial(number=0, config={"x": 0.5, "y": 0.5})
        _finish_then_kill_its_worker(client, executor, trial)  # the result is lost before the study gathers it
        (done, outcome), = executor.wait()
        assert done is trial and outcome.error.startswith("worker lost"), outcome
    finally:
        executor.shutdown()
        client.close()
        cluster.close()


def test_a_trial_that_starts_after_its_study_stopped_frees_its_worker_at_once(client):
    from distributed import Event

    from moo_hpo.execution.cluster import _run_trial

    key = "moo_hpo-objective-stopped-study"  # its objective was released: the study stopped
    Event(f"{key}-stopped", client=client).set()
    began = time.monotonic()
    message = client.submit(_run_trial, key, mh.Trial(number=0, config={"x": 0.5, "y": 0.5}), False, None, pure=False).result()
    assert time.monotonic() - began < 20  # not the two minutes a worker waits for an objective that is coming
    assert "the study stopped before this trial could load its objective" in message["error"]


@pytest.mark.parametrize("with_reports", [False, True])
def test_a_worker_that_joins_mid_study_gets_a_trial_at_once(tmp_path, with_reports):
    started = tmp_path / "started"

    def slow(config):
        started.touch()
        time.sleep(4)
        return {"a": config["x"], "b": config["y"]}

    def slow_reporting(config, trial):
        started.touch()
        for step in range(1, 5):
            time.sleep(1)
            trial.report(step, {"a": config["x"], "b": config["y"]})
        return {"a": config["x"], "b": config["y"]}

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        import threading

        def join_once_the_first_trial_runs():
            deadline = time.monotonic() + 60
            while not started.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            cluster.scale(2)

        joiner = threading.Thread(target=join_once_the_first_trial_runs)
        joiner.start()
        s = study(**({"pruner": mh.pruners.MOASHA(1, 4, 2)} if with_reports else {}))
        s.optimize(slow_reporting if with_reports else slow, n_trials=2, executor=client, show_progress=False)
        joiner.join()
        first, second = s.trials
        # the second trial was proposed when the worker joined, while the first ran (not once it had finished)
        assert second.started_at < first.finished_at - 0.5, (second.started_at - first.started_at)
        assert {t.extra["worker"]["worker"] for t in s.trials} == set(client.scheduler_info()["workers"])
    finally:
        client.close()
        cluster.close()


def test_a_lost_connection_is_said_without_dasks_description_of_the_connection():
    from distributed.comm.core import CommClosedError

    from moo_hpo.execution.cluster import _connection_text

    closed = CommClosedError("in <TCP (closed) ConnectionPool.queue_get local=tcp://127.0.0.1:5 remote=tcp://127.0.0.1:8799>: "
                             "Stream is closed")
    assert _connection_text(closed) == "Stream is closed"
    assert _connection_text(OSError("Timed out trying to connect to tcp://h:1 after 30 s")) == \
        "Timed out trying to connect to tcp://h:1 after 30 s"
    assert _connection_text(OSError("lost: ('moo_hpo-trial-3-0-ab', 'moo_hpo-trial-4-0-cd')")) == \
        "the running trials' tasks were cancelled"


@pytest.mark.parametrize("pause", [0.0, 1.5])
def test_a_finished_trial_whose_result_is_lost_with_its_worker_completes_when_dask_runs_it_again(tmp_path, monkeypatch, pause):
    from moo_hpo.execution import cluster as dask_side

    monkeypatch.setattr(dask_side, "_GATHER_TIMEOUT", 1.0)  # the run again outlasts a gather's wait

    def fn(config):
        mark = tmp_path / "ran"
        if mark.exists():
            time.sleep(3)  # run again, slower
        mark.touch()
        return {"a": config["x"], "b": config["y"]}

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    executor = dask_side.DaskExecutor(fn, client, retries=0)
    try:
        trial = mh.Trial(number=0, config={"x": 0.25, "y": 0.5})
        deadline = _finish_then_kill_its_worker(client, executor, trial)
        time.sleep(pause)  # 1.5 s: the study learns of the loss before it gathers (the future is no longer finished)
        results = []
        while not results and time.monotonic() < deadline:
            results = executor.wait()
        (done, outcome), = results
        assert done is trial and outcome.error is None, outcome.error
        assert outcome.value["a"] == 0.25
    finally:
        executor.shutdown()
        client.close()
        cluster.close()


def test_a_study_stopped_with_trials_on_the_cluster_tells_their_tasks_and_a_finished_one_leaves_nothing(client):
    from distributed import Event

    from moo_hpo.execution.cluster import DaskExecutor

    def fn(config):
        time.sleep(config["x"])
        return {"a": config["x"], "b": config["y"]}

    for seconds, stopped in ((5.0, True), (0.1, False)):
        executor = DaskExecutor(fn, client, retries=0)
        executor.submit(mh.Trial(number=0, config={"x": seconds, "y": 0.5}))
        if not stopped:
            assert executor.wait()[0][1].error is None
        executor.shutdown()
        assert Event(f"{executor._key}-stopped", client=client).is_set() is stopped


def test_reports_from_the_cluster_are_answered_while_the_optimizer_proposes(client):
    from tests.execution.test_workers import _SlowRandom, reports_every_tenth_of_a_second

    s = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    s.optimize(reports_every_tenth_of_a_second, n_trials=6, executor=client, show_progress=False)
    assert s.count("complete") == 6
    gaps = [b["at"] - a["at"] for t in s.trials for a, b in zip(t.reports, t.reports[1:])]
    assert max(gaps) < 1.2, sorted(gaps)[-5:]  # not the optimizer's 1.5 s on top of the step


@pytest.mark.parametrize("reports", [False, True])
def test_a_trial_that_ends_on_the_cluster_while_the_optimizer_proposes_is_recorded_at_once(client, reports):
    from tests.execution.test_workers import _SlowRandom

    def ends_apart(config, trial):
        for step in range(1, 6):  # 0.1 to 1.1 s: trials end apart, some while the optimizer proposes
            time.sleep((0.1 + config["x"]) / 5)
            if reports:
                trial.report(step, {"a": config["x"]})
        return {"a": config["x"], "ended": time.time()}

    s = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0,
                 pruner=mh.pruners.MOASHA(1, 5, 3) if reports else None)
    s.optimize(ends_apart, n_trials=6, executor=client, show_progress=False)
    assert s.count("complete") + s.count("pruned") == 6
    assert any(a < t.metrics["ended"] < b for t in s.trials if "ended" in t.metrics for a, b in s.optimizer.slow_asks)
    late = [round(t.finished_at - t.metrics["ended"], 2) for t in s.trials if "ended" in t.metrics]
    assert max(late) < 0.6, late  # recorded within moments, not once the 1.5 s proposal ended
    assert s.optimizer.overlaps == 0


class _DividesByZero(mh.pruners.Pruner):
    """A user's pruner with a bug."""

    name = "divides-by-zero"

    def decide(self, number, step, metrics):
        return 1 / 0


def test_a_pruners_own_error_keeps_its_type_on_the_cluster(client):
    s = study(pruner=_DividesByZero())
    with pytest.raises(mh.MooHpoError, match="all failed the same way"):
        s.optimize(_curves, n_trials=6, executor=client, show_progress=False)
    assert "ZeroDivisionError: division by zero" in s.trials[0].error


@pytest.mark.parametrize("comes_back", ["a new worker", "the unfit worker fixed"])
def test_with_only_workers_that_cannot_run_the_objective_left_trials_wait_for_one_that_can(tmp_path, caplog, monkeypatch,
                                                                                             comes_back):
    # the only fit worker is lost (a preempted node) while a worker that cannot load the objective stays: before, the
    # rest of the budget became failed trials within a second
    import threading

    preload = tmp_path / "other_version.py"
    preload.write_text("import moo_hpo\nmoo_hpo.__version__ = '9.9.9'\n")
    dask_cli = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    cluster = distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}

    def worker(*extra: str) -> subprocess.Popen:
        return subprocess.Popen([dask_cli, "worker", cluster.scheduler_address, "--nthreads", "1", "--no-dashboard", *extra],
                                env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    workers = [worker()]
    client.wait_for_workers(1, timeout=60)

    def fn(config):
        time.sleep(0.5)
        return {"a": config["x"], "b": config["y"]}

    def lose_the_fit_worker(study, trial):
        if len(workers) == 1:
            workers.append(worker("--preload", str(preload)))
            client.wait_for_workers(2, timeout=60)
            workers[0].kill()  # the only worker that can run the objective
            if comes_back == "a new worker":
                threading.Timer(8.0, lambda: workers.append(worker())).start()
            else:  # what the unfit worker lacked is installed there (here: this moo_hpo's version)
                threading.Timer(3.0, lambda: client.run(fix_the_version)).start()

    version = mh.__version__  # this process's (on the worker, moo_hpo's own was changed by its preload)

    def fix_the_version():
        import moo_hpo

        moo_hpo.__version__ = version

    from moo_hpo.execution import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "UNFIT_RECHECK_SECONDS", 1.0)
    try:
        s = study()
        with caplog.at_level("WARNING", logger="moo_hpo"):
            s.optimize(fn, n_trials=4, executor=client, callbacks=[lose_the_fit_worker], show_progress=False)
        assert s.count("complete") == 4 and s.count("failed") == 0, [t.error for t in s.trials]
        said = caplog.text
        assert "no other worker can run them: they wait for one that can" in said or "no Dask worker is left" in said
        if comes_back == "the unfit worker fixed":
            assert "can run the objective now: the waiting trials go to them" in said
    finally:
        for p in workers:
            p.kill()
            p.wait(timeout=30)
        client.close()
        cluster.close()


def test_an_address_where_a_web_server_listens_is_refused_instead_of_a_silent_wait(monkeypatch):
    # the dashboard's port (8787) for the scheduler's (8786): Dask's client waited for its handshake with no message
    import http.server
    import threading

    from moo_hpo.execution import scheduler_address

    monkeypatch.setattr(scheduler_address, "GREETING_SECONDS", 1.0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    started = time.monotonic()
    try:
        with pytest.raises(mh.ConfigError, match=r"'tcp://127.0.0.1:\d+' is a web server, not a Dask scheduler.*dashboard"):
            study().optimize(sleepy, n_trials=1, executor=address, show_progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 20




def writes_a_note(config, trial):
    trial.extra["note"] = "kept"
    trial.extra["worker"] = "my-gpu-box"  # names moo_hpo records on Dask too: kept under other names
    trial.extra["output"] = "my-output"
    print("hello")
    return {"a": config["x"], "b": config["y"]}


def test_what_the_objective_writes_into_trial_extra_comes_back_from_the_cluster(client, caplog):
    caplog.set_level("WARNING", logger="moo_hpo")
    s = study()
    s.optimize(writes_a_note, n_trials=2, executor=client, show_progress=False)
    assert all(t.extra["note"] == "kept" and t.extra["user_worker"] == "my-gpu-box" for t in s.trials)
    assert all(t.extra["user_output"] == "my-output" for t in s.trials)
    assert all(t.extra["worker"]["worker"] in client.scheduler_info()["workers"] for t in s.trials)
    assert all(t.extra["output"].strip() == "hello" for t in s.trials)
    assert sum("kept as ['user_output', 'user_worker']" in r.getMessage() for r in caplog.records) == 1  # said once


def _slow_curves(config, trial):
    for epoch in range(1, 40):
        time.sleep(0.1)
        trial.report(epoch, {"a": config["x"], "b": config["y"]})
        if trial.should_prune():
            break
    return {"a": config["x"], "b": config["y"]}


@pytest.mark.parametrize("pruner", [mh.pruners.MOASHA(1, 39, 3), False])
def test_a_client_closed_while_the_study_runs_is_said_as_such(pruner):
    """Before: with a pruner, Dask's own 'IOLoop is closed' (or an AttributeError) escaped; without one, the study
    said the scheduler was lost, though it was not."""
    import threading

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        s = study(pruner=pruner)
        threading.Timer(3.0, client.close).start()
        with pytest.raises(mh.MooHpoError, match="the Dask client given as executor was closed while the study ran"):
            s.optimize(_slow_curves, n_trials=20, executor=client, show_progress=False)
        assert s.count("complete") + s.count("pruned") + s.count("interrupted") == len(s.trials)
    finally:
        client.close()
        cluster.close()


class _DiesOnceWhenLoaded:
    """Unpickled on a worker (the objective's load), it kills that worker's process the first time: a worker lost
    while it loads the objective (an OOM kill, a nanny's restart)."""

    def __init__(self, flag: str, driver: int) -> None:
        self.flag, self.driver = flag, driver

    def __reduce__(self):
        return (_die_once, (self.flag, self.driver))


def _die_once(flag: str, driver: int) -> _DiesOnceWhenLoaded:
    if os.getpid() == driver:  # the study's own copy: nothing to kill
        return _DiesOnceWhenLoaded(flag, driver)
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL))  # the first worker that loads it only
    except FileExistsError:
        return _DiesOnceWhenLoaded(flag, driver)
    os._exit(1)


def test_a_worker_lost_while_loading_the_objective_leaves_the_study_to_the_others(tmp_path, caplog):
    # the study stopped before any trial: "the Dask worker ... could not load the objective: CommClosedError"
    dies = _DiesOnceWhenLoaded(str(tmp_path / "died"), os.getpid())

    def fn(config):
        assert dies is not None
        return {"a": config["x"], "b": config["y"]}

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        s = study()
        with caplog.at_level("WARNING", logger="moo_hpo"):
            s.optimize(fn, n_trials=4, executor=client, show_progress=False)
        assert (tmp_path / "died").exists() and s.count("complete") == 4
        assert "lost while loading the objective before the first trial; the study goes on with the 1 other" in caplog.text
    finally:
        client.close()
        cluster.close()
