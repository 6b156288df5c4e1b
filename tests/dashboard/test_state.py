"""Tests of the run labels shared by the page selectors and tables."""

from __future__ import annotations

import pandas as pd

from dashboard import state


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["abcdef1234", "x2345678901"],
            "tags.mlflow.runName": ["xgboost", None],
            "params.model": ["xgboost", "lightgbm"],
            "tags.imbalance": ["smote", None],
            "start_time": [pd.Timestamp("2026-12-04 10:00", tz="UTC"), pd.NaT],
        }
    )


def test_run_labels_name_model_strategy_time():
    labels = state.run_labels(_runs())
    assert labels["abcdef1234"] == "XGBoost · SMOTE · 04 Dec 10:00 · abcdef12"


def test_run_labels_fall_back_to_model_param():
    labels = state.run_labels(_runs())
    assert labels["x2345678901"] == "LightGBM · x2345678"


def test_run_label_matches_run_labels():
    runs = _runs()
    assert state.run_label(runs.iloc[0]) == state.run_labels(runs)["abcdef1234"]


def test_short_run_label():
    assert state.short_run_label(_runs().iloc[0]) == "XGBoost · abcdef12"


def test_run_labels_without_optional_columns():
    runs = pd.DataFrame({"run_id": ["0123456789"]})
    assert state.run_labels(runs) == {"0123456789": "run · 01234567"}
