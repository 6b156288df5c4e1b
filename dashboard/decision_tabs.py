"""Tabs of the Decisions page: scenarios, sensitivity, the decision log and the HTML export."""

from __future__ import annotations

import logging
from dataclasses import replace

import pandas as pd
import streamlit as st

from core import decisions
from core.explain_global import logged_top_features
from core.registry import resolve_model_name
from core.report import MeetingSummary, build_meeting_summary, render_meeting_summary
from core.uncertainty import cost_band, format_interval, profit_interval
from core.value import best_campaign, campaign_curve, sensitivity_table
from dashboard import charts_value, data_access, state
from dashboard.value_common import (
    CAMPAIGN_MODEL_CAPTION,
    THRESHOLDS_CAPTION,
    RunContext,
)

logger = logging.getLogger(__name__)

SCENARIO_NAME_KEY = "decisions.scenario_name"
NOTE_KEY = "decisions.note"
AUTHOR_KEY = "decisions.author"
VERSION_KEY = "decisions.model_version"
REAPPLY_KEY = "decisions.reapply_choice"
MESSAGE_KEY = "decisions.message"


def scenarios_tab(context: RunContext) -> None:
    """Save the current settings under a name and compare saved scenarios side by side."""
    uri = data_access.tracking_uri()
    with st.form("decisions.save_scenario"):
        st.text_input("Scenario name", key=SCENARIO_NAME_KEY, placeholder="Finance")
        submitted = st.form_submit_button("Save the current costs as a scenario")
    if submitted:
        scenario = decisions.Scenario(
            name=st.session_state[SCENARIO_NAME_KEY],
            cost_fn=context.cost_fn,
            cost_fp=context.cost_fp,
            campaign=context.campaign.as_dict(),
        )
        try:
            decisions.save_scenario(scenario, uri)
            st.success(f"Saved scenario {scenario.name.strip()!r}.")
        except ValueError as error:
            st.error(str(error))

    scenarios = decisions.list_scenarios(uri)
    if not scenarios:
        st.info("No scenarios saved yet. Name the current settings above to save one.")
        return
    table = decisions.compare_scenarios(context.oof, context.test, scenarios)
    st.dataframe(table, hide_index=True)
    st.plotly_chart(charts_value.scenario_figure(table), key="decisions.scenarios")


def sensitivity_tab(context: RunContext) -> None:
    """Draw how the optimal threshold and savings move as the cost ratio goes 1 to 50."""
    table = sensitivity_table(
        context.test["y_true"], context.test["y_score"], cost_fp=context.cost_fp
    )
    ratio = context.cost_fn / context.cost_fp
    figure = charts_value.sensitivity_figure(table, current_ratio=ratio)
    st.plotly_chart(figure, key="decisions.sensitivity")
    st.caption(
        f"Test customers. The cost of an unneeded offer stays at {context.cost_fp:g}, and the "
        f"cost of a missed churner is the ratio times it. The dashed line marks the current "
        f"ratio, {context.cost_fn:g} / {context.cost_fp:g} = {ratio:g}."
    )


def log_tab(context: RunContext) -> None:
    """Adopt the current decision, list past decisions and reapply one."""
    uri = data_access.tracking_uri()
    band = cost_band(
        context.test["y_true"],
        context.test["y_score"],
        context.cost_fn,
        context.cost_fp,
        threshold=context.threshold,
        grid=[context.threshold],
    )
    savings = band.savings_at_threshold
    st.markdown(
        f"**Current decision:** {context.run_label}, threshold {context.threshold:.4f}, "
        f"savings per customer {format_interval(savings)}."
    )
    st.caption(
        "The savings interval comes from a bootstrap: the test customers are re-drawn at "
        "random many times, which shows how much the savings could move by chance."
    )
    st.session_state.setdefault(AUTHOR_KEY, decisions.default_author())
    with st.form("decisions.adopt"):
        st.text_input("Author", key=AUTHOR_KEY)
        st.text_input(
            "Model version (optional)",
            key=VERSION_KEY,
            placeholder=f"{resolve_model_name()}/3",
            help="The registered model name and version number this decision is about, as "
            "listed on the Promotion page.",
        )
        st.text_area("Note", key=NOTE_KEY, max_chars=decisions.MAX_NOTE_LENGTH)
        adopted = st.form_submit_button("Adopt this decision")
    if adopted:
        _adopt(context, savings, uri)

    past = decisions.list_decisions(uri)
    if not past:
        st.info("No decision adopted yet.")
        return
    st.dataframe(_decisions_frame(past), hide_index=True)
    labels = {
        d.decision_id: f"{d.created_at} · {d.author} · threshold {d.threshold:.4f}" for d in past
    }
    choice = st.selectbox(
        "Decision to reapply", list(labels), format_func=labels.get, key=REAPPLY_KEY
    )
    if st.button("Reapply this decision", key="decisions.reapply"):
        decision = next(d for d in past if d.decision_id == choice)
        state.set_costs(decision.cost_fn, decision.cost_fp)
        state.set_threshold(decision.threshold)
        state.set_selected_run_id(decision.run_id)
        for key in (state.COST_FN_WIDGET, state.COST_FP_WIDGET, state.RUN_WIDGET):
            st.session_state.pop(key, None)
        st.session_state[MESSAGE_KEY] = f"Reapplied the decision of {decision.created_at}."
        st.rerun()


