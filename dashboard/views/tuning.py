"""Tuning: launch an Optuna study in the background, follow it live, and read its diagnostics."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import diagnostics, tuning_jobs, uncertainty
from core.search_spaces import TUNABLE_FAMILIES
from core.tuning import (
    DEFAULT_OBJECTIVE,
    OBJECTIVES,
    TuneConfig,
    default_study_name,
    masked_url,
    resolve_storage_url,
)
from dashboard import charts, data_access, state

STUDY_KEY = "tuning.study"
REFRESH_SECONDS = 3
# Short option labels, so the select box shows them whole; both are out-of-fold figures.
OBJECTIVE_LABELS = {"cost": "Cost per customer", "log_loss": "Log loss"}
OBJECTIVE_HELP = (
    "What each trial minimises, measured by cross-validation on the training customers "
    "(out-of-fold): the cost per customer at the sidebar costs, at the trial's best threshold, "
    "or the log loss of its probabilities."
)
COMPARISON_COLUMNS = {
    "train_auc": "Train ROC AUC",
    "test_auc": "Test ROC AUC",
    "auc_gap": "Train - test AUC",
    "oof_cost": "Training-data cost (out-of-fold)",
    "test_cost": "Test cost",
    "threshold": "Threshold",
}


def _launch_form(storage: str) -> None:
    with st.form("tuning.launch"):
        columns = st.columns(4)
        family = columns[0].selectbox(
            "Model family",
            TUNABLE_FAMILIES,
            index=TUNABLE_FAMILIES.index("xgboost"),
            format_func=state.model_display_name,
            key="tuning.family",
        )
        objective = columns[1].selectbox(
            "Objective",
            OBJECTIVES,
            index=OBJECTIVES.index(DEFAULT_OBJECTIVE),
            format_func=OBJECTIVE_LABELS.get,
            help=OBJECTIVE_HELP,
            key="tuning.objective",
        )
        n_trials = columns[2].number_input("Trials", min_value=1, max_value=1000, value=30)
        minutes = columns[3].number_input(
            "Time limit (minutes, 0 for none)", min_value=0.0, value=0.0, step=1.0
        )
        study_name = st.text_input(
            "Study name", placeholder="empty for <family>-<objective>, e.g. xgboost-cost"
        )
        submitted = st.form_submit_button("Launch tuning", type="primary")
    if submitted:
        _launch(storage, family, objective, int(n_trials), float(minutes), study_name.strip())


def _launch(
    storage: str, family: str, objective: str, n_trials: int, minutes: float, study_name: str
) -> None:
    cost_fn, cost_fp = state.get_costs()
    config = TuneConfig(
        family=family,
        objective=objective,
        n_trials=n_trials,
        timeout_s=minutes * 60 if minutes > 0 else None,
        study_name=study_name or default_study_name(family, objective),
        storage=storage,
        cost_fn=cost_fn,
        cost_fp=cost_fp,
        tracking_uri=data_access.tracking_uri(),
        experiment=data_access.experiment_name(),
    )
    try:
        job = tuning_jobs.launch_tuning(config)
    except ValueError as error:
        st.error(str(error))
        return
    st.session_state[STUDY_KEY] = job.study_name
    st.success(f"Launched study {job.study_name} as process {job.pid}.")


def _choose_study(storage: str) -> str | None:
    try:
        studies = tuning_jobs.list_studies(storage)
    except ValueError as error:
        st.error(str(error))
        return None
    chosen = st.session_state.get(STUDY_KEY)
    job = tuning_jobs.read_job(chosen) if chosen else None
    if job is not None and chosen not in studies:
        # The process creates the study only after it has read the data.
        if tuning_jobs.is_running(job):
            st.fragment(_starting, run_every=f"{REFRESH_SECONDS}s")(job, storage)
            return None
        _job_controls(job, running=False, done=0)
    if not studies:
        st.info("No study yet: launch one above or run `python -m core tune`.")
        return None
    index = studies.index(chosen) if chosen in studies else 0
    return st.selectbox("Study", studies, index=index, key="tuning.study_select")


def _starting(job: tuning_jobs.TuningJob, storage: str) -> None:
    if not tuning_jobs.is_running(job) or job.study_name in tuning_jobs.list_studies(storage):
        st.rerun()
    st.info(f"Study {job.study_name} starting… (process {job.pid} is reading the data).")
    _stop_button(job)


def _progress(study_name: str, storage: str) -> None:
    job = tuning_jobs.read_job(study_name)
    running = job is not None and tuning_jobs.is_running(job)
    refresh = f"{REFRESH_SECONDS}s" if running else None
    st.fragment(_progress_body, run_every=refresh)(study_name, storage)


def _progress_body(study_name: str, storage: str) -> None:
    try:
        progress = tuning_jobs.study_progress(study_name, storage)
    except ValueError as error:
        st.error(str(error))
        return
    job = tuning_jobs.read_job(study_name)
    running = job is not None and tuning_jobs.is_running(job)
    _progress_metrics(progress, job)
    objective = progress.attrs.get("objective", DEFAULT_OBJECTIVE)
    if not progress.trials.empty:
        figure = charts.trial_history_figure(progress.trials, _objective_title(objective))
        st.plotly_chart(figure, key="tuning.history")
    if progress.importances:
        st.plotly_chart(diagnostics.importance_figure(progress.importances), key="tuning.imp")
    elif not progress.trials.empty:
        st.caption(
            f"Parameter importances appear once {tuning_jobs.MIN_TRIALS_FOR_IMPORTANCE} "
            "trials are complete."
        )
    if job is not None:
        _job_controls(job, running, _trials_done(progress, job))


def _objective_title(objective: str) -> str:
    """Name an objective with its unit, e.g. "Cost per customer (out-of-fold, money)"."""
    if objective == "cost":
        return "Cost per customer (out-of-fold, money)"
    return f"{OBJECTIVE_LABELS.get(objective, objective)} (out-of-fold)"


def _trials_done(progress: tuning_jobs.StudyProgress, job: tuning_jobs.TuningJob) -> int:
    """Count the trials of the job's launch that are no longer running."""
    launched = int((progress.trials["number"] >= job.trials_before).sum())
    return launched - progress.counts.get("RUNNING", 0)


