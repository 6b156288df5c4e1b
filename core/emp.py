"""Expected maximum profit (EMP) for customer churn models.

Source: T. Verbraken, W. Verbeke and B. Baesens, "A Novel Profit Maximizing Metric for
Measuring Classification Performance of Customer Churn Prediction Models", IEEE Transactions
on Knowledge and Data Engineering 25(5), 2013.

Contacting the customers with `y_score >= t` gives an average profit per customer of

    P(t; gamma) = CLV * (gamma * (1 - delta) - phi) * pi1 * F1(t)
                  - CLV * (delta + phi) * pi0 * F0(t)

where pi1 and pi0 are the shares of churners and non-churners, F1(t) and F0(t) the shares of
churners and non-churners contacted (the true and false positive rates), CLV the value of a
kept customer, delta = offer cost / CLV, phi = contact cost / CLV, and gamma the share of
contacted churners who accept the offer. A contacted non-churner accepts the offer too. The
acceptance rate is uncertain, gamma ~ Beta(alpha, beta), and

    EMP = integral over [0, 1] of max_t P(t; gamma) * h(gamma) dgamma,

with h the Beta density. For one gamma, P is linear in (F0, F1), so its maximum over all
thresholds sits on a vertex of the ROC convex hull. Vertex k of the hull (vertex 0 contacts
no one) is optimal for gamma between gamma_k and gamma_(k+1), where gamma_k is the rate at
which moving along hull segment k, of slope s_k = dF1 / dF0, breaks even:

    gamma_k = ((delta + phi) * pi0 / (pi1 * s_k) + phi) / (1 - delta).

P is linear in gamma, so each piece integrates in closed form with the Beta CDF. The share of
customers contacted at the optimum, averaged over gamma, is the EMP-optimal share contacted.
The defaults are those the authors propose: alpha 6, beta 14 (mean acceptance 0.3), CLV 200,
delta 0.05 (an offer costs 10) and phi 0.005 (a contact costs 1).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import beta as beta_distribution

from core.costs import confusion_curve

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmpSettings:
    """Parameters of the EMP measure.

    Attributes:
        alpha: First shape parameter of the Beta distribution of the acceptance rate, > 0.
        beta: Second shape parameter, > 0.
        clv: Value of a kept customer, > 0.
        delta: Offer cost divided by `clv`, in [0, 1).
        phi: Contact cost divided by `clv`, >= 0.
    """

    alpha: float = 6.0
    beta: float = 14.0
    clv: float = 200.0
    delta: float = 0.05
    phi: float = 0.005

    def validate(self) -> EmpSettings:
        """Return the settings, or raise ValueError naming the invalid one and the fix."""
        for name in ("alpha", "beta", "clv"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"Invalid {name}={value!r}: it must be a finite number > 0, such as "
                    f"{getattr(EmpSettings, name):g}."
                )
        if not (math.isfinite(self.delta) and 0 <= self.delta < 1):
            raise ValueError(
                f"Invalid delta={self.delta!r}: the offer cost over CLV must be in [0, 1), "
                "such as 0.05."
            )
        if not (math.isfinite(self.phi) and self.phi >= 0):
            raise ValueError(
                f"Invalid phi={self.phi!r}: the contact cost over CLV must be >= 0, such as 0.005."
            )
        return self

    @classmethod
    def from_costs(
        cls,
        clv: float,
        offer_cost: float,
        contact_cost: float,
        alpha: float = 6.0,
        beta: float = 14.0,
    ) -> EmpSettings:
        """Build settings from money amounts instead of shares of CLV."""
        if not (math.isfinite(clv) and clv > 0):
            raise ValueError(f"Invalid clv={clv!r}: it must be a finite number > 0, such as 200.")
        return cls(
            alpha=alpha, beta=beta, clv=clv, delta=offer_cost / clv, phi=contact_cost / clv
        ).validate()


@dataclass(frozen=True)
class EmpResult:
    """EMP of one set of scores.

    Attributes:
        emp: Expected maximum profit per customer, in the money unit of CLV.
        share_contacted: Expected share of customers contacted at the optimum.
        hull_fpr: False positive rates of the ROC convex hull vertices, from (0, 0).
        hull_tpr: True positive rates of the vertices.
        gamma_bounds: Acceptance rates at which the optimal vertex changes, one per segment.
    """

    emp: float
    share_contacted: float
    hull_fpr: np.ndarray
    hull_tpr: np.ndarray
    gamma_bounds: np.ndarray


def roc_convex_hull(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the upper convex hull of ROC points that ascend from (0, 0) to (1, 1)."""
    hull: list[tuple[float, float]] = []
    for point in zip(fpr.tolist(), tpr.tolist(), strict=True):
        while len(hull) >= 2 and _turns_left_or_straight(hull[-2], hull[-1], point):
            hull.pop()
        hull.append(point)
    xs, ys = zip(*hull, strict=True)
    return np.array(xs), np.array(ys)


