"""Benchmark the business-value layer: EMP, the bootstrap band and the campaign profit curve.

EMP and the bootstrap run at 1,409 customers (the size of the Telco test set); the campaign
profit curve runs at 1,000,000 generated customers. Scores are calibrated draws from
Beta(2, 5), whose mean 2/7 is close to the Telco churn rate.

Run from the repository root:

    .venv/bin/python bench/value.py

The last line of output is one JSON object with the keys `emp_ms`, `bootstrap_s` and
`profit_1m_s`, each the fastest of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Running the file as a script puts bench/ first on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.emp import emp_score  # noqa: E402
from core.uncertainty import cost_band  # noqa: E402
from core.value import CampaignSettings, best_campaign, campaign_curve  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-test", type=int, default=1409, help="customers for EMP and bootstrap")
    parser.add_argument(
        "--n-large", type=int, default=1_000_000, help="customers for the profit curve"
    )
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; fastest kept")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    return parser.parse_args(argv)


def generate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw calibrated scores, labels and 12-month values from MonthlyCharges-like draws."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(2.0, 5.0, size=n)
    labels = (rng.random(n) < scores).astype(np.int64)
    values = rng.uniform(18.0, 119.0, size=n) * 12
    return labels, scores, values


def fastest(function: Callable[[], object], repeats: int) -> float:
    """Return the shortest wall time of `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    """Time the three operations, print them for people and then the JSON record."""
    args = parse_args(argv)
    labels, scores, _ = generate(args.n_test, args.seed)
    large_labels, large_scores, large_values = generate(args.n_large, args.seed + 1)
    settings = CampaignSettings()

    emp_s = fastest(lambda: emp_score(labels, scores), args.repeats)
    bootstrap_s = fastest(
        lambda: cost_band(labels, scores, 10, 1, threshold=0.2, n_resamples=args.resamples),
        args.repeats,
    )
    profit_s = fastest(
        lambda: best_campaign(campaign_curve(large_labels, large_scores, large_values, settings)),
        args.repeats,
    )

    emp = emp_score(labels, scores)
    print(
        f"EMP at {args.n_test:,} customers: {emp_s * 1000:.1f} ms "
        f"(EMP {emp.emp:.3f} per customer, share contacted {emp.share_contacted:.3f})"
    )
    print(f"bootstrap band, {args.resamples} resamples at {args.n_test:,}: {bootstrap_s:.3f} s")
    print(f"campaign profit curve at {args.n_large:,} customers: {profit_s:.3f} s")
    record = {
        "emp_ms": round(emp_s * 1000, 2),
        "bootstrap_s": round(bootstrap_s, 4),
        "profit_1m_s": round(profit_s, 4),
    }
    print(json.dumps(record))


if __name__ == "__main__":
    main()
