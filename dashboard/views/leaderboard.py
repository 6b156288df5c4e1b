"""Leaderboard: every model run ranked by its test cost at the costs set in the sidebar."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import leaderboard, value
from dashboard import charts, data_access, state

# Table columns: source column -> (heading, kind). Kind "cost" sorts ascending by default.
METRICS = {
    # The rank's own column first, so the default sort follows the rank.
    leaderboard.OOF_COST_NOW: ("Training-data cost now (out-of-fold)", "cost"),
    leaderboard.COST_NOW: ("Cost now (per customer)", "cost"),
    "metrics.test_auc": ("Test ROC AUC", "score"),
    "metrics.test_pr_auc": ("Test PR AUC", "score"),
    "metrics.test_emp": ("EMP (profit per customer)", "score"),
    "metrics.test_emp_share": ("EMP share to contact", "score"),
    "metrics.cv_auc_mean": ("CV ROC AUC (mean)", "score"),
    "metrics.test_f1": ("Test F1", "score"),
    "metrics.test_recall": ("Test recall", "score"),
    "metrics.test_precision": ("Test precision", "score"),
    "metrics.test_brier": ("Test Brier score", "cost"),
    "metrics.test_cost": ("Cost when logged (per customer)", "cost"),
}
LINK = "MLflow"
MAX_CHART_RUNS = 30


def _filters(runs: pd.DataFrame) -> pd.DataFrame:
    columns = st.columns([1, 1, 1, 1])
    families = columns[0].multiselect(
        "Model family",
        sorted(runs.get("tags.model_family", pd.Series()).dropna().unique()),
        format_func=state.model_display_name,
    )
    imbalances = columns[1].multiselect(
        "Imbalance strategy",
        sorted(runs.get("tags.imbalance", pd.Series()).dropna().unique()),
        format_func=state.imbalance_display_name,
    )
    tag_keys = sorted(c.removeprefix("tags.") for c in runs.columns if c.startswith("tags."))
    tag_keys = [key for key in tag_keys if not key.startswith("mlflow.")]
    default_tag = tag_keys.index("churnlab.kind") if "churnlab.kind" in tag_keys else 0
    tag_key = columns[2].selectbox("Tag", tag_keys, index=default_tag if tag_keys else None)
    tag_value = columns[3].text_input("Tag contains", placeholder="e.g. tuned")
    return leaderboard.filter_runs(
        runs, families=families, imbalances=imbalances, tag_key=tag_key, tag_value=tag_value
    )


def _table(ranked: pd.DataFrame) -> pd.DataFrame:
    names = ranked.get("tags.mlflow.runName", ranked.get("params.model"))
    names = names.fillna("run") if names is not None else pd.Series("run", index=ranked.index)
    names = names.astype(str).map(state.model_display_name)
    table = pd.DataFrame(
        {
            "rank": ranked[leaderboard.RANK].replace(0, pd.NA).to_numpy(),
            "run": (names + " · " + ranked["run_id"].str[:8]).to_numpy(),
            "imbalance": pd.Series(_values(ranked, "tags.imbalance"))
            .map(state.imbalance_display_name, na_action="ignore")
            .to_numpy(),
            "kind": _values(ranked, "tags.churnlab.kind"),
            "started": _values(ranked, "start_time"),
            "threshold now": ranked[leaderboard.THRESHOLD_NOW].to_numpy(),
        },
        index=ranked["run_id"].to_numpy(),
    )
    for column, (heading, _) in METRICS.items():
        table[heading] = _values(ranked, column)
    table[LINK] = [
        data_access.run_url(experiment_id, run_id)
        for experiment_id, run_id in zip(ranked["experiment_id"], ranked["run_id"], strict=True)
    ]
    return table


def _values(frame: pd.DataFrame, column: str):
    if column in frame.columns:
        return frame[column].to_numpy()
    return [None] * len(frame)


def _show_table(table: pd.DataFrame, sort_heading: str, ascending: bool) -> None:
    sorted_table = table.sort_values(sort_heading, ascending=ascending, na_position="last")
    number = st.column_config.NumberColumn(format="%.3f")
    config = {heading: number for heading, _ in METRICS.values()}
    config["threshold now"] = number
    config[LINK] = st.column_config.LinkColumn(LINK, display_text="open run")
    config["rank"] = st.column_config.NumberColumn("rank", format="%d")
    config["started"] = st.column_config.DatetimeColumn("started", format="D MMM HH:mm")
    st.dataframe(sorted_table, hide_index=True, column_config=config, key="leaderboard.table")


def _compare(runs: pd.DataFrame, table: pd.DataFrame, cost_fn: float, cost_fp: float) -> None:
    st.subheader("Compare runs side by side")
    labels = dict(zip(table.index, table["run"], strict=True))
    chosen = st.multiselect(
        "Runs to compare (two or more)",
        options=list(labels),
        default=list(labels)[:2],
        format_func=labels.get,
        key="leaderboard.compare",
    )
    if len(chosen) < 2:
        st.info("Pick at least two runs to compare them.")
        return

    params = leaderboard.differing_params(runs, chosen)
    params.columns = [labels.get(c, c) for c in params.columns]
    params.index = [_param_label(name) for name in params.index]
    params.index.name = "parameter"
    styled = params.style.apply(
        lambda row: ["background-color: #fdebd0" if row["differs"] else "" for _ in row], axis=1
    )
    # Full width, one after the other: two side-by-side tables left each run's column too
    # narrow, and the grid cut values such as 0.412 down to "0".
    st.markdown("**Parameters** (rows that differ are highlighted and listed first)")
    st.dataframe(styled, key="leaderboard.params")
    metrics = table.loc[chosen, [heading for heading, _ in METRICS.values()]].T.astype(float)
    metrics.columns = [labels[c] for c in chosen]
    metrics.index.name = "metric"
    st.markdown("**Metrics**")
    st.dataframe(
        metrics,
        column_config={
            label: st.column_config.NumberColumn(label, format="%.3f", width="medium")
            for label in metrics
        },
        key="leaderboard.metrics",
    )

    test_curves = {}
    for run_id in chosen:
        try:
            test_curves[labels[run_id]] = data_access.load_run_curves(run_id).test
        except (FileNotFoundError, ValueError) as error:
            st.warning(f"{labels[run_id]} has no usable stored predictions: {error}")
    cost_curves = {
        label: curve.apply_costs(cost_fn, cost_fp) for label, curve in test_curves.items()
    }
    _money_comparison(chosen[0], chosen[1], labels, cost_fn, cost_fp)
    left, right = st.columns(2)
    left.plotly_chart(charts.overlaid_roc_figure(test_curves), key="leaderboard.roc")
    right.plotly_chart(charts.overlaid_cost_figure(cost_curves), key="leaderboard.cost_curves")


def _money_comparison(
    first: str, second: str, labels: dict[str, str], cost_fn: float, cost_fp: float
) -> None:
    """State how much less (or more) the second run costs than the first, with an interval."""
    try:
        comparison = value.compare_runs_in_money(
            data_access.load_run_predictions(first),
            data_access.load_run_predictions(second),
            cost_fn,
            cost_fp,
        )
    except (FileNotFoundError, ValueError) as error:
        st.warning(f"These two runs cannot be compared in money: {error}")
        return
    saving = comparison.savings_per_customer
    direction = "less" if saving >= 0 else "more"
    st.markdown(
        f"**In money, at the current costs:** {labels[second]} costs "
        f"**{abs(saving):.3f} {direction} per test customer** than {labels[first]} "
        f"({100 * comparison.confidence:.0f} % interval of the saving "
        f"{comparison.savings_low:+.3f} to "
        f"{comparison.savings_high:+.3f}). Each run uses its own threshold, chosen on its "
        f"training predictions: {comparison.champion.threshold:.3f} and "
        f"{comparison.challenger.threshold:.3f}."
    )
    if comparison.savings_low <= 0 <= comparison.savings_high:
        st.caption("The interval includes 0, so the test data cannot tell these runs apart.")


def _param_label(name: str) -> str:
    """Turn a pipeline parameter such as `model__C` into "C (model)"."""
    *steps, parameter = name.split("__")
    if not steps:
        return parameter
    return f"{parameter} ({' › '.join(steps)})"


def _render() -> None:
    st.title("Leaderboard")
    st.markdown(
        "Every trained model run and what its decisions would cost **at the costs set in the "
        "sidebar**. Each run's threshold is chosen again on its training customers whenever "
        "the costs change. The rank also comes from the training customers (out-of-fold "
        "predictions); the cost on the held-out test customers is reported beside it, so it "
        "stays an honest estimate."
    )
    cost_fn, cost_fp = state.cost_widgets()
    if st.sidebar.button("Reload runs from MLflow", key="leaderboard.reload"):
        data_access.clear_runs_cache()
    if state.warn_if_costs_zero(cost_fn, cost_fp, "run"):
        return

    runs = data_access.load_runs()
    if runs.empty:
        state.show_no_runs()
        return
    curves = data_access.load_all_run_curves(runs)
    filtered = _filters(runs)
    if filtered.empty:
        st.info("No run matches these filters. Clear a filter to see runs again.")
        return
    ranked = leaderboard.rank_runs(filtered, curves, cost_fn, cost_fp)
    table = _table(ranked)

    headings = {heading: kind for heading, kind in METRICS.values()}
    left, right = st.columns([2, 1])
    sort_heading = left.selectbox("Sort and chart by", list(headings), key="leaderboard.sort")
    ascending = right.toggle(
        "Lowest first", value=headings[sort_heading] == "cost", key="leaderboard.ascending"
    )
    _show_table(table, sort_heading, ascending)
    st.caption(
        f"{len(table)} runs. Costs are per test customer in your currency; "
        "'when logged' uses the costs the run was trained with."
    )

    chart_table = table.sort_values(sort_heading, ascending=ascending, na_position="last")
    if len(chart_table) > MAX_CHART_RUNS:
        st.caption(f"The chart shows the first {MAX_CHART_RUNS} runs of the table's order.")
        chart_table = chart_table.head(MAX_CHART_RUNS)
    st.plotly_chart(
        charts.metric_by_run_figure(chart_table, sort_heading, sort_heading),
        key="leaderboard.metric_chart",
    )
    _compare(runs, table, cost_fn, cost_fp)


state.init_state()
_render()
