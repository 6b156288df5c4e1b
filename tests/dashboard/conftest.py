"""Fixtures that point dashboard pages at real temporary tracking stores."""

from __future__ import annotations

import pytest

import core.config
from core.data import Dataset, DataSource
from core.synthetic import generate_telco
from core.training import TrainConfig, train
from core.validation import validate_frame


@pytest.fixture
def real_store_env(trained_store, monkeypatch):
    """Point the dashboard at the session's trained store and the real CSV when present."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", trained_store.experiment)
    monkeypatch.delenv("CHURNLAB_DATA", raising=False)
    return trained_store


@pytest.fixture(scope="session")
def generated_store(tmp_path_factory: pytest.TempPathFactory):
    """Train a fast logistic regression on 2,000 generated customers into its own store."""
    folder = tmp_path_factory.mktemp("generated-store")
    frame = validate_frame(generate_telco(n_rows=2000, seed=3))
    dataset = Dataset(frame, DataSource("generated", None, None, 3, len(frame)))
    config = TrainConfig(
        models=("logistic_regression",),
        fast=True,
        folds=3,
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        experiment="churnlab-generated",
    )
    results = train(config, dataset=dataset)
    return config, results[0].run_id


@pytest.fixture
def generated_env(generated_store, monkeypatch, tmp_path):
    """Hide the real CSV so the dashboard falls back to generated data and its store."""
    config, _ = generated_store
    monkeypatch.setattr(core.config, "DEFAULT_DATA_PATH", tmp_path / "absent.csv")
    monkeypatch.delenv("CHURNLAB_DATA", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", config.tracking_uri)
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", config.experiment)
    return config


@pytest.fixture
def empty_env(monkeypatch, tmp_path):
    """Point the dashboard at a store with no runs."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", "churnlab-empty")
    monkeypatch.delenv("CHURNLAB_DATA", raising=False)
