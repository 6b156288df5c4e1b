"""AppTest checks of the Explain page against a real trained store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from streamlit.testing.v1 import AppTest

from dashboard import data_access, state
from dashboard.charts_explain import waterfall_figure

PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "views" / "explain.py"
TIMEOUT = 120


@pytest.fixture
def store(trained_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # artifacts of a SQLite store go under the working directory
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", trained_store.experiment)
    if trained_store.data_path:
        monkeypatch.setenv("CHURNLAB_DATA", trained_store.data_path)
    return trained_store


def open_page(run_id: str) -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    app.session_state[state.RUN_ID_KEY] = run_id
    return app.run()


def charts(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def test_waterfall_ends_at_probability():
    table = pd.DataFrame(
        {
            "label": ["Contract = Month-to-month", "tenure = 3 months", "gender = Male"],
            "contribution": [0.20, 0.05, -0.01],
        }
    )
    figure = waterfall_figure(table, base_value=0.30, probability=0.54, max_bars=2)
    trace = figure.data[0]
    assert list(trace.y) == [
        "average customer",
        "Contract = Month-to-month",
        "tenure = 3 months",
        "1 other features",
        "this customer",
    ]
    assert list(trace.measure) == ["absolute", "relative", "relative", "relative", "total"]
    assert trace.x[0] == pytest.approx(30.0)
    assert sum(trace.x[1:4]) == pytest.approx(24.0)
    assert trace.x[-1] == pytest.approx(54.0)


def metric_value_of(app, label: str) -> str:
    return next(metric.value for metric in app.metric if metric.label == label)


@pytest.mark.slow
def test_page_explains_high_risk_customer(store):
    app = open_page(store.run_ids["xgboost"])
    assert not app.exception
    labels = [metric.label for metric in app.metric]
    assert "Model score" in labels
    assert "Decision" in labels
    score = float(metric_value_of(app, "Model score").rstrip("%"))
    chance = float(metric_value_of(app, "Chance of leaving").rstrip("%"))
    # The highest-risk test customer of a class-weighted model: calibration lowers the score.
    assert chance < score
    figures = charts(app)
    assert len(figures) == 1
    assert figures[0]["data"][0]["type"] == "waterfall"
    assert any(item.value.startswith("Churn risk is") for item in app.markdown)


@pytest.mark.slow
def test_unknown_id_shows_close_matches(store):
    app = open_page(store.run_ids["xgboost"])
    known = app.selectbox(key="explain.pick").value
    typo = known[:-1] + ("A" if known[-1] != "A" else "B")
    app.text_input(key="explain.customer_id").set_value(typo).run()
    assert not app.exception
    assert "Close matches" in app.warning[0].value
    assert known in app.warning[0].value


@pytest.mark.slow
def test_what_if_shows_new_probability(store):
    app = open_page(store.run_ids["xgboost"])
    app.selectbox(key="explain.what_if.contract").set_value("Two year").run()
    app.number_input(key="explain.what_if.tenure").set_value(60).run()
    assert not app.exception
    changed = next(m for m in app.metric if m.label == "Churn probability after the change")
    assert changed.delta.startswith("-")
    assert len(charts(app)) == 2


@pytest.mark.slow
def test_global_view_and_logging(store):
    app = open_page(store.run_ids["logistic_regression"])
    app.toggle(key="explain.show_global").set_value(True).run()
    assert not app.exception
    kinds = [figure["data"][0]["type"] for figure in charts(app)]
    assert kinds == ["waterfall", "bar", "scattergl", "bar"]
    app.button(key="explain.log_global").click().run()
    assert "Logged under explanations/" in app.success[0].value


@pytest.mark.slow
def test_run_without_model_names_run(store):
    client = MlflowClient(tracking_uri=store.tracking_uri)
    experiment = client.get_experiment_by_name(store.experiment)
    run = client.create_run(experiment.experiment_id, run_name="broken")
    client.log_metric(run.info.run_id, "test_cost", 0.5)
    client.set_terminated(run.info.run_id)
    data_access.clear_runs_cache()  # the run list is cached for 30 s across tests
    try:
        app = open_page(run.info.run_id)
    finally:
        # Other pages' tests share this store and expect only the trained runs.
        client.delete_run(run.info.run_id)
        data_access.clear_runs_cache()
    assert not app.exception
    assert f"Run {run.info.run_id} cannot be explained" in app.error[0].value


@pytest.mark.slow
def test_unknown_id_names_run_shortly(store):
    run_id = store.run_ids["xgboost"]
    app = open_page(run_id)
    app.text_input(key="explain.customer_id").set_value("0000-NOONE").run()
    warning = app.warning[0].value

    assert run_id not in warning
    assert f"XGBoost run {run_id[:8]}'s data" in warning


@pytest.mark.slow
def test_page_has_cost_sliders_and_base_caption(store):
    app = open_page(store.run_ids["xgboost"])
    captions = "\n".join(caption.value for caption in app.caption)

    assert len(app.sidebar.select_slider) == 2
    assert "average output on the training customers" in captions
    assert "26.5 %" in captions
    assert "$" not in "".join(json.dumps(figure) for figure in charts(app))
