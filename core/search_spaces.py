"""Optuna search spaces, one per model family, and the model name each trial builds.

Ranges follow the usual ones for tabular data of a few thousand rows. Tree counts of the
boosted families are upper bounds: with early stopping a trial stops adding trees once the
validation loss stops improving.
"""

from __future__ import annotations

from typing import Any

import optuna

from core.models import MODEL_FAMILIES

TUNABLE_FAMILIES: tuple[str, ...] = MODEL_FAMILIES
BOOSTED_FAMILIES: tuple[str, ...] = ("xgboost", "lightgbm")

MLP_ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "logistic")
# Hidden layers as text, because Optuna stores categorical choices as plain values.
MLP_LAYOUTS: dict[str, tuple[int, ...]] = {
    "32": (32,),
    "64": (64,),
    "32-16": (32, 16),
    "64-32": (64, 32),
}

# Upper bound of tree counts with `fast=True`, for tests and smoke runs.
FAST_MAX_TREES = 150


def check_family(family: str) -> None:
    """Raise ValueError unless `family` is one of TUNABLE_FAMILIES."""
    if family not in TUNABLE_FAMILIES:
        raise ValueError(
            f"Unknown model family {family!r}; choose from {', '.join(TUNABLE_FAMILIES)}."
        )


def suggest_params(
    trial: optuna.Trial,
    family: str,
    *,
    fast: bool = False,
    fixed: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Sample one set of hyperparameters for `family` from `trial`.

    Args:
        trial: The Optuna trial that records the choices.
        family: One of TUNABLE_FAMILIES.
        fast: Whether to cap tree counts at FAST_MAX_TREES, for tests.
        fixed: Hyperparameters to hold at a value instead of sampling; they are not
            recorded as trial parameters.

    Returns:
        The model name for `core.models.build_pipeline` (for the MLP, the sampled
        activation picks `mlp_relu`, `mlp_tanh` or `mlp_logistic`) and the estimator
        parameters.
    """
    check_family(family)
    fixed = dict(fixed or {})
    sampler = _FixedAwareTrial(trial, fixed)
    if family == "xgboost":
        params = _xgboost_params(sampler, fast)
    elif family == "lightgbm":
        params = _lightgbm_params(sampler, fast)
    elif family == "random_forest":
        params = _random_forest_params(sampler, fast)
    elif family == "logistic_regression":
        params = {"C": sampler.suggest_float("C", 1e-3, 100.0, log=True)}
    else:
        return _mlp_params(sampler, fast)
    return family, params


def params_from_trial(
    family: str,
    trial_params: dict[str, Any],
    *,
    fast: bool = False,
    fixed: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Rebuild the model name and estimator parameters from a finished trial's `params`."""
    return suggest_params(optuna.trial.FixedTrial(trial_params), family, fast=fast, fixed=fixed)


class _FixedAwareTrial:
    """Route `suggest_*` calls to the trial, except for names held in `fixed`."""

    def __init__(self, trial: optuna.Trial, fixed: dict[str, Any]) -> None:
        self._trial = trial
        self._fixed = fixed

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        if name in self._fixed:
            return int(self._fixed[name])
        return self._trial.suggest_int(name, low, high, log=log)

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        if name in self._fixed:
            return float(self._fixed[name])
        return self._trial.suggest_float(name, low, high, log=log)

    def suggest_categorical(self, name: str, choices: tuple) -> Any:
        if name in self._fixed:
            return self._fixed[name]
        return self._trial.suggest_categorical(name, choices)


def _xgboost_params(trial: _FixedAwareTrial, fast: bool) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, FAST_MAX_TREES if fast else 1000),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 20.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
    }


def _lightgbm_params(trial: _FixedAwareTrial, fast: bool) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, FAST_MAX_TREES if fast else 1000),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
    }


def _random_forest_params(trial: _FixedAwareTrial, fast: bool) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int(
            "n_estimators", 50 if fast else 100, 100 if fast else 600
        ),
        "max_depth": trial.suggest_int("max_depth", 3, 20),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 30, log=True),
        "max_features": trial.suggest_float("max_features", 0.1, 0.8),
    }


def _mlp_params(trial: _FixedAwareTrial, fast: bool) -> tuple[str, dict[str, Any]]:
    activation = trial.suggest_categorical("activation", MLP_ACTIVATIONS)
    layout = trial.suggest_categorical("hidden_layer_sizes", tuple(MLP_LAYOUTS))
    params = {
        "hidden_layer_sizes": MLP_LAYOUTS[layout],
        "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-2, log=True),
    }
    return f"mlp_{activation}", params
