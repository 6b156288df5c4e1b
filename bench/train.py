"""Measure wall time and peak memory of `train` with all seven models on the real data.

Each model is cross-validated (5 folds), refitted, scored and logged to a temporary SQLite
tracking store, as `python -m core train` does. Run from the repository root:

    .venv/bin/python bench/train.py

The last line of output is one JSON object with the keys `models`, `wall_s`, `peak_mb`,
`per_model_s`, `best_test_auc` and `best_test_cost`.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

# Running the file as a script puts bench/ first on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.models import MODEL_NAMES  # noqa: E402
from core.training import TrainConfig, train  # noqa: E402


def peak_memory_mb() -> float:
    """Return the peak resident memory of this process and its children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # Linux reports ru_maxrss in KiB.
    return (own + children) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="Telco CSV (default: the project's data file)")
    parser.add_argument("--folds", type=int, default=5, help="CV folds (default 5)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            data_path=args.data,
            folds=args.folds,
            tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}",
            experiment="bench-train",
        )
        started = time.perf_counter()
        results = train(config, progress=lambda line: print(line, flush=True))
        wall = time.perf_counter() - started

    figures = {
        "models": len(MODEL_NAMES),
        "wall_s": round(wall, 2),
        "peak_mb": round(peak_memory_mb(), 1),
        "per_model_s": {r.name: round(r.seconds, 2) for r in results},
        "best_test_auc": round(max(r.metrics["test_auc"] for r in results), 4),
        "best_test_cost": round(min(r.metrics["test_cost"] for r in results), 4),
    }
    print(f"\n{len(results)} models trained and logged in {wall:.1f} s")
    print(f"peak memory {figures['peak_mb']:.0f} MiB (this process and its children)")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
