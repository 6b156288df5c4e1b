"""Time SHAP explanations of an XGBoost model on the real data: one customer, and all test ones.

Uses the XGBoost run with the lowest test cost in the tracking store; without one, fits
XGBoost with its default settings on the same seeded 80/20 split. Run from the repository
root with `.venv/bin/python bench/explain.py`. The last line is a JSON object with
`local_ms_median` (one customer, warm explainer) and `global_s` (every test customer).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

# Running the file as a script puts bench/ first on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import load_dataset  # noqa: E402
from core.evaluation import positive_weight  # noqa: E402
from core.explain import ChurnExplainer  # noqa: E402
from core.explain_global import load_explain_context  # noqa: E402
from core.models import build_pipeline  # noqa: E402
from core.tracking import search_model_runs  # noqa: E402
from core.training import SplitData  # noqa: E402


def best_xgboost_run() -> str | None:
    runs = search_model_runs()
    if runs.empty or "tags.model_family" not in runs.columns:
        return None
    xgboost = runs[runs["tags.model_family"] == "xgboost"]
    if xgboost.empty:
        return None
    return str(xgboost.sort_values("metrics.test_cost").iloc[0]["run_id"])


def model_and_split(run_id: str | None):
    if run_id:
        context = load_explain_context(run_id)
        return context.pipeline, context.split, f"run {run_id}"
    split = SplitData.from_dataset(load_dataset(), test_size=0.2, seed=42)
    pipeline = build_pipeline("xgboost", pos_weight=positive_weight(split.y_train))
    pipeline.fit(split.X_train, split.y_train)
    return pipeline, split, "XGBoost fitted here with default settings"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", help="XGBoost run to explain (default: best in the store)")
    parser.add_argument("--customers", type=int, default=200, help="single-customer timings")
    parser.add_argument("--repeats", type=int, default=3, help="global timings, fastest kept")
    args = parser.parse_args()

    pipeline, split, source = model_and_split(args.run_id or best_xgboost_run())
    started = time.perf_counter()
    explainer = ChurnExplainer(pipeline)
    build_s = time.perf_counter() - started
    X_test = split.X_test
    explainer.explain(X_test.iloc[[0]])

    local = []
    for position in range(min(args.customers, len(X_test))):
        record = X_test.iloc[[position]]
        started = time.perf_counter()
        explainer.explain(record)
        local.append(1000 * (time.perf_counter() - started))

    global_times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        explainer.explain(X_test)
        global_times.append(time.perf_counter() - started)

    local_ms_median = statistics.median(local)
    global_s = min(global_times)
    print(f"model: {source}")
    print(f"explainer build: {build_s * 1000:.1f} ms")
    print(
        f"one customer, warm: median {local_ms_median:.1f} ms, "
        f"p90 {sorted(local)[int(0.9 * len(local))]:.1f} ms over {len(local)} customers"
    )
    print(f"all {len(X_test):,} test customers: {global_s:.2f} s (fastest of {args.repeats})")
    print(
        json.dumps({"local_ms_median": round(local_ms_median, 2), "global_s": round(global_s, 3)})
    )


if __name__ == "__main__":
    main()
