"""Promotion: registered versions, promoting one to champion after a confirmation, rollback."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from core import registry
from dashboard import data_access, state

logger = logging.getLogger(__name__)

CHECK_KEY = "promotion.check"
ROLLBACK_KEY = "promotion.rollback_pending"
MESSAGE_KEY = "promotion.message"

NONE_SHOWN = "—"
# Headings of the versions table, in order, with the tooltip of each. Run ids, data and CV
# AUC go to a second table in an expander, so the first fits a 1400-pixel-wide screen.
VERSION_HEADINGS = {
    "Version": "Registered version number.",
    "Alias": "champion is the version in production; challenger is a candidate.",
    "Model": "Model family of the version.",
    "Test cost": "Cost per test customer at the version's own costs.",
    "Test AUC": "ROC AUC on the held-out test customers.",
    "Threshold": "Churn probability from which a customer gets an offer.",
    "Missed churner / unneeded offer": "Cost of a missed churner / of an unneeded offer, per "
    "customer, that the threshold was chosen for.",
    "Promoted (UTC)": "When and by whom the version was last promoted.",
    "Last check": "Rejected when its last promotion failed the checks; the table of details "
    "below says why.",
}
DETAIL_HEADINGS = {
    "version": "Version",
    "run_id": "MLflow run (short id)",
    "cv_auc_mean": "CV ROC AUC",
    "forced": "Last promotion forced",
    "rejected": "Why the last promotion was rejected",
    "data_source": "Training data",
}
HISTORY_HEADINGS = {
    "at": "When (UTC)",
    "action": "Action",
    "alias": "Alias",
    "version": "Version",
    "previous": "Previous version",
    "by": "By",
    "forced": "Forced",
    "costs": "Cost: missed churner / unneeded offer",
    "challenger_cost": "Candidate test cost",
    "champion_cost": "Champion test cost",
}


def readable_time(iso_time: str | None) -> str:
    """Format an ISO 8601 time as "04 Dec 18:41", or "—" when it is empty or invalid."""
    if not iso_time:
        return NONE_SHOWN
    try:
        return pd.Timestamp(iso_time).strftime("%d %b %H:%M")
    except ValueError:
        return str(iso_time)


def _costs_text(cost_fn: float, cost_fp: float) -> str:
    if pd.isna(cost_fn) or pd.isna(cost_fp):
        return NONE_SHOWN
    return f"{cost_fn:g} / {cost_fp:g}"


def _promoted_text(row: pd.Series) -> str:
    if not row.get("promoted_at"):
        return NONE_SHOWN
    return f"{readable_time(row['promoted_at'])} by {row.get('promoted_by') or 'unknown'}"


def versions_table(versions: pd.DataFrame) -> pd.DataFrame:
    """Turn `registry.versions_frame` into the table people read, one row per version."""
    rows = [
        [
            row["version"],
            row["aliases"] or NONE_SHOWN,
            state.model_display_name(str(row["model_name"])),
            row.get("test_cost"),
            row.get("test_auc"),
            row["threshold"],
            _costs_text(row["cost_fn"], row["cost_fp"]),
            _promoted_text(row),
            "rejected" if row.get("rejected") else NONE_SHOWN,
        ]
        for _, row in versions.iterrows()
    ]
    return pd.DataFrame(rows, columns=list(VERSION_HEADINGS))


def _versions_table(versions: pd.DataFrame) -> None:
    config = {
        heading: st.column_config.Column(heading, help=tooltip)
        for heading, tooltip in VERSION_HEADINGS.items()
    }
    for heading in ("Test cost", "Test AUC", "Threshold"):
        config[heading] = st.column_config.NumberColumn(
            heading, help=VERSION_HEADINGS[heading], format="%.4f"
        )
    st.dataframe(
        versions_table(versions),
        hide_index=True,
        column_config=config,
        key="promotion.versions",
    )
    st.caption("Costs are per customer, in the units of the sidebar costs.")
    with st.expander("Run, training data and cross-validation of each version"):
        details = versions.loc[:, [c for c in DETAIL_HEADINGS if c in versions]].copy()
        details["run_id"] = details["run_id"].str[:8]
        st.dataframe(
            details.rename(columns=DETAIL_HEADINGS),
            hide_index=True,
            column_config={"CV ROC AUC": st.column_config.NumberColumn(format="%.4f")},
            key="promotion.version_details",
        )


def _register_run(uri: str, cost_fn: float, cost_fp: float) -> None:
    ranked = data_access.ranked_runs(cost_fn, cost_fp)
    if ranked.empty:
        return
    with st.expander("Register a model run as a new version"):
        run_id = state.ranked_run_picker(ranked)
        if run_id is not None and st.button("Register", key="promotion.register"):
            version = registry.register_run(run_id, tracking_uri=uri)
            label = state.run_labels(ranked)[run_id]
            st.session_state[MESSAGE_KEY] = f"Run {label} is version {version}."
            st.rerun()


def _check_step(uri: str, versions: pd.DataFrame, cost_fn: float, cost_fp: float) -> None:
    st.subheader("Promote a version")
    st.caption(
        f"The business gate compares test costs per customer with a missed churner costing "
        f"{cost_fn:g} and an unneeded offer {cost_fp:g} (the sidebar costs). Each threshold "
        "is chosen on out-of-fold predictions. Costs that differ from a version's own log the "
        "model again with the new threshold."
    )
    columns = st.columns([1, 1, 1])
    version = columns[0].selectbox(
        "Version", versions["version"].tolist(), key="promotion.version"
    )
    alias = columns[1].selectbox("Alias", registry.ALIASES, key="promotion.alias")
    if columns[2].button("Check promotion", key="promotion.check_button"):
        try:
            check = registry.check_promotion(
                version, alias=alias, cost_fn=cost_fn, cost_fp=cost_fp, tracking_uri=uri
            )
        except (ValueError, FileNotFoundError) as error:
            st.error(str(error))
            return
        st.session_state[CHECK_KEY] = (check, alias)


def _confirm_step(uri: str) -> None:
    pending = st.session_state.get(CHECK_KEY)
    if pending is None:
        return
    check, alias = pending
    version = check.candidate.version
    if check.gate is not None:
        gate = check.gate
        columns = st.columns(2)
        columns[0].metric(f"Version {version} test cost", f"{gate.challenger_cost:.4f}")
        columns[1].metric(
            f"Champion (version {gate.champion_version}) test cost", f"{gate.champion_cost:.4f}"
        )
        if not gate.same_test_set:
            st.warning("The two runs were tested on different customers.")
    elif check.champion is None:
        st.info("There is no other champion to compare with, so no gate applies.")
    for problem in check.problems:
        st.error(problem)
    override = False
    if check.problems:
        override = st.checkbox(
            "Override the failed check; the override is recorded", key="promotion.override"
        )
    ready = not check.problems or override
    if st.button(
        f"Confirm: make version {version} the {alias}",
        key="promotion.confirm",
        type="primary",
        disabled=not ready,
    ):
        result = registry.promote(
            version=version,
            alias=alias,
            cost_fn=check.cost_fn,
            cost_fp=check.cost_fp,
            force=override,
            tracking_uri=uri,
        )
        st.session_state[CHECK_KEY] = None
        forced = " (forced)" if result.forced else ""
        st.session_state[MESSAGE_KEY] = (
            f"{alias} is now version {result.version}{forced}; before, it was "
            + (f"version {result.previous_version}." if result.previous_version else "not set.")
        )
        st.rerun()
    if st.button("Cancel", key="promotion.cancel"):
        st.session_state[CHECK_KEY] = None
        st.rerun()


def _rollback(uri: str, champion: registry.VersionInfo | None) -> None:
    st.subheader("Roll back")
    target = registry.rollback_target(uri)
    if champion is None or target is None:
        st.caption("There is no previous champion to roll back to.")
        return
    if not st.session_state.get(ROLLBACK_KEY):
        if st.button(f"Roll back to version {target}", key="promotion.rollback"):
            st.session_state[ROLLBACK_KEY] = True
            st.rerun()
        return
    st.warning(f"Move the champion from version {champion.version} back to version {target}?")
    columns = st.columns(2)
    if columns[0].button("Confirm rollback", key="promotion.rollback_confirm", type="primary"):
        result = registry.rollback(tracking_uri=uri)
        st.session_state[ROLLBACK_KEY] = False
        st.session_state[MESSAGE_KEY] = f"champion is now version {result.version}."
        st.rerun()
    if columns[1].button("Cancel", key="promotion.rollback_cancel"):
        st.session_state[ROLLBACK_KEY] = False
        st.rerun()


def _history(uri: str) -> None:
    st.subheader("Promotion history")
    history = registry.promotion_history(uri)
    if not history:
        st.caption("No promotions yet.")
        return
    st.dataframe(history_table(history), hide_index=True, key="promotion.history_table")


def history_table(history: list[dict]) -> pd.DataFrame:
    """Turn `registry.promotion_history` into a readable table, newest first."""
    frame = pd.DataFrame(history[::-1])
    frame["at"] = frame["at"].map(readable_time)
    frame["previous"] = frame["previous"].map(lambda version: version or NONE_SHOWN)
    frame["forced"] = frame["forced"].map({True: "yes", False: "no"})
    if {"cost_fn", "cost_fp"} <= set(frame.columns):
        frame["costs"] = [
            _costs_text(fn, fp) for fn, fp in zip(frame["cost_fn"], frame["cost_fp"], strict=True)
        ]
    for column in ("challenger_cost", "champion_cost"):
        if column in frame.columns:
            frame[column] = frame[column].map(
                lambda cost: NONE_SHOWN if pd.isna(cost) else f"{cost:.4f}"
            )
    present = [column for column in HISTORY_HEADINGS if column in frame.columns]
    return frame.loc[:, present].rename(columns=HISTORY_HEADINGS)


def main() -> None:
    """Draw the page: champion, versions, promotion with confirmation, rollback, history."""
    state.init_state()
    st.title("Promotion")
    st.markdown(
        "Choose the model version that goes to production (the **champion**). A version "
        "replaces the champion only if its test cost at the sidebar's costs is not higher; "
        "every promotion is recorded and can be rolled back."
    )
    cost_fn, cost_fp = state.cost_widgets()
    uri = data_access.tracking_uri()
    st.caption(
        f"Registered model `{registry.resolve_model_name()}`; the served model is "
        f"`models:/{registry.resolve_model_name()}@champion`."
    )
    message = st.session_state.pop(MESSAGE_KEY, None)
    if message:
        st.success(message)

    champion = registry.get_champion(uri)
    if champion is None:
        st.info("No champion yet: register a run and promote it.")
    else:
        st.markdown(
            f"Champion: **{state.model_display_name(champion.model_name)}**, version "
            f"{champion.version}, threshold {champion.threshold:.4f} for a missed churner "
            f"costing {champion.cost_fn:g} and an unneeded offer {champion.cost_fp:g}; "
            f"promoted by {champion.promoted_by or 'unknown'} on "
            f"{readable_time(champion.promoted_at)} UTC."
        )
    _register_run(uri, cost_fn, cost_fp)
    versions = registry.versions_frame(uri)
    if versions.empty:
        st.info("No registered versions yet.")
        return
    _versions_table(versions)
    if state.warn_if_costs_zero(cost_fn, cost_fp, "model"):
        return
    _check_step(uri, versions, cost_fn, cost_fp)
    _confirm_step(uri)
    _rollback(uri, champion)
    _history(uri)


main()
