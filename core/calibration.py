"""Probability calibration: reliability diagrams, Brier scores and calibrators fitted on OOF data.

For calibrated probabilities, contacting a customer pays when `p * cost_fn > (1 - p) * cost_fp`,
so the cost-optimal threshold is `cost_fp / (cost_fp + cost_fn)`. The measured optimum of a
cost curve can be compared with it to see how far a model is from calibrated.

Calibrators are fitted on out-of-fold predictions only, so the test set stays unseen. The
calibrated out-of-fold scores are in-sample for the calibrator and look slightly better
calibrated than new data would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from core.costs import _check_inputs, check_costs

logger = logging.getLogger(__name__)

CALIBRATION_METHODS = ("isotonic", "sigmoid")

# Scores are clipped this far from 0 and 1 before the logit, which is infinite at both ends.
LOGIT_EPSILON = 1e-6


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from raw scores to calibrated churn probabilities.

    Attributes:
        method: "isotonic" or "sigmoid".
        model: The fitted scikit-learn estimator.
    """

    method: Literal["isotonic", "sigmoid"]
    model: IsotonicRegression | LogisticRegression

    def transform(self, y_score: ArrayLike) -> np.ndarray:
        """Map raw scores in [0, 1] to calibrated probabilities in [0, 1]."""
        scores = np.asarray(y_score, dtype=np.float64)
        if self.method == "isotonic":
            return np.clip(self.model.predict(scores), 0.0, 1.0)
        return self.model.predict_proba(_logit(scores)[:, None])[:, 1]


def reliability_table(
    y_true: ArrayLike, y_score: ArrayLike, n_bins: int = 10, strategy: str = "quantile"
) -> pd.DataFrame:
    """Tabulate a reliability diagram: mean score against churn rate per bin.

    Args:
        y_true: Labels, 1 for churn and 0 otherwise.
        y_score: Churn probabilities, finite and within [0, 1].
        n_bins: Number of bins, 2 to 100.
        strategy: "quantile" for bins of equal counts, "uniform" for equal widths.

    Returns:
        One row per non-empty bin: `mean_predicted`, `fraction_positive` and `count`.

    Raises:
        ValueError: If the inputs, `n_bins` or `strategy` are invalid.
    """
    labels, scores = _check_inputs(y_true, y_score)
    if not 2 <= int(n_bins) <= 100:
        raise ValueError(f"Invalid n_bins={n_bins!r}: pass a number from 2 to 100, such as 10.")
    if strategy == "quantile":
        edges = np.quantile(scores, np.linspace(0, 1, int(n_bins) + 1))
    elif strategy == "uniform":
        edges = np.linspace(0, 1, int(n_bins) + 1)
    else:
        raise ValueError(f"Invalid strategy={strategy!r}: use 'quantile' or 'uniform'.")

    bins = np.clip(np.searchsorted(edges[1:-1], scores, side="right"), 0, int(n_bins) - 1)
    count = np.bincount(bins, minlength=int(n_bins))
    score_sum = np.bincount(bins, weights=scores, minlength=int(n_bins))
    positive_sum = np.bincount(bins, weights=labels, minlength=int(n_bins))
    filled = count > 0
    return pd.DataFrame(
        {
            "mean_predicted": score_sum[filled] / count[filled],
            "fraction_positive": positive_sum[filled] / count[filled],
            "count": count[filled],
        }
    )


def brier_score(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Compute the Brier score, the mean squared error of the probabilities (lower is better)."""
    labels, scores = _check_inputs(y_true, y_score)
    return float(brier_score_loss(labels, scores))


def fit_calibrator(y_true: ArrayLike, y_score: ArrayLike, method: str = "isotonic") -> Calibrator:
    """Fit a calibrator on out-of-fold labels and scores.

    Args:
        y_true: Out-of-fold labels, with both classes present.
        y_score: Out-of-fold churn probabilities.
        method: "isotonic" (a monotone step function) or "sigmoid" (Platt scaling on the
            logit of the score).

    Returns:
        The fitted calibrator.

    Raises:
        ValueError: If the method is unknown or the inputs are invalid.
    """
    labels, scores = _check_inputs(y_true, y_score)
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"Invalid method={method!r}: use one of {CALIBRATION_METHODS}.")
    if labels.min() == labels.max():
        raise ValueError("Calibration needs churners and non-churners in the OOF predictions.")
    if method == "isotonic":
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(scores, labels)
    else:
        model = LogisticRegression(C=1e6)
        model.fit(_logit(scores)[:, None], labels)
    logger.info("Fitted a %s calibrator on %d OOF predictions", method, labels.size)
    return Calibrator(method=method, model=model)


def calibrate_predictions(predictions: pd.DataFrame, method: str = "isotonic") -> pd.DataFrame:
    """Replace `y_score` of stored predictions by calibrated scores fitted on the OOF rows.

    Args:
        predictions: A frame from `core.tracking.load_predictions`.
        method: "isotonic" or "sigmoid".

    Returns:
        A copy with calibrated `y_score` on both splits.
    """
    oof = predictions[predictions["split"] == "oof"]
    if oof.empty:
        raise ValueError("The predictions have no OOF rows to fit a calibrator on.")
    calibrator = fit_calibrator(oof["y_true"], oof["y_score"], method)
    calibrated = predictions.copy()
    calibrated["y_score"] = calibrator.transform(predictions["y_score"].to_numpy())
    return calibrated


def theoretical_threshold(cost_fn: float, cost_fp: float) -> float:
    """Return the cost-optimal threshold for calibrated probabilities, FP / (FP + FN)."""
    cost_fn, cost_fp = check_costs(cost_fn, cost_fp)
    return cost_fp / (cost_fp + cost_fn)


def _logit(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(scores, LOGIT_EPSILON, 1.0 - LOGIT_EPSILON)
    return np.log(clipped / (1.0 - clipped))
