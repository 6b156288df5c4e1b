"""Tests of core.tuning_jobs: launching, refusing a second launch, stopping, progress."""

from __future__ import annotations

import time

import optuna
import pytest
from optuna.trial import TrialState

from core.synthetic import generate_telco
from core.tuning import TuneConfig, open_storage
from core.tuning_jobs import (
    is_running,
    launch_tuning,
    read_job,
    stop_tuning,
    study_progress,
    tune_command,
)


@pytest.fixture
def config(tmp_path, monkeypatch) -> TuneConfig:
    monkeypatch.setenv("CHURNLAB_TUNING_JOBS", str(tmp_path / "jobs"))
    # Generated customers keep each trial of the launched process short.
    data_path = tmp_path / "telco.csv"
    generate_telco(n_rows=1500, seed=7).to_csv(data_path, index=False)
    return TuneConfig(
        family="xgboost",
        n_trials=50,
        folds=3,
        fast=True,
        diagnostics=False,
        study_name="job-study",
        data_path=str(data_path),
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        experiment="jobs-test",
    )


def test_tune_command_carries_options(config):
    command = tune_command(config)
    assert command[1:4] == ["-m", "core", "tune"]
    assert command[command.index("--study-name") + 1] == "job-study"
    assert "--fast" in command
    assert "--no-diagnostics" in command
    assert "--no-pruning" not in command


def test_launch_rejects_zero_trials(config):
    config.n_trials = 0
    with pytest.raises(ValueError, match="--trials must be at least 1"):
        launch_tuning(config)
    assert read_job("job-study") is None


def test_progress_of_missing_study(config):
    open_storage(config.storage)
    with pytest.raises(ValueError, match="Study 'nope' not found"):
        study_progress("nope", config.storage)


@pytest.mark.slow
def test_launch_refuse_second_then_stop(config):
    job = launch_tuning(config)
    try:
        assert is_running(job)
        with pytest.raises(ValueError, match="already has a tuning job running"):
            launch_tuning(config)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                progress = study_progress("job-study", config.storage)
            except ValueError:
                progress = None
            if progress is not None and progress.counts.get("COMPLETE", 0) >= 1:
                break
            time.sleep(0.5)
    finally:
        assert stop_tuning("job-study", wait_s=60)
    assert not is_running(job)

    study = optuna.load_study(study_name="job-study", storage=open_storage(config.storage))
    assert TrialState.RUNNING not in {t.state for t in study.trials}
    progress = study_progress("job-study", config.storage)
    assert progress.counts["COMPLETE"] >= 1
    assert progress.best_value is not None
    assert progress.trials["best_so_far"].dropna().is_monotonic_decreasing
