"""Tests of the tracking-store set-up shared by training, tuning and the decision log."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from core.tracking import configure_tracking, ensure_experiment, sqlite_database


def test_artifacts_beside_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "elsewhere" / "mlflow.db"
    store.parent.mkdir()
    previous = mlflow.get_tracking_uri()
    try:
        uri, experiment_id = configure_tracking(f"sqlite:///{store}", "artifacts-test")
    finally:
        mlflow.set_tracking_uri(previous)
    location = MlflowClient(tracking_uri=uri).get_experiment(experiment_id).artifact_location
    assert location == (store.parent / "mlruns").as_uri()


def test_ensure_experiment_returns_existing_id(tmp_path):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    first = ensure_experiment(client, "twice")
    assert ensure_experiment(client, "twice") == first


def test_sqlite_database_reads_path_only_for_files():
    assert sqlite_database("sqlite:////tmp/x/mlflow.db") == "/tmp/x/mlflow.db"
    assert sqlite_database("sqlite://") is None
    assert sqlite_database("postgresql://u@h/db") is None
    assert Path(sqlite_database("sqlite:///rel.db")).name == "rel.db"
