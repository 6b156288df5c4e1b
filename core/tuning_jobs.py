"""Background tuning jobs for the dashboard: launch, stop, and read a study's progress.

A job is one `python -m core tune` process started in its own session, so it outlives the
page that launched it and a page reload. Each study has at most one job launched this
way: a JSON record per study contains the process id, and a second launch while that
process runs is rejected. Workers started from the command line are not recorded and
may share the study freely.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
import pandas as pd
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from core.config import PROJECT_ROOT, resolve_experiment, resolve_tracking_uri
from core.tuning import (
    TuneConfig,
    check_study_settings,
    masked_url,
    open_storage,
    resolve_storage_url,
)

logger = logging.getLogger(__name__)

JOBS_DIR_ENV = "CHURNLAB_TUNING_JOBS"
# Hyperparameter importances need a few complete trials to mean anything.
MIN_TRIALS_FOR_IMPORTANCE = 5
LOG_TAIL_LINES = 20

# Processes launched by this server, so their exit codes can be read and zombies reaped.
_CHILDREN: dict[int, subprocess.Popen] = {}


def jobs_dir() -> Path:
    """Return the folder of job records and logs: `CHURNLAB_TUNING_JOBS` or `.churnlab/`."""
    env = os.environ.get(JOBS_DIR_ENV)
    return Path(env) if env else PROJECT_ROOT / ".churnlab" / "tuning_jobs"


@dataclass
class TuningJob:
    """The record of one launched tuning process.

    Attributes:
        study_name: Study the process adds trials to.
        pid: Process id of `python -m core tune`.
        n_trials: Trials the process was asked to run.
        trials_before: Trials in the study when the process started.
        started_at: Unix time of the launch.
        log_path: File receiving the process's output.
        command: The command line, for display.
    """

    study_name: str
    pid: int
    n_trials: int
    trials_before: int
    started_at: float
    log_path: str
    command: list[str]


def _record_path(study_name: str, folder: Path) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", study_name)
    return folder / f"{safe}.json"


def read_job(study_name: str) -> TuningJob | None:
    """Return the last job launched for a study, or None when there is none."""
    path = _record_path(study_name, jobs_dir())
    if not path.exists():
        return None
    return TuningJob(**json.loads(path.read_text()))


def is_running(job: TuningJob) -> bool:
    """Return whether the job's process is still a running `core tune` process.

    A recycled process id is told apart by its command line, read from /proc on Linux.
    """
    child = _CHILDREN.get(job.pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{job.pid}")
    if not proc.exists():
        return True
    stat = (proc / "stat").read_text()
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    return b"tune" in cmdline and job.study_name.encode() in cmdline


def exit_code(job: TuningJob) -> int | None:
    """Return the job's exit code, or None while it runs or when another process started it."""
    child = _CHILDREN.get(job.pid)
    return None if child is None else child.poll()


def tune_command(config: TuneConfig) -> list[str]:
    """Return the `python -m core tune` command line that runs `config`."""
    command = [sys.executable, "-m", "core", "tune", "--model", config.family]
    command += ["--trials", str(config.n_trials), "--objective", config.objective]
    command += ["--study-name", config.resolved_study_name]
    command += ["--storage", resolve_storage_url(config.storage)]
    command += ["--folds", str(config.folds), "--seed", str(config.seed)]
    command += ["--cost-fn", str(config.cost_fn), "--cost-fp", str(config.cost_fp)]
    command += ["--tracking-uri", resolve_tracking_uri(config.tracking_uri)]
    command += ["--experiment", resolve_experiment(config.experiment)]
    if config.timeout_s:
        command += ["--timeout", str(config.timeout_s)]
    if config.data_path:
        command += ["--data", str(config.data_path)]
    flags = {
        "--fast": config.fast,
        "--no-pruning": not config.pruning,
        "--no-early-stopping": not config.early_stopping,
        "--no-diagnostics": not config.diagnostics,
    }
    command += [flag for flag, enabled in flags.items() if enabled]
    return command


def launch_tuning(config: TuneConfig) -> TuningJob:
    """Start `python -m core tune` for `config` in the background and record it.

    The options and the storage are checked first, so bad input raises here and starts
    nothing. The process runs in its own session with its output in a log file.

    Raises:
        ValueError: If an option is invalid, the storage cannot be opened, or a job
            launched for the same study is still running.
    """
    config.validate()
    storage = open_storage(config.storage)
    name = config.resolved_study_name
    folder = jobs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    previous = read_job(name)
    if previous is not None and is_running(previous):
        raise ValueError(
            f"Study {name!r} already has a tuning job running (pid {previous.pid}); stop it "
            "or wait for it to finish before launching another."
        )
    record = _record_path(name, folder)
    lock = record.with_suffix(".lock")
    try:
        # O_EXCL makes the lock atomic, so two pages clicking at once cannot both launch.
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError as error:
        raise ValueError(
            f"Study {name!r} is being launched by another session; try again in a moment."
        ) from error
    try:
        job = _start_process(config, storage, record, folder)
    finally:
        os.close(descriptor)
        lock.unlink(missing_ok=True)
    return job


