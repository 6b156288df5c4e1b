"""AppTest checks of the Overview page against real temporary tracking stores."""

from __future__ import annotations

import pytest
from page_helpers import metric_value, open_page, texts

PAGE = "overview.py"
SAVED = "Saved per customer against threshold 0.5"

pytestmark = pytest.mark.slow


def test_overview_shows_business_numbers(real_store_env, trained_store):
    app = open_page(PAGE)
    assert not app.exception
    assert metric_value(app, "Churn rate") == "26.5 %"
    if trained_store.data_path:
        assert metric_value(app, "Customers") == "7,043"
    best = metric_value(app, "Best model at these costs")
    assert best in {"Logistic regression", "XGBoost"}
    assert float(metric_value(app, SAVED)) > 0


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
