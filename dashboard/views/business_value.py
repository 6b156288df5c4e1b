"""Business value: campaign profit, capacity, uncertainty, calibration and EMP of one run.

Everything comes from the run's stored out-of-fold and test probabilities and the customers'
MonthlyCharges, so no model is loaded or retrained here.
"""

from __future__ import annotations

import streamlit as st

from dashboard import state, value_tabs
from dashboard.value_common import THRESHOLDS_CAPTION, load_run_context, threshold_caption

state.init_state()
st.title("Business value")
st.markdown(
    "What the selected model is worth in money: how sure the cost figures are, the profit of "
    "a retention campaign, whom to call when only K customers can be contacted, whether the "
    "probabilities can be taken at face value (calibration), and the expected maximum profit "
    "(EMP): the best campaign's profit averaged over likely acceptance rates."
)
context = load_run_context()
st.caption(threshold_caption(context))
st.caption(THRESHOLDS_CAPTION)

# The uncertainty tab comes first, so the band is what a reader sees before any figure.
uncertainty, campaign, capacity, calibration, emp = st.tabs(
    ["Cost and uncertainty", "Campaign profit", "Capacity", "Calibration", "EMP"]
)
with uncertainty:
    value_tabs.uncertainty_tab(context)
with campaign:
    value_tabs.campaign_tab(context)
with capacity:
    value_tabs.capacity_tab(context)
with calibration:
    value_tabs.calibration_tab(context)
with emp:
    value_tabs.emp_tab(context)