def export_tab(context: RunContext) -> None:
    """Offer the one-page HTML meeting summary of the current decision."""
    summary = build_meeting_summary(
        context.test,
        threshold=context.threshold,
        cost_fn=context.cost_fn,
        cost_fp=context.cost_fp,
        run_label=context.run_label,
        campaign=context.campaign,
        top_reasons=logged_top_features(context.run_id),
        note=st.session_state.get(NOTE_KEY, ""),
        author=st.session_state.get(AUTHOR_KEY, ""),
    )
    page = render_meeting_summary(summary_with_named_thresholds(summary, context))
    st.download_button(
        "Download the meeting summary (HTML)",
        page.encode("utf-8"),
        file_name="churnlab_decision_summary.html",
        mime="text/html",
        key="decisions.download_summary",
    )
    st.caption(
        "The summary holds key numbers, the cost curve with its band and the confusion matrix. "
        "Top reasons for churn appear once the run's global explanation is logged from the "
        "Explain page."
    )


def summary_with_named_thresholds(summary: MeetingSummary, context: RunContext) -> MeetingSummary:
    """Name each threshold in the summary by what it optimises and on which data.

    Adds the campaign model's profit-optimal threshold, so the summary shows the same two
    profits as the Business value page.
    """
    key_numbers = list(summary.key_numbers)
    origin = (
        "set by hand"
        if context.threshold_is_manual
        else "cost-optimal on training data (out-of-fold predictions)"
    )
    key_numbers.insert(0, ("Threshold in use", f"{context.threshold:.4f}, {origin}"))
    oof = context.oof
    choice = best_campaign(
        campaign_curve(oof["y_true"], oof["y_score"], oof["customer_value"], context.campaign)
    )
    test = context.test
    profit = profit_interval(
        test["y_true"], test["y_score"], test["customer_value"], choice.threshold, context.campaign
    )
    key_numbers.append(
        (
            "Profit-optimal threshold for the campaign model (training data)",
            f"{choice.threshold:.3f}, profit per test customer {format_interval(profit, 2)}",
        )
    )
    lines = [*summary.extra_lines, THRESHOLDS_CAPTION, CAMPAIGN_MODEL_CAPTION]
    return replace(summary, key_numbers=key_numbers, extra_lines=lines)


def _adopt(context: RunContext, savings, uri: str) -> None:
    decision = decisions.Decision(
        run_id=context.run_id,
        threshold=context.threshold,
        cost_fn=context.cost_fn,
        cost_fp=context.cost_fp,
        expected_savings=savings.point,
        savings_low=savings.low,
        savings_high=savings.high,
        campaign=context.campaign.as_dict(),
        model_version=st.session_state.get(VERSION_KEY, "").strip(),
        note=st.session_state.get(NOTE_KEY, ""),
        author=st.session_state.get(AUTHOR_KEY, "").strip(),
    )
    try:
        stored = decisions.adopt_decision(decision, uri)
    except ValueError as error:
        st.error(str(error))
        return
    st.success(f"Adopted threshold {stored.threshold:.4f} (decision {stored.decision_id[:8]}).")


def _decisions_frame(past: list[decisions.Decision]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time (UTC)": [d.created_at for d in past],
            "author": [d.author for d in past],
            "run": [d.run_id[:8] for d in past],
            "model version": [d.model_version for d in past],
            "threshold": [d.threshold for d in past],
            "cost of a missed churner": [d.cost_fn for d in past],
            "cost of an unneeded offer": [d.cost_fp for d in past],
            "savings per customer": [d.expected_savings for d in past],
            "interval": [f"{d.savings_low:.3f} to {d.savings_high:.3f}" for d in past],
            "note": [d.note for d in past],
        }
    )
