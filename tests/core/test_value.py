"""Tests for core.value: campaign profit, capacity, sensitivity and money comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.costs import CONTACT_NONE_THRESHOLD
from core.value import (
    CampaignSettings,
    best_campaign,
    campaign_curve,
    campaign_frame,
    campaign_profit_at,
    capacity_list,
    capacity_summary,
    compare_runs_in_money,
    customer_values,
    gains_table,
    sensitivity_table,
)

# Offer 10, contact 1, half of contacted churners stay: a churner worth v gains
# 0.5 * (v - 10) - 1 and a non-churner costs 11.
SMALL_SETTINGS = CampaignSettings(
    horizon_months=1, offer_cost=10, contact_cost=1, acceptance_rate=0.5
)
SMALL_LABELS = np.array([1, 0, 1, 0])
SMALL_SCORES = np.array([0.9, 0.8, 0.3, 0.1])
SMALL_VALUES = np.array([100.0, 100.0, 200.0, 100.0])


def random_case(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(n), 2)  # rounding makes ties
    labels = (rng.random(n) < scores).astype(int)
    values = rng.uniform(20, 120, n) * 12
    return labels, scores, values


def test_campaign_curve_small_case_by_hand():
    curve = campaign_curve(SMALL_LABELS, SMALL_SCORES, SMALL_VALUES, SMALL_SETTINGS)
    # Gains: 44, -11, 94, -11 for the customers scored 0.9, 0.8, 0.3, 0.1.
    np.testing.assert_allclose(curve.thresholds, [0.1, 0.3, 0.8, 0.9, CONTACT_NONE_THRESHOLD])
    np.testing.assert_allclose(curve.profit, [116.0, 127.0, 33.0, 44.0, 0.0])
    np.testing.assert_array_equal(curve.n_contacted, [4, 3, 2, 1, 0])
    np.testing.assert_array_equal(curve.tp, [2, 2, 1, 1, 0])


def test_best_campaign_small_case():
    choice = best_campaign(
        campaign_curve(SMALL_LABELS, SMALL_SCORES, SMALL_VALUES, SMALL_SETTINGS)
    )
    assert choice.profit == pytest.approx(127.0)
    assert choice.n_contacted == 3
    assert choice.threshold == pytest.approx(0.2)
    assert choice.share_contacted == pytest.approx(0.75)


def test_campaign_curve_matches_brute_force():
    labels, scores, values = random_case()
    settings = CampaignSettings(horizon_months=12, offer_cost=30, contact_cost=3)
    curve = campaign_curve(labels, scores, values, settings)
    for threshold, profit in zip(curve.thresholds, curve.profit, strict=True):
        expected = campaign_profit_at(labels, scores, values, threshold, settings)
        assert profit == pytest.approx(expected, abs=1e-6)


def test_best_threshold_reproduces_profit():
    labels, scores, values = random_case(seed=3)
    curve = campaign_curve(labels, scores, values, SMALL_SETTINGS)
    choice = best_campaign(curve)
    at_choice = campaign_profit_at(labels, scores, values, choice.threshold, SMALL_SETTINGS)
    assert at_choice == pytest.approx(choice.profit)
    assert choice.profit == pytest.approx(curve.profit.max())


def test_campaign_counts_offers_to_churners():
    # A churner who stays anyway pays the offer, so with acceptance 1 the gain is v - d - f.
    settings = CampaignSettings(offer_cost=10, contact_cost=1, acceptance_rate=1.0)
    profit = campaign_profit_at([1], [0.9], [100.0], 0.5, settings)
    assert profit == pytest.approx(89.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("horizon_months", 0, "horizon_months=0"),
        ("offer_cost", -1, "offer_cost=-1"),
        ("contact_cost", float("nan"), "contact_cost=nan"),
        ("acceptance_rate", 1.5, "acceptance_rate=1.5"),
        ("acceptance_rate", -0.1, "acceptance_rate=-0.1"),
    ],
)
def test_campaign_settings_reject_invalid(field, value, message):
    with pytest.raises(ValueError, match=message):
        CampaignSettings(**{field: value}).validate()


def test_campaign_settings_reject_free_campaign():
    with pytest.raises(ValueError, match="both 0"):
        CampaignSettings(offer_cost=0, contact_cost=0).validate()


def test_customer_values_join_on_id():
    frame = pd.DataFrame({"customerID": ["a", "b", "c"], "MonthlyCharges": [10.0, 20.0, 30.0]})
    values = customer_values(["c", "a"], frame, horizon_months=12)
    np.testing.assert_allclose(values, [360.0, 120.0])


def test_customer_values_missing_id():
    frame = pd.DataFrame({"customerID": ["a"], "MonthlyCharges": [10.0]})
    with pytest.raises(ValueError, match="1 of 2 customers"):
        customer_values(["a", "zzz"], frame, horizon_months=12)


def test_customer_values_reject_zero_horizon():
    frame = pd.DataFrame({"customerID": ["a"], "MonthlyCharges": [10.0]})
    with pytest.raises(ValueError, match="horizon_months=0"):
        customer_values(["a"], frame, horizon_months=0)


def test_campaign_frame_test_split():
    predictions = pd.DataFrame(
        {
            "customerID": ["a", "b", "c"],
            "split": ["oof", "test", "test"],
            "y_true": [0, 1, 0],
            "y_score": [0.1, 0.7, 0.2],
        }
    )
    frame = pd.DataFrame({"customerID": ["a", "b", "c"], "MonthlyCharges": [1.0, 2.0, 3.0]})
    result = campaign_frame(predictions, frame, horizon_months=10)
    assert result["customerID"].tolist() == ["b", "c"]
    assert result["customer_value"].tolist() == [20.0, 30.0]


def test_capacity_summary_small_case():
    summary = capacity_summary(SMALL_LABELS, SMALL_SCORES, SMALL_VALUES, 2, SMALL_SETTINGS)
    assert summary.churners_found == 1
    assert summary.precision == pytest.approx(0.5)
    assert summary.recall == pytest.approx(0.5)
    assert summary.lift == pytest.approx(1.0)
    assert summary.profit == pytest.approx(33.0)
    assert summary.min_score == pytest.approx(0.8)


@pytest.mark.parametrize("k", [0, 5, 2.5])
def test_capacity_rejects_invalid(k):
    with pytest.raises(ValueError, match="capacity"):
        capacity_summary(SMALL_LABELS, SMALL_SCORES, SMALL_VALUES, k, SMALL_SETTINGS)


def test_capacity_list_order():
    campaign = pd.DataFrame(
        {
            "customerID": ["a", "b", "c"],
            "y_true": [0, 1, 0],
            "y_score": [0.2, 0.9, 0.5],
            "customer_value": [1.0, 2.0, 3.0],
        }
    )
    listing = capacity_list(campaign, 2)
    assert listing["customerID"].tolist() == ["b", "c"]
    assert listing["rank"].tolist() == [1, 2]


def test_gains_table_ends():
    table = gains_table(SMALL_LABELS, SMALL_SCORES)
    assert len(table) == 5
    assert table["gain"].iloc[-1] == pytest.approx(1.0)
    assert table["lift"].iloc[-1] == pytest.approx(1.0)
    assert table["lift"].iloc[1] == pytest.approx(2.0)  # first contacted is a churner
    assert np.isnan(table["lift"].iloc[0])


def test_sensitivity_contacts_more_as_ratio_rises():
    labels, scores, _ = random_case(seed=5)
    table = sensitivity_table(labels, scores)
    assert table["ratio"].tolist() == list(range(1, 51))
    assert np.all(np.diff(table["n_contacted"]) >= 0)
    assert np.all(np.diff(table["threshold"]) <= 1e-12)


def test_sensitivity_rejects_zero_ratio():
    with pytest.raises(ValueError, match="ratios"):
        sensitivity_table(SMALL_LABELS, SMALL_SCORES, ratios=[0, 1])


def predictions_frame(scores_oof, scores_test, labels_oof, labels_test) -> pd.DataFrame:
    n_oof, n_test = len(scores_oof), len(scores_test)
    return pd.DataFrame(
        {
            "customerID": [f"o{i}" for i in range(n_oof)] + [f"t{i}" for i in range(n_test)],
            "split": ["oof"] * n_oof + ["test"] * n_test,
            "y_true": np.concatenate([labels_oof, labels_test]),
            "y_score": np.concatenate([scores_oof, scores_test]),
        }
    )


def test_compare_same_run_saves_nothing():
    labels, scores, _ = random_case(seed=7)
    run = predictions_frame(scores[:200], scores[200:], labels[:200], labels[200:])
    comparison = compare_runs_in_money(run, run, cost_fn=10, cost_fp=1)
    assert comparison.paired
    assert comparison.savings_per_customer == 0
    assert comparison.savings_low == 0
    assert comparison.savings_high == 0


def test_compare_perfect_challenger_saves():
    labels, scores, _ = random_case(seed=8)
    champion = predictions_frame(scores[:200], scores[200:], labels[:200], labels[200:])
    perfect = labels.astype(float)
    challenger = predictions_frame(perfect[:200], perfect[200:], labels[:200], labels[200:])
    comparison = compare_runs_in_money(champion, challenger, cost_fn=10, cost_fp=1)
    assert comparison.challenger.test_cost_per_customer == 0
    assert comparison.savings_per_customer > 0
    assert comparison.savings_low > 0
