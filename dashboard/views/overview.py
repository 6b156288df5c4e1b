"""Overview: what the churn model does for the business, in four numbers, with links onward."""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core import leaderboard
from dashboard import data_access, state

logger = logging.getLogger(__name__)

# Page links: path relative to dashboard/app.py -> (label, what the page answers).
LINKS = {
    "views/data_audit.py": ("Data audit", "Is the customer data complete and clean?"),
    "views/leaderboard.py": ("Leaderboard", "Which model costs least at these costs?"),
    "views/threshold.py": ("Threshold & cost", "Whom to contact, and what it saves."),
}


def _champion_text() -> str:
    """Describe the registered champion, or state that there is none yet."""
    try:
        from core.registry import get_champion
    except ImportError:
        return "No champion yet: the model registry is not available."
    try:
        champion = get_champion(data_access.tracking_uri())
    except Exception as error:  # noqa: BLE001 - the overview must render without a registry
        logger.warning("Could not read the champion from the registry: %s", error)
        return "No champion yet: the registry could not be read."
    if champion is None:
        return "No champion yet: promote a model version to make it the champion."
    return (
        f"Champion: **{champion.model_name}**, version {champion.version}, threshold "
        f"{champion.threshold:.3f}."
    )


def _business_numbers(cost_fn: float, cost_fp: float) -> None:
    dataset = data_access.load_default_dataset()
    frame = dataset.frame
    churn_rate = float((frame["Churn"] == "Yes").mean())
    top, bottom = st.columns(2), st.columns(2)
    columns = [*top, *bottom]
    columns[0].metric(
        "Customers",
        f"{len(frame):,}",
        "in the customer data",
        delta_color="off",
        delta_arrow="off",
        border=True,
    )
    columns[1].metric(
        "Churn rate",
        f"{100 * churn_rate:.1f} %",
        "customers who left",
        delta_color="off",
        delta_arrow="off",
        border=True,
    )

    runs = data_access.load_runs()
    if runs.empty:
        columns[2].metric("Best model", "none yet", border=True)
        columns[3].metric("Saved against threshold 0.5", "n/a", border=True)
        state.show_no_runs()
        return
    ranked = leaderboard.rank_runs(runs, data_access.load_all_run_curves(runs), cost_fn, cost_fp)
    best = ranked.iloc[0]
    curves = data_access.load_run_curves(best["run_id"])
    curve = curves.test.apply_costs(cost_fn, cost_fp)
    summary = leaderboard.summary_at(curve, float(best[leaderboard.THRESHOLD_NOW]))
    saved_per_customer = summary.savings_vs_default_threshold_per_customer
    model = str(best.get("tags.model_name") or best.get("params.model") or "unknown")
    columns[2].metric(
        "Best model at these costs",
        state.model_display_name(model),
        f"costs {best[leaderboard.COST_NOW]:.3f} per test customer",
        delta_color="off",
        delta_arrow="off",
        border=True,
    )
    columns[3].metric(
        "Saved per customer against threshold 0.5",
        f"{saved_per_customer:,.3f}",
        f"≈ {saved_per_customer * len(frame):,.0f} for all {len(frame):,} customers",
        delta_color="off",
        delta_arrow="off",
        border=True,
        help="Test-set saving per customer of the best model's cost-optimal threshold over "
        "the usual 0.5, multiplied by the number of customers: an estimate, in your currency.",
    )


def _links() -> None:
    st.subheader("Where to go next")
    for path, (label, question) in LINKS.items():
        try:
            st.page_link(path, label=f"{label}: {question}")
        except StreamlitAPIException:
            # Run outside dashboard/app.py (for example as a single page in a test), the
            # router's pages are unknown, so name them instead of linking.
            st.markdown(f"- **{label}**: {question}")


def _render() -> None:
    st.title("ChurnLab overview")
    st.markdown(
        "The model scores each customer's chance of leaving, so a retention offer goes to "
        "those most at risk. These numbers use the costs set in the sidebar."
    )
    cost_fn, cost_fp = state.cost_widgets()
    if not state.costs_are_valid(cost_fn, cost_fp):
        st.warning("Both costs are 0, so every decision costs nothing. Raise one of them.")
        return
    _business_numbers(cost_fn, cost_fp)
    st.markdown(_champion_text())
    st.caption(f"Data: {data_access.data_source_label()}.")
    _links()


state.init_state()
_render()
