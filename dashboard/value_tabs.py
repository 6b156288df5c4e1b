"""Tabs of the Business value page: campaign, capacity, uncertainty, calibration and EMP.

Each function draws one tab from a `RunContext`; `core` computes everything.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.calibration import (
    CALIBRATION_METHODS,
    brier_score,
    calibrate_predictions,
    reliability_table,
    theoretical_threshold,
)
from core.costs import confusion_curve, optimal_threshold
from core.emp import EmpSettings, emp_score
from core.uncertainty import Interval, cost_band, profit_interval
from core.value import (
    best_campaign,
    campaign_curve,
    capacity_list,
    capacity_summary,
    check_capacity,
    gains_table,
)
from dashboard import charts_value
from dashboard.value_common import RunContext

CAPACITY_KEY = "value.capacity"
VALID_CAPACITY_KEY = "value.valid_capacity"
RESAMPLES_KEY = "value.resamples"
CALIBRATION_KEY = "value.calibration_method"
EMP_KEYS = {"alpha": "value.emp_alpha", "beta": "value.emp_beta", "clv": "value.emp_clv"}
VALID_EMP_KEY = "value.valid_emp"

BOOTSTRAP_HELP = (
    "A bootstrap re-draws the test customers at random many times and recomputes the figure "
    "each time, which shows how much it could move by chance."
)
EMP_HELP = (
    "EMP (expected maximum profit) is the profit per customer of the best campaign, averaged "
    "over a range of likely acceptance rates instead of one guessed rate."
)
EMP_INPUT_LABELS = {
    "alpha": "Accepting customers (weight)",
    "beta": "Refusing customers (weight)",
    "clv": "Value of a kept customer (money)",
}
EMP_INPUT_HELP = {
    "alpha": "Read the two weights as acceptances and refusals seen before: the mean "
    "acceptance rate is accepting / (accepting + refusing), so 6 and 14 give 30 %, and larger "
    "weights with the same ratio give a narrower range. Technical term: alpha, the first "
    "shape parameter of the Beta distribution of the acceptance rate. Must be more than 0.",
    "beta": "The weight of refusals, read with the weight of acceptances. Technical term: "
    "beta, the second shape parameter of the Beta distribution of the acceptance rate. Must "
    "be more than 0.",
    "clv": "What one kept customer is worth. Technical term: CLV, customer lifetime value. "
    "The default is the mean test customer value (MonthlyCharges times the horizon).",
}
CALIBRATION_LABELS = {"none": "None", "isotonic": "Isotonic", "sigmoid": "Sigmoid (Platt)"}
# Gap between the mean predicted risk and the observed churn rate, in percentage points,
# under which the probabilities count as matching on average.
CALIBRATION_TOLERANCE_POINTS = 1.0
CONTACT_LIST_COLUMNS = {
    "rank": "Rank",
    "customerID": "Customer ID",
    "churn_probability": "Churn probability",
    "customer_value": "Customer value (money)",
}


def campaign_tab(context: RunContext) -> None:
    """Draw the campaign profit at its profit-optimal threshold and at the threshold in use.

    The profit-optimal threshold is chosen on out-of-fold predictions; both profits are
    measured on the same test customers, so they differ only by the threshold.
    """
    test, settings = context.test, context.campaign
    oof_choice = best_campaign(
        campaign_curve(
            context.oof["y_true"], context.oof["y_score"], context.oof["customer_value"], settings
        )
    )
    curve = campaign_curve(test["y_true"], test["y_score"], test["customer_value"], settings)
    best = _test_profit(context, oof_choice.threshold)
    in_use = _test_profit(context, context.threshold)
    contacted = int((test["y_score"] >= oof_choice.threshold).sum())

    columns = st.columns(4)
    columns[0].metric(
        "Profit-optimal threshold",
        f"{oof_choice.threshold:.3f}",
        help="The threshold with the highest campaign profit on training data (out-of-fold "
        "predictions: scores for training customers from models that did not see them). "
        "Shown for comparison: it does not replace the threshold in use.",
    )
    columns[0].caption("campaign model, training data")
    _interval_metric(columns[1], "Profit per test customer", best, digits=2, help=BOOTSTRAP_HELP)
    _interval_metric(
        columns[2],
        "Profit at threshold in use",
        in_use,
        digits=2,
        help=f"The same campaign at the threshold in use ({context.threshold:.3f}). The meeting "
        "summary reports this figure, because a decision adopts the threshold in use.",
    )
    columns[3].metric("Test customers contacted", f"{contacted:,} of {len(test):,}")
    columns[3].caption("at the profit-optimal threshold")
    st.caption(
        "The meeting summary reports the profit at the threshold in use, because decisions "
        "adopt that threshold. Both profits are measured on the same test customers, so the "
        f"gap of {best.point - in_use.point:,.2f} per customer comes from the threshold alone. "
        "Every "
        f"contact costs {settings.contact_cost:g} and every accepted retention offer costs "
        f"{settings.offer_cost:g}, including offers taken by customers who would have stayed."
    )
    left, right = st.columns(2)
    for column, by in ((left, "threshold"), (right, "share")):
        figure = charts_value.profit_figure(
            curve, threshold=oof_choice.threshold, by=by, threshold_in_use=context.threshold
        )
        column.plotly_chart(figure, key=f"value.profit_{by}")


def _test_profit(context: RunContext, threshold: float) -> Interval:
    test = context.test
    return profit_interval(
        test["y_true"], test["y_score"], test["customer_value"], threshold, context.campaign
    )


def capacity_tab(context: RunContext) -> None:
    """Draw the capacity view: gains, lift and profit when only K customers can be contacted."""
    test = context.test
    n = len(test)
    st.session_state.setdefault(CAPACITY_KEY, min(200, n))
    st.number_input("Capacity: customers we can contact this month", step=10, key=CAPACITY_KEY)
    try:
        k = check_capacity(st.session_state[CAPACITY_KEY], n)
    except ValueError as error:
        st.error(f"{error} Showing the last valid capacity.")
        k = st.session_state.get(VALID_CAPACITY_KEY, min(200, n))
    st.session_state[VALID_CAPACITY_KEY] = k

    summary = capacity_summary(
        test["y_true"], test["y_score"], test["customer_value"], k, context.campaign
    )
    columns = st.columns(4)
    columns[0].metric("Churners found", f"{summary.churners_found:,}")
    columns[1].metric("Share of churners found", f"{summary.recall:.1%}")
    columns[2].metric("Lift", f"{summary.lift:.2f}")
    columns[3].metric("Expected campaign profit", f"{summary.profit:,.0f}")
    table = gains_table(test["y_true"], test["y_score"])
    left, right = st.columns(2)
    left.plotly_chart(charts_value.gains_figure(table, k), key="value.gains")
    right.plotly_chart(charts_value.lift_figure(table, k), key="value.lift")

    listing = capacity_list(test, k).rename(columns=CONTACT_LIST_COLUMNS)
    st.dataframe(
        listing,
        hide_index=True,
        height=240,
        column_config={
            "Churn probability": st.column_config.NumberColumn(format="%.3f"),
            "Customer value (money)": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.download_button(
        "Download the contact list (CSV)",
        listing.to_csv(index=False).encode(),
        file_name=f"contact_list_top{k}.csv",
        mime="text/csv",
        key="value.download_list",
    )


def _interval_metric(
    column, label: str, interval: Interval, *, digits: int = 3, note: str = "", help: str = ""
) -> None:
    # The interval goes under the number: a metric card cuts long values off.
    if math.isnan(interval.point):
        column.metric(label, "n/a", help=help or None)
        return
    column.metric(label, f"{interval.point:,.{digits}f}", help=help or None)
    percent = round(100 * interval.confidence)
    column.caption(
        f"{percent} % interval: {interval.low:,.{digits}f} to {interval.high:,.{digits}f}{note}"
    )


def uncertainty_tab(context: RunContext) -> None:
    """Draw the bootstrap band around the cost curve and the decision's intervals."""
    st.session_state.setdefault(RESAMPLES_KEY, 200)
    st.select_slider(
        "Bootstrap resamples of the test set",
        options=[50, 100, 200, 500, 1000],
        key=RESAMPLES_KEY,
        help=BOOTSTRAP_HELP + " More resamples give steadier intervals but take longer.",
    )
    test = context.test
    band = cost_band(
        test["y_true"],
        test["y_score"],
        context.cost_fn,
        context.cost_fp,
        threshold=context.threshold,
        n_resamples=st.session_state[RESAMPLES_KEY],
    )
    st.markdown(f"Test customers at the threshold in use ({context.threshold:.3f}):")
    columns = st.columns(3)
    _interval_metric(columns[0], "Cost per customer", band.cost_at_threshold)
    _interval_metric(columns[1], "Savings vs contacting no one", band.savings_at_threshold)
    _interval_metric(
        columns[2],
        "Cost-optimal on test resamples",
        band.optimal_threshold,
        note=" · for information only",
        help="The threshold with the lowest cost on the whole test set, and the range of the "
        "cheapest thresholds over bootstrap resamples. It is never used to decide: the "
        "threshold in use is chosen on training data so that the test figures stay honest.",
    )
    st.plotly_chart(charts_value.cost_band_figure(band), key="value.band")
    st.caption(
        "Intervals are 90 % percentile intervals over bootstrap resamples of the test "
        "customers, so differences smaller than their width are noise. " + BOOTSTRAP_HELP
    )


