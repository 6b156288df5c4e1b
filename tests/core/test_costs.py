"""Tests for core.costs: exact curves against brute-force counts, choices and savings."""

from __future__ import annotations

import numpy as np
import pytest

from core.costs import (
    CONTACT_NONE_THRESHOLD,
    DEFAULT_THRESHOLD,
    ConfusionCurve,
    CostCurve,
    confusion_at,
    confusion_curve,
    cost_at,
    cost_curve,
    cost_summary,
    optimal_threshold,
)

SEEDS = [0, 1, 2, 3]
COST_PAIRS = [(10.0, 1.0), (500.0, 50.0), (1.0, 1.0), (0.0, 1.0), (3.0, 0.0), (0.3, 0.1)]
# Label kinds: "mixed" draws informative labels, the others have a single class.
LABEL_KINDS = ["mixed", "all_zero", "all_one"]
# Decimals the scores are rounded to: 1 and 2 create many ties, None keeps them distinct.
ROUNDINGS = [1, 2, None]


def make_data(
    seed: int, label_kind: str, decimals: int | None, n: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Draw scores in [0, 1] and labels that follow them, or a single class."""
    rng = np.random.default_rng(seed)
    y_score = rng.beta(2.0, 5.0, size=n)
    if decimals is not None:
        y_score = np.round(y_score, decimals)
    if label_kind == "mixed":
        y_true = (rng.random(n) < y_score).astype(int)
    elif label_kind == "all_zero":
        y_true = np.zeros(n, dtype=int)
    else:
        y_true = np.ones(n, dtype=int)
    return y_true, y_score


def brute_force_counts(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float
) -> tuple[int, int, int, int]:
    """Count tp, fp, fn, tn customer by customer."""
    tp = fp = fn = tn = 0
    for label, score in zip(y_true, y_score, strict=True):
        contacted = score >= threshold
        if contacted and label == 1:
            tp += 1
        elif contacted:
            fp += 1
        elif label == 1:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


def brute_force_best(
    y_true: np.ndarray, y_score: np.ndarray, cost_fn: float, cost_fp: float
) -> tuple[float, int]:
    """Return the minimum cost over all decision sets and the fewest contacts reaching it."""
    candidates = [*sorted(set(y_score.tolist())), 2.0]
    results = []
    for threshold in candidates:
        _, fp, fn, _ = brute_force_counts(y_true, y_score, threshold)
        n_contacted = int(np.sum(y_score >= threshold))
        results.append((fn * cost_fn + fp * cost_fp, n_contacted))
    min_cost = min(cost for cost, _ in results)
    fewest = min(contacts for cost, contacts in results if np.isclose(cost, min_cost))
    return min_cost, fewest


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("label_kind", LABEL_KINDS)
@pytest.mark.parametrize("decimals", ROUNDINGS)
def test_curve_matches_brute_force(seed: int, label_kind: str, decimals: int | None) -> None:
    y_true, y_score = make_data(seed, label_kind, decimals)
    curve = cost_curve(y_true, y_score, cost_fn=10.0, cost_fp=1.0)

    expected_thresholds = np.append(np.unique(y_score), CONTACT_NONE_THRESHOLD)
    np.testing.assert_array_equal(curve.thresholds, expected_thresholds)
    for i, threshold in enumerate(curve.thresholds):
        tp, fp, fn, tn = brute_force_counts(y_true, y_score, threshold)
        assert curve.tp[i] == tp, f"tp at threshold {threshold}"
        assert curve.fp[i] == fp, f"fp at threshold {threshold}"
        assert curve.fn[i] == fn, f"fn at threshold {threshold}"
        assert curve.tn[i] == tn, f"tn at threshold {threshold}"
        assert curve.n_contacted[i] == tp + fp, f"n_contacted at threshold {threshold}"
        assert curve.cost[i] == pytest.approx(fn * 10.0 + fp * 1.0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cost_fn, cost_fp", COST_PAIRS)
@pytest.mark.parametrize("label_kind", LABEL_KINDS)
def test_curve_costs_match_brute_force(
    seed: int, cost_fn: float, cost_fp: float, label_kind: str
) -> None:
    y_true, y_score = make_data(seed, label_kind, decimals=2, n=120)
    curve = cost_curve(y_true, y_score, cost_fn=cost_fn, cost_fp=cost_fp)

    for i, threshold in enumerate(curve.thresholds):
        _, fp, fn, _ = brute_force_counts(y_true, y_score, threshold)
        assert curve.cost[i] == pytest.approx(fn * cost_fn + fp * cost_fp)
        assert curve.cost_per_customer[i] == pytest.approx((fn * cost_fn + fp * cost_fp) / 120)
    assert curve.cost_fn == cost_fn
    assert curve.cost_fp == cost_fp
    assert curve.n == 120
    assert curve.n_positive == int(y_true.sum())


def test_curve_endpoints_contact_all_then_none() -> None:
    y_true, y_score = make_data(0, "mixed", decimals=2)
    curve = cost_curve(y_true, y_score)

    assert curve.n_contacted[0] == len(y_score)
    assert curve.n_contacted[-1] == 0
    assert curve.thresholds[0] == y_score.min()
    assert curve.thresholds[-1] > 1.0
    assert np.all(np.diff(curve.thresholds) > 0)
    assert np.all(np.diff(curve.n_contacted) < 0)


def test_curve_keeps_ties_on_one_side() -> None:
    curve = confusion_curve([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])

    np.testing.assert_array_equal(curve.thresholds, [0.5, CONTACT_NONE_THRESHOLD])
    np.testing.assert_array_equal(curve.n_contacted, [4, 0])
    np.testing.assert_array_equal(curve.tp, [2, 0])
    np.testing.assert_array_equal(curve.fp, [2, 0])


def test_curve_includes_score_one() -> None:
    curve = confusion_curve([1, 0, 1], [1.0, 0.0, 1.0])

    np.testing.assert_array_equal(curve.thresholds, [0.0, 1.0, CONTACT_NONE_THRESHOLD])
    np.testing.assert_array_equal(curve.tp, [2, 2, 0])
    np.testing.assert_array_equal(curve.fp, [1, 0, 0])


def test_apply_costs_matches_cost_curve() -> None:
    y_true, y_score = make_data(1, "mixed", decimals=None)
    confusion = confusion_curve(y_true, y_score)

    for cost_fn, cost_fp in COST_PAIRS:
        weighted = confusion.apply_costs(cost_fn, cost_fp)
        direct = cost_curve(y_true, y_score, cost_fn, cost_fp)
        assert isinstance(weighted, CostCurve)
        np.testing.assert_array_equal(weighted.cost, direct.cost)
        np.testing.assert_array_equal(weighted.cost_per_customer, direct.cost_per_customer)


def test_curve_arrays_are_read_only() -> None:
    curve = cost_curve([0, 1, 1], [0.1, 0.4, 0.8])

    for name in ("thresholds", "tp", "fp", "fn", "tn", "n_contacted", "cost"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(curve, name)[0] = 0


def test_curve_accepts_money_amounts() -> None:
    y_true, y_score = make_data(2, "mixed", decimals=2)
    small = cost_curve(y_true, y_score, cost_fn=10, cost_fp=1)
    large = cost_curve(y_true, y_score, cost_fn=500, cost_fp=50)

    np.testing.assert_allclose(large.cost, small.cost * 50)
    assert optimal_threshold(large).index == optimal_threshold(small).index


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cost_fn, cost_fp", COST_PAIRS)
@pytest.mark.parametrize("label_kind", LABEL_KINDS)
@pytest.mark.parametrize("decimals", [1, 2])
def test_optimal_threshold_matches_brute_force(
    seed: int, cost_fn: float, cost_fp: float, label_kind: str, decimals: int
) -> None:
    y_true, y_score = make_data(seed, label_kind, decimals, n=150)
    choice = optimal_threshold(cost_curve(y_true, y_score, cost_fn, cost_fp))
    min_cost, fewest_contacts = brute_force_best(y_true, y_score, cost_fn, cost_fp)

    assert choice.cost == pytest.approx(min_cost)
    assert choice.n_contacted == fewest_contacts
    assert choice.cost_per_customer == pytest.approx(min_cost / 150)
    # The midpoint threshold must reproduce the chosen decisions on the same data.
    assert cost_at(y_true, y_score, choice.threshold, cost_fn, cost_fp) == pytest.approx(min_cost)
    assert int(np.sum(y_score >= choice.threshold)) == fewest_contacts


@pytest.mark.parametrize("seed", SEEDS)
def test_optimal_threshold_sits_between_scores(seed: int) -> None:
    y_true, y_score = make_data(seed, "mixed", decimals=2)
    curve = cost_curve(y_true, y_score)
    choice = optimal_threshold(curve)

    upper = curve.thresholds[choice.index]
    lower = curve.thresholds[choice.index - 1] if choice.index > 0 else 0.0
    assert choice.threshold == pytest.approx((lower + upper) / 2)
    assert choice.threshold not in set(y_score.tolist())


def test_optimal_threshold_all_negative_contacts_none() -> None:
    choice = optimal_threshold(cost_curve([0, 0, 0], [0.2, 0.6, 0.9]))

    assert choice.n_contacted == 0
    assert choice.cost == 0.0
    assert 0.9 < choice.threshold <= CONTACT_NONE_THRESHOLD


def test_optimal_threshold_all_positive_contacts_everyone() -> None:
    choice = optimal_threshold(cost_curve([1, 1, 1], [0.2, 0.6, 0.9]))

    assert choice.n_contacted == 3
    assert choice.cost == 0.0
    assert choice.threshold == pytest.approx(0.1)


def test_optimal_threshold_none_with_score_one() -> None:
    # The midpoint of 1.0 and the next float rounds to 1.0, which would contact the 1.0 score.
    choice = optimal_threshold(cost_curve([0, 0], [0.3, 1.0], cost_fn=10, cost_fp=1))

    assert choice.n_contacted == 0
    assert choice.threshold > 1.0
    assert confusion_at([0, 0], [0.3, 1.0], choice.threshold).n_contacted == 0


def test_optimal_threshold_all_with_score_zero() -> None:
    choice = optimal_threshold(cost_curve([1, 1], [0.0, 0.4]))

    assert choice.n_contacted == 2
    assert choice.threshold == 0.0


def test_optimal_threshold_tie_prefers_fewer_contacts() -> None:
    # Contacting everyone costs 2 (two false positives) and contacting no customer costs 2
    # (one missed churner at cost 2), so the tie must go to contacting no customer.
    curve = cost_curve([0, 1, 0], [0.5, 0.5, 0.5], cost_fn=2.0, cost_fp=1.0)
    choice = optimal_threshold(curve)

    np.testing.assert_array_equal(curve.cost, [2.0, 2.0])
    assert choice.index == 1
    assert choice.n_contacted == 0


def test_precision_recall_f1_per_threshold() -> None:
    y_true = np.array([0, 1, 1, 0, 1])
    y_score = np.array([0.2, 0.2, 0.9, 0.5, 1.0])
    curve = confusion_curve(y_true, y_score)

    np.testing.assert_allclose(curve.precision(), [3 / 5, 2 / 3, 1.0, 1.0, np.nan])
    np.testing.assert_allclose(curve.recall(), [1.0, 2 / 3, 2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(curve.f1(), [6 / 8, 4 / 6, 4 / 5, 2 / 4, 0.0])


def test_metrics_undefined_without_positives() -> None:
    curve = confusion_curve([0, 0], [0.1, 0.7])

    assert np.all(np.isnan(curve.recall()))
    np.testing.assert_array_equal(curve.precision()[:2], [0.0, 0.0])
    assert np.isnan(curve.precision()[-1])
    assert np.isnan(curve.f1()[-1])


def test_confusion_at_matches_brute_force() -> None:
    y_true, y_score = make_data(3, "mixed", decimals=1)

    for threshold in (0.0, 0.1, 0.25, 0.3, DEFAULT_THRESHOLD, 1.0, 1.5):
        counts = confusion_at(y_true, y_score, threshold)
        tp, fp, fn, tn = brute_force_counts(y_true, y_score, threshold)
        assert counts.tp == tp
        assert counts.fp == fp
        assert counts.fn == fn
        assert counts.tn == tn
        assert counts.n_contacted == tp + fp


@pytest.mark.parametrize("cost_fn, cost_fp", COST_PAIRS)
@pytest.mark.parametrize("label_kind", LABEL_KINDS)
def test_cost_summary_savings_identities(cost_fn: float, cost_fp: float, label_kind: str) -> None:
    y_true, y_score = make_data(0, label_kind, decimals=2)
    n = len(y_true)
    n_positive = int(y_true.sum())
    summary = cost_summary(y_true, y_score, 0.2, cost_fn, cost_fp)

    assert summary.cost == pytest.approx(cost_at(y_true, y_score, 0.2, cost_fn, cost_fp))
    assert summary.cost_default_threshold == pytest.approx(
        cost_at(y_true, y_score, DEFAULT_THRESHOLD, cost_fn, cost_fp)
    )
    assert summary.cost_contact_none == pytest.approx(n_positive * cost_fn)
    assert summary.cost_contact_all == pytest.approx((n - n_positive) * cost_fp)
    assert summary.cost_contact_none == pytest.approx(
        cost_at(y_true, y_score, 2.0, cost_fn, cost_fp)
    )
    assert summary.cost_contact_all == pytest.approx(
        cost_at(y_true, y_score, 0.0, cost_fn, cost_fp)
    )

    assert summary.savings_vs_default_threshold == pytest.approx(
        summary.cost_default_threshold - summary.cost
    )
    assert summary.savings_vs_contact_none == pytest.approx(
        summary.cost_contact_none - summary.cost
    )
    assert summary.savings_vs_contact_all == pytest.approx(summary.cost_contact_all - summary.cost)

    per_customer_pairs = [
        ("cost", "cost_per_customer"),
        ("cost_default_threshold", "cost_default_threshold_per_customer"),
        ("cost_contact_none", "cost_contact_none_per_customer"),
        ("cost_contact_all", "cost_contact_all_per_customer"),
        ("savings_vs_default_threshold", "savings_vs_default_threshold_per_customer"),
        ("savings_vs_contact_none", "savings_vs_contact_none_per_customer"),
        ("savings_vs_contact_all", "savings_vs_contact_all_per_customer"),
    ]
    for total_name, per_customer_name in per_customer_pairs:
        total = getattr(summary, total_name)
        assert getattr(summary, per_customer_name) == pytest.approx(total / n), per_customer_name


def test_cost_summary_optimum_saves_against_baselines() -> None:
    y_true, y_score = make_data(1, "mixed", decimals=None, n=500)
    choice = optimal_threshold(cost_curve(y_true, y_score))
    summary = cost_summary(y_true, y_score, choice.threshold)

    assert summary.cost == pytest.approx(choice.cost)
    assert summary.savings_vs_default_threshold >= 0
    assert summary.savings_vs_contact_none >= 0
    assert summary.savings_vs_contact_all >= 0


INVALID_COSTS = [
    (-1.0, 1.0, r"cost_fn=-1\.0.*finite and >= 0"),
    (10.0, -0.5, r"cost_fp=-0\.5.*finite and >= 0"),
    (float("nan"), 1.0, r"cost_fn=nan.*finite"),
    (10.0, float("inf"), r"cost_fp=inf.*finite"),
    ("ten", 1.0, r"cost_fn='ten'.*pass a number"),
    (0.0, 0.0, r"both 0.*at least one of them above 0"),
]


@pytest.mark.parametrize("cost_fn, cost_fp, message", INVALID_COSTS)
def test_invalid_costs_raise(cost_fn: object, cost_fp: object, message: str) -> None:
    y_true, y_score = [0, 1], [0.2, 0.8]

    with pytest.raises(ValueError, match=message):
        cost_curve(y_true, y_score, cost_fn, cost_fp)
    with pytest.raises(ValueError, match=message):
        confusion_curve(y_true, y_score).apply_costs(cost_fn, cost_fp)
    with pytest.raises(ValueError, match=message):
        cost_at(y_true, y_score, 0.5, cost_fn, cost_fp)
    with pytest.raises(ValueError, match=message):
        cost_summary(y_true, y_score, 0.5, cost_fn, cost_fp)


INVALID_INPUTS = [
    ([0, 1, 1], [0.2, 0.8], r"y_true has 3 values but y_score has 2"),
    ([], [], r"empty: pass at least one customer"),
    ([0, 2], [0.2, 0.8], r"values other than 0 and 1, e\.g\. \[2\]"),
    (["No", "Yes"], [0.2, 0.8], r"values other than 0 and 1"),
    ([0.0, np.nan], [0.2, 0.8], r"values other than 0 and 1"),
    ([[0, 1]], [[0.2, 0.8]], r"y_true has shape \(1, 2\)"),
    ([0, 1], [[0.2, 0.8]], r"y_score has shape \(1, 2\)"),
    ([0, 1], [0.2, np.nan], r"y_score contains 1 NaN or infinite"),
    ([0, 1], [0.2, np.inf], r"y_score contains 1 NaN or infinite"),
    ([0, 1], [-0.1, 0.8], r"outside \[0, 1\]"),
    ([0, 1], [0.2, 1.5], r"outside \[0, 1\]"),
    ([0, 1], ["low", "high"], r"y_score is not numeric"),
]


@pytest.mark.parametrize("y_true, y_score, message", INVALID_INPUTS)
def test_invalid_inputs_raise(y_true: object, y_score: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_curve(y_true, y_score)
    with pytest.raises(ValueError, match=message):
        cost_curve(y_true, y_score)
    with pytest.raises(ValueError, match=message):
        confusion_at(y_true, y_score, 0.5)
    with pytest.raises(ValueError, match=message):
        cost_summary(y_true, y_score, 0.5)


@pytest.mark.parametrize(
    "threshold, message",
    [(float("nan"), r"threshold=nan"), ("high", r"threshold='high'.*pass a number")],
)
def test_invalid_threshold_raises(threshold: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_at([0, 1], [0.2, 0.8], threshold)
    with pytest.raises(ValueError, match=message):
        cost_at([0, 1], [0.2, 0.8], threshold)


def test_curve_accepts_bool_labels_and_lists() -> None:
    curve = confusion_curve([False, True, True], [0.1, 0.4, 0.8])

    assert isinstance(curve, ConfusionCurve)
    assert curve.n_positive == 2
    np.testing.assert_array_equal(curve.tp, [2, 2, 1, 0])