def empirical_roc(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return (fpr, tpr) at every distinct threshold, from contacting no one to everyone.

    Raises:
        ValueError: If the inputs are invalid or contain only one class.
    """
    curve = confusion_curve(y_true, y_score)
    n_negative = curve.n - curve.n_positive
    if curve.n_positive == 0 or n_negative == 0:
        raise ValueError(
            f"EMP needs churners and non-churners, got {curve.n_positive} churners among "
            f"{curve.n} customers: use a sample with both classes."
        )
    fpr = curve.fp[::-1] / n_negative
    tpr = curve.tp[::-1] / curve.n_positive
    return fpr, tpr


def emp_score(
    y_true: ArrayLike, y_score: ArrayLike, settings: EmpSettings | None = None
) -> EmpResult:
    """Compute the expected maximum profit per customer and the EMP-optimal share contacted.

    Args:
        y_true: Labels, 1 for churn and 0 otherwise, with both classes present.
        y_score: Churn probabilities, finite and within [0, 1].
        settings: EMP parameters; the published defaults when None.

    Returns:
        EMP per customer, the share contacted and the ROC convex hull it came from.

    Raises:
        ValueError: If the inputs or settings are invalid.
    """
    settings = (settings or EmpSettings()).validate()
    labels = np.asarray(y_true)
    fpr, tpr = empirical_roc(labels, y_score)
    pi1 = float(np.mean(labels == 1))
    pi0 = 1.0 - pi1
    hull_fpr, hull_tpr = roc_convex_hull(fpr, tpr)

    delta, phi, clv = settings.delta, settings.phi, settings.clv
    d_fpr = np.diff(hull_fpr)
    d_tpr = np.diff(hull_tpr)
    # Break-even acceptance rate of each hull segment; a vertical segment (d_fpr = 0) only
    # gains churners, so it pays once gamma * (1 - delta) > phi.
    with np.errstate(divide="ignore", invalid="ignore"):
        cost_per_gain = np.where(d_tpr > 0, (delta + phi) * pi0 * d_fpr / (pi1 * d_tpr), np.inf)
    gamma_bounds = (cost_per_gain + phi) / (1.0 - delta)

    # Vertex k is optimal for gamma in [edges[k], edges[k + 1]].
    edges = np.clip(np.concatenate([[0.0], gamma_bounds, [1.0]]), 0.0, 1.0)
    edges = np.maximum.accumulate(edges)
    a, b = settings.alpha, settings.beta
    probability = np.diff(beta_distribution.cdf(edges, a, b))
    # Integral of gamma * h(gamma) over a piece: E[gamma] * P_Beta(a + 1, b)(piece).
    first_moment = a / (a + b) * np.diff(beta_distribution.cdf(edges, a + 1, b))

    gain_churners = clv * pi1 * hull_tpr
    loss_non_churners = clv * (delta + phi) * pi0 * hull_fpr
    emp = np.sum(
        gain_churners * ((1.0 - delta) * first_moment - phi * probability)
        - loss_non_churners * probability
    )
    share = np.sum((pi1 * hull_tpr + pi0 * hull_fpr) * probability)
    logger.debug("EMP %.4f per customer, share contacted %.4f", emp, share)
    return EmpResult(
        emp=float(emp),
        share_contacted=float(share),
        hull_fpr=hull_fpr,
        hull_tpr=hull_tpr,
        gamma_bounds=gamma_bounds,
    )


def _turns_left_or_straight(
    origin: tuple[float, float], middle: tuple[float, float], point: tuple[float, float]
) -> bool:
    # A non-negative cross product means `middle` lies on or below the segment from
    # `origin` to `point`, so it is not a vertex of the upper hull.
    cross = (middle[0] - origin[0]) * (point[1] - origin[1]) - (middle[1] - origin[1]) * (
        point[0] - origin[0]
    )
    return cross >= 0


def emp_from_predictions(
    predictions: pd.DataFrame, settings: EmpSettings | None = None, split: str = "test"
) -> EmpResult:
    """Compute EMP from a run's stored predictions (`core.tracking.load_predictions`).

    Raises:
        ValueError: If the split has no rows or the settings are invalid.
    """
    rows = predictions[predictions["split"] == split]
    if rows.empty:
        raise ValueError(
            f"The predictions have no rows with split={split!r}: use 'test' or 'oof'."
        )
    return emp_score(rows["y_true"].to_numpy(), rows["y_score"].to_numpy(), settings)
