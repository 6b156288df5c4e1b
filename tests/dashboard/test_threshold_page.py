"""AppTest checks of the Threshold & cost page against real temporary tracking stores."""

from __future__ import annotations

import pytest
from page_helpers import metric_value, open_page, plotly_specs, plotted, texts

import core.leaderboard

PAGE = "threshold.py"

pytestmark = pytest.mark.slow


def test_threshold_page_renders_real_data(real_store_env):
    app = open_page(PAGE)
    assert not app.exception
    assert not app.error
    labels = [metric.label for metric in app.metric]
    assert labels == [
        "Threshold in use",
        "Customers to contact",
        "Cost at this threshold",
        "Saved against threshold 0.5",
        "Saved against contacting nobody",
        "Saved against contacting everyone",
    ]
    assert len(plotly_specs(app)) == 3


def test_confusion_matrix_counts_test_customers(real_store_env):
    app = open_page(PAGE)
    confusion = plotted(plotly_specs(app)[1]["data"][0]["z"])
    n_test = int(metric_value(app, "Customers to contact").replace(",", "")) + confusion[0][0]
    n_test += confusion[1][0]
    assert sum(sum(row) for row in confusion) == 1409
    assert n_test == 1409


def test_cost_fn_slider_changes_numbers(real_store_env, trained_store):
    app = open_page(PAGE, run=trained_store.run_ids["logistic_regression"])
    cost_before = metric_value(app, "Cost at this threshold")
    curve_before = plotted(plotly_specs(app)[0]["data"][0]["y"])

    app.select_slider(key="costs.cost_fn").set_value(100.0).run()

    assert not app.exception
    assert metric_value(app, "Cost at this threshold") != cost_before
    curve_after = plotted(plotly_specs(app)[0]["data"][0]["y"])
    assert len(curve_after) == len(curve_before)
    assert curve_after != curve_before
    assert app.query_params["cost_fn"] == "100"


def test_cost_fp_slider_changes_numbers(real_store_env):
    app = open_page(PAGE)
    cost_before = metric_value(app, "Cost at this threshold")

    app.select_slider(key="costs.cost_fp").set_value(5.0).run()

    assert metric_value(app, "Cost at this threshold") != cost_before
    assert app.query_params["cost_fp"] == "5"


def test_threshold_set_by_hand(real_store_env):
    app = open_page(PAGE)
    contacted_optimal = metric_value(app, "Customers to contact")
    assert app.slider(key="threshold.value").disabled

    app.toggle(key="threshold.manual").set_value(True).run()
    app.slider(key="threshold.value").set_value(0.5).run()

    assert metric_value(app, "Threshold in use") == "0.500"
    assert metric_value(app, "Customers to contact") != contacted_optimal
    assert metric_value(app, "Saved against threshold 0.5") == "0"
    assert app.query_params["threshold"] == "0.5"


def test_query_params_restore_state(real_store_env, trained_store):
    run_id = trained_store.run_ids["xgboost"]
    app = open_page(PAGE, cost_fn="50", cost_fp="2", threshold="0.3", run=run_id)

    assert app.select_slider(key="costs.cost_fn").value == 50.0
    assert app.select_slider(key="costs.cost_fp").value == 2.0
    assert app.selectbox(key="run.select").value == run_id
    assert app.toggle(key="threshold.manual").value
    assert metric_value(app, "Threshold in use") == "0.300"


def test_invalid_query_params_fall_back(real_store_env):
    app = open_page(PAGE, cost_fn="lots", cost_fp="-3", run="no-such-run")
    assert not app.exception
    assert app.select_slider(key="costs.cost_fn").value == 10.0
    assert app.select_slider(key="costs.cost_fp").value == 1.0


def test_slider_move_reuses_curves(real_store_env, monkeypatch):
    app = open_page(PAGE)
    builds = []
    original = core.leaderboard.curves_from_predictions
    monkeypatch.setattr(
        core.leaderboard,
        "curves_from_predictions",
        lambda predictions: builds.append(1) or original(predictions),
    )
    app.select_slider(key="costs.cost_fn").set_value(40.0).run()
    app.select_slider(key="costs.cost_fp").set_value(3.0).run()
    assert builds == []


def test_zero_costs_warn(real_store_env):
    app = open_page(PAGE, cost_fn="0", cost_fp="0")
    assert not app.exception
    assert "Both costs are 0" in texts(app)


def test_threshold_page_renders_generated_data(generated_env):
    app = open_page(PAGE)
    assert not app.exception
    assert not app.error
    assert len(plotly_specs(app)) == 3


def test_threshold_page_without_runs(empty_env):
    app = open_page(PAGE)
    assert not app.exception
    assert "make run" in texts(app)
