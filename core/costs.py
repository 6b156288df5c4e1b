"""Business cost of churn decisions: exact cost curves, the optimal threshold and savings.

A customer is contacted (predicted to churn) when `y_score >= threshold`. A false negative is
a missed churner and costs `cost_fn`; a false positive is an unneeded retention offer and
costs `cost_fp`. True positives and true negatives cost nothing in this matrix.
NOTE: a campaign that pays for every offer it sends also spends `cost_fp` on each true
positive, which this matrix leaves out, so it reports a lower cost than that campaign pays.

The curve is exact: it has one point for every distinct score plus one point that contacts
no customer, so no threshold grid can find a lower cost. The O(n log n) steps (sorting and
searching the scores) do not depend on the costs. Callers that move cost sliders should
build a `ConfusionCurve` once with `confusion_curve` and call `ConfusionCurve.apply_costs`
for each pair of costs, which is one vectorised multiply-add.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from core.config import DEFAULT_COST_FN, DEFAULT_COST_FP

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5

# The threshold of the last curve point. Scores are validated to lie in [0, 1], so this
# contacts no customer for any input, and every curve ends on the same value.
CONTACT_NONE_THRESHOLD = float(np.nextafter(1.0, np.inf))

# Relative tolerance under which two total costs count as a tie in `optimal_threshold`.
# Costs such as 0.1 are not exact in binary, so equal costs reached through different counts
# can differ in the last bits.
COST_TIE_RTOL = 1e-12


@dataclass(frozen=True, eq=False)
class ConfusionCurve:
    """Confusion counts at every distinct threshold, independent of the costs.

    Attributes:
        thresholds: Ascending thresholds. The first is the lowest score, which contacts
            every customer. The others are the remaining distinct scores and then
            `CONTACT_NONE_THRESHOLD`, which contacts no customer.
        tp: Churners contacted at each threshold.
        fp: Non-churners contacted at each threshold.
        fn: Churners not contacted at each threshold.
        tn: Non-churners not contacted at each threshold.
        n_contacted: Customers contacted at each threshold (`tp + fp`).
        n: Number of customers.
        n_positive: Number of churners.
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray
    n_contacted: np.ndarray
    n: int
    n_positive: int

    def apply_costs(
        self, cost_fn: float = DEFAULT_COST_FN, cost_fp: float = DEFAULT_COST_FP
    ) -> CostCurve:
        """Weight the counts by the costs of a missed churner and of an unneeded offer.

        Args:
            cost_fn: Cost of one false negative (a missed churner), finite and >= 0.
            cost_fp: Cost of one false positive (an unneeded offer), finite and >= 0.

        Returns:
            The cost curve. It shares the read-only count arrays of this curve.

        Raises:
            ValueError: If a cost is negative, not finite, or both costs are zero.
        """
        cost_fn, cost_fp = check_costs(cost_fn, cost_fp)
        cost = _read_only(self.fn * cost_fn + self.fp * cost_fp)
        return CostCurve(
            thresholds=self.thresholds,
            tp=self.tp,
            fp=self.fp,
            fn=self.fn,
            tn=self.tn,
            n_contacted=self.n_contacted,
            n=self.n,
            n_positive=self.n_positive,
            cost=cost,
            cost_per_customer=_read_only(cost / self.n),
            cost_fn=cost_fn,
            cost_fp=cost_fp,
        )

    def precision(self) -> np.ndarray:
        """Compute precision per threshold, NaN where no customer is contacted.

        At such a point scikit-learn 1.9's `precision_score` returns its `zero_division`
        value instead, which is 0.0 with an `UndefinedMetricWarning` by default.
        """
        return _safe_divide(self.tp, self.n_contacted)

    def recall(self) -> np.ndarray:
        """Compute recall per threshold, all NaN when there is no churner."""
        return _safe_divide(self.tp, np.full_like(self.tp, self.n_positive))

    def f1(self) -> np.ndarray:
        """Compute the F1 score per threshold, NaN where it is 0 / 0.

        F1 is `2 tp / (2 tp + fp + fn)`, which is 0 / 0 only when there is no churner and
        no customer is contacted.
        """
        return _safe_divide(2 * self.tp, 2 * self.tp + self.fp + self.fn)


@dataclass(frozen=True, eq=False)
class CostCurve(ConfusionCurve):
    """Confusion counts and total cost at every distinct threshold.

    Attributes:
        cost: Total cost per threshold, `fn * cost_fn + fp * cost_fp`, in the cost unit.
        cost_per_customer: `cost / n` per threshold.
        cost_fn: Cost of one false negative (a missed churner).
        cost_fp: Cost of one false positive (an unneeded offer).
    """

    cost: np.ndarray
    cost_per_customer: np.ndarray
    cost_fn: float
    cost_fp: float


