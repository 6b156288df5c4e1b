"""The `tune` command: an Optuna study over one model family, tracked in MLflow.

Each trial is scored by stratified cross-validation on the training part only: either the
out-of-fold (OOF) business cost at its cost-optimal threshold, or the OOF log loss. Both
are recorded for every trial. The study lives in an Optuna RDB storage, so it can be
resumed and shared by several worker processes. At the end the best parameters are
refitted on the whole training part and logged as a normal model run tagged `tuned`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import mlflow
import numpy as np
import optuna
import pandas as pd
import sqlalchemy
import xgboost
from alembic.util.exc import CommandError
from lightgbm import LGBMClassifier, early_stopping
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from core import costs, diagnostics
from core.config import (
    DEFAULT_COST_FN,
    DEFAULT_COST_FP,
    DEFAULT_SEED,
    PROJECT_ROOT,
    resolve_tracking_uri,
)
from core.data import Dataset, load_dataset
from core.evaluation import positive_weight
from core.features import build_preprocessor
from core.models import build_pipeline, check_imbalance, fitted_estimator
from core.search_spaces import (
    BOOSTED_FAMILIES,
    check_family,
    params_from_trial,
    suggest_params,
)
from core.tracking import configure_tracking, sqlite_database, tracked_run
from core.training import SplitData, fit_and_evaluate, log_model_run

logger = logging.getLogger(__name__)
T = TypeVar("T")

OBJECTIVES: tuple[str, ...] = ("cost", "log_loss")
# Cost, because tuning on it gave a mean test cost of 0.532 against 0.539 for log loss
# (3 seeds, 15 XGBoost trials each), a gap within noise. docs/tuning.md has the run.
DEFAULT_OBJECTIVE = "cost"
STORAGE_ENV = "OPTUNA_STORAGE"
# Seconds a SQLite connection waits for another process's write lock before failing.
SQLITE_LOCK_TIMEOUT_S = 60
# Errors of two processes creating the same new store at once: a lock held too long, or
# the loser's second insert of the schema version (a UNIQUE failure on alembic_version).
STORE_RACE_ERRORS = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError)
# Share of each training fold held out to decide when boosting stops.
EARLY_STOPPING_FRACTION = 0.15
EARLY_STOPPING_ROUNDS = 30
# Trials that complete before FoldMedianPruner may prune, and folds before it looks.
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_FOLDS = 1
TRIAL_STATE_TAG = "optuna.trial_state"
# Threads per estimator inside trials. Parallelism comes from worker processes instead: on a
# 2-core machine under a load average of about 6, one XGBoost fit with early stopping took
# 0.5-0.9 s with 1 thread and 9.2-9.6 s with 2, because OpenMP threads wait for busy cores.
TRIAL_N_JOBS = 1
# Errors of one parameter set that fail its trial without stopping the study.
TRIAL_ERRORS = (ValueError, ArithmeticError)


def route_optuna_logging() -> None:
    """Send Optuna's log records to the root logger instead of Optuna's own handler.

    Call it from entry points only, so each line is printed once in the app's format.
    """
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def default_storage_url() -> str:
    """Return the SQLite file `optuna.db` in the project folder, used when nothing is set."""
    return f"sqlite:///{PROJECT_ROOT / 'optuna.db'}"


def resolve_storage_url(url: str | None = None) -> str:
    """Return the Optuna storage URL: the argument, else `OPTUNA_STORAGE`, else SQLite."""
    return url or os.environ.get(STORAGE_ENV) or default_storage_url()


def masked_url(url: str) -> str:
    """Return `url` with any password replaced by `***`, for logs and tags."""
    try:
        return sqlalchemy.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def open_storage(url: str | None = None) -> optuna.storages.RDBStorage:
    """Connect to an Optuna RDB storage, creating its tables when they are missing.

    SQLite connections wait up to SQLITE_LOCK_TIMEOUT_S for the write lock, so several
    worker processes can share one file.

    Raises:
        ValueError: If the URL is malformed, its driver is not installed, or the database
            cannot be reached.
    """
    resolved = resolve_storage_url(url)
    engine_kwargs = None
    if resolved.startswith("sqlite"):
        _check_sqlite_folder(resolved)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}}
    try:
        return _with_retries(
            lambda: optuna.storages.RDBStorage(resolved, engine_kwargs=engine_kwargs),
            f"opening Optuna storage {masked_url(resolved)}",
            STORE_RACE_ERRORS,
        )
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")
        if isinstance(error, ImportError) or "DB access module" in reason:
            fix = (
                "Install the database's Python driver in the virtual env (PostgreSQL's, "
                "psycopg, comes with requirements.txt), or pass another URL"
            )
        else:
            fix = "Pass a reachable database URL"
        raise ValueError(
            f"Cannot open the Optuna storage {masked_url(resolved)}: {reason}. {fix} with "
            f"--storage or {STORAGE_ENV}, such as sqlite:///optuna.db."
        ) from error


def _check_sqlite_folder(url: str) -> None:
    """Raise ValueError at once when a SQLite file's folder is missing, instead of retrying."""
    database = sqlite_database(url)
    if database is None:
        return
    folder = Path(database).parent
    if not folder.is_dir():
        raise ValueError(
            f"Cannot open the Optuna storage {masked_url(url)}: the folder {folder} does not "
            "exist. Create it, or pass another database URL with --storage or "
            f"{STORAGE_ENV}, such as sqlite:///optuna.db."
        )


