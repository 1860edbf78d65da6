"""What an Optuna user reaches for on a trial or a study, and moo_hpo's name for it.

``trial.suggest_float(...)``, ``trial.params`` or ``study.best_trials`` raise the ``AttributeError`` Python would,
with moo_hpo's way of doing the same added to the message, so code ported from Optuna says where to go.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STUDY_NAMES", "TRIAL_NAMES", "missing_attribute"]

_SUGGEST = ("trials do not suggest values: declare each parameter in the study's mh.Space "
            "(mh.Float(1e-4, 1e-1, log=True), mh.Int, mh.Categorical) and read it from the configuration the "
            "objective receives (config['lr'])")

#: Optuna's name on a trial -> what to use instead
TRIAL_NAMES = {
    **{name: _SUGGEST for name in ("suggest_float", "suggest_int", "suggest_categorical", "suggest_uniform",
                                   "suggest_loguniform", "suggest_discrete_uniform")},
    "params": "the configuration is trial.config",
    "values": "the measured metrics are trial.metrics, by name",
    "value": "the measured metrics are trial.metrics, by name",
    "user_attrs": "data kept beside the metrics is trial.extra",
    "set_user_attr": "write trial.extra['key'] = value in the objective (kept with the trial)",
    "state": "the status is trial.status",
    "datetime_start": "the start is trial.started_at (UNIX time)",
    "datetime_complete": "the end is trial.finished_at (UNIX time)",
}

#: Optuna's name on a study -> what to use instead
STUDY_NAMES = {
    "best_trials": "the trade-offs are study.pareto_front()",
    "best_trial": "one trial of the front with the reason it was chosen is study.recommend() (the knee by default)",
    "best_params": "study.recommend().trial.config is the chosen trial's configuration",
    "best_value": "study.recommend().trial.metrics are the chosen trial's metrics",
    "best_values": "study.recommend().trial.metrics are the chosen trial's metrics",
    "trials_dataframe": "the trials as a table are study.to_dataframe()",
    "enqueue_trial": "study.enqueue(config) queues a configuration",
    "get_trials": "the trials are study.trials",
    "directions": "the objectives and their directions are study.objectives",
    "direction": "the objectives and their directions are study.objectives",
}


def missing_attribute(owner: object, name: str, names: dict[str, str]) -> Any:
    """For ``__getattr__``: the ``AttributeError`` for ``owner.name``, with moo_hpo's way where ``name`` is Optuna's.

    A property of ``owner`` that raised ``AttributeError`` itself (Python then asks ``__getattr__``) is run again,
    so that its own error is the one seen.

    Args:
        owner: the object asked.
        name: the attribute asked for.
        names: Optuna's names and moo_hpo's ways (:data:`TRIAL_NAMES`, :data:`STUDY_NAMES`).

    Raises:
        AttributeError: always.
    """
    attribute = getattr(type(owner), name, None)
    if isinstance(attribute, property) and attribute.fget is not None:
        return attribute.fget(owner)  # raises the property's own error again
    text = f"{type(owner).__name__!r} object has no attribute {name!r}"
    if name in names:
        text += f" (that is Optuna's; in moo_hpo {names[name]})"
    raise AttributeError(text, name=name, obj=owner)  # name and obj: Python's own "Did you mean" still works
