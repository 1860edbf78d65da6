"""Ctrl-C during a study's clean-up: further presses wait for it, one more than the held ones stops at once."""

from __future__ import annotations

import signal
import time

import pytest


def test_ctrl_c_presses_during_the_clean_up_wait_for_it_and_one_more_stops_at_once(caplog):
    import signal

    from moo_hpo.execution.interrupts import HELD_INTERRUPTS, further_interrupts_held

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # the handler a script runs with
    try:
        _presses_wait_then_one_more_stops(caplog, HELD_INTERRUPTS, further_interrupts_held)
    finally:
        signal.signal(signal.SIGINT, previous)


def _presses_wait_then_one_more_stops(caplog, HELD_INTERRUPTS, further_interrupts_held):
    import os
    import signal

    with caplog.at_level("WARNING", logger="moo_hpo"), further_interrupts_held():
        for _ in range(HELD_INTERRUPTS):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the handler runs in the main thread between bytecodes
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert "the running trials are being recorded as interrupted" in caplog.text
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back


SIGTERM_SCRIPT = """
import signal, sys, time
import moo_hpo as mh

def slow(config):
    time.sleep(0.3 if config["x"] < 0.5 else 30)
    return {"a": config["x"]}

if sys.argv[2] == "own":  # a handler of the script's own is left alone
    signal.signal(signal.SIGTERM, lambda *a: (open(sys.argv[1] + ".own", "w").write("called"), sys.exit(3)))
study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer="random", seed=2, storage=sys.argv[1])
try:
    study.optimize(slow, n_trials=40, n_workers=2, show_progress=False)
except KeyboardInterrupt:
    print("stopped", study.count("interrupted"), flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("handler", ["default", "own", "the whole job"])
def test_sigterm_stops_a_script_s_study_as_ctrl_c_does_unless_it_has_a_handler_of_its_own(tmp_path, handler):
    import subprocess
    import sys

    import moo_hpo as mh

    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(path), handler], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until a slow trial runs
        time.sleep(0.1)
        try:
            with mh.Study.load(path, read_only=True) as view:
                if view.count("complete") >= 1 and view.count("running") >= 1:
                    break
        except (mh.StorageError, mh.ConfigError):
            continue
    children = []
    if handler == "the whole job":  # systemd, SLURM's scancel, `kill 0`: the workers get it too
        import psutil

        children = psutil.Process(proc.pid).children(recursive=True)
    if handler == "the whole job":  # the workers first: the study sees its worker die before its own SIGTERM comes
        for child in children:
            child.terminate()
        time.sleep(0.2)
    proc.terminate()
    out, _ = proc.communicate(timeout=60)
    with mh.Study.load(path, read_only=True) as view:  # read-only: it records nothing itself
        statuses = [t.status.value for t in view.trials]
    if handler != "own":
        assert proc.returncode == 130 and out.startswith("stopped")
        assert "running" not in statuses and "interrupted" in statuses  # recorded by the stopping study
        assert "failed" not in statuses  # a worker that got the job's SIGTERM: its trial is interrupted, not failed
        with mh.Study.load(path, read_only=True) as view:
            assert any("SIGTERM" in (t.error or "") for t in view.trials)  # not "Ctrl-C"
    else:
        assert proc.returncode == 3 and (tmp_path / "s.db.own").read_text() == "called"


UNCAUGHT_SIGTERM_SCRIPT = """
import atexit, sys, time
import moo_hpo as mh

atexit.register(lambda: open(sys.argv[1] + ".atexit", "w").write("ran"))
log = open(sys.argv[1] + ".log", "w")  # never closed nor flushed by the script: Python's shutdown flushes it
study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer="random", seed=2, storage=sys.argv[1])
study.optimize(lambda c: (time.sleep(0.2), {"a": c["x"]})[1], n_trials=400, show_progress=False,
               callbacks=[lambda study, trial: log.write(f"trial {trial.number};")])
"""


def test_a_script_that_leaves_the_sigterm_uncaught_ends_with_its_status_after_a_whole_shutdown(tmp_path):
    import subprocess
    import sys

    import moo_hpo as mh

    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", UNCAUGHT_SIGTERM_SCRIPT, str(path)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the study has finished a trial
        time.sleep(0.1)
        try:
            with mh.Study.load(path, read_only=True) as view:
                if view.count("complete") >= 1:
                    break
        except (mh.StorageError, mh.ConfigError):
            continue
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err  # the status of a process SIGTERM stopped, not 1
    assert "stopped by SIGTERM;" in err and "Traceback" not in err
    assert (tmp_path / "s.db.atexit").read_text() == "ran"  # the script's exit functions ran
    with mh.Study.load(path, read_only=True) as view:
        assert "running" not in {t.status.value for t in view.trials}
        logged = (tmp_path / "s.db.log").read_text().split(";")[:-1]
        assert logged and len(logged) == sum(t.is_finished and t.status.value != "interrupted" for t in view.trials)


def forks_a_child_that_keeps_running_through_ctrl_c(config):
    import multiprocessing

    def child():
        while True:
            try:
                time.sleep(0.05)
            except KeyboardInterrupt:  # a loop that leaves Ctrl-C to its parent
                pass

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    time.sleep(0.3)
    process.terminate()
    process.join(5)
    survived = process.is_alive()
    if survived:
        process.kill()
        process.join()
    return {"a": float(survived)}


def test_a_child_the_objective_forks_ends_on_sigterm_as_it_would_without_the_studys_handler():
    import signal

    import moo_hpo as mh

    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a script
    try:
        study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer="random", seed=0)
        study.optimize(forks_a_child_that_keeps_running_through_ctrl_c, n_trials=1, show_progress=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert study.trials[0].metrics["a"] == 0.0  # before: the study's handler ran in the child, which survived


STOPPED_WHILE_JUDGING_A_SIGNALLED_WORKER = """
import os, signal, threading, time
import moo_hpo as mh

