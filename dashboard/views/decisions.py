"""Decisions: named scenarios, cost sensitivity, the shared decision log and the HTML export.

Scenarios and decisions live in the tracking store, so everyone on the same store shares them.
"""

from __future__ import annotations

import streamlit as st

from dashboard import decision_tabs, state
from dashboard.value_common import load_run_context, threshold_caption

state.init_state()
st.title("Decisions")
st.markdown(
    "Record the decision this meeting takes (costs, model, threshold and expected savings), "
    "compare named cost scenarios, see how the best threshold moves with the cost ratio, and "
    "download a one-page summary."
)
message = st.session_state.pop(decision_tabs.MESSAGE_KEY, None)
if message:
    st.success(message)
context = load_run_context()
st.caption(threshold_caption(context))

log, scenarios, sensitivity, export = st.tabs(
    ["Decision log", "Scenarios", "Sensitivity", "Meeting summary"]
)
with log:
    decision_tabs.log_tab(context)
with scenarios:
    decision_tabs.scenarios_tab(context)
with sensitivity:
    decision_tabs.sensitivity_tab(context)
with export:
    decision_tabs.export_tab(context)
