"""The `train` command: fit, evaluate and log one MLflow run per model."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.code_dataset_source import CodeDatasetSource
from sklearn.metrics import roc_auc_score

from core import costs, plots
from core.config import DEFAULT_COST_FN, DEFAULT_COST_FP, DEFAULT_SEED
from core.data import Dataset, load_dataset, split_features_target, train_test_split_frame
from core.emp import emp_score
from core.evaluation import (
    CrossValResult,
    classification_metrics,
    cross_val_oof,
    positive_weight,
)
from core.models import (
    MODEL_NAMES,
    build_pipeline,
    check_imbalance,
    check_model_name,
    mlp_activation,
    model_family,
    model_params,
)
from core.schema import ID_COLUMN, TARGET_COLUMN
from core.serving import BACKGROUND_ROWS, log_churn_model
from core.tracking import configure_tracking, git_commit, log_predictions, tracked_run

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Settings of one `train` call; the defaults are the README's first run."""

    data_path: str | None = None
    models: tuple[str, ...] = MODEL_NAMES
    imbalance: str = "class_weight"
    cost_fn: float = DEFAULT_COST_FN
    cost_fp: float = DEFAULT_COST_FP
    folds: int = 5
    seed: int = DEFAULT_SEED
    test_size: float = 0.2
    fast: bool = False
    tracking_uri: str | None = None
    experiment: str | None = None

    def validate(self) -> None:
        """Raise ValueError naming the first invalid setting and its fix."""
        for name in self.models:
            check_model_name(name)
        if not self.models:
            raise ValueError("No models given; pass at least one name to --models.")
        check_imbalance(self.imbalance)
        costs.check_costs(self.cost_fn, self.cost_fp)
        if not 2 <= self.folds <= 20:
            raise ValueError(f"--folds must be between 2 and 20, got {self.folds}.")
        if not 0.05 <= self.test_size <= 0.5:
            raise ValueError(f"test size must be between 0.05 and 0.5, got {self.test_size}.")


