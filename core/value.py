"""Retention-campaign profit, capacity views and champion-versus-challenger comparisons in money.

A customer is contacted when `y_score >= threshold`, as in `core.costs`. The campaign model
charges for every offer it sends:

- every contacted customer costs `contact_cost`;
- a contacted churner accepts the offer and stays with probability `acceptance_rate`, which
  keeps that customer's value and pays `offer_cost`; otherwise the churner leaves anyway;
- a contacted non-churner takes the offer too, so it costs `offer_cost + contact_cost`.

The expected profit of contacting customer i with value v_i is therefore
`acceptance_rate * (v_i - offer_cost) - contact_cost` for a churner and
`-(offer_cost + contact_cost)` for a non-churner. Profit is measured against contacting no
one, so it is also the money the campaign saves. Customer value defaults to that customer's
MonthlyCharges times a horizon in months.

Curves are exact: one point per distinct score plus one point that contacts no customer, from
one sort and cumulative sums, as in `core.costs.confusion_curve`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from core.costs import (
    CONTACT_NONE_THRESHOLD,
    _check_inputs,
    confusion_curve,
    cost_at,
    optimal_threshold,
)
from core.schema import ID_COLUMN

logger = logging.getLogger(__name__)

VALUE_COLUMN = "MonthlyCharges"

# Relative tolerance under which two profits count as a tie; the point contacting fewer wins.
PROFIT_TIE_RTOL = 1e-12


@dataclass(frozen=True)
class CampaignSettings:
    """Money settings of a retention campaign.

    Attributes:
        horizon_months: Months of MonthlyCharges that make up a kept customer's value, > 0.
        offer_cost: Cost of one accepted retention offer (for example a discount), >= 0.
        contact_cost: Cost of contacting one customer (a call or a mail), >= 0.
        acceptance_rate: Share of contacted churners who accept the offer and stay, in [0, 1].
    """

    horizon_months: float = 12.0
    offer_cost: float = 50.0
    contact_cost: float = 5.0
    acceptance_rate: float = 0.3

    def validate(self) -> CampaignSettings:
        """Return the settings, or raise ValueError naming the invalid one and the fix."""
        _check_horizon(self.horizon_months)
        _check_entered_number(
            "offer_cost", self.offer_cost, "The offer cost must be 0 or more", "such as 50"
        )
        _check_entered_number(
            "contact_cost", self.contact_cost, "The contact cost must be 0 or more", "such as 5"
        )
        _check_entered_number(
            "acceptance_rate",
            self.acceptance_rate,
            "The acceptance rate must be a share from 0 to 1",
            "such as 0.3",
            maximum=1.0,
        )
        if self.offer_cost == 0 and self.contact_cost == 0:
            raise ValueError(
                "The offer cost and the contact cost are both 0, so contacting everyone always "
                "looks best. Set at least one of them above 0."
            )
        return self

    def as_dict(self) -> dict[str, float]:
        """Return the settings as a plain dict of floats."""
        return {key: float(value) for key, value in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class CampaignCurve:
    """Expected campaign profit at every distinct threshold.

    Attributes:
        thresholds: Ascending thresholds, from contacting everyone to
            `CONTACT_NONE_THRESHOLD`, which contacts no customer.
        n_contacted: Customers contacted at each threshold.
        tp: Churners contacted at each threshold.
        profit: Expected total profit at each threshold, in money.
        n: Number of customers.
        n_positive: Number of churners.
    """

    thresholds: np.ndarray
    n_contacted: np.ndarray
    tp: np.ndarray
    profit: np.ndarray
    n: int
    n_positive: int

    @property
    def share_contacted(self) -> np.ndarray:
        """Share of all customers contacted at each threshold."""
        return self.n_contacted / self.n

    @property
    def profit_per_customer(self) -> np.ndarray:
        """Expected profit divided by the number of customers."""
        return self.profit / self.n


@dataclass(frozen=True)
class CampaignChoice:
    """The maximum-profit point of a campaign curve.

    Attributes:
        threshold: A threshold reproducing the decisions of point `index`, halfway between
            its score and the next lower distinct score, as in `core.costs.optimal_threshold`.
        profit: Expected total profit at that threshold.
        profit_per_customer: Profit divided by the number of customers.
        n_contacted: Customers contacted.
        share_contacted: Share of all customers contacted.
        index: Position of the point in the curve arrays.
    """

    threshold: float
    profit: float
    profit_per_customer: float
    n_contacted: int
    share_contacted: float
    index: int


@dataclass(frozen=True)
class CapacitySummary:
    """Result of contacting the `k` highest-scored customers.

    Attributes:
        k: Customers contacted.
        share_contacted: `k / n`.
        churners_found: Churners among the `k`.
        precision: `churners_found / k`.
        recall: Share of all churners found (the cumulative gain).
        lift: Precision divided by the churn rate of all customers.
        profit: Expected campaign profit of contacting them.
        min_score: Lowest score among the contacted customers.
    """

    k: int
    share_contacted: float
    churners_found: int
    precision: float
    recall: float
    lift: float
    profit: float
    min_score: float


def customer_values(
    customer_ids: ArrayLike, frame: pd.DataFrame, horizon_months: float
) -> np.ndarray:
    """Compute each customer's value as MonthlyCharges times `horizon_months`.

    Args:
        customer_ids: Ids in the order of the predictions.
        frame: The raw Telco frame the run was trained on, with `customerID` and
            `MonthlyCharges`.
        horizon_months: Months of charges that a kept customer is worth, > 0.

    Returns:
        One value per id, in money.

    Raises:
        ValueError: If the horizon is invalid, a column is missing, or ids are not in the frame.
    """
    _check_horizon(horizon_months)
    missing_columns = [c for c in (ID_COLUMN, VALUE_COLUMN) if c not in frame.columns]
    if missing_columns:
        raise ValueError(
            f"The data set has no column {missing_columns}: load the Telco frame the run "
            "was trained on."
        )
    charges = pd.to_numeric(frame[VALUE_COLUMN], errors="coerce")
    lookup = pd.Series(charges.to_numpy(), index=frame[ID_COLUMN].astype(str))
    lookup = lookup[~lookup.index.duplicated()]
    ids = pd.Index(np.asarray(customer_ids).astype(str))
    monthly = lookup.reindex(ids).to_numpy(dtype=np.float64)

    n_missing = int(np.count_nonzero(np.isnan(monthly)))
    if n_missing:
        raise ValueError(
            f"{n_missing} of {ids.size} customers have no MonthlyCharges in the data set: "
            "load the data set the run was trained on (compare the run's data_hash tag)."
        )
    return monthly * float(horizon_months)


def customer_gains(
    y_true: ArrayLike, customer_value: ArrayLike, settings: CampaignSettings
) -> np.ndarray:
    """Compute the expected profit of contacting each customer under `settings`."""
    settings.validate()
    labels = np.asarray(y_true, dtype=np.int64)
    values = _check_values(customer_value, labels.size)
    churner_gain = (
        settings.acceptance_rate * (values - settings.offer_cost) - settings.contact_cost
    )
    return np.where(labels == 1, churner_gain, -(settings.offer_cost + settings.contact_cost))


def campaign_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    customer_value: ArrayLike,
    settings: CampaignSettings | None = None,
) -> CampaignCurve:
    """Compute the expected campaign profit at every distinct threshold in O(n log n).

    Args:
        y_true: Labels, 1 for churn and 0 otherwise.
        y_score: Churn probabilities, finite and within [0, 1].
        customer_value: Value of each customer if kept, finite and >= 0.
        settings: Campaign costs and acceptance rate; the defaults when None.

    Returns:
        The profit curve with ascending thresholds; its last point contacts no one (profit 0).

    Raises:
        ValueError: If the labels, scores, values or settings are invalid.
    """
    settings = (settings or CampaignSettings()).validate()
    labels, scores = _check_inputs(y_true, y_score)
    gains = customer_gains(labels, customer_value, settings)

    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    is_first = np.empty(scores.size, dtype=bool)
    is_first[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=is_first[1:])
    first_positions = np.flatnonzero(is_first)

    # Reversed cumulative sums: entry p is the total over sorted positions p..n-1, which
    # are the customers contacted at the threshold sorted_scores[p].
    profit_from = np.cumsum(gains[order][::-1])[::-1]
    churners_from = np.cumsum(labels[order][::-1])[::-1]

    n = int(scores.size)
    return CampaignCurve(
        thresholds=np.append(sorted_scores[first_positions], CONTACT_NONE_THRESHOLD),
        n_contacted=np.append(n - first_positions, 0).astype(np.int64),
        tp=np.append(churners_from[first_positions], 0).astype(np.int64),
        profit=np.append(profit_from[first_positions], 0.0),
        n=n,
        n_positive=int(labels.sum()),
    )


def best_campaign(curve: CampaignCurve) -> CampaignChoice:
    """Find the maximum-profit threshold; ties go to the point contacting fewer customers."""
    max_profit = curve.profit.max()
    tolerance = abs(max_profit) * PROFIT_TIE_RTOL
    index = int(np.flatnonzero(curve.profit >= max_profit - tolerance)[-1])
    return CampaignChoice(
        threshold=midpoint_threshold(curve.thresholds, index),
        profit=float(curve.profit[index]),
        profit_per_customer=float(curve.profit[index] / curve.n),
        n_contacted=int(curve.n_contacted[index]),
        share_contacted=float(curve.n_contacted[index] / curve.n),
        index=index,
    )


def campaign_profit_at(
    y_true: ArrayLike,
    y_score: ArrayLike,
    customer_value: ArrayLike,
    threshold: float,
    settings: CampaignSettings | None = None,
) -> float:
    """Compute the expected total campaign profit when `y_score >= threshold` is contacted."""
    settings = (settings or CampaignSettings()).validate()
    labels, scores = _check_inputs(y_true, y_score)
    gains = customer_gains(labels, customer_value, settings)
    return float(gains[scores >= threshold].sum())


def midpoint_threshold(thresholds: np.ndarray, index: int) -> float:
    """Place a threshold between point `index`'s score and the next lower distinct score."""
    upper = float(thresholds[index])
    lower = float(thresholds[index - 1]) if index > 0 else 0.0
    threshold = lower + (upper - lower) / 2
    if index > 0 and not lower < threshold <= upper:
        # Adjacent floats have no float between them, so keep the score itself.
        threshold = upper
    return threshold


