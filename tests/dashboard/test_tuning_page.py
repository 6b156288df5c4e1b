"""AppTest checks of the Tuning page against a real study and a real tuned run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import streamlit as st
from page_helpers import plotly_specs
from streamlit.testing.v1 import AppTest

from core import diagnostics, tuning_jobs
from core.data import Dataset, DataSource
from core.synthetic import generate_telco
from core.tuning import TuneConfig, tune
from core.validation import validate_frame

PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "views" / "tuning.py"
TIMEOUT = 60


@pytest.fixture(scope="module")
def tuned_study(tmp_path_factory):
    """A 3-trial XGBoost study on 1,500 generated customers, refitted with diagnostics."""
    frame = validate_frame(generate_telco(n_rows=1500, seed=7))
    dataset = Dataset(frame, DataSource("generated", None, None, 7, len(frame)))
    folder = tmp_path_factory.mktemp("tuning-page")
    config = TuneConfig(
        family="xgboost",
        n_trials=3,
        folds=3,
        fast=True,
        study_name="page-study",
        storage=f"sqlite:///{folder / 'optuna.db'}",
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        experiment="tuning-page",
    )
    result = tune(config, dataset=dataset)
    return config, result, folder


@pytest.fixture
def page_env(tuned_study, monkeypatch, tmp_path):
    config, result, folder = tuned_study
    monkeypatch.chdir(folder)
    monkeypatch.setenv("OPTUNA_STORAGE", config.storage)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", config.tracking_uri)
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", config.experiment)
    monkeypatch.setenv("CHURNLAB_TUNING_JOBS", str(tmp_path / "jobs"))
    return result


def test_page_without_studies(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTUNA_STORAGE", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("CHURNLAB_TUNING_JOBS", str(tmp_path / "jobs"))
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    assert not app.exception
    assert any("No study yet" in info.value for info in app.info)


@pytest.mark.slow
def test_page_shows_progress_and_diagnostics(page_env):
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    assert not app.exception
    assert app.selectbox(key="tuning.study_select").value == "page-study"
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Trials finished"] == "3"
    assert metrics["Pruned"] == "0"
    assert metrics["Best cost per customer so far"] == f"{page_env.best_value:.4f}"
    assert "Trees kept by early stopping" in metrics
    assert "Final train - validation AUC, tuned" in metrics
    assert len(app.dataframe) == 1
    assert list(app.dataframe[0].value.index) == ["baseline", "tuned"]


def _texts(app) -> str:
    parts = [*app.caption, *app.info, *app.warning, *app.success, *app.markdown]
    return "\n".join(part.value for part in parts)


@pytest.mark.slow
def test_launch_form_labels_read_whole(page_env):
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    families = app.selectbox(key="tuning.family")
    assert families.value == "xgboost"
    assert "XGBoost" in families.options
    assert "xgboost" not in families.options
    objectives = app.selectbox(key="tuning.objective").options
    assert objectives == ["Cost per customer", "Log loss"]
    storage = app.expander[0].caption[0].value
    assert "Optuna storage" in storage
    assert "optuna.db" in storage


@pytest.mark.slow
def test_trial_chart_has_whole_ticks(page_env):
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    history = plotly_specs(app)[0]
    xaxis = history["layout"]["xaxis"]
    assert xaxis["title"]["text"] == "Trial number"
    assert xaxis["tickmode"] == "linear"
    assert xaxis["dtick"] == 1
    assert xaxis["tickformat"] == "d"
    assert "Cost per customer" in history["layout"]["yaxis"]["title"]["text"]


@pytest.mark.slow
def test_tuned_run_has_short_label(page_env):
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    captions = "\n".join(caption.value for caption in app.caption)
    assert f"XGBoost · {page_env.tuned_run_id[:8]}" in captions
    assert page_env.tuned_run_id not in captions


@pytest.mark.slow
def test_comparison_splits_auc_and_cost(page_env):
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    y_titles = [spec["layout"]["yaxis"]["title"]["text"] for spec in plotly_specs(app)]
    assert "ROC AUC" in y_titles
    assert "Cost per customer (money)" in y_titles
    assert not any("Value" in title for title in y_titles)


@pytest.fixture
def tuned_test_cost(page_env, tuned_study):
    """Log the tuned run's diagnostics again, with its test cost set to baseline + a gap."""
    config, result, _ = tuned_study
    original = diagnostics.load_diagnostics(result.tuned_run_id, config.tracking_uri)

    def set_gap(gap: float) -> None:
        comparison = original.comparison.copy()
        baseline = comparison.loc[comparison["model"] == "baseline", "test_cost"].iloc[0]
        comparison.loc[comparison["model"] == "tuned", "test_cost"] = baseline + gap
        changed = replace(original, comparison=comparison)
        diagnostics.log_diagnostics(result.tuned_run_id, changed, config.tracking_uri)
        st.cache_data.clear()

    yield set_gap
    diagnostics.log_diagnostics(result.tuned_run_id, original, config.tracking_uri)
    st.cache_data.clear()


