"""The `train` command against a real temporary MLflow store, read back as users read it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from core import costs
from core.cli import main
from core.config import PROJECT_ROOT
from core.data import Dataset, DataSource, load_dataset
from core.synthetic import generate_telco
from core.tracking import load_predictions, search_model_runs
from core.training import TrainConfig, train
from core.validation import validate_frame

pytestmark = pytest.mark.slow

METRIC_KEYS = (
    "cv_auc_mean",
    "cv_auc_std",
    "oof_auc",
    "oof_cost",
    "test_auc",
    "test_pr_auc",
    "test_f1",
    "test_precision",
    "test_recall",
    "test_accuracy",
    "test_brier",
    "test_log_loss",
    "test_cost_default_threshold",
    "threshold",
    "test_cost",
    "test_emp",
    "test_emp_share",
)


def test_runs_log_every_metric_key(trained_store):
    client = MlflowClient(tracking_uri=trained_store.tracking_uri)
    for name, run_id in trained_store.run_ids.items():
        run = client.get_run(run_id)
        missing = [key for key in METRIC_KEYS if key not in run.data.metrics]
        assert missing == [], f"{name} lacks {missing}"
        assert run.info.status == "FINISHED"
        assert run.data.tags["model_family"] == name
        assert run.data.tags["data_hash"]
        assert run.data.params["cost_fn"] == "10.0"


def test_runs_log_artifacts(trained_store):
    client = MlflowClient(tracking_uri=trained_store.tracking_uri)
    run_id = trained_store.run_ids["xgboost"]
    paths = {item.path for item in client.list_artifacts(run_id, "plots")}

    assert {
        "plots/roc.json",
        "plots/precision_recall.json",
        "plots/cost_curve.json",
        "plots/confusion_matrix.json",
    } <= paths
    assert client.get_run(run_id).inputs.dataset_inputs


def test_stored_predictions_reproduce_test_cost(trained_store):
    run_id = trained_store.run_ids["logistic_regression"]
    run = MlflowClient(tracking_uri=trained_store.tracking_uri).get_run(run_id)
    predictions = load_predictions(run_id, trained_store.tracking_uri)
    test = predictions[predictions["split"] == "test"]
    oof = predictions[predictions["split"] == "oof"]

    cost = costs.cost_at(test["y_true"], test["y_score"], run.data.metrics["threshold"])

    assert len(oof) + len(test) == load_dataset(trained_store.data_path).source.n_rows
    assert oof["y_score"].notna().all()
    assert cost / len(test) == pytest.approx(run.data.metrics["test_cost"])


def test_threshold_is_optimal_on_oof_predictions(trained_store):
    run_id = trained_store.run_ids["xgboost"]
    run = MlflowClient(tracking_uri=trained_store.tracking_uri).get_run(run_id)
    oof = load_predictions(run_id, trained_store.tracking_uri).query("split == 'oof'")

    choice = costs.optimal_threshold(costs.cost_curve(oof["y_true"], oof["y_score"]))

    assert run.data.metrics["threshold"] == pytest.approx(choice.threshold)


@pytest.mark.parametrize("name", ["xgboost", "logistic_regression"])
def test_logged_model_scores_raw_records(trained_store, name):
    run_id = trained_store.run_ids[name]
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    records = load_dataset(trained_store.data_path).frame.drop(columns=["Churn"]).head(20)

    result = model.predict(records)

    assert list(result.columns[:3]) == ["customerID", "churn_probability", "decision"]
    assert result["churn_probability"].between(0, 1).all()
    assert set(result["decision"].unique()) <= {0, 1}
    assert result["reason_1"].str.contains(" = ").any()
    assert model.unwrap_python_model().background is not None


def test_best_model_reaches_auc_on_real_data(trained_store):
    if trained_store.data_path is None:
        pytest.skip("real data not present")
    runs = search_model_runs(trained_store.tracking_uri, trained_store.experiment)

    assert runs["metrics.test_auc"].max() >= 0.84


def test_invalid_data_writes_no_run(tmp_path, generated_frame):
    bad = generated_frame.copy()
    bad["Churn"] = "Yes"
    path = tmp_path / "one-class.csv"
    bad.to_csv(path, index=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    code = main(["train", "--data", str(path), "--models", "xgboost", "--tracking-uri", uri])

    assert code == 2
    assert search_model_runs(uri, "churnlab").empty


def test_failing_model_run_ends_failed(tmp_path, monkeypatch, generated_frame):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    def broken_log(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("core.training.log_churn_model", broken_log)
    config = TrainConfig(models=("logistic_regression",), folds=2, tracking_uri=uri)
    with pytest.raises(RuntimeError, match="disk full"):
        train(config, dataset=_generated_dataset())

    runs = mlflow.search_runs(experiment_names=["churnlab"], output_format="pandas")
    assert runs["status"].tolist() == ["FAILED"]


def test_train_config_rejects_bad_folds():
    with pytest.raises(ValueError, match="--folds must be between 2 and 20, got 1"):
        TrainConfig(folds=1).validate()


def test_generated_data_trains_end_to_end(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = TrainConfig(models=("lightgbm",), fast=True, folds=3, tracking_uri=uri)

    results = train(config, dataset=_generated_dataset())
    run = MlflowClient(tracking_uri=uri).get_run(results[0].run_id)

    assert run.data.tags["data_source"].startswith("generated")
    assert 0.6 < run.data.metrics["test_auc"] <= 1.0
    assert np.isfinite(run.data.metrics["test_cost"])


def _generated_dataset() -> Dataset:
    frame = validate_frame(generate_telco(n_rows=1500, seed=3))
    source = DataSource(kind="generated", path=None, sha256=None, seed=3, n_rows=len(frame))
    return Dataset(frame=frame, source=source)


def test_sigterm_ends_run_killed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [sys.executable, "-m", "core", "train", "--models", "random_forest"]
    command += ["--tracking-uri", uri, "--experiment", "killed"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        # Cross-validation starts after the data is loaded and the experiment exists.
        for line in process.stdout:
            if "cross-validating" in line:
                break
        _wait_for_run(uri, "killed")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        process.kill()

    runs = MlflowClient(tracking_uri=uri).search_runs(
        [MlflowClient(tracking_uri=uri).get_experiment_by_name("killed").experiment_id]
    )
    assert [run.info.status for run in runs] == ["KILLED"]


def _wait_for_run(uri: str, experiment: str, timeout: float = 60.0) -> None:
    client = MlflowClient(tracking_uri=uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get_experiment_by_name(experiment)
        if found and client.search_runs([found.experiment_id]):
            return
        time.sleep(0.2)
    raise TimeoutError(f"no run appeared in {experiment!r} within {timeout} s")
