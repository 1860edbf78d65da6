"""The optimize loop: failures shown as they happen, a study that only fails stops, metric names checked first."""

from __future__ import annotations

import logging
import re
import time
import warnings

import pytest

import moo_hpo as mh


def study() -> mh.Study:
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    return mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("latency_ms")], optimizer="random", seed=0)


def test_each_failure_is_logged_with_its_reason(caplog):
    caplog.set_level(logging.WARNING, logger="moo_hpo")
    s = study()
    s.optimize(lambda c: {"accuracy": c["x"], "latency_ms": 1.0} if c["x"] < 0.5 else 1 / 0, n_trials=12, show_progress=False)
    failed = [t.number for t in s.trials if t.status is mh.TrialStatus.FAILED]
    assert failed and s.count("complete")
    logged = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert [f"trial {n} failed: ZeroDivisionError: division by zero" for n in failed] == logged


def test_a_study_whose_first_trials_all_fail_alike_stops_with_the_reason():
    s = study()
    with pytest.raises(mh.MooHpoError, match=r"first 5 trials all failed the same way.*'acuracy' looks like 'accuracy': a typo") as stopped:
        s.optimize(lambda c: {"acuracy": c["x"], "latency_ms": 1.0}, n_trials=50, show_progress=False)
    assert len(s.trials) == 5 and s.count("failed") == 5
    said = str(stopped.value)  # the name may be wrong in the study's definition: what to do then
    assert ("or in the study's objectives and constraints (a study file keeps the definition it was created with: give "
            "the corrected study a new file)") in said and "(the failed trials stay in the study)" in said


def test_trials_skipped_before_training_do_not_hide_alike_failures_and_a_rerun_stops_again():
    # a typo'd objective beside a size bound: one skipped trial among the first five turned the stop off, and all 20
    # candidates were trained; a study stopped so and run again ran its whole budget
    space = mh.Space({"w": mh.Int(1, 10)})
    size = mh.objectives.probe(["size_kb"], needs_training=False)(lambda model: {"size_kb": float(model["w"])})
    s = mh.Study(space, [mh.Maximize("acc"), mh.Minimize("size_kb")], [mh.AtMost("size_kb", 5.0)], optimizer="random", seed=0)
    with pytest.raises(mh.MooHpoError, match=r"the first 5 trials all failed the same way.*missing metric\(s\) \['acc'\]"):
        s.optimize(lambda model, config: {"accuracy": 0.8}, build=dict, probes=[size], n_trials=20, show_progress=False)
    assert s.count("failed") == 5 and s.count("infeasible_skipped") >= 1 and len(s.trials) < 20
    before = len(s.trials)
    with pytest.raises(mh.MooHpoError, match=r"the first 5 trials of this run all failed the same way"):
        s.optimize(lambda model, config: {"accuracy": 0.8}, build=dict, probes=[size], n_trials=20, show_progress=False)
    assert sum(t.status is mh.TrialStatus.FAILED for t in s.trials[before:]) == 5


def test_different_failures_do_not_stop_a_study():
    s = study()
    calls = iter(range(100))

    def fn(c):
        raise RuntimeError(f"failure number {next(calls)}")

    s.optimize(fn, n_trials=8, show_progress=False)
    assert s.count("failed") == 8


def test_a_metric_name_a_probe_nearly_provides_is_refused_before_trial_0():
    s = study()
    probe = mh.objectives.probe(["accuracy_val"])(lambda model: {"accuracy_val": 0.5})
    with pytest.raises(mh.ConfigError, match="'accuracy', which no probe provides; did you mean 'accuracy_val'"):
        s.optimize(lambda c: object(), probes=[probe], n_trials=3, show_progress=False)
    assert s.trials == []
    short = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Maximize("acc")], optimizer="random", seed=0)
    accuracy = mh.objectives.probe(["accuracy"])(lambda model: {"accuracy": 0.5})
    with pytest.raises(mh.ConfigError, match="'acc', which no probe provides; did you mean 'accuracy'"):
        short.optimize(lambda c: object(), probes=[accuracy], n_trials=3, show_progress=False)


