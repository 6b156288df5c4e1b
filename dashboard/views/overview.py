"""Overview: what the churn model does for the business, in four numbers, with links onward."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from core import leaderboard, uncertainty
from dashboard import data_access, state

if TYPE_CHECKING:
    from core.registry import VersionInfo

logger = logging.getLogger(__name__)

# Page links: path relative to dashboard/app.py -> (label, what the page answers).
LINKS = {
    "views/data_audit.py": ("Data audit", "Is the customer data complete and clean?"),
    "views/leaderboard.py": ("Leaderboard", "Which model costs least at these costs?"),
    "views/threshold.py": ("Threshold & cost", "Whom to contact, and what it saves."),
    "views/promotion.py": ("Promotion", "Which model version is in production, and why?"),
}
BEST_LABEL = "Best model at these costs"
SAVED_LABEL = "Saved per customer against threshold 0.5"
RANKING_HELP = (
    "Runs are ranked by their cost per customer on the training customers, measured with "
    "out-of-fold predictions at the sidebar costs, so no model is chosen on the test set."
)


def _run_name(run: pd.Series) -> str:
    """Return the display name of a ranked run's model, such as "XGBoost"."""
    model = run.get("tags.model_name") or run.get("params.model") or "unknown"
    return state.model_display_name(str(model))


def _read_champion() -> tuple[VersionInfo | None, str]:
    """Return the registered champion, or None and the reason there is none."""
    try:
        from core.registry import get_champion
    except ImportError:
        return None, "No champion yet: the model registry is not available."
    try:
        champion = get_champion(data_access.tracking_uri())
    except Exception as error:  # noqa: BLE001 - the overview must render without a registry
        logger.warning("Could not read the champion from the registry: %s", error)
        return None, "No champion yet: the registry could not be read."
    if champion is None:
        return None, "No champion yet: promote a model version to make it the champion."
    return champion, ""


def _champion_text(ranked: pd.DataFrame) -> str:
    """Describe the champion and how it compares with the best-ranked run at these costs."""
    champion, missing = _read_champion()
    if champion is None:
        return missing
    name = state.model_display_name(champion.model_name)
    text = (
        f"Champion (the model in production): **{name}**, version {champion.version}, "
        f"threshold {champion.threshold:.3f}."
    )
    if ranked.empty:
        return text
    best = ranked.iloc[0]
    if champion.predictions_run_id == best["run_id"]:
        return f"{text} It is also the best-ranked run at these costs."
    rows = ranked[ranked["run_id"] == champion.predictions_run_id]
    if rows.empty:
        return (
            f"{text} It is not the best-ranked run, and its training run is not in this "
            "experiment, so it cannot be compared at these costs."
        )
    return f"{text} {_champion_comparison(name, rows.iloc[0], best, len(ranked))}"


def _champion_comparison(name: str, champion: pd.Series, best: pd.Series, n_runs: int) -> str:
    best_name = _run_name(best)
    oof, test = leaderboard.OOF_COST_NOW, leaderboard.COST_NOW
    return (
        f"It is not the best-ranked run: the promotion gate chose it on test cost, while the "
        f"ranking uses training-data cost. At these costs {name} ranks "
        f"{int(champion[leaderboard.RANK])} of {n_runs} and costs {champion[oof]:.3f} per "
        f"customer on training data and {champion[test]:.3f} on test customers, against "
        f"{best[oof]:.3f} and {best[test]:.3f} for {best_name}."
    )


def _ranking_text(best: pd.Series, ranked: pd.DataFrame, n_test: int) -> str:
    """Explain the ranking in one sentence, with the best run's test cost beside it."""
    test_costs = ranked[leaderboard.COST_NOW].dropna()
    position = int((test_costs < best[leaderboard.COST_NOW]).sum()) + 1
    return (
        f"**{_run_name(best)}** is ranked first on its training-data (out-of-fold) cost at "
        f"these costs: {best[leaderboard.OOF_COST_NOW]:.3f} per customer. On the "
        f"{n_test:,} held-out test customers it costs {best[leaderboard.COST_NOW]:.3f} per "
        f"customer, {_test_position(position, len(test_costs))}."
    )


