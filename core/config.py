"""Project paths and the resolution of settings that may come from the environment."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"

# The Kaggle file name; `make run` and CI copy the real data set here.
DEFAULT_DATA_PATH = DATA_DIR / "WA_Fn-UseC_-Telco-Customer-Churn.csv"

DEFAULT_EXPERIMENT = "churnlab"
DEFAULT_SEED = 42
DEFAULT_COST_FN = 10.0
DEFAULT_COST_FP = 1.0


def default_tracking_uri() -> str:
    """Return the SQLite store in the project folder, used when nothing else is set."""
    return f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """Return the tracking URI: the argument, else `MLFLOW_TRACKING_URI`, else SQLite."""
    if tracking_uri:
        return tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def resolve_experiment(experiment: str | None = None) -> str:
    """Return the experiment name: the argument, else `CHURNLAB_EXPERIMENT`, else the default."""
    if experiment:
        return experiment
    return os.environ.get("CHURNLAB_EXPERIMENT") or DEFAULT_EXPERIMENT


def resolve_data_path(path: str | os.PathLike | None = None) -> Path | None:
    """Return the CSV to load: the argument, else `CHURNLAB_DATA`, else the default file.

    Returns None when no argument or variable is given and the default file is absent,
    so the loader uses the generated data.
    """
    if path:
        return Path(path)
    env_path = os.environ.get("CHURNLAB_DATA")
    if env_path:
        return Path(env_path)
    return DEFAULT_DATA_PATH if DEFAULT_DATA_PATH.exists() else None
