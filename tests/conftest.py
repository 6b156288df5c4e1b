"""Shared fixtures: real and generated frames, isolated stores, a trained tracking store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from core.config import DEFAULT_DATA_PATH
from core.data import read_csv_file
from core.synthetic import generate_telco
from core.training import TrainConfig, train


@pytest.fixture(scope="session")
def real_frame() -> pd.DataFrame:
    """The published 7,043-row CSV as read, with blank TotalCharges kept; copy before editing."""
    if not DEFAULT_DATA_PATH.exists():
        pytest.skip(f"real data not found at {DEFAULT_DATA_PATH}")
    return read_csv_file(DEFAULT_DATA_PATH)


@pytest.fixture(scope="session")
def generated_frame() -> pd.DataFrame:
    """1,000 generated rows with seed 7; copy before editing."""
    return generate_telco(n_rows=1000, seed=7)


@dataclass(frozen=True)
class TrainedStore:
    """A temporary SQLite tracking store holding fast runs of two models."""

    tracking_uri: str
    experiment: str
    run_ids: dict[str, str]
    data_path: str | None


@pytest.fixture(scope="session", autouse=True)
def isolated_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Point MLflow and Optuna at temporary stores, so no test writes to the project's."""
    folder = tmp_path_factory.mktemp("default-stores")
    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "OPTUNA_STORAGE")}
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["OPTUNA_STORAGE"] = f"sqlite:///{folder / 'optuna.db'}"
    yield os.environ["MLFLOW_TRACKING_URI"]
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> TrainedStore:
    """Train logistic regression and XGBoost with fast settings into a temporary store.

    Uses the real data when its CSV is present, else the generated data.
    """
    folder = tmp_path_factory.mktemp("trained-store")
    data_path = str(DEFAULT_DATA_PATH) if DEFAULT_DATA_PATH.exists() else None
    config = TrainConfig(
        data_path=data_path,
        models=("logistic_regression", "xgboost"),
        fast=True,
        folds=3,
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        experiment="churnlab-test",
    )
    results = train(config)
    return TrainedStore(
        tracking_uri=config.tracking_uri,
        experiment=config.experiment,
        run_ids={result.name: result.run_id for result in results},
        data_path=data_path,
    )


@pytest.fixture(autouse=True)
def isolated_decisions(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Give each test its own decision log, since promotion reads the latest decision."""
    monkeypatch.setenv("CHURNLAB_DECISIONS_EXPERIMENT", f"decisions-{request.node.nodeid}")