def objective(config):
    if config["kind"] == "dies":
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # the job's stop reaches this worker first
        time.sleep(5)
    time.sleep(0.1 if config["kind"] == "quick" else 3)
    return {"a": config["x"]}

class Scripted(mh.optimizers.Optimizer):
    name = "scripted"
    ask_in_thread = True  # proposes in its own thread while the trials' ends are collected

    def setup(self, problem):
        super().setup(problem)
        self.calls = 0

    def ask(self, n, pending=()):
        self.calls += 1
        if self.calls == 1:
            return [mh.optimizers.Proposal({"x": 0.1, "kind": "dies"}), mh.optimizers.Proposal({"x": 0.2, "kind": "quick"})]
        time.sleep(1.5)  # a model step, during which the 'dies' worker ends by SIGTERM
        threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()  # the study's own, moments later
        return [mh.optimizers.Proposal({"x": 0.3, "kind": "slow"})]

if __name__ == "__main__":
    study = mh.Study({"x": mh.Float(0, 1), "kind": mh.Categorical(["dies", "quick", "slow"])}, [mh.Minimize("a")],
                     optimizer=Scripted(), seed=0)
    try:
        study.optimize(objective, n_trials=4, n_workers=2, show_progress=False)
    except KeyboardInterrupt:
        pass
    print(" ".join(f"{t.config['kind']}={t.status.value}" for t in study.trials))
"""


def test_a_stop_while_a_signalled_worker_s_trial_is_judged_leaves_no_trial_running(tmp_path):
    # the trials just proposed were handed to the workers only after the wait for the job's stop: the SIGTERM it
    # waited for left them 'running', never to run again
    import subprocess
    import sys

    script = tmp_path / "stopped.py"
    script.write_text(STOPPED_WHILE_JUDGING_A_SIGNALLED_WORKER)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.stdout.split() == ["dies=interrupted", "quick=complete", "slow=interrupted"], done.stdout + done.stderr


CAUGHT_STOP_SCRIPT = """
import pathlib, sys, time
import moo_hpo as mh

def trains_until_interrupted(config):
    pathlib.Path(sys.argv[1] + ".training").touch()
    try:
        time.sleep(30)  # training
    except KeyboardInterrupt:  # as scikit-learn's MLP and Lightning's Trainer do: stop training, return the model
        pass
    return {"a": config["x"]}

study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer="random", seed=0, storage=sys.argv[1])
try:
    study.optimize(trains_until_interrupted, n_trials=3, show_progress=False)
    print("optimize returned", flush=True)
except KeyboardInterrupt:
    print("stopped", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_the_objective_caught_still_stops_the_study_and_its_trial_is_interrupted(tmp_path, signum):
    """Before: the cut-short trial was recorded complete, the study went on, and after a SIGTERM it ignored SIGTERM."""
    import os
    import subprocess
    import sys

    import moo_hpo as mh

    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", CAUGHT_STOP_SCRIPT, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(f"{path}.training") and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=60)
    assert "stopped" in out and "optimize returned" not in out, (out, err)
    assert f"the objective caught the {'Ctrl-C' if signum == signal.SIGINT else 'SIGTERM'} and returned" in err
    with mh.Study.load(path, read_only=True) as view:
        assert [t.status.value for t in view.trials] == ["interrupted"], [(t.status, t.error) for t in view.trials]


def test_presses_right_after_the_first_are_held_before_the_clean_up_holds_them(caplog):
    """A second Ctrl-C could land between the first press's KeyboardInterrupt and the clean-up's own holding, and
    break it off (the running trials stayed 'running'): while the study runs, the presses after the first are held
    from the start, up to HELD_INTERRUPTS; one more stops at once."""
    import os

    from moo_hpo.execution.interrupts import HELD_INTERRUPTS, stops_recorded

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # the handler a script runs with
    try:
        with caplog.at_level("WARNING", logger="moo_hpo"), stops_recorded():
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
            try:
                for _ in range(HELD_INTERRUPTS):  # held: no KeyboardInterrupt
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.01)
            except KeyboardInterrupt:
                pytest.fail("a press right after the first raised KeyboardInterrupt instead of being held")
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
        assert "Ctrl-C again: the study is stopping" in caplog.text
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler is back
    finally:
        signal.signal(signal.SIGINT, previous)