@contextlib.contextmanager
def _sqlite_creation_lock(url: str) -> Iterator[None]:
    """Hold an exclusive lock on `<file>.lock` beside a SQLite store while it is opened.

    MLflow 3.17 migrates a new store's schema when it first opens it, and two processes
    migrating one new file at once failed with AttributeError from a migration step, so
    they take turns. Other URLs, and files whose folder is missing, are not locked.
    NOTE: fcntl locks exist on POSIX systems only.
    """
    database = sqlite_database(url)
    if database is None or not Path(database).parent.is_dir():
        yield
        return
    with open(f"{database}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _with_retries(
    action: Callable[[], T], description: str, errors: tuple, attempts: int = 4
) -> T:
    """Call `action`, retrying on `errors` with a growing pause, and re-raise the last one.

    Worker processes started together race to create the tables of a new SQLite store,
    and the loser sees a lock or a half-applied migration for a moment.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except errors as error:
            if attempt == attempts:
                raise
            logger.warning(
                "%s failed (attempt %d of %d), retrying: %s", description, attempt, attempts, error
            )
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def default_study_name(family: str, objective: str) -> str:
    """Return the study name used when none is given, such as `xgboost-cost`."""
    return f"{family}-{objective}"


@dataclass
class TuneConfig:
    """Settings of one `tune` call."""

    family: str = "xgboost"
    n_trials: int = 30
    timeout_s: float | None = None
    objective: str = DEFAULT_OBJECTIVE
    study_name: str | None = None
    storage: str | None = None
    data_path: str | None = None
    imbalance: str = "class_weight"
    cost_fn: float = DEFAULT_COST_FN
    cost_fp: float = DEFAULT_COST_FP
    folds: int = 5
    seed: int = DEFAULT_SEED
    test_size: float = 0.2
    fast: bool = False
    pruning: bool = True
    early_stopping: bool = True
    refit: bool = True
    diagnostics: bool = True
    # Hyperparameters held at a value instead of searched, such as {"n_estimators": 500}.
    fixed_params: dict[str, Any] = field(default_factory=dict)
    tracking_uri: str | None = None
    experiment: str | None = None

    @property
    def resolved_study_name(self) -> str:
        """The study name, or `<family>-<objective>` when none is set."""
        return self.study_name or default_study_name(self.family, self.objective)

    def validate(self) -> None:
        """Raise ValueError naming the first invalid setting and its fix."""
        check_family(self.family)
        if isinstance(self.n_trials, bool) or int(self.n_trials) != self.n_trials:
            raise ValueError(f"--trials must be a whole number, got {self.n_trials!r}.")
        if self.n_trials <= 0:
            raise ValueError(f"--trials must be at least 1, got {self.n_trials}.")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(
                f"--timeout must be a positive number of seconds, got {self.timeout_s}."
            )
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"Unknown objective {self.objective!r}; choose from {', '.join(OBJECTIVES)}."
            )
        if self.study_name is not None and not self.study_name.strip():
            raise ValueError("--study-name is empty; give a name or leave the option out.")
        check_imbalance(self.imbalance)
        costs.check_costs(self.cost_fn, self.cost_fp)
        if not 2 <= self.folds <= 20:
            raise ValueError(f"--folds must be between 2 and 20, got {self.folds}.")

    def study_attrs(self, data_hash: str | None) -> dict[str, Any]:
        """Return the settings a study is created with; resuming it requires the same ones.

        A `data_hash` of None leaves the data out, for checks made before the data is read.
        """
        attrs = {
            "family": self.family,
            "objective": self.objective,
            "imbalance": self.imbalance,
            "cost_fn": float(self.cost_fn),
            "cost_fp": float(self.cost_fp),
            "folds": int(self.folds),
            "seed": int(self.seed),
            "test_size": float(self.test_size),
            "fast": bool(self.fast),
        }
        if data_hash is not None:
            attrs["data_hash"] = data_hash
        return attrs


def check_study_settings(name: str, existing: dict[str, Any], expected: dict[str, Any]) -> None:
    """Raise ValueError when a study's stored settings differ from `expected`.

    Settings missing from `existing` are not compared: a worker may read a new study while
    another worker is still writing its settings.

    Raises:
        ValueError: Naming each setting that differs, its stored and its new value.
    """
    different = {
        k: (existing[k], v) for k, v in expected.items() if k in existing and existing[k] != v
    }
    if different:
        details = ", ".join(
            f"{k}: study {old!r}, now {new!r}" for k, (old, new) in different.items()
        )
        raise ValueError(
            f"Study {name!r} was created with other settings ({details}); resume it with "
            "the same settings or choose a new --study-name."
        )


@dataclass
class TuneResult:
    """Outcome of one `tune` call: the study's counts, its best trial and the tuned run."""

    study_name: str
    storage: str
    n_trials_run: int
    n_complete: int
    n_pruned: int
    n_failed: int
    optimize_s: float
    best_value: float | None = None
    best_trial: int | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    tuned_run_id: str | None = None
    tuned_metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] = field(default_factory=dict)