def _progress_metrics(progress: tuning_jobs.StudyProgress, job) -> None:
    counts = progress.counts
    finished = sum(counts.get(name, 0) for name in ("COMPLETE", "PRUNED", "FAIL"))
    columns = st.columns(4)
    if job is not None:
        done = _trials_done(progress, job)
        columns[0].metric("Trials done in the last launch", f"{done} of {job.n_trials}")
    else:
        columns[0].metric("Trials finished", finished)
    columns[1].metric("Pruned", counts.get("PRUNED", 0))
    columns[2].metric("Failed", counts.get("FAIL", 0))
    objective = progress.attrs.get("objective", DEFAULT_OBJECTIVE)
    best = "none yet" if progress.best_value is None else f"{progress.best_value:.4f}"
    columns[3].metric(
        f"Best {OBJECTIVE_LABELS.get(objective, objective).lower()} so far",
        best,
        help=f"{_objective_title(objective)}, on the training customers. Lower is better.",
    )
    family = state.model_display_name(str(progress.attrs.get("family", "?")))
    st.caption(
        f"{family}, {finished} trials finished in the study, "
        f"{counts.get('RUNNING', 0)} running. Lower is better."
    )


def _job_controls(job: tuning_jobs.TuningJob, running: bool, done: int) -> None:
    if running:
        st.info(f"Tuning is running as process {job.pid}; this section refreshes itself.")
        _stop_button(job)
    elif tuning_jobs.stop_requested(job):
        # The page sent SIGTERM itself, so exit code 143 (or -15) is the expected outcome.
        trials = "trial" if done == 1 else "trials"
        st.info(f"Stopped on request after {done} {trials}; launch the study again to resume.")
    else:
        code = tuning_jobs.exit_code(job)
        if code not in (None, 0):
            st.error(f"The last launch ended with exit code {code}; see its log below.")
    with st.expander("Log of the last launch"):
        st.code(tuning_jobs.log_tail(job) or "(empty)", language=None)


def _stop_button(job: tuning_jobs.TuningJob) -> None:
    if st.button("Stop tuning", key="tuning.stop"):
        tuning_jobs.stop_tuning(job.study_name)
        st.warning("Stop requested: the running trial is marked failed; resume any time.")


@st.cache_data(show_spinner="Reading the tuned run's diagnostics…", max_entries=32)
def _load_diagnostics(run_id: str, tracking_uri: str) -> diagnostics.Diagnostics:
    return diagnostics.load_diagnostics(run_id, tracking_uri)


def _diagnostics(study_name: str) -> None:
    st.subheader("Diagnostics of the tuned run")
    job = tuning_jobs.read_job(study_name)
    if job is not None and tuning_jobs.is_running(job):
        st.info(
            "Tuning is still running. After the last trial the tuned model is fitted on all "
            "training customers; its diagnostics appear here once it is logged."
        )
        return
    uri = data_access.tracking_uri()
    run_id = tuning_jobs.find_tuned_run(study_name, uri, data_access.experiment_name())
    if run_id is None:
        st.info("No tuned run yet: it is logged when a launch finishes its trials.")
        return
    st.caption(
        f"Tuned run **{_tuned_run_label(run_id)}**, on the Leaderboard with kind `tuned`. "
        "The baseline is the same model family with its default settings."
    )
    try:
        result = _load_diagnostics(run_id, uri)
    except FileNotFoundError as error:
        st.info(str(error))
        return
    _verdict(result.comparison, run_id)
    _comparison(result.comparison)
    gaps = result.final_gaps()
    columns = st.columns(len(gaps) + 1)
    for column, (model, gap) in zip(columns, gaps.items(), strict=False):
        column.metric(f"Final train - validation AUC, {model}", f"{gap:.4f}")
    if result.stopping_round is not None:
        columns[-1].metric("Trees kept by early stopping", result.stopping_round)
    for name, figure in diagnostics.diagnostics_figures(result).items():
        # The core comparison chart mixes AUC and cost on one axis; `_comparison` splits it.
        if name != "comparison":
            st.plotly_chart(figure, key=f"tuning.diag.{name}")


