"""Tests of core.tuning and core.search_spaces: validation, search spaces, studies on real data."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState
from sklearn.base import clone

from core.cli import main
from core.config import PROJECT_ROOT
from core.data import Dataset, DataSource, load_dataset
from core.evaluation import positive_weight
from core.models import build_pipeline
from core.search_spaces import TUNABLE_FAMILIES, params_from_trial, suggest_params
from core.synthetic import generate_telco
from core.training import SplitData
from core.tuning import (
    FoldMedianPruner,
    StopRequest,
    TuneConfig,
    _fit_booster,
    _fit_fold,
    _prepare_folds,
    _StudyContext,
    _trial_pipeline,
    fit_with_early_stopping,
    masked_url,
    open_storage,
    resolve_storage_url,
    tune,
)

# Generated customers stand in for the real data where only the mechanics are checked:
# fits on 1,500 rows take a fraction of the time of fits on the 7,043 real ones.
GENERATED_ROWS = 1500
GENERATED_SEED = 7


@pytest.fixture(scope="module")
def real_dataset(real_frame) -> Dataset:
    """The validated real data, with a fixed placeholder hash as its source."""
    from core.validation import validate_frame

    frame = validate_frame(real_frame.copy())
    source = DataSource("file", "telco.csv", "0" * 64, None, len(frame))
    return Dataset(frame=frame, source=source)


@pytest.fixture(scope="module")
def generated_csv(tmp_path_factory) -> Path:
    """A CSV of generated customers, for the `tune` processes started by the tests."""
    path = tmp_path_factory.mktemp("generated-data") / "telco.csv"
    generate_telco(n_rows=GENERATED_ROWS, seed=GENERATED_SEED).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def generated_dataset(generated_csv) -> Dataset:
    """The generated customers of `generated_csv`, validated, for in-process studies."""
    return load_dataset(generated_csv)


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables created and no runs.

    Creating the tables runs MLflow's migrations, which take several seconds, so tests that
    are not about a new store start from a copy of this file.
    """
    path = tmp_path_factory.mktemp("empty-mlflow") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def _copy_mlflow_db(empty_mlflow_db: Path, tmp_path: Path) -> None:
    shutil.copyfile(empty_mlflow_db, tmp_path / "mlflow.db")