@pytest.mark.slow
def test_worse_tuned_run_within_noise(tuned_test_cost):
    tuned_test_cost(0.001)
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    warnings = "\n".join(warning.value for warning in app.warning)
    assert "Tuning did not help on the held-out customers" in warnings
    assert "within noise" in warnings


@pytest.mark.slow
def test_much_worse_tuned_run(tuned_test_cost):
    tuned_test_cost(1.0)
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    warnings = "\n".join(warning.value for warning in app.warning)
    assert "Tuning did not help on the held-out customers" in warnings
    assert "within noise" not in warnings


@pytest.mark.slow
def test_better_tuned_run_is_stated(tuned_test_cost):
    tuned_test_cost(-1.0)
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    assert "Tuning helped on the held-out customers" in _texts(app)
    assert not app.warning


@pytest.mark.slow
def test_page_rejects_bad_storage(page_env, monkeypatch, tmp_path):
    monkeypatch.setenv("OPTUNA_STORAGE", f"sqlite:///{tmp_path / 'missing' / 'optuna.db'}")
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    assert not app.exception
    assert any("Cannot open the Optuna storage" in error.value for error in app.error)


@pytest.mark.slow
def test_page_launch_refuses_changed_costs(page_env):
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()
    app.text_input[0].set_value("page-study")
    app.session_state["churnlab.cost_fn"] = 5.0
    app.button[0].click().run()
    assert not app.exception
    assert any("created with other settings" in error.value for error in app.error)


def _fake_job(study_name: str, n_trials: int = 3) -> tuning_jobs.TuningJob:
    """Record a sleeping child process as the study's job; it stops on SIGTERM with code 143."""
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    tuning_jobs._CHILDREN[process.pid] = process
    folder = tuning_jobs.jobs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    job = tuning_jobs.TuningJob(
        study_name=study_name,
        pid=process.pid,
        n_trials=n_trials,
        trials_before=0,
        started_at=time.time(),
        log_path=str(folder / "fake.log"),
        command=[sys.executable, "-c", script],
    )
    tuning_jobs._record_path(study_name, folder).write_text(json.dumps(asdict(job)))
    return job


@pytest.fixture
def fake_jobs():
    jobs = []
    yield lambda name: jobs.append(_fake_job(name)) or jobs[-1]
    for job in jobs:
        process = tuning_jobs._CHILDREN.pop(job.pid)
        process.kill()
        process.wait()


def _infos(app) -> str:
    return "\n".join(info.value for info in app.info)


@pytest.mark.slow
def test_launched_study_shows_starting(page_env, fake_jobs):
    fake_jobs("new-study")
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    app.session_state["tuning.study"] = "new-study"
    app.run()

    assert not app.exception
    assert "Study new-study starting" in _infos(app)
    assert "No study yet" not in _infos(app)
    assert app.button(key="tuning.stop").label == "Stop tuning"


@pytest.mark.slow
def test_stopped_study_is_not_error(page_env, fake_jobs):
    fake_jobs("page-study")
    assert tuning_jobs.stop_tuning("page-study")

    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()

    assert not app.exception
    assert [error.value for error in app.error] == []
    assert "Stopped on request after 3 trials" in _infos(app)


@pytest.mark.slow
def test_running_job_hides_diagnostics(page_env, fake_jobs):
    fake_jobs("page-study")

    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()

    assert not app.exception
    assert "the tuned model is fitted" in _infos(app)
    assert "no diagnostics" not in _infos(app)
    assert len(app.dataframe) == 0
