"""MLflow tracking: configure the store, run bookkeeping, stored predictions, run queries."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import sqlalchemy
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from core.config import PROJECT_ROOT, resolve_experiment, resolve_tracking_uri

logger = logging.getLogger(__name__)

PREDICTIONS_ARTIFACT = "predictions/predictions.parquet"
PREDICTION_COLUMNS = ("customerID", "split", "y_true", "y_score")


def configure_tracking(
    tracking_uri: str | None = None, experiment: str | None = None
) -> tuple[str, str]:
    """Point MLflow at the tracking store and experiment, creating the experiment if needed.

    Returns:
        The resolved tracking URI and the experiment id.
    """
    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    name = resolve_experiment(experiment)
    ensure_experiment(MlflowClient(tracking_uri=uri), name)
    experiment_obj = mlflow.set_experiment(name)
    return uri, experiment_obj.experiment_id


def ensure_experiment(client: MlflowClient, name: str) -> str:
    """Return the id of the experiment `name`, creating it when it is missing.

    On a SQLite store, a new experiment keeps its artifacts in `mlruns/` beside the
    database file. MLflow's default is `mlruns/` in the working folder, so a store given as
    `sqlite:////elsewhere/mlflow.db` would otherwise write its models into the folder the
    command ran in.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    database = sqlite_database(client.tracking_uri)
    location = None if database is None else (Path(database).parent / "mlruns").as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:
        # Another process created it between the lookup and the creation.
        return client.get_experiment_by_name(name).experiment_id


def sqlite_database(url: str) -> str | None:
    """Return the file path of a SQLite URL, or None for other URLs and in-memory ones."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = sqlalchemy.make_url(url).database
    except sqlalchemy.exc.ArgumentError:
        return None
    return None if not database or database == ":memory:" else database


@contextlib.contextmanager
def tracked_run(run_name: str, *, nested: bool = False, tags: dict | None = None) -> Iterator:
    """Start an MLflow run that always ends: FINISHED, FAILED on an error, KILLED on interrupt.

    MLflow's own context manager marks an interrupt as FAILED. Telling a stopped run from a
    crashed one helps the readers of the leaderboard later.
    """
    run = mlflow.start_run(run_name=run_name, nested=nested, tags=tags)
    try:
        yield run
    except (KeyboardInterrupt, SystemExit):
        mlflow.end_run(RunStatus.to_string(RunStatus.KILLED))
        logger.warning("run %s (%s) was interrupted and marked KILLED", run_name, run.info.run_id)
        raise
    except BaseException:
        mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
        logger.error("run %s (%s) failed and was marked FAILED", run_name, run.info.run_id)
        raise
    else:
        mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))


def git_commit() -> str:
    """Return the current git commit of the project, or "unknown" outside a checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def log_predictions(predictions: pd.DataFrame) -> None:
    """Log out-of-fold and test probabilities of the active run as a Parquet artifact."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions frame is missing columns {missing}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(PREDICTIONS_ARTIFACT).name
        predictions.loc[:, list(PREDICTION_COLUMNS)].to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=str(Path(PREDICTIONS_ARTIFACT).parent))


def load_predictions(run_id: str, tracking_uri: str | None = None) -> pd.DataFrame:
    """Return the stored predictions of a run: customerID, split, y_true, y_score.

    Raises:
        FileNotFoundError: the run has no stored predictions (it failed, or was not a
            ChurnLab model run).
    """
    uri = resolve_tracking_uri(tracking_uri)
    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=PREDICTIONS_ARTIFACT, tracking_uri=uri
        )
    except mlflow.exceptions.MlflowException as error:
        raise FileNotFoundError(
            f"Run {run_id} has no stored predictions ({PREDICTIONS_ARTIFACT}); retrain it "
            "with `python -m core train`."
        ) from error
    return pd.read_parquet(local)


def search_model_runs(
    tracking_uri: str | None = None,
    experiment: str | None = None,
    *,
    status: str | None = "FINISHED",
    max_results: int = 5000,
) -> pd.DataFrame:
    """Return the experiment's model runs, one row each, newest first.

    Columns are MLflow's `search_runs` frame: `run_id`, `status`, `start_time`,
    `metrics.*`, `params.*` and `tags.*`. Only runs that logged a `test_cost` are model
    runs; parent runs of tuning studies are left out. An experiment that does not exist
    yet gives an empty frame.
    """
    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    found = client.get_experiment_by_name(resolve_experiment(experiment))
    if found is None:
        return pd.DataFrame()
    filter_string = f"attributes.status = '{status}'" if status else ""
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    runs = mlflow.search_runs(
        experiment_ids=[found.experiment_id],
        filter_string=filter_string,
        max_results=max_results,
        order_by=["attributes.start_time DESC"],
    )
    if runs.empty or "metrics.test_cost" not in runs.columns:
        return pd.DataFrame()
    return runs[runs["metrics.test_cost"].notna()].reset_index(drop=True)