def _tuned_run_label(run_id: str) -> str:
    """Name the tuned run as the other pages do, such as "XGBoost · 1a2b3c4d"."""
    runs = data_access.load_runs()
    rows = runs[runs["run_id"] == run_id] if not runs.empty else runs
    if rows.empty:
        return run_id[:8]
    return state.short_run_label(rows.iloc[0])


def _comparison(comparison: pd.DataFrame) -> None:
    """Show baseline against tuned as a table and two charts, one per unit."""
    st.markdown("**Baseline against tuned**")
    table = comparison.set_index("model").rename(columns=COMPARISON_COLUMNS)
    st.dataframe(table.style.format("{:.4f}"), key="tuning.comparison")
    left, right = st.columns(2)
    left.plotly_chart(charts.baseline_tuned_auc_figure(comparison), key="tuning.compare_auc")
    right.plotly_chart(charts.baseline_tuned_cost_figure(comparison), key="tuning.compare_cost")


def _verdict(comparison: pd.DataFrame, run_id: str) -> None:
    """Say in plain words whether tuning lowered the cost on the held-out test customers."""
    rows = comparison.set_index("model")
    if not {"baseline", "tuned"} <= set(rows.index):
        return
    baseline = float(rows.loc["baseline", "test_cost"])
    tuned = float(rows.loc["tuned", "test_cost"])
    gap = tuned - baseline
    figures = (
        f"the tuned model costs {tuned:.4f} per customer on the held-out test customers, "
        f"against {baseline:.4f} for the baseline"
    )
    noise = _noise_sentence(abs(gap), run_id, float(rows.loc["tuned", "threshold"]))
    if gap > 0:
        st.warning(f"Tuning did not help on the held-out customers: {figures}. {noise}")
    elif gap < 0 and not noise:
        st.success(f"Tuning helped on the held-out customers: {figures}.")
    elif gap < 0:
        st.info(f"Tuning lowered the test cost a little: {figures}. {noise}")
    else:
        st.info(f"Tuning made no difference on the held-out customers: {figures}.")


def _noise_sentence(gap: float, run_id: str, threshold: float) -> str:
    """Return a sentence when `gap` lies within the tuned run's own test-cost interval.

    NOTE: a single run's interval overstates the noise of a difference between two models
    scored on the same customers. A paired bootstrap needs the baseline's test predictions,
    which `core.tuning` does not store.
    """
    runs = data_access.load_runs()
    rows = runs[runs["run_id"] == run_id] if not runs.empty else runs
    if rows.empty or "params.cost_fn" not in rows or "params.cost_fp" not in rows:
        return ""
    try:
        predictions = data_access.load_run_predictions(run_id)
    except FileNotFoundError:
        return ""
    test = predictions[predictions["split"] == "test"]
    run = rows.iloc[0]
    band = uncertainty.cost_band(
        test["y_true"],
        test["y_score"],
        float(run["params.cost_fn"]),
        float(run["params.cost_fp"]),
        threshold=threshold,
    )
    interval = band.cost_at_threshold
    if gap >= (interval.high - interval.low) / 2:
        return ""
    return (
        f"The gap of {gap:.4f} is within noise: it is smaller than the uncertainty of one "
        f"model's test cost ({100 * interval.confidence:.0f} % bootstrap interval "
        f"{interval.low:.4f} to {interval.high:.4f})."
    )


def main() -> None:
    """Draw the launch form, the chosen study's live progress and its diagnostics."""
    state.init_state()
    state.cost_widgets()
    st.title("Tuning")
    st.markdown(
        "Search for better settings of one model family. Each trial is scored on the "
        "training customers only, so the test figures of the tuned model stay honest; the "
        "tuned model then appears on the Leaderboard beside the others."
    )
    storage = resolve_storage_url()
    with st.expander("Where the trials are stored"):
        st.caption(
            f"Optuna storage `{masked_url(storage)}`. Each trial is scored by cross-validation "
            "on the training part only; the costs come from the sidebar."
        )
    _launch_form(storage)
    study_name = _choose_study(storage)
    if study_name is None:
        return
    _progress(study_name, storage)
    _diagnostics(study_name)


main()
