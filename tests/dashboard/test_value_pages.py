"""AppTest checks of the Business value and Decisions pages against a real trained store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.decisions import latest_decision, list_scenarios
from core.registry import resolve_model_name
from core.report import MeetingSummary, build_meeting_summary
from core.uncertainty import cost_band, profit_interval
from core.value import CampaignSettings, campaign_curve, gains_table, sensitivity_table
from dashboard import charts_value, decision_tabs, state, value_tabs
from dashboard.value_common import RunContext

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "views"
TIMEOUT = 60


@pytest.fixture
def store(trained_store, tmp_path, monkeypatch) -> str:
    """Point the pages at the trained store, with a decisions experiment per test."""
    monkeypatch.chdir(tmp_path)  # artifacts of a SQLite store go under the working directory
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", trained_store.experiment)
    monkeypatch.setenv("CHURNLAB_DECISIONS_EXPERIMENT", f"decisions-{tmp_path.name}")
    if trained_store.data_path:
        monkeypatch.setenv("CHURNLAB_DATA", trained_store.data_path)
    return trained_store.tracking_uri


def run_page(name: str) -> AppTest:
    app = AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)
    return app.run()


def metric_labels(app: AppTest) -> list[str]:
    return [metric.label for metric in app.metric]


@pytest.mark.slow
def test_business_value_renders_every_tab(store):
    app = run_page("business_value.py")
    assert not app.exception
    assert [tab.label for tab in app.tabs] == [
        "Cost and uncertainty",
        "Campaign profit",
        "Capacity",
        "Calibration",
        "EMP",
    ]
    labels = metric_labels(app)
    assert "Savings vs contacting no one" in labels
    assert "Profit per test customer" in labels
    assert "EMP per customer" in labels
    assert "Theoretical threshold" in labels
    assert not app.error


@pytest.mark.slow
def test_zero_horizon_keeps_last_view(store):
    app = run_page("business_value.py")
    profit_before = next(m.value for m in app.metric if m.label == "Profit per test customer")
    app.number_input(key="value.horizon_months").set_value(0.0).run()
    assert not app.exception
    assert "horizon_months=0" in app.sidebar.error[0].value
    profit_after = next(m.value for m in app.metric if m.label == "Profit per test customer")
    assert profit_after == profit_before


@pytest.mark.slow
def test_acceptance_outside_unit_interval(store):
    app = run_page("business_value.py")
    app.number_input(key="value.acceptance_rate").set_value(1.5).run()
    assert not app.exception
    assert "acceptance_rate=1.5" in app.sidebar.error[0].value


@pytest.mark.slow
def test_horizon_change_moves_profit(store):
    app = run_page("business_value.py")
    before = next(m.value for m in app.metric if m.label == "Profit per test customer")
    app.number_input(key="value.horizon_months").set_value(36.0).run()
    after = next(m.value for m in app.metric if m.label == "Profit per test customer")
    assert after != before


@pytest.mark.slow
def test_capacity_above_customer_count(store):
    app = run_page("business_value.py")
    app.number_input(key="value.capacity").set_value(10**6).run()
    assert not app.exception
    assert any("capacity must be from 1 to" in error.value for error in app.error)
    assert any("not 1000000" in error.value for error in app.error)
    assert "Churners found" in metric_labels(app)


@pytest.mark.slow
def test_capacity_change_updates_list(store):
    app = run_page("business_value.py")
    app.number_input(key="value.capacity").set_value(50).run()
    assert len(app.dataframe[0].value) == 50


@pytest.mark.slow
def test_calibration_adds_brier(store):
    app = run_page("business_value.py")
    app.radio(key="value.calibration_method").set_value("isotonic").run()
    labels = metric_labels(app)
    assert "Brier score (raw)" in labels
    assert "Brier score (Isotonic)" in labels


@pytest.mark.slow
def test_emp_rejects_zero_alpha(store):
    app = run_page("business_value.py")
    app.number_input(key="value.emp_alpha").set_value(0.0).run()
    assert not app.exception
    assert any("alpha=0" in error.value for error in app.error)
    assert "EMP per customer" in metric_labels(app)


@pytest.mark.slow
def test_resamples_change(store):
    app = run_page("business_value.py")
    app.select_slider(key="value.resamples").set_value(50).run()
    assert not app.exception


@pytest.mark.slow
def test_decisions_page_renders(store):
    app = run_page("decisions.py")
    assert not app.exception
    assert [tab.label for tab in app.tabs] == [
        "Decision log",
        "Scenarios",
        "Sensitivity",
        "Meeting summary",
    ]
    assert not app.error


@pytest.mark.slow
def test_save_scenario_round_trip(store):
    app = run_page("decisions.py")
    app.text_input(key="decisions.scenario_name").input("Finance")
    app.button[1].click().run()  # buttons: adopt form, scenario form
    assert not app.exception
    assert [s.name for s in list_scenarios(store)] == ["Finance"]
    assert len(app.dataframe) == 1


@pytest.mark.slow
def test_adopt_and_reapply_decision(store):
    app = run_page("decisions.py")
    app.text_area(key="decisions.note").input("Q1 campaign")
    app.button[0].click().run()
    assert not app.exception
    decision = latest_decision(store)
    assert decision is not None
    assert decision.note == "Q1 campaign"
    assert decision.savings_low <= decision.expected_savings <= decision.savings_high

    app.session_state[state.COST_FN_KEY] = 99.0
    app.button(key="decisions.reapply").click().run()
    assert not app.exception
    assert app.session_state[state.COST_FN_KEY] == decision.cost_fn
    assert app.session_state[state.THRESHOLD_KEY] == decision.threshold


def chart_case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    scores = rng.random(300)
    return (rng.random(300) < scores).astype(int), scores


def test_cost_band_figure_data():
    labels, scores = chart_case()
    band = cost_band(labels, scores, 10, 1, threshold=0.2, n_resamples=20)
    fig = charts_value.cost_band_figure(band)
    band_trace, curve_trace = fig.data
    assert len(band_trace.x) == 2 * band.grid.size
    np.testing.assert_allclose(curve_trace.y, band.cost)
    assert fig.layout.shapes[0].x0 == 0.2


def test_profit_figure_by_share():
    labels, scores = chart_case()
    curve = campaign_curve(labels, scores, np.full(300, 500.0), CampaignSettings())
    fig = charts_value.profit_figure(curve, threshold=0.5, by="share")
    np.testing.assert_allclose(fig.data[0].x, curve.share_contacted)
    marker = fig.layout.shapes[-1].x0
    assert marker == pytest.approx(np.mean(scores >= 0.5))


def test_gains_figure_ends_at_one():
    labels, scores = chart_case()
    fig = charts_value.gains_figure(gains_table(labels, scores), 30)
    assert fig.data[0].y[-1] == pytest.approx(1.0)
    assert fig.layout.shapes[0].x0 == pytest.approx(0.1)


def test_sensitivity_figure_two_axes():
    labels, scores = chart_case()
    table = sensitivity_table(labels, scores)
    fig = charts_value.sensitivity_figure(table)
    np.testing.assert_allclose(fig.data[0].y, table["threshold"])
    assert fig.data[1].yaxis == "y2"


def test_scenario_figure_whiskers():
    table = pd.DataFrame(
        {
            "scenario": ["Finance", "Marketing"],
            "savings_per_customer": [1.0, 2.0],
            "savings_low": [0.8, 1.5],
            "savings_high": [1.1, 2.4],
        }
    )
    fig = charts_value.scenario_figure(table)
    np.testing.assert_allclose(fig.data[0].error_y.array, [0.1, 0.4])
    np.testing.assert_allclose(fig.data[0].error_y.arrayminus, [0.2, 0.5])


APP = PAGES.parent / "app.py"


def open_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


@pytest.mark.slow
def test_campaign_kept_across_page_switch(store):
    app = open_app()
    app.switch_page("views/business_value.py").run()
    app.number_input(key="value.horizon_months").set_value(24.0).run()
    app.switch_page("views/decisions.py").run()
    assert not app.exception
    assert not app.error
    assert app.number_input(key="value.horizon_months").value == 24.0
    assert app.number_input(key="value.offer_cost").value == 50.0
    assert app.number_input(key="value.contact_cost").value == 5.0
    assert app.number_input(key="value.acceptance_rate").value == 0.3


@pytest.mark.slow
@pytest.mark.parametrize("page", ["business_value.py", "decisions.py", "explain.py"])
def test_default_run_matches_threshold_page(store, page):
    threshold_page = run_page("threshold.py")
    expected = threshold_page.selectbox(key=state.RUN_WIDGET).value
    app = run_page(page)
    assert not app.exception
    assert app.selectbox(key=state.RUN_WIDGET).value == expected


@pytest.mark.slow
def test_invalid_campaign_error_in_main_area(store):
    app = run_page("business_value.py")
    app.number_input(key="value.horizon_months").set_value(0.0).run()
    main_errors = [error.value for error in app.main.error]
    assert len(main_errors) == 1
    assert "The horizon must be more than 0 months, not 0.0" in main_errors[0]
    assert "Enter a number such as 12" in main_errors[0]


@pytest.mark.slow
def test_business_value_explains_terms(store):
    app = run_page("business_value.py")
    captions = " ".join(caption.value for caption in app.caption)
    assert "Out-of-fold predictions are scores for training customers" in captions
    assert "A bootstrap re-draws the test customers" in captions
    assert "EMP (expected maximum profit) is" in captions
    assert "Calibration checks whether the probabilities" in captions
    brier = next(m for m in app.metric if m.label.startswith("Brier score"))
    assert "Lower is better" in brier.proto.help


@pytest.mark.slow
def test_decision_names_model_for_people(store, trained_store):
    run_id = trained_store.run_ids["logistic_regression"]
    app = AppTest.from_file(str(PAGES / "decisions.py"), default_timeout=TIMEOUT)
    app.query_params["run"] = run_id
    app.run()
    current = next(md.value for md in app.markdown if md.value.startswith("**Current decision"))
    assert "Logistic regression · " in current
    assert "logistic_regression" not in current


@pytest.mark.slow
def test_thresholds_named_by_goal(store):
    app = run_page("business_value.py")
    captions = " ".join(caption.value for caption in app.caption)
    labels = metric_labels(app)

    assert "Threshold in use: " in captions
    assert "cost-optimal on training data" in captions
    assert "Why thresholds differ" in captions
    assert "Cost-optimal on test resamples" in labels
    assert "Profit-optimal threshold" in labels
    assert "Profit at threshold in use" in labels
    assert "for information only" in captions
    assert not [label for label in labels if "Best" in label]


@pytest.mark.slow
def test_metric_labels_fit_cards(store):
    app = run_page("business_value.py")
    labels = metric_labels(app)

    # A card in a quarter of the page cuts a label of more than about 30 characters.
    assert [label for label in labels if len(label) > 30] == []
    assert not [label for label in labels if "out-of-fold" in label]


@pytest.mark.slow
def test_profit_interval_under_card(store):
    app = run_page("business_value.py")
    campaign = app.tabs[1]
    captions = [caption.value for caption in campaign.caption]
    profit = float(next(m.value for m in campaign.metric if m.label == "Profit per test customer"))

    assert not [text for text in captions if "Profit interval (90 %" in text]
    intervals = [text for text in captions if re.fullmatch(r"90 % interval: \S+ to \S+", text)]
    assert len(intervals) == 2
    low, high = (float(part) for part in re.findall(r"-?[\d.]+", intervals[0])[1:])
    assert low <= profit <= high


@pytest.mark.slow
def test_campaign_inputs_named_apart(store):
    app = run_page("business_value.py")
    labels = [widget.label for widget in app.sidebar.number_input]
    captions = " ".join(caption.value for caption in app.sidebar.caption)

    assert "Retention offer cost (campaign model)" in labels
    assert all("(campaign model)" in label for label in labels)
    assert "A richer money model than the two business costs" in captions


@pytest.mark.slow
def test_contact_list_plain_headers(store):
    app = run_page("business_value.py")
    listing = app.dataframe[0].value

    assert list(listing.columns) == [
        "Rank",
        "Customer ID",
        "Churn probability",
        "Customer value (money)",
    ]


@pytest.mark.slow
def test_emp_inputs_plain_labels(store):
    app = run_page("business_value.py")
    alpha = app.number_input(key="value.emp_alpha")
    clv = app.number_input(key="value.emp_clv")
    captions = " ".join(caption.value for caption in app.caption)
    emp = next(m for m in app.metric if m.label == "EMP per customer")

    assert alpha.label == "Accepting customers (weight)"
    assert "Technical term: alpha" in alpha.help
    assert clv.label == "Value of a kept customer (money)"
    assert "Beta(" not in captions
    assert "around a mean of 30 %" in captions
    assert "Beta(6, 14)" in emp.proto.help


@pytest.mark.slow
def test_calibration_options_and_sentence(store):
    app = run_page("business_value.py")
    radio = app.radio(key="value.calibration_method")

    assert radio.options == ["None", "Isotonic", "Sigmoid (Platt)"]
    sentence = next(md.value for md in app.markdown if "Raw probabilities:" in md.value)
    assert "mean predicted churn risk" in sentence
    radio.set_value("sigmoid").run()
    assert any("Sigmoid (Platt) probabilities:" in md.value for md in app.markdown)
    assert "Brier score (Sigmoid (Platt))" in metric_labels(app)


@pytest.mark.parametrize(
    ("scores", "words"),
    [
        ([0.5, 0.5, 0.5, 0.5], "overstate the risk by 25.0 percentage points"),
        ([0.0, 0.0, 0.0, 0.1], "understate the risk by 22.5 percentage points"),
        ([0.3, 0.2, 0.2, 0.3], "match the observed rate on average"),
    ],
)
def test_calibration_sentence_direction(scores, words):
    sentence = value_tabs.calibration_sentence("raw", np.array([1, 0, 0, 0]), np.array(scores))
    assert words in sentence


@pytest.mark.slow
def test_version_placeholder_uses_registry_name(store):
    app = run_page("decisions.py")
    version = app.text_input(key="decisions.model_version")

    assert version.placeholder == f"{resolve_model_name()}/3"


@pytest.mark.slow
def test_sensitivity_marks_current_ratio(store):
    app = run_page("decisions.py")
    spec = next(
        json.loads(chart.proto.spec)
        for chart in app.get("plotly_chart")
        if "Sensitivity" in json.loads(chart.proto.spec)["layout"]["title"]["text"]
    )
    ticks = spec["layout"]["yaxis2"]["tickvals"]

    assert [shape["x0"] for shape in spec["layout"]["shapes"]] == [10.0]
    assert "current ratio 10" in spec["layout"]["annotations"][0]["text"]
    assert ticks[0] == 0.0
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 10.19, [0.0, 2.5, 5.0, 7.5, 10.0, 12.5]),
        (0.0, 0.75, [0.0, 0.2, 0.4, 0.6, 0.8]),
        (0.0, 3.0, [0.0, 1.0, 2.0, 3.0]),
        (2.0, 2.0, [2.0, 3.0]),
    ],
)
def test_nice_ticks(low, high, expected):
    assert charts_value.nice_ticks(low, high) == expected


def summary_case() -> tuple[MeetingSummary, RunContext]:
    labels, scores = chart_case()
    rows = pd.DataFrame(
        {
            "customerID": [f"C{i}" for i in range(300)],
            "y_true": labels,
            "y_score": scores,
            "customer_value": np.full(300, 500.0),
        }
    )
    context = RunContext(
        run_id="run",
        run_label="Logistic regression",
        predictions=rows.assign(split="test"),
        oof=rows,
        test=rows,
        cost_fn=10.0,
        cost_fp=1.0,
        campaign=CampaignSettings(),
        threshold=0.2,
        threshold_is_manual=False,
    )
    summary = build_meeting_summary(
        rows,
        threshold=0.2,
        cost_fn=10.0,
        cost_fp=1.0,
        run_label="Logistic regression",
        campaign=CampaignSettings(),
        n_resamples=20,
    )
    return summary, context


def test_summary_names_each_threshold():
    summary, context = summary_case()
    named = dict(decision_tabs.summary_with_named_thresholds(summary, context).key_numbers)

    assert "Optimal threshold on the test set" not in named
    assert "Cost-optimal threshold on test resamples (for information only)" in named
    assert named["Threshold in use"].startswith("0.2000, cost-optimal on training data")
    assert "Profit-optimal threshold for the campaign model (training data)" in named


def test_summary_profit_matches_page():
    summary, context = summary_case()
    named = dict(decision_tabs.summary_with_named_thresholds(summary, context).key_numbers)
    test = context.test
    in_use = profit_interval(
        test["y_true"], test["y_score"], test["customer_value"], 0.2, CampaignSettings()
    )

    profit_text = named["Campaign profit per test customer at the threshold in use"]
    assert profit_text.startswith(f"{in_use.point:.2f} (")
