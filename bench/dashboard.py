"""Benchmark the dashboard: Threshold & cost reruns after a slider move, and leaderboard loads.

Everything runs against temporary SQLite tracking stores that this script creates:

1. small: one fast logistic regression trained on the default data (the real CSV when it is
   in data/, so 1,409 test customers), through `core.training.train`.
2. 1m: one run whose stored predictions are 1,000,000 generated test customers and
   1,000,000 generated out-of-fold customers, logged with `core.tracking.log_predictions`.
3. 500 runs: copies of the small run's metrics, parameters and tags, each with the small
   run's predictions plus a little per-run noise on the scores, so every curve differs.

A rerun is timed server-side with Streamlit's testing API (`AppTest.run`) after the cost
slider moves to another stop. The first run, which fills the caches, is not timed. The leaderboard
load is the first `AppTest.run` of the Leaderboard page in this process, so it includes
reading all 500 prediction files. AppTest adds its own overhead (building the element tree),
so a browser session sees a similar or lower server time plus network and drawing time.

Run from the repository root:

    .venv/bin/python bench/dashboard.py

The last line is one JSON object with `rerun_ms_median_small`, `rerun_ms_median_1m` and
`leaderboard_s_500`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Running the file as a script puts bench/ first on sys.path, not the repository root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from core.tracking import PREDICTIONS_ARTIFACT, load_predictions  # noqa: E402
from core.training import TrainConfig, train  # noqa: E402

PAGES = PROJECT_ROOT / "dashboard" / "views"
COST_STOPS = (10.0, 20.0, 15.0, 50.0, 30.0, 100.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=15, help="timed reruns per size")
    parser.add_argument("--n-large", type=int, default=1_000_000, help="customers of the 1m run")
    parser.add_argument("--runs", type=int, default=500, help="runs in the leaderboard store")
    parser.add_argument("--seed", type=int, default=42, help="random seed of generated scores")
    return parser.parse_args(argv)


def point_at(uri: str, experiment: str) -> None:
    """Make the pages read this store and experiment, as `make run` does through the env."""
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ["CHURNLAB_EXPERIMENT"] = experiment


def train_small(folder: Path) -> tuple[str, str]:
    """Train one fast model on the default data; return the store URI and the run id."""
    uri = f"sqlite:///{folder / 'small.db'}"
    config = TrainConfig(
        models=("logistic_regression",), fast=True, folds=3, tracking_uri=uri, experiment="small"
    )
    results = train(config)
    return uri, results[0].run_id


def generated_predictions(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw n labels at a 26.5 % churn rate and scores that rank churners higher."""
    y_true = (rng.random(n) < 0.265).astype(np.int64)
    logits = rng.normal(loc=np.where(y_true == 1, 0.9, -0.9), scale=1.2)
    return pd.DataFrame(
        {
            "customerID": np.char.add("C", np.arange(n).astype(str)),
            "y_true": y_true,
            "y_score": 1.0 / (1.0 + np.exp(-logits)),
        }
    )


def log_large_run(folder: Path, n: int, seed: int) -> tuple[str, str]:
    """Log one run with n test and n out-of-fold generated predictions."""
    uri = f"sqlite:///{folder / 'large.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("large", artifact_location=str(folder / "large"))
    rng = np.random.default_rng(seed)
    frame = pd.concat(
        [
            generated_predictions(n, rng).assign(split="oof"),
            generated_predictions(n, rng).assign(split="test"),
        ],
        ignore_index=True,
    )
    run = client.create_run(experiment_id, run_name="generated_1m")
    _log_predictions_file(client, run.info.run_id, frame, folder)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("test_cost", 0.0, 0, 0)],
        tags=[RunTag("model_name", "generated"), RunTag("model_family", "generated")],
    )
    client.set_terminated(run.info.run_id)
    return uri, run.info.run_id


