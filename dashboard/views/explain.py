"""Explain: why the model gives one customer its churn probability, and what would change it.

The run's model is loaded once per run, and its SHAP explainer is reused for every customer.
The global view (SHAP summary and importances) is computed on request, because permutation
importance scores the test set about a hundred times.
"""

from __future__ import annotations

import streamlit as st

from core import explain_plots
from core.calibration import Calibrator, fit_calibrator
from core.explain import apply_what_if, contribution_table, reasons_sentence
from core.explain_global import (
    ExplainContext,
    GlobalExplanation,
    ModelLoadError,
    customer_decision,
    find_customer,
    global_explanation,
    load_explain_context,
    log_global_explanation,
    rank_test_customers,
)
from core.schema import CATEGORY_VALUES, ID_COLUMN
from dashboard import charts_explain, data_access, state

SEARCH_KEY = "explain.customer_id"
PICK_KEY = "explain.pick"
GLOBAL_KEY = "explain.show_global"
HIGH_RISK_ROWS = 25
WHAT_IF_SERVICES = (
    "InternetService",
    "OnlineSecurity",
    "TechSupport",
    "OnlineBackup",
    "DeviceProtection",
    "StreamingTV",
    "StreamingMovies",
    "PhoneService",
    "PaperlessBilling",
)


@st.cache_resource(show_spinner="Loading the model and building its explainer…", max_entries=4)
def _context(run_id: str, tracking_uri: str) -> ExplainContext:
    return load_explain_context(run_id, tracking_uri)


@st.cache_data(show_spinner=False, max_entries=8)
def _ranked(run_id: str, tracking_uri: str):
    return rank_test_customers(_context(run_id, tracking_uri))


@st.cache_resource(show_spinner="Explaining the test customers…", max_entries=4)
def _global(run_id: str, tracking_uri: str) -> GlobalExplanation:
    return global_explanation(_context(run_id, tracking_uri))


def _choose_customer(context: ExplainContext, ranked) -> tuple[object, str] | None:
    """Draw the search box and the high-risk list; return the customer record and split."""
    left, right = st.columns(2)
    typed = left.text_input("Customer id", key=SEARCH_KEY, placeholder="for example 7590-VHVEG")
    top = ranked.head(HIGH_RISK_ROWS)
    labels = {
        row[ID_COLUMN]: f"{row[ID_COLUMN]} ({100 * row['probability']:.1f}%)"
        for _, row in top.iterrows()
    }
    picked = right.selectbox(
        "…or pick one of the highest-risk test customers",
        options=list(labels),
        format_func=labels.get,
        key=PICK_KEY,
    )
    requested = typed.strip() or picked
    try:
        return find_customer(context, requested)
    except ValueError as error:
        # The core message names the full 32-character run id; people read the run's name.
        message = str(error).replace(f"run {context.run_id}'s", f"{_run_name(context)}'s")
        st.warning(message, icon=":material/person_search:")
        return None


def _run_name(context: ExplainContext) -> str:
    return f"{state.model_display_name(context.model_name)} run {context.run_id[:8]}"


@st.cache_resource(show_spinner=False, max_entries=8)
def _calibrator(run_id: str, tracking_uri: str) -> Calibrator | None:
    """Fit isotonic calibration on the run's out-of-fold predictions, or None without them."""
    try:
        predictions = data_access.load_run_predictions(run_id, tracking_uri)
        oof = predictions[predictions["split"] == "oof"]
        return fit_calibrator(oof["y_true"], oof["y_score"])
    except (FileNotFoundError, ValueError):
        return None


def _show_decision(probability: float, threshold: float, calibrator: Calibrator | None) -> None:
    cost_fn, cost_fp = state.get_costs()
    calibrated = None if calibrator is None else float(calibrator.transform([probability])[0])
    decision = customer_decision(probability, threshold, cost_fn, cost_fp, calibrated)
    columns = st.columns(5)
    columns[0].metric(
        "Model score",
        f"{100 * probability:.1f}%",
        help="The model's output, which the threshold is compared with. With class weights "
        "it ranks customers well but overstates how likely they are to leave.",
    )
    columns[1].metric(
        "Chance of leaving",
        f"{100 * decision.calibrated_probability:.1f}%",
        help="The model score calibrated on the run's out-of-fold predictions (isotonic): "
        "among training customers with this score, the share who left."
        if calibrator is not None
        else "No out-of-fold predictions to calibrate with, so this is the model score.",
    )
    columns[2].metric(
        "Decision",
        "Contact" if decision.contact else "Do not contact",
        help=f"Customers whose model score is at or above the threshold {threshold:.3f} get a "
        "retention offer.",
    )
    columns[3].metric("Expected cost if contacted", f"{decision.expected_cost_contact:,.2f}")
    columns[4].metric(
        "Expected cost if not contacted", f"{decision.expected_cost_no_contact:,.2f}"
    )


