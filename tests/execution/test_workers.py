"""Local worker processes: safe with torch threads, die with the study, carry any exception back."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

import moo_hpo as mh


def two_objective_study(**kw) -> mh.Study:
    space = mh.Space({"x": mh.Float(0.0, 1.0), "y": mh.Float(0.0, 1.0)})
    kw.setdefault("optimizer", "random")
    return mh.Study(space, [mh.Minimize("a"), mh.Minimize("b")], seed=0, **kw)


def torch_objective(config):
    import torch

    a = torch.randn(400, 400)
    s = float((a @ a).sum()) * 0.0
    return {"a": config["x"] + s, "b": (1 - config["x"]) ** 2 + config["y"]}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ehvi_with_a_torch_objective_and_two_workers_finishes():
    # the study's process fits GPs (torch threads running) between trials; forked workers hung there
    study = two_objective_study(optimizer="ehvi")
    study.optimize(torch_objective, n_trials=9, n_workers=2, trial_timeout=60, show_progress=False)
    assert study.count("complete") == 9
    acquisitions = [t.extra["optimizer"]["acquisition"] for t in study.trials]
    assert sum(not a.startswith("sobol") for a in acquisitions) >= 2  # trials ran after GP fits in this process


class TwoArgumentError(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"code {code}: {detail}")
        self.code, self.detail = code, detail


def test_an_exception_that_does_not_unpickle_is_recorded_as_text():
    def fn(config):
        raise TwoArgumentError(7, "bad batch")

    study = two_objective_study()
    study.optimize(fn, n_trials=3, n_workers=2, show_progress=False)
    assert study.count("failed") == 3
    assert all(t.error.startswith("TwoArgumentError: code 7: bad batch") and "Traceback" in t.error for t in study.trials)


def trial_as_json(config, trial):
    import dataclasses
    import json

    trial.report(1, {"a": config["x"], "b": 1 - config["x"]})
    as_dict = dataclasses.asdict(trial)  # a copy: it failed on the worker's pipe to the study
    json.dumps(as_dict)
    return {"a": config["x"], "b": 1 - config["x"], "copied_reporter": float(as_dict["_reporter"] is None)}


def test_a_running_trial_turns_into_a_json_dict_in_a_worker_and_in_the_study_s_process():
    from moo_hpo.execution.cluster import DaskReporter

    for n_workers in (2, 1):
        study = two_objective_study(pruner=mh.pruners.MOASHA(1, 3, 3))
        study.optimize(trial_as_json, n_trials=2, n_workers=n_workers, show_progress=False)
        assert [t.metrics.get("copied_reporter") for t in study.trials] == [1.0, 1.0], [t.error for t in study.trials]
    assert copy.deepcopy(DaskReporter("channel")) is None  # a Dask task's trial: the same


def test_an_objective_may_start_processes_of_its_own():
    def fn(config):
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(2) as pool:
            squares = pool.map(abs, [-1, -2, -3])
        return {"a": config["x"] + 0 * sum(squares), "b": 1 - config["x"]}

    study = two_objective_study()
    study.optimize(fn, n_trials=2, n_workers=2, show_progress=False)
    assert study.count("complete") == 2, [t.error for t in study.trials]


def test_a_torch_dataloader_with_workers_runs_in_a_trial():
    def fn(config):
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        data = TensorDataset(torch.arange(16.0))
        total = sum(float(b[0].sum()) for b in DataLoader(data, batch_size=4, num_workers=2))
        return {"a": config["x"], "b": total}

    study = two_objective_study()
    study.optimize(fn, n_trials=1, trial_timeout=120, show_progress=False)
    assert study.count("complete") == 1, study.trials[0].error
    assert study.trials[0].metrics["b"] == 120.0


def test_an_objective_that_cannot_be_pickled_is_a_config_error_before_any_trial():
    lock = threading.Lock()

    def fn(config):
        with lock:
            return {"a": config["x"], "b": 1 - config["x"]}

    study = two_objective_study()
    with pytest.raises(mh.ConfigError, match="the objective 'fn' must be picklable"):
        study.optimize(fn, n_trials=2, n_workers=2, show_progress=False)
    assert study.trials == []

    @mh.objectives.probe(["locked"], needs_training=False)
    def locked(model):
        with lock:
            return {"locked": 1.0}

    with pytest.raises(mh.ConfigError, match="the probe 'locked' must be picklable to run in worker processes"):
        study.optimize(lambda model, config: {"a": config["x"], "b": 1 - config["x"]}, build=lambda c: [c["x"]],
                       probes=[locked], n_trials=2, n_workers=2, show_progress=False)
    assert study.trials == []


def test_an_objective_the_workers_cannot_load_is_a_config_error(tmp_path, monkeypatch):
    (tmp_path / "only_here.py").write_text("def evaluate(config):\n    return {'a': config['x'], 'b': 1.0}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here

    study = two_objective_study()
    (tmp_path / "only_here.py").unlink()  # the workers cannot import it any more
    with pytest.raises(mh.ConfigError, match="could not load the objective"):
        study.optimize(only_here.evaluate, n_trials=2, n_workers=2, show_progress=False)
    assert study.trials == []


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import moo_hpo as mh

    def slow(config):
        time.sleep(120)
        return {"a": config["x"], "b": 1.0}

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")],
                     optimizer="random", storage=sys.argv[1], seed=0)
    study.optimize(slow, n_trials=4, n_workers=2, show_progress=False)
    """
)


