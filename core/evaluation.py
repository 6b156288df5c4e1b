"""Stratified cross-validation with out-of-fold probabilities, and test-set metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold

logger = logging.getLogger(__name__)


@dataclass
class CrossValResult:
    """Out-of-fold probabilities of one model and the ROC AUC of each fold."""

    oof_score: np.ndarray
    fold_auc: list[float]

    @property
    def auc_mean(self) -> float:
        return float(np.mean(self.fold_auc))

    @property
    def auc_std(self) -> float:
        return float(np.std(self.fold_auc))


def positive_weight(y: np.ndarray) -> float:
    """Return negatives per positive, the weight that balances the two classes."""
    n_positive = int(np.sum(y))
    if n_positive == 0:
        raise ValueError("The training data has no churners; class weights need both classes.")
    return float((len(y) - n_positive) / n_positive)


def cross_val_oof(
    pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    folds: int = 5,
    random_state: int = 42,
    on_fold: Callable[[int, float], None] | None = None,
) -> CrossValResult:
    """Fit a clone of `pipeline` on each stratified training fold and score its held-out fold.

    Folds run one after another because each estimator already uses every core; running
    them in parallel as well oversubscribes the machine. `on_fold(fold_index, fold_auc)` is
    called after each fold, for progress or pruning.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}.")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    oof_score = np.full(len(y), np.nan)
    fold_auc: list[float] = []
    for index, (train_idx, valid_idx) in enumerate(splitter.split(X, y)):
        model = clone(pipeline).fit(X.iloc[train_idx], y[train_idx])
        oof_score[valid_idx] = model.predict_proba(X.iloc[valid_idx])[:, 1]
        fold_auc.append(float(roc_auc_score(y[valid_idx], oof_score[valid_idx])))
        logger.debug("fold %d: AUC %.4f", index, fold_auc[-1])
        if on_fold is not None:
            on_fold(index, fold_auc[-1])
    return CrossValResult(oof_score=oof_score, fold_auc=fold_auc)


def classification_metrics(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float, *, prefix: str = "test_"
) -> dict[str, float]:
    """Return ranking, probability and decision metrics at `threshold`.

    Precision of a threshold that contacts nobody is reported as 0, as sklearn does with
    `zero_division=0`.
    """
    y_pred = (y_score >= threshold).astype(int)
    clipped = np.clip(y_score, 1e-15, 1 - 1e-15)
    metrics = {
        "auc": roc_auc_score(y_true, y_score),
        "pr_auc": average_precision_score(y_true, y_score),
        "f1": f1_score(y_true, y_pred, zero_division=0),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred, zero_division=0),
        "accuracy": accuracy_score(y_true, y_pred),
        "brier": brier_score_loss(y_true, y_score),
        "log_loss": log_loss(y_true, clipped, labels=[0, 1]),
    }
    return {f"{prefix}{key}": float(value) for key, value in metrics.items()}
