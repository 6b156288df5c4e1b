"""AppTest checks of the Promotion page against a temporary store with a registered model."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import leaderboard, registry
from core.tracking import search_model_runs

PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "views" / "promotion.py"
TIMEOUT = 120

pytestmark = pytest.mark.slow


@pytest.fixture
def store(trained_store, tmp_path, monkeypatch):
    """The trained store with its own registered model name; nothing registered yet."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", trained_store.experiment)
    monkeypatch.setenv(registry.MODEL_NAME_ENV, f"churn-page-{uuid.uuid4().hex[:8]}")
    return trained_store


def open_page() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=TIMEOUT).run()


def test_page_without_versions_says_so(store):
    app = open_page()
    assert not app.exception
    assert any("No champion yet" in info.value for info in app.info)
    assert any("No registered versions" in info.value for info in app.info)


def test_page_lists_versions_and_history(store):
    uri = store.tracking_uri
    registry.promote(run_id=store.run_ids["xgboost"], promoted_by="analyst", tracking_uri=uri)
    registry.register_run(store.run_ids["logistic_regression"], tracking_uri=uri)
    app = open_page()
    assert not app.exception
    versions = app.dataframe[0].value.set_index("Version")
    assert sorted(versions.index) == ["1", "2"]
    assert versions.loc["1", "Alias"] == "champion"
    assert versions.loc["2", "Alias"] == "—"
    history = app.dataframe[2].value
    assert history["By"].tolist() == ["analyst"]


def test_versions_table_reads_plainly(store):
    uri = store.tracking_uri
    registry.promote(run_id=store.run_ids["xgboost"], promoted_by="analyst", tracking_uri=uri)
    app = open_page()
    versions = app.dataframe[0].value.set_index("Version")
    assert "Data" not in versions.columns
    assert "Run" not in versions.columns
    assert versions.loc["1", "Model"] == "XGBoost"
    assert versions.loc["1", "Missed churner / unneeded offer"] == "10 / 1"
    promoted = versions.loc["1", "Promoted (UTC)"]
    assert re.fullmatch(r"\d\d [A-Z][a-z]{2} \d\d:\d\d by analyst", promoted)
    details = app.dataframe[1].value
    assert details["MLflow run (short id)"].tolist() == [store.run_ids["xgboost"][:8]]
    markdown = "\n".join(element.value for element in app.markdown)
    assert "Champion: **XGBoost**" in markdown


def test_history_shows_dash_for_none(store):
    registry.promote(run_id=store.run_ids["xgboost"], tracking_uri=store.tracking_uri)
    app = open_page()
    history = app.dataframe[2].value
    assert history["Previous version"].tolist() == ["—"]
    assert re.fullmatch(r"\d\d [A-Z][a-z]{2} \d\d:\d\d", history["When (UTC)"].iloc[0])


def test_register_defaults_to_ranked_run(store):
    runs = search_model_runs(store.tracking_uri, store.experiment)
    curves = leaderboard.load_curves(runs, store.tracking_uri)
    ranked = leaderboard.rank_runs(runs, curves, 10.0, 1.0)
    app = open_page()
    assert app.selectbox(key="run.select").value == ranked["run_id"].iloc[0]


def test_promotion_needs_confirmation(store):
    uri = store.tracking_uri
    first = registry.promote(run_id=store.run_ids["xgboost"], tracking_uri=uri)
    second = registry.register_run(store.run_ids["logistic_regression"], tracking_uri=uri)
    app = open_page()
    app.selectbox(key="promotion.version").set_value(second).run()
    app.button(key="promotion.check_button").click().run()
    assert not app.exception
    assert registry.get_champion(uri).version == first.version
    assert len(app.metric) == 2

    confirm = app.button(key="promotion.confirm")
    if confirm.disabled:
        app.checkbox(key="promotion.override").check().run()
    app.button(key="promotion.confirm").click().run()
    assert not app.exception
    assert registry.get_champion(uri).version == second
    assert any(f"champion is now version {second}" in s.value for s in app.success)


def test_rollback_needs_confirmation(store):
    uri = store.tracking_uri
    first = registry.promote(run_id=store.run_ids["xgboost"], tracking_uri=uri)
    registry.promote(run_id=store.run_ids["logistic_regression"], force=True, tracking_uri=uri)
    app = open_page()
    app.button(key="promotion.rollback").click().run()
    assert registry.get_champion(uri).version != first.version
    app.button(key="promotion.rollback_confirm").click().run()
    assert not app.exception
    assert registry.get_champion(uri).version == first.version
