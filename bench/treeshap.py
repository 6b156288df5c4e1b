"""Time XGBoost's `pred_contribs` against the TreeSHAP tables of `core.treeshap` on one batch.

Fits the fast (80 trees) and the default (300 trees) XGBoost pipeline on the default data,
encodes 50,000 generated customers with each pipeline's preprocessing, and explains them
both ways on one thread and on every core. It also checks that the two give the same
values. Run from the repository root:

    .venv/bin/python bench/treeshap.py

The last line is a JSON object with, per model, `<model>_pred_contribs_s`,
`<model>_tables_s` (both one thread), `<model>_tables_all_cores_s`, `<model>_speedup` and
`<model>_max_abs_diff` and `<model>_build_and_first_call_s` (building the tables and the
first call, which compiles the kernel in the first model only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import xgboost

# Running the file as a script puts bench/ first on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import load_dataset, split_features_target  # noqa: E402
from core.models import build_pipeline, fitted_estimator, fitted_preprocessor  # noqa: E402
from core.schema import TARGET_COLUMN  # noqa: E402
from core.synthetic import generate_telco  # noqa: E402
from core.treeshap import TreeShapTables  # noqa: E402


def _timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure(label: str, pipeline, customers) -> dict[str, float]:
    """Explain `customers` with `pipeline`'s booster both ways and return the figures."""
    encoded = fitted_preprocessor(pipeline).transform(customers)
    booster = fitted_estimator(pipeline).get_booster().copy()
    booster.set_param({"nthread": 1})
    matrix = xgboost.DMatrix(encoded, nthread=1)
    contribs_s, expected = _timed(lambda: booster.predict(matrix, pred_contribs=True))
    build_s, tables = _timed(lambda: TreeShapTables(booster))
    # The first call compiles the numba kernel, once per process.
    compile_s, _ = _timed(lambda: tables.contributions(encoded[:10], n_threads=1))
    one_s, values = _timed(lambda: tables.contributions(encoded, n_threads=1))
    all_s, _ = _timed(lambda: tables.contributions(encoded))
    diff = float(np.max(np.abs(values - expected)))
    print(
        f"{label}: pred_contribs {contribs_s:.2f} s, tables {one_s:.2f} s on one thread "
        f"({contribs_s / one_s:.1f}x), {all_s:.2f} s on every core, largest difference "
        f"{diff:.1e}, for {len(customers)} rows; tables built in {build_s:.2f} s, first "
        f"call {compile_s:.2f} s"
    )
    return {
        f"{label}_pred_contribs_s": round(contribs_s, 3),
        f"{label}_tables_s": round(one_s, 3),
        f"{label}_tables_all_cores_s": round(all_s, 3),
        f"{label}_speedup": round(contribs_s / one_s, 1),
        f"{label}_max_abs_diff": diff,
        f"{label}_build_and_first_call_s": round(build_s + compile_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()

    X, y = split_features_target(load_dataset().frame)
    customers = generate_telco(n_rows=args.rows, seed=4).drop(columns=TARGET_COLUMN)
    figures: dict[str, float] = {}
    for label, fast in (("fast", True), ("default", False)):
        pipeline = build_pipeline("xgboost", fast=fast).fit(X, y)
        figures |= measure(label, pipeline, customers)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
