"""Inputs shared by the Business value and Decisions pages: run, costs, campaign, threshold.

Invalid settings never stop a page: the widget shows the error and the page keeps using the
last valid settings, which live in session state under the `value.*` keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.costs import check_costs, confusion_curve, optimal_threshold
from core.value import CampaignSettings, campaign_frame
from dashboard import data_access, state

logger = logging.getLogger(__name__)

VALID_CAMPAIGN_KEY = "value.valid_campaign"
VALID_COSTS_KEY = "value.valid_costs"
CAMPAIGN_WIDGET_KEYS = {
    "horizon_months": "value.horizon_months",
    "offer_cost": "value.offer_cost",
    "contact_cost": "value.contact_cost",
    "acceptance_rate": "value.acceptance_rate",
}


@dataclass
class RunContext:
    """The selected run's data under the current settings.

    Attributes:
        run_id: The selected model run.
        run_label: Name of the run for people.
        predictions: Its stored predictions (`core.tracking.load_predictions`).
        oof: Out-of-fold rows with `customer_value`.
        test: Test rows with `customer_value`.
        cost_fn: Cost of a missed churner in use.
        cost_fp: Cost of an unneeded offer in use.
        campaign: Campaign settings in use.
        threshold: The decision threshold: set by hand, else the OOF minimum-cost one.
        threshold_is_manual: Whether the threshold was set by hand.
    """

    run_id: str
    run_label: str
    predictions: pd.DataFrame
    oof: pd.DataFrame
    test: pd.DataFrame
    cost_fn: float
    cost_fp: float
    campaign: CampaignSettings
    threshold: float
    threshold_is_manual: bool


def valid_costs() -> tuple[float, float]:
    """Draw the cost sliders and return valid costs, keeping the last valid pair on an error."""
    cost_fn, cost_fp = state.cost_widgets()
    try:
        costs = check_costs(cost_fn, cost_fp)
    except ValueError as error:
        st.sidebar.error(f"{error} The page keeps the last valid costs.")
        return st.session_state.get(VALID_COSTS_KEY, (10.0, 1.0))
    st.session_state[VALID_COSTS_KEY] = costs
    return costs


def campaign_widgets() -> CampaignSettings:
    """Draw the campaign settings in the sidebar and return the last valid settings."""
    defaults = CampaignSettings().as_dict()
    for name, key in CAMPAIGN_WIDGET_KEYS.items():
        st.session_state.setdefault(key, defaults[name])

    sidebar = st.sidebar
    sidebar.markdown("**Retention campaign**")
    sidebar.number_input(
        "Horizon (months of MonthlyCharges per kept customer)",
        step=1.0,
        key=CAMPAIGN_WIDGET_KEYS["horizon_months"],
        help="A kept customer is worth MonthlyCharges times this many months.",
    )
    sidebar.number_input(
        "Offer cost (money per accepted offer)", step=5.0, key=CAMPAIGN_WIDGET_KEYS["offer_cost"]
    )
    sidebar.number_input(
        "Contact cost (money per customer contacted)",
        step=1.0,
        key=CAMPAIGN_WIDGET_KEYS["contact_cost"],
    )
    sidebar.number_input(
        "Acceptance rate (share of contacted churners who stay)",
        step=0.05,
        key=CAMPAIGN_WIDGET_KEYS["acceptance_rate"],
    )

    values = {name: st.session_state[key] for name, key in CAMPAIGN_WIDGET_KEYS.items()}
    try:
        settings = CampaignSettings(**values).validate()
    except ValueError as error:
        sidebar.error(f"{error} The page keeps the last valid campaign settings.")
        return CampaignSettings(**st.session_state.get(VALID_CAMPAIGN_KEY, defaults))
    st.session_state[VALID_CAMPAIGN_KEY] = settings.as_dict()
    return settings


def load_run_context() -> RunContext:
    """Draw the run picker and settings, then load the run; stop the page when impossible."""
    runs = data_access.load_runs()
    if runs.empty:
        state.show_no_runs()
        st.stop()
    run_id = state.run_picker(runs)
    cost_fn, cost_fp = valid_costs()
    campaign = campaign_widgets()
    labels = {row["run_id"]: state.run_label(row) for _, row in runs.iterrows()}

    try:
        predictions = data_access.load_run_predictions(run_id)
        frame = data_access.load_default_dataset().frame
        oof = campaign_frame(predictions, frame, campaign.horizon_months, split="oof")
        test = campaign_frame(predictions, frame, campaign.horizon_months, split="test")
    except (FileNotFoundError, ValueError) as error:
        st.error(str(error))
        st.stop()

    manual = state.get_threshold()
    if manual is None:
        counts = confusion_curve(oof["y_true"], oof["y_score"])
        threshold = optimal_threshold(counts.apply_costs(cost_fn, cost_fp)).threshold
    else:
        threshold = manual
    return RunContext(
        run_id=run_id,
        run_label=labels.get(run_id, run_id),
        predictions=predictions,
        oof=oof,
        test=test,
        cost_fn=cost_fn,
        cost_fp=cost_fp,
        campaign=campaign,
        threshold=float(threshold),
        threshold_is_manual=manual is not None,
    )


def threshold_caption(context: RunContext) -> str:
    """Describe where the decision threshold comes from."""
    if context.threshold_is_manual:
        return f"Threshold {context.threshold:.4f}, set by hand on the Threshold & cost page."
    return (
        f"Threshold {context.threshold:.4f}: the lowest cost on the out-of-fold predictions "
        f"at costs {context.cost_fn:g} (missed churner) and {context.cost_fp:g} (unneeded offer)."
    )