def calibration_tab(context: RunContext) -> None:
    """Draw the reliability diagram, Brier scores and the theoretical threshold."""
    st.caption(
        "Calibration checks whether the probabilities can be taken at face value: of the "
        "customers given a 20 % churn risk, about 20 % should really leave."
    )
    st.session_state.setdefault(CALIBRATION_KEY, "none")
    method = st.radio(
        "Calibrate the probabilities (fitted on out-of-fold data only)",
        options=["none", *CALIBRATION_METHODS],
        format_func=lambda name: CALIBRATION_LABELS.get(name, name),
        horizontal=True,
        key=CALIBRATION_KEY,
        help="Re-map the scores so that they match observed churn rates, learning the map "
        "from out-of-fold predictions only: scores for training customers from models that "
        "did not see them. Sigmoid (Platt) fits a logistic curve to the scores; isotonic fits "
        "any increasing step function.",
    )
    raw = context.predictions
    scores = {"raw": raw}
    if method != "none":
        scores[method] = calibrate_predictions(raw, method)
    for label, frame in scores.items():
        st.markdown(calibration_sentence(_display_label(label), *_test_arrays(frame)))

    columns = st.columns(len(scores) + 1)
    for column, (label, frame) in zip(columns, scores.items(), strict=False):
        column.metric(
            f"Brier score ({_display_label(label)})",
            f"{brier_score(*_test_arrays(frame)):.4f}",
            help="Test customers. The mean squared gap between the predicted probability and "
            "what happened (1 for a churner, 0 otherwise). Lower is better, and 0 is perfect.",
        )
    chosen = scores[method if method != "none" else "raw"]
    _theory_metric(columns[-1], context, chosen)
    tables = {
        _display_label(label): reliability_table(*_test_arrays(frame))
        for label, frame in scores.items()
    }
    st.plotly_chart(charts_value.reliability_figure(tables), key="value.reliability")


