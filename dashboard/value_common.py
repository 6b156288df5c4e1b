"""Inputs shared by the Business value and Decisions pages: run, costs, campaign, threshold.

Invalid settings never stop a page: the page shows the error and keeps using the last valid
settings, which live in session state under the `value.*` keys. The campaign inputs are stored
under their own non-widget keys, because Streamlit drops a widget's value on a run of a page
that does not draw it, so each input is re-seeded from the stored value before it is drawn.
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
# Stored campaign values (never widget keys), so they survive a switch to another page.
CAMPAIGN_STORED_KEYS = {name: f"value.stored.{name}" for name in CAMPAIGN_WIDGET_KEYS}

CAMPAIGN_MODEL_CAPTION = (
    "A richer money model than the two business costs above. It counts each kept customer's "
    "value, a contact cost for every customer contacted and an offer cost for every accepted "
    "offer, including offers taken by customers who would have stayed. It sets the campaign "
    "and EMP figures only: the threshold in use still comes from the two business costs."
)
THRESHOLDS_CAPTION = (
    "Why thresholds differ: the threshold in use minimises the business costs on training "
    "data, and decisions use it. The cost-optimal threshold on test resamples does the same on "
    "re-drawn test customers, for information only, because choosing on the test set would "
    "flatter its figures. The profit-optimal threshold maximises money under the campaign "
    "model, a different goal."
)


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
        threshold: The decision threshold: set by hand, else the minimum-cost one on the
            out-of-fold (OOF) predictions.
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
    """Draw the campaign settings in the sidebar and return the last valid settings.

    Invalid settings are reported twice: beside the inputs in the sidebar, and in a short
    error at the top of the main area, where the reader is looking.
    """
    defaults = CampaignSettings().as_dict()
    for name, stored_key in CAMPAIGN_STORED_KEYS.items():
        st.session_state.setdefault(stored_key, defaults[name])

    sidebar = st.sidebar
    sidebar.markdown("**Retention campaign model**")
    sidebar.caption(CAMPAIGN_MODEL_CAPTION)
    _campaign_input(
        "Horizon in months (campaign model)",
        "horizon_months",
        step=1.0,
        help="A kept customer is worth their MonthlyCharges times this many months.",
    )
    _campaign_input(
        "Retention offer cost (campaign model)",
        "offer_cost",
        step=5.0,
        help="Money per accepted retention offer, for example a discount. It is not the "
        "cost of an unneeded offer above, which only weighs errors when the threshold in use "
        "is chosen.",
    )
    _campaign_input(
        "Contact cost (campaign model)",
        "contact_cost",
        step=1.0,
        help="Money per customer contacted, for example a call or a mail.",
    )
    _campaign_input(
        "Acceptance rate (campaign model)",
        "acceptance_rate",
        step=0.05,
        help="Share of contacted churners who accept the offer and stay, from 0 to 1: 0.3 "
        "means 3 in 10.",
    )

    values = {name: st.session_state[key] for name, key in CAMPAIGN_STORED_KEYS.items()}
    try:
        settings = CampaignSettings(**values).validate()
    except ValueError as error:
        sidebar.error(f"{error} The page keeps the last valid campaign settings.")
        st.error(
            "The retention campaign settings in the sidebar are invalid, so the page keeps "
            f"the last valid ones. {error}"
        )
        return CampaignSettings(**st.session_state.get(VALID_CAMPAIGN_KEY, defaults))
    st.session_state[VALID_CAMPAIGN_KEY] = settings.as_dict()
    return settings


def _campaign_input(label: str, name: str, *, step: float, help: str) -> None:
    widget_key = CAMPAIGN_WIDGET_KEYS[name]
    stored_key = CAMPAIGN_STORED_KEYS[name]
    # Seeded on every run, as the cost sliders in `dashboard.state` are: the change callback
    # has already copied a user's edit into the stored value, so this never undoes an edit.
    st.session_state[widget_key] = st.session_state[stored_key]
    st.sidebar.number_input(
        label,
        step=step,
        key=widget_key,
        help=help,
        on_change=_copy_campaign_input,
        args=(widget_key, stored_key),
    )


def _copy_campaign_input(widget_key: str, stored_key: str) -> None:
    st.session_state[stored_key] = st.session_state[widget_key]


def load_run_context() -> RunContext:
    """Draw the settings and the run picker, then load the run; stop the page when impossible.

    The picker defaults to the run with the lowest cost at the current costs, as on the
    Threshold & cost page, unless a run was chosen on any page.
    """
    cost_fn, cost_fp = valid_costs()
    campaign = campaign_widgets()
    runs = data_access.ranked_runs(cost_fn, cost_fp)
    run_id = state.ranked_run_picker(runs)
    if run_id is None:
        st.stop()
    labels = {row["run_id"]: _run_display_label(row) for _, row in runs.iterrows()}

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


def _run_display_label(run: pd.Series) -> str:
    """Name a run for people, such as "MLP (logistic) · 04 Dec 10:00 · abcdef12"."""
    label = state.run_label(run)
    name, _, rest = label.partition(" · ")
    return f"{state.model_display_name(name)} · {rest}" if rest else state.model_display_name(name)


def threshold_caption(context: RunContext) -> str:
    """Describe the threshold in use and where it comes from."""
    if context.threshold_is_manual:
        return (
            f"Threshold in use: {context.threshold:.4f}, set by hand on the Threshold & cost page."
        )
    return (
        f"Threshold in use: {context.threshold:.4f}, cost-optimal on training data: the lowest "
        f"cost on the out-of-fold predictions at costs {context.cost_fn:g} (missed churner) and "
        f"{context.cost_fp:g} (unneeded offer). Out-of-fold predictions are scores for training "
        "customers from models that did not see those customers, so choosing the threshold on "
        "them keeps the test figures honest."
    )