def _two_trials_running(parent: subprocess.Popen) -> list[psutil.Process]:
    """The two worker processes of ``parent`` (a study running ORPHAN_SCRIPT), once their trials run."""
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = [c for c in psutil.Process(parent.pid).children(recursive=True) if "worker_main" in " ".join(c.cmdline())]
    assert len(workers) == 2
    time.sleep(1.0)  # the trials are running
    return workers


@pytest.mark.slow
def test_workers_die_with_a_sigkilled_study_and_the_study_reopens(tmp_path):
    script = tmp_path / "study_script.py"
    script.write_text(ORPHAN_SCRIPT)
    db = tmp_path / "s.db"
    parent = subprocess.Popen([sys.executable, str(script), str(db)])
    try:
        workers = _two_trials_running(parent)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"workers outlived the study: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
    study = mh.Study.load(db)  # writable: no orphan holds the lock
    assert not study.read_only
    assert [t.status for t in study.trials] == [mh.TrialStatus.INTERRUPTED] * 2
    study.close()


@pytest.mark.slow
def test_a_second_ctrl_c_during_the_clean_up_still_records_the_running_trials(tmp_path):
    # a user presses Ctrl-C twice by habit: the second press came while the workers were being stopped, and
    # the running trials stayed 'running' in the store
    script = tmp_path / "study_script.py"
    script.write_text(ORPHAN_SCRIPT)
    db = tmp_path / "s.db"
    parent = subprocess.Popen([sys.executable, str(script), str(db)], stderr=subprocess.PIPE, text=True)
    try:
        _two_trials_running(parent)
        parent.send_signal(signal.SIGINT)
        for gap in (0.001, 0.004):  # two more presses, at least one while the workers are stopped
            time.sleep(gap)
            parent.send_signal(signal.SIGINT)
        _, err = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode != 0 and "KeyboardInterrupt" in err
    assert "2 running trials recorded as interrupted" in err, err[-2000:]
    study = mh.Study.load(db, read_only=True)
    assert [t.status for t in study.trials] == [mh.TrialStatus.INTERRUPTED] * 2


def _threads(config: dict) -> dict:
    import os

    import torch

    return {"a": float(os.environ["OMP_NUM_THREADS"]), "b": float(torch.get_num_threads())}


def test_each_worker_gets_its_share_of_the_cores_unless_the_user_set_it(monkeypatch):
    from moo_hpo.execution.workers import THREAD_VARIABLES, thread_limits

    for name in THREAD_VARIABLES:  # as on a user's machine (make test sets them for its own workers)
        monkeypatch.delenv(name, raising=False)
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    assert thread_limits(2) == dict.fromkeys(THREAD_VARIABLES, str(share))
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(_threads, n_trials=2, n_workers=2, show_progress=False)
    assert [(t.metrics["a"], t.metrics["b"]) for t in study.trials] == [(share, share)] * 2  # torch follows it
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice: nothing is set beside it
    assert thread_limits(2) == {}
    study.optimize(_threads, n_trials=1, n_workers=2, show_progress=False)
    assert study.trials[-1].metrics["a"] == 3.0


PRINTING_SCRIPT = textwrap.dedent(
    """
    import sys
    import moo_hpo as mh

    def chatty(config):
        print(f"stdout of trial x={config['x']:.3f}")
        print("stderr line", file=sys.stderr)
        return {"a": config["x"], "b": 1.0}

    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(chatty, n_trials=4, n_workers=2, show_progress=False)
    print("complete", study.count("complete"))
    """
)


