"""Plotly figure builders shared by logged run artifacts and dashboard pages.

Each function takes arrays or frames and returns a `go.Figure`, with no I/O.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from sklearn.metrics import precision_recall_curve, roc_curve

FONT_SIZE = 16


def apply_layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    """Give a figure the shared look: title, axis titles, projector-sized font, white theme."""
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title=y_title,
        font={"size": FONT_SIZE},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Draw ROC curves, one per label, from (y_true, y_score) pairs."""
    fig = go.Figure()
    for label, (y_true, y_score) in curves.items():
        fpr, tpr, _ = roc_curve(y_true, y_score)
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=label))
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}
        )
    )
    return apply_layout(fig, "ROC curve", "False positive rate", "True positive rate (recall)")


def precision_recall_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Draw precision-recall curves, one per label, from (y_true, y_score) pairs."""
    fig = go.Figure()
    for label, (y_true, y_score) in curves.items():
        precision, recall, _ = precision_recall_curve(y_true, y_score)
        fig.add_trace(go.Scatter(x=recall, y=precision, mode="lines", name=label))
    return apply_layout(fig, "Precision-recall curve", "Recall", "Precision")


def cost_curve_figure(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    threshold: float | None = None,
    y_title: str = "Cost per customer",
) -> go.Figure:
    """Draw cost against threshold, one line per label, from (thresholds, cost) pairs.

    The chosen `threshold` and the default 0.5 are marked with vertical lines.
    """
    fig = go.Figure()
    for label, (thresholds, cost) in curves.items():
        x = np.minimum(thresholds, 1.0)
        fig.add_trace(go.Scatter(x=x, y=cost, mode="lines", name=label, line_shape="hv"))
    fig.add_vline(x=0.5, line_dash="dot", line_color="grey", annotation_text="0.5")
    if threshold is not None:
        fig.add_vline(
            x=threshold,
            line_dash="dash",
            line_color="crimson",
            annotation_text=f"chosen {threshold:.3f}",
            annotation_position="top right",
        )
    fig.update_xaxes(range=[0, 1])
    return apply_layout(fig, "Cost against decision threshold", "Decision threshold", y_title)


def confusion_matrix_figure(tp: int, fp: int, fn: int, tn: int) -> go.Figure:
    """Draw a 2x2 confusion matrix with customer counts."""
    z = [[tn, fp], [fn, tp]]
    labels = [
        ["stays, not contacted", "stays, contacted"],
        ["leaves, missed", "leaves, contacted"],
    ]
    text = [[f"{labels[i][j]}<br><b>{z[i][j]:,}</b>" for j in range(2)] for i in range(2)]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=["not contacted", "contacted"],
            y=["stays", "leaves"],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
        )
    )
    fig.update_yaxes(autorange="reversed")
    return apply_layout(fig, "Confusion matrix (customers)", "Decision", "Actual outcome")