def objective_scores(
    y_true: np.ndarray, y_score: np.ndarray, cost_fn: float, cost_fp: float
) -> dict[str, float]:
    """Score OOF probabilities: cost per customer at its optimal threshold, and log loss."""
    choice = costs.optimal_threshold(costs.cost_curve(y_true, y_score, cost_fn, cost_fp))
    clipped = np.clip(y_score, 1e-15, 1 - 1e-15)
    return {
        "oof_cost": choice.cost_per_customer,
        "threshold": choice.threshold,
        "oof_log_loss": float(log_loss(y_true, clipped, labels=[0, 1])),
    }


def fit_with_early_stopping(
    pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    imbalance: str = "class_weight",
    seed: int = DEFAULT_SEED,
    fraction: float = EARLY_STOPPING_FRACTION,
    rounds: int = EARLY_STOPPING_ROUNDS,
    track_train_loss: bool = True,
):
    """Fit an XGBoost or LightGBM pipeline, stopping when the loss on held-out rows stalls.

    A stratified `fraction` of `X` is cut off as the validation split, so neither the
    held-out CV fold nor the test set ever decides the number of trees. The pipeline
    preprocesses inside, so its steps are fitted here one by one on the remaining rows,
    and the validation split is passed through the same fitted steps, exactly as new
    data would be at prediction time. Only then is the booster fitted with both sets as
    `eval_set`, training rows first unless `track_train_loss` is False (which saves one
    prediction pass per round). With class weights the validation loss is weighted the
    same way as the training loss. The pipeline is fitted in place and returned.
    """
    X_fit, X_valid, y_fit, y_valid = train_test_split(
        X, y, test_size=fraction, stratify=y, random_state=seed
    )
    Xt_fit, Xt_valid = X_fit, X_valid
    for name, step in pipeline.steps[:-1]:
        if name == "resample":
            continue
        Xt_fit = step.fit_transform(Xt_fit, y_fit)
        Xt_valid = step.transform(Xt_valid)
    _fit_booster(
        fitted_estimator(pipeline),
        pipeline.named_steps.get("resample"),
        (Xt_fit, y_fit),
        (Xt_valid, y_valid),
        imbalance=imbalance,
        rounds=rounds,
        track_train_loss=track_train_loss,
    )
    return pipeline


def _fit_booster(
    estimator,
    resampler,
    train: tuple[Any, np.ndarray],
    validation: tuple[Any, np.ndarray],
    *,
    imbalance: str = "class_weight",
    rounds: int = EARLY_STOPPING_ROUNDS,
    track_train_loss: bool = True,
):
    """Fit an XGBoost or LightGBM estimator on preprocessed rows with early stopping.

    `train` and `validation` are (matrix, labels) pairs that have already been through
    the fitted preprocessing. The resampler (None for none) sees only the training rows.
    Boosting stops after `rounds` rounds without a lower log loss on the validation rows,
    weighted like the training loss when `imbalance` is `class_weight`. The estimator is
    fitted in place and returned.
    """
    X_model, y_model = train
    if resampler is not None:
        X_model, y_model = resampler.fit_resample(X_model, y_model)

    weighted = imbalance == "class_weight"
    eval_X, eval_y, names = [validation[0]], [validation[1]], ["validation"]
    if track_train_loss:
        eval_X, eval_y, names = [X_model, *eval_X], [y_model, *eval_y], ["train", *names]
    weights = [compute_sample_weight("balanced", y) if weighted else None for y in eval_y]
    if isinstance(estimator, LGBMClassifier):
        estimator.fit(
            X_model,
            y_model,
            # Passing the training matrix itself makes LightGBM 4.7 treat it as the train set,
            # which it skips when deciding to stop and weighs with the training weights.
            eval_X=tuple(eval_X),
            eval_y=tuple(eval_y),
            eval_names=names,
            eval_sample_weight=[
                None if n == "train" else w for n, w in zip(names, weights, strict=True)
            ],
            eval_metric="binary_logloss",
            callbacks=[early_stopping(rounds, first_metric_only=True, verbose=False)],
        )
    else:
        # XGBoost stops on the last evaluation set, the validation rows.
        estimator.set_params(early_stopping_rounds=rounds)
        estimator.fit(
            X_model,
            y_model,
            eval_set=list(zip(eval_X, eval_y, strict=True)),
            sample_weight_eval_set=weights if weighted else None,
            verbose=False,
        )
    return estimator