def test_what_an_objective_prints_in_a_worker_goes_where_the_script_prints():
    # the worker's stdout carried the messages, so an objective's prints went to standard error
    out = subprocess.run([sys.executable, "-c", PRINTING_SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("stdout of trial x=") == 4 and "complete 4" in out.stdout
    assert "stdout of trial" not in out.stderr and out.stderr.count("stderr line") == 4


@pytest.mark.parametrize("closed", ["1>&-", "0<&- 1>&- 2>&-"])
def test_workers_start_when_the_studys_standard_streams_are_closed(tmp_path, closed):
    # a daemon's closed streams: the worker's sys.stdout is None there, and the message pipe took fd 0-2 in the study
    script = tmp_path / "closed.py"
    result = tmp_path / "result.txt"
    script.write_text(PRINTING_SCRIPT.replace('print("complete", study.count("complete"))',
                                              f'open({str(result)!r}, "w").write(f"complete {{study.count(\'complete\')}}")'))
    out = subprocess.run(["bash", "-c", f'"{sys.executable}" "{script}" {closed}'], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and result.read_text() == "complete 4", out.stderr[-2000:]


class _SlowRandom(mh.optimizers.RandomSearch):
    """Random search that takes 1.5 s to propose while trials run, as a Bayesian model step does; it notes when."""

    ask_in_thread = True

    def setup(self, problem):
        super().setup(problem)
        self.slow_asks: list[tuple[float, float]] = []  # (start, end) wall times
        self.overlaps = 0  # tells while an ask ran

    def ask(self, n, pending):
        started = time.time()
        self._asking = True
        try:
            if pending:  # proposing while trials run
                time.sleep(1.5)
            return super().ask(n, pending)
        finally:
            self._asking = False
            if pending:
                self.slow_asks.append((started, time.time()))

    def tell(self, trials):
        self.overlaps += bool(getattr(self, "_asking", False))
        return super().tell(trials)


def reports_every_tenth_of_a_second(config, trial):
    for step in range(1, 6 + int(20 * config["x"])):  # 0.5 to 2.5 s: trials end apart
        time.sleep(0.1)
        trial.report(step, {"a": config["x"] + 1.0 / step})
    return {"a": config["x"]}


def test_reports_are_answered_while_the_optimizer_proposes():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    study.optimize(reports_every_tenth_of_a_second, n_trials=6, n_workers=2, show_progress=False)
    assert study.count("complete") == 6
    slow = study.optimizer.slow_asks
    during = [r["at"] for t in study.trials for r in t.reports if any(a < r["at"] < b for a, b in slow)]
    assert slow and len(during) >= 5  # reports came, and were answered, while the optimizer proposed
    gaps = [b["at"] - a["at"] for t in study.trials for a, b in zip(t.reports, t.reports[1:])]
    assert max(gaps) < 0.9, sorted(gaps)[-5:]  # not the optimizer's 1.5 s


def test_ctrl_c_while_the_optimizer_proposes_stops_once_its_proposal_ends(caplog):
    import _thread
    import threading

    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    asked = []
    slow_ask = _SlowRandom.ask

    def ask(self, n, pending):
        if pending and not asked:  # the first proposal made while trials run: Ctrl-C in its midst
            asked.append(time.monotonic())
            threading.Timer(0.3, _thread.interrupt_main).start()
        return slow_ask(self, n, pending)

    study.optimizer.ask = ask.__get__(study.optimizer)
    with caplog.at_level("WARNING", logger="moo_hpo"), pytest.raises(KeyboardInterrupt):
        study.optimize(reports_every_tenth_of_a_second, n_trials=6, n_workers=2, show_progress=False)
    stopped = time.monotonic()
    assert asked and 1.4 < stopped - asked[0] < 4.0  # once the 1.5 s proposal ended, not before, not much after
    assert "stopping once the optimizer's proposal in progress ends" in caplog.text
    assert study.optimizer.overlaps == 0  # nothing told the optimizer while it proposed
    assert study.count("running") == 0 and study.count("interrupted") >= 1
    study.optimize(reports_every_tenth_of_a_second, n_trials=2, n_workers=2, show_progress=False)  # the same optimizer
    assert study.count("complete") >= 2 and study.optimizer.overlaps == 0


def crashes_first_then_sleeps(config):
    if config["x"] < 0.5:
        os._exit(3)
    time.sleep(3)
    return {"a": config["x"]}


def test_a_worker_started_in_place_of_a_lost_one_does_not_make_the_study_spin():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.enqueue({"x": 0.1})  # its worker dies at once; the new worker gets no trial (the budget is spent)
    study.enqueue({"x": 0.9})  # runs 3 s meanwhile
    cpu = time.process_time()
    study.optimize(crashes_first_then_sleeps, n_trials=2, n_workers=2, show_progress=False)
    assert [t.status.value for t in study.trials] == ["failed", "complete"]
    assert time.process_time() - cpu < 1.5  # waiting is not a busy loop (it took about 3 s of CPU)


def test_an_idle_worker_that_dies_is_replaced_not_spun_on():
    from moo_hpo.execution.workers import WorkerPoolExecutor

    pool = WorkerPoolExecutor(crashes_first_then_sleeps, 2)
    try:
        idle = pool._workers[1]
        pool.submit(mh.Trial(number=0, config={"x": 0.9}))  # runs 3 s on the first worker
        os.kill(idle.process.pid, signal.SIGKILL)  # the other dies while it waits for a trial
        cpu = time.process_time()
        ((trial, outcome),) = pool.wait()
        assert outcome.error is None and time.process_time() - cpu < 1.5
        assert pool._workers[1] is not idle and pool._workers[1].process.poll() is None  # started again
    finally:
        pool.shutdown()


def pid_and_leak(config):
    """Reports its worker's pid and how many trials that process ran (a global a library might keep)."""
    import builtins

    builtins._moo_hpo_test_runs = getattr(builtins, "_moo_hpo_test_runs", 0) + 1
    return {"a": config["x"], "pid": os.getpid(), "runs_here": builtins._moo_hpo_test_runs}


@pytest.mark.parametrize(("n_workers", "per_worker"), [(2, 1), (1, 2)])
def test_max_trials_per_worker_gives_each_group_of_trials_a_fresh_process(n_workers, per_worker):
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.optimize(pid_and_leak, n_trials=6, n_workers=n_workers, max_trials_per_worker=per_worker, show_progress=False)
    assert study.count("complete") == 6
    pids = [t.metrics["pid"] for t in study.trials]
    assert len(set(pids)) == 6 // per_worker and os.getpid() not in pids
    assert max(t.metrics["runs_here"] for t in study.trials) == per_worker  # nothing a trial left carries further
    assert all(pids.count(p) == per_worker for p in pids)


def test_without_max_trials_per_worker_a_worker_keeps_what_its_trials_left():  # the state the option clears
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.optimize(pid_and_leak, n_trials=4, trial_timeout=60, show_progress=False)
    assert len({t.metrics["pid"] for t in study.trials}) == 1
    assert [t.metrics["runs_here"] for t in study.trials] == [1, 2, 3, 4]


def registers_an_exit_note(config):
    import atexit

    path = config["note"]
    atexit.register(lambda: open(path, "a").write(f"{os.getpid()}\n"))
    return {"a": 0.0}


def test_a_retired_worker_exits_as_a_program_does_and_leaves_no_process(tmp_path):
    note = tmp_path / "exits.txt"
    study = mh.Study(mh.Space({"note": mh.Categorical([str(note)])}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.enqueue({"note": str(note)})
    study.enqueue({"note": str(note)})
    study.enqueue({"note": str(note)})
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    study.optimize(registers_an_exit_note, n_trials=3, max_trials_per_worker=1, show_progress=False)
    assert study.count("complete") == 3
    assert len(set(note.read_text().split())) == 3  # each worker's atexit ran: it was not killed
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before  # every retired worker is gone


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_max_trials_per_worker_must_be_a_positive_integer(bad):
    study = two_objective_study()
    with pytest.raises(mh.ConfigError, match="max_trials_per_worker must be a positive integer or None; received"):
        study.optimize(lambda c: {"a": 0.0, "b": 0.0}, n_trials=1, max_trials_per_worker=bad, show_progress=False)
    assert not study.trials


def test_max_trials_per_worker_is_refused_with_a_dask_executor_before_connecting():
    study = two_objective_study()
    with pytest.raises(mh.ConfigError, match="local worker processes; a Dask worker's life is the cluster's"):
        study.optimize(lambda c: {"a": 0.0, "b": 0.0}, n_trials=1, max_trials_per_worker=1,
                       executor="tcp://127.0.0.1:9", show_progress=False)


def hangs_at_exit(config):
    import atexit

    atexit.register(time.sleep, 600)
    return {"a": 0.0}


def test_a_retired_worker_that_does_not_exit_is_killed_when_the_study_ends(caplog):
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    study.optimize(hangs_at_exit, n_trials=1, max_trials_per_worker=1, show_progress=False)
    assert time.monotonic() - started < 20 and study.count("complete") == 1
    assert "had not exited; it was killed" in caplog.text
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def ends_quickly(config):
    time.sleep(0.1 + config["x"])  # 0.1 to 1.1 s: trials end apart, some while the optimizer proposes
    return {"a": config["x"], "ended": time.time()}


def test_a_trial_that_ends_while_the_optimizer_proposes_is_recorded_at_once():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    study.optimize(ends_quickly, n_trials=6, n_workers=2, show_progress=False)
    assert study.count("complete") == 6
    slow = study.optimizer.slow_asks
    assert any(a < t.metrics["ended"] < b for t in study.trials for a, b in slow)  # some ended while it proposed
    late = [round(t.finished_at - t.metrics["ended"], 2) for t in study.trials]
    assert max(late) < 0.5, late  # recorded within moments, not once the 1.5 s proposal ended
    assert study.optimizer.overlaps == 0  # the optimizer heard of them after its proposal


def test_ctrl_c_during_a_proposal_keeps_the_trials_that_ended_meanwhile():
    import _thread
    import threading

    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    slow_ask = _SlowRandom.ask

    def ask(self, n, pending):
        if pending:  # trials run: Ctrl-C in the midst of this 1.5 s proposal, once the running trial ended (in 1.1 s)
            number = pending[0].number

            def once_it_ended():
                while not study.trial(number).is_finished:
                    time.sleep(0.01)
                _thread.interrupt_main()

            threading.Thread(target=once_it_ended, daemon=True).start()
        return slow_ask(self, n, pending)

    study.optimizer.ask = ask.__get__(study.optimizer)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(ends_quickly, n_trials=6, n_workers=2, show_progress=False)
    assert [t.status.value for t in study.trials] == ["complete", "complete"]  # nothing that ended is lost
    assert study.optimizer.overlaps == 0


def hangs_below_half(config):
    time.sleep(60 if config["x"] < 0.5 else 0.1)
    return {"a": config["x"]}


def test_trial_timeout_stops_a_trial_while_the_optimizer_proposes():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=3)
    study.optimize(hangs_below_half, n_trials=6, n_workers=2, trial_timeout=0.5, show_progress=False)
    stopped = [t for t in study.trials if t.status is mh.TrialStatus.FAILED]
    assert stopped and all("timeout" in t.error for t in stopped)
    spans = [round(t.finished_at - t.started_at, 2) for t in stopped]
    assert max(spans) < 1.2, spans  # at its 0.5 s, not when a 1.5 s proposal ended


def killed_by_a_signal(config):
    os.kill(os.getpid(), signal.SIGKILL if config["x"] < 0.5 else signal.SIGSEGV)


def test_a_worker_killed_by_a_signal_fails_its_trial_naming_the_signal_and_what_it_usually_means():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.enqueue({"x": 0.1})
    study.enqueue({"x": 0.9})
    study.optimize(killed_by_a_signal, n_trials=2, n_workers=2, show_progress=False)
    errors = [t.error for t in study.trials]
    assert "ended without a result (killed by SIGKILL (the kernel's out-of-memory killer" in errors[0]  # was "exit code -9"
    assert "killed by SIGSEGV (a crash in native code" in errors[1]


def reports_after_returning(config, trial):
    import threading

    if trial.number == 0:  # a thread of the objective's that reports after the trial returned
        threading.Thread(target=lambda: (time.sleep(0.5), trial.report(1, {"a": 0.0})), daemon=True).start()
        return {"a": config["x"]}
    time.sleep(3)
    return {"a": config["x"]}


@pytest.mark.timeout(60)
def test_an_idle_worker_that_sends_out_of_turn_is_replaced_not_waited_for():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    started = time.monotonic()
    study.optimize(reports_after_returning, n_trials=2, n_workers=2, show_progress=False)
    assert study.count("complete") == 2 and time.monotonic() - started < 20  # before: blocked until killed


def test_a_retired_worker_is_collected_without_waitid_too(monkeypatch):
    from moo_hpo.execution import workers

    monkeypatch.delattr(workers.os, "waitid")  # macOS before Python 3.13
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.optimize(pid_and_leak, n_trials=3, max_trials_per_worker=1, show_progress=False)
    assert study.count("complete") == 3 and len({t.metrics["pid"] for t in study.trials}) == 3


def always_fails(config, trial):
    time.sleep(0.1 if trial.number == 0 else 0.5)
    raise ValueError("same failure")


def test_the_same_failure_stop_holds_when_trials_end_while_the_optimizer_proposes():
    # several trials told during one proposal jumped past the fifth: the study ran its whole budget
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    with pytest.raises(mh.MooHpoError, match="the first 5 trials all failed the same way"):
        study.optimize(always_fails, n_trials=16, n_workers=6, show_progress=False)  # 5 end in one proposal
    assert study.count("failed") < 16 and study.count("running") == 0  # and no proposed trial is left running


def raising_at_the_second_call():
    calls = []

    def callback(study, trial):
        calls.append(trial.number)
        if len(calls) == 2:  # the trial that ended while the optimizer proposed the next one
            raise RuntimeError("a callback's own error")

    return callback


def test_a_callback_that_raises_after_trials_told_during_a_proposal_leaves_no_trial_running():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    with pytest.raises(RuntimeError, match="a callback's own error"):
        study.optimize(ends_quickly, n_trials=10, n_workers=2, callbacks=[raising_at_the_second_call()], show_progress=False)
    assert study.count("running") == 0  # before: the trials proposed meanwhile stayed running, in the file too


def odd_ones_slower(config, trial):
    time.sleep(0.05 if trial.number % 2 == 0 else 0.3)  # the second of a batch ends while the optimizer proposes
    return {"a": config["x"]}


class _WaitsForItsBatch(mh.optimizers.RandomSearch):
    """Proposes two at a time and nothing while they run, as a batch-synchronous optimizer does."""

    ask_in_thread = True

    def ask(self, n, pending):
        time.sleep(0.3)
        return [] if pending else super().ask(min(n, 2), pending)


def test_an_optimizer_that_waits_for_its_batch_goes_on_when_the_batch_ended_during_its_ask():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_WaitsForItsBatch(), seed=0)
    study.optimize(odd_ones_slower, n_trials=8, n_workers=2, show_progress=False)
    assert study.count("complete") == 8  # before: "proposed nothing" once its batch was told during its ask


def stopped_by_sigterm_below_half(config):
    if config["x"] < 0.5:
        os.kill(os.getpid(), signal.SIGTERM)  # as a job scheduler stops a worker
        time.sleep(5)
    return {"a": config["x"]}


def test_a_trial_whose_worker_alone_was_stopped_fails_naming_the_signal():
    # the study was not stopped: the trial's own doing (a memory watchdog such as earlyoom sends SIGTERM), not retried
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.enqueue({"x": 0.1})
    study.optimize(stopped_by_sigterm_below_half, n_trials=2, n_workers=2, show_progress=False)
    first = study.trials[0]
    assert first.status is mh.TrialStatus.FAILED and "killed by SIGTERM" in first.error
    assert not study._retries.numbers


def times_itself(config):
    began = time.time()
    time.sleep(0.5)
    return {"a": config["x"], "began": began, "ended": time.time()}


def test_a_queued_configuration_starts_at_once_not_after_the_next_proposal():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer=_SlowRandom(), seed=0)
    study.enqueue({"x": 0.5})  # a baseline (a retry of an interrupted trial goes the same way)
    study.optimize(times_itself, n_trials=3, n_workers=2, show_progress=False)
    baseline = study.trials[0]
    waited = baseline.metrics["began"] - baseline.started_at
    assert waited < 0.5, waited  # before: it waited for the 1.5 s proposal of the other worker's trial
    assert baseline.finished_at - baseline.started_at < 1.2


def test_a_report_sent_after_its_trial_returned_is_not_taken_as_the_next_trials():
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=0)
    study.optimize(reports_after_returning, n_trials=2, trial_timeout=60, show_progress=False)  # one worker
    assert study.count("complete") == 2
    assert study.trials[1].reports == []  # before: trial #0's late report, recorded as trial #1's


SLOW_TO_START = """
import os, pathlib, time
pathlib.Path(os.environ["MOO_HPO_TEST_STARTS"], str(os.getpid())).touch()  # a worker starts loading the objective
time.sleep(1.5)

def objective(config):
    return {"a": config["x"], "b": 1 - config["x"]}
"""


def kill_starting_workers(starts, count: int) -> threading.Thread:
    """Kill the first ``count`` worker processes (not this one) while they load the objective."""

    def kill() -> None:
        killed: set[str] = set()
        deadline = time.monotonic() + 60
        while len(killed) < count and time.monotonic() < deadline:
            for entry in starts.iterdir():
                if entry.name not in killed and int(entry.name) != os.getpid():
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed.add(entry.name)
            time.sleep(0.02)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kills", [1, 2])
def test_a_worker_killed_while_it_starts_is_replaced_once(tmp_path, monkeypatch, caplog, kills):
    # the out-of-memory killer or an administrator's kill during a worker's imports stopped the whole study with a
    # ConfigError; it says nothing about the objective, so the worker is replaced, once
    (tmp_path / "slow_to_start.py").write_text(SLOW_TO_START)
    starts = tmp_path / "starts"
    starts.mkdir()
    monkeypatch.setenv("MOO_HPO_TEST_STARTS", str(starts))
    monkeypatch.syspath_prepend(str(tmp_path))
    from slow_to_start import objective

    killer = kill_starting_workers(starts, kills)
    study = two_objective_study()
    caplog.set_level("WARNING", logger="moo_hpo")
    if kills == 1:
        study.optimize(objective, n_trials=2, n_workers=1, trial_timeout=60, show_progress=False)  # a worker process
        assert study.count("complete") == 2
        assert "a worker process was killed by SIGKILL" in caplog.text and "starting another in its place" in caplog.text
    else:  # its replacement killed too: something keeps stopping it, said as before
        with pytest.raises(mh.ConfigError, match=r"exited while starting \(killed by SIGKILL"):
            study.optimize(objective, n_trials=2, n_workers=1, trial_timeout=60, show_progress=False)
        assert len(study.trials) == 0
    killer.join(timeout=60)
    assert len([p for p in starts.iterdir() if int(p.name) != os.getpid()]) == 2  # the first worker and one replacement


SLOW_TO_START_SLEEPING = """
import time
time.sleep(1.5)

def objective(config):
    time.sleep(config["s"])
    return {"a": config["s"], "b": 1.0}
"""


def test_trial_timeout_holds_while_a_replacement_worker_starts(tmp_path, monkeypatch):
    # the study waited for the replacement of a timed-out worker without watching the other worker's trial: one that
    # slept 1.6 s past trial_timeout=1 was recorded complete, its time the replacement's start-up included
    (tmp_path / "slow_sleeper.py").write_text(SLOW_TO_START_SLEEPING)
    monkeypatch.syspath_prepend(str(tmp_path))
    from slow_sleeper import objective

    study = mh.Study(mh.Space({"s": mh.Float(0.0, 100.0)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    for s in (100.0, 0.3, 1.6, 0.1):
        study.enqueue({"s": s})
    study.optimize(objective, n_trials=4, n_workers=2, trial_timeout=1.0, show_progress=False)
    by_sleep = {t.config["s"]: t for t in study.trials}
    assert by_sleep[1.6].status is mh.TrialStatus.FAILED and by_sleep[1.6].error.startswith("timeout")
    assert by_sleep[0.3].status is mh.TrialStatus.COMPLETE and by_sleep[0.1].status is mh.TrialStatus.COMPLETE


def test_the_timeout_counts_from_the_call_while_the_workers_start(tmp_path, monkeypatch, caplog):
    # optimize(timeout=2, n_workers=2) took 6.35 s: its clock started once the workers had imported the objective
    (tmp_path / "slow_sleeper.py").write_text(SLOW_TO_START_SLEEPING)
    monkeypatch.syspath_prepend(str(tmp_path))
    from slow_sleeper import objective

    study = mh.Study(mh.Space({"s": mh.Float(0.0, 0.05)}), [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    called = time.time()
    study.optimize(objective, timeout=2.5, n_workers=2, show_progress=False)  # 1.5 s of it to start the workers
    assert study.trials and all(t.started_at - called <= 2.5 + 0.5 for t in study.trials)  # none started past the timeout
    import logging

    with caplog.at_level(logging.WARNING, logger="moo_hpo"):  # a timeout the start-up takes whole: said
        study.optimize(objective, timeout=0.5, n_workers=2, show_progress=False)
    assert "optimize's timeout of 0.5 s passed before a trial started (" in caplog.text and "no trial ran" in caplog.text


def test_a_fresh_worker_killed_while_it_starts_mid_study_is_replaced(tmp_path, monkeypatch):
    # max_trials_per_worker=1 starts a worker for every trial; one killed while it loads the objective is replaced
    (tmp_path / "slow_to_start.py").write_text(SLOW_TO_START)
    starts = tmp_path / "starts"
    starts.mkdir()
    monkeypatch.setenv("MOO_HPO_TEST_STARTS", str(starts))
    monkeypatch.syspath_prepend(str(tmp_path))
    from slow_to_start import objective

    first: list[str] = []

    def kill_the_second_start() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = sorted((p for p in starts.iterdir() if int(p.name) != os.getpid()), key=lambda p: p.stat().st_mtime_ns)
            if len(workers) >= 2:
                first.append(workers[1].name)
                os.kill(int(workers[1].name), signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_second_start, daemon=True)
    killer.start()
    study = two_objective_study()
    study.optimize(objective, n_trials=3, n_workers=1, max_trials_per_worker=1, show_progress=False)
    killer.join(timeout=60)
    assert first and study.count("complete") == 3 and study.count("failed") == 0


class OutOfMemory(Exception):
    """An exception whose constructor builds its message: pickle's cls(*args) garbled it on its way back."""

    def __init__(self, size_mb):
        super().__init__(f"out of memory at {size_mb} MB")
        self.size_mb = size_mb


def runs_out_of_memory(config):
    raise OutOfMemory(512)


def test_an_exception_comes_back_from_a_worker_as_it_was_raised():
    study = two_objective_study()
    with pytest.raises(OutOfMemory) as raised:
        study.optimize(runs_out_of_memory, n_trials=2, n_workers=2, catch=(ValueError,), show_progress=False)
    assert str(raised.value) == "out of memory at 512 MB" and raised.value.size_mb == 512


SCRIPT_EXCEPTION = """
import moo_hpo as mh

class Diverged(Exception):  # defined in the script: sent to the workers by value
    pass

def train(config):
    if config["x"] > 0.3:
        raise Diverged("loss is nan")
    return {"a": config["x"], "b": 1 - config["x"]}

if __name__ == "__main__":
    for catch in ((ValueError,), (Diverged,)):
        study = mh.Study({"x": mh.Float(0, 1)}, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
        try:
            study.optimize(train, n_trials=6, n_workers=2, catch=catch, show_progress=False)
            print("finished", study.count("failed"))
        except Diverged as exc:
            print("raised Diverged:", exc)
"""


def test_catch_names_an_exception_class_of_the_users_script_with_workers_as_in_one_process(tmp_path):
    # before: with n_workers=2 a class defined in the script did not come back, and the trial counted as caught
    script = tmp_path / "train.py"
    script.write_text(SCRIPT_EXCEPTION)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    lines = out.stdout.splitlines()
    assert lines[0] == "raised Diverged: loss is nan", out.stdout + out.stderr
    assert lines[1].startswith("finished ") and int(lines[1].split()[1]) > 0


def notes_in_trial_extra(config, trial):
    trial.extra["note"] = f"x={config['x']:.2f}"  # Optuna's trial.set_user_attr habit
    return {"a": config["x"], "b": 1.0 - config["x"]}


@pytest.mark.parametrize("n_workers", [1, 2])
def test_what_the_objective_writes_into_trial_extra_is_kept_with_workers_as_in_one_process(tmp_path, n_workers):
    study = two_objective_study(storage=tmp_path / "s.db")
    study.optimize(notes_in_trial_extra, n_trials=3, n_workers=n_workers, show_progress=False)
    study.close()
    with mh.Study.load(tmp_path / "s.db", read_only=True) as again:
        assert all(t.extra["note"] == f"x={t.config['x']:.2f}" for t in again.trials)


def raises_builtin_errors(config):
    k = int(config["x"] * 3)
    if k == 0:
        open("/nonexistent/moo_hpo/data.csv")
    if k == 1:
        b"\xff".decode()
    raise NotADirectoryError(20, "Not a directory", "/a/file", None, "/b/file")


def test_built_in_exceptions_come_back_from_a_worker_with_their_fields():
    seen = {}
    for seed in range(12):
        study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("a")], optimizer="random", seed=seed)
        try:
            study.optimize(raises_builtin_errors, n_trials=1, n_workers=2, catch=(KeyError,), show_progress=False)
        except (OSError, UnicodeDecodeError) as exc:
            seen[type(exc).__name__] = exc
    assert seen["FileNotFoundError"].filename == "/nonexistent/moo_hpo/data.csv"
    assert str(seen["UnicodeDecodeError"]) == "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    assert seen["NotADirectoryError"].filename2 == "/b/file"


def writes_a_set_then_fails(config, trial):
    trial.extra["tags"] = {"a"}  # no JSON: kept as its text
    raise RuntimeError("diverged")


def test_extra_written_before_a_failure_that_json_cannot_hold_is_kept_as_text():
    study = two_objective_study()
    study.optimize(writes_a_set_then_fails, n_trials=2, n_workers=2, catch=(RuntimeError,), show_progress=False)
    assert study.count("failed") == 2 and all(t.extra["tags"] == "{'a'}" for t in study.trials)


def raises_keyboard_interrupt(config):
    if config["x"] < 0.5:
        raise KeyboardInterrupt  # the objective's own, no signal: a trial's failure, not the worker's end
    return {"a": config["x"], "b": 1 - config["x"]}


def test_a_keyboard_interrupt_the_objective_raises_in_a_worker_fails_its_trial_only():
    from moo_hpo.execution.executors import call_objective

    study = two_objective_study()
    for x in (0.1, 0.9, 0.2, 0.8):
        study.enqueue({"x": x, "y": 0.5})
    study.optimize(raises_keyboard_interrupt, n_trials=4, n_workers=2, show_progress=False)
    failed = [t for t in study.trials if t.status is mh.TrialStatus.FAILED]
    assert [t.config["x"] for t in failed] == [0.1, 0.2] and study.count("complete") == 2
    assert all(t.error.startswith("the objective raised KeyboardInterrupt, which ends the trial, not the study") for t in failed)
    trial = mh.Trial(number=0, config={"x": 0.1, "y": 0.5})  # as a Dask task calls it: in a worker, no signal
    assert call_objective(raises_keyboard_interrupt, trial, False, in_worker=True).error.startswith("the objective raised")
    with pytest.raises(KeyboardInterrupt):  # in the study's own process it is Ctrl-C, and stops the study
        call_objective(raises_keyboard_interrupt, trial, False, in_worker=False)
