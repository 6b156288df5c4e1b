"""Model names, their estimators and the full pipeline for each imbalance strategy."""

from __future__ import annotations

import os
from typing import Any

from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from lightgbm import LGBMClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline as SklearnPipeline
from xgboost import XGBClassifier

from core.features import build_preprocessor

MODEL_NAMES: tuple[str, ...] = (
    "logistic_regression",
    "random_forest",
    "xgboost",
    "lightgbm",
    "mlp_relu",
    "mlp_tanh",
    "mlp_logistic",
)
MODEL_FAMILIES: tuple[str, ...] = (
    "logistic_regression",
    "random_forest",
    "xgboost",
    "lightgbm",
    "mlp",
)
IMBALANCE_STRATEGIES: tuple[str, ...] = ("class_weight", "smote")
PREPROCESS_STEPS: tuple[str, ...] = ("clean", "engineer", "encode")

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": 1.0, "max_iter": 2000},
    "random_forest": {"n_estimators": 300, "min_samples_leaf": 5, "max_features": "sqrt"},
    "xgboost": {
        "n_estimators": 300,
        "learning_rate": 0.05,
        "max_depth": 4,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
    },
    "lightgbm": {
        "n_estimators": 300,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
    },
    "mlp": {
        "hidden_layer_sizes": (32, 16),
        "alpha": 1e-3,
        "learning_rate_init": 1e-3,
        "max_iter": 300,
        "early_stopping": True,
        "validation_fraction": 0.1,
        "n_iter_no_change": 10,
    },
}

# Smaller models for tests and smoke runs; the metrics stay meaningful, only coarser.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "random_forest": {"n_estimators": 60},
    "xgboost": {"n_estimators": 80, "learning_rate": 0.1},
    "lightgbm": {"n_estimators": 80, "learning_rate": 0.1},
    "mlp": {"max_iter": 60},
}


def model_family(name: str) -> str:
    """Return the family of a model name: `mlp_tanh` belongs to `mlp`."""
    check_model_name(name)
    return "mlp" if name.startswith("mlp_") else name


def mlp_activation(name: str) -> str | None:
    """Return the activation of an MLP model name, or None for other models."""
    return name.removeprefix("mlp_") if name.startswith("mlp_") else None


def check_model_name(name: str) -> None:
    """Raise ValueError unless `name` is one of MODEL_NAMES."""
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}.")


def check_imbalance(imbalance: str) -> None:
    """Raise ValueError unless `imbalance` is one of IMBALANCE_STRATEGIES."""
    if imbalance not in IMBALANCE_STRATEGIES:
        raise ValueError(
            f"Unknown imbalance strategy {imbalance!r}; choose from "
            f"{', '.join(IMBALANCE_STRATEGIES)}."
        )


def default_n_jobs() -> int:
    """Return the thread count for one estimator: every core, because folds run serially."""
    return os.cpu_count() or 1


def model_params(name: str, *, fast: bool = False, overrides: dict | None = None) -> dict:
    """Return the hyperparameters of a model: defaults, then fast settings, then overrides."""
    family = model_family(name)
    params = dict(DEFAULT_PARAMS[family])
    if fast:
        params.update(FAST_PARAMS.get(family, {}))
    params.update(overrides or {})
    return params


def make_estimator(
    name: str,
    params: dict[str, Any],
    *,
    imbalance: str = "class_weight",
    pos_weight: float = 1.0,
    random_state: int = 42,
    n_jobs: int | None = None,
):
    """Build the unfitted classifier for `name` with `params`.

    With `class_weight`, each library's own weighting is used; `pos_weight` (negatives per
    positive in the training data) feeds XGBoost's `scale_pos_weight`. The MLP has no class
    weights, so `build_pipeline` oversamples for it instead.
    """
    check_model_name(name)
    check_imbalance(imbalance)
    weighted = imbalance == "class_weight"
    n_jobs = n_jobs or default_n_jobs()
    family = model_family(name)
    if family == "logistic_regression":
        return LogisticRegression(
            class_weight="balanced" if weighted else None, random_state=random_state, **params
        )
    if family == "random_forest":
        return RandomForestClassifier(
            class_weight="balanced" if weighted else None,
            random_state=random_state,
            n_jobs=n_jobs,
            **params,
        )
    if family == "xgboost":
        return XGBClassifier(
            scale_pos_weight=pos_weight if weighted else 1.0,
            eval_metric="logloss",
            tree_method="hist",
            random_state=random_state,
            n_jobs=n_jobs,
            **params,
        )
    if family == "lightgbm":
        return LGBMClassifier(
            class_weight="balanced" if weighted else None,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=-1,
            **params,
        )
    return MLPClassifier(activation=mlp_activation(name), random_state=random_state, **params)


def build_pipeline(
    name: str,
    *,
    imbalance: str = "class_weight",
    params: dict[str, Any] | None = None,
    pos_weight: float = 1.0,
    random_state: int = 42,
    fast: bool = False,
    n_jobs: int | None = None,
) -> Pipeline:
    """Build the unfitted pipeline: clean, engineer, encode, optional resampling, model.

    Resampling sits inside the imbalanced-learn pipeline, so SMOTE only ever sees the
    training fold it is fitted on and is skipped at prediction time. imbalanced-learn
    rejects a nested Pipeline as a step, so the preprocessing steps are laid out flat.
    """
    estimator = make_estimator(
        name,
        model_params(name, fast=fast, overrides=params),
        imbalance=imbalance,
        pos_weight=pos_weight,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    steps: list[tuple[str, Any]] = list(build_preprocessor().steps)
    if imbalance == "smote":
        steps.append(("resample", SMOTE(random_state=random_state)))
    elif model_family(name) == "mlp":
        steps.append(("resample", RandomOverSampler(random_state=random_state)))
    steps.append(("model", estimator))
    return Pipeline(steps)


def fitted_preprocessor(pipeline: Pipeline) -> SklearnPipeline:
    """Return the fitted preprocessing steps of a model pipeline as their own Pipeline.

    The result turns raw records into the encoded, scaled matrix the model sees; its
    `encode` step names the columns.
    """
    steps = [(name, step) for name, step in pipeline.steps if name in PREPROCESS_STEPS]
    return SklearnPipeline(steps)


def fitted_estimator(pipeline: Pipeline):
    """Return the fitted classifier at the end of a model pipeline."""
    return pipeline.named_steps["model"]
