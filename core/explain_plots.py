"""Plotly figures of the global explanation, logged to runs and drawn on the Explain page.

Each function takes the frames of `core.explain_global.GlobalExplanation` and returns a
`go.Figure`, with no I/O. Contributions are in probability and shown in percentage points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

FONT_SIZE = 15
# Vertical spread of the beeswarm points within a feature's row, in row heights.
JITTER_HEIGHT = 0.35


def _layout(fig: go.Figure, title: str, x_title: str, height: int) -> go.Figure:
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        font={"size": FONT_SIZE},
        template="plotly_white",
        height=height,
        margin={"l": 160, "r": 20, "t": 60, "b": 60},
    )
    return fig


def mean_abs_shap_figure(mean_abs: pd.DataFrame) -> go.Figure:
    """Draw mean |SHAP| per raw feature as horizontal bars, the largest at the top."""
    ordered = mean_abs.sort_values("mean_abs_shap")
    fig = go.Figure(
        go.Bar(
            x=100 * ordered["mean_abs_shap"],
            y=ordered["feature"],
            orientation="h",
            marker_color="#1f77b4",
            hovertemplate="%{y}: %{x:.2f} points<extra></extra>",
        )
    )
    height = 120 + 24 * len(ordered)
    return _layout(
        fig, "Mean |SHAP| per feature", "Mean |contribution| (percentage points)", height
    )


def beeswarm_figure(beeswarm: pd.DataFrame, max_features: int = 12) -> go.Figure:
    """Draw one row of points per feature: contribution on x, coloured by the feature's value.

    Rows are ordered by mean |SHAP|, the largest at the top; only the top `max_features`
    are drawn. Points are jittered vertically with a fixed seed.
    """
    order = (
        beeswarm.groupby("feature")["shap"].apply(lambda s: s.abs().mean()).sort_values()
    ).index[-max_features:]
    shown = beeswarm[beeswarm["feature"].isin(order)]
    row = shown["feature"].map({feature: i for i, feature in enumerate(order)})
    jitter = np.random.default_rng(0).uniform(-JITTER_HEIGHT, JITTER_HEIGHT, len(shown))
    fig = go.Figure(
        go.Scattergl(
            x=100 * shown["shap"],
            y=row.to_numpy() + jitter,
            mode="markers",
            marker={
                "color": shown["value_scaled"],
                "colorscale": "RdBu_r",
                "cmin": 0,
                "cmax": 1,
                "size": 5,
                "colorbar": {"title": "value", "tickvals": [0, 1], "ticktext": ["low", "high"]},
            },
            text=shown["value_label"],
            hovertemplate="%{text}<br>%{x:+.1f} points<extra></extra>",
        )
    )
    fig.update_yaxes(tickvals=list(range(len(order))), ticktext=list(order))
    fig.add_vline(x=0, line_color="grey", line_width=1)
    height = 120 + 32 * len(order)
    return _layout(
        fig, "SHAP values of the test customers", "Contribution (percentage points)", height
    )


def importance_comparison_figure(importance: pd.DataFrame) -> go.Figure:
    """Draw built-in importance and permutation importance side by side, one row per feature.

    Permutation importance is the drop in test AUC with its standard deviation over repeats.
    Built-in importance is normalised to sum to 1; its panel is empty for an MLP.
    """
    ordered = importance.sort_values("permutation_mean")
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        subplot_titles=("Built-in (share of total)", "Permutation (AUC drop)"),
    )
    fig.add_trace(
        go.Bar(
            x=ordered["builtin"],
            y=ordered["feature"],
            orientation="h",
            name="built-in",
            marker_color="#7f7f7f",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=ordered["permutation_mean"],
            y=ordered["feature"],
            orientation="h",
            name="permutation",
            marker_color="#ff7f0e",
            error_x={"type": "data", "array": ordered["permutation_std"]},
        ),
        row=1,
        col=2,
    )
    fig.update_layout(showlegend=False)
    height = 120 + 24 * len(ordered)
    return _layout(fig, "Built-in against permutation importance", "", height)
