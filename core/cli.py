"""Command line: `python -m core train ...` and the other sub-commands."""

from __future__ import annotations

import argparse
import logging
import os
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


def _add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    # Shared by train and tune, so both evaluate a model under the same settings.
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
    _add_evaluation_options(parser)
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


def add_promote_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "promote", help="register a run or version and point an alias (champion) at it"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--run", help="run id to register and promote")
    target.add_argument("--version", help="registered version number to promote")
    parser.add_argument(
        "--alias",
        choices=("champion", "challenger"),
        default="champion",
        help="alias to move (default champion; only champion passes the business gate)",
    )
    parser.add_argument(
        "--cost-fn",
        type=float,
        help="cost of a missed churner for the gate and threshold (default: the latest "
        "adopted decision's, else the run's own)",
    )
    parser.add_argument(
        "--cost-fp",
        type=float,
        help="cost of an unneeded offer for the gate and threshold (default: as --cost-fn)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="promote despite a failed gate or schema check; recorded in the version's tags",
    )
    parser.add_argument("--by", help="name recorded as the promoter (default: the OS user)")
    parser.add_argument(
        "--model-name",
        help="registered model name (default: $CHURNLAB_MODEL_NAME or churnlab-churn)",
    )
    parser.add_argument("--tracking-uri", help="MLflow tracking and registry URI")
    parser.set_defaults(handler=run_promote)


def run_promote(args: argparse.Namespace) -> int:
    from core.registry import promote

    result = promote(
        run_id=args.run,
        version=args.version,
        alias=args.alias,
        cost_fn=args.cost_fn,
        cost_fp=args.cost_fp,
        force=args.force,
        promoted_by=args.by,
        tracking_uri=args.tracking_uri,
        model_name=args.model_name,
    )
    if result.gate is not None:
        print(f"Business gate: {result.gate.describe()}.")
    if result.logged_again:
        print("The pipeline was logged again with the threshold for these costs.")
    forced = " (forced)" if result.forced else ""
    print(
        f"{result.alias} -> version {result.version}{forced}; "
        f"previously version {result.previous_version or 'none'}."
    )
    return 0


def add_rollback_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "rollback", help="move the champion alias back to the previous champion"
    )
    parser.add_argument("--by", help="name recorded for the rollback (default: the OS user)")
    parser.add_argument("--model-name", help="registered model name")
    parser.add_argument("--tracking-uri", help="MLflow tracking and registry URI")
    parser.set_defaults(handler=run_rollback)


def run_rollback(args: argparse.Namespace) -> int:
    from core.registry import rollback

    result = rollback(
        promoted_by=args.by, tracking_uri=args.tracking_uri, model_name=args.model_name
    )
    print(f"champion -> version {result.version}; was version {result.previous_version}.")
    return 0


def add_score_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "score", help="batch-score a customer CSV: probability, decision and top reasons"
    )
    parser.add_argument("--input", required=True, help="CSV of customers (Telco columns)")
    parser.add_argument("--output", required=True, help="CSV to write, replaced if it exists")
    parser.add_argument(
        "--model-uri", help="model to use (default: models:/<model name>@champion)"
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=50_000,
        help="rows held in memory at a time (default 50000)",
    )
    parser.add_argument(
        "--no-reasons",
        action="store_true",
        help="leave the reason columns empty, which saves the time of computing them",
    )
    parser.add_argument("--tracking-uri", help="MLflow tracking and registry URI")
    parser.set_defaults(handler=run_score)


def run_score(args: argparse.Namespace) -> int:
    from core.scoring import score_csv

    result = score_csv(
        args.input,
        args.output,
        model_uri=args.model_uri,
        tracking_uri=args.tracking_uri,
        chunk_size=args.chunk_size,
        reasons=not args.no_reasons,
    )
    print(
        f"Scored {result.n_rows} customers with {result.model_uri} in {result.seconds:.1f} s: "
        f"{result.n_contacted} to contact at threshold {result.threshold:.4f}. "
        f"Wrote {args.output}."
    )
    return 0