def calibration_sentence(label: str, y_true: np.ndarray, y_score: np.ndarray) -> str:
    """Say in words whether the mean predicted churn risk overstates the observed churn rate."""
    predicted = 100 * float(np.mean(y_score))
    observed = 100 * float(np.mean(y_true))
    gap = predicted - observed
    subject = label[:1].upper() + label[1:]
    start = (
        f"**{subject} probabilities:** on the test customers the mean predicted churn risk is "
        f"{predicted:.1f} % and {observed:.1f} % actually churned, so"
    )
    if gap > CALIBRATION_TOLERANCE_POINTS:
        return f"{start} they overstate the risk by {gap:.1f} percentage points on average."
    if gap < -CALIBRATION_TOLERANCE_POINTS:
        return f"{start} they understate the risk by {-gap:.1f} percentage points on average."
    return f"{start} they match the observed rate on average (within {abs(gap):.1f} points)."


def _display_label(method: str) -> str:
    return "raw" if method == "raw" else CALIBRATION_LABELS.get(method, method)


def _theory_metric(column, context: RunContext, chosen) -> None:
    oof = chosen[chosen["split"] == "oof"]
    measured = optimal_threshold(
        confusion_curve(oof["y_true"], oof["y_score"]).apply_costs(
            context.cost_fn, context.cost_fp
        )
    ).threshold
    theory = theoretical_threshold(context.cost_fn, context.cost_fp)
    column.metric(
        "Theoretical threshold",
        f"{theory:.3f}",
        f"training data: {measured:.3f}",
        delta_color="off",
        help="For well-calibrated probabilities the cheapest threshold is the cost of an "
        "unneeded offer over the sum of both costs, FP / (FP + FN). The figure below it is "
        "the cheapest threshold measured on out-of-fold predictions of training customers.",
    )


