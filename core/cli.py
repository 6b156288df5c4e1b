"""Command line: `python -m core train ...` and the other sub-commands."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from core.config import DEFAULT_COST_FN, DEFAULT_COST_FP, DEFAULT_SEED
from core.models import IMBALANCE_STRATEGIES, MODEL_NAMES

logger = logging.getLogger("core.cli")


def _model_list(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in MODEL_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {', '.join(unknown)}; choose from {','.join(MODEL_NAMES)}"
        )
    if not names:
        raise argparse.ArgumentTypeError("give at least one model name")
    return names


def _add_tracking_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else mlflow.db in the project)",
    )
    parser.add_argument(
        "--experiment", help="MLflow experiment name (default: $CHURNLAB_EXPERIMENT or churnlab)"
    )


def add_train_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train and log one MLflow run per model")
    parser.add_argument(
        "--data",
        help="Telco CSV (default: data/WA_Fn-UseC_-Telco-Customer-Churn.csv, else generated data)",
    )
    parser.add_argument(
        "--models",
        type=_model_list,
        default=MODEL_NAMES,
        help=f"comma-separated models (default: all of {','.join(MODEL_NAMES)})",
    )
    parser.add_argument("--imbalance", choices=IMBALANCE_STRATEGIES, default="class_weight")
    parser.add_argument(
        "--cost-fn",
        type=float,
        default=DEFAULT_COST_FN,
        help="cost of a missed churner (false negative), in money (default 10)",
    )
    parser.add_argument(
        "--cost-fp",
        type=float,
        default=DEFAULT_COST_FP,
        help="cost of an unneeded retention offer (false positive), in money (default 1)",
    )
    parser.add_argument("--folds", type=int, default=5, help="stratified CV folds (default 5)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")
    parser.add_argument(
        "--fast", action="store_true", help="smaller models, for smoke tests and demos"
    )
    _add_tracking_options(parser)
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    from core.training import TrainConfig, leaderboard_table, train

    config = TrainConfig(
        data_path=args.data,
        models=args.models,
        imbalance=args.imbalance,
        cost_fn=args.cost_fn,
        cost_fp=args.cost_fp,
        folds=args.folds,
        seed=args.seed,
        fast=args.fast,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
    )
    results = train(config, progress=lambda line: print(line, flush=True))
    table = leaderboard_table(results)
    print("\nLeaderboard (sorted by test cost per customer):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def add_bootstrap_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bootstrap", help="train the default models if the tracking store has no model runs"
    )
    parser.add_argument("--data", help="Telco CSV (default as for train)")
    _add_tracking_options(parser)
    parser.set_defaults(handler=run_bootstrap)


def run_bootstrap(args: argparse.Namespace) -> int:
    from core.tracking import search_model_runs
    from core.training import TrainConfig, train

    runs = search_model_runs(args.tracking_uri, args.experiment)
    if not runs.empty:
        print(f"The tracking store has {len(runs)} model runs; nothing to train.")
        return 0
    print("The tracking store has no model runs: training the default models first.")
    config = TrainConfig(
        data_path=args.data, tracking_uri=args.tracking_uri, experiment=args.experiment
    )
    train(config, progress=lambda line: print(line, flush=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core", description="ChurnLab: churn models tracked in MLflow."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_train_parser(subparsers)
    add_bootstrap_parser(subparsers)
    return parser


def _raise_on_sigterm(signum, frame) -> None:
    # Turn `kill` into an exception, so open MLflow runs are ended as KILLED.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the sub-command, and turn expected errors into messages."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    from core.validation import DataValidationError

    try:
        return args.handler(args)
    except (DataValidationError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