def _show_explanation(context: ExplainContext, record, threshold: float) -> float:
    explanation = context.explainer.explain(record)
    table = contribution_table(explanation)
    probability = float(explanation.probability[0])
    _show_decision(probability, threshold, _calibrator(context.run_id, data_access.tracking_uri()))
    st.caption(
        "Bars are SHAP contributions in percentage points, from the model's average "
        "output to this customer's probability."
    )
    st.caption(
        "The 'average customer' bar is the model's average output on the training "
        "customers. With class weighting it sits above the 26.5 % churn rate of the data, "
        "so the bars explain how customers are ranked rather than a calibrated probability."
    )
    st.plotly_chart(
        charts_explain.waterfall_figure(table, explanation.base_value, probability),
        key="explain.waterfall",
    )
    st.markdown(reasons_sentence(table))
    return probability


def _what_if_changes(record) -> dict[str, object]:
    """Draw the what-if controls and return the changed values only."""
    row = record.iloc[0]
    columns = st.columns(3)
    contract = columns[0].selectbox(
        "Contract",
        CATEGORY_VALUES["Contract"],
        index=list(CATEGORY_VALUES["Contract"]).index(row["Contract"]),
        key="explain.what_if.contract",
    )
    tenure = columns[1].number_input(
        "tenure (months)", 0, 120, int(row["tenure"]), key="explain.what_if.tenure"
    )
    service = columns[2].selectbox("Service", WHAT_IF_SERVICES, key="explain.what_if.service")
    options = list(CATEGORY_VALUES[service])
    value = columns[2].selectbox(
        f"{service} value",
        options,
        index=options.index(row[service]) if row[service] in options else 0,
        key=f"explain.what_if.value.{service}",
    )
    proposed = {"Contract": contract, "tenure": int(tenure), service: value}
    return {name: new for name, new in proposed.items() if new != row[name]}


def _show_what_if(context: ExplainContext, record, probability: float) -> None:
    st.subheader("What if")
    st.caption(
        "Change the contract, the tenure or one service. A new tenure keeps the average "
        "monthly charge, so TotalCharges moves with it."
    )
    changes = _what_if_changes(record)
    if not changes:
        st.caption("Change a value above to see the new probability.")
        return
    changed = apply_what_if(record, changes)
    explanation = context.explainer.explain(changed)
    new_probability = float(explanation.probability[0])
    st.metric(
        "Churn probability after the change",
        f"{100 * new_probability:.1f}%",
        delta=f"{100 * (new_probability - probability):+.1f} points",
        delta_color="inverse",
    )
    table = contribution_table(explanation)
    st.plotly_chart(
        charts_explain.waterfall_figure(
            table, explanation.base_value, new_probability, title="After the change"
        ),
        key="explain.what_if_waterfall",
    )


def _show_global(context: ExplainContext, tracking_uri: str) -> None:
    st.subheader("Global view")
    if not st.toggle("Show the global view (takes a few seconds)", key=GLOBAL_KEY):
        return
    summary = _global(context.run_id, tracking_uri)
    st.caption(f"SHAP values of {summary.n_customers:,} test customers, in percentage points.")
    left, right = st.columns(2)
    left.plotly_chart(explain_plots.mean_abs_shap_figure(summary.mean_abs), key="explain.bar")
    right.plotly_chart(explain_plots.beeswarm_figure(summary.beeswarm), key="explain.swarm")
    st.plotly_chart(
        explain_plots.importance_comparison_figure(summary.importance), key="explain.importance"
    )
    for note in summary.notes:
        st.markdown(f"- {note}")
    if summary.notes:
        st.caption(
            "Built-in importance measures how the model uses a feature while training; "
            "permutation importance measures the test AUC lost without it. Correlated "
            "features such as tenure and TotalCharges share credit differently in each."
        )
    if st.button("Log the global view to the run", key="explain.log_global"):
        log_global_explanation(context.run_id, tracking_uri=tracking_uri, summary=summary)
        st.success(f"Logged under explanations/ and plots/ of run {context.run_id}.")


def main() -> None:
    """Draw the Explain page for the selected run."""
    state.init_state()
    cost_fn, cost_fp = state.cost_widgets()
    st.title("Explain a customer")
    if state.warn_if_costs_zero(cost_fn, cost_fp, "decision"):
        return
    run_id = state.ranked_run_picker(data_access.ranked_runs(cost_fn, cost_fp))
    if run_id is None:
        return
    tracking_uri = data_access.tracking_uri()
    try:
        context = _context(run_id, tracking_uri)
    except (ModelLoadError, ValueError, FileNotFoundError) as error:
        st.error(f"Run {run_id} cannot be explained: {error}", icon=":material/error:")
        return
    stored = state.get_threshold()
    threshold = context.threshold if stored is None else stored
    chosen = _choose_customer(context, _ranked(run_id, tracking_uri))
    if chosen is not None:
        record, split = chosen
        if split == "train":
            st.info("This is a training customer: the model saw whether they left.")
        probability = _show_explanation(context, record, threshold)
        _show_what_if(context, record, probability)
    _show_global(context, tracking_uri)


main()