def emp_tab(context: RunContext) -> None:
    """Draw the expected maximum profit of the run on the test set."""
    st.caption(EMP_HELP)
    mean_value = float(context.test["customer_value"].mean())
    defaults = {"alpha": 6.0, "beta": 14.0, "clv": round(mean_value, 2)}
    columns = st.columns(3)
    for column, (name, key) in zip(columns, EMP_KEYS.items(), strict=True):
        st.session_state.setdefault(key, defaults[name])
        column.number_input(EMP_INPUT_LABELS[name], step=1.0, key=key, help=EMP_INPUT_HELP[name])
    values = {name: st.session_state[key] for name, key in EMP_KEYS.items()}
    try:
        settings = EmpSettings.from_costs(
            clv=values["clv"],
            offer_cost=context.campaign.offer_cost,
            contact_cost=context.campaign.contact_cost,
            alpha=values["alpha"],
            beta=values["beta"],
        )
    except ValueError as error:
        st.error(f"{error} Showing the last valid EMP settings.")
        settings = st.session_state.get(VALID_EMP_KEY, EmpSettings())
    st.session_state[VALID_EMP_KEY] = settings

    result = emp_score(context.test["y_true"], context.test["y_score"], settings)
    technical = (
        f"Technical terms: acceptance rate ~ Beta({settings.alpha:g}, {settings.beta:g}), CLV "
        f"{settings.clv:,.2f}, offer cost {settings.delta:.3f} x CLV, contact cost "
        f"{settings.phi:.4f} x CLV. Verbraken, Verbeke and Baesens, IEEE TKDE 2013."
    )
    left, right = st.columns(2)
    left.metric("EMP per customer", f"{result.emp:,.2f}", help=f"{EMP_HELP} {technical}")
    right.metric(
        "EMP-optimal share contacted",
        f"{result.share_contacted:.1%}",
        help="The share of customers to contact for that best expected profit.",
    )
    mean_rate = settings.alpha / (settings.alpha + settings.beta)
    st.caption(
        f"Acceptance rates are spread around a mean of {100 * mean_rate:.0f} %, set by the two "
        f"weights. A kept customer is worth {settings.clv:,.2f}. Each accepted retention "
        f"offer costs {context.campaign.offer_cost:g} and each contact "
        f"{context.campaign.contact_cost:g}, from the campaign model in the sidebar."
    )


def _test_arrays(predictions):
    rows = predictions[predictions["split"] == "test"]
    return rows["y_true"].to_numpy(), rows["y_score"].to_numpy()
