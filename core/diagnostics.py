"""Tuning diagnostics: learning curves, early-stopping history, baseline against tuned.

The compute functions return plain frames, which are logged to the tuned MLflow run as
Parquet next to Plotly JSON charts, and read back by `load_diagnostics` for the dashboard.
The figure builders take frames and return a `go.Figure`, with no I/O.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from mlflow.tracking import MlflowClient
from plotly.subplots import make_subplots
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, learning_curve

from core.config import resolve_tracking_uri
from core.plots import apply_layout

# Baseline, then tuned, in the comparison chart.
BAR_COLORS = ("#5d6d7e", "#2e86c1")

logger = logging.getLogger(__name__)

DIAGNOSTICS_DIR = "diagnostics"
LEARNING_CURVE_SIZES = (0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class Diagnostics:
    """Diagnostics of one tuned model, as logged to its run.

    Attributes:
        learning_curves: One row per model and training size: `model`, `train_size`,
            `train_auc_mean`, `train_auc_std`, `valid_auc_mean`, `valid_auc_std`.
        comparison: One row per model (`baseline`, `tuned`): `train_auc`, `test_auc`,
            `auc_gap`, `oof_cost`, `test_cost`, `threshold`.
        early_stopping: Loss per boosting round (`round`, `train_loss`, `validation_loss`),
            or None for families without early stopping.
        stopping_round: Number of trees kept by early stopping, or None.
    """

    learning_curves: pd.DataFrame
    comparison: pd.DataFrame
    early_stopping: pd.DataFrame | None = None
    stopping_round: int | None = None

    def final_gaps(self) -> dict[str, float]:
        """Return the train minus validation AUC at the largest training size, by model."""
        gaps = {}
        for model, rows in self.learning_curves.groupby("model", sort=False):
            last = rows.sort_values("train_size").iloc[-1]
            gaps[str(model)] = float(last["train_auc_mean"] - last["valid_auc_mean"])
        return gaps


def learning_curve_frame(
    pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    label: str,
    folds: int = 5,
    seed: int = 42,
    sizes: tuple[float, ...] = LEARNING_CURVE_SIZES,
) -> pd.DataFrame:
    """Compute train and validation ROC AUC against training size with stratified CV.

    Args:
        pipeline: An unfitted model pipeline; each fold fits a clone.
        X: Raw training features.
        y: 0/1 targets.
        label: Value of the `model` column, such as "baseline" or "tuned".
        folds: Stratified folds per training size.
        seed: Seed of the fold shuffling.
        sizes: Fractions of each training fold to fit on.

    Returns:
        One row per training size, in rows fitted.
    """
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # Folds run serially: each estimator already uses every core.
    train_sizes, train_scores, valid_scores = learning_curve(
        pipeline,
        X,
        y,
        train_sizes=np.asarray(sizes),
        cv=splitter,
        scoring="roc_auc",
        n_jobs=1,
    )
    return pd.DataFrame(
        {
            "model": label,
            "train_size": train_sizes.astype(int),
            "train_auc_mean": train_scores.mean(axis=1),
            "train_auc_std": train_scores.std(axis=1),
            "valid_auc_mean": valid_scores.mean(axis=1),
            "valid_auc_std": valid_scores.std(axis=1),
        }
    )


def early_stopping_frame(estimator) -> tuple[pd.DataFrame, int]:
    """Read the per-round train and validation loss of a boosted model fitted with early stopping.

    The estimator must have been fitted with two evaluation sets, training rows first and
    validation rows second, as `core.tuning.fit_with_early_stopping` does.

    Returns:
        The loss per round (1-based) and the number of trees early stopping kept.
    """
    if hasattr(estimator, "evals_result_") and hasattr(estimator, "booster_"):
        history = estimator.evals_result_
        train_loss = next(iter(history["train"].values()))
        valid_loss = next(iter(history["validation"].values()))
    else:
        history = estimator.evals_result()
        train_loss = history["validation_0"]["logloss"]
        valid_loss = history["validation_1"]["logloss"]
    frame = pd.DataFrame(
        {
            "round": np.arange(1, len(train_loss) + 1),
            "train_loss": np.asarray(train_loss, dtype=float),
            "validation_loss": np.asarray(valid_loss, dtype=float),
        }
    )
    return frame, trees_kept(estimator)


def trees_kept(estimator) -> int:
    """Return the number of trees an early-stopped XGBoost or LightGBM model predicts with."""
    if hasattr(estimator, "best_iteration_"):
        best = int(estimator.best_iteration_ or 0)
        return best if best > 0 else int(estimator.n_estimators)
    best = getattr(estimator, "best_iteration", None)
    return int(best) + 1 if best is not None else int(estimator.n_estimators)


def comparison_row(pipeline, X_train: pd.DataFrame, y_train: np.ndarray, metrics: dict) -> dict:
    """Summarise a fitted model: train AUC, test AUC, their gap, costs and threshold.

    Args:
        pipeline: The pipeline fitted on the whole training part.
        X_train: Raw training features, for the in-sample AUC.
        y_train: Training targets.
        metrics: The run metrics of `core.training.fit_and_evaluate`.
    """
    train_auc = float(roc_auc_score(y_train, pipeline.predict_proba(X_train)[:, 1]))
    return {
        "train_auc": train_auc,
        "test_auc": float(metrics["test_auc"]),
        "auc_gap": train_auc - float(metrics["test_auc"]),
        "oof_cost": float(metrics["oof_cost"]),
        "test_cost": float(metrics["test_cost"]),
        "threshold": float(metrics["threshold"]),
    }


def log_diagnostics(
    run_id: str, diagnostics: Diagnostics, tracking_uri: str | None = None
) -> None:
    """Log the diagnostics to a finished run as Parquet data, a JSON summary and Plotly JSON."""
    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    frames = {
        "learning_curves": diagnostics.learning_curves,
        "comparison": diagnostics.comparison,
    }
    if diagnostics.early_stopping is not None:
        frames["early_stopping"] = diagnostics.early_stopping
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in frames.items():
            path = Path(tmp) / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            client.log_artifact(run_id, str(path), artifact_path=DIAGNOSTICS_DIR)
    summary = {
        "stopping_round": diagnostics.stopping_round,
        "final_gaps": diagnostics.final_gaps(),
    }
    client.log_dict(run_id, summary, f"{DIAGNOSTICS_DIR}/summary.json")
    for name, figure in diagnostics_figures(diagnostics).items():
        client.log_text(run_id, figure.to_json(), f"{DIAGNOSTICS_DIR}/plots/{name}.json")
    logger.info("logged diagnostics to run %s", run_id)


def load_diagnostics(run_id: str, tracking_uri: str | None = None) -> Diagnostics:
    """Read the diagnostics logged by `log_diagnostics` back from a run.

    Raises:
        FileNotFoundError: If the run has no diagnostics (it was not a tuned run, or was
            logged with diagnostics turned off).
    """
    uri = resolve_tracking_uri(tracking_uri)
    try:
        local = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=DIAGNOSTICS_DIR, tracking_uri=uri
            )
        )
    except mlflow.exceptions.MlflowException as error:
        raise FileNotFoundError(
            f"Run {run_id} has no diagnostics; tune again with diagnostics turned on."
        ) from error
    if not (local / "summary.json").exists():
        raise FileNotFoundError(f"Run {run_id} has no {DIAGNOSTICS_DIR}/summary.json.")
    summary = json.loads((local / "summary.json").read_text())
    early_path = local / "early_stopping.parquet"
    return Diagnostics(
        learning_curves=pd.read_parquet(local / "learning_curves.parquet"),
        comparison=pd.read_parquet(local / "comparison.parquet"),
        early_stopping=pd.read_parquet(early_path) if early_path.exists() else None,
        stopping_round=summary.get("stopping_round"),
    )


def diagnostics_figures(diagnostics: Diagnostics) -> dict[str, go.Figure]:
    """Build every diagnostics chart, keyed by artifact name."""
    figures = {
        "learning_curves": learning_curve_figure(diagnostics.learning_curves),
        "comparison": comparison_figure(diagnostics.comparison),
    }
    if diagnostics.early_stopping is not None:
        figures["early_stopping"] = early_stopping_figure(
            diagnostics.early_stopping, diagnostics.stopping_round
        )
    return figures


def learning_curve_figure(curves: pd.DataFrame) -> go.Figure:
    """Draw train (dashed) and validation (solid) AUC against training size, per model."""
    fig = go.Figure()
    for model, rows in curves.groupby("model", sort=False):
        rows = rows.sort_values("train_size")
        for split, dash in (("train", "dash"), ("valid", "solid")):
            fig.add_trace(
                go.Scatter(
                    x=rows["train_size"],
                    y=rows[f"{split}_auc_mean"],
                    error_y={"type": "data", "array": rows[f"{split}_auc_std"]},
                    mode="lines+markers",
                    name=f"{model}, {'train' if split == 'train' else 'validation'}",
                    line={"dash": dash},
                )
            )
    return apply_layout(fig, "Learning curves", "Training rows", "ROC AUC")


def early_stopping_figure(history: pd.DataFrame, stopping_round: int | None) -> go.Figure:
    """Draw train and validation log loss per boosting round, marking the round kept."""
    fig = go.Figure()
    for column, name in (("train_loss", "train"), ("validation_loss", "validation")):
        fig.add_trace(go.Scatter(x=history["round"], y=history[column], mode="lines", name=name))
    if stopping_round is not None:
        fig.add_vline(
            x=stopping_round,
            line={"dash": "dot", "color": "grey"},
            annotation_text=f"kept {stopping_round} trees",
        )
    return apply_layout(fig, "Early stopping", "Boosting round", "Weighted log loss")


def comparison_figure(comparison: pd.DataFrame) -> go.Figure:
    """Draw baseline against tuned: ROC AUC and cost per customer, each on its own axis."""
    panels = {
        "ROC AUC (higher is better)": {"train_auc": "train", "test_auc": "test"},
        "Cost per customer (lower is better)": {"oof_cost": "out-of-fold", "test_cost": "test"},
    }
    fig = make_subplots(rows=1, cols=2, subplot_titles=list(panels))
    for column, bars in enumerate(panels.values(), start=1):
        for index, (_, row) in enumerate(comparison.iterrows()):
            fig.add_trace(
                go.Bar(
                    x=list(bars.values()),
                    y=[row[name] for name in bars],
                    name=str(row["model"]),
                    legendgroup=str(row["model"]),
                    showlegend=column == 1,
                    marker_color=BAR_COLORS[index % len(BAR_COLORS)],
                ),
                row=1,
                col=column,
            )
    fig.update_layout(barmode="group")
    return apply_layout(fig, "Baseline against tuned", "", "")


def importance_figure(importances: dict[str, float]) -> go.Figure:
    """Draw hyperparameter importances as horizontal bars, largest on top."""
    ordered = sorted(importances.items(), key=lambda item: item[1])
    fig = go.Figure(
        go.Bar(x=[value for _, value in ordered], y=[name for name, _ in ordered], orientation="h")
    )
    return apply_layout(fig, "Hyperparameter importance", "Importance (sums to 1)", "")