class FoldMedianPruner(optuna.pruners.BasePruner):
    """Prune a trial whose value at this fold is above the median of complete trials there.

    Optuna 5.1's MedianPruner compares the lowest value a trial reported over all its folds
    so far. The running mean of the first folds is noisy, so its minimum rarely exceeded
    the median, and in a 30-trial XGBoost run 3 of 25 eligible trials were pruned. This
    pruner compares the value at the current fold only. Studies here always minimise.
    """

    def __init__(self, n_startup_trials: int, n_warmup_steps: int) -> None:
        self._n_startup_trials = n_startup_trials
        self._n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self._n_warmup_steps:
            return False
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < self._n_startup_trials:
            return False
        others = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        if not others:
            return False
        value = trial.intermediate_values[step]
        return bool(np.isnan(value) or value > np.nanmedian(others))


class StopRequest:
    """A SIGTERM handler that defers the stop to the next fold or trial boundary.

    Raising from the signal handler directly is unsafe during training: XGBoost 3.2 calls
    back into Python from C while it builds its matrices and drops an exception raised
    there, so the stop was lost. `check()` raises SystemExit at a safe point instead. A
    second SIGTERM goes to the previous handler at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested and callable(self._previous):
            self._previous(signum, frame)
            return
        self.requested = True
        logger.warning("SIGTERM received: stopping after the current fold")

    def check(self) -> None:
        """Raise SystemExit(143) when a SIGTERM has arrived."""
        if self.requested:
            raise SystemExit(128 + signal.SIGTERM)


@dataclass
class _Fold:
    """One CV fold whose preprocessing is fitted, shared by every trial of a study.

    The preprocessing has no tuned parameter and is fitted with the same seed in every
    trial, so fitting it once gives the same matrices that each trial would fit again.
    """

    valid_idx: np.ndarray
    X_train: Any
    y_train: np.ndarray
    X_valid: Any
    # The early-stopping split cut from the training fold, or None without early stopping.
    stopping: tuple[Any, np.ndarray] | None = None
    # XGBoost's input matrices of this fold, built by the first XGBoost trial.
    matrices: _BoosterMatrices | None = None


@dataclass
class _BoosterMatrices:
    """XGBoost DMatrix objects of one fold, reused by every trial of a study.

    Building a DMatrix and the histogram bins XGBoost keeps inside it took about a fifth
    of an early-stopped fit when measured. The bins depend on the data alone, so every
    trial can share them.
    """

    train: xgboost.DMatrix
    valid: xgboost.DMatrix
    stopping: xgboost.DMatrix | None


@dataclass
class _StudyContext:
    config: TuneConfig
    split: SplitData
    pos_weight: float
    early_stopping: bool
    stop: StopRequest
    current_trial: int | None = None
    folds: list[_Fold] | None = None


def _prepare_folds(ctx: _StudyContext) -> list[_Fold]:
    """Split the training part into stratified folds and fit the preprocessing of each.

    With early stopping, a stratified EARLY_STOPPING_FRACTION of each training fold is cut
    off first, with seed `seed + fold`, and the preprocessing is fitted on the rest only.
    """
    config, split = ctx.config, ctx.split
    # The same seed gives every trial the same folds, so the pruner compares like with like.
    splitter = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
    folds = []
    for fold, (train_idx, valid_idx) in enumerate(splitter.split(split.X_train, split.y_train)):
        X_fit, y_fit = split.X_train.iloc[train_idx], split.y_train[train_idx]
        X_stop = y_stop = None
        if ctx.early_stopping:
            X_fit, X_stop, y_fit, y_stop = train_test_split(
                X_fit,
                y_fit,
                test_size=EARLY_STOPPING_FRACTION,
                stratify=y_fit,
                random_state=config.seed + fold,
            )
        preprocessor = build_preprocessor()
        prepared = _Fold(
            valid_idx=valid_idx,
            X_train=preprocessor.fit_transform(X_fit, y_fit),
            y_train=y_fit,
            X_valid=preprocessor.transform(split.X_train.iloc[valid_idx]),
        )
        if ctx.early_stopping:
            prepared.stopping = (preprocessor.transform(X_stop), y_stop)
        folds.append(prepared)
        ctx.stop.check()
    return folds


def _fit_fold(template, fold: _Fold, ctx: _StudyContext) -> tuple[np.ndarray, int | None]:
    """Fit the template's estimator on one prepared fold.

    Returns:
        The churn probabilities of the fold's validation rows, and the number of trees
        kept by early stopping (None without early stopping).
    """
    estimator = clone(fitted_estimator(template))
    resampler = template.named_steps.get("resample")
    resampler = None if resampler is None else clone(resampler)
    if isinstance(estimator, xgboost.XGBClassifier):
        return _fit_xgboost_fold(estimator, resampler, fold, ctx)
    if fold.stopping is not None:
        _fit_booster(
            estimator,
            resampler,
            (fold.X_train, fold.y_train),
            fold.stopping,
            imbalance=ctx.config.imbalance,
            track_train_loss=False,
        )
        return estimator.predict_proba(fold.X_valid)[:, 1], diagnostics.trees_kept(estimator)
    X_model, y_model = fold.X_train, fold.y_train
    if resampler is not None:
        X_model, y_model = resampler.fit_resample(X_model, y_model)
    estimator.fit(X_model, y_model)
    return estimator.predict_proba(fold.X_valid)[:, 1], None


def _fit_xgboost_fold(
    estimator: xgboost.XGBClassifier, resampler, fold: _Fold, ctx: _StudyContext
) -> tuple[np.ndarray, int | None]:
    """Boost an XGBoost trial on the fold's cached matrices, as `XGBClassifier.fit` would.

    The booster parameters are the classifier's own, so a trial fits the same trees as
    the pipeline would. The tests compare the probabilities with `_fit_booster`'s.
    """
    if fold.matrices is None:
        fold.matrices = _booster_matrices(fold, resampler, ctx.config.imbalance)
    params = {key: value for key, value in estimator.get_xgb_params().items() if value is not None}
    rounds = estimator.get_params()["n_estimators"]
    matrices = fold.matrices
    if matrices.stopping is None:
        booster = xgboost.train(params, matrices.train, num_boost_round=rounds)
        return booster.predict(matrices.valid), None
    booster = xgboost.train(
        params,
        matrices.train,
        num_boost_round=rounds,
        evals=[(matrices.stopping, "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    trees_kept = booster.best_iteration + 1
    return booster.predict(matrices.valid, iteration_range=(0, trees_kept)), trees_kept


def _booster_matrices(fold: _Fold, resampler, imbalance: str) -> _BoosterMatrices:
    """Build a fold's DMatrix objects, resampled once because the resampler is seeded."""
    X_model, y_model = fold.X_train, fold.y_train
    if resampler is not None:
        X_model, y_model = resampler.fit_resample(X_model, y_model)
    stopping = None
    if fold.stopping is not None:
        X_stop, y_stop = fold.stopping
        # Weighted like the training loss, as in `_fit_booster`.
        weight = compute_sample_weight("balanced", y_stop) if imbalance == "class_weight" else None
        stopping = xgboost.DMatrix(X_stop, y_stop, weight=weight, nthread=TRIAL_N_JOBS)
    return _BoosterMatrices(
        train=xgboost.DMatrix(X_model, y_model, nthread=TRIAL_N_JOBS),
        valid=xgboost.DMatrix(fold.X_valid, nthread=TRIAL_N_JOBS),
        stopping=stopping,
    )