def gains_table(y_true: ArrayLike, y_score: ArrayLike) -> pd.DataFrame:
    """Tabulate cumulative gains and lift when customers are contacted by descending score.

    Returns:
        One row per number of customers contacted, 0 to n: `n_contacted`,
        `share_contacted`, `churners_found`, `gain` (share of churners found) and `lift`
        (precision over the overall churn rate, NaN at 0 contacted).
    """
    labels, scores = _check_inputs(y_true, y_score)
    order = np.argsort(-scores, kind="stable")
    found = np.concatenate([[0], np.cumsum(labels[order])])
    contacted = np.arange(labels.size + 1)
    n_positive = max(int(labels.sum()), 1)
    base_rate = labels.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(contacted > 0, found / np.maximum(contacted, 1), np.nan)
        lift = precision / base_rate if base_rate > 0 else np.full(contacted.size, np.nan)
    return pd.DataFrame(
        {
            "n_contacted": contacted,
            "share_contacted": contacted / labels.size,
            "churners_found": found,
            "gain": found / n_positive,
            "lift": lift,
        }
    )


def capacity_summary(
    y_true: ArrayLike,
    y_score: ArrayLike,
    customer_value: ArrayLike,
    k: int,
    settings: CampaignSettings | None = None,
) -> CapacitySummary:
    """Summarise contacting the `k` highest-scored customers (ties broken by input order).

    Raises:
        ValueError: If `k` is not between 1 and the number of customers, or inputs are invalid.
    """
    settings = (settings or CampaignSettings()).validate()
    labels, scores = _check_inputs(y_true, y_score)
    k = check_capacity(k, labels.size)
    order = top_k_order(scores, k)
    gains = customer_gains(labels, customer_value, settings)

    found = int(labels[order].sum())
    n_positive = int(labels.sum())
    base_rate = n_positive / labels.size
    precision = found / k
    return CapacitySummary(
        k=k,
        share_contacted=k / labels.size,
        churners_found=found,
        precision=precision,
        recall=found / n_positive if n_positive else math.nan,
        lift=precision / base_rate if base_rate else math.nan,
        profit=float(gains[order].sum()),
        min_score=float(scores[order].min()),
    )


