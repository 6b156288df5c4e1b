"""Cached loaders between the pages and `core`: runs, stored predictions, curves and data.

Every cached function takes only hashable arguments (strings and numbers). The tracking URI
and experiment are resolved before the cached call, so the cache key names the real store.
Frames use `st.cache_data`, which hands each caller a copy. Confusion curves use
`st.cache_resource`, which hands out the same object: their arrays are read-only, and copying
a curve of a million customers on every slider move would cost more than applying the costs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from core import leaderboard
from core.config import resolve_data_path, resolve_experiment, resolve_tracking_uri
from core.data import Dataset, load_dataset
from core.tracking import load_predictions, search_model_runs

logger = logging.getLogger(__name__)

# Runs logged by another process (a `train` run) appear after at most this many seconds.
RUNS_TTL_SECONDS = 30

DEFAULT_MLFLOW_UI_URL = "http://127.0.0.1:5000"


def tracking_uri() -> str:
    """Return the tracking store the dashboard reads (`MLFLOW_TRACKING_URI` or SQLite)."""
    return resolve_tracking_uri()


def experiment_name() -> str:
    """Return the experiment the dashboard reads (`CHURNLAB_EXPERIMENT` or the default)."""
    return resolve_experiment()


def mlflow_ui_url() -> str:
    """Return the MLflow UI base URL from `CHURNLAB_MLFLOW_UI_URL`, without a trailing slash."""
    return (os.environ.get("CHURNLAB_MLFLOW_UI_URL") or DEFAULT_MLFLOW_UI_URL).rstrip("/")


def run_url(experiment_id: str, run_id: str) -> str:
    """Return the MLflow UI address of one run."""
    return f"{mlflow_ui_url()}/#/experiments/{experiment_id}/runs/{run_id}"


def data_source_label() -> str:
    """Describe the data the dashboard uses: the CSV's file name or the generated demo data."""
    path = resolve_data_path()
    if path is None:
        return "generated demo data (no CSV found in data/)"
    return f"file {Path(path).name}"


def load_runs(tracking_uri: str | None = None, experiment: str | None = None) -> pd.DataFrame:
    """Return the finished model runs, newest first, from `core.tracking.search_model_runs`.

    The frame is empty when the store contains no model runs.
    """
    return _load_runs(resolve_tracking_uri(tracking_uri), resolve_experiment(experiment))


@st.cache_data(ttl=RUNS_TTL_SECONDS, show_spinner="Reading runs from MLflow…")
def _load_runs(tracking_uri: str, experiment: str) -> pd.DataFrame:
    return search_model_runs(tracking_uri, experiment)


def clear_runs_cache() -> None:
    """Forget the cached run list so that the next `load_runs` reads the store again."""
    _load_runs.clear()


def load_run_predictions(run_id: str, tracking_uri: str | None = None) -> pd.DataFrame:
    """Return a run's stored predictions: customerID, split ("oof"/"test"), y_true, y_score.

    Raises:
        FileNotFoundError: If the run has no stored predictions.
    """
    return _load_run_predictions(run_id, resolve_tracking_uri(tracking_uri))


@st.cache_data(show_spinner="Reading the run's predictions…", max_entries=64)
def _load_run_predictions(run_id: str, tracking_uri: str) -> pd.DataFrame:
    return load_predictions(run_id, tracking_uri)


def load_run_curves(run_id: str, tracking_uri: str | None = None) -> leaderboard.RunCurves:
    """Return the out-of-fold and test confusion curves of a run, built once per run.

    Raises:
        FileNotFoundError: If the run has no stored predictions.
        ValueError: If the stored predictions lack a split or hold invalid values.
    """
    uri = resolve_tracking_uri(tracking_uri)
    store = _curve_store(uri)
    if run_id not in store:
        store[run_id] = leaderboard.curves_from_predictions(load_predictions(run_id, uri))
    return store[run_id]


def load_all_run_curves(runs: pd.DataFrame) -> dict[str, leaderboard.RunCurves]:
    """Return the curves of every run in `runs` that has stored predictions, by run id.

    Runs read before are taken from the cache, and the others are read in parallel. Runs
    whose predictions cannot be read are left out, and `core.leaderboard` logs them.
    """
    uri = tracking_uri()
    store = _curve_store(uri)
    missing = runs[~runs["run_id"].isin(list(store))]
    if not missing.empty:
        store.update(leaderboard.load_curves(missing, uri))
    return {run_id: store[run_id] for run_id in runs["run_id"] if run_id in store}


@st.cache_resource
def _curve_store(tracking_uri: str) -> dict[str, leaderboard.RunCurves]:
    """Return the dictionary of curves by run id, one per store, shared by all sessions.

    A run's predictions never change once logged, so its entry never goes stale.
    NOTE: entries are never evicted. A run of the real data takes about 0.3 MB, so 500
    runs hold about 170 MB.
    """
    return {}


def ranked_runs(cost_fn: float, cost_fp: float) -> pd.DataFrame:
    """Return the runs ranked by out-of-fold cost at these costs, lowest first, or empty.

    Pages pass the result to `state.run_picker`, so every page defaults to the same run: the
    one with the lowest training-data (out-of-fold) cost at the current costs.
    """
    runs = load_runs()
    if runs.empty:
        return runs
    curves = load_all_run_curves(runs)
    return leaderboard.rank_runs(runs, curves, cost_fn, cost_fp)


def load_default_dataset(validate: bool = True) -> Dataset:
    """Return the data the dashboard uses: the CSV in `data/` or the generated data.

    Args:
        validate: Whether to clean the frame with `core.validation.validate_frame`. Pass
            False for the data audit, which needs the raw text with its hidden blanks.
    """
    return _load_default_dataset(str(resolve_data_path() or ""), validate)


@st.cache_data(show_spinner="Loading the customer data…")
def _load_default_dataset(path: str, validate: bool) -> Dataset:
    return load_dataset(path or None, validate=validate)