def _noise_text(best: pd.Series, ranked: pd.DataFrame, cost_fn: float, cost_fp: float) -> str:
    """Say whether the runs' test costs differ by less than the best run's own interval."""
    predictions = data_access.load_run_predictions(best["run_id"])
    test = predictions[predictions["split"] == "test"]
    band = uncertainty.cost_band(
        test["y_true"],
        test["y_score"],
        cost_fn,
        cost_fp,
        threshold=float(best[leaderboard.THRESHOLD_NOW]),
    )
    interval = band.cost_at_threshold
    test_costs = ranked[leaderboard.COST_NOW].dropna()
    spread = float(test_costs.max() - test_costs.min())
    text = (
        f"Its {100 * interval.confidence:.0f} % bootstrap interval on those customers is "
        f"{interval.low:.3f} to {interval.high:.3f} per customer"
    )
    if len(test_costs) > 1 and spread < interval.high - interval.low:
        return (
            f"{text}, wider than the whole spread of the runs' test costs "
            f"({test_costs.min():.3f} to {test_costs.max():.3f}), so on the test set the "
            "runs are within noise of each other."
        )
    return f"{text}."


def _test_position(position: int, total: int) -> str:
    """Name a test-cost position in words, such as "the 3rd lowest test cost of 7 runs"."""
    if total == 1:
        return "the only run"
    if position == 1:
        return f"the lowest test cost of {total} runs"
    if position == total:
        return f"the highest test cost of {total} runs"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
    if 11 <= position % 100 <= 13:
        suffix = "th"
    return f"the {position}{suffix} lowest test cost of {total} runs"


def _business_numbers(cost_fn: float, cost_fp: float) -> pd.DataFrame:
    """Draw the four cards and return the runs ranked at these costs (empty when none)."""
    frame = data_access.load_default_dataset().frame
    churn_rate = float((frame["Churn"] == "Yes").mean())
    top, bottom = st.columns(2), st.columns(2)
    columns = [*top, *bottom]
    _card(columns[0], "Customers", f"{len(frame):,}", "in the customer data")
    _card(columns[1], "Churn rate", f"{100 * churn_rate:.1f} %", "customers who left")

    ranked = data_access.ranked_runs(cost_fn, cost_fp)
    if ranked.empty:
        columns[2].metric("Best model", "none yet", border=True)
        columns[3].metric(SAVED_LABEL, "n/a", border=True)
        state.show_no_runs()
        return ranked
    best = ranked.iloc[0]
    curve = data_access.load_run_curves(best["run_id"]).test.apply_costs(cost_fn, cost_fp)
    summary = leaderboard.summary_at(curve, float(best[leaderboard.THRESHOLD_NOW]))
    saved = summary.savings_vs_default_threshold_per_customer
    _card(
        columns[2],
        BEST_LABEL,
        _run_name(best),
        f"training-data cost {best[leaderboard.OOF_COST_NOW]:.3f} · test cost "
        f"{best[leaderboard.COST_NOW]:.3f} per customer",
        help=RANKING_HELP,
    )
    _card(
        columns[3],
        SAVED_LABEL,
        f"{saved:,.3f}",
        f"≈ {saved * len(frame):,.0f} for all {len(frame):,} customers",
        help="Test-set saving per customer of the best model's cost-optimal threshold over "
        "the usual 0.5, multiplied by the number of customers: an estimate.",
    )
    st.markdown(
        f"{_ranking_text(best, ranked, summary.n)} {_noise_text(best, ranked, cost_fn, cost_fp)}"
    )
    return ranked


def _card(column, label: str, value: str, note: str, help: str | None = None) -> None:
    column.metric(label, value, note, delta_color="off", delta_arrow="off", border=True, help=help)


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
        "those most at risk. Costs are per customer, in the units of the sidebar costs "
        "(any currency)."
    )
    cost_fn, cost_fp = state.cost_widgets()
    if state.warn_if_costs_zero(cost_fn, cost_fp, "decision"):
        return
    ranked = _business_numbers(cost_fn, cost_fp)
    st.markdown(_champion_text(ranked))
    st.caption(f"Data: {data_access.data_source_label()}.")
    _links()


state.init_state()
_render()