def test_a_metric_fit_returns_may_be_named_like_a_probes_metric():
    # fit's own size in MB beside the probe's size_kb was refused before trial 0 as a typo of size_kb
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    probe = mh.objectives.probe(["size_kb"])(lambda model: {"size_kb": 1000.0 * model["x"]})

    def make(returned):
        s = mh.Study(space, [mh.Minimize("size_kb")], [mh.AtMost("size_mb", 0.5)], optimizer="random", seed=0)
        with pytest.warns(mh.MooHpoWarning, match="'size_mb', which no probe provides; did you mean 'size_kb'"):
            s.optimize(lambda model, config: returned(config), build=dict, probes=[probe], n_trials=6, show_progress=False)
        return s

    s = make(lambda c: {"size_mb": c["x"]})
    assert s.count("complete") == 6 and [t.metrics["size_mb"] * 1000.0 for t in s.trials] == pytest.approx([t.metrics["size_kb"] for t in s.trials])
    assert [s.problem.is_feasible(t) for t in s.trials] == [t.config["x"] <= 0.5 for t in s.trials]
    with pytest.raises(mh.MooHpoError, match="first 5 trials all failed the same way"):  # a typo after all: said, then stopped
        make(lambda c: None)


def test_progress_without_a_terminal_prints_plain_lines(capsys):
    s = study()
    s.optimize(lambda c: {"accuracy": c["x"], "latency_ms": 1.0 + c["x"]}, n_trials=30, show_progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("study: ")]
    assert [line.split(" trials")[0] for line in lines] == [f"study: {n}/30" for n in range(3, 31, 3)]
    assert f"HV {s.hypervolume():.4g} |" in lines[-1] and "feasible 30" in lines[-1]  # the last line: the final figure
    assert re.search(r"\| optimizer \d+\.\d s \(\d+%\)$", lines[-1])  # the optimizer's time and its share
    s.optimize(lambda c: {"accuracy": c["x"], "latency_ms": 1.0 + c["x"]}, n_trials=10, show_progress=True)
    last = [line for line in capsys.readouterr().err.splitlines() if line.startswith("study: ")][-1]
    assert last.startswith("study: 10/10 trials") and "study of 40: feasible 40" in last  # this call's, the study's


def slow_after_the_first(config, trial):
    import time

    time.sleep(0.1 if trial.number == 0 else 30)
    return {"accuracy": config["x"], "latency_ms": 1.0}


def test_trials_cut_short_by_an_error_elsewhere_say_which_error():
    s = study()

    def stop(study, trial):
        raise RuntimeError("the callback gave up")

    with pytest.raises(RuntimeError, match="the callback gave up"):
        s.optimize(slow_after_the_first, n_trials=2, n_workers=2, callbacks=[stop], show_progress=False)
    (cut,) = [t for t in s.trials if t.status is mh.TrialStatus.INTERRUPTED]
    assert cut.number == 1
    assert cut.error == "interrupted: the study stopped on an error: RuntimeError: the callback gave up"


def test_progress_without_a_count_prints_at_most_a_line_a_second(capsys):
    s = study()
    stop_at = time.monotonic() + 2.5

    def fast(config):
        if time.monotonic() > stop_at:
            s.stop("enough")
        return {"accuracy": config["x"], "latency_ms": 1.0}

    s.optimize(fast, timeout=30, show_progress=True)  # no n_trials: the count is unknown
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("study: ")]
    assert len(s.trials) > 40 and 1 <= len(lines) <= 5, (len(s.trials), lines)


def test_a_study_without_a_budget_says_it_runs_until_stopped(caplog):
    s = study()

    def interrupted_at_the_fourth(config, trial):
        if trial.number == 3:
            raise KeyboardInterrupt
        return {"accuracy": config["x"], "latency_ms": 1.0}

    with caplog.at_level("WARNING", logger="moo_hpo"), pytest.raises(KeyboardInterrupt):
        s.optimize(interrupted_at_the_fourth, show_progress=False)
    assert "optimize was given neither n_trials nor timeout: it runs until Ctrl-C" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="moo_hpo"):
        s.optimize(interrupted_at_the_fourth, n_trials=2, show_progress=False)
    assert "neither n_trials nor timeout" not in caplog.text


def test_retries_belong_to_a_dask_executor_and_are_checked(caplog):
    with caplog.at_level("WARNING", logger="moo_hpo"):
        study().optimize(lambda c: {"accuracy": 1.0, "latency_ms": 1.0}, n_trials=1, n_workers=2, retries=3)
    assert "retries=3 applies to a Dask executor (executor=client or a scheduler address)" in caplog.text
    assert "here it is ignored" in caplog.text
    with pytest.raises(mh.ConfigError, match="retries must be a non-negative integer or None; received -1"):
        study().optimize(lambda c: {"accuracy": 1.0, "latency_ms": 1.0}, n_trials=1, retries=-1)


def _exits(config):
    import sys

    if config["x"] < 2.0:  # every trial: a training script's own sys.exit (argparse on arguments it does not know)
        sys.exit(3)
    return {"y": config["x"]}