def _start_process(config: TuneConfig, storage, record: Path, folder: Path) -> TuningJob:
    name = config.resolved_study_name
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        trials_before = 0
    else:
        # The data hash is checked by the process itself, once it has read the data.
        check_study_settings(name, study.user_attrs, config.study_attrs(data_hash=None))
        trials_before = len(study.trials)
    command = tune_command(config)
    log_path = folder / f"{record.stem}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    job = TuningJob(
        study_name=name,
        pid=process.pid,
        n_trials=config.n_trials,
        trials_before=trials_before,
        started_at=time.time(),
        log_path=str(log_path),
        command=command,
    )
    record.write_text(json.dumps(asdict(job)))
    logger.info("launched tuning of study %s as pid %d", name, process.pid)
    return job


def stop_tuning(study_name: str, *, wait_s: float = 10.0) -> bool:
    """Send SIGTERM to the study's running job and wait up to `wait_s` for it to end.

    The process ends its MLflow runs as KILLED and marks its running trial failed, so the
    study can be resumed.

    Returns:
        True when a running job was signalled, False when none was running.
    """
    job = read_job(study_name)
    if job is None or not is_running(job):
        return False
    # Written before the signal, so a page that reads the exit code also finds the marker.
    _stop_marker(study_name).write_text(str(job.pid))
    os.kill(job.pid, signal.SIGTERM)
    logger.info("sent SIGTERM to tuning job %d of study %s", job.pid, study_name)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and is_running(job):
        time.sleep(0.2)
    return True


def stop_requested(job: TuningJob) -> bool:
    """Return whether `stop_tuning` sent SIGTERM to this job, so its exit was requested."""
    marker = _stop_marker(job.study_name)
    return marker.exists() and marker.read_text().strip() == str(job.pid)


def _stop_marker(study_name: str) -> Path:
    return _record_path(study_name, jobs_dir()).with_suffix(".stopped")


def log_tail(job: TuningJob, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of the job's log file, or "" when it has none yet."""
    path = Path(job.log_path)
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class StudyProgress:
    """The state of a study as read from its storage.

    Attributes:
        study_name: The study.
        attrs: Settings the study was created with (family, objective, costs, ...).
        trials: One row per trial: `number`, `state`, `value`, `best_so_far`,
            `oof_cost`, `oof_log_loss`, `duration_s`.
        counts: Trials per state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING).
        best_value: Lowest objective value of a complete trial, or None.
        best_params: Parameters of that trial.
        importances: Hyperparameter importances once MIN_TRIALS_FOR_IMPORTANCE trials
            are complete, else None.
    """

    study_name: str
    attrs: dict
    trials: pd.DataFrame
    counts: dict[str, int]
    best_value: float | None
    best_params: dict
    importances: dict[str, float] | None


def list_studies(storage: str | None = None) -> list[str]:
    """Return the study names in the storage, sorted.

    Raises:
        ValueError: If the storage cannot be opened.
    """
    return sorted(optuna.get_all_study_names(storage=open_storage(storage)))


def study_progress(study_name: str, storage: str | None = None) -> StudyProgress:
    """Read the trials of a study, its best value so far and its parameter importances.

    Raises:
        ValueError: If the storage cannot be opened or has no study of that name.
    """
    opened = open_storage(storage)
    try:
        study = optuna.load_study(study_name=study_name, storage=opened)
    except KeyError as error:
        raise ValueError(
            f"Study {study_name!r} not found in {masked_url(resolve_storage_url(storage))}."
        ) from error
    trials = study.get_trials(deepcopy=False)
    frame = _trials_frame(trials)
    complete = frame[frame["state"] == TrialState.COMPLETE.name]
    best_value = float(complete["value"].min()) if not complete.empty else None
    best_params = study.best_trial.params if best_value is not None else {}
    return StudyProgress(
        study_name=study_name,
        attrs=dict(study.user_attrs),
        trials=frame,
        counts=frame["state"].value_counts().to_dict() if not frame.empty else {},
        best_value=best_value,
        best_params=dict(best_params),
        importances=_importances(study, len(complete)),
    )


def _trials_frame(trials: list[optuna.trial.FrozenTrial]) -> pd.DataFrame:
    rows = []
    for trial in trials:
        finished = trial.datetime_complete
        started = trial.datetime_start
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "oof_cost": trial.user_attrs.get("oof_cost"),
                "oof_log_loss": trial.user_attrs.get("oof_log_loss"),
                "duration_s": (finished - started).total_seconds()
                if finished and started
                else None,
            }
        )
    columns = ["number", "state", "value", "oof_cost", "oof_log_loss", "duration_s"]
    frame = pd.DataFrame(rows, columns=columns).sort_values("number", ignore_index=True)
    complete_values = frame["value"].where(frame["state"] == TrialState.COMPLETE.name)
    frame["best_so_far"] = complete_values.cummin()
    return frame


def _importances(study: optuna.Study, n_complete: int) -> dict[str, float] | None:
    if n_complete < MIN_TRIALS_FOR_IMPORTANCE:
        return None
    try:
        return optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError) as error:
        logger.warning("no importances for study %s: %s", study.study_name, error)
        return None


def find_tuned_run(
    study_name: str, tracking_uri: str | None = None, experiment: str | None = None
) -> str | None:
    """Return the id of the newest finished `tuned` run of a study, or None."""
    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    found = client.get_experiment_by_name(resolve_experiment(experiment))
    if found is None:
        return None
    escaped = study_name.replace("'", "\\'")
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=(
            f"tags.study_name = '{escaped}' and tags.`churnlab.kind` = 'tuned' "
            "and attributes.status = 'FINISHED'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None
