"""Threshold & cost: what contacting customers above a churn probability costs and saves.

Every figure comes from the run's stored probabilities: the curves are built once per run
and a slider move only re-weights them, so no model is loaded or retrained here.
"""

from __future__ import annotations

import streamlit as st

from core import leaderboard
from core.costs import CostSummary
from dashboard import charts, data_access, state

MANUAL_KEY = "threshold.manual"
SLIDER_KEY = "threshold.value"
OPTIMAL_KEY = "threshold.optimal"


def _on_manual_toggle() -> None:
    if st.session_state[MANUAL_KEY]:
        state.set_threshold(st.session_state[OPTIMAL_KEY])
    else:
        state.set_threshold(None)


def _threshold_controls(optimal: float) -> float:
    """Draw the hand-set threshold controls and return the threshold in use."""
    stored = state.get_threshold()
    st.session_state[OPTIMAL_KEY] = optimal
    # Seeded from the stored threshold on every run, which the callbacks keep up to date.
    st.session_state[MANUAL_KEY] = stored is not None
    st.session_state[SLIDER_KEY] = stored if stored is not None else optimal

    manual = st.toggle(
        "Set the threshold by hand",
        key=MANUAL_KEY,
        on_change=_on_manual_toggle,
        help="Off: use the threshold with the lowest cost on the training customers.",
    )
    st.slider(
        "Threshold: contact customers whose churn probability is at least",
        min_value=0.0,
        max_value=1.0,
        step=0.005,
        format="%.3f",
        key=SLIDER_KEY,
        disabled=not manual,
        on_change=lambda: state.set_threshold(st.session_state[SLIDER_KEY]),
    )
    return float(st.session_state[SLIDER_KEY]) if manual else optimal


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _show_figures(summary: CostSummary, contacted: int) -> None:
    share = 100.0 * contacted / summary.n
    top = st.columns(3)
    top[0].metric(
        "Threshold in use",
        f"{summary.threshold:.3f}",
        help="Customers whose churn probability is at or above this value get an offer.",
    )
    top[1].metric(
        "Customers to contact",
        f"{contacted:,}",
        f"{share:.1f} % of {summary.n:,} test customers",
        delta_color="off",
        delta_arrow="off",
    )
    top[2].metric(
        "Cost at this threshold",
        _money(summary.cost),
        f"{summary.cost_per_customer:.3f} per customer",
        delta_color="off",
        delta_arrow="off",
        help="Missed churners times their cost plus unneeded offers times their cost.",
    )
    baselines = (
        ("threshold 0.5", summary.savings_vs_default_threshold, summary.cost_default_threshold),
        ("contacting nobody", summary.savings_vs_contact_none, summary.cost_contact_none),
        ("contacting everyone", summary.savings_vs_contact_all, summary.cost_contact_all),
    )
    for column, (name, saving, baseline_cost) in zip(st.columns(3), baselines, strict=True):
        column.metric(
            f"Saved against {name}",
            _money(saving),
            f"{name} costs {_money(baseline_cost)}",
            delta_color="off",
            delta_arrow="off",
            help="Positive: this threshold costs less than the alternative. "
            "Negative: it costs more.",
        )


def _render() -> None:
    st.title("Threshold & cost")
    st.markdown(
        "Who should get a retention offer? Customers whose predicted churn probability is at "
        "or above the **threshold**. Set what mistakes cost in the sidebar and see what each "
        "threshold costs on the test customers, who were held out of training."
    )
    cost_fn, cost_fp = state.cost_widgets()
    if state.warn_if_costs_zero(cost_fn, cost_fp, "threshold"):
        return

    run_id = state.ranked_run_picker(data_access.ranked_runs(cost_fn, cost_fp))
    if run_id is None:
        return
    try:
        curves = data_access.load_run_curves(run_id)
    except (FileNotFoundError, ValueError) as error:
        st.error(f"This run cannot be shown: {error}")
        return

    figures = leaderboard.run_cost(curves, cost_fn, cost_fp)
    threshold = _threshold_controls(figures.threshold)
    curve = curves.test.apply_costs(cost_fn, cost_fp)
    summary = leaderboard.summary_at(curve, threshold)
    index = leaderboard.curve_index(curve, threshold)
    _show_figures(summary, int(curve.n_contacted[index]))
    st.caption(
        f"Costs are totals over the {curve.n:,} test customers in your currency. The optimal "
        f"threshold ({figures.threshold:.3f}) is the one with the lowest cost on the training "
        "customers' out-of-fold predictions, so these test figures are an honest estimate."
    )

    left, right = st.columns(2)
    left.plotly_chart(
        charts.threshold_cost_figure(curve, threshold=threshold, optimal=figures.threshold),
        key="threshold.cost_chart",
    )
    right.plotly_chart(
        charts.confusion_figure(
            int(curve.tp[index]), int(curve.fp[index]), int(curve.fn[index]), int(curve.tn[index])
        ),
        key="threshold.confusion_chart",
    )
    st.plotly_chart(
        charts.threshold_metrics_figure(curve, threshold=threshold),
        key="threshold.metrics_chart",
    )


state.init_state()
_render()