def test_an_objective_that_calls_sys_exit_in_a_worker_fails_its_trial():
    # before, the worker died: "the worker process ended without a result (exit code 3)"
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("y")], optimizer="random", seed=0)
    study.optimize(_exits, n_trials=3, n_workers=2, show_progress=False)
    assert [t.status for t in study.trials] == [mh.TrialStatus.FAILED] * 3
    assert all(t.error.startswith("the objective called sys.exit(3), which ends the trial, not the study: SystemExit: 3")
               for t in study.trials)
    # in the study's own process it stops the study, as a signal handler's sys.exit must: the trial is interrupted
    alone = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("y")], optimizer="random", seed=0)
    with pytest.raises(SystemExit):
        alone.optimize(_exits, n_trials=3, show_progress=False)
    assert [t.status for t in alone.trials] == [mh.TrialStatus.INTERRUPTED]


def test_failures_that_differ_only_in_their_numbers_are_one_kind():
    from moo_hpo.execution.failures import failure_kind

    assert failure_kind("the objective returned list ([0.6369, 0.3630]); expected a mapping\nTraceback") == \
        "the objective returned list ([#, #]); expected a mapping"
    assert failure_kind("CUDA out of memory: tried to allocate 2.5e3 MiB") == failure_kind("CUDA out of memory: tried to allocate 20 MiB")
    # digits inside a name are the name's: two metrics' failures were one kind, and the study stopped on them
    assert failure_kind("metric 'latency_p50_ms' is nan") != failure_kind("metric 'latency_p99_ms' is nan")
    assert failure_kind("metric 'f1' is nan") != failure_kind("metric 'f2' is nan")
    assert failure_kind("<Model object at 0x7f3a2b10>: 12kB") == failure_kind("<Model object at 0x7e0000ff>: 9kB")
    shapes = "RuntimeError: mat1 and mat2 shapes cannot be multiplied ({}x128 and 64x10)"  # a width's: one kind
    assert failure_kind(shapes.format(32)) == failure_kind(shapes.format(48))
    assert failure_kind("lost tcp://10.0.0.5:41234") == failure_kind("lost tcp://10.0.0.7:39001")
    assert failure_kind("at 2026-12-07T10:31:55.123Z") == failure_kind("at 2026-12-08T23:01:02.999Z")  # not one per hour
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("latency_p50_ms"), mh.Minimize("latency_p99_ms")],
                     optimizer="random", seed=0)
    for x in (0.1, 0.9, 0.2, 0.8, 0.3, 0.7):
        study.enqueue({"x": x})
    nan = float("nan")
    study.optimize(lambda c: {"latency_p50_ms": nan if c["x"] < 0.5 else 1.0, "latency_p99_ms": 1.0 if c["x"] < 0.5 else nan},
                   n_trials=6, show_progress=False)  # two reasons: no stop after five
    assert len(study.trials) == 6 and study.count("failed") == 6


def pre_training(metric: str, value=lambda model: model["lat"]):
    """A probe of a toy model (a dict) measured before training, as a size or latency probe measures a torch module."""
    return mh.objectives.probe([metric], needs_training=False)(lambda model: {metric: value(model)})


