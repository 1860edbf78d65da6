"""The study: a space, objectives and constraints, an optimizer, a store, and the trials.

``Study`` is the definition, its binding to a store, ask / tell and the results. Everything is built
on :meth:`Study.ask` and :meth:`Study.tell`; :meth:`Study.optimize` is a loop over them
(:mod:`moo_hpo.execution.loop`), and the results are computed by :mod:`moo_hpo.analysis`. Every
finished trial is committed to the store before the next one is proposed, so a study killed at any
moment is resumed by opening the same store again (:meth:`Study.load`, or ``Study(..., storage=path)``):
trials that were running are marked ``interrupted`` and the optimizer is rebuilt from the stored trials.

The module is longer than moo_hpo's usual 500 lines because ``Study`` is the one class users call most and
each of its public methods carries its full documentation (Args, Returns, Raises); the work behind them lives
elsewhere: the results in :mod:`moo_hpo.analysis`, the loop in :mod:`moo_hpo.execution.loop`, early stopping
in :mod:`moo_hpo.pruners.state`, repeated runs in :mod:`moo_hpo.robust`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from moo_hpo import __version__, analysis, robust
from moo_hpo.retries import RETRY_OF, RetryQueue, retry_extra
from moo_hpo.analysis import REFERENCE_FREEZE_AFTER, ReferencePoint
from moo_hpo.choice import Recommendation
from moo_hpo.constraints import Constraint, constraint_from_dict
from moo_hpo.exceptions import ConfigError, MooHpoError, StorageError
from moo_hpo.params import same_definition
from moo_hpo.values import is_flag, plain
from moo_hpo.execution.executors import format_exception
from moo_hpo.execution.extra_text import as_text
from moo_hpo.execution.reporter import StudyReporter
from moo_hpo.objectives.specs import Objective, objective_from_dict
from moo_hpo.instances import claim_instance
from moo_hpo.optimizers.base import ENQUEUED, Optimizer, Proposal
from moo_hpo.optimizers.registry import auto_options, check_own_name, choose_auto, is_registered, known_params, make_optimizer
from moo_hpo.problem import Problem, definition_difference
from moo_hpo.pruners.base import Pruner
from moo_hpo.pruners.state import PrunerState
from moo_hpo.seeding import TRIAL_SEED_TAG, derive_seed
from moo_hpo.space import Space
from moo_hpo.storage import Store, open_store, storage_path
from moo_hpo.trial import Result, Trial, TrialStatus, as_metrics, asked_extra_keys, check_metrics, is_number, json_default, new_report

if TYPE_CHECKING:
    import pandas as pd

    from moo_hpo.model_front import ModelEstimate

__all__ = ["REFERENCE_FREEZE_AFTER", "Study"]

logger = logging.getLogger("moo_hpo")

Callback = Callable[["Study", Trial], None]

#: the store's key of the configurations queued by :meth:`Study.enqueue`
QUEUED = "queued"


def _as_chosen(space: Space, config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration given by a user as the space's values: NumPy scalars as Python ones, NaN and ``<NA>`` as no
    value (an inactive parameter in a row of a data frame), and None too for a number parameter (``to_dict()`` of a
    pandas row gives None for ``<NA>``; None is a value only a categorical parameter can take), an integral float of
    an integer parameter as an integer, an integer of a float parameter as a float."""
    from moo_hpo.params import Float, Int

    out: dict[str, Any] = {}
    for name, value in config.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()  # NumPy scalars
        if value is not None and type(value).__name__ == "NAType" or isinstance(value, float) and value != value:
            continue
        if value is None and isinstance(space.params.get(name), (Int, Float)):
            continue
        if isinstance(space.params.get(name), Int) and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(space.params.get(name), Float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # {"C": 1} is the configuration C=1.0 that the optimizers propose
        out[name] = value
    return out


#: the columns of :meth:`Study.to_dataframe` besides ``params_*`` and ``metrics_*`` (a parameter may share a name)
FRAME_COLUMNS = frozenset({"number", "status", "feasible", "violation", "error", "started_at", "finished_at", "duration_s",
                           "optimizer", "last_step", "pruned", "retry_of"})


def _from_row(space: Space, config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` itself, or the configuration in a row of :meth:`Study.to_dataframe` (its ``params_<name>``
    entries), where a parameter's own name overrides its ``params_`` entry unless the row has a column of that name
    (a parameter named ``optimizer`` or ``status``: the row's column is not the parameter)."""
    prefixed = {name: f"params_{name}" for name in space.params if f"params_{name}" in config}
    if not prefixed:
        return dict(config)
    out = {name: config[key] for name, key in prefixed.items()}
    out.update({k: v for k, v in config.items() if k in space.params and k not in FRAME_COLUMNS})  # set by hand
    return out


def _check_proposal(proposal: Proposal, optimizer: str) -> None:
    """Refuse a proposal whose config or extra is not a mapping, naming the optimizer.

    Raises:
        ConfigError: saying what was received.
    """
    for what, given in (("config", proposal.config), ("extra", proposal.extra)):
        if not isinstance(given, Mapping):
            raise ConfigError(f"optimizer {optimizer!r}: a Proposal's {what} must be a mapping (parameter or key name -> "
                              f"value); received {type(given).__name__} {given!r:.100}")


def _finite_json(value: Any) -> bool:
    """Whether a configuration's value is one a study file keeps as it is (JSON, no NaN or infinity)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _check_chosen_optimizer(optimizer: str | Optimizer, problem: Problem) -> Optimizer | None:
    """Check the optimizer the user chose before the study's file is opened (a refused study writes nothing):
    an instance's options, a name's optimizer, and that either handles the problem (``"auto"`` picks one that does).

    Returns:
        The optimizer made from its name, or None for ``"auto"`` or an instance (claimed later, once the study opens).

    Raises:
        ConfigError: for an unknown name or a bad option.
        UnsupportedError: for an optimizer that cannot handle the problem.
    """
    if isinstance(optimizer, Optimizer):
        check_own_name(optimizer)
        optimizer.check_options()  # a bad option now, not at the first trial (a stored one is not judged again)
        optimizer.capabilities.check(optimizer.name, problem)
        return None
    if optimizer.lower() == "auto":
        return None
    made = make_optimizer(optimizer)
    made.capabilities.check(made.name, problem)
    return made


class Study:
    """A multi-objective, constrained hyperparameter study.

    Args:
        space: the search space (:class:`~moo_hpo.space.Space`, or a mapping that builds one).
        objectives: :func:`~moo_hpo.Minimize` / :func:`~moo_hpo.Maximize` specs, at least one.
        constraints: :func:`~moo_hpo.AtMost` / :func:`~moo_hpo.AtLeast` specs.
        optimizer: ``"auto"``, a registered name (``"random"``, ``"sobol"`` ...) or an optimizer
            instance. ``"auto"`` chooses when the budget is known (first :meth:`ask` or
            :meth:`optimize`) and logs its choice.
        storage: None (in memory), a path to an SQLite file, or a store. An existing file is
            resumed when its space, objectives and constraints equal the given ones.
        seed: the study's seed; None draws one and records it, so the study stays reproducible
            from its store.
        name: a label for reports (reopening a stored study under another name renames it in the store).
        pruner: stops trials early from their intermediate reports (``trial.report(step, metrics)`` in
            the objective): :class:`~moo_hpo.pruners.MOASHA`, :class:`~moo_hpo.pruners.Hyperband` or
            :class:`~moo_hpo.pruners.DominatedPruner`; None: the stored study's pruner when it had one,
            else no trial is stopped; False: no pruner, even for a study that had one (the store then keeps
            none either). The pruner is recorded in the store.
        retry_interrupted: run the configuration of each trial that was running when the study stopped again, once,
            before the next proposals (:mod:`moo_hpo.retries`); False: never (and the retries a stored study still
            holds are dropped).

    Attributes:
        optimizer_seconds: seconds this study object spent in the optimizer's ``ask`` and ``tell`` (each
            trial also records its proposal's share in ``extra["optimizer"]["seconds"]``).
        pruner: the study's pruner, or None.
        read_only: True for a view that cannot propose or tell.
        interrupted: the numbers of the trials this opening of the store found running (left by a stopped writer)
            and recorded ``interrupted``.

    Raises:
        ConfigError: for a malformed definition, or a store holding a different study.
        UnsupportedError: when the optimizer cannot handle the study.
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        objectives: Sequence[Objective] | Objective,
        constraints: Sequence[Constraint] = (),
        optimizer: str | Optimizer = "auto",
        storage: str | os.PathLike[str] | Store | None = None,
        seed: int | None = None,
        name: str | None = None,
        *,
        read_only: bool = False,
        pruner: Pruner | bool | None = None,
        retry_interrupted: bool = True,
    ) -> None:
        self.space = space if isinstance(space, Space) else Space(space)
        if isinstance(objectives, Objective):
            objectives = [objectives]
        if isinstance(constraints, Constraint):
            constraints = [constraints]
        elif constraints is None:
            constraints = ()
        for argument, given in (("objectives", objectives), ("constraints", constraints)):
            if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
                raise ConfigError(f"{argument} must be a list of specs (or one spec); received {given!r}")
        objectives, constraints = list(objectives), list(constraints)  # a generator is read once, here
        for o in objectives:
            if not isinstance(o, Objective):
                raise ConfigError(f"objectives must be mh.Minimize(...) or mh.Maximize(...); received {o!r}")
        for c in constraints:
            if not isinstance(c, Constraint):
                raise ConfigError(f"constraints must be mh.AtMost(...) or mh.AtLeast(...); received {c!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63):
            raise ConfigError(f"seed must be an integer in [0, 2**63) or None; received {seed!r}")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ConfigError(f"name must be a non-empty string or None; received {name!r}")
        if not is_flag(retry_interrupted):  # "no" would read as True
            raise ConfigError(f"retry_interrupted must be True or False; received {retry_interrupted!r}")
        self.objectives = tuple(objectives)
        self.constraints = tuple(constraints)
        definition = Problem(self.space, self.objectives, self.constraints)
        definition.warn_contradictions()  # validates the definition early
        if not isinstance(optimizer, (str, Optimizer)):
            raise ConfigError(f"optimizer must be a name or an Optimizer instance; received {optimizer!r}")
        named = _check_chosen_optimizer(optimizer, definition)
        self._created: list[str] = []  # what this call wrote to create a new study (forgotten if it is refused)
        self._store = open_store(storage, read_only=read_only)
        try:
            self.read_only = self._store.read_only
            self._stop_reason: str | None = None
            self._optimizer: Optimizer | None = None  # set up on first use
            self._deferred_tells: list[Trial] | None = None  # trials told while the optimizer proposes (see _propose)
            self._optimizer_recorded = False  # stored with the first proposal or result
            self.optimizer_seconds = 0.0  # time in the optimizer's ask and tell, this session
            self._chosen: tuple[Optimizer, str] | None = None
            self._bind_store(seed, name)
            self._closed = False
            self._unknown_stored_optimizer: str | None = None
            self._unmeasured_logged: set[str] = set()
            self._notes_logged: set[str] = set()  # notes logged once per study (an extra kept as text ...)
            if isinstance(optimizer, Optimizer):
                self._chosen = (claim_instance(optimizer, self), "chosen by the user")
            elif named is not None:
                self._chosen = (named, "chosen by the user")
            elif self._store.get_meta("optimizer") is not None and self._trials:
                stored = self._store.get_meta("optimizer")
                if is_registered(stored["name"]):
                    params = known_params(stored["name"], stored["params"])
                    self._chosen = (make_optimizer(stored["name"], params), stored.get("reason") or "chosen before")
                else:  # an optimizer of the user's: the results read without it, proposing needs it again
                    self._unknown_stored_optimizer = stored["name"]
            if self._chosen is not None:
                self._chosen[0].capabilities.check(self._chosen[0].name, self.problem)
                stored = self._store.get_meta("optimizer") if self._trials else None
                if stored is not None and stored.get("name") != self._chosen[0].name:  # allowed, but said
                    logger.warning("the study in %r was run with %s; it goes on with %s, as given",
                                   self._store.location, stored.get("name"), self._chosen[0].name)
            if isinstance(pruner, Pruner):  # one pruner judges for one open study
                pruner = claim_instance(pruner, self, "pruner")
            self._pruning = PrunerState(self._store, self.problem, lambda: self._trials, pruner, self.read_only)
            self._queued: list[dict[str, Any]] = list(self._store.get_meta(QUEUED) or [])  # see enqueue
            self._retries = RetryQueue(self._store, self._trials, bool(retry_interrupted))
            if self.interrupted:
                retried = [n for n in self.interrupted if self._retries.add(self._trials[n])]
                again = ("" if not retried else "; their configurations run again first when the study goes on (once)"
                         if retried == self.interrupted else f"; the configurations of {retried} run again first (once)")
                once = [n for n in self.interrupted if n not in retried] if self._retries.enabled else []
                again += f"; {once} not again (a retry interrupted in turn, or a repetition reevaluate owes)" if once else ""
                logger.warning("trials %s were running when the study stopped; recorded as interrupted%s", self.interrupted, again)
            self._store_rename()
        except BaseException:
            if self._created:  # a study refused as it was created leaves its file as it found it (the next one uses it)
                with contextlib.suppress(Exception):
                    self._store.forget_meta(self._created)
            if not isinstance(storage, Store):  # a refused study keeps no lock on its file
                self._store.close()
            raise

    # ------------------------------------------------------------------ set-up and resume
    def _spec(self) -> dict[str, Any]:
        return {
            "space": self.space.to_dict(),
            "objectives": [o.to_dict() for o in self.objectives],
            "constraints": [c.to_dict() for c in self.constraints],
        }

    def _bind_store(self, seed: int | None, name: str | None) -> None:
        spec = self._spec()
        stored = self._store.get_meta("spec")
        refs_changed = ""
        if stored is None:
            if self.read_only:
                raise StorageError(f"{self._store.location!r} holds no study")
            self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().generate_state(1)[0] >> 1)
            self.name = name or "study"
            created = {"spec": spec, "seed": self.seed, "name": self.name, "created_at": time.time(), "moo_hpo_version": __version__}
            self._created = [*created, "optimizer", "pruner", QUEUED]  # and what the rest of the set-up may write
            self._store.set_meta_many(created)  # one transaction: a study file is created whole or not at all
            self.interrupted: list[int] = []
        else:
            if self._keep_stored_refs(stored["objectives"]):
                spec = self._spec()
            refs_changed = self._refs_changed(stored["objectives"], spec["objectives"])
            if refs_changed:  # a new ref only (as the reference point's warning advises): stored once every check passed
                stored = {**stored, "objectives": spec["objectives"]}
            for key, label in (("space", "space"), ("objectives", "objectives"), ("constraints", "constraints")):
                # a space's choices by type too: 3 and 3.0, 1 and True are other choices (its trials would hold both)
                if stored[key] != spec[key] or (key == "space" and not same_definition(stored[key], spec[key])):
                    raise ConfigError(
                        f"the study in {self._store.location!r} has different {label}: "
                        f"{definition_difference(stored[key], spec[key])}; use the same definition, or another storage "
                        "file (or delete this one to start afresh)"
                    )
            order = list(stored["space"]["params"])
            if order != list(self.space.params):  # the same parameters given in another order: the stored one, which
                # decides how the optimizer encodes them (else its proposals would not be an uninterrupted run's)
                self.space = Space([(n, self.space.params[n]) for n in order], rules=self.space.rules)
                logger.info("the space's parameters are kept in the stored study's order %s", order)
            self.seed = int(self._store.get_meta("seed"))
            if seed is not None and int(seed) != self.seed:
                raise ConfigError(
                    f"the study in {self._store.location!r} was created with seed={self.seed}; received seed={seed}: leave "
                    f"seed out (or give seed={self.seed}) to resume it, or use another storage file for a new study"
                )
            self._new_refs = (refs_changed, stored) if refs_changed else None  # stored by _store_opening_changes
            self._stored_name = self._store.get_meta("name", "study")
            self.name = name or self._stored_name  # a new name is stored once the study has opened (_store_rename)
            self.interrupted = [] if self.read_only else self._store.mark_interrupted()
        self._reference = ReferencePoint(self.objectives, stored=self._store.get_meta("reference_point"))
        self._trials: list[Trial] = self._loaded_trials()
        # a stored study reopened to go on: the first optimize() that shows progress says so (see Progress)
        self._resume_unsaid = 0 if stored is None or self.read_only else len(self._trials)
        self._recount()
        self._ref_reach_checked = self._n_feasible >= analysis.REFERENCE_FREEZE_AFTER  # said when the study first got there
        self._freeze_reference_if_due()  # a store written before the freeze was recorded in tell

    def _keep_stored_refs(self, stored: list[dict[str, Any]]) -> list[str]:
        """Objectives given without ``ref`` whose stored definition has one keep it, as a ``seed`` left out keeps the
        stored seed: a script reopened once with ``ref=`` (to look at the hypervolume against it) and then as it was
        goes on with that ref (a ref cannot be taken away: the frozen point keeps it). Logged; returns what was kept."""
        if len(stored) != len(self.objectives):
            return []
        objectives, kept = list(self.objectives), []
        for i, (given, before) in enumerate(zip(self.objectives, stored, strict=True)):
            if given.ref is None and before.get("ref") is not None and {**given.to_dict(), "ref": None} == {**before, "ref": None}:
                objectives[i] = dataclasses.replace(given, ref=float(before["ref"]))
                kept.append(f"{given.name}: ref={float(before['ref']):g}")
        if kept:
            self.objectives = tuple(objectives)
            Problem(self.space, self.objectives, self.constraints).warn_contradictions()  # the stored refs now apply
            logger.info("objectives given without ref= keep the stored study's (%s); give ref= to change it", ", ".join(kept))
        return kept

    @staticmethod
    def _refs_changed(stored: list[dict[str, Any]], given: list[dict[str, Any]]) -> str:
        """``"size_kb: None -> 3000"`` when the given objectives differ from the stored ones only in a ``ref`` given
        or changed, else ``""`` (a ``ref`` left out keeps the stored one: :meth:`_keep_stored_refs`)."""
        if len(stored) != len(given) or stored == given:
            return ""
        if any({**a, "ref": None} != {**b, "ref": None} for a, b in zip(stored, given, strict=True)):
            return ""
        return ", ".join(f"{b['name']}: {a.get('ref')} -> {b.get('ref')}" for a, b in zip(stored, given, strict=True)
                         if a.get("ref") != b.get("ref"))

    def _store_rename(self) -> None:
        """A stored study reopened under another ``name=`` or an objective's new ``ref``: store them, so every later
        view agrees (after every check of the opening passed: a refused study changes nothing)."""
        new_refs = getattr(self, "_new_refs", None)
        if new_refs is not None:
            if self.read_only:
                logger.warning("the objectives' reference values differ from the stored study's (%s): this read-only view "
                               "measures the hypervolume against them; the stored study keeps its own", new_refs[0])
            else:
                logger.warning("the objectives' reference values changed (%s): the hypervolume is measured against the "
                               "new reference point from now on", new_refs[0])
                self._store.set_meta("spec", new_refs[1])
                if self._reference.is_frozen:
                    self._store.set_meta("reference_point", self._reference.record())
            self._new_refs = None
        stored = getattr(self, "_stored_name", None)
        if stored is not None and self.name != stored and not self.read_only:
            self._store.set_meta("name", self.name)
            # a warning: a new name may have been meant as a new study (Optuna keeps several in one database);
            # a moo_hpo file holds one study, which goes on under the new name
            count = f"{len(self._trials)} trial{'' if len(self._trials) == 1 else 's'}"
            logger.warning("the study in %r (%s) goes on, renamed from %r to %r: a file holds one study; for a new "
                           "study, give another storage file", self._store.location, count, stored, self.name)

    def _recount(self) -> None:
        self._counts = {s: 0 for s in TrialStatus}
        self._running: set[int] = set()
        self._n_feasible = 0
        self._model_front: tuple[tuple[int, int, int], list[ModelEstimate]] | None = None  # (trials counted, front)
        for t in self._trials:
            self._count(t)

    def _count(self, trial: Trial) -> None:
        status = trial.status
        if status is TrialStatus.RUNNING:
            self._running.add(trial.number)
            return
        self._running.discard(trial.number)
        self._counts[status] += 1
        if status is TrialStatus.COMPLETE and self.problem.is_feasible(trial):
            self._n_feasible += 1

    def __getattr__(self, name: str) -> Any:  # only for a name the study lacks: Optuna's say what to use
        from moo_hpo.optuna_names import STUDY_NAMES, missing_attribute

        return missing_attribute(self, name, STUDY_NAMES)

    @property
    def problem(self) -> Problem:
        """The definition in the internal convention (for optimizers and analyses)."""
        budget = getattr(self, "_budget", None)
        cached = getattr(self, "_problem", None)
        if cached is None or cached.budget != budget:
            self._problem = Problem(self.space, self.objectives, self.constraints, self.seed, budget, self._reference)
        return self._problem

    @property
    def optimizer(self) -> Optimizer:
        """The optimizer, set up on first use (``"auto"`` chooses then, with the budget known so far).

        A resumed study tells the optimizer every stored finished trial, so it continues from them.
        """
        if self._optimizer is None:
            if self._unknown_stored_optimizer is not None:
                raise ConfigError(
                    f"this study ran with the optimizer {self._unknown_stored_optimizer!r}, which moo_hpo does not know "
                    "by name (an optimizer of your own); to go on, pass it again, e.g. "
                    "mh.Study.load(path, optimizer=MyOptimizer(...)), or another optimizer by name"
                )
            if self._chosen is None:
                name, reason = choose_auto(self.problem)
                self._chosen = (make_optimizer(name, auto_options(name)), f"auto: {reason}")
            optimizer, reason = self._chosen
            optimizer.setup(self.problem)
            finished = [t for t in self._trials if t.is_finished]
            if finished:
                optimizer.tell(finished)
            logger.info("optimizer %s (%s)", optimizer.name, reason)
            self.optimizer_reason = reason
            self._optimizer = optimizer
        return self._optimizer

    def _use_optimizer(self) -> Optimizer:
        """The optimizer for proposing or telling: set up, and recorded in the store the first time."""
        optimizer = self.optimizer
        if not self._optimizer_recorded:
            record = {"name": optimizer.name, "params": plain(optimizer.get_params()), "reason": self.optimizer_reason}
            try:
                self._store.set_meta("optimizer", record)
            except TypeError:  # constructor arguments that are not JSON-able: keep the name only
                self._store.set_meta("optimizer", {**record, "params": {}})
                logger.warning("the options of optimizer %s cannot be stored (not JSON); Study.load reopens the study "
                               "with moo_hpo's defaults for one of its optimizers, and without one for an optimizer of "
                               "yours, unless it is given optimizer=... again", optimizer.name)
            self._optimizer_recorded = True
        return optimizer

    @property
    def optimizer_info(self) -> dict[str, Any]:
        """The optimizer as stored: ``{"name", "params", "reason"}``, read without setting it up.

        Empty until the optimizer was first used (the first :meth:`ask`). A closed study answers as it was closed.
        """
        if not self._closed:
            self._optimizer_info = dict(self._store.get_meta("optimizer") or {})
        return dict(getattr(self, "_optimizer_info", {}))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | Store,
        space: Space | None = None,
        optimizer: str | Optimizer = "auto",
        read_only: bool | None = None,
        pruner: Pruner | bool | None = None,
        retry_interrupted: bool = True,
    ) -> Study:
        """Open a stored study to resume or inspect it.

        Args:
            path: the SQLite file (or a store).
            space: the study's space with its validity rules; needed to propose new trials when the
                space has rules (rules are code and are stored by name only).
            optimizer: ``"auto"`` keeps the stored optimizer; a name or instance replaces it.
            read_only: open for reading only. None: read-only exactly when the study is being
                written (by another process, or by another open study of this one) or its file cannot be written
                here (a read-only folder, file or medium).
            pruner: the pruner for the trials still to run (None: the stored one; False: none); it first
                replays the stored reports.
            retry_interrupted: run interrupted trials' configurations again, once, before the next proposals
                (:mod:`moo_hpo.retries`); False: never.

        Returns:
            The study with every stored trial; trials left running by a stopped writer are marked
            ``interrupted`` (listed in ``study.interrupted``).

        Raises:
            StorageError: when there is no study at ``path``.
            ConfigError: when ``space`` differs from the stored one.
        """
        if isinstance(path, (str, os.PathLike)):
            path = storage_path(path)  # sqlite:///study.db -> study.db
            if not os.path.exists(path):
                raise StorageError(f"no study file at {os.fspath(path)!r}")
        why = None
        if read_only is None and isinstance(path, (str, os.PathLike)):
            try:
                store = open_store(path)
            except StorageError as exc:
                why = getattr(exc, "readable_instead", None)  # for the error a write meets
                if why is None:
                    raise
                store = open_store(path, read_only=True)
        else:
            store = open_store(path, read_only=bool(read_only))
        spec = store.get_meta("spec")
        if spec is None:
            if store is not path:  # opened here (a Store of the user's stays open)
                store.close()
            raise StorageError(f"{getattr(store, 'location', path)!r} holds no study")
        stored_space = Space.from_dict(spec["space"])
        if space is not None and space != stored_space:
            if store is not path:
                store.close()
            raise ConfigError(f"the given space differs from the stored one: {definition_difference(stored_space.to_dict(), space.to_dict())}")
        try:
            study = cls(
                space if space is not None else stored_space,
                [objective_from_dict(o) for o in spec["objectives"]],
                [constraint_from_dict(c) for c in spec["constraints"]],
                optimizer=optimizer,
                storage=store,
                pruner=pruner,
                retry_interrupted=retry_interrupted,
            )
        except BaseException:
            if store is not path:  # opened here: a refused load keeps no lock on the file
                store.close()
            raise
        study._read_only_why = why
        if why is not None and "in this process" in why:  # a notebook cell run again: the earlier study still writes
            logger.warning("%r opened read-only: %s (a cell run again keeps the earlier study open until the new one "
                           "is made: close it first, study.close(), or open studies with `with`)", study._store.location, why)
        return study

    def close(self) -> None:
        """Release the store (and its file lock). The results (fronts, reports, the dataframe) still read as they
        were; proposing or telling needs the study opened again (:meth:`load`)."""
        if not self._closed:
            with contextlib.suppress(Exception):  # kept for the reports of the closed study; closing goes on
                self.optimizer_info  # noqa: B018
        self._closed = True
        self._store.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> None:
        """Re-read the trials and the reference point from the store (for a read-only view of a running study)."""
        if not self._reference.is_frozen:  # the writer may have frozen it since
            stored = self._store.get_meta("reference_point")
            if stored is not None:
                self._reference = ReferencePoint(self.objectives, stored=stored)
                self._problem = None  # the problem holds the reference point
        self._trials = self._loaded_trials()
        self._recount()

    def _loaded_trials(self) -> list[Trial]:
        """The stored trials, each reporting through this study (``trial.report`` on a finished record, or on a
        read-only view's running one, is refused by the study rather than kept on the record in memory only)."""
        reporter = StudyReporter(self)
        trials = self._store.load_trials()
        for trial in trials:
            trial._reporter = reporter
        return trials

    # ------------------------------------------------------------------ ask / tell
    @property
    def trials(self) -> list[Trial]:
        """Every trial, in number order."""
        return list(self._trials)

    def trial(self, number: int) -> Trial:
        """The trial with this number.

        Raises:
            ConfigError: for a number the study does not have.
        """
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or not 0 <= number < len(self._trials):
            raise ConfigError(f"unknown trial #{number!r}; {self._trial_range()}")
        return self._trials[int(number)]

    def _trial_range(self) -> str:
        return f"this study has trials 0..{len(self._trials) - 1}" if self._trials else "this study has no trials yet"

    def _writable(self) -> None:
        if self._closed and self._store.location != ":memory:":  # before the optimizer proposes: nothing recorded
            where = self._store.location
            raise StorageError(f"the study {where!r} was closed (Study.close, or the end of its `with` block); open it "
                               f"again with mh.Study.load({where!r})")
        if self.read_only:
            why = getattr(self, "_read_only_why", None)
            raise StorageError(
                f"the study in {self._store.location!r} is open read-only"
                + (f" (Study.load opened it so: {why}"
                   + ("" if why.startswith("its file") else "; load it again once that writer is closed") + ")" if why else "")
            )
        if not self.space.rules_available:
            raise ConfigError(
                "this study's space has validity rules "
                f"{[r.name for r in self.space.rules]} that were stored by name only; pass space=... "
                "(with the rules) to Study.load to propose new trials"
            )

    def ask(self, n: int | None = None) -> Trial | list[Trial]:
        """Propose new trials and record them as running.

        Args:
            n: None for one trial, or how many to propose (a list is returned then).

        Returns:
            A :class:`~moo_hpo.trial.Trial`, or a list of at most ``n`` trials (fewer when the
            optimizer must wait for running trials, e.g. the end of an evolutionary generation).

        Raises:
            ConfigError: for a bad ``n``.
            StorageError: when the study is open read-only.
            MooHpoError: when the optimizer has nothing to propose until running trials are told.
        """
        self._writable()
        import numbers

        if n is not None and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise ConfigError(f"ask(n) expects a positive integer or None; received {n!r}")
        n = None if n is None else int(n)  # a NumPy integer too
        trials = self._propose(1 if n is None else n)
        if not trials:
            pending = sorted(self._running)
            raise MooHpoError(
                f"optimizer {self.optimizer.name!r} has nothing to propose until the running trials {pending} are told"
                if pending
                else f"optimizer {self.optimizer.name!r} proposed nothing"
            )
        return trials[0] if n is None else trials

    @property
    def queued(self) -> list[dict[str, Any]]:
        """The configurations :meth:`enqueue` queued that have not been proposed yet, in the order they will be."""
        return [dict(c) for c in self._queued]

    def _completed(self, given: Mapping[str, Any], offset: int = 0) -> dict[str, Any]:
        """``given`` with the parameters it leaves out drawn from the space, seeded by the study's seed and how many
        trials ran and configurations are queued (plus ``offset``: the place of a TOML table among those checked).

        Raises:
            ConfigError: saying what does not fit the space.
        """
        from moo_hpo.completion import complete
        from moo_hpo.seeding import ENQUEUE_SEED_TAG

        rng = np.random.default_rng(derive_seed(self.seed, ENQUEUE_SEED_TAG, len(self._trials), len(self._queued) + offset))
        return complete(self.space, given, rng)

    def enqueue(self, config: Mapping[str, Any], skip_if_exists: bool = False) -> bool:
        """Run ``config`` before the optimizer's next proposals: a baseline, a model known to do well.

        Queued configurations are proposed first, in the order queued, by :meth:`ask` and :meth:`optimize`; each is a
        trial like any other (``trial.optimizer == "enqueued"``): the Bayesian optimizers model it with the others, the
        evolutionary ones let it compete in the survival of the generation bred after it was asked. :meth:`reevaluate`
        runs its repetitions first.
        The queue is kept in the study's file until its configurations run, so a resumed study runs them too.

        Args:
            config: parameter name -> value, for some or all of the parameters (none for an inactive one):
                those left out (``{"lr": 3e-4}`` in a larger space) are drawn at random from the space, seeded by the
                study's seed, once, when queued, a left-out parent among the values that make a given conditional
                parameter active (:attr:`queued` shows the values; the log names them at INFO level). Or a row of
                :meth:`to_dataframe` (a pandas Series, or its ``to_dict()``: its ``params_*`` entries are the
                configuration, whole; NaN, ``<NA>`` and a number parameter's None count as no value, an integral
                float as an integer).
            skip_if_exists: leave it out when a trial of the study already ran it (whatever its outcome), runs it,
                or it is queued: a script that queues its baselines and is run again to resume the study does not
                run them twice. A configuration with parameters left out matches a queued or enqueued one that
                has its values (not the optimizer's trials).

        Returns:
            True when it was queued; False when ``skip_if_exists`` left it out.

        Raises:
            ConfigError: for a configuration the space does not hold, naming each problem.
            StorageError: when the study is open read-only.
        """
        self._writable()
        if not isinstance(config, Mapping) and getattr(config, "ndim", None) == 1 and hasattr(config, "items"):
            config = dict(config.items())  # a pandas row (a Series; a frame of one row is not one)
        if not isinstance(config, Mapping):
            hint = " (a data frame: give one row, df.iloc[i])" if getattr(config, "ndim", None) == 2 else ""
            raise ConfigError(f"enqueue expects a configuration (parameter name -> value); received {config!r:.200}{hint}")
        from moo_hpo.completion import holds, is_partial

        row = any(isinstance(k, str) and k.startswith("params_") for k in config)  # a data frame's row: every parameter
        config = _as_chosen(self.space, _from_row(self.space, config))
        if not config:
            raise ConfigError("enqueue expects the values of some parameters (the others are drawn from the space); "
                              "received an empty configuration")
        partial = is_partial(self.space, config) and not row  # some parameters left out: drawn from the space below
        problems = [] if partial else self.space.problems(config)
        if problems:
            raise ConfigError(f"enqueue: the configuration {config!r:.300} does not fit the space: {'; '.join(problems)}")
        if skip_if_exists:
            from moo_hpo.trial import config_key

            key = config_key(config)
            if partial:  # matched with the queue's and the enqueued trials' values, not with the optimizer's trials
                done = [*self._queued, *(t.config for t in self._trials if t.optimizer == ENQUEUED)]
            else:
                done = [*self._queued, *(t.config for t in self._trials)]
            if any(holds(c, config) if partial else config_key(c) == key for c in done):
                logger.info("enqueue: %r already ran, runs or is queued in this study; skipped", config)
                return False
        if partial:
            try:
                given, config = config, self._completed(config)
            except ConfigError as exc:
                raise ConfigError(f"enqueue: the configuration {config!r:.300} does not fit the space: {exc}") from None
            logger.info("enqueue: %s drawn for the parameters not given", {k: v for k, v in config.items() if k not in given})
        self._store.set_meta(QUEUED, [*self._queued, config])  # the queue changes once its file has taken it
        self._queued.append(config)
        return True

    def _propose(self, want: int, answer_reports: Callable[[float], None] | None = None,
                 queued_only: bool = False, one_answer: bool = False) -> list[Trial]:
        """Up to ``want`` new trials; fewer (even none) when the optimizer waits for running trials. With
        ``answer_reports`` (the executor's), the optimizer proposes in a thread of its own while the running trials'
        reports are answered (see :mod:`moo_hpo.execution.asking`). ``queued_only``: the retries of interrupted
        trials and the queued configurations only (the optimizer is not asked). ``one_answer``: the optimizer is
        asked once, and what it answers is handed over even if it is fewer than ``want`` (``optimize``: a Bayesian
        optimizer's noise-check repeat starts at once, not after the model step of the next proposal)."""
        trials: list[Trial] = []
        try:
            self._propose_into(trials, want, answer_reports, queued_only, one_answer)
        except BaseException:  # the study stops (Ctrl-C, an error told while the optimizer proposed): the trials
            for t in reversed(trials):  # recorded for this proposal never start; a retry among them waits in the queue
                try:  # again, in its place (requeued from the last, each to the front)
                    self._interrupt(t, "interrupted: the study stopped before this trial started")
                    if RETRY_OF in t.extra:
                        self._retries.requeue(t.extra[RETRY_OF])
                except StorageError as failure:  # the file that stopped the study takes nothing more: the first error
                    logger.warning("trial #%d could not be recorded as interrupted: %s", t.number, failure)
                    break
            raise
        return trials

    def _propose_into(self, trials: list[Trial], want: int, answer_reports: Callable[[float], None] | None,
                      queued_only: bool = False, one_answer: bool = False) -> None:
        """:meth:`_propose`'s work: the new trials are appended to ``trials`` as they are recorded."""
        from moo_hpo.robust import REEVALUATE

        repeating = getattr(self._optimizer, "name", None) == REEVALUATE  # reevaluate runs its repetitions only
        while self._retries.numbers and len(trials) < want and not repeating:  # interrupted trials' configurations first
            self._use_optimizer()
            original = self._trials[self._retries.numbers[0]]
            problems = self.space.problems(original.config)
            if problems:
                logger.warning("trial #%d is not run again: its configuration breaks the space's rules now: %s",
                               original.number, "; ".join(problems))
            else:
                proposal = Proposal(dict(original.config), retry_extra(original), checked=True)
                trials.append(self._record_proposal(proposal, ENQUEUED))
            self._retries.pop()
        while self._queued and len(trials) < want and not repeating:  # the user's queued configurations first
            self._use_optimizer()
            trials.append(self._record_proposal(Proposal(dict(self._queued[0]), checked=True), ENQUEUED))
            self._queued.pop(0)
            self._store.set_meta(QUEUED, self._queued)
        early = len(trials)  # retries and queued configurations: recorded before the optimizer is asked
        asked = False
        while len(trials) < want and not queued_only:
            asked = True
            pending = self._running_trials() if self._running else []
            optimizer = self._use_optimizer()
            n = want - len(trials) if optimizer.capabilities.batch else 1  # one at a time: asked again, the rest pending
            started = time.perf_counter()
            if answer_reports is None or not getattr(optimizer, "ask_in_thread", False):
                proposals = optimizer.ask(n, pending)
                elapsed = time.perf_counter() - started
            else:
                from moo_hpo.execution.asking import ask_answering_reports

                self._deferred_tells = []  # trials told meanwhile reach the optimizer once its ask has ended
                try:
                    proposals = ask_answering_reports(lambda: optimizer.ask(n, pending), answer_reports)
                finally:
                    elapsed = time.perf_counter() - started  # the deferred tells count as tells, not as this proposal
                    self._tell_deferred()
            self.optimizer_seconds += elapsed
            if not proposals:
                break
            wrong = [proposals] if not isinstance(proposals, (list, tuple)) else [p for p in proposals if not isinstance(p, Proposal)]
            if wrong:
                raise ConfigError(
                    f"optimizer {optimizer.name!r}: ask must return a list of mh.optimizers.Proposal(config); "
                    f"received {type(wrong[0]).__name__} {wrong[0]!r:.200}"
                )
            proposals = proposals[:n]
            for p in proposals:  # the proposal's share of the optimizer's time, kept in the trial's audit data
                _check_proposal(p, optimizer.name)
                audit = p.extra.get("optimizer")
                p.extra = {**p.extra, "optimizer": {**(audit if isinstance(audit, dict) else {}), "seconds": elapsed / len(proposals)}}
            trials.extend(self._record_proposal(p) for p in proposals)
            if one_answer:
                break
        if asked and early:  # they start when this batch is handed over, not before the optimizer's proposals for it
            now = time.time()
            for t in trials[:early]:
                t.started_at = now
                self._store.update_trial(t)

    def _record_proposal(self, proposal: Proposal, source: str | None = None) -> Trial:
        number = len(self._trials)
        name = source or self.optimizer.name
        try:  # the audit data as the file keeps it (NumPy values as numbers, tuples as lists): reloads the same
            extra = json.loads(json.dumps(dict(proposal.extra), allow_nan=True, default=json_default))
        except Exception:  # noqa: BLE001 - JSON cannot hold it: kept as its text, as an objective's extra is
            extra = as_text(dict(proposal.extra))
            if f"proposal-extra-{name}" not in self._notes_logged:
                self._notes_logged.add(f"proposal-extra-{name}")
                logger.warning("optimizer %r: its proposals' extra data holds values JSON cannot (kept as their text)", name)
        trial = Trial(
            number=number,
            config=plain(dict(proposal.config)),  # a custom optimizer's np.int64(3) is stored as 3
            extra=extra,
            started_at=time.time(),
            seed=derive_seed(self.seed, TRIAL_SEED_TAG, number),
            optimizer=name,
        )
        problems = None if proposal.checked else self.space.problems(trial.config)
        if problems:  # an optimizer's bug must not turn into an evaluation of an invalid config
            trial.status = TrialStatus.FAILED
            trial.error = "invalid configuration, not evaluated: " + "; ".join(problems)
            trial.config = {k: v if _finite_json(v) else repr(v) for k, v in trial.config.items()}  # NaN, an object: text
            trial.finished_at = trial.started_at
            logger.warning("trial %d: %s", number, trial.error)
        trial._reporter = StudyReporter(self)  # trial.report / should_prune reach this study (ask / tell too)
        self._store.add_trial(trial)
        self._trials.append(trial)
        self._count(trial)
        if trial.is_finished:
            self.optimizer.tell([trial])
        return trial

    def tell(
        self,
        trial: Trial | int,
        metrics: Mapping[str, float] | Result | None = None,
        *,
        error: BaseException | str | None = None,
        extra: Mapping[str, Any] | None = None,
        status: TrialStatus | str | None = None,
    ) -> Trial:
        """Record the result of a running trial.

        ``metrics`` or ``error`` is given, not both (a pruned trial may have neither). The trial becomes ``failed`` when
        ``error`` is given, when a metric that an objective or constraint names is NaN, infinite, not a number
        or missing (then any value that is not a number is named too: it may be the typo); the error text names
        the cause. A NaN, infinite or non-number value of a metric that nothing needs (a probe that could not
        measure, a label) is left out, and logged once.

        Args:
            trial: the trial (or its number).
            metrics: metric name -> value, or a :class:`~moo_hpo.trial.Result` (metrics + extra).
            error: the exception (or a message) of a failed evaluation.
            extra: JSON-able data to keep with the trial, under names of your own: the keys moo_hpo records when
                a trial is asked (``optimizer``, its proposal's audit trail; ``repeat_of``, ``retry_of``) are
                refused (in :meth:`optimize`, an objective's such key is kept as ``user_<key>``).
            status: with ``error``, only ``"failed"`` (or None). ``"infeasible_skipped"`` for a trial stopped before training because a
                pre-training metric broke a hard constraint; ``"pruned"`` for a trial stopped early
                (its metrics then need not include every objective, and default to its last report's; the
                pruner's reason is kept in ``extra["pruned"]``). None: complete (a trial the pruner said to stop
                is logged once, naming ``status="pruned"``).

        Returns:
            The updated trial.

        Raises:
            ConfigError: for an unknown or already finished trial, both/neither of metrics and error (a
                pruned trial needs neither), a status other than ``"failed"`` with ``error``, or ``extra`` that names a key moo_hpo records at ask (the trial is
                left running).
        """
        self._writable()
        record = self._told_trial(trial)
        number = record.number
        optimizer = self._use_optimizer()  # set up before this trial finishes, so it is told exactly once
        if record.is_finished:
            again = ""
            if record.status is TrialStatus.INTERRUPTED:  # a result that came after its study stopped: not lost
                rerun = next((t.number for t in self._trials if isinstance(t.extra, dict) and t.extra.get(RETRY_OF) == number
                              and t.status is not TrialStatus.INTERRUPTED), None)  # a retry stopped before it ran: not run
                again = (" (recorded when its study stopped; its configuration runs again first as a new trial)"
                         if number in self._retries.numbers else
                         f" (recorded when its study stopped; its configuration ran again as trial #{rerun})" if rerun is not None
                         else " (recorded when its study stopped)")
            raise ConfigError(f"trial #{number} is already {record.status.value}{again}; each trial is told once")
        if metrics is not None and error is not None:
            raise ConfigError("tell expects either metrics or error (exactly one of them)")
        if extra is not None and not isinstance(extra, Mapping):
            raise ConfigError(f"tell(extra=...) expects a mapping of names to data; received {type(extra).__name__} "
                              f"({extra!r:.100}); the trial is unchanged")
        if isinstance(metrics, Result):
            extra = {**(extra or {}), **metrics.extra}
            metrics = metrics.metrics
        metrics = as_metrics(metrics)
        # everything is checked before the record changes, so a bad call leaves the trial as it was
        if metrics is not None and not isinstance(metrics, Mapping):
            raise ConfigError(
                f"tell expects metrics as a mapping of metric name to number (or mh.Result(metrics, extra)); received "
                f"{type(metrics).__name__} ({metrics!r:.200}); a failed evaluation is told with error=...; the trial is "
                "unchanged"
            )
        clash = asked_extra_keys(extra)
        if clash:
            raise ConfigError(
                f"tell(extra=...) for trial #{number}: {clash} {'is' if len(clash) == 1 else 'are'} moo_hpo's own record "
                f"of a trial, kept from when it is asked ('optimizer': its proposal's audit trail; 'repeat_of', "
                f"'retry_of': the trial it repeats or runs again); give yours another name (e.g. {'user_' + clash[0]!r}); "
                "the trial is unchanged"
            )
        if error is not None and status is not None:  # error= is a failure: status may only say so too
            if str(getattr(status, "value", status)) != "failed":
                raise ConfigError(f"tell(error=...) records a failed trial; received status={status!r} with it: leave "
                                  "status out (or give status='failed'), or tell the trial's metrics without error=")
            status = None
        if status is not None:
            allowed = (TrialStatus.COMPLETE, TrialStatus.INFEASIBLE_SKIPPED, TrialStatus.PRUNED)
            if status not in allowed and status not in [a.value for a in allowed]:
                raise ConfigError(
                    f"tell(status=...) expects one of {[a.value for a in allowed]} (or None); received {status!r}"
                    + ("; a failed evaluation is told with error=... (its exception or a message)"
                       if str(getattr(status, "value", status)) == "failed" else "")
                )
            status = TrialStatus(status)
        if error is None:
            reason = self.prune_reason(number)
            if status is None and reason is not None:
                self._pruning.note_told_complete(number, reason)
            if status is TrialStatus.PRUNED:  # what it returned, over what it last reported
                last = record.reports[-1]["metrics"] if record.reports else {}
                metrics = {**last, **metrics} if isinstance(metrics, Mapping) else last if metrics is None else metrics
                extra = {"pruned": reason or "told pruned (study.tell)", **(extra or {})}
        if metrics is None and error is None:
            raise ConfigError("tell expects either metrics or error (exactly one of them)")
        if extra:  # as the study file keeps it (NumPy values as numbers, tuples as lists): the same before and after a reload
            with contextlib.suppress(TypeError, ValueError):  # not JSON-able: refused below, naming the value
                extra = json.loads(json.dumps(dict(extra), allow_nan=True, default=json_default))
        if status is TrialStatus.INFEASIBLE_SKIPPED and error is None:
            self._check_skip_breaks_a_bound(number, metrics)
        if error is not None:
            new_status = TrialStatus.FAILED
            new_error: str | None = format_exception(error) if isinstance(error, BaseException) else str(error)
            new_metrics = record.metrics
        else:
            complete = status is None or status is TrialStatus.COMPLETE
            needed = self.problem.required_metrics
            new_metrics, new_error = check_metrics(metrics, needed if complete else (), needed=needed)
            self._note_unmeasured(metrics, new_metrics, new_error, number)
            new_status = TrialStatus.FAILED if new_error else (status or TrialStatus.COMPLETE)
        self._commit(
            record,
            status=new_status,
            error=new_error,
            metrics=new_metrics,
            extra={**record.extra, **extra} if extra else record.extra,
        )
        if new_status is TrialStatus.COMPLETE:
            self._pruning.check_finished(record)
        if self._deferred_tells is not None:  # the optimizer is proposing in its own thread (see _propose)
            self._deferred_tells.append(record)
            return record
        if new_status is TrialStatus.COMPLETE:
            self._freeze_reference_if_due()
        started = time.perf_counter()
        optimizer.tell([record])
        self.optimizer_seconds += time.perf_counter() - started
        return record

    def _tell_deferred(self) -> None:
        """Tell the optimizer the trials told while it proposed in its own thread, in the order told (its ask has
        ended), and freeze the reference point if they made it due (the proposal read it meanwhile)."""
        deferred, self._deferred_tells = self._deferred_tells, None
        if not deferred:
            return
        self._freeze_reference_if_due()
        started = time.perf_counter()
        self._use_optimizer().tell(deferred)
        self.optimizer_seconds += time.perf_counter() - started

    def _check_skip_breaks_a_bound(self, number: int, metrics: Any) -> None:
        """Refuse ``status="infeasible_skipped"`` whose metrics measure every hard constraint and break none: such a
        trial would be set aside as infeasible (and teach the optimizers' constraint models so) for no reason."""
        hard = self.problem.hard_constraints
        if not isinstance(metrics, Mapping):
            return
        values = {c: metrics.get(c.name) for c in hard}
        if any(not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(float(v)) for v in values.values()):
            return  # a bound left unmeasured: the skip may rest on it
        if any(not c.is_satisfied(v) for c, v in values.items()):
            return
        broken_none = f"break none of {[c.describe() for c in hard]}" if hard else "break nothing (the study has no hard constraints)"
        raise ConfigError(
            f"trial #{number}: status='infeasible_skipped' is for a trial whose pre-training metrics break a hard "
            f"constraint; the metrics given ({dict(metrics)}) {broken_none}; tell it complete (no status), "
            "or include the metric that breaks its bound"
        )

    def _note_unmeasured(self, given: Any, kept: Mapping[str, float], error: str | None, number: int,
                         step: float | None = None) -> None:
        """Log once per metric that a NaN, infinite or (in a trial's result) non-number value of a metric the study
        does not need was left out (of a trial's result, or of its report at ``step``)."""
        if error or not isinstance(given, Mapping):
            return
        left_out = [k for k in given if isinstance(k, str) and k not in kept]
        new = [k for k in left_out if k not in self._unmeasured_logged]
        if new:
            self._unmeasured_logged.update(new)
            what = "NaN or infinite" if all(is_number(given[k]) for k in new) else "NaN, infinite or not a number"
            what = f"came back {what}" if step is None else f"were {what} in its report at step {step:g}"
            keep = ("" if all(is_number(given[k]) for k in new) else
                    "; keep data other than figures with mh.Result(metrics, extra={...}) or trial.extra")
            logger.warning(
                "trial %d: metric(s) %s %s and are left out (this message is not repeated for later trials); no "
                "objective or constraint uses them, so the trial keeps its other metrics%s", number, new, what, keep,
            )

    def _told_trial(self, trial: Trial | int) -> Trial:
        """The study's record of ``trial`` (a trial of this study, or its number)."""
        if isinstance(trial, Trial):
            number = trial.number
        elif isinstance(trial, (int, np.integer)) and not isinstance(trial, bool):
            number = int(trial)
        else:
            raise ConfigError(f"expected a trial of this study or its number (an int); received {trial!r}")
        if not 0 <= number < len(self._trials):
            raise ConfigError(f"unknown trial #{number}; {self._trial_range()}")
        record = self._trials[number]
        if isinstance(trial, Trial) and trial is not record:
            reporter = getattr(trial, "_reporter", None)
            if isinstance(reporter, StudyReporter) and reporter.study is not self:
                raise ConfigError(f"trial #{number} given here was asked of another study, not of this one")
            if trial.config != record.config:
                raise ConfigError(
                    f"trial #{number} given here has config {trial.config!r}, but this study's trial #{number} has "
                    f"{record.config!r}: it is a trial of another study"
                )
        return record

    # ------------------------------------------------------------------ intermediate reports and pruning
    @property
    def pruner(self) -> Pruner | None:
        """The study's pruner, or None."""
        return self._pruning.pruner

    @pruner.setter
    def pruner(self, pruner: Pruner | None) -> None:
        """Judge the reports from now on with ``pruner``, as ``pruner=`` does when the study is opened: it is
        recorded in the store and first sees the stored reports again (a pruner another open study uses is
        copied). None stops pruning, as ``pruner=False`` does.

        Raises:
            ConfigError: for something that is not a pruner.
        """
        if isinstance(pruner, Pruner):
            pruner = claim_instance(pruner, self, "pruner")
        self._pruning = PrunerState(self._store, self.problem, lambda: self._trials,
                                    False if pruner is None else pruner, self.read_only)

    def report(self, trial: Trial | int, step: float, metrics: Mapping[str, Any]) -> bool:
        """Record an intermediate report of a running trial and let the pruner judge it.

        The objective calls ``trial.report(step, metrics)``, which arrives here wherever the trial runs;
        call this directly when driving the study with :meth:`ask` / :meth:`tell`.

        Args:
            trial: the running trial (or its number).
            step: how far it trained: a finite number >= 0 that grows report by report.
            metrics: metric name -> number.

        Returns:
            Whether the trial should stop now (always False without a pruner).

        Raises:
            ConfigError: for a trial that is not running, a step below 0 or one that does not grow, bad metrics,
                or a metric name that looks like a misspelled objective.
        """
        self._writable()
        record = self._told_trial(trial)
        number = record.number
        if record.is_finished:
            raise ConfigError(f"trial #{number} is already {record.status.value}; only a running trial reports")
        entry = new_report(record.reports, step, metrics, needed=self.problem.required_metrics)
        self._note_unmeasured(metrics, entry["metrics"], None, number, step=entry["step"])
        self._pruning.check_report(number, entry["metrics"], entry["step"])
        self._pruning.check_step(number, entry["step"])
        self._pruning.replay()  # the stored reports first, this one after
        self._store.add_report(number, entry)
        record.reports.append(entry)
        self._pruning.decide(number, entry["step"], entry["metrics"])
        return self.should_prune(number)

    def should_prune(self, trial: Trial | int) -> bool:
        """The pruner's answer for a trial: True when it should stop (False before its first report; once True, True
        through its later reports)."""
        decision = self._pruning.decision(self._told_trial(trial).number)
        return bool(decision is not None and decision.prune)

    def prune_reason(self, trial: Trial | int) -> str | None:
        """Why the pruner stopped a trial, or None when it did not."""
        decision = self._pruning.decision(self._told_trial(trial).number)
        return decision.reason if decision is not None and decision.prune else None

    def _commit(self, record: Trial, **changes: Any) -> None:
        """Give a finished trial its new state in memory and in the store, or in neither.

        Raises:
            ConfigError: when ``extra`` is not JSON-able (nothing changed).
            StorageError: when the store cannot write it (nothing changed).
        """
        changes["finished_at"] = time.time()
        before = {name: getattr(record, name) for name in changes}
        for name, value in changes.items():
            setattr(record, name, value)
        try:
            self._store.update_trial(record)  # stores check the record before writing any of it
        except BaseException as exc:
            for name, value in before.items():  # not stored: the record is as it was
                setattr(record, name, value)
            if isinstance(exc, (TypeError, ValueError)):
                raise ConfigError(f"trial #{record.number} cannot be stored: {exc}; the trial is unchanged") from None
            raise
        self._count(record)

    def _running_trials(self) -> list[Trial]:
        """The trials recorded as running, in number order."""
        return [self._trials[n] for n in sorted(self._running)]

    def _interrupt(self, trial: Trial, reason: str) -> None:
        """Record a running trial as ``interrupted`` (the study stopped; its configuration is not to blame)."""
        record = self._trials[trial.number]
        if record.is_finished:
            return
        self._commit(record, status=TrialStatus.INTERRUPTED, error=reason)
        if self._deferred_tells is not None:  # the optimizer is proposing in its own thread (see _propose)
            self._deferred_tells.append(record)
        else:
            self._use_optimizer().tell([record])
        self._retries.add(record)

    # ------------------------------------------------------------------ optimize
    def stop(self, reason: str = "stopped by a callback") -> None:
        """Ask a running :meth:`optimize` to stop proposing trials (running ones finish)."""
        self._stop_reason = reason

    def optimize(
        self,
        fn: Callable[..., Any],
        n_trials: int | None = None,
        timeout: float | None = None,
        n_workers: int = 1,
        callbacks: Iterable[Callback] | Callback = (),
        show_progress: bool = True,
        catch: tuple[type[BaseException], ...] = (Exception,),
        trial_timeout: float | None = None,
        build: Callable[[dict[str, Any]], Any] | None = None,
        probes: Sequence[Any] | Any = (),
        executor: Any = None,
        resources: Mapping[str, float] | None = None,
        retries: int | None = None,
        max_trials_per_worker: int | None = None,
        **unknown: Any,
    ) -> Study:
        """Run trials until a budget is spent.

        Args:
            fn: ``fn(config)`` or ``fn(config, trial)`` returning a metrics mapping or a
                :class:`~moo_hpo.trial.Result`; with ``probes`` it may return a model for them to
                measure; with ``build`` it is ``fit(model, config)`` (see :mod:`moo_hpo.pipeline`).
            n_trials: number of new trials to run in this call (None: no count limit).
            timeout: wall-clock seconds from this call after which no new trial starts (the local workers' or the
                Dask check's start counts in them; None: no limit).
            n_workers: trials evaluated at once. Above 1, trials run in that many local worker
                processes: fresh Python interpreters (never forks of this process, so torch, OpenMP
                and the objective's own subprocesses are safe there) that receive the objective
                pickled with cloudpickle and run trials one after another; a worker that crashes or
                times out is replaced.
            callbacks: ``callback(study, trial)`` after every finished trial; may call :meth:`stop` (one alone,
                or a list).
            show_progress: show progress (trials done, hypervolume, feasible, failed): a live bar in a terminal,
                elsewhere a plain line every tenth of the trials (without ``n_trials``: every tenth trial, at most
                one a second) and one after a minute without.
            catch: exception types recorded as failed trials; any other exception is recorded
                and re-raised. ``catch=()`` re-raises everything (for debugging).
            trial_timeout: seconds one trial may run before its worker is stopped (with the
                objective's own child processes) and the trial recorded as failed ("timeout"); runs
                trials in a worker process even with ``n_workers=1``. It counts from the trial's start in its
                worker, so a fresh worker's first trial pays its own imports (torch's take a second or more; a
                worker replaced after a timeout or a crash starts fresh): leave room for them.
            build: ``build(config)`` (or ``build(config, trial)``, for ``trial.seed``) returns the untrained model;
                probes that need no training measure it, and a candidate that breaks a hard constraint then is never
                trained (recorded as ``infeasible_skipped``).
            probes: :mod:`moo_hpo.objectives` probes that measure each model (one alone, or a list).
            executor: run trials on a Dask cluster: a ``distributed.Client`` or a scheduler address
                (``"tcp://host:8786"``); the study's process stays the only writer of its store (see
                :mod:`moo_hpo.execution.cluster`).
            resources: with ``executor``, what each trial needs of a worker's resources, e.g.
                ``{"GPU": 1}``: trials then run only on workers started with ``--resources GPU=1``.
            retries: with ``executor``, how many times a trial whose workers died is submitted again
                before it is recorded failed ("worker lost"); None: once. Without ``executor`` it is ignored
                (and logged): a local worker that crashes fails its trial and is replaced.
            max_trials_per_worker: trials a local worker process runs before it exits and a fresh one takes its place
                (1: a new process for every trial), for objectives whose process keeps what one trial left behind
                (memory a library leaks, a GPU's cached memory, global state); the fresh worker loads the objective
                while the next trial is proposed. Runs trials in a worker process even with ``n_workers=1``.
                None: workers run trials until the study ends. Not with ``executor`` (a Dask worker's life is the
                cluster's to set).
            **unknown: refused with what each may mean (``n_jobs``: ``n_workers``), not a bare ``TypeError``.

        Returns:
            The study itself.

        Raises:
            ConfigError: for bad or unknown arguments, or an objective that worker processes cannot receive
                (not picklable) or load (a package missing there), before any trial runs.
            KeyboardInterrupt: after Ctrl-C, once running trials are recorded as ``interrupted``
                and every finished trial is saved.
        """
        from moo_hpo.execution.loop import run_optimize

        if unknown:  # a misspelled option, or another tuner's name for one (n_jobs): named, with what it may mean
            import inspect

            from moo_hpo.naming import unknown_keywords_error

            raise unknown_keywords_error("optimize", unknown, list(inspect.signature(Study.optimize).parameters)[2:-1])
        self._writable()
        run_optimize(
            self, fn, n_trials, timeout, n_workers, callbacks, show_progress, catch, trial_timeout, build, probes,
            executor, resources, retries, max_trials_per_worker,
        )
        return self

    def reevaluate(
        self,
        fn: Callable[..., Any],
        top_k: int | None = None,
        repeats: int = 3,
        n_workers: int = 1,
        callbacks: Iterable[Callback] = (),
        **options: Any,
    ) -> list[Trial]:
        """Run the Pareto front's configurations again, to tell good configurations from lucky runs.

        Each configuration of the measured front (``pareto_front(by="measured")``; or of its ``top_k`` by
        exclusive hypervolume contribution) runs ``repeats`` more times, each repetition a trial of its own,
        with its own seed (``trial.seed``, derived from its own number, so it differs from the original's),
        recorded complete or failed as any trial and linked to the original by ``extra["repeat_of"]`` (the
        original's number); its ``optimizer`` is ``"reevaluate"``. They run through :meth:`optimize`'s machinery
        (workers, timeouts, Dask, the pruner, callbacks, Ctrl-C), and the study's optimizer is told each as it
        finishes, as a resumed study tells it: it goes on proposing new configurations afterwards, never these.
        Read the result with :meth:`robust_front`. Once a configuration has two different runs the study's
        objectives count as noisy and :meth:`pareto_front` judges the trials by the model's estimates (see
        :meth:`front_basis`).

        Args:
            fn: the objective, as for :meth:`optimize`; it should draw its randomness from ``trial.seed``
                (``fn(config, trial)``) or none at all, so that repetitions are new draws.
            top_k: how many of the front's configurations to run again, largest hypervolume contribution first
                (None: all). A front trial that is itself a repetition stands for its original.
            repeats: runs per configuration on top of those it has.
            n_workers: repetitions evaluated at once (as for :meth:`optimize`).
            callbacks: ``callback(study, trial)`` after every finished repetition.
            **options: :meth:`optimize`'s other keyword arguments: ``timeout``, ``show_progress``, ``catch``,
                ``trial_timeout``, ``build``, ``probes``, ``executor``, ``resources``, ``retries``,
                ``max_trials_per_worker``.

        Returns:
            The repetitions this call recorded, in number order.

        Raises:
            ConfigError: for ``repeats`` or ``top_k`` below 1 (or not integers), or an unknown option.
            NoFeasibleTrialError: when no trial completed or none is feasible: there is no front to run again.
            StorageError: when the study is open read-only.
        """
        return robust.reevaluate(self, fn, top_k, repeats, n_workers, callbacks, **options)

    def _set_budget(self, n_trials: int | None) -> None:
        """Tell a not-yet-built optimizer how many trials the study expects (``auto`` reads it); a built one hears
        of a larger budget (a Bayesian optimizer still in its initial design sizes it again)."""
        if self._optimizer is None:
            self._budget = None if n_trials is None else len(self._trials) + n_trials
        elif n_trials is not None:
            self._optimizer.budget_grew(len(self._trials) + n_trials)

    # ------------------------------------------------------------------ results
    @property
    def n_feasible(self) -> int:
        """Number of complete trials within every hard constraint."""
        return self._n_feasible

    def left_running(self) -> list[int]:
        """The trials recorded as running that no process runs: this study is a read-only view and no process
        writes the study (its run was killed, or its machine stopped). They are recorded as interrupted, and their
        configurations run again, when the study is next opened for writing.

        Returns:
            Their numbers; empty when this study writes, another process does, or the store cannot tell.
        """
        if not self.read_only or not self._running or self._store.has_writer() is not False:
            return []
        return sorted(self._running)

    def count(self, status: TrialStatus | str) -> int:
        """Number of trials with a given status.

        Raises:
            ConfigError: for a status that is not one of :class:`~moo_hpo.trial.TrialStatus`'s.
        """
        try:
            status = TrialStatus(status)
        except ValueError:
            raise ConfigError(
                f"unknown trial status {status!r}; expected one of {[s.value for s in TrialStatus]}"
            ) from None
        return len(self._running) if status is TrialStatus.RUNNING else self._counts[status]

    def feasible_trials(self) -> list[Trial]:
        """Complete trials within every hard constraint, in number order."""
        return analysis.feasible_trials(self.problem, self._trials)

    def pareto_front(self, by: str = "auto") -> list[Trial]:
        """The feasible trials that no other feasible trial dominates, in number order.

        With exact metrics each trial is judged on what it measured. With noisy ones that front crowns lucky
        draws, so by default it is judged by a model's estimates (:meth:`model_front`) as soon as the study
        shows that its objectives are noisy: one configuration, measured twice (the Bayesian optimizers' noise
        check, :meth:`reevaluate`, or a repeat of the user's), gave two different values. :meth:`front_basis`
        says which applies; the hypervolume and the recommendations judge the measurements either way (the
        recommendations judge a configuration run more than once on the mean of its runs).
        Trials of different configurations with identical objective values are all kept (none dominates the
        other). As measured, a configuration run again is one member (its first trial) when its runs measured the
        same values, and each run that no other trial dominates is a member otherwise (a noisy repeat); by the
        model, a configuration run again is one member (its first trial), judged on one estimate.

        Args:
            by: ``"auto"`` (:meth:`front_basis`), ``"measured"`` or ``"model"``.

        Returns:
            The front's trials in number order (by the model: the members of :meth:`model_front`).

        Raises:
            ConfigError: for any other ``by``.
        """
        from moo_hpo.model_front import BASES

        if by not in BASES:
            raise ConfigError(f"pareto_front(by=...) expects one of {list(BASES)}; received {by!r}")
        basis = self.front_basis() if by == "auto" else by
        if basis == "measured":
            return analysis.pareto_front(self.problem, self._trials)
        return [m.trial for m in self.model_front()]

    def front_basis(self) -> str:
        """What :meth:`pareto_front` judges the trials by when not told: ``"model"`` once a configuration
        measured twice gave two different values of an objective (and at most
        :data:`~moo_hpo.model_front.MAX_TRIALS` trials are complete), else ``"measured"``."""
        from moo_hpo.model_front import front_basis

        return front_basis(self.problem, self._trials)

    def robust_front(self, draws: int = robust.DEFAULT_DRAWS) -> list[robust.RobustMember]:
        """The front's configurations judged on all their runs (after :meth:`reevaluate`), for noisy metrics.

        One :class:`~moo_hpo.robust.RobustMember` per configuration that has a run on the front of the measured
        figures (``pareto_front(by="measured")``; once the metrics are found noisy, :meth:`pareto_front` is the
        model's front, whose members :meth:`model_front` gives with the model's estimates) or was run again: its
        original trial's number and configuration, the number of complete runs (the
        original and its repetitions), the mean and standard deviation of each objective over them, how many
        were feasible, the probability that another member dominates it, and, when a Bayesian optimizer
        proposed it, the model's prediction made before it ran. A member with a high probability of being
        dominated may be a lucky draw.

        The probability is a seeded Monte Carlo estimate over normal approximations of each member's mean
        (its standard error from its own runs, or from the noise pooled over the repeated configurations for a
        member run once); None until some configuration ran more than once. See
        :func:`moo_hpo.robust.robust_front` for the details.

        Args:
            draws: Monte Carlo draws of the estimate.

        Returns:
            The members, by original trial number; empty when no trial is feasible.

        Raises:
            ConfigError: for a ``draws`` that is not a positive integer.
        """
        return robust.robust_front(self.problem, self._trials, draws)

    def model_front(self) -> list[ModelEstimate]:
        """The front by a model's estimates, for noisy metrics: a GP per objective over the complete trials
        (noise inferred), and the feasible trials whose posterior means no other's dominate, each with its
        estimates. See :mod:`moo_hpo.model_front`; with exact metrics it is :meth:`pareto_front` but for the
        model's smoothing.
        """
        from moo_hpo.model_front import model_front

        key = (len(self._trials), self._counts[TrialStatus.COMPLETE], self._n_feasible)
        if self._model_front is None or self._model_front[0] != key:
            self._model_front = (key, model_front(self.problem, self._trials, self.problem.seed))
        return list(self._model_front[1])

    # ------------------------------------------------------------------ hypervolume and choices
    def _reference_internal(self) -> np.ndarray:
        """The reference point in the internal convention (see :mod:`moo_hpo.analysis`)."""
        return analysis.reference_internal(self.problem, self._trials)

    @property
    def reference_point(self) -> dict[str, float]:
        """The hypervolume reference point, metric name -> value in the metric's own units.

        Per objective: its ``ref`` when given; otherwise derived from the feasible trials (worst value
        plus 10% of the observed range). A derived point is provisional until
        ``REFERENCE_FREEZE_AFTER`` (10) trials are feasible; the :meth:`tell` that makes them so freezes
        it from those trials and stores it, so the hypervolume keeps one meaning. Reading this property
        never changes the study. Replace the point with :meth:`set_reference_point`.

        Raises:
            NoFeasibleTrialError: when a value must be derived and no trial is feasible.
        """
        return self._reference.in_units(self._reference_internal())

    @property
    def reference_point_frozen(self) -> bool:
        """True when the reference point is explicit or frozen (it will not change any more)."""
        return self._reference.is_frozen

    def set_reference_point(self, ref: Mapping[str, float]) -> None:
        """Freeze a reference point given in the metrics' own units (every objective named).

        Raises:
            ConfigError: for missing or unknown names.
            StorageError: when the study is open read-only.
        """
        names = [o.name for o in self.objectives]
        if not isinstance(ref, Mapping) or set(ref) != set(names):
            raise ConfigError(f"expected a reference value for each objective {names}; received {ref!r}")
        if self.read_only:
            raise StorageError(f"the study in {self._store.location!r} is open read-only")
        self._reference.set(self._reference.from_units(ref))
        self._store.set_meta("reference_point", self._reference.record())

    def _freeze_reference_if_due(self) -> None:
        """Freeze a derived reference point once enough trials are feasible (stored when writable); then, once, say
        which explicit refs no feasible trial beats (every objective's ref given: the point is frozen from the start)."""
        if not self._ref_reach_checked and self._n_feasible >= analysis.REFERENCE_FREEZE_AFTER:
            self._ref_reach_checked = True
            self._note_ref_out_of_reach()
        if self._reference.is_frozen or self._n_feasible < analysis.REFERENCE_FREEZE_AFTER:
            return
        feasible = analysis.in_told_order(self.feasible_trials())
        if self._reference.freeze_if_due(self.problem.objective_matrix(feasible)):
            if not self.read_only:
                self._store.set_meta("reference_point", self._reference.record())
            logger.info(
                "reference point frozen from %d feasible trials: %s",
                analysis.REFERENCE_FREEZE_AFTER,
                self._reference.in_units(self._reference.frozen),
            )
            self._note_reference_tighter_than_bounds()

    def _note_ref_out_of_reach(self) -> None:
        """Log when no feasible trial of the first ones reaches an objective's explicit ``ref`` (taken for a target,
        ``ref=1.0`` of an accuracy): the hypervolume stays 0, and the Bayesian optimizers that aim at it have little to
        go by."""
        Y = self.problem.objective_matrix(self.feasible_trials())
        out = [f"{o.name} {o.ref:g}" for j, (o, e) in enumerate(zip(self.objectives, self._reference.explicit, strict=True))
               if e is not None and not (Y[:, j] < e).any()]
        if out:
            logger.warning(
                "none of the first %d feasible trials is better than the ref of %s: the hypervolume stays 0 until one "
                "is; a ref is the worst value that still counts, not a target (give one that good trials beat, or none "
                "to derive it)", len(Y), ", ".join(out),
            )

    def _note_reference_tighter_than_bounds(self) -> None:
        """Log each derived reference value tighter than a hard bound on the same objective."""
        for o, c, value in analysis.reference_tighter_than_bounds(self.problem, self._reference):
            logger.warning(
                "the reference point's %s (%.4g, from the first feasible trials) is tighter than the hard limit "
                "%s: feasible trials between the two add no hypervolume; give %s(%r, ref=%g) (in a TOML study, ref = %g "
                "in its [[objectives]] table; a stored study resumed so takes it) to count them",
                o.name, value, c.describe(), "Minimize" if o.direction == "minimize" else "Maximize", o.name, c.bound, c.bound,
            )

    def _ref_argument(self, ref: Mapping[str, float] | Sequence[float] | None) -> np.ndarray:
        return self._reference_internal() if ref is None else self._reference.from_units(ref)

    def hypervolume(self, ref: Mapping[str, float] | Sequence[float] | None = None, normalized: bool = False) -> float:
        """Hypervolume of the feasible trials.

        Args:
            ref: a reference point in the metrics' own units (name -> value, or values in objective
                order); default :attr:`reference_point`.
            normalized: scale each objective so this study's ideal (the best values of its trials inside the box)
                is 0 and the reference point 1: a share of this study's own box, which does not compare between
                studies (a front of one point scores 1); compare raw values against one reference point instead.

        Returns:
            The hypervolume (0.0, with a warning, when no feasible trial beats the reference point).

        Raises:
            NoFeasibleTrialError: when no trial is feasible and the reference point must be derived.
        """
        r = self._ref_argument(ref)
        return analysis.hypervolume(self.problem, self._trials, r, normalized=normalized)

    def hypervolume_history(self, ref: Mapping[str, float] | Sequence[float] | None = None) -> np.ndarray:
        """Hypervolume of the feasible trials after each trial, in trial-number order.

        Returns:
            Array with one value per trial (zeros before the first feasible trial, all zeros when no
            trial is feasible yet).
        """
        if self.n_feasible == 0:
            if ref is not None:
                self._ref_argument(ref)  # a bad reference point is refused all the same
            return np.zeros(len(self._trials))
        return analysis.hypervolume_history(self.problem, self._trials, self._ref_argument(ref))

    def hypervolume_contributions(self) -> dict[int, float]:
        """Exclusive hypervolume contribution of each front trial: trial number -> value."""
        if self.n_feasible == 0:
            return {}
        return analysis.hypervolume_contributions(self.problem, self._trials, self._reference_internal())

    def recommend(
        self,
        method: str = "knee",
        weights: Mapping[str, float] | Sequence[float] | None = None,
        objective: str | None = None,
        constraints: Sequence[Constraint] = (),
        normalized: bool = True,
    ) -> Recommendation:
        """Choose an operating point from the feasible trials.

        ``constraints`` first filter the feasible trials (e.g. ``[mh.AtMost("latency_p99_ms", 20)]``:
        epsilon-constraint and filter-then-pick); so does each objective's ``ref`` (the worst value that still
        counts), when some trial is within every one given; the method then picks from the front of what is left. A
        configuration run more than once (:meth:`reevaluate`, the Bayesian noise check) is judged on the mean of each
        metric over its runs (:attr:`~moo_hpo.choice.Recommendation.metrics`) and named by its original trial.

        Args:
            method: ``"knee"``, ``"best"`` (needs ``objective`` unless there is one), ``"asf"`` or ``"tchebycheff"``
                (need ``weights``). See :mod:`moo_hpo.choice` for the definitions.
            weights: objective name -> weight (missing names weigh 0), or weights in objective order.
            objective: the objective to optimize for ``"best"``.
            constraints: extra bounds to filter by, on any stored metric.
            normalized: ASF on normalized objectives (True) or in the metrics' own units (False).

        Returns:
            A :class:`~moo_hpo.choice.Recommendation` with the trial and a one-line reason.

        Raises:
            NoFeasibleTrialError: when no trial is feasible (naming the least violating one), or none
                passes the filters.
            ConfigError: for an unknown method, objective or weight.
        """
        chosen = analysis.recommend(self.problem, self._trials, method, weights, objective, constraints, normalized)
        if "the front " in chosen.reason and self.front_basis() == "model":  # not the front pareto_front() gives
            chosen.reason = chosen.reason.replace("the front ", "the front of the measured figures (a configuration's "
                                                  "runs averaged) ", 1)
        return chosen

    def recommendations(self, weights: Mapping[str, float] | Sequence[float] | None = None) -> list[Recommendation]:
        """The knee, the best trial per objective and, with ``weights``, the ASF choice."""
        out = [self.recommend("knee")]
        out += [self.recommend("best", objective=o.name) for o in self.objectives]
        if weights is not None:
            out.append(self.recommend("asf", weights=weights))
        return out

    def to_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, status, ``params_<name>``, ``metrics_<name>``, feasibility,
        violation, error, times and optimizer; once a trial reported intermediate metrics, also ``last_step``
        (its last report's step) and ``pruned`` (why the pruner stopped it); once an interrupted trial ran again,
        ``retry_of`` (the number of the interrupted trial a retry runs again, ``<NA>`` for other trials); once a
        configuration ran again (:meth:`reevaluate`, the noise check), ``repeat_of`` (its original trial's number).

        ``violation``: the hard constraints' total violation of a complete trial, in the metrics' own units (the
        least violating trial an error names is judged relative to each bound instead); of a trial skipped before
        training or pruned, that of the hard constraints it measured (NaN when it measured none of them); NaN
        otherwise. Parameters keep the values
        chosen: an integer parameter's column is pandas' ``Int64`` (``<NA>`` where inactive), a categorical one holds
        its choices as objects (a choice of ``None`` stays ``None``; NaN where inactive)."""
        import pandas as pd

        problem = self.problem
        violations = problem.violation(self._trials) if self._trials else np.array([])
        reported = any(t.reports for t in self._trials)
        retried = any(RETRY_OF in t.extra for t in self._trials if isinstance(t.extra, dict))
        from moo_hpo.robust import has_repeats, root_number

        repeated = has_repeats(self._trials)
        rows = []
        for t, v in zip(self._trials, violations, strict=True):
            row: dict[str, Any] = {"number": t.number, "status": t.status.value}
            row.update({f"params_{k}": t.config.get(k) for k in self.space.names})
            row.update({f"metrics_{k}": val for k, val in t.metrics.items()})
            row["feasible"] = problem.is_feasible(t)
            if t.status is TrialStatus.COMPLETE:
                row["violation"] = float(v)
            elif t.status in (TrialStatus.INFEASIBLE_SKIPPED, TrialStatus.PRUNED) and (
                    not problem.hard_constraints or any(c.name in t.metrics for c in problem.hard_constraints)):
                row["violation"] = float(sum(max(c.value(t.metrics[c.name]), 0.0) for c in problem.hard_constraints
                                             if c.name in t.metrics))  # what it measured broke
            else:
                row["violation"] = np.nan
            row.update(
                error=(t.error.splitlines()[0] if t.error else None),
                started_at=t.started_at,
                finished_at=t.finished_at,
                duration_s=t.duration,
                optimizer=t.optimizer,
            )
            if reported:
                row["last_step"] = t.reports[-1]["step"] if t.reports else None
                row["pruned"] = t.extra.get("pruned") if t.status is TrialStatus.PRUNED else None
            if retried:
                row["retry_of"] = t.extra.get(RETRY_OF) if isinstance(t.extra, dict) else None
            if repeated:  # a run of a configuration again (reevaluate, the noise check): its original trial's number
                row["repeat_of"] = root_number(t) if root_number(t) != t.number else None
            rows.append(row)
        if not rows:  # the columns of an empty study, so that df["status"] works on it too
            columns = ["number", "status", *(f"params_{k}" for k in self.space.names), "feasible", "violation",
                       "error", "started_at", "finished_at", "duration_s", "optimizer"]
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame(rows)
        from moo_hpo.params import Categorical, Int

        for name, param in self.space.params.items():  # values as chosen, so a row goes back into set_params
            active = [name in t.config for t in self._trials]
            values = [t.config.get(name) for t in self._trials]
            whole = all(isinstance(v, int) and not isinstance(v, bool) for v, a in zip(values, active, strict=True) if a)
            if isinstance(param, Int) and whole:  # integers, missing where inactive (not floats with NaN); an invalid
                frame[f"params_{name}"] = pd.array(  # configuration kept as given (a failed trial) leaves it as it is
                    [v if a else pd.NA for v, a in zip(values, active, strict=True)], dtype="Int64")
            elif isinstance(param, Categorical):  # a choice of None stays None (NaN: inactive)
                frame[f"params_{name}"] = pd.Series([v if a else np.nan for v, a in zip(values, active, strict=True)],
                                                    dtype=object, index=frame.index)
        for column in ("retry_of", "repeat_of"):
            if column in frame:
                frame[column] = frame[column].astype("Int64")
        return frame

    def __repr__(self) -> str:
        return (
            f"Study({self.name!r}, {len(self._trials)} trials, {self.n_feasible} feasible, "
            f"objectives={list(self.objectives)}, constraints={list(self.constraints)}, "
            f"storage={self._store.location!r})"
        )
