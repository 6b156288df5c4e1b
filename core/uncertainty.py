"""Bootstrap uncertainty of costs, thresholds and savings measured on a test set.

Each resample draws the test customers with replacement. All resamples are counted at once:
every customer falls in the bin between two consecutive thresholds, one `np.bincount` per
quantity counts the bins of every resample, and reversed cumulative sums turn bin counts into
counts of contacted customers (`y_score >= threshold`). Intervals are percentile intervals.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.costs import CONTACT_NONE_THRESHOLD, _check_inputs, check_costs, cost_at
from core.value import CampaignSettings, customer_gains, midpoint_threshold

logger = logging.getLogger(__name__)

DEFAULT_RESAMPLES = 200
DEFAULT_CONFIDENCE = 0.9
DEFAULT_GRID = np.linspace(0.0, 1.0, 201)

# Relative tolerance under which two resampled costs tie; the point contacting fewer wins.
COST_TIE_RTOL = 1e-12


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap percentile interval.

    Attributes:
        point: Estimate on the full sample.
        low: Lower percentile of the resampled estimates.
        high: Upper percentile of the resampled estimates.
        confidence: Coverage of the interval, such as 0.9.
    """

    point: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class PairedInterval:
    """Interval of a difference between two runs.

    Attributes:
        low: Lower percentile of the resampled differences.
        high: Upper percentile of the resampled differences.
        paired: True when both runs were resampled on the same customers.
    """

    low: float
    high: float
    paired: bool


@dataclass(frozen=True, eq=False)
class CostBand:
    """Bootstrap band around a cost curve and intervals for one decision.

    Attributes:
        grid: Ascending thresholds at which the band is drawn.
        cost: Cost per customer on the full test set at each grid threshold.
        cost_low: Lower percentile of the resampled cost per customer at each grid threshold.
        cost_high: Upper percentile, likewise.
        threshold: The decision threshold the intervals below describe.
        cost_at_threshold: Cost per customer at `threshold`, with its interval.
        savings_at_threshold: Savings per customer against contacting no one at `threshold`.
        optimal_threshold: The minimum-cost threshold of the full test set, with the interval
            of the thresholds that are cheapest on each resample.
        n_resamples: Number of resamples.
    """

    grid: np.ndarray
    cost: np.ndarray
    cost_low: np.ndarray
    cost_high: np.ndarray
    threshold: float
    cost_at_threshold: Interval
    savings_at_threshold: Interval
    optimal_threshold: Interval
    n_resamples: int


