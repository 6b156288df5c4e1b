"""A team's set-up on real engines: an MLflow tracking server on PostgreSQL, and two tuning
workers sharing one Optuna study in PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from core.config import PROJECT_ROOT
from core.synthetic import generate_telco
from core.tuning import open_storage
from tests.servers import VENV_BIN, free_port, running_server, venv_env

pytestmark = pytest.mark.slow


@pytest.fixture()
def tracking_server(new_database, tmp_path: Path) -> Iterator[str]:
    """Run `mlflow server` with its runs in PostgreSQL and its artifacts in a temp folder."""
    port = free_port()
    command = [
        str(VENV_BIN / "mlflow"), "server",
        "--backend-store-uri", new_database("mlflow"),
        "--artifacts-destination", str(tmp_path / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with running_server(
        command,
        f"http://127.0.0.1:{port}",
        health_path="/health",
        log_path=tmp_path / "mlflow-server.log",
        env=venv_env(),
    ) as url:
        yield url


def test_two_workers_share_postgres_study(tracking_server, new_database, tmp_path):
    optuna_database = new_database("optuna")
    data = tmp_path / "customers.csv"
    generate_telco(n_rows=1500, seed=7).to_csv(data, index=False)
    command = [
        sys.executable, "-m", "core", "tune",
        "--model", "logistic_regression", "--trials", "2", "--folds", "3", "--fast",
        "--no-diagnostics", "--data", str(data), "--study-name", "team",
        "--storage", optuna_database, "--tracking-uri", tracking_server,
        "--experiment", "team-tuning",
    ]  # fmt: skip
    workers = [
        subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]

    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
        assert "Traceback" not in output
    study = optuna.load_study(study_name="team", storage=open_storage(optuna_database))
    assert len(study.trials) == 4
    assert all(trial.state == TrialState.COMPLETE for trial in study.trials)

    client = MlflowClient(tracking_uri=tracking_server)
    experiment = client.get_experiment_by_name("team-tuning")
    runs = client.search_runs([experiment.experiment_id])
    tuned = [run for run in runs if run.data.tags.get("churnlab.kind") == "tuned"]
    assert len(tuned) == 2
    assert {run.info.status for run in runs} == {"FINISHED"}
    # The tuned model's files went through the server to its artifact folder.
    assert client.list_artifacts(tuned[0].info.run_id)


def test_unreachable_postgres_names_url(postgres_server):
    url = postgres_server.rsplit(":", 1)[0] + ":1/optuna"
    with pytest.raises(ValueError, match=r"Cannot open the Optuna storage postgresql://"):
        open_storage(url)
