"""The contract every optimizer passes. Subclass :class:`OptimizerContract` and set its attributes.

Checks: ask/tell round trip; proposals inside the space and valid; same seed -> same configs
(also in another process); different seeds differ; failed trials tolerated; constraints handed
through; resume from a store continues exactly like an uninterrupted run (deterministic optimizers).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any, ClassVar

import moo_hpo as mh
from moo_hpo.optimizers import make_optimizer
from tests.conftest import mixed_space, two_objectives


class OptimizerContract:
    """Shared tests; subclasses set ``optimizer_name`` and optionally ``params``."""

    optimizer_name: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    deterministic: ClassVar[bool] = True
    n_trials: ClassVar[int] = 12
    constraints: ClassVar[list] = [mh.AtMost("size_kb", 40.0)]

    def make_study(self, seed: int = 0, storage: Any = None) -> mh.Study:
        return mh.Study(
            mixed_space(),
            [mh.Minimize("f1"), mh.Minimize("f2")],
            self.constraints,
            optimizer=make_optimizer(self.optimizer_name, dict(self.params)),
            storage=storage,
            seed=seed,
        )

    def run(self, seed: int = 0, n: int | None = None) -> list[dict]:
        study = self.make_study(seed)
        study.optimize(two_objectives, n_trials=n or self.n_trials, show_progress=False)
        return [t.config for t in study.trials]

    def test_ask_tell_round_trip(self):
        study = self.make_study()
        batch = study.ask(3)
        assert [t.number for t in batch] == [0, 1, 2]
        assert all(t.status is mh.TrialStatus.RUNNING for t in batch)
        for t in batch:
            study.tell(t, two_objectives(t.config))
        single = study.ask()
        assert isinstance(single, mh.Trial) and single.number == 3
        study.tell(single, two_objectives(single.config))
        assert study.count("complete") == 4
        assert all(t.optimizer == study.optimizer.name for t in study.trials)

    def test_configs_inside_space_and_valid(self):
        study = self.make_study(seed=5)
        study.optimize(two_objectives, n_trials=self.n_trials, show_progress=False)
        for t in study.trials:
            assert study.space.problems(t.config) == [], t.config

    def test_same_seed_same_configs(self):
        assert self.run(seed=3) == self.run(seed=3)

    def test_same_seed_same_configs_in_another_process(self):
        script = textwrap.dedent(
            f"""
            import json, moo_hpo as mh
            from tests.optimizers.contract import OptimizerContract
            class C(OptimizerContract):
                optimizer_name = {self.optimizer_name!r}
                params = {self.params!r}
            print(json.dumps(C().run(seed=3, n={self.n_trials})))
            """
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        assert json.loads(out.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(self.run(seed=3)))

    def test_different_seeds_differ(self):
        assert self.run(seed=1) != self.run(seed=2)

    def test_failed_trials_tolerated(self):
        def flaky(config: dict) -> dict:
            if config["x"] > 0.5:
                raise RuntimeError("diverged")
            if config["x"] < -1.5:
                return {"f1": float("nan"), "f2": 1.0, "size_kb": 1.0}
            return two_objectives(config)

        study = self.make_study(seed=7)
        study.optimize(flaky, n_trials=2 * self.n_trials, show_progress=False)
        assert len(study.trials) == 2 * self.n_trials
        assert study.count("failed") > 0 and study.count("complete") > 0
        assert all(t.is_finished for t in study.trials)

    def test_constraints_handed_through(self):
        study = self.make_study()
        study.ask()
        assert study.optimizer.problem.constraints == tuple(self.constraints)
        assert study.optimizer.problem.objectives == study.objectives

    def test_resume_continues_like_an_uninterrupted_run(self, tmp_path):
        if not self.deterministic:
            return
        half = self.n_trials // 2
        path = tmp_path / "study.db"
        first = self.make_study(seed=11, storage=path)
        first.optimize(two_objectives, n_trials=half, show_progress=False)
        first.close()
        resumed = mh.Study.load(path, space=mixed_space(), optimizer=make_optimizer(self.optimizer_name, dict(self.params)))
        resumed.optimize(two_objectives, n_trials=self.n_trials - half, show_progress=False)
        straight = self.make_study(seed=11)
        straight.optimize(two_objectives, n_trials=self.n_trials, show_progress=False)
        assert [t.config for t in resumed.trials] == [t.config for t in straight.trials]
        assert [t.metrics for t in resumed.trials] == [t.metrics for t in straight.trials]