def bootstrap_indices(n: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Draw `n_resamples` rows of `n` positions with replacement, shape (n_resamples, n)."""
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples or n_resamples < 10:
        raise ValueError(
            f"Invalid n_resamples={n_resamples!r}: pass a whole number >= 10, such as 200."
        )
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(int(n_resamples), n))


def contacted_sums(
    weights: np.ndarray, y_score: np.ndarray, thresholds: np.ndarray, indices: np.ndarray
) -> np.ndarray:
    """Sum `weights` over the contacted customers of every resample at every threshold.

    Args:
        weights: One number per customer, such as the label or 1.
        y_score: Scores of the customers.
        thresholds: Ascending thresholds, length T.
        indices: Resampled positions, shape (R, n).

    Returns:
        Shape (R, T): entry (r, j) sums `weights[i]` over resample r's draws i with
        `y_score[i] >= thresholds[j]`.
    """
    n_thresholds = thresholds.size
    # bins[i] counts the thresholds <= y_score[i]; customer i is contacted at j iff j < bins[i].
    bins = np.searchsorted(thresholds, y_score, side="right")
    n_resamples = indices.shape[0]
    offsets = (np.arange(n_resamples) * (n_thresholds + 1))[:, None]
    keys = (offsets + bins[indices]).ravel()
    per_bin = np.bincount(
        keys, weights=weights[indices].ravel(), minlength=n_resamples * (n_thresholds + 1)
    ).reshape(n_resamples, n_thresholds + 1)
    from_bin = np.cumsum(per_bin[:, ::-1], axis=1)[:, ::-1]
    return from_bin[:, 1:]


def cost_band(
    y_true: ArrayLike,
    y_score: ArrayLike,
    cost_fn: float,
    cost_fp: float,
    *,
    threshold: float,
    grid: ArrayLike | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> CostBand:
    """Bootstrap the test set for a band around the cost curve and intervals of a decision.

    Args:
        y_true: Test labels, 1 for churn and 0 otherwise.
        y_score: Test churn probabilities, finite and within [0, 1].
        cost_fn: Cost of a missed churner.
        cost_fp: Cost of an unneeded offer.
        threshold: The decision threshold, such as the one chosen on out-of-fold data.
        grid: Thresholds for the band; 0 to 1 in steps of 0.005 when None.
        n_resamples: Number of resamples, >= 10.
        confidence: Coverage of the band and intervals, in (0, 1).
        seed: Seed of the resampling.

    Returns:
        The band and the intervals of cost, savings and the optimal threshold.

    Raises:
        ValueError: If the inputs, costs or bootstrap settings are invalid.
    """
    labels, scores = _check_inputs(y_true, y_score)
    cost_fn, cost_fp = check_costs(cost_fn, cost_fp)
    confidence = check_confidence(confidence)
    grid_values = np.sort(np.asarray(DEFAULT_GRID if grid is None else grid, dtype=np.float64))
    indices = bootstrap_indices(labels.size, n_resamples, seed)
    n = labels.size

    # Band: the grid, plus the decision threshold as one extra column.
    columns = np.append(grid_values, float(threshold))
    order = np.argsort(columns, kind="stable")
    resampled = _resampled_costs(labels, scores, columns[order], indices, cost_fn, cost_fp)
    resampled = resampled[:, np.argsort(order, kind="stable")] / n
    band_low, band_high = _percentiles(resampled[:, :-1], confidence)
    full_costs = _full_costs(labels, scores, grid_values, cost_fn, cost_fp) / n

    point_cost = cost_at(labels, scores, threshold, cost_fn, cost_fp) / n
    none_costs = cost_fn * labels[indices].sum(axis=1) / n
    cost_low, cost_high = _percentiles(resampled[:, -1], confidence)
    savings_low, savings_high = _percentiles(none_costs - resampled[:, -1], confidence)
    savings_point = cost_fn * labels.sum() / n - point_cost

    band = CostBand(
        grid=grid_values,
        cost=full_costs,
        cost_low=band_low,
        cost_high=band_high,
        threshold=float(threshold),
        cost_at_threshold=Interval(point_cost, float(cost_low), float(cost_high), confidence),
        savings_at_threshold=Interval(
            savings_point, float(savings_low), float(savings_high), confidence
        ),
        optimal_threshold=_optimal_threshold_interval(
            labels, scores, indices, cost_fn, cost_fp, confidence
        ),
        n_resamples=indices.shape[0],
    )
    logger.debug("Bootstrapped %d resamples of %d customers", indices.shape[0], n)
    return band


def profit_interval(
    y_true: ArrayLike,
    y_score: ArrayLike,
    customer_value: ArrayLike,
    threshold: float,
    settings: CampaignSettings,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Bootstrap the expected campaign profit per customer at one threshold."""
    labels, scores = _check_inputs(y_true, y_score)
    confidence = check_confidence(confidence)
    gains = customer_gains(labels, customer_value, settings)
    indices = bootstrap_indices(labels.size, n_resamples, seed)
    sums = contacted_sums(gains, scores, np.array([float(threshold)]), indices)[:, 0]
    low, high = _percentiles(sums / labels.size, confidence)
    point = float(gains[scores >= threshold].sum() / labels.size)
    return Interval(point, float(low), float(high), confidence)


def paired_cost_difference(
    test_a: pd.DataFrame,
    test_b: pd.DataFrame,
    *,
    thresholds: tuple[float, float],
    cost_fn: float,
    cost_fp: float,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> PairedInterval:
    """Bootstrap the cost per customer of run A minus run B, each at its own threshold.

    Args:
        test_a: Test rows of run A with `customerID`, `y_true` and `y_score`.
        test_b: Test rows of run B, likewise.
        thresholds: The decision thresholds of A and B.
        cost_fn: Cost of a missed churner.
        cost_fp: Cost of an unneeded offer.
        n_resamples: Number of resamples, >= 10.
        confidence: Coverage of the interval, in (0, 1).
        seed: Seed of the resampling.

    Returns:
        The interval of the difference and whether the resamples were paired.
    """
    cost_fn, cost_fp = check_costs(cost_fn, cost_fp)
    confidence = check_confidence(confidence)
    ids_a = test_a["customerID"].astype(str)
    paired = len(test_a) == len(test_b) and set(ids_a) == set(test_b["customerID"].astype(str))
    if paired:
        test_b = (
            test_b.set_index(test_b["customerID"].astype(str)).loc[ids_a].reset_index(drop=True)
        )

    resampled = []
    for offset, (test, threshold) in enumerate(zip((test_a, test_b), thresholds, strict=True)):
        labels, scores = _check_inputs(test["y_true"], test["y_score"])
        run_seed = seed if paired else seed + offset
        indices = bootstrap_indices(labels.size, n_resamples, run_seed)
        costs = _resampled_costs(
            labels, scores, np.array([float(threshold)]), indices, cost_fn, cost_fp
        )
        resampled.append(costs[:, 0] / labels.size)
    low, high = _percentiles(resampled[0] - resampled[1], confidence)
    return PairedInterval(low=float(low), high=float(high), paired=paired)


def check_confidence(confidence: float) -> float:
    """Return `confidence` as a float, or raise ValueError unless it is in (0, 1)."""
    value = float(confidence)
    if not 0 < value < 1:
        raise ValueError(f"Invalid confidence={confidence!r}: pass a share such as 0.9.")
    return value


def _resampled_costs(
    labels: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray,
    indices: np.ndarray,
    cost_fn: float,
    cost_fp: float,
) -> np.ndarray:
    tp = contacted_sums(labels.astype(np.float64), scores, thresholds, indices)
    contacted = contacted_sums(np.ones(labels.size), scores, thresholds, indices)
    positives = labels[indices].sum(axis=1)[:, None]
    return (positives - tp) * cost_fn + (contacted - tp) * cost_fp


def _full_costs(
    labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, cost_fn: float, cost_fp: float
) -> np.ndarray:
    everyone = np.arange(labels.size)[None, :]
    return _resampled_costs(labels, scores, thresholds, everyone, cost_fn, cost_fp)[0]


def _optimal_threshold_interval(
    labels: np.ndarray,
    scores: np.ndarray,
    indices: np.ndarray,
    cost_fn: float,
    cost_fp: float,
    confidence: float,
) -> Interval:
    # A resample's distinct scores are a subset of the full sample's, so the full sample's
    # distinct scores hold an exact optimum of every resample.
    thresholds = np.append(np.unique(scores), CONTACT_NONE_THRESHOLD)
    costs = _resampled_costs(labels, scores, thresholds, indices, cost_fn, cost_fp)
    full = _full_costs(labels, scores, thresholds, cost_fn, cost_fp)

    chosen = [_last_minimum(row) for row in (full, *costs)]
    values = np.array([midpoint_threshold(thresholds, index) for index in chosen])
    low, high = _percentiles(values[1:], confidence)
    return Interval(float(values[0]), float(low), float(high), confidence)


def _last_minimum(costs: np.ndarray) -> int:
    is_tied = costs <= costs.min() * (1.0 + COST_TIE_RTOL)
    return int(np.flatnonzero(is_tied)[-1])


def _percentiles(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(values, [tail, 1.0 - tail], axis=0)
    return low, high


def format_interval(interval: Interval, digits: int = 3) -> str:
    """Format an interval as "0.512 (90 %: 0.470 to 0.556)"."""
    if math.isnan(interval.point):
        return "n/a"
    percent = round(interval.confidence * 100)
    return (
        f"{interval.point:.{digits}f} ({percent} %: "
        f"{interval.low:.{digits}f} to {interval.high:.{digits}f})"
    )