def test_a_bound_every_first_trial_breaks_before_training_is_warned_once_and_the_study_goes_on():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    edge = mh.Study(space, [mh.Maximize("accuracy")], [mh.AtMost("latency_p99_ms", 0.0001)], optimizer="random", seed=0)
    with pytest.warns(UserWarning) as said:
        edge.optimize(lambda model, config: {"accuracy": config["x"]}, build=lambda c: {"lat": 0.03 + c["x"]},
                      probes=[pre_training("latency_p99_ms")], n_trials=8, show_progress=False)
    assert edge.count("infeasible_skipped") == 8  # warned, not stopped: the optimizer may yet find the region
    best = min(edge.trials[:5], key=lambda t: t.metrics["latency_p99_ms"])
    (record,) = [w for w in said if "skipped before training" in str(w.message)]  # once
    assert record.filename == __file__  # the user's call of optimize, not a line of moo_hpo
    warned = str(record.message)
    assert warned.startswith(
        f"the first 5 trials were all skipped before training, each breaking latency_p99_ms <= 0.0001 (the best "
        f"measured: {best.metrics['latency_p99_ms']:.4g}, trial #{best.number}): the bound may be out of reach of this "
        "search space"
    ) and warned.endswith("(the study goes on)")
    calls = iter(range(100))
    first_fits = mh.Study(space, [mh.Maximize("accuracy")], [mh.AtMost("latency_p99_ms", 0.5)], optimizer="random", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a trial within the bound: the bound is within reach, nothing to say
        first_fits.optimize(lambda model, config: {"accuracy": config["x"]}, build=lambda c: {"lat": 0.1 if next(calls) == 0 else 1.0},
                            probes=[pre_training("latency_p99_ms")], n_trials=8, show_progress=False)
    assert first_fits.count("complete") == 1 and first_fits.count("infeasible_skipped") == 7


def test_a_metric_only_a_probe_not_given_measures_is_said_before_trial_0():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    size = pre_training("size_kb", lambda model: 10.0)

    def fit(model, config):
        return {"accuracy": config["x"]}

    energy = mh.Study(space, [mh.Maximize("accuracy")], [mh.AtMost("energy_per_inference_j", 0.01)], optimizer="random", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning) as said:
            energy.optimize(fit, build=lambda c: {}, probes=[size], n_trials=3, show_progress=False)
    assert energy.trials == []  # before, every trial trained and then failed on the missing metric
    assert str(said.value) == (
        "the study needs 'energy_per_inference_j' (hard constraint energy_per_inference_j <= 0.01), which no probe "
        "measures (the probes provide ['size_kb']): fit must return it (a mapping of metric name to value, or "
        "mh.Result(metrics), once it trained the model in place), or every trial trains and then fails on the missing "
        "metric (and a hard bound on ['energy_per_inference_j'] is then judged only after training: no candidate is "
        "skipped before it); to measure it, add the probe: mh.objectives.Energy(example) measures 'energy_per_inference_j'"
    )
    with pytest.warns(UserWarning, match="'energy_per_inference_j'"):  # fit may return it: warned, not refused
        energy.optimize(lambda model, config: {**fit(model, config), "energy_per_inference_j": 0.001}, build=lambda c: {},
                        probes=[size], n_trials=2, show_progress=False)
    assert energy.count("complete") == 2
    # without build the objective returns a model, measured by the probes, or every metric itself
    latency = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("latency_p99_ms")], optimizer="random", seed=0)
    with pytest.warns(UserWarning, match=r"'latency_p99_ms' \(objective, minimized\), which no probe measures .*: the "
                                         r"objective must return it in a mapping of every metric the study needs"):
        latency.optimize(lambda config: {}, probes=[size], n_trials=1, show_progress=False)
    # a metric fit returns beside the probes' (an accuracy, a loss) is no probe's to measure: nothing said
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mh.Study(space, [mh.Maximize("accuracy")], optimizer="random", seed=0).optimize(
            fit, build=lambda c: {}, probes=[size], n_trials=1, show_progress=False)


def test_device_constraints_on_a_metric_no_probe_measures_are_said_once_before_trial_0():
    space = mh.Space({"x": mh.Float(0.0, 1.0)})
    solar = mh.DeviceProfile("solar", max_size_kb=50, max_energy_j=0.01)
    size = pre_training("size_kb", lambda model: 10.0)
    for probes in ([size], [size, mh.objectives.DeviceFit([solar])]):
        study = mh.Study(space, [mh.Maximize("accuracy")], mh.device_constraints([solar]), optimizer="random", seed=0)
        with pytest.warns(UserWarning) as said:
            study.optimize(lambda model, config: {"accuracy": 0.5}, build=lambda c: {}, probes=probes, n_trials=1,
                           show_progress=False)
        about = [str(w.message) for w in said if "energy_per_inference_j" in str(w.message)]
        assert len(about) == 1 and about[0].startswith(
            "the study needs 'energy_per_inference_j' (hard constraint energy_per_inference_j <= 0.01), which no probe "
            "measures")  # the DeviceFit's own warning of the same metric is not said twice


class _OneAloneThenSlow(mh.optimizers.Optimizer):
    """Answers a batch request with one proposal (as a Bayesian optimizer answers with its noise-check repeat), and
    takes a second for the next answer (its model step)."""

    name = "one-alone-then-slow"

    def setup(self, problem):
        super().setup(problem)
        self.calls = 0

    def ask(self, n, pending=()):
        self.calls += 1
        if self.calls % 2 == 0:
            time.sleep(1.0)
        count = 1 if self.calls % 2 else n
        return [mh.optimizers.Proposal({"x": (self.calls * 0.37 + i * 0.11) % 1.0}) for i in range(count)]


def began_at(config):
    return mh.Result({"a": config["x"]}, extra={"began": time.time()})


