"""Pure Plotly figure builders for the dashboard pages, sized for a projector.

Each function takes arrays, curves or frames and returns a `go.Figure`, with no I/O and no
Streamlit calls. Curves with more points than a screen can show are sampled at fixed
thresholds, and each sampled value is exact at its threshold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core import plots
from core.costs import DEFAULT_THRESHOLD, ConfusionCurve, CostCurve

FONT_SIZE = 18
MAX_CURVE_POINTS = 1500
CHURN_COLOR = "#c0392b"
STAY_COLOR = "#2e86c1"
NEUTRAL_COLOR = "#5d6d7e"
THRESHOLD_TITLE = "Decision threshold (churn probability)"


def projector_layout(fig: go.Figure, *, height: int = 430) -> go.Figure:
    """Enlarge fonts and fix the height so a figure reads well from the back of a room."""
    fig.update_layout(
        font={"size": FONT_SIZE},
        title_font={"size": FONT_SIZE + 4},
        height=height,
        template="plotly_white",
        margin={"l": 70, "r": 30, "t": 70, "b": 70},
    )
    return fig


def sample_indices(curve: ConfusionCurve, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Pick at most about `max_points` curve points, spread evenly over thresholds 0 to 1.

    A curve with fewer points is kept whole. Otherwise each sampled point is the curve point
    that applies at one of `max_points` evenly spaced thresholds, plus both ends.
    """
    size = curve.thresholds.size
    if size <= max_points:
        return np.arange(size)
    grid = np.linspace(0.0, 1.0, max_points)
    picked = np.searchsorted(curve.thresholds, grid, side="left")
    picked = np.clip(picked, 0, size - 1)
    return np.unique(np.concatenate([[0], picked, [size - 1]]))


def _layout(title: str, x_title: str, y_title: str, *, height: int = 430, **extra) -> dict:
    """Return a projector layout as a plain dict, validated once when the figure is built."""
    return {
        "title": {"text": title, "font": {"size": FONT_SIZE + 4}},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "font": {"size": FONT_SIZE},
        "template": "plotly_white",
        "height": height,
        "margin": {"l": 70, "r": 30, "t": 70, "b": 70},
        **extra,
    }


def _threshold_marker(x: float, text: str, color: str, dash: str) -> tuple[dict, dict]:
    """Return a vertical line shape and its label at threshold `x`."""
    shape = {
        "type": "line",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "yref": "paper",
        "line": {"color": color, "dash": dash, "width": 2},
    }
    label = {
        "x": x,
        "y": 1,
        "yref": "paper",
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "bottom",
        "font": {"color": color},
    }
    return shape, label


def threshold_cost_figure(
    curve: CostCurve,
    *,
    threshold: float,
    optimal: float,
    label: str = "test customers",
    money: str = "money",
) -> go.Figure:
    """Draw cost per customer against the threshold with 0.5, the optimum and the choice marked.

    The figure is built in one call rather than through `core.plots.cost_curve_figure`,
    because Plotly's `add_vline` and repeated `update_layout` calls took about 60 ms of a
    slider move.

    Args:
        curve: Cost curve of the test predictions at the current costs.
        threshold: Threshold in use, marked "chosen".
        optimal: Threshold with the minimum out-of-fold cost; marked when it differs from
            `threshold`.
        label: Legend name of the line.
        money: Currency word for the axis title.
    """
    picked = sample_indices(curve)
    markers = [_threshold_marker(DEFAULT_THRESHOLD, "0.5", "grey", "dot")]
    markers.append(_threshold_marker(threshold, f"chosen {threshold:.3f}", "crimson", "dash"))
    if not np.isclose(optimal, threshold):
        markers.append(_threshold_marker(optimal, f"optimal {optimal:.3f}", "seagreen", "dashdot"))
    line = go.Scatter(
        x=np.minimum(curve.thresholds[picked], 1.0),
        y=curve.cost_per_customer[picked],
        mode="lines",
        name=label,
        line={"shape": "hv", "width": 3, "color": STAY_COLOR},
    )
    layout = _layout(
        "Cost of each threshold on the test customers",
        THRESHOLD_TITLE,
        f"Cost per customer ({money})",
        shapes=[shape for shape, _ in markers],
        annotations=[text for _, text in markers],
        showlegend=False,
    )
    layout["xaxis"]["range"] = [0, 1]
    return go.Figure(data=[line], layout=layout)