@dataclass
class SplitData:
    """The stratified train/test split of one data set, raw features and 0/1 targets."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray

    @classmethod
    def from_dataset(cls, dataset: Dataset, *, test_size: float, seed: int) -> SplitData:
        train_df, test_df = train_test_split_frame(dataset.frame, test_size=test_size, seed=seed)
        X_train, y_train = split_features_target(train_df)
        X_test, y_test = split_features_target(test_df)
        return cls(X_train, y_train, X_test, y_test)


@dataclass
class EvaluatedModel:
    """A model fitted on the whole training part, with its out-of-fold and test results."""

    name: str
    params: dict
    pipeline: object
    cv: CrossValResult
    threshold: float
    oof_cost: float
    test_score: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)


def fit_and_evaluate(
    name: str,
    split: SplitData,
    *,
    imbalance: str = "class_weight",
    cost_fn: float = DEFAULT_COST_FN,
    cost_fp: float = DEFAULT_COST_FP,
    folds: int = 5,
    seed: int = DEFAULT_SEED,
    fast: bool = False,
    params: dict | None = None,
) -> EvaluatedModel:
    """Cross-validate a model, choose its threshold out of fold, refit, and score the test set.

    The threshold is the cost-optimal one on the out-of-fold probabilities, so the test
    set is used only to report.
    """
    pipeline = build_pipeline(
        name,
        imbalance=imbalance,
        params=params,
        pos_weight=positive_weight(split.y_train),
        random_state=seed,
        fast=fast,
    )
    cv = cross_val_oof(pipeline, split.X_train, split.y_train, folds=folds, random_state=seed)
    oof_curve = costs.cost_curve(split.y_train, cv.oof_score, cost_fn, cost_fp)
    choice = costs.optimal_threshold(oof_curve)

    pipeline.fit(split.X_train, split.y_train)
    test_score = pipeline.predict_proba(split.X_test)[:, 1]

    metrics = {"cv_auc_mean": cv.auc_mean, "cv_auc_std": cv.auc_std}
    metrics["oof_auc"] = float(roc_auc_score(split.y_train, cv.oof_score))
    metrics["oof_cost"] = choice.cost_per_customer
    metrics.update(classification_metrics(split.y_test, test_score, choice.threshold))
    n_test = len(split.y_test)
    metrics["threshold"] = choice.threshold
    metrics["test_cost"] = (
        costs.cost_at(split.y_test, test_score, choice.threshold, cost_fn, cost_fp) / n_test
    )
    metrics["test_cost_default_threshold"] = (
        costs.cost_at(split.y_test, test_score, 0.5, cost_fn, cost_fp) / n_test
    )
    # Expected maximum profit under the published default campaign settings, so runs can be
    # compared on it without choosing costs.
    emp = emp_score(split.y_test, test_score)
    metrics["test_emp"] = emp.emp
    metrics["test_emp_share"] = emp.share_contacted
    estimator = pipeline.named_steps["model"]
    if hasattr(estimator, "n_iter_") and model_family(name) == "mlp":
        metrics["mlp_epochs"] = float(estimator.n_iter_)
    return EvaluatedModel(
        name=name,
        params=model_params(name, fast=fast, overrides=params),
        pipeline=pipeline,
        cv=cv,
        threshold=choice.threshold,
        oof_cost=choice.cost_per_customer,
        test_score=test_score,
        metrics=metrics,
    )


def predictions_frame(model: EvaluatedModel, split: SplitData) -> pd.DataFrame:
    """Return out-of-fold and test probabilities with customer ids, for the Parquet artifact."""
    oof = pd.DataFrame(
        {
            ID_COLUMN: split.X_train[ID_COLUMN].astype(str).to_numpy(),
            "split": "oof",
            "y_true": split.y_train,
            "y_score": model.cv.oof_score,
        }
    )
    test = pd.DataFrame(
        {
            ID_COLUMN: split.X_test[ID_COLUMN].astype(str).to_numpy(),
            "split": "test",
            "y_true": split.y_test,
            "y_score": model.test_score,
        }
    )
    return pd.concat([oof, test], ignore_index=True)


def log_figures(model: EvaluatedModel, split: SplitData, cost_fn: float, cost_fp: float) -> None:
    """Log ROC, precision-recall, cost curve and confusion matrix as Plotly JSON artifacts.

    Plotly JSON is a few kB per figure, where a standalone HTML file would embed plotly.js.
    """
    labelled = {
        "out-of-fold": (split.y_train, model.cv.oof_score),
        "test": (split.y_test, model.test_score),
    }
    curves = {}
    for label, (y_true, y_score) in labelled.items():
        curve = costs.cost_curve(y_true, y_score, cost_fn, cost_fp)
        curves[label] = (curve.thresholds, curve.cost_per_customer)
    counts = costs.confusion_at(split.y_test, model.test_score, model.threshold)
    figures = {
        "roc": plots.roc_figure(labelled),
        "precision_recall": plots.precision_recall_figure(labelled),
        "cost_curve": plots.cost_curve_figure(curves, threshold=model.threshold),
        "confusion_matrix": plots.confusion_matrix_figure(
            counts.tp, counts.fp, counts.fn, counts.tn
        ),
    }
    for key, figure in figures.items():
        mlflow.log_text(figure.to_json(), f"plots/{key}.json")


def run_tags(name: str, imbalance: str, dataset: Dataset, kind: str = "train") -> dict[str, str]:
    """Return the tags every model run carries, read by the leaderboard's filters."""
    tags = {
        "model_family": model_family(name),
        "model_name": name,
        "imbalance": imbalance,
        "git_commit": git_commit(),
        "churnlab.kind": kind,
        **dataset.source.as_tags(),
    }
    activation = mlp_activation(name)
    if activation:
        tags["activation"] = activation
    return tags


def log_model_results(
    model: EvaluatedModel,
    split: SplitData,
    dataset: Dataset,
    *,
    imbalance: str,
    cost_fn: float,
    cost_fp: float,
    folds: int,
    seed: int,
) -> None:
    """Log params, metrics, predictions, figures, the data set and the model to the active run."""
    mlflow.log_params(
        {f"model__{k}": v for k, v in model.params.items()}
        | {
            "model": model.name,
            "imbalance": imbalance,
            "cost_fn": cost_fn,
            "cost_fp": cost_fp,
            "folds": folds,
            "seed": seed,
            "n_train": len(split.y_train),
            "n_test": len(split.y_test),
        }
    )
    mlflow.log_metrics(model.metrics)
    log_predictions(predictions_frame(model, split))
    log_figures(model, split, cost_fn, cost_fp)
    train_frame = split.X_train.assign(**{TARGET_COLUMN: split.y_train})
    # A code source carries the data tags; a path string would be resolved by MLflow
    # against several source types and warn.
    source = CodeDatasetSource(tags=dataset.source.as_tags())
    mlflow.log_input(
        mlflow.data.from_pandas(
            train_frame, source=source, name="telco-train", targets=TARGET_COLUMN
        ),
        context="training",
    )
    with tempfile.TemporaryDirectory() as tmp:
        log_churn_model(
            model.pipeline,
            threshold=model.threshold,
            cost_fn=cost_fn,
            cost_fp=cost_fp,
            input_example=split.X_test.head(3),
            work_dir=Path(tmp),
            background=split.X_train.sample(
                n=min(BACKGROUND_ROWS, len(split.X_train)), random_state=seed
            ),
        )