@dataclass(frozen=True)
class ThresholdChoice:
    """The minimum-cost threshold of a cost curve.

    Attributes:
        threshold: A threshold that reproduces the decisions of curve point `index`, placed
            halfway between that point's score and the next lower distinct score.
        cost: Total cost at that threshold.
        cost_per_customer: Cost divided by the number of customers.
        n_contacted: Customers contacted at that threshold.
        index: Position of the chosen point in the curve arrays.
    """

    threshold: float
    cost: float
    cost_per_customer: float
    n_contacted: int
    index: int


@dataclass(frozen=True)
class ConfusionCounts:
    """Confusion counts at one threshold."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n_contacted(self) -> int:
        """Customers contacted: `tp + fp`."""
        return self.tp + self.fp


@dataclass(frozen=True)
class CostSummary:
    """Cost of one threshold next to three baselines, in totals and per customer.

    Savings are baseline cost minus the cost at `threshold`, so a positive value is money
    saved by using `threshold` instead of the baseline.

    Attributes:
        threshold: The threshold being assessed.
        n: Number of customers.
        cost_fn: Cost of one false negative (a missed churner).
        cost_fp: Cost of one false positive (an unneeded offer).
        cost: Total cost at `threshold`.
        cost_default_threshold: Total cost at `DEFAULT_THRESHOLD` (0.5).
        cost_contact_none: Total cost when no customer is contacted (`n_positive * cost_fn`).
        cost_contact_all: Total cost when everyone is contacted (`n_negative * cost_fp`).
        savings_vs_default_threshold: `cost_default_threshold - cost`.
        savings_vs_contact_none: `cost_contact_none - cost`.
        savings_vs_contact_all: `cost_contact_all - cost`.

    Each `*_per_customer` field is the field of the same stem divided by `n`.
    """

    threshold: float
    n: int
    cost_fn: float
    cost_fp: float
    cost: float
    cost_per_customer: float
    cost_default_threshold: float
    cost_default_threshold_per_customer: float
    cost_contact_none: float
    cost_contact_none_per_customer: float
    cost_contact_all: float
    cost_contact_all_per_customer: float
    savings_vs_default_threshold: float
    savings_vs_default_threshold_per_customer: float
    savings_vs_contact_none: float
    savings_vs_contact_none_per_customer: float
    savings_vs_contact_all: float
    savings_vs_contact_all_per_customer: float

    @classmethod
    def from_totals(
        cls,
        threshold: float,
        n: int,
        cost_fn: float,
        cost_fp: float,
        cost: float,
        cost_default: float,
        cost_none: float,
        cost_all: float,
    ) -> CostSummary:
        """Build the summary from four total costs, deriving savings and per-customer values."""
        return cls(
            threshold=float(threshold),
            n=n,
            cost_fn=cost_fn,
            cost_fp=cost_fp,
            cost=cost,
            cost_per_customer=cost / n,
            cost_default_threshold=cost_default,
            cost_default_threshold_per_customer=cost_default / n,
            cost_contact_none=cost_none,
            cost_contact_none_per_customer=cost_none / n,
            cost_contact_all=cost_all,
            cost_contact_all_per_customer=cost_all / n,
            savings_vs_default_threshold=cost_default - cost,
            savings_vs_default_threshold_per_customer=(cost_default - cost) / n,
            savings_vs_contact_none=cost_none - cost,
            savings_vs_contact_none_per_customer=(cost_none - cost) / n,
            savings_vs_contact_all=cost_all - cost,
            savings_vs_contact_all_per_customer=(cost_all - cost) / n,
        )


def confusion_curve(y_true: ArrayLike, y_score: ArrayLike) -> ConfusionCurve:
    """Count tp, fp, fn and tn at every distinct threshold in O(n log n).

    Customers with equal scores are always on the same side of a threshold, so there is one
    point per distinct score and one final point that contacts no customer.

    Args:
        y_true: Labels, 1 for churn and 0 otherwise.
        y_score: Churn probabilities, finite and within [0, 1].

    Returns:
        The confusion curve with ascending thresholds.

    Raises:
        ValueError: If the inputs are empty, differ in length, or contain invalid values.
    """
    labels, scores = _check_inputs(y_true, y_score)
    n = int(scores.size)
    n_positive = int(labels.sum())

    sorted_scores = np.sort(scores)
    is_first_of_value = np.empty(n, dtype=bool)
    is_first_of_value[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=is_first_of_value[1:])
    first_positions = np.flatnonzero(is_first_of_value)
    distinct_scores = sorted_scores[first_positions]

    # At threshold t the contacted customers are those with score >= t: everyone from the
    # first sorted position of t onwards, and every positive not sorted before t.
    positive_scores = np.sort(scores[labels == 1])
    positives_below = np.searchsorted(positive_scores, distinct_scores, side="left")

    thresholds = np.append(distinct_scores, CONTACT_NONE_THRESHOLD)
    n_contacted = np.append(n - first_positions, 0).astype(np.int64)
    tp = np.append(n_positive - positives_below, 0).astype(np.int64)
    fp = n_contacted - tp
    logger.debug("Built a confusion curve: n=%d, %d thresholds", n, thresholds.size)

    return ConfusionCurve(
        thresholds=_read_only(thresholds),
        tp=_read_only(tp),
        fp=_read_only(fp),
        fn=_read_only(n_positive - tp),
        tn=_read_only((n - n_positive) - fp),
        n_contacted=_read_only(n_contacted),
        n=n,
        n_positive=n_positive,
    )


def cost_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    cost_fn: float = DEFAULT_COST_FN,
    cost_fp: float = DEFAULT_COST_FP,
) -> CostCurve:
    """Compute the total cost at every distinct threshold.

    Args:
        y_true: Labels, 1 for churn and 0 otherwise.
        y_score: Churn probabilities, finite and within [0, 1].
        cost_fn: Cost of one false negative (a missed churner), finite and >= 0.
        cost_fp: Cost of one false positive (an unneeded offer), finite and >= 0.

    Returns:
        The cost curve with ascending thresholds, from contacting everyone to contacting
        no customer.

    Raises:
        ValueError: If the labels, scores or costs are invalid.
    """
    cost_fn, cost_fp = check_costs(cost_fn, cost_fp)
    return confusion_curve(y_true, y_score).apply_costs(cost_fn, cost_fp)


def optimal_threshold(curve: CostCurve) -> ThresholdChoice:
    """Find the threshold with the minimum total cost on a cost curve.

    Among points whose costs tie (within a relative `COST_TIE_RTOL`), the point that
    contacts the fewest customers wins, because it reaches the same cost with fewer offers.
    The returned threshold is halfway between the chosen point's score and the next lower
    distinct score (0 for the first point), so it reproduces the chosen decisions without
    sitting exactly on a score of the data the curve came from.

    Args:
        curve: A cost curve from `cost_curve` or `ConfusionCurve.apply_costs`.

    Returns:
        The chosen threshold with its cost and number of customers contacted.
    """
    min_cost = curve.cost.min()
    is_tied = curve.cost <= min_cost * (1.0 + COST_TIE_RTOL)
    # Thresholds ascend, so the last tied point contacts the fewest customers.
    index = int(np.flatnonzero(is_tied)[-1])

    upper = float(curve.thresholds[index])
    lower = float(curve.thresholds[index - 1]) if index > 0 else 0.0
    threshold = lower + (upper - lower) / 2
    if index > 0 and not lower < threshold <= upper:
        # Two adjacent floats have no float strictly between them, and the rounded midpoint
        # would contact the customers at `lower`, so keep the chosen score itself.
        threshold = upper

    return ThresholdChoice(
        threshold=threshold,
        cost=float(curve.cost[index]),
        cost_per_customer=float(curve.cost_per_customer[index]),
        n_contacted=int(curve.n_contacted[index]),
        index=index,
    )


def confusion_at(y_true: ArrayLike, y_score: ArrayLike, threshold: float) -> ConfusionCounts:
    """Count tp, fp, fn and tn when customers with `y_score >= threshold` are contacted.

    Args:
        y_true: Labels, 1 for churn and 0 otherwise.
        y_score: Churn probabilities, finite and within [0, 1].
        threshold: Decision threshold. Any value other than NaN is accepted, so a value
            above 1 contacts no customer.

    Returns:
        The confusion counts at `threshold`.

    Raises:
        ValueError: If the labels, scores or threshold are invalid.
    """
    labels, scores = _check_inputs(y_true, y_score)
    threshold = _check_threshold(threshold)
    contacted = scores >= threshold
    is_positive = labels == 1
    tp = int(np.count_nonzero(contacted & is_positive))
    fp = int(np.count_nonzero(contacted)) - tp
    n_positive = int(np.count_nonzero(is_positive))
    return ConfusionCounts(tp=tp, fp=fp, fn=n_positive - tp, tn=labels.size - n_positive - fp)


def cost_at(
    y_true: ArrayLike,
    y_score: ArrayLike,
    threshold: float,
    cost_fn: float = DEFAULT_COST_FN,
    cost_fp: float = DEFAULT_COST_FP,
) -> float:
    """Compute the total cost at one threshold: `fn * cost_fn + fp * cost_fp`.

    Raises:
        ValueError: If the labels, scores, threshold or costs are invalid.
    """
    cost_fn, cost_fp = check_costs(cost_fn, cost_fp)
    counts = confusion_at(y_true, y_score, threshold)
    return float(counts.fn * cost_fn + counts.fp * cost_fp)


def cost_summary(
    y_true: ArrayLike,
    y_score: ArrayLike,
    threshold: float,
    cost_fn: float = DEFAULT_COST_FN,
    cost_fp: float = DEFAULT_COST_FP,
) -> CostSummary:
    """Compare the cost at `threshold` with 0.5, contacting no one and everyone.

    Args:
        y_true: Labels, 1 for churn and 0 otherwise.
        y_score: Churn probabilities, finite and within [0, 1].
        threshold: Decision threshold to assess.
        cost_fn: Cost of one false negative (a missed churner), finite and >= 0.
        cost_fp: Cost of one false positive (an unneeded offer), finite and >= 0.

    Returns:
        Costs and savings, in totals and per customer.

    Raises:
        ValueError: If the labels, scores, threshold or costs are invalid.
    """
    cost_fn, cost_fp = check_costs(cost_fn, cost_fp)
    labels, scores = _check_inputs(y_true, y_score)
    n = int(labels.size)
    n_positive = int(labels.sum())

    cost = cost_at(labels, scores, threshold, cost_fn, cost_fp)
    cost_default = cost_at(labels, scores, DEFAULT_THRESHOLD, cost_fn, cost_fp)
    cost_none = n_positive * cost_fn
    cost_all = (n - n_positive) * cost_fp

    return CostSummary.from_totals(
        threshold, n, cost_fn, cost_fp, cost, cost_default, cost_none, cost_all
    )


def check_costs(cost_fn: float, cost_fp: float) -> tuple[float, float]:
    """Return both costs as floats, or raise ValueError naming the invalid one and the fix."""
    costs = {}
    for name, value in (("cost_fn", cost_fn), ("cost_fp", cost_fp)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Invalid {name}={value!r}: pass a number such as 10 or 500."
            ) from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(
                f"Invalid {name}={value!r}: costs must be finite and >= 0, such as 10 or 500."
            )
        costs[name] = number

    if costs["cost_fn"] == 0 and costs["cost_fp"] == 0:
        raise ValueError(
            "Invalid costs: cost_fn and cost_fp are both 0, so every threshold costs nothing. "
            "Set at least one of them above 0."
        )
    return costs["cost_fn"], costs["cost_fp"]


def _check_inputs(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    labels = _check_labels(y_true)
    scores = _check_scores(y_score)
    if labels.size != scores.size:
        raise ValueError(
            f"y_true has {labels.size} values but y_score has {scores.size}: "
            "pass one score per label."
        )
    if labels.size == 0:
        raise ValueError("y_true and y_score are empty: pass at least one customer.")
    return labels, scores


def _check_labels(y_true: ArrayLike) -> np.ndarray:
    labels = np.asarray(y_true)
    if labels.ndim != 1:
        raise ValueError(f"y_true has shape {labels.shape}: pass a 1-D array of 0/1 labels.")
    is_binary = (labels == 0) | (labels == 1)
    if not np.all(is_binary):
        invalid = labels[~is_binary][:5].tolist()
        raise ValueError(
            f"y_true contains values other than 0 and 1, e.g. {invalid}: "
            "encode churn as 1 and no churn as 0."
        )
    return labels.astype(np.int64)


def _check_scores(y_score: ArrayLike) -> np.ndarray:
    try:
        scores = np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "y_score is not numeric: pass churn probabilities as floats in [0, 1]."
        ) from None
    if scores.ndim != 1:
        raise ValueError(
            f"y_score has shape {scores.shape}: pass a 1-D array of probabilities, "
            "e.g. predict_proba(X)[:, 1]."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            f"y_score contains {np.count_nonzero(~np.isfinite(scores))} NaN or infinite "
            "values: remove them or fix the model output."
        )
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        raise ValueError(
            f"y_score ranges from {scores.min()} to {scores.max()}, outside [0, 1]: "
            "pass probabilities such as predict_proba(X)[:, 1], not decision scores."
        )
    return scores


def _check_threshold(threshold: float) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid threshold={threshold!r}: pass a number such as 0.5.") from None
    if math.isnan(value):
        raise ValueError("Invalid threshold=nan: pass a number such as 0.5.")
    return value


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    result = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