def add_tune_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tune", help="tune one model family with Optuna, then refit and log the best model"
    )
    parser.add_argument(
        "--model",
        default="xgboost",
        help="model family: xgboost, lightgbm, random_forest, logistic_regression or mlp "
        "(default xgboost)",
    )
    parser.add_argument("--trials", type=int, default=30, help="trials to run (default 30)")
    parser.add_argument(
        "--timeout", type=float, help="stop starting new trials after this many seconds"
    )
    parser.add_argument(
        "--storage",
        help="Optuna storage URL (default: $OPTUNA_STORAGE, else optuna.db in the project)",
    )
    parser.add_argument(
        "--study-name", help="study to create or resume (default: <model>-<objective>)"
    )
    parser.add_argument(
        "--objective",
        default=None,
        help="cost (out-of-fold cost at its best threshold) or log_loss (out-of-fold log "
        "loss); the default is in docs/tuning.md",
    )
    parser.add_argument("--data", help="Telco CSV (default as for train)")
    _add_evaluation_options(parser)
    parser.add_argument("--fast", action="store_true", help="fewer trees, for tests and demos")
    parser.add_argument("--no-pruning", action="store_true", help="run every fold of every trial")
    parser.add_argument(
        "--no-early-stopping", action="store_true", help="boosted models use all their trees"
    )
    parser.add_argument(
        "--no-diagnostics", action="store_true", help="skip learning curves and the baseline"
    )
    _add_tracking_options(parser)
    parser.set_defaults(handler=run_tune)


def run_tune(args: argparse.Namespace) -> int:
    from core.tuning import DEFAULT_OBJECTIVE, TuneConfig, route_optuna_logging, tune

    route_optuna_logging()
    config = TuneConfig(
        family=args.model,
        n_trials=args.trials,
        timeout_s=args.timeout,
        objective=args.objective or DEFAULT_OBJECTIVE,
        study_name=args.study_name,
        storage=args.storage,
        data_path=args.data,
        imbalance=args.imbalance,
        cost_fn=args.cost_fn,
        cost_fp=args.cost_fp,
        folds=args.folds,
        seed=args.seed,
        fast=args.fast,
        pruning=not args.no_pruning,
        early_stopping=not args.no_early_stopping,
        diagnostics=not args.no_diagnostics,
        tracking_uri=args.tracking_uri,
        experiment=args.experiment,
    )
    result = tune(config, progress=lambda line: print(line, flush=True))
    print(
        f"Study {result.study_name}: {result.n_trials_run} trials run here, "
        f"{result.n_complete} complete, {result.n_pruned} pruned, {result.n_failed} failed in "
        f"total; best value {result.best_value}; tuned run {result.tuned_run_id}."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core", description="ChurnLab: churn models tracked in MLflow."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_train_parser(subparsers)
    add_bootstrap_parser(subparsers)
    add_promote_parser(subparsers)
    add_rollback_parser(subparsers)
    add_score_parser(subparsers)
    add_tune_parser(subparsers)
    return parser


class _DropMessages(logging.Filter):
    def __init__(self, *fragments: str) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


def quiet_mlflow_console() -> None:
    """Hide MLflow's per-artifact progress bars and two notices that repeat for every model.

    The models are logged as Python objects on purpose: `core` travels with them as code,
    and loading them unpickles, so only load models from a tracking store you trust.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow.pyfunc").addFilter(
        _DropMessages("Passing a Python object as `python_model`", "Validating input example")
    )


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
    quiet_mlflow_console()
    from core.validation import DataValidationError

    try:
        return args.handler(args)
    except (DataValidationError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        # A full disk or an unwritable file: print which one, without a traceback.
        print(f"error: {error}", file=sys.stderr)
        return 1
