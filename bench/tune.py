"""Benchmark Optuna tuning of XGBoost on the real data: pruning and early stopping against neither.

The fast study prunes with `FoldMedianPruner` after each fold and stops boosting on a
validation split cut from each training fold, at most 500 trees. The full study runs
every fold of every trial at a fixed 500 trees. Both use the same seed, folds, cost
objective and trial count.
Only `study.optimize` is timed; nothing is refitted or logged beyond the trial runs.

Run from the repository root (a few minutes on 2 cores):

    .venv/bin/python bench/tune.py --trials 30

The last line of output is one JSON object with the keys `fast_s`, `full_s`, `speedup`,
`best_cost_fast` and `best_cost_full`.

With `--objectives`, it instead measures which objective gives the lower test cost: for
each seed it tunes with the cost objective and with the log-loss objective, refits the
best trial on the whole training part and reports its test cost. Its last line is a JSON
object with the keys `seeds`, `trials`, `test_cost_cost`, `test_cost_log_loss` (one value
per seed each) and their means.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

# Running the file as a script puts bench/ first on sys.path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data import load_dataset  # noqa: E402
from core.tuning import TuneConfig, route_optuna_logging, tune  # noqa: E402

FULL_TREES = 500


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="trials per study (default 30)")
    parser.add_argument("--folds", type=int, default=5, help="CV folds (default 5)")
    parser.add_argument("--data", help="Telco CSV (default: the file in data/)")
    parser.add_argument(
        "--objectives", action="store_true", help="compare the cost and log-loss objectives"
    )
    parser.add_argument(
        "--seeds", default="1,2,3", help="comma-separated seeds for --objectives (default 1,2,3)"
    )
    parser.add_argument(
        "--speed-seeds",
        default="42,1,2",
        help="comma-separated seeds of the speed comparison (default 42,1,2)",
    )
    return parser.parse_args(argv)


def _config(tmp: Path, study: str, **settings) -> TuneConfig:
    return TuneConfig(
        family="xgboost",
        study_name=study,
        storage=f"sqlite:///{tmp / 'optuna.db'}",
        tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
        experiment="bench-tune",
        diagnostics=False,
        **settings,
    )


def compare_speed(args: argparse.Namespace, dataset, tmp: Path) -> dict:
    """Time the fast and the full study for each seed and return the figures of the JSON line.

    The best OOF cost of one study moves by about 0.01 with the seed alone, more than the
    two studies differ, so the costs are compared as means over the seeds. The times and
    the speedup are totals over the seeds.
    """
    # Both studies cap the trees at FULL_TREES, so early stopping can only remove trees.
    common = {
        "n_trials": args.trials,
        "folds": args.folds,
        "refit": False,
        "fixed_params": {"n_estimators": FULL_TREES},
    }
    seeds = _seeds(args.speed_seeds)
    fast_s, full_s, fast_costs, full_costs = [], [], [], []
    for seed in seeds:
        fast = tune(_config(tmp, f"fast-seed{seed}", seed=seed, **common), dataset=dataset)
        full = tune(
            _config(
                tmp, f"full-seed{seed}", seed=seed, pruning=False, early_stopping=False, **common
            ),
            dataset=dataset,
        )
        print(
            f"seed {seed}: fast {fast.optimize_s:.1f} s ({fast.n_complete} complete, "
            f"{fast.n_pruned} pruned), best OOF cost {fast.best_value:.4f}; "
            f"full {full.optimize_s:.1f} s, best OOF cost {full.best_value:.4f}; "
            f"speedup {full.optimize_s / fast.optimize_s:.2f}x"
        )
        fast_s.append(fast.optimize_s)
        full_s.append(full.optimize_s)
        fast_costs.append(fast.best_value)
        full_costs.append(full.best_value)
    speedup = sum(full_s) / sum(fast_s)
    print(
        f"all {len(seeds)} seeds: fast {sum(fast_s):.1f} s, full {sum(full_s):.1f} s, "
        f"speedup {speedup:.2f}x; mean best OOF cost fast {np.mean(fast_costs):.4f}, "
        f"full {np.mean(full_costs):.4f}"
    )
    return {
        "fast_s": round(sum(fast_s), 2),
        "full_s": round(sum(full_s), 2),
        "speedup": round(speedup, 2),
        "best_cost_fast": round(float(np.mean(fast_costs)), 4),
        "best_cost_full": round(float(np.mean(full_costs)), 4),
        "seeds": seeds,
        "best_cost_fast_per_seed": [round(cost, 4) for cost in fast_costs],
        "best_cost_full_per_seed": [round(cost, 4) for cost in full_costs],
    }


def _seeds(text: str) -> list[int]:
    return [int(seed) for seed in text.split(",")]


def compare_objectives(args: argparse.Namespace, dataset, tmp: Path) -> dict:
    """Tune with each objective for each seed and return the test costs of the refits."""
    seeds = _seeds(args.seeds)
    test_costs: dict[str, list[float]] = {"cost": [], "log_loss": []}
    for seed in seeds:
        for objective in test_costs:
            result = tune(
                _config(
                    tmp,
                    f"{objective}-seed{seed}",
                    objective=objective,
                    seed=seed,
                    n_trials=args.trials,
                    folds=args.folds,
                ),
                dataset=dataset,
            )
            cost = result.tuned_metrics["test_cost"]
            test_costs[objective].append(round(cost, 4))
            print(
                f"seed {seed}, objective {objective}: best trial {result.best_trial}, "
                f"OOF cost {result.tuned_metrics['oof_cost']:.4f}, test cost {cost:.4f}, "
                f"test AUC {result.tuned_metrics['test_auc']:.4f}"
            )
    return {
        "seeds": seeds,
        "trials": args.trials,
        "test_cost_cost": test_costs["cost"],
        "test_cost_log_loss": test_costs["log_loss"],
        "mean_test_cost_cost": round(float(np.mean(test_costs["cost"])), 4),
        "mean_test_cost_log_loss": round(float(np.mean(test_costs["log_loss"])), 4),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the chosen comparison and print its figures, then one JSON line."""
    args = parse_args(argv)
    route_optuna_logging()
    dataset = load_dataset(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        if args.objectives:
            figures = compare_objectives(args, dataset, Path(tmp))
        else:
            figures = compare_speed(args, dataset, Path(tmp))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
