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

VERSION_COLUMNS = {
    "version": "Version",
    "aliases": "Aliases",
    "model_name": "Model",
    "threshold": "Threshold",
    "cost_fn": "Cost FN",
    "cost_fp": "Cost FP",
    "test_cost": "Test cost per customer",
    "test_auc": "Test ROC AUC",
    "cv_auc_mean": "CV ROC AUC",
    "data_source": "Data",
    "promoted_by": "Promoted by",
    "promoted_at": "Promoted at (UTC)",
    "forced": "Forced",
    "run_id": "Run",
}


def _versions_table(versions: pd.DataFrame) -> None:
    shown = versions.loc[:, [c for c in VERSION_COLUMNS if c in versions]]
    number = st.column_config.NumberColumn(format="%.4f")
    config = {VERSION_COLUMNS[c]: number for c in ("threshold", "test_cost", "test_auc")}
    config[VERSION_COLUMNS["cv_auc_mean"]] = number
    st.dataframe(
        shown.rename(columns=VERSION_COLUMNS),
        hide_index=True,
        column_config=config,
        key="promotion.versions",
    )


def _register_run(uri: str) -> None:
    runs = data_access.load_runs()
    if runs.empty:
        return
    labels = {row["run_id"]: state.run_label(row) for _, row in runs.iterrows()}
    with st.expander("Register a model run as a new version"):
        run_id = st.selectbox(
            "Run", list(labels), format_func=labels.get, key="promotion.register_run"
        )
        if st.button("Register", key="promotion.register"):
            version = registry.register_run(run_id, tracking_uri=uri)
            st.session_state[MESSAGE_KEY] = f"Run {run_id} is version {version}."
            st.rerun()


def _check_step(uri: str, versions: pd.DataFrame, cost_fn: float, cost_fp: float) -> None:
    st.subheader("Promote a version")
    st.caption(
        f"The business gate compares test costs at FN = {cost_fn:g}, FP = {cost_fp:g} "
        "(the sidebar costs). Each threshold is chosen on out-of-fold predictions. Costs that "
        "differ from a version's own log the model again with the new threshold."
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
            f"{alias} is now version {result.version}{forced}; it was version "
            f"{result.previous_version or 'none'}."
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
    st.dataframe(pd.DataFrame(history[::-1]), hide_index=True, key="promotion.history_table")


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
            f"Champion: **{champion.model_name}**, version {champion.version}, threshold "
            f"{champion.threshold:.4f} for FN = {champion.cost_fn:g}, FP = {champion.cost_fp:g}, "
            f"promoted by {champion.promoted_by or 'unknown'} at {champion.promoted_at or '?'}."
        )
    _register_run(uri)
    versions = registry.versions_frame(uri)
    if versions.empty:
        st.info("No registered versions yet.")
        return
    _versions_table(versions)
    if not state.costs_are_valid(cost_fn, cost_fp):
        st.error("Both costs are 0: set at least one above 0 to compare models.")
        return
    _check_step(uri, versions, cost_fn, cost_fp)
    _confirm_step(uri)
    _rollback(uri, champion)
    _history(uri)


main()
