"""AppTest checks of the Leaderboard page against real temporary tracking stores."""

from __future__ import annotations

import re

import pytest
from page_helpers import open_page, plotly_specs, plotted, texts

from dashboard.state import model_display_name

PAGE = "leaderboard.py"
COST_NOW = "Cost now (per customer)"

pytestmark = pytest.mark.slow


def _table(app):
    return app.dataframe[0].value


def test_leaderboard_renders_real_runs(real_store_env, trained_store):
    app = open_page(PAGE)
    assert not app.exception
    table = _table(app)
    assert len(table) == len(trained_store.run_ids)
    assert list(table["rank"]) == [1, 2]
    assert table["Training-data cost now (out-of-fold)"].is_monotonic_increasing


def test_cost_column_follows_cost_slider(real_store_env):
    app = open_page(PAGE)
    before = _table(app).set_index("run")[COST_NOW]

    app.select_slider(key="costs.cost_fn").set_value(500.0).run()

    after = _table(app).set_index("run")[COST_NOW].loc[before.index]
    assert not app.exception
    assert (after.to_numpy() > before.to_numpy()).all()


def test_metric_chart_plots_sorted_column(real_store_env):
    app = open_page(PAGE)
    app.selectbox(key="leaderboard.sort").set_value("Test ROC AUC").run()
    app.toggle(key="leaderboard.ascending").set_value(False).run()
    bars = plotly_specs(app)[0]["data"][0]
    table = _table(app)
    assert plotted(bars["x"]) == pytest.approx(sorted(table["Test ROC AUC"], reverse=True))


def test_family_filter_keeps_matching_runs(real_store_env):
    app = open_page(PAGE)
    app.multiselect[0].set_value(["xgboost"]).run()
    table = _table(app)
    assert list(table["run"].str.split(" · ").str[0]) == ["XGBoost"]


def test_table_names_imbalance_for_people(real_store_env):
    table = _table(open_page(PAGE))
    assert set(table["imbalance"]) == {"class weights"}


def test_compare_shows_differences_and_curves(real_store_env, trained_store):
    app = open_page(PAGE)
    params = app.dataframe[1].value
    assert bool(params.loc["model", "differs"])
    assert params.index[0] != "cost_fn"
    roc, costs = plotly_specs(app)[1:3]
    run_names = {trace["name"].split(" · ")[0] for trace in roc["data"][:2]}
    assert run_names == {model_display_name(name) for name in trained_store.run_ids}
    assert roc["data"][2]["name"] == "chance"
    assert len(costs["data"]) == 2


def test_compare_needs_two_runs(real_store_env):
    app = open_page(PAGE)
    first = app.multiselect(key="leaderboard.compare").value[0]
    app.multiselect(key="leaderboard.compare").set_value([first]).run()
    assert "Pick at least two runs" in texts(app)


def test_runs_link_to_mlflow_ui(real_store_env, trained_store, monkeypatch):
    monkeypatch.setenv("CHURNLAB_MLFLOW_UI_URL", "http://127.0.0.1:5055/")
    app = open_page(PAGE)
    links = list(_table(app)["MLflow"])
    run_id = trained_store.run_ids["xgboost"]
    matching = [link for link in links if link.endswith(f"/runs/{run_id}")]
    assert len(matching) == 1
    assert matching[0].startswith("http://127.0.0.1:5055/#/experiments/")


def test_leaderboard_renders_generated_data(generated_env):
    app = open_page(PAGE)
    assert not app.exception
    assert len(_table(app)) == 1
    assert "Pick at least two runs" in texts(app)


def test_leaderboard_without_runs(empty_env):
    app = open_page(PAGE)
    assert not app.exception
    assert "make run" in texts(app)


def test_compare_states_money_difference(real_store_env):
    app = open_page(PAGE)
    shown = texts(app)

    assert "In money, at the current costs:" in shown
    assert "interval" in shown


def test_table_shows_emp(real_store_env):
    table = _table(open_page(PAGE))

    assert table["EMP (profit per customer)"].notna().all()
    assert table["EMP share to contact"].between(0, 1).all()


def test_compare_says_more_or_less(real_store_env):
    shown = texts(open_page(PAGE))

    assert re.search(r"costs \*\*\d+\.\d{3} (more|less) per test customer\*\* than", shown)
    assert "against" not in shown


def test_compare_labels_parameters_plainly(real_store_env):
    params = open_page(PAGE).dataframe[1].value

    assert not [name for name in params.index if "__" in name]
    assert "C (model)" in params.index


def test_compare_metrics_full_width(real_store_env):
    app = open_page(PAGE)
    metrics = app.dataframe[2].value
    tables_in_columns = [frame for column in app.columns for frame in column.dataframe]

    assert tables_in_columns == []
    assert list(metrics.index)[:2] == [
        "Training-data cost now (out-of-fold)",
        "Cost now (per customer)",
    ]
    assert metrics.shape[1] == 2
    assert metrics.notna().all().all()


def test_run_names_read_as_models(real_store_env):
    names = set(_table(open_page(PAGE))["run"].str.split(" · ").str[0])

    assert names == {"Logistic regression", "XGBoost"}