def test_a_proposal_answered_alone_starts_at_once_not_after_the_next_proposal():
    # optimize asked again for the rest of the free workers before it started anything: the noise-check repeat of a
    # Bayesian optimizer waited through the next model step (30-60 s) with a worker free
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer=_OneAloneThenSlow(), seed=0)
    study.optimize(began_at, n_trials=3, n_workers=2, show_progress=False)
    alone, after = study.trial(0), study.trial(1)  # the first answer (one proposal), then the slow one's
    assert alone.extra["began"] < after.started_at - 0.5  # it ran while the slow proposal was made


class _StoppedMidBatch(mh.optimizers.Optimizer):
    """Proposes two configurations; Ctrl-C arrives while the second is being recorded."""

    name = "stopped-mid-batch"

    def ask(self, n, pending=()):
        class Interrupting(dict):
            def keys(self):
                raise KeyboardInterrupt

            def __iter__(self):
                raise KeyboardInterrupt

        return [mh.optimizers.Proposal({"x": 0.25}), mh.optimizers.Proposal(Interrupting(x=0.5))]


def test_the_interrupt_s_log_counts_the_trials_recorded_for_a_proposal_that_was_stopped(caplog):
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a")], optimizer=_StoppedMidBatch(), seed=0)
    caplog.set_level("WARNING", logger="moo_hpo")
    with pytest.raises(KeyboardInterrupt):
        study.optimize(lambda c: {"a": c["x"]}, n_trials=2, n_workers=2, show_progress=False)
    assert [t.status for t in study.trials] == [mh.TrialStatus.INTERRUPTED]
    assert "1 running trial recorded as interrupted (its configuration runs again first" in caplog.text


@pytest.mark.parametrize(("argument", "given", "match"), [
    ("callbacks", ["not callable"], "callbacks must be a list of callables; received 'not callable' among them"),
    ("probes", [mh.objectives.ModelSize], r"a class: give an instance of it"),
])
def test_a_list_holding_a_wrong_item_is_refused_before_any_trial(argument, given, match):
    study = mh.Study(mh.Space({"x": mh.Float(0.0, 1.0)}), [mh.Minimize("f")], optimizer="random", seed=0)
    ran = []
    with pytest.raises(mh.ConfigError, match=match):
        study.optimize(lambda config: ran.append(1) or {"f": config["x"]}, n_trials=2, show_progress=False, **{argument: given})
    assert ran == [] and study.trials == []


@pytest.mark.parametrize("returned", [lambda c: (c["x"], 1.0 - c["x"]), lambda c: c["x"],
                                      lambda c: {"a": str(c["x"]), "b": 1.0}])
def test_a_result_of_the_wrong_form_stops_the_study_after_five_trials_whatever_its_values(returned):
    # an Optuna habit (a tuple in the objectives' order): before, each failure read differently (its values), so the
    # whole budget failed
    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    with pytest.raises(mh.MooHpoError, match="the first 5 trials all failed the same way"):
        study.optimize(returned, n_trials=40, show_progress=False)
    assert len(study.trials) == 5
    if isinstance(returned({"x": 0.5}), tuple):
        assert "naming each value ({'a': ..., 'b': ...}): a tuple in the objectives' order is not read" in study.trials[0].error


def test_failures_of_an_exception_that_differ_in_a_number_do_not_stop_the_study():
    def diverges(config):
        raise RuntimeError(f"loss diverged at step {int(config['x'] * 1000)}")

    study = mh.Study({"x": mh.Float(0.0, 1.0)}, [mh.Minimize("a"), mh.Minimize("b")], optimizer="random", seed=0)
    study.optimize(diverges, n_trials=8, show_progress=False, catch=(RuntimeError,))
    assert study.count("failed") == 8



def test_a_long_failure_reason_is_logged_cut_at_a_word_saying_where_the_rest_is(caplog):
    # a worker-lost reason was logged cut mid-word at 500 characters ("under trial_timeout the chil")
    study = mh.Study(mh.Space({"x": mh.Float(0, 1)}), [mh.Minimize("f")], optimizer="random", seed=0)
    words = " ".join(f"word{i}" for i in range(300))

    def fail(config):
        raise ValueError(words)

    with caplog.at_level("WARNING", logger="moo_hpo"):
        study.optimize(fail, n_trials=1, show_progress=False)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("trial 0 failed")]
    assert line.endswith("... (the whole reason in trial 0's error)") and len(line) < 900
    cut = line.removeprefix("trial 0 failed: ValueError: ").removesuffix(" ... (the whole reason in trial 0's error)")
    assert words.startswith(cut) and words[len(cut)] == " "  # at a word's end
    assert study.trials[0].error.splitlines()[0] == f"ValueError: {words}"
