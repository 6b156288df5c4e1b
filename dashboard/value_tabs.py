"""Tabs of the Business value page: campaign, capacity, uncertainty, calibration and EMP.

Each function draws one tab from a `RunContext`; `core` computes everything.
"""

from __future__ import annotations

import math

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
from core.uncertainty import cost_band, format_interval, profit_interval
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
EMP_INPUT_HELP = {
    "alpha": "Shape of the acceptance-rate range (a Beta distribution): alpha / (alpha + beta) "
    "is the mean acceptance rate. Must be more than 0.",
    "beta": "Second shape of the acceptance-rate range (a Beta distribution). Must be more "
    "than 0.",
    "clv": "Customer lifetime value: what one kept customer is worth in money.",
}


def campaign_tab(context: RunContext) -> None:
    """Draw the campaign profit: best threshold chosen on OOF predictions, measured on test."""
    test, settings = context.test, context.campaign
    oof_choice = best_campaign(
        campaign_curve(
            context.oof["y_true"], context.oof["y_score"], context.oof["customer_value"], settings
        )
    )
    curve = campaign_curve(test["y_true"], test["y_score"], test["customer_value"], settings)
    interval = profit_interval(
        test["y_true"], test["y_score"], test["customer_value"], oof_choice.threshold, settings
    )
    contacted = int((test["y_score"] >= oof_choice.threshold).sum())

    columns = st.columns(3)
    columns[0].metric(
        "Best campaign threshold (from out-of-fold predictions)",
        f"{oof_choice.threshold:.3f}",
        help="Chosen on out-of-fold predictions: scores for training customers from models "
        "that did not see them, so the test customers play no part in the choice.",
    )
    columns[1].metric(
        "Expected profit per test customer",
        f"{interval.point:,.2f}",
        help=f"90 % bootstrap interval: {interval.low:,.2f} to {interval.high:,.2f}. "
        + BOOTSTRAP_HELP,
    )
    columns[2].metric("Test customers contacted", f"{contacted:,} of {len(test):,}")
    st.caption(
        f"Profit interval (90 %, {format_interval(interval, 2)}). Every contact costs "
        f"{settings.contact_cost:g}; every accepted offer costs {settings.offer_cost:g}, "
        "including offers taken by customers who would have stayed."
    )
    left, right = st.columns(2)
    left.plotly_chart(
        charts_value.profit_figure(curve, threshold=oof_choice.threshold), key="value.profit_t"
    )
    right.plotly_chart(
        charts_value.profit_figure(curve, threshold=oof_choice.threshold, by="share"),
        key="value.profit_share",
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

    listing = capacity_list(test, k)
    st.dataframe(listing, hide_index=True, height=240)
    st.download_button(
        "Download the contact list (CSV)",
        listing.to_csv(index=False).encode(),
        file_name=f"contact_list_top{k}.csv",
        mime="text/csv",
        key="value.download_list",
    )


def _interval_metric(column, label: str, interval) -> None:
    # The interval goes under the number: a metric card cuts long values off.
    if math.isnan(interval.point):
        column.metric(label, "n/a")
        return
    column.metric(label, f"{interval.point:.3f}")
    column.caption(
        f"{round(100 * interval.confidence)} % interval: {interval.low:.3f} to {interval.high:.3f}"
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
    columns = st.columns(3)
    _interval_metric(columns[0], "Cost per customer", band.cost_at_threshold)
    _interval_metric(columns[1], "Savings vs contacting no one", band.savings_at_threshold)
    _interval_metric(columns[2], "Best threshold across resamples", band.optimal_threshold)
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
        horizontal=True,
        key=CALIBRATION_KEY,
        help="Re-map the scores so that they match observed churn rates, learning the map "
        "from out-of-fold predictions only: scores for training customers from models that "
        "did not see them.",
    )
    raw = context.predictions
    tables = {"raw": reliability_table(*_test_arrays(raw))}
    scores = {"raw": raw}
    if method != "none":
        scores[method] = calibrate_predictions(raw, method)
        tables[method] = reliability_table(*_test_arrays(scores[method]))

    columns = st.columns(len(scores) + 1)
    for column, (label, frame) in zip(columns, scores.items(), strict=False):
        column.metric(
            f"Brier score, {label} (test)",
            f"{brier_score(*_test_arrays(frame)):.4f}",
            help="The mean squared gap between the predicted probability and what happened "
            "(1 for a churner, 0 otherwise). Lower is better, and 0 is perfect.",
        )
    chosen = scores[method if method != "none" else "raw"]
    oof = chosen[chosen["split"] == "oof"]
    measured = optimal_threshold(
        confusion_curve(oof["y_true"], oof["y_score"]).apply_costs(
            context.cost_fn, context.cost_fp
        )
    ).threshold
    theory = theoretical_threshold(context.cost_fn, context.cost_fp)
    columns[-1].metric(
        "Theoretical threshold FP / (FP + FN)",
        f"{theory:.3f}",
        f"measured on out-of-fold predictions: {measured:.3f}",
        delta_color="off",
        help="For well-calibrated probabilities the cheapest threshold is the cost of an "
        "unneeded offer over the sum of both costs.",
    )
    st.plotly_chart(charts_value.reliability_figure(tables), key="value.reliability")


def emp_tab(context: RunContext) -> None:
    """Draw the expected maximum profit of the run on the test set."""
    st.caption(EMP_HELP)
    mean_value = float(context.test["customer_value"].mean())
    defaults = {"alpha": 6.0, "beta": 14.0, "clv": round(mean_value, 2)}
    columns = st.columns(3)
    for column, (name, key) in zip(columns, EMP_KEYS.items(), strict=True):
        st.session_state.setdefault(key, defaults[name])
        column.number_input(f"EMP {name}", step=1.0, key=key, help=EMP_INPUT_HELP[name])
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
    left, right = st.columns(2)
    left.metric("EMP per customer", f"{result.emp:,.2f}", help=EMP_HELP)
    right.metric(
        "EMP-optimal share contacted",
        f"{result.share_contacted:.1%}",
        help="The share of customers to contact for that best expected profit.",
    )
    st.caption(
        f"Acceptance rate ~ Beta({settings.alpha:g}, {settings.beta:g}), CLV {settings.clv:,.2f} "
        f"(mean test customer value), offer cost {settings.delta:.3f} x CLV, contact cost "
        f"{settings.phi:.4f} x CLV. Verbraken, Verbeke and Baesens, IEEE TKDE 2013."
    )


def _test_arrays(predictions):
    rows = predictions[predictions["split"] == "test"]
    return rows["y_true"].to_numpy(), rows["y_score"].to_numpy()
