"""AppTest checks of the Overview page against real temporary tracking stores."""

from __future__ import annotations

import uuid

import pytest
from page_helpers import metric_value, open_page, texts

from core import leaderboard, registry
from core.tracking import search_model_runs

PAGE = "overview.py"
SAVED = "Saved per customer against threshold 0.5"
BEST = "Best model at these costs"
DISPLAY_NAMES = {"logistic_regression": "Logistic regression", "xgboost": "XGBoost"}

pytestmark = pytest.mark.slow


def test_overview_shows_business_numbers(real_store_env, trained_store):
    app = open_page(PAGE)
    assert not app.exception
    assert metric_value(app, "Churn rate") == "26.5 %"
    if trained_store.data_path:
        assert metric_value(app, "Customers") == "7,043"
    best = metric_value(app, BEST)
    assert best in {"Logistic regression", "XGBoost"}
    assert float(metric_value(app, SAVED)) > 0


def _ranked(store) -> list[str]:
    """Return the store's model names, best-ranked first, at the default costs 10 and 1."""
    runs = search_model_runs(store.tracking_uri, store.experiment)
    curves = leaderboard.load_curves(runs, store.tracking_uri)
    ranked = leaderboard.rank_runs(runs, curves, 10.0, 1.0)
    names = {run_id: name for name, run_id in store.run_ids.items()}
    return [names[run_id] for run_id in ranked["run_id"]]


@pytest.fixture
def own_model_name(real_store_env, monkeypatch):
    """Give the test its own registered model, so its champion stays its own."""
    monkeypatch.setenv(registry.MODEL_NAME_ENV, f"churn-overview-{uuid.uuid4().hex[:8]}")
    return real_store_env


def test_best_card_names_ranking_basis(real_store_env):
    app = open_page(PAGE)
    card = next(metric for metric in app.metric if metric.label == BEST)
    assert "training-data cost" in card.delta
    assert "test cost" in card.delta
    assert "ranked first on its training-data (out-of-fold) cost" in texts(app)
    assert "held-out test customers" in texts(app)
    assert "bootstrap interval" in texts(app)


def test_champion_not_best_is_explained(own_model_name):
    store = own_model_name
    best, other = _ranked(store)
    registry.promote(run_id=store.run_ids[other], tracking_uri=store.tracking_uri)
    app = open_page(PAGE)
    page_text = texts(app)
    assert not app.exception
    assert f"**{DISPLAY_NAMES[other]}**" in page_text
    assert other not in page_text
    assert "It is not the best-ranked run" in page_text
    assert "promotion gate chose it on test cost" in page_text
    assert f"for {DISPLAY_NAMES[best]}." in page_text


def test_champion_that_is_best(own_model_name):
    store = own_model_name
    best = _ranked(store)[0]
    registry.promote(run_id=store.run_ids[best], tracking_uri=store.tracking_uri)
    app = open_page(PAGE)
    assert "It is also the best-ranked run" in texts(app)
    assert "It is not the best-ranked run" not in texts(app)


def test_overview_saving_follows_cost_slider(real_store_env):
    app = open_page(PAGE)
    before = metric_value(app, SAVED)
    app.select_slider(key="costs.cost_fp").set_value(5.0).run()
    assert metric_value(app, SAVED) != before


def test_overview_without_champion(real_store_env):
    app = open_page(PAGE)
    assert "No champion yet" in texts(app)


def test_overview_lists_other_pages(real_store_env):
    app = open_page(PAGE)
    page_text = texts(app)
    for page in ("Data audit", "Leaderboard", "Threshold & cost"):
        assert page in page_text


def test_overview_generated_data(generated_env):
    app = open_page(PAGE)
    assert not app.exception
    assert metric_value(app, "Customers") == "7,043"
    assert "generated demo data" in texts(app)


def test_overview_without_runs(empty_env):
    app = open_page(PAGE)
    assert not app.exception
    assert metric_value(app, "Best model") == "none yet"
    assert "make run" in texts(app)