def log_many_runs(folder: Path, small_uri: str, small_run_id: str, count: int, seed: int) -> str:
    """Copy the small run `count` times, each with slightly perturbed scores."""
    uri = f"sqlite:///{folder / 'many.db'}"
    source = MlflowClient(tracking_uri=small_uri).get_run(small_run_id)
    predictions = load_predictions(small_run_id, small_uri)
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("many", artifact_location=str(folder / "many"))
    rng = np.random.default_rng(seed)
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in source.data.metrics.items()]
    params = [Param(k, v) for k, v in source.data.params.items()]
    tags = [RunTag(k, v) for k, v in source.data.tags.items() if not k.startswith("mlflow.")]
    for index in range(count):
        run = client.create_run(experiment_id, run_name=f"copy_{index:03d}")
        noisy = predictions.assign(
            y_score=np.clip(predictions["y_score"] + rng.normal(0, 0.02, len(predictions)), 0, 1)
        )
        _log_predictions_file(client, run.info.run_id, noisy, folder)
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run.info.run_id)
    return uri


def _log_predictions_file(
    client: MlflowClient, run_id: str, frame: pd.DataFrame, folder: Path
) -> None:
    path = folder / Path(PREDICTIONS_ARTIFACT).name
    frame.loc[:, ["customerID", "split", "y_true", "y_score"]].to_parquet(path, index=False)
    client.log_artifact(run_id, str(path), artifact_path=str(Path(PREDICTIONS_ARTIFACT).parent))


def time_reruns(reruns: int) -> list[float]:
    """Open the Threshold & cost page once, then time reruns after each cost slider move."""
    app = AppTest.from_file(str(PAGES / "threshold.py"), default_timeout=300).run()
    if app.exception:
        raise RuntimeError(f"threshold page failed: {app.exception[0].message}")
    timings = []
    for index in range(reruns):
        app.select_slider(key="costs.cost_fn").set_value(COST_STOPS[index % len(COST_STOPS)])
        started = time.perf_counter()
        app.run()
        timings.append(1000 * (time.perf_counter() - started))
    if app.exception:
        raise RuntimeError(f"threshold page failed: {app.exception[0].message}")
    return timings


def time_leaderboard() -> tuple[float, float, int]:
    """Return the first and a second load time of the Leaderboard page, and its row count."""
    started = time.perf_counter()
    app = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=600).run()
    first = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"leaderboard page failed: {app.exception[0].message}")
    rows = len(app.dataframe[0].value)
    app.select_slider(key="costs.cost_fn").set_value(20.0)
    started = time.perf_counter()
    app.run()
    return first, time.perf_counter() - started, rows


def main(argv: list[str] | None = None) -> int:
    """Build the stores, time the pages and print the figures."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="churnlab-bench-") as tmp:
        folder = Path(tmp)
        os.chdir(folder)  # a SQLite store created by `train` keeps its artifacts here

        small_uri, small_run = train_small(folder)
        point_at(small_uri, "small")
        small = time_reruns(args.reruns)
        print(f"threshold page rerun, 1,409 customers: median {statistics.median(small):.1f} ms")

        started = time.perf_counter()
        large_uri, _ = log_large_run(folder, args.n_large, args.seed)
        seconds = time.perf_counter() - started
        print(f"logged {args.n_large:,} generated customers in {seconds:.1f} s")
        point_at(large_uri, "large")
        large = time_reruns(args.reruns)
        print(
            f"threshold page rerun, {args.n_large:,} customers: "
            f"median {statistics.median(large):.1f} ms"
        )

        started = time.perf_counter()
        many_uri = log_many_runs(folder, small_uri, small_run, args.runs, args.seed)
        print(f"logged {args.runs} runs in {time.perf_counter() - started:.1f} s")
        point_at(many_uri, "many")
        first, again, rows = time_leaderboard()
        print(
            f"leaderboard with {rows} runs: first load {first:.2f} s, "
            f"rerun after a cost move {again:.2f} s"
        )
        mlflow.set_tracking_uri(None)
        os.chdir(PROJECT_ROOT)

    print(
        json.dumps(
            {
                "rerun_ms_median_small": round(statistics.median(small), 1),
                "rerun_ms_median_1m": round(statistics.median(large), 1),
                "leaderboard_s_500": round(first, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
