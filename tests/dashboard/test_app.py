"""AppTest checks of the router, its sidebar and the state shared between pages."""

from __future__ import annotations

import pytest
from page_helpers import APP_PATH, PAGE_TIMEOUT_S
from streamlit.testing.v1 import AppTest

from dashboard import data_access

pytestmark = pytest.mark.slow


def _open_app(**query: str) -> AppTest:
    app = AppTest.from_file(str(APP_PATH), default_timeout=PAGE_TIMEOUT_S)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def _sidebar_text(app: AppTest) -> str:
    parts = [element.value for element in app.sidebar.markdown]
    parts += [element.value for element in app.sidebar.caption]
    return "\n".join(parts)


def test_sidebar_names_real_file_and_store(real_store_env, trained_store):
    app = _open_app()
    assert not app.exception
    text = _sidebar_text(app)
    if trained_store.data_path:
        assert "file WA_Fn-UseC_-Telco-Customer-Churn.csv" in text
    assert trained_store.tracking_uri in text


def test_sidebar_labels_generated_data(generated_env):
    app = _open_app()
    assert not app.exception
    assert "generated demo data" in _sidebar_text(app)


def test_costs_kept_when_switching_pages(real_store_env):
    app = _open_app()
    app.select_slider(key="costs.cost_fn").set_value(75.0).run()
    app.switch_page("views/threshold.py").run()
    assert not app.exception
    assert app.select_slider(key="costs.cost_fn").value == 75.0
    app.switch_page("views/leaderboard.py").run()
    assert app.select_slider(key="costs.cost_fn").value == 75.0
    assert app.query_params["cost_fn"] == "75"


def test_query_params_seed_costs(real_store_env):
    app = _open_app(cost_fn="12.5", cost_fp="2")
    assert app.select_slider(key="costs.cost_fn").value == 12.5
    assert app.select_slider(key="costs.cost_fp").value == 2.0


def test_bad_link_values_are_named(real_store_env):
    app = _open_app(cost_fn="abc", cost_fp="5000")
    warning = " ".join(element.value for element in app.warning)
    assert "cost_fn=abc is not a number" in warning
    assert "cost_fp=5000 is outside 0 to 1000" in warning
    assert app.select_slider(key="costs.cost_fn").value == 10.0


def test_unknown_linked_run_dropped(real_store_env):
    app = _open_app(run="doesnotexist")
    app.switch_page("views/threshold.py").run()
    warning = " ".join(element.value for element in app.warning)
    assert "run=doesnotexist is not among the runs" in warning
    assert "run" not in app.query_params


def test_link_notice_shown_once(real_store_env):
    app = _open_app(cost_fn="abc")
    app.select_slider(key="costs.cost_fp").set_value(2.0).run()
    assert not any("was ignored" in element.value for element in app.warning)


def test_run_url_format(monkeypatch):
    monkeypatch.setenv("CHURNLAB_MLFLOW_UI_URL", "http://127.0.0.1:5001/")
    assert data_access.run_url("3", "abc") == "http://127.0.0.1:5001/#/experiments/3/runs/abc"
    monkeypatch.delenv("CHURNLAB_MLFLOW_UI_URL")
    assert data_access.mlflow_ui_url() == "http://127.0.0.1:5000"