def _fast_config(tmp_path: Path, **overrides) -> TuneConfig:
    settings = {
        "family": "xgboost",
        "n_trials": 3,
        "folds": 3,
        "fast": True,
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "experiment": "tuning-test",
        "diagnostics": False,
    }
    settings.update(overrides)
    return TuneConfig(**settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_trials": 0}, "--trials must be at least 1, got 0"),
        ({"n_trials": -3}, "--trials must be at least 1, got -3"),
        ({"family": "catboost"}, "Unknown model family 'catboost'"),
        ({"objective": "accuracy"}, "Unknown objective 'accuracy'"),
        ({"timeout_s": 0}, "--timeout must be a positive number"),
        ({"folds": 1}, "--folds must be between 2 and 20"),
        ({"study_name": "  "}, "--study-name is empty"),
    ],
)
def test_config_rejects_invalid_option(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        _fast_config(tmp_path, **overrides).validate()


def test_storage_unreachable_is_rejected(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'optuna.db'}"
    with pytest.raises(ValueError, match=r"Cannot open the Optuna storage .*missing-dir does not"):
        open_storage(url)


def test_storage_without_driver_names_fix():
    with pytest.raises(ValueError, match=r"mysql://x@127.0.0.1:1/db: .*Install the database's"):
        open_storage("mysql://x@127.0.0.1:1/db")


def test_storage_error_hides_password():
    with pytest.raises(ValueError, match=r"postgresql://user:\*\*\*@127\.0\.0\.1:1/db") as error:
        open_storage("postgresql://user:secret@127.0.0.1:1/db")
    assert "secret" not in str(error.value)


def test_masked_url_keeps_sqlite_path():
    assert masked_url("sqlite:///tmp/optuna.db") == "sqlite:///tmp/optuna.db"


def test_storage_env_overrides_default(monkeypatch):
    monkeypatch.setenv("OPTUNA_STORAGE", "sqlite:///elsewhere.db")
    assert resolve_storage_url() == "sqlite:///elsewhere.db"
    assert resolve_storage_url("sqlite:///given.db") == "sqlite:///given.db"
    monkeypatch.delenv("OPTUNA_STORAGE")
    assert resolve_storage_url() == f"sqlite:///{PROJECT_ROOT / 'optuna.db'}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tune", "--trials", "0"], "--trials must be at least 1"),
        (["tune", "--model", "catboost"], "Unknown model family 'catboost'"),
        (["tune", "--storage", "sqlite:////no/such/dir/optuna.db"], "Cannot open the Optuna"),
    ],
)
def test_cli_tune_rejects_bad_input(argv, message, capsys, tmp_path):
    code = main([*argv, "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.db").exists()


@pytest.mark.parametrize("family", TUNABLE_FAMILIES)
def test_search_space_builds_pipeline(family):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    name, params = suggest_params(trial, family, fast=True)
    pipeline = build_pipeline(name, params=params)
    assert pipeline.named_steps["model"] is not None
    assert params_from_trial(family, trial.params, fast=True) == (name, params)


def test_search_space_fixed_params_not_sampled():
    trial = optuna.create_study().ask()
    _, params = suggest_params(trial, "xgboost", fixed={"n_estimators": 500})
    assert params["n_estimators"] == 500
    assert "n_estimators" not in trial.params


def test_fold_median_pruner_compares_current_fold():
    pruner = FoldMedianPruner(n_startup_trials=3, n_warmup_steps=1)
    study = optuna.create_study(direction="minimize", pruner=pruner)
    for value in (0.50, 0.51, 0.52):
        trial = study.ask()
        trial.report(value, 0)
        trial.report(value, 1)
        study.tell(trial, value)

    # Lowest value at fold 0 but above the median at fold 1: Optuna's MedianPruner keeps it.
    lucky = study.ask()
    lucky.report(0.40, 0)
    assert not lucky.should_prune()
    lucky.report(0.55, 1)
    assert lucky.should_prune()
    assert not optuna.pruners.MedianPruner(3, 1).prune(study, study.trials[lucky.number])

    good = study.ask()
    good.report(0.49, 0)
    good.report(0.50, 1)
    assert not good.should_prune()


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_early_stopping_uses_training_rows_only(real_dataset, name):
    split = SplitData.from_dataset(real_dataset, test_size=0.2, seed=42)
    pipeline = build_pipeline(
        name,
        params={"n_estimators": 400, "learning_rate": 0.3},
        pos_weight=positive_weight(split.y_train),
        n_jobs=1,
    )
    fit_with_early_stopping(pipeline, split.X_train, split.y_train, rounds=10)
    estimator = pipeline.named_steps["model"]
    from core.diagnostics import early_stopping_frame

    history, kept = early_stopping_frame(estimator)
    assert kept < 400
    assert len(history) == kept + 10
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    scores = pipeline.predict_proba(split.X_test)[:, 1]
    assert scores.shape == (len(split.y_test),)


@pytest.mark.parametrize("imbalance", ["class_weight", "smote"])
@pytest.mark.parametrize("early_stopping", [True, False])
def test_xgboost_fold_on_cached_matrices_matches_pipeline_fit(
    real_dataset, imbalance, early_stopping
):
    split = SplitData.from_dataset(real_dataset, test_size=0.2, seed=42)
    config = TuneConfig(imbalance=imbalance, folds=3)
    ctx = _StudyContext(
        config=config,
        split=split,
        pos_weight=positive_weight(split.y_train),
        early_stopping=early_stopping,
        stop=StopRequest(),
    )
    fold = _prepare_folds(ctx)[0]
    params = {"n_estimators": 300, "learning_rate": 0.2, "max_depth": 3, "subsample": 0.8}
    template = _trial_pipeline("xgboost", params, ctx)

    cached, trees_kept = _fit_fold(template, fold, ctx)
    again, _ = _fit_fold(template, fold, ctx)

    estimator = clone(template.named_steps["model"])
    resampler = template.named_steps.get("resample")
    if early_stopping:
        _fit_booster(
            estimator,
            None if resampler is None else clone(resampler),
            (fold.X_train, fold.y_train),
            fold.stopping,
            imbalance=imbalance,
            track_train_loss=False,
        )
        assert trees_kept == estimator.best_iteration + 1
        assert trees_kept < 300
    else:
        X_model, y_model = fold.X_train, fold.y_train
        if resampler is not None:
            X_model, y_model = clone(resampler).fit_resample(X_model, y_model)
        estimator.fit(X_model, y_model)
        assert trees_kept is None
    expected = estimator.predict_proba(fold.X_valid)[:, 1]
    np.testing.assert_allclose(cached, expected, rtol=1e-6)
    np.testing.assert_array_equal(cached, again)


def _runs(tmp_path: Path, experiment: str = "tuning-test"):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return mlflow.search_runs(experiment_names=[experiment], max_results=1000)


@pytest.mark.slow
def test_tune_logs_parent_nested_and_tuned_runs(tmp_path, real_dataset, empty_mlflow_db):
    _copy_mlflow_db(empty_mlflow_db, tmp_path)
    config = _fast_config(tmp_path, n_trials=3, diagnostics=True)
    result = tune(config, dataset=real_dataset)

    assert result.n_trials_run == 3
    assert result.n_complete == 3
    assert result.tuned_run_id is not None
    runs = _runs(tmp_path)
    parent = runs[runs["tags.churnlab.kind"] == "tuning_study"]
    assert len(parent) == 1
    assert parent["run_id"].iloc[0] == result.parent_run_id
    assert parent["tags.tuned_run_id"].iloc[0] == result.tuned_run_id
    nested = runs[runs["tags.mlflow.parentRunId"] == result.parent_run_id]
    assert len(nested) == 3
    assert set(nested["tags.optuna.trial_state"]) == {"COMPLETE"}
    assert nested["metrics.oof_cost"].notna().all()
    assert nested["metrics.oof_log_loss"].notna().all()
    assert nested["metrics.cv_auc_mean"].notna().all()
    assert nested["metrics.threshold"].notna().all()

    tuned = runs[runs["run_id"] == result.tuned_run_id].iloc[0]
    assert tuned["tags.churnlab.kind"] == "tuned"
    assert tuned["tags.study_name"] == "xgboost-cost"
    assert tuned["status"] == "FINISHED"
    assert tuned["metrics.test_cost"] > 0

    storage = open_storage(config.storage)
    study = optuna.load_study(study_name="xgboost-cost", storage=storage)
    for trial in study.trials:
        assert "oof_cost" in trial.user_attrs
        assert "oof_log_loss" in trial.user_attrs
        assert trial.user_attrs["trees_kept_mean"] <= trial.params["n_estimators"]

    client = MlflowClient(tracking_uri=config.tracking_uri)
    files = {a.path for a in client.list_artifacts(result.tuned_run_id, "diagnostics")}
    assert "diagnostics/learning_curves.parquet" in files
    assert "diagnostics/early_stopping.parquet" in files
    assert "diagnostics/comparison.parquet" in files


@pytest.mark.slow
def test_tune_resume_continues_numbering(tmp_path, generated_dataset, empty_mlflow_db):
    _copy_mlflow_db(empty_mlflow_db, tmp_path)
    config = _fast_config(tmp_path, n_trials=2, refit=False)
    tune(config, dataset=generated_dataset)
    result = tune(config, dataset=generated_dataset)

    study = optuna.load_study(study_name="xgboost-cost", storage=open_storage(config.storage))
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert result.n_trials_run == 2
    # A resumed study is seeded past its first trials, so it does not replay them.
    assert study.trials[2].params != study.trials[0].params


@pytest.mark.slow
def test_tune_rejects_study_with_other_settings(tmp_path, generated_dataset, empty_mlflow_db):
    _copy_mlflow_db(empty_mlflow_db, tmp_path)
    tune(_fast_config(tmp_path, n_trials=1, refit=False), dataset=generated_dataset)
    changed = _fast_config(tmp_path, n_trials=1, refit=False, cost_fn=5.0)
    with pytest.raises(ValueError, match=r"created with other settings \(cost_fn: study 10.0"):
        tune(changed, dataset=generated_dataset)


def _tune_command(tmp_path: Path, study: str, trials: int, data: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "core",
        "tune",
        "--trials",
        str(trials),
        "--folds",
        "3",
        "--fast",
        "--no-diagnostics",
        "--data",
        str(data),
        "--study-name",
        study,
        "--storage",
        f"sqlite:///{tmp_path / 'optuna.db'}",
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--experiment",
        "tuning-test",
    ]


@pytest.mark.slow
def test_two_processes_share_sqlite_study(tmp_path, generated_csv):
    # Both stores are new, so the two processes also race to create their tables.
    workers = [
        subprocess.Popen(
            _tune_command(tmp_path, "shared", 2, generated_csv),
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=240)[0] for worker in workers]

    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-2000:]
        # A lock met while the two create the stores is retried and logged, never raised.
        assert "Traceback" not in output
    study = optuna.load_study(
        study_name="shared", storage=open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    )
    assert len(study.trials) == 4
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    runs = _runs(tmp_path)
    assert (runs["tags.churnlab.kind"] == "tuned").sum() == 2
    assert set(runs["status"]) == {"FINISHED"}


@pytest.mark.slow
def test_sigterm_leaves_study_resumable(tmp_path, generated_csv, empty_mlflow_db):
    _copy_mlflow_db(empty_mlflow_db, tmp_path)
    worker = subprocess.Popen(
        _tune_command(tmp_path, "stopped", 50, generated_csv),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if not (tmp_path / "optuna.db").exists():
            continue
        try:
            # open_storage retries while the worker is still creating the tables.
            trials = optuna.load_study(study_name="stopped", storage=open_storage(storage)).trials
        except KeyError:
            continue
        if len(trials) >= 2:
            break
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=60)[0]
    assert worker.returncode != 0, output[-2000:]

    study = optuna.load_study(study_name="stopped", storage=storage)
    states = {t.state for t in study.trials}
    assert TrialState.RUNNING not in states
    runs = _runs(tmp_path)
    assert "RUNNING" not in set(runs["status"])
    assert "KILLED" in set(runs["status"])

    before = len(study.trials)
    resumed = subprocess.run(
        _tune_command(tmp_path, "stopped", 1, generated_csv),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    study = optuna.load_study(study_name="stopped", storage=storage)
    assert [t.number for t in study.trials] == list(range(before + 1))
