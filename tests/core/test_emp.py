"""Tests for core.emp against closed forms and a brute-force integration over gamma."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.stats import beta as beta_distribution

from core.emp import EmpSettings, emp_from_predictions, emp_score, roc_convex_hull


def brute_force_emp(labels, scores, settings: EmpSettings, n_gamma: int = 200_001):
    """Integrate max over every threshold of the profit, without the convex hull."""
    labels = np.asarray(labels)
    thresholds = np.append(np.unique(scores), np.inf)
    contacted = scores[None, :] >= thresholds[:, None]
    tpr = (contacted & (labels == 1)).sum(axis=1) / (labels == 1).sum()
    fpr = (contacted & (labels == 0)).sum(axis=1) / (labels == 0).sum()
    pi1 = labels.mean()
    pi0 = 1 - pi1
    share = pi1 * tpr + pi0 * fpr

    gammas = np.linspace(0, 1, n_gamma)
    density = beta_distribution.pdf(gammas, settings.alpha, settings.beta)
    gain = settings.clv * (gammas[:, None] * (1 - settings.delta) - settings.phi) * pi1 * tpr
    loss = settings.clv * (settings.delta + settings.phi) * pi0 * fpr
    profit = gain - loss[None, :]
    best = profit.argmax(axis=1)
    emp = np.trapezoid(profit[np.arange(n_gamma), best] * density, gammas)
    expected_share = np.trapezoid(share[best] * density, gammas)
    return emp, expected_share


def test_emp_perfect_classifier_closed_form():
    labels = np.array([1] * 3 + [0] * 7)
    scores = labels.astype(float)
    settings = EmpSettings()
    pi1 = 0.3
    break_even = settings.phi / (1 - settings.delta)

    def integrand(gamma):
        profit = settings.clv * pi1 * (gamma * (1 - settings.delta) - settings.phi)
        return profit * beta_distribution.pdf(gamma, settings.alpha, settings.beta)

    expected, _ = integrate.quad(integrand, break_even, 1)
    result = emp_score(labels, scores, settings)
    assert result.emp == pytest.approx(expected, rel=1e-9)
    expected_share = pi1 * beta_distribution.sf(break_even, settings.alpha, settings.beta)
    assert result.share_contacted == pytest.approx(expected_share, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_emp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(40), 2)
    labels = (rng.random(40) < scores).astype(int)
    labels[:2] = [0, 1]
    settings = EmpSettings(alpha=2, beta=3, clv=100, delta=0.2, phi=0.05)
    expected_emp, expected_share = brute_force_emp(labels, scores, settings)
    result = emp_score(labels, scores, settings)
    assert result.emp == pytest.approx(expected_emp, abs=1e-4)
    assert result.share_contacted == pytest.approx(expected_share, abs=1e-3)


def test_emp_default_settings_are_published_values():
    settings = EmpSettings()
    assert (settings.alpha, settings.beta) == (6.0, 14.0)
    assert settings.clv == 200.0
    assert settings.delta == pytest.approx(10 / 200)
    assert settings.phi == pytest.approx(1 / 200)


def test_emp_from_costs_matches_shares():
    settings = EmpSettings.from_costs(clv=200, offer_cost=10, contact_cost=1)
    assert settings == EmpSettings()


def test_emp_between_contact_all_and_perfect():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 4000)
    scores = rng.random(4000)
    settings = EmpSettings()
    pi1 = labels.mean()

    def contact_all_or_none(gamma):
        everyone = settings.clv * (
            (gamma * (1 - settings.delta) - settings.phi) * pi1
            - (settings.delta + settings.phi) * (1 - pi1)
        )
        return max(everyone, 0.0) * beta_distribution.pdf(gamma, settings.alpha, settings.beta)

    baseline, _ = integrate.quad(contact_all_or_none, 0, 1, limit=200)
    result = emp_score(labels, scores, settings)
    perfect = emp_score(labels, labels.astype(float), settings)
    assert result.emp >= baseline - 1e-9
    assert result.emp < perfect.emp


def test_roc_convex_hull_drops_points_under_hull():
    fpr = np.array([0.0, 0.2, 0.4, 0.5, 1.0])
    tpr = np.array([0.0, 0.6, 0.6, 0.9, 1.0])
    hull_fpr, hull_tpr = roc_convex_hull(fpr, tpr)
    np.testing.assert_allclose(hull_fpr, [0.0, 0.2, 0.5, 1.0])
    np.testing.assert_allclose(hull_tpr, [0.0, 0.6, 0.9, 1.0])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (EmpSettings(alpha=0), "alpha=0"),
        (EmpSettings(beta=-1), "beta=-1"),
        (EmpSettings(clv=0), "clv=0"),
        (EmpSettings(delta=1.0), "delta=1.0"),
        (EmpSettings(phi=-0.1), "phi=-0.1"),
    ],
)
def test_emp_settings_reject_invalid(settings, message):
    with pytest.raises(ValueError, match=message):
        settings.validate()


def test_emp_rejects_one_class():
    with pytest.raises(ValueError, match="churners and non-churners"):
        emp_score([0, 0, 0], [0.1, 0.2, 0.3])


def test_emp_from_predictions_uses_test_rows():
    predictions = pd.DataFrame(
        {
            "split": ["oof", "oof", "test", "test", "test"],
            "y_true": [1, 0, 1, 0, 0],
            "y_score": [0.1, 0.9, 0.8, 0.3, 0.2],
        }
    )
    result = emp_from_predictions(predictions)
    expected = emp_score([1, 0, 0], [0.8, 0.3, 0.2])
    assert result.emp == pytest.approx(expected.emp)


def test_emp_from_predictions_missing_split():
    predictions = pd.DataFrame({"split": ["oof"], "y_true": [1], "y_score": [0.5]})
    with pytest.raises(ValueError, match="split='test'"):
        emp_from_predictions(predictions)