def _trial_pipeline(name: str, params: dict, ctx: _StudyContext):
    """Build the unfitted pipeline of one parameter set under the study's settings."""
    config = ctx.config
    return build_pipeline(
        name,
        imbalance=config.imbalance,
        params=params,
        pos_weight=ctx.pos_weight,
        random_state=config.seed,
        fast=config.fast,
        n_jobs=TRIAL_N_JOBS,
    )


def _cross_validate(trial: optuna.Trial, name: str, params: dict, ctx: _StudyContext) -> dict:
    """Score one parameter set on stratified folds, reporting the objective after each fold.

    The folds and their fitted preprocessing are prepared in the study's first trial, so
    that time counts towards the study, and reused by the later trials.
    """
    config, split = ctx.config, ctx.split
    template = _trial_pipeline(name, params, ctx)
    if ctx.folds is None:
        ctx.folds = _prepare_folds(ctx)
    oof_score = np.full(len(split.y_train), np.nan)
    fold_auc, fold_values, trees = [], [], []
    for number, fold in enumerate(ctx.folds):
        oof_score[fold.valid_idx], trees_kept = _fit_fold(template, fold, ctx)
        if trees_kept is not None:
            trees.append(trees_kept)
        y_valid = split.y_train[fold.valid_idx]
        fold_auc.append(float(roc_auc_score(y_valid, oof_score[fold.valid_idx])))
        ctx.stop.check()

        # The pruner receives the running mean of per-fold values, because the cost at the
        # optimal threshold of all OOF rows so far is biased low on the first folds.
        fold_scores = objective_scores(
            y_valid, oof_score[fold.valid_idx], config.cost_fn, config.cost_fp
        )
        fold_values.append(fold_scores[_objective_key(config.objective)])
        trial.report(float(np.mean(fold_values)), number)
        if config.pruning and trial.should_prune():
            trial.set_user_attr("pruned_after_fold", number + 1)
            raise optuna.TrialPruned(f"pruned after fold {number + 1} of {config.folds}")

    scores = objective_scores(split.y_train, oof_score, config.cost_fn, config.cost_fp)
    scores["cv_auc_mean"] = float(np.mean(fold_auc))
    scores["cv_auc_std"] = float(np.std(fold_auc))
    if trees:
        scores["trees_kept_mean"] = float(np.mean(trees))
    return scores