def log_model_run(
    model: EvaluatedModel,
    split: SplitData,
    dataset: Dataset,
    *,
    imbalance: str,
    cost_fn: float,
    cost_fp: float,
    folds: int,
    seed: int,
    kind: str = "train",
    extra_tags: dict[str, str] | None = None,
) -> str:
    """Log an already evaluated model as a new, complete MLflow run and return its run id."""
    tags = run_tags(model.name, imbalance, dataset, kind) | (extra_tags or {})
    with tracked_run(model.name, tags=tags) as run:
        log_model_results(
            model,
            split,
            dataset,
            imbalance=imbalance,
            cost_fn=cost_fn,
            cost_fp=cost_fp,
            folds=folds,
            seed=seed,
        )
        return run.info.run_id


@dataclass
class TrainResult:
    """The run id and metrics of one trained model."""

    name: str
    run_id: str
    metrics: dict[str, float]
    seconds: float


def train(
    config: TrainConfig,
    *,
    progress: Callable[[str], None] | None = None,
    dataset: Dataset | None = None,
) -> list[TrainResult]:
    """Train every model in `config`, logging one MLflow run each.

    The data is validated before anything is written to MLflow, so invalid data leaves
    no run behind. `progress` receives one line per step.
    """
    report = progress or (lambda message: logger.info("%s", message))
    config.validate()
    dataset = dataset or load_dataset(config.data_path, seed=config.seed)
    split = SplitData.from_dataset(dataset, test_size=config.test_size, seed=config.seed)
    uri, _ = configure_tracking(config.tracking_uri, config.experiment)
    report(f"data: {dataset.source.label}; tracking: {uri}")

    results = []
    for position, name in enumerate(config.models, start=1):
        report(f"[{position}/{len(config.models)}] {name}: cross-validating ...")
        started = time.perf_counter()
        # The run opens before fitting, so a model in training shows as RUNNING and a
        # crash or interrupt leaves a FAILED or KILLED run, not a missing one.
        with tracked_run(name, tags=run_tags(name, config.imbalance, dataset)) as run:
            model = fit_and_evaluate(
                name,
                split,
                imbalance=config.imbalance,
                cost_fn=config.cost_fn,
                cost_fp=config.cost_fp,
                folds=config.folds,
                seed=config.seed,
                fast=config.fast,
            )
            log_model_results(
                model,
                split,
                dataset,
                imbalance=config.imbalance,
                cost_fn=config.cost_fn,
                cost_fp=config.cost_fp,
                folds=config.folds,
                seed=config.seed,
            )
            run_id = run.info.run_id
        seconds = time.perf_counter() - started
        results.append(TrainResult(name, run_id, model.metrics, seconds))
        report(
            f"[{position}/{len(config.models)}] {name}: test AUC {model.metrics['test_auc']:.4f}, "
            f"test cost {model.metrics['test_cost']:.4f} at threshold {model.threshold:.3f} "
            f"({seconds:.1f} s, run {run_id})"
        )
    return results


def leaderboard_table(results: list[TrainResult]) -> pd.DataFrame:
    """Return the trained models as a table sorted by test cost, lowest first."""
    rows = [
        {
            "model": r.name,
            "test_cost": r.metrics["test_cost"],
            "threshold": r.metrics["threshold"],
            "test_auc": r.metrics["test_auc"],
            "cv_auc_mean": r.metrics["cv_auc_mean"],
            "oof_cost": r.metrics["oof_cost"],
            "run_id": r.run_id,
        }
        for r in results
    ]
    return pd.DataFrame(rows).sort_values("test_cost").reset_index(drop=True)
