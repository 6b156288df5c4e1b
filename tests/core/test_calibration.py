"""Tests for core.calibration: reliability tables, Brier scores and OOF calibrators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss

from core.calibration import (
    brier_score,
    calibrate_predictions,
    fit_calibrator,
    reliability_table,
    theoretical_threshold,
)


def calibrated_case(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probabilities = rng.beta(2, 5, n)
    labels = (rng.random(n) < probabilities).astype(int)
    return labels, probabilities


def test_reliability_of_calibrated_scores_is_diagonal():
    labels, scores = calibrated_case()
    table = reliability_table(labels, scores, n_bins=10)
    assert len(table) == 10
    assert table["count"].sum() == labels.size
    np.testing.assert_allclose(table["fraction_positive"], table["mean_predicted"], atol=0.03)


def test_reliability_uniform_bins_skip_empty():
    table = reliability_table([0, 1, 1], [0.05, 0.95, 0.96], n_bins=10, strategy="uniform")
    assert table["count"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_bins": 1}, "n_bins=1"), ({"strategy": "kmeans"}, "strategy='kmeans'")],
)
def test_reliability_rejects_invalid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        reliability_table([0, 1], [0.2, 0.8], **kwargs)


def test_brier_matches_sklearn():
    labels, scores = calibrated_case(n=500)
    assert brier_score(labels, scores) == pytest.approx(brier_score_loss(labels, scores))


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrator_lowers_brier_on_new_data(method):
    labels, probabilities = calibrated_case(seed=1)
    distorted = probabilities**3  # systematically too low
    calibrator = fit_calibrator(labels[:10_000], distorted[:10_000], method)
    calibrated = calibrator.transform(distorted[10_000:])
    held_out = labels[10_000:]
    assert brier_score(held_out, calibrated) < brier_score(held_out, distorted[10_000:])
    assert calibrated.min() >= 0
    assert calibrated.max() <= 1


def test_calibrator_rejects_unknown_method():
    with pytest.raises(ValueError, match="method='beta'"):
        fit_calibrator([0, 1], [0.2, 0.8], "beta")


def test_calibrate_predictions_fits_on_oof_only():
    labels, scores = calibrated_case(n=2000, seed=2)
    frame = pd.DataFrame(
        {
            "customerID": np.arange(2000).astype(str),
            "split": ["oof"] * 1500 + ["test"] * 500,
            "y_true": labels,
            "y_score": scores**2,
        }
    )
    flipped = frame.copy()
    flipped.loc[flipped["split"] == "test", "y_true"] = 1 - flipped["y_true"]
    first = calibrate_predictions(frame, "isotonic")
    second = calibrate_predictions(flipped, "isotonic")
    np.testing.assert_array_equal(first["y_score"], second["y_score"])


def test_theoretical_threshold_ten_to_one():
    assert theoretical_threshold(10, 1) == pytest.approx(1 / 11)


def test_theoretical_threshold_rejects_negative_cost():
    with pytest.raises(ValueError, match="cost_fp=-1"):
        theoretical_threshold(10, -1)