def _objective_key(objective: str) -> str:
    return "oof_cost" if objective == "cost" else "oof_log_loss"


def _run_trial(trial: optuna.Trial, ctx: _StudyContext) -> float:
    """Run one trial inside its own nested MLflow run and return the objective value."""
    config = ctx.config
    ctx.current_trial = trial.number
    ctx.stop.check()
    name, params = suggest_params(
        trial, config.family, fast=config.fast, fixed=config.fixed_params
    )
    trial.set_user_attr("model_name", name)
    tags = {"study_name": config.resolved_study_name, "trial_number": str(trial.number)}
    pruned: optuna.TrialPruned | None = None
    with tracked_run(f"trial-{trial.number}", nested=True, tags=tags):
        mlflow.log_params(params | {"model": name})
        try:
            scores = _cross_validate(trial, name, params, ctx)
        except optuna.TrialPruned as error:
            mlflow.set_tag(TRIAL_STATE_TAG, TrialState.PRUNED.name)
            pruned = error
        except Exception:
            mlflow.set_tag(TRIAL_STATE_TAG, TrialState.FAIL.name)
            raise
        else:
            mlflow.log_metrics(scores)
            mlflow.set_tag(TRIAL_STATE_TAG, TrialState.COMPLETE.name)
    if pruned is not None:
        raise pruned
    for key, value in scores.items():
        trial.set_user_attr(key, value)
    return scores[_objective_key(config.objective)]


def load_or_create_study(config: TuneConfig, storage, dataset: Dataset) -> optuna.Study:
    """Open the named study, creating it with this config's settings when it is new.

    The TPE sampler is seeded with the config seed plus the number of trials already in
    the study, so a fresh study is reproducible and a resumed one does not replay the
    parameter sets of its first trials.

    Raises:
        ValueError: If the study exists with other settings (family, objective, costs,
            folds, seed or data).
    """
    name = config.resolved_study_name
    expected = config.study_attrs(dataset.source.as_tags()["data_hash"])
    pruner = (
        FoldMedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_FOLDS
        )
        if config.pruning
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=storage, study_name=name, direction="minimize", load_if_exists=True
    )
    check_study_settings(name, study.user_attrs, expected)
    for key, value in expected.items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)
    # NOTE: two workers that start at the same moment see the same trial count and so
    # share a seed; their first random trials may then repeat parameter sets.
    sampler_seed = config.seed + len(study.trials)
    sampler = optuna.samplers.TPESampler(seed=sampler_seed)
    logger.info(
        "study %s: %d trials so far, sampler seed %d", name, len(study.trials), sampler_seed
    )
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)