def capacity_list(campaign: pd.DataFrame, k: int) -> pd.DataFrame:
    """List the `k` highest-scored customers for a contact list.

    Args:
        campaign: A frame from `campaign_frame` (customerID, y_score, customer_value, ...).
        k: Customers to list, between 1 and the number of rows.

    Returns:
        Columns `rank`, `customerID`, `churn_probability` and `customer_value`.
    """
    k = check_capacity(k, len(campaign))
    order = top_k_order(campaign["y_score"].to_numpy(dtype=np.float64), k)
    rows = campaign.iloc[order]
    return pd.DataFrame(
        {
            "rank": np.arange(1, k + 1),
            ID_COLUMN: rows[ID_COLUMN].to_numpy(),
            "churn_probability": rows["y_score"].to_numpy(),
            "customer_value": rows["customer_value"].to_numpy(),
        }
    )


def top_k_order(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the positions of the `k` highest scores, highest first, stable on ties."""
    return np.argsort(-scores, kind="stable")[:k]


def check_capacity(k: int, n: int) -> int:
    """Return `k` as an int, or raise ValueError unless 1 <= k <= n."""
    if isinstance(k, bool) or not float(k).is_integer():
        raise ValueError(
            f"The capacity must be a whole number of customers, not {k!r}. Enter a number "
            f"from 1 to {n}."
        )
    k = int(k)
    if not 1 <= k <= n:
        raise ValueError(
            f"The capacity must be from 1 to {n} customers, the number on the list, not {k}. "
            f"Enter a number from 1 to {n}."
        )
    return k


def campaign_frame(
    predictions: pd.DataFrame, frame: pd.DataFrame, horizon_months: float, split: str = "test"
) -> pd.DataFrame:
    """Select one split of stored predictions and add each customer's value.

    Args:
        predictions: A frame from `core.tracking.load_predictions`.
        frame: The raw Telco frame the run was trained on.
        horizon_months: Months of MonthlyCharges that make up a customer's value.
        split: "test" or "oof".

    Returns:
        Columns customerID, y_true, y_score and customer_value, one row per customer.

    Raises:
        ValueError: If the split is empty or customers are missing from `frame`.
    """
    rows = predictions[predictions["split"] == split]
    if rows.empty:
        raise ValueError(
            f"The predictions have no rows with split={split!r}: use 'test' or 'oof'."
        )
    result = rows.loc[:, [ID_COLUMN, "y_true", "y_score"]].reset_index(drop=True)
    result["customer_value"] = customer_values(result[ID_COLUMN], frame, horizon_months)
    return result


@dataclass(frozen=True)
class RunCostInMoney:
    """One run's decision under the current costs.

    Attributes:
        threshold: Minimum-cost threshold chosen on the run's out-of-fold predictions.
        test_cost_per_customer: Cost per test customer at that threshold.
        n_contacted: Test customers contacted at that threshold.
    """

    threshold: float
    test_cost_per_customer: float
    n_contacted: int


@dataclass(frozen=True)
class MoneyComparison:
    """Champion against challenger, each at its own best threshold.

    Attributes:
        champion: The champion's threshold and test cost.
        challenger: The challenger's threshold and test cost.
        savings_per_customer: Champion cost minus challenger cost per test customer, so a
            positive value means the challenger saves money.
        savings_low: Lower end of the bootstrap interval of `savings_per_customer`.
        savings_high: Upper end of that interval.
        confidence: Coverage of the interval, such as 0.9.
        paired: True when both runs scored the same test customers, so the interval comes
            from paired resamples of those customers.
    """

    champion: RunCostInMoney
    challenger: RunCostInMoney
    savings_per_customer: float
    savings_low: float
    savings_high: float
    confidence: float
    paired: bool


def compare_runs_in_money(
    champion: pd.DataFrame,
    challenger: pd.DataFrame,
    cost_fn: float,
    cost_fp: float,
    *,
    n_resamples: int = 200,
    confidence: float = 0.9,
    seed: int = 0,
) -> MoneyComparison:
    """Compare two runs by test cost, each at the threshold that is cheapest on its OOF data.

    Choosing each threshold on out-of-fold predictions keeps the test set for measuring.
    When both runs scored the same test customers, the interval of the savings comes from
    resampling those customers once for both runs (a paired bootstrap). Otherwise each run
    is resampled on its own.

    Args:
        champion: Stored predictions of the current model (`core.tracking.load_predictions`).
        challenger: Stored predictions of the candidate.
        cost_fn: Cost of a missed churner.
        cost_fp: Cost of an unneeded offer.
        n_resamples: Bootstrap resamples of the test customers.
        confidence: Coverage of the savings interval, in (0, 1).
        seed: Seed of the resampling.

    Returns:
        Both runs' thresholds and costs and the challenger's savings with an interval.

    Raises:
        ValueError: If the costs, predictions or bootstrap settings are invalid.
    """
    from core.uncertainty import paired_cost_difference

    decisions = [_run_cost_in_money(p, cost_fn, cost_fp) for p in (champion, challenger)]
    tests = [_split_rows(p, "test") for p in (champion, challenger)]
    interval = paired_cost_difference(
        tests[0],
        tests[1],
        thresholds=(decisions[0].threshold, decisions[1].threshold),
        cost_fn=cost_fn,
        cost_fp=cost_fp,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    comparison = MoneyComparison(
        champion=decisions[0],
        challenger=decisions[1],
        savings_per_customer=decisions[0].test_cost_per_customer
        - decisions[1].test_cost_per_customer,
        savings_low=interval.low,
        savings_high=interval.high,
        confidence=confidence,
        paired=interval.paired,
    )
    logger.info(
        "Challenger saves %.4f per customer (%.4f to %.4f)",
        comparison.savings_per_customer,
        comparison.savings_low,
        comparison.savings_high,
    )
    return comparison


def _run_cost_in_money(
    predictions: pd.DataFrame, cost_fn: float, cost_fp: float
) -> RunCostInMoney:
    oof = _split_rows(predictions, "oof")
    test = _split_rows(predictions, "test")
    choice = optimal_threshold(
        confusion_curve(oof["y_true"], oof["y_score"]).apply_costs(cost_fn, cost_fp)
    )
    cost = cost_at(test["y_true"], test["y_score"], choice.threshold, cost_fn, cost_fp)
    n_contacted = int(np.count_nonzero(test["y_score"].to_numpy() >= choice.threshold))
    return RunCostInMoney(
        threshold=choice.threshold,
        test_cost_per_customer=cost / len(test),
        n_contacted=n_contacted,
    )


def _split_rows(predictions: pd.DataFrame, split: str) -> pd.DataFrame:
    rows = predictions[predictions["split"] == split]
    if rows.empty:
        raise ValueError(
            f"The predictions have no rows with split={split!r}: pass the frame returned by "
            "core.tracking.load_predictions for a ChurnLab model run."
        )
    return rows.reset_index(drop=True)


def _check_values(customer_value: ArrayLike, n: int) -> np.ndarray:
    values = np.asarray(customer_value, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(n, float(values))
    if values.shape != (n,):
        raise ValueError(
            f"customer_value has shape {values.shape} but there are {n} customers: pass "
            "one value per customer or a single number."
        )
    if not np.all(np.isfinite(values)) or values.min(initial=0.0) < 0:
        raise ValueError(
            "customer_value contains negative, NaN or infinite values: pass finite "
            "values >= 0, such as MonthlyCharges times a horizon in months."
        )
    return values


def _check_horizon(horizon_months: float) -> float:
    return _check_entered_number(
        "horizon_months",
        horizon_months,
        "The horizon must be more than 0 months",
        "such as 12",
        inclusive=False,
    )


def _check_entered_number(
    name: str,
    value: float,
    rule: str,
    example: str,
    *,
    maximum: float | None = None,
    inclusive: bool = True,
) -> float:
    """Check a number that people type, raising a ValueError in plain words.

    The message opens with `rule`, names the value and the parameter (for callers of the
    Python API) and ends with the fix, for example "Enter a number such as 12.".
    """
    try:
        return _check_number(name, value, minimum=0.0, maximum=maximum, inclusive=inclusive)
    except ValueError:
        raise ValueError(
            f"{rule}, not {value!r} ({name}={value!r}). Enter a number {example}."
        ) from None


def _check_number(
    name: str,
    value: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    inclusive: bool = True,
) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name}={value!r}: pass a number.") from None
    if not math.isfinite(number):
        raise ValueError(f"Invalid {name}={value!r}: pass a finite number.")
    if minimum is not None:
        below = number < minimum if inclusive else number <= minimum
        if below:
            bound = ">=" if inclusive else ">"
            raise ValueError(f"Invalid {name}={value!r}: it must be {bound} {minimum:g}.")
    if maximum is not None and number > maximum:
        raise ValueError(
            f"Invalid {name}={value!r}: it must be between {minimum:g} and {maximum:g}."
        )
    return number


def sensitivity_table(
    y_true: ArrayLike,
    y_score: ArrayLike,
    ratios: ArrayLike | None = None,
    cost_fp: float = 1.0,
) -> pd.DataFrame:
    """Tabulate how the optimal threshold and savings move with the FN/FP cost ratio.

    The confusion counts are built once and re-weighted per ratio, so 50 ratios cost about
    as much as one curve.

    Args:
        y_true: Labels, 1 for churn and 0 otherwise.
        y_score: Churn probabilities, finite and within [0, 1].
        ratios: FN/FP cost ratios, each > 0; 1 to 50 in steps of 1 when None.
        cost_fp: Cost of an unneeded offer; a missed churner costs `ratio * cost_fp`.

    Returns:
        One row per ratio: `ratio`, `cost_fn`, `cost_fp`, `threshold`, `n_contacted`,
        `cost_per_customer` and `savings_per_customer` (against contacting no one).
    """
    ratio_values = np.arange(1, 51, dtype=np.float64) if ratios is None else np.asarray(ratios)
    if ratio_values.size == 0 or not np.all(np.isfinite(ratio_values)) or ratio_values.min() <= 0:
        raise ValueError("Invalid ratios: pass finite FN/FP cost ratios > 0, such as 1 to 50.")
    cost_fp = _check_number("cost_fp", cost_fp, minimum=0.0, inclusive=False)
    counts = confusion_curve(y_true, y_score)

    rows = []
    for ratio in ratio_values:
        cost_fn = float(ratio) * cost_fp
        choice = optimal_threshold(counts.apply_costs(cost_fn, cost_fp))
        cost_none = counts.n_positive * cost_fn
        rows.append(
            {
                "ratio": float(ratio),
                "cost_fn": cost_fn,
                "cost_fp": cost_fp,
                "threshold": choice.threshold,
                "n_contacted": choice.n_contacted,
                "cost_per_customer": choice.cost_per_customer,
                "savings_per_customer": (cost_none - choice.cost) / counts.n,
            }
        )
    return pd.DataFrame(rows)