def threshold_metrics_figure(curve: ConfusionCurve, *, threshold: float) -> go.Figure:
    """Draw precision, recall and F1 against the threshold, with the threshold in use marked."""
    picked = sample_indices(curve)
    tp = curve.tp[picked].astype(float)
    fp = curve.fp[picked].astype(float)
    fn = curve.fn[picked].astype(float)
    contacted = tp + fp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(contacted > 0, tp / contacted, np.nan)
        recall = tp / curve.n_positive if curve.n_positive else np.full_like(tp, np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)

    x = np.minimum(curve.thresholds[picked], 1.0)
    traces = [
        go.Scatter(x=x, y=values, mode="lines", name=name, line={"dash": dash, "width": 3})
        for name, values, dash in (
            ("Precision", precision, "solid"),
            ("Recall", recall, "dash"),
            ("F1", f1, "dot"),
        )
    ]
    shape, text = _threshold_marker(threshold, f"chosen {threshold:.3f}", "crimson", "dash")
    layout = _layout(
        "Precision, recall and F1 against the threshold",
        THRESHOLD_TITLE,
        "Score (0 to 1)",
        shapes=[shape],
        annotations=[text],
        legend={"orientation": "h", "y": -0.25},
    )
    layout["xaxis"]["range"] = [0, 1]
    layout["yaxis"]["range"] = [0, 1.05]
    return go.Figure(data=traces, layout=layout)


def confusion_figure(tp: int, fp: int, fn: int, tn: int) -> go.Figure:
    """Draw the confusion matrix in customers, one labelled cell per outcome.

    It shows the same cells as `core.plots.confusion_matrix_figure`, built in one call
    because that builder's separate update calls cost about 40 ms per slider move.
    """
    counts = [[tn, fp], [fn, tp]]
    names = [["stays, not contacted", "stays, contacted"], ["leaves, missed", "leaves, contacted"]]
    text = [[f"{names[i][j]}<br><b>{counts[i][j]:,}</b>" for j in range(2)] for i in range(2)]
    heatmap = go.Heatmap(
        z=counts,
        x=["not contacted", "contacted"],
        y=["stays", "leaves"],
        text=text,
        texttemplate="%{text}",
        textfont={"size": FONT_SIZE + 2},
        colorscale="Blues",
        showscale=False,
    )
    layout = _layout("Confusion matrix (customers)", "Decision", "Actual outcome", height=400)
    layout["yaxis"]["autorange"] = "reversed"
    return go.Figure(data=[heatmap], layout=layout)


def metric_by_run_figure(table: pd.DataFrame, metric: str, metric_label: str) -> go.Figure:
    """Draw one horizontal bar per run for `metric`, in the row order of `table`.

    Args:
        table: Frame with a `run` label column and the `metric` column.
        metric: Column to plot.
        metric_label: Axis title, with its unit.
    """
    fig = go.Figure(
        go.Bar(
            x=table[metric],
            y=table["run"],
            orientation="h",
            marker_color=STAY_COLOR,
            text=[_format_value(v) for v in table[metric]],
            textposition="auto",
        )
    )
    fig.update_yaxes(title="Run", autorange="reversed", type="category")
    fig.update_xaxes(title=metric_label)
    fig.update_layout(title=f"{metric_label} per run", showlegend=False)
    return projector_layout(fig, height=max(300, 60 + 38 * len(table)))


def overlaid_roc_figure(curves: dict[str, ConfusionCurve]) -> go.Figure:
    """Draw the ROC curves of several runs from their test confusion curves.

    Each point is one threshold of the exact curve: false positive rate `fp / negatives`
    against true positive rate `tp / positives`, the points `sklearn.metrics.roc_curve`
    returns before it drops collinear ones. Reading them from the cached curve avoids
    loading the run's predictions again.
    """
    traces = []
    for label, curve in curves.items():
        picked = sample_indices(curve)
        negatives = max(curve.n - curve.n_positive, 1)
        positives = max(curve.n_positive, 1)
        traces.append(
            go.Scatter(
                x=curve.fp[picked] / negatives,
                y=curve.tp[picked] / positives,
                mode="lines",
                name=label,
                line={"width": 3},
            )
        )
    traces.append(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}
        )
    )
    layout = _layout(
        "ROC curve on the test customers",
        "False positive rate (share of stayers contacted)",
        "True positive rate (recall)",
        legend={"orientation": "h", "y": -0.25},
    )
    return go.Figure(data=traces, layout=layout)