def tune(
    config: TuneConfig,
    *,
    progress: Callable[[str], None] | None = None,
    dataset: Dataset | None = None,
) -> TuneResult:
    """Run `config.n_trials` more trials of a study, then refit and log the best model.

    Every option, the storage and the data are checked before any trial or MLflow run
    starts. A trial that raises one of TRIAL_ERRORS is marked failed and the study goes on.
    An interrupt or SIGTERM ends the open MLflow runs as KILLED and marks the running trial
    failed, so the study can be resumed by running the same command again.
    """
    report = progress or (lambda message: logger.info("%s", message))
    config.validate()
    storage = open_storage(config.storage)
    dataset = dataset or load_dataset(config.data_path, seed=config.seed)
    split = SplitData.from_dataset(dataset, test_size=config.test_size, seed=config.seed)
    study = load_or_create_study(config, storage, dataset)
    with _sqlite_creation_lock(resolve_tracking_uri(config.tracking_uri)):
        _with_retries(
            lambda: configure_tracking(config.tracking_uri, config.experiment),
            "opening the MLflow tracking store",
            (*STORE_RACE_ERRORS, MlflowException, CommandError),
        )
    name = config.resolved_study_name
    storage_label = masked_url(resolve_storage_url(config.storage))
    report(f"study {name} in {storage_label}: {len(study.trials)} trials so far")

    with StopRequest() as stop:
        ctx = _StudyContext(
            config=config,
            split=split,
            pos_weight=positive_weight(split.y_train),
            early_stopping=config.early_stopping and config.family in BOOSTED_FAMILIES,
            stop=stop,
        )
        parent_run_id, optimize_s, n_before = _optimize(study, ctx, storage_label, report)
        result = _summarise(study, config, storage_label, n_before, optimize_s)
        result.parent_run_id = parent_run_id
        if result.best_trial is None:
            logger.warning("study %s has no complete trial, so nothing is refitted", name)
            return result
        stop.check()
        if config.refit:
            _refit_best(study, ctx, dataset, result, report)
            client = MlflowClient(tracking_uri=resolve_tracking_uri(config.tracking_uri))
            client.set_tag(parent_run_id, "tuned_run_id", result.tuned_run_id)
    return result


def _optimize(
    study: optuna.Study, ctx: _StudyContext, storage_label: str, report: Callable[[str], None]
) -> tuple[str, float, int]:
    """Run the trials inside the study's parent MLflow run."""
    config = ctx.config
    n_before = len(study.trials)
    tags = {
        "study_name": config.resolved_study_name,
        "churnlab.kind": "tuning_study",
        "model_family": config.family,
        "objective": config.objective,
        "optuna_storage": storage_label,
    }

    def log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        best = _best_value(study)
        best_text = "none yet" if best is None else f"{best:.4f}"
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        report(
            f"trial {trial.number}: {trial.state.name}, {config.objective} {value}, "
            f"best {best_text}"
        )

    started = time.perf_counter()
    with tracked_run(f"study-{config.resolved_study_name}", tags=tags) as parent:
        # The storage URL may hold a password, so only its masked form is logged, as a tag.
        hidden = ("fixed_params", "storage")
        mlflow.log_params({k: v for k, v in asdict(config).items() if k not in hidden})
        try:
            study.optimize(
                lambda trial: _run_trial(trial, ctx),
                n_trials=config.n_trials,
                timeout=config.timeout_s,
                catch=TRIAL_ERRORS,
                callbacks=[log_trial],
            )
        except (SystemExit, KeyboardInterrupt):
            _fail_if_running(study, ctx.current_trial)
            raise
        optimize_s = time.perf_counter() - started
        mlflow.log_metrics(_state_counts(study) | {"optimize_s": optimize_s})
        best = _best_value(study)
        if best is not None:
            mlflow.log_metric("best_value", best)
    return parent.info.run_id, optimize_s, n_before


def _fail_if_running(study: optuna.Study, number: int | None) -> None:
    """Mark this process's interrupted trial failed, so a resumed study does not wait on it.

    Optuna 5.1 marks a trial failed on KeyboardInterrupt but lets SystemExit (the CLI's
    SIGTERM handler) pass without a state, which would leave the trial RUNNING forever.
    """
    if number is None:
        return
    trial = study.get_trials(deepcopy=False)[number]
    if trial.state == TrialState.RUNNING:
        study.tell(number, state=TrialState.FAIL)
        logger.warning(
            "trial %d of study %s was interrupted and marked FAIL", number, study.study_name
        )


def _best_value(study: optuna.Study) -> float | None:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return min(t.value for t in complete) if complete else None


def _state_counts(study: optuna.Study) -> dict[str, int]:
    trials = study.get_trials(deepcopy=False)
    return {
        f"n_{state.name.lower()}": sum(t.state == state for t in trials)
        for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }


def _summarise(
    study: optuna.Study, config: TuneConfig, storage_label: str, n_before: int, optimize_s: float
) -> TuneResult:
    counts = _state_counts(study)
    result = TuneResult(
        study_name=config.resolved_study_name,
        storage=storage_label,
        n_trials_run=len(study.trials) - n_before,
        n_complete=counts["n_complete"],
        n_pruned=counts["n_pruned"],
        n_failed=counts["n_fail"],
        optimize_s=optimize_s,
    )
    if counts["n_complete"]:
        best = study.best_trial
        result.best_value = float(best.value)
        result.best_trial = best.number
        result.best_params = dict(best.params)
    return result


