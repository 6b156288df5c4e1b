"""Tests for core.uncertainty: vectorised bootstrap counts, bands and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.costs import cost_at, cost_curve, optimal_threshold
from core.uncertainty import (
    bootstrap_indices,
    contacted_sums,
    cost_band,
    format_interval,
    paired_cost_difference,
    profit_interval,
)
from core.value import CampaignSettings, campaign_profit_at


def make_case(n: int = 1409, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.beta(2, 5, n)
    labels = (rng.random(n) < scores).astype(int)
    return labels, scores


def test_contacted_sums_match_loop():
    labels, scores = make_case(n=50)
    thresholds = np.array([0.1, 0.25, 0.5, 0.9])
    indices = bootstrap_indices(50, 12, seed=1)
    sums = contacted_sums(labels.astype(float), scores, thresholds, indices)
    for r, draw in enumerate(indices):
        for j, threshold in enumerate(thresholds):
            expected = labels[draw][scores[draw] >= threshold].sum()
            assert sums[r, j] == expected


def test_band_point_curve_equals_cost_at():
    labels, scores = make_case()
    band = cost_band(labels, scores, 10, 1, threshold=0.2, n_resamples=20)
    for threshold, cost in zip(band.grid[::20], band.cost[::20], strict=True):
        assert cost == pytest.approx(cost_at(labels, scores, threshold, 10, 1) / labels.size)


def test_band_contains_point_curve():
    labels, scores = make_case()
    band = cost_band(labels, scores, 10, 1, threshold=0.2)
    assert np.all(band.cost_low <= band.cost_high)
    inside = (band.cost_low <= band.cost + 1e-12) & (band.cost <= band.cost_high + 1e-12)
    assert inside.mean() > 0.95


def test_intervals_cover_point_estimates():
    labels, scores = make_case()
    band = cost_band(labels, scores, 10, 1, threshold=0.2)
    for interval in (band.cost_at_threshold, band.savings_at_threshold, band.optimal_threshold):
        assert interval.low <= interval.point <= interval.high
        assert interval.low < interval.high


def test_optimal_threshold_point_matches_costs_module():
    labels, scores = make_case(seed=2)
    band = cost_band(labels, scores, 10, 1, threshold=0.2, n_resamples=20)
    expected = optimal_threshold(cost_curve(labels, scores, 10, 1)).threshold
    assert band.optimal_threshold.point == pytest.approx(expected)


def test_savings_point_is_cost_none_minus_cost():
    labels, scores = make_case(seed=3)
    band = cost_band(labels, scores, 10, 1, threshold=0.3, n_resamples=20)
    expected = (10 * labels.sum() - cost_at(labels, scores, 0.3, 10, 1)) / labels.size
    assert band.savings_at_threshold.point == pytest.approx(expected)


def test_band_is_reproducible_with_seed():
    labels, scores = make_case(n=300)
    first = cost_band(labels, scores, 10, 1, threshold=0.2, seed=5, n_resamples=30)
    second = cost_band(labels, scores, 10, 1, threshold=0.2, seed=5, n_resamples=30)
    np.testing.assert_array_equal(first.cost_low, second.cost_low)


@pytest.mark.parametrize("n_resamples", [0, 5, 20.5])
def test_bootstrap_rejects_few_resamples(n_resamples):
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_indices(100, n_resamples)


@pytest.mark.parametrize("confidence", [0, 1, 1.5])
def test_band_rejects_invalid_confidence(confidence):
    labels, scores = make_case(n=100)
    with pytest.raises(ValueError, match="confidence"):
        cost_band(labels, scores, 10, 1, threshold=0.2, confidence=confidence)


def test_profit_interval_covers_point():
    labels, scores = make_case()
    values = np.full(labels.size, 600.0)
    settings = CampaignSettings()
    interval = profit_interval(labels, scores, values, 0.3, settings)
    expected = campaign_profit_at(labels, scores, values, 0.3, settings) / labels.size
    assert interval.point == pytest.approx(expected)
    assert interval.low <= interval.point <= interval.high


def test_paired_difference_of_identical_runs_is_zero():
    labels, scores = make_case(n=200)
    test = pd.DataFrame({"customerID": np.arange(200), "y_true": labels, "y_score": scores})
    shuffled = test.sample(frac=1.0, random_state=0)
    interval = paired_cost_difference(test, shuffled, thresholds=(0.2, 0.2), cost_fn=10, cost_fp=1)
    assert interval.paired
    assert interval.low == 0
    assert interval.high == 0


def test_format_interval_text():
    labels, scores = make_case(n=300)
    band = cost_band(labels, scores, 10, 1, threshold=0.2, n_resamples=20)
    assert format_interval(band.cost_at_threshold).startswith(
        f"{band.cost_at_threshold.point:.3f} (90 %: "
    )
