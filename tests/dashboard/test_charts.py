"""Tests of the dashboard's pure figure builders: the plotted data, not only the types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.audit import audit_frame
from core.costs import confusion_curve, cost_curve
from core.leaderboard import curve_index
from dashboard import charts


def _scores(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = (rng.random(n) < 0.3).astype(int)
    y_score = np.clip(0.35 * y_true + 0.65 * rng.random(n), 0, 1)
    return y_true, y_score


def test_sample_indices_keeps_small_curves_whole():
    curve = confusion_curve(*_scores(300))
    np.testing.assert_array_equal(charts.sample_indices(curve), np.arange(curve.thresholds.size))


def test_sample_indices_bounds_large_curves():
    curve = confusion_curve(*_scores(50_000))
    picked = charts.sample_indices(curve, max_points=500)
    assert picked.size <= 502
    assert picked[0] == 0
    assert picked[-1] == curve.thresholds.size - 1
    assert np.all(np.diff(picked) > 0)
    # The point that applies at each grid threshold is kept, so values there are exact.
    for grid_threshold in np.linspace(0.0, 1.0, 500)[[50, 250, 450]]:
        assert curve_index(curve, grid_threshold) in set(picked.tolist())


def test_threshold_cost_figure_plots_curve_and_markers():
    curve = cost_curve(*_scores(400), cost_fn=10, cost_fp=1)
    fig = charts.threshold_cost_figure(curve, threshold=0.3, optimal=0.2)
    line = fig.data[0]
    np.testing.assert_allclose(line.y, curve.cost_per_customer)
    np.testing.assert_allclose(line.x, np.minimum(curve.thresholds, 1.0))
    marked = sorted(shape.x0 for shape in fig.layout.shapes)
    assert marked == [0.2, 0.3, 0.5]
    assert fig.layout.yaxis.title.text == "Cost per customer (money)"
    assert fig.layout.xaxis.title.text == charts.THRESHOLD_TITLE
    assert fig.layout.font.size == charts.FONT_SIZE


def test_threshold_cost_figure_marks_optimum_once_when_chosen():
    curve = cost_curve(*_scores(400))
    fig = charts.threshold_cost_figure(curve, threshold=0.2, optimal=0.2)
    assert sorted(shape.x0 for shape in fig.layout.shapes) == [0.2, 0.5]


def test_threshold_metrics_figure_matches_curve():
    curve = confusion_curve(*_scores(400))
    fig = charts.threshold_metrics_figure(curve, threshold=0.4)
    by_name = {trace.name: np.asarray(trace.y, dtype=float) for trace in fig.data}
    np.testing.assert_allclose(by_name["Precision"], curve.precision(), equal_nan=True)
    np.testing.assert_allclose(by_name["Recall"], curve.recall(), equal_nan=True)
    np.testing.assert_allclose(by_name["F1"], curve.f1(), equal_nan=True)


def test_confusion_figure_counts():
    fig = charts.confusion_figure(tp=30, fp=20, fn=5, tn=100)
    assert [list(row) for row in fig.data[0].z] == [[100, 20], [5, 30]]


def test_metric_by_run_figure_keeps_order():
    table = pd.DataFrame({"run": ["b · 1", "a · 2"], "Test ROC AUC": [0.84, 0.83]})
    fig = charts.metric_by_run_figure(table, "Test ROC AUC", "Test ROC AUC")
    assert list(fig.data[0].y) == ["b · 1", "a · 2"]
    assert list(fig.data[0].x) == [0.84, 0.83]
    assert list(fig.data[0].text) == ["0.840", "0.830"]


def test_overlaid_cost_figure_one_line_per_run():
    curves = {
        "first": cost_curve(*_scores(300, seed=1)),
        "second": cost_curve(*_scores(300, seed=2)),
    }
    fig = charts.overlaid_cost_figure(curves)
    assert [trace.name for trace in fig.data] == ["first", "second"]
    np.testing.assert_allclose(fig.data[1].y, curves["second"].cost_per_customer)


def test_overlaid_roc_figure_matches_sklearn_auc():
    y_true, y_score = _scores(500, seed=4)
    fig = charts.overlaid_roc_figure({"run": confusion_curve(y_true, y_score)})
    assert [trace.name for trace in fig.data] == ["run", "chance"]
    fpr = np.asarray(fig.data[0].x)
    tpr = np.asarray(fig.data[0].y)
    assert fpr[0] == 1.0
    assert tpr[-1] == 0.0
    area = abs(np.trapezoid(tpr, fpr))
    assert area == pytest.approx(roc_auc_score(y_true, y_score))


@pytest.fixture(scope="module")
def audit(generated_frame):
    frame = generated_frame.copy()
    frame.loc[frame.index[:3], "TotalCharges"] = " "
    return frame, audit_frame(frame)


def test_missing_values_figure_stacks_blanks(audit):
    _, result = audit
    fig = charts.missing_values_figure(result.missing)
    blanks = dict(zip(fig.data[1].x, fig.data[1].y, strict=True))
    assert blanks["TotalCharges"] == result.missing.loc["TotalCharges", "blank"]
    assert blanks["TotalCharges"] >= 3
    assert fig.layout.barmode == "stack"


def test_target_balance_figure_labels_percentages(audit):
    frame, result = audit
    fig = charts.target_balance_figure(result.target_balance)
    n_yes = int((frame["Churn"] == "Yes").sum())
    assert list(fig.data[0].x) == ["No", "Yes"]
    assert fig.data[0].y[1] == n_yes
    assert fig.data[0].text[1] == f"{n_yes:,} ({100 * n_yes / len(frame):.1f} %)"


def test_distribution_figure_splits_by_churn(audit):
    frame, _ = audit
    values = pd.to_numeric(frame["tenure"]).rename("tenure")
    fig = charts.distribution_figure(values, frame["Churn"], "months")
    names = [trace.name for trace in fig.data]
    assert names == ["stayed", "stayed", "churned", "churned"]
    assert len(fig.data[0].x) + len(fig.data[2].x) == len(frame)
    assert fig.layout.xaxis.title.text == "tenure (months)"


def test_churn_by_category_figure_in_percent(audit):
    _, result = audit
    table = result.churn_by_category["Contract"]
    fig = charts.churn_by_category_figure(table, "Contract")
    np.testing.assert_allclose(fig.data[0].y, 100 * table["churn_rate"])
    assert fig.layout.yaxis.title.text == "Churn rate (%)"