def overlaid_cost_figure(curves: dict[str, CostCurve], money: str = "money") -> go.Figure:
    """Draw the test cost per customer against the threshold for several runs."""
    pairs = {}
    for label, curve in curves.items():
        picked = sample_indices(curve)
        pairs[label] = (curve.thresholds[picked], curve.cost_per_customer[picked])
    fig = plots.cost_curve_figure(pairs, y_title=f"Cost per customer ({money})")
    fig.update_layout(title="Cost of each threshold on the test customers")
    fig.update_xaxes(title=THRESHOLD_TITLE)
    return projector_layout(fig)


def missing_values_figure(missing: pd.DataFrame) -> go.Figure:
    """Draw missing and blank cells per column, stacked, from `DataAudit.missing`."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=missing.index,
            y=missing["missing"],
            name="missing (empty cell)",
            marker_color=NEUTRAL_COLOR,
        )
    )
    fig.add_trace(
        go.Bar(
            x=missing.index,
            y=missing["blank"],
            name="hidden blank (spaces only)",
            marker_color=CHURN_COLOR,
        )
    )
    fig.update_layout(
        barmode="stack", title="Missing values per column", legend={"orientation": "h", "y": -0.45}
    )
    fig.update_xaxes(title="Column", tickangle=-45)
    fig.update_yaxes(title="Cells (customers)", rangemode="tozero")
    return projector_layout(fig, height=480)


def target_balance_figure(balance: pd.DataFrame) -> go.Figure:
    """Draw customers per churn label with counts and percentages, from `DataAudit`."""
    labels = [str(label) for label in balance.index]
    colors = [CHURN_COLOR if label == "Yes" else STAY_COLOR for label in labels]
    text = [
        f"{count:,} ({pct:.1f} %)"
        for count, pct in zip(balance["count"], balance["percent"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(x=labels, y=balance["count"], text=text, textposition="auto", marker_color=colors)
    )
    fig.update_xaxes(title="Churn")
    fig.update_yaxes(title="Customers")
    fig.update_layout(title="Churners and customers who stayed", showlegend=False)
    return projector_layout(fig, height=380)


def distribution_figure(values: pd.Series, churn: pd.Series | None, unit: str) -> go.Figure:
    """Draw a histogram with a box plot above it, split by churn when labels are given.

    Args:
        values: Numbers of one column; NaN are left out.
        churn: "Yes"/"No" labels with the same index, or None for one colour.
        unit: Unit of the values for the axis title, such as "months".
    """
    name = str(values.name)
    fig = go.Figure()
    groups = [("all customers", values, NEUTRAL_COLOR)]
    if churn is not None:
        groups = [
            ("stayed", values[churn == "No"], STAY_COLOR),
            ("churned", values[churn == "Yes"], CHURN_COLOR),
        ]
    for label, part, color in groups:
        part = part.dropna()
        fig.add_trace(
            go.Histogram(
                x=part, name=label, marker_color=color, opacity=0.65, yaxis="y", nbinsx=40
            )
        )
        fig.add_trace(
            go.Box(
                x=part,
                name=label,
                marker_color=color,
                yaxis="y2",
                showlegend=False,
                boxpoints=False,
            )
        )
    fig.update_layout(
        barmode="overlay",
        title=f"Distribution of {name}",
        xaxis={"title": f"{name} ({unit})"},
        yaxis={"title": "Customers", "domain": [0.0, 0.72]},
        yaxis2={"domain": [0.78, 1.0], "showticklabels": False},
        legend={"orientation": "h", "y": -0.25},
    )
    return projector_layout(fig, height=450)


def churn_by_category_figure(table: pd.DataFrame, column: str) -> go.Figure:
    """Draw the churn rate per category of one column, from `DataAudit.churn_by_category`."""
    rates = 100.0 * table["churn_rate"]
    text = [
        f"{rate:.1f} % of {customers:,}"
        for rate, customers in zip(rates, table["customers"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=table["category"].astype(str),
            y=rates,
            text=text,
            textposition="auto",
            marker_color=CHURN_COLOR,
        )
    )
    fig.update_xaxes(title=column, type="category")
    fig.update_yaxes(title="Churn rate (%)", rangemode="tozero")
    fig.update_layout(title=f"Churn rate by {column}", showlegend=False)
    return projector_layout(fig, height=380)


def _format_value(value: float) -> str:
    if pd.isna(value):
        return "n/a"
    return f"{value:.3f}"


def trial_history_figure(trials: pd.DataFrame, value_title: str) -> go.Figure:
    """Draw each complete trial's objective value and the best value so far, by trial number.

    Trial numbers are integers, so the x axis gets whole-number ticks only, at most about
    ten of them.

    Args:
        trials: Frame with `number`, `state`, `value` and `best_so_far`, as
            `core.tuning_jobs.StudyProgress.trials` returns.
        value_title: Axis title of the objective, with its unit.
    """
    complete = trials[trials["state"] == "COMPLETE"]
    numbers = complete["number"].astype(int)
    markers = go.Scatter(
        x=numbers, y=complete["value"], mode="markers", name="trial", marker={"size": 10}
    )
    best = go.Scatter(
        x=numbers,
        y=complete["best_so_far"],
        mode="lines",
        name="best so far",
        line={"shape": "hv", "width": 3},
    )
    layout = _layout(
        "Objective per trial (lower is better)",
        "Trial number",
        value_title,
        height=380,
        legend={"orientation": "h", "y": -0.3},
    )
    layout["xaxis"].update(_integer_ticks(numbers))
    return go.Figure(data=[markers, best], layout=layout)


def _integer_ticks(numbers: pd.Series) -> dict:
    """Return x-axis settings that place ticks on whole numbers only, about ten at most."""
    span = int(numbers.max() - numbers.min()) if len(numbers) else 0
    step = max(1, int(np.ceil(span / 10)))
    return {"tickmode": "linear", "tick0": 0, "dtick": step, "tickformat": "d"}


# Baseline-against-tuned bars: comparison column -> bar label, one chart per unit.
AUC_COLUMNS = {"train_auc": "Train", "test_auc": "Test"}
COST_COLUMNS = {"oof_cost": "Training data (out-of-fold)", "test_cost": "Test"}


def baseline_tuned_auc_figure(comparison: pd.DataFrame) -> go.Figure:
    """Draw the train and test ROC AUC of the baseline and the tuned model as grouped bars.

    Args:
        comparison: `core.diagnostics.Diagnostics.comparison`: a `model` column and the
            columns of `AUC_COLUMNS`.
    """
    return _grouped_bars(comparison, AUC_COLUMNS, "ROC AUC (higher is better)", "ROC AUC")


def baseline_tuned_cost_figure(comparison: pd.DataFrame, money: str = "money") -> go.Figure:
    """Draw the out-of-fold and test cost per customer of the baseline and the tuned model.

    Args:
        comparison: `core.diagnostics.Diagnostics.comparison`: a `model` column and the
            columns of `COST_COLUMNS`.
        money: Currency word for the axis title.
    """
    return _grouped_bars(
        comparison,
        COST_COLUMNS,
        "Cost per customer (lower is better)",
        f"Cost per customer ({money})",
    )


def _grouped_bars(
    comparison: pd.DataFrame, columns: dict[str, str], title: str, y_title: str
) -> go.Figure:
    colors = {"baseline": NEUTRAL_COLOR, "tuned": STAY_COLOR}
    bars = [
        go.Bar(
            x=list(columns.values()),
            y=[float(row[column]) for column in columns],
            name=str(row["model"]),
            marker_color=colors.get(str(row["model"])),
            text=[f"{float(row[column]):.3f}" for column in columns],
            textposition="auto",
        )
        for _, row in comparison.iterrows()
    ]
    layout = _layout(
        title, "", y_title, height=380, barmode="group", legend={"orientation": "h", "y": -0.2}
    )
    return go.Figure(data=bars, layout=layout)
