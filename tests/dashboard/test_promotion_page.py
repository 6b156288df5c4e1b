"""AppTest checks of the Promotion page against a temporary store with a registered model."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import registry

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
    versions = app.dataframe[0].value
    assert sorted(versions["Version"].tolist()) == ["1", "2"]
    assert versions.set_index("Version").loc["1", "Aliases"] == "champion"
    history = app.dataframe[1].value
    assert history["by"].tolist() == ["analyst"]


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