def refit_params(trial: optuna.trial.FrozenTrial, config: TuneConfig) -> tuple[str, dict]:
    """Return the model name and parameters to refit a trial on the whole training part.

    A boosted trial with early stopping refits with the mean number of trees its folds
    kept. NOTE: those folds trained on (folds - 1) / folds of the training part, less the
    early-stopping split, so the full refit may be slightly under-boosted.
    """
    name, params = params_from_trial(
        config.family, trial.params, fast=config.fast, fixed=config.fixed_params
    )
    trees = trial.user_attrs.get("trees_kept_mean")
    if trees is not None:
        params["n_estimators"] = max(1, round(trees))
    return name, params


def _refit_best(
    study: optuna.Study,
    ctx: _StudyContext,
    dataset: Dataset,
    result: TuneResult,
    report: Callable[[str], None],
) -> None:
    """Refit the best trial, log it as a `tuned` model run, then its diagnostics."""
    config, split = ctx.config, ctx.split
    best = study.best_trial
    name, params = refit_params(best, config)
    report(f"refitting trial {best.number} ({name}) on the whole training part")
    common = {
        "imbalance": config.imbalance,
        "cost_fn": config.cost_fn,
        "cost_fp": config.cost_fp,
        "folds": config.folds,
        "seed": config.seed,
    }
    with _trial_threads():
        tuned = fit_and_evaluate(name, split, fast=config.fast, params=params, **common)
    tags = {
        "study_name": config.resolved_study_name,
        "best_trial": str(best.number),
        "objective": config.objective,
    }
    run_id = log_model_run(tuned, split, dataset, kind="tuned", extra_tags=tags, **common)
    result.tuned_run_id = run_id
    result.tuned_metrics = dict(tuned.metrics)
    report(
        f"tuned run {run_id}: test cost {tuned.metrics['test_cost']:.4f}, "
        f"test AUC {tuned.metrics['test_auc']:.4f}"
    )
    if not config.diagnostics:
        return
    ctx.stop.check()
    report("computing diagnostics: baseline, learning curves, early stopping")
    with _trial_threads():
        baseline = fit_and_evaluate(name, split, fast=config.fast, **common)
    result.baseline_metrics = dict(baseline.metrics)
    bundle = _diagnostics(best, ctx, name, baseline, tuned)
    diagnostics.log_diagnostics(run_id, bundle, config.tracking_uri)


def _trial_threads():
    """Limit OpenMP to TRIAL_N_JOBS threads, for fits that `fit_and_evaluate` builds.

    `fit_and_evaluate` gives each estimator every core. XGBoost 3.2 caps its threads at
    the OpenMP limit, so this keeps the refit as fast as the trials on a busy machine.
    NOTE: the random forest's threads come from joblib and are not limited, and LightGBM
    4.7 still used more than one core when checked.
    """
    return threadpool_limits(limits=TRIAL_N_JOBS, user_api="openmp")


def _diagnostics(best, ctx: _StudyContext, name: str, baseline, tuned) -> diagnostics.Diagnostics:
    config, split = ctx.config, ctx.split
    curves = []
    for label, model in (("baseline", baseline), ("tuned", tuned)):
        pipeline = clone(model.pipeline)
        estimator = pipeline.named_steps["model"]
        # scikit-learn 1.9's LogisticRegression warns that n_jobs has no effect.
        if "n_jobs" in estimator.get_params() and not isinstance(estimator, LogisticRegression):
            pipeline.set_params(model__n_jobs=TRIAL_N_JOBS)
        curves.append(
            diagnostics.learning_curve_frame(
                pipeline,
                split.X_train,
                split.y_train,
                label=label,
                folds=config.folds,
                seed=config.seed,
            )
        )
    rows = [
        {
            "model": label,
            **diagnostics.comparison_row(m.pipeline, split.X_train, split.y_train, m.metrics),
        }
        for label, m in (("baseline", baseline), ("tuned", tuned))
    ]
    bundle = diagnostics.Diagnostics(
        learning_curves=pd.concat(curves, ignore_index=True), comparison=pd.DataFrame(rows)
    )
    if ctx.early_stopping:
        # The trial's own tree cap, not the refit count, so the history shows where it stops.
        _, params = params_from_trial(
            config.family, best.params, fast=config.fast, fixed=config.fixed_params
        )
        pipeline = _trial_pipeline(name, params, ctx)
        fit_with_early_stopping(
            pipeline, split.X_train, split.y_train, imbalance=config.imbalance, seed=config.seed
        )
        history, kept = diagnostics.early_stopping_frame(fitted_estimator(pipeline))
        bundle.early_stopping, bundle.stopping_round = history, kept
    return bundle
