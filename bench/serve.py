"""Benchmark `mlflow models serve` on the champion and batch scoring with `python -m core score`.

Steps: train XGBoost (fast settings) on the default data into a temporary SQLite store and
promote it to champion; serve it on a free loopback port; send single-record requests at a
fixed concurrency and one large request; then score generated customers with the `score`
command in a subprocess and read its peak resident memory.

Run from the repository root:

    .venv/bin/python bench/serve.py

The last line of output is one JSON object with the keys `p50_ms`, `p99_ms`, `errors`,
`batch_10k_s`, `score_1m_s` and `score_peak_mb`. `score` runs as a user runs it, with the
top three reasons per customer; `--no-score-reasons` measures it with `--no-reasons`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import registry  # noqa: E402
from core.schema import TARGET_COLUMN  # noqa: E402
from core.synthetic import generate_telco  # noqa: E402
from core.training import TrainConfig, train  # noqa: E402

MODEL_NAME = "churnlab-bench"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(uri: str, port: int, log_path: Path, workers: int) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    env = os.environ | {
        "MLFLOW_TRACKING_URI": uri,
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
    }
    command = [
        shutil.which("mlflow", path=str(bin_dir)), "models", "serve",
        "-m", f"models:/{MODEL_NAME}@champion", "--env-manager", "local",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early; see {log_path}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"server did not respond within 180 s; see {log_path}")


def _single_requests(url: str, records: list[dict], n: int, concurrency: int) -> tuple:
    def send(index: int) -> tuple[float, bool]:
        body = json.dumps({"dataframe_records": [records[index % len(records)]]})
        started = time.perf_counter()
        try:
            response = requests.post(
                url, data=body, headers={"Content-Type": "application/json"}, timeout=60
            )
            ok = response.status_code == 200
        except requests.RequestException:
            ok = False
        return (time.perf_counter() - started) * 1000, ok

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(send, range(n)))
    latencies = np.array([ms for ms, _ in results])
    errors = sum(1 for _, ok in results if not ok)
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99)), errors


def _score_subprocess(uri: str, input_path: Path, output_path: Path, reasons: bool) -> tuple:
    command = [
        sys.executable, "-m", "core", "score", "--input", str(input_path),
        "--output", str(output_path), "--model-uri", f"models:/{MODEL_NAME}@champion",
        "--tracking-uri", uri,
    ]  # fmt: skip
    if not reasons:
        command.append("--no-reasons")
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    # ru_maxrss is in kB on Linux and covers the largest child waited for so far.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--score-rows", type=int, default=1_000_000)
    parser.add_argument("--no-score-reasons", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="server worker processes (default 1, as README)"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="churnlab-bench-"))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ[registry.MODEL_NAME_ENV] = MODEL_NAME
    [result] = train(TrainConfig(models=("xgboost",), fast=True, folds=3, tracking_uri=uri))
    registry.promote(run_id=result.run_id, tracking_uri=uri, model_name=MODEL_NAME)
    customers = generate_telco(n_rows=max(args.batch, 1000), seed=3).drop(columns=TARGET_COLUMN)
    records = json.loads(customers.head(1000).to_json(orient="records"))

    port = _free_port()
    server = _start_server(uri, port, folder / "server.log", args.workers)
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        p50, p99, errors = _single_requests(url, records, args.requests, args.concurrency)
        print(
            f"{args.requests} single-record requests at concurrency {args.concurrency}, "
            f"{args.workers} server worker(s): "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, {errors} errors"
        )
        batch = customers.head(args.batch).to_json(orient="split", index=False)
        started = time.perf_counter()
        response = requests.post(
            url,
            data=f'{{"dataframe_split": {batch}}}',
            headers={"Content-Type": "application/json"},
            timeout=600,
        )
        batch_s = time.perf_counter() - started
        print(f"one {args.batch}-record request: {batch_s:.2f} s, HTTP {response.status_code}")
    finally:
        server.terminate()
        server.wait(timeout=30)

    # The large run goes first, because ru_maxrss of children is the maximum of all of them.
    big_path = folder / "customers.csv"
    generate_telco(n_rows=args.score_rows, seed=4).drop(columns=TARGET_COLUMN).to_csv(
        big_path, index=False
    )
    reasons = not args.no_score_reasons
    score_s, peak_mb = _score_subprocess(uri, big_path, folder / "scored.csv", reasons)
    label = "with" if reasons else "without"
    print(
        f"score {label} reasons, {args.score_rows} customers: {score_s:.1f} s "
        f"({args.score_rows / score_s:.0f} rows/s), peak memory {peak_mb:.0f} MB"
    )
    shutil.rmtree(folder, ignore_errors=True)
    print(
        json.dumps(
            {
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "errors": errors,
                "batch_10k_s": round(batch_s, 3),
                "score_1m_s": round(score_s, 2),
                "score_peak_mb": round(peak_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
