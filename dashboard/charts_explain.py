"""Plotly figures of one customer's explanation for the Explain page.

The global figures (mean |SHAP|, beeswarm, importance comparison) live in
`core.explain_plots`, because they are also logged to runs.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

FONT_SIZE = 15
RISK_UP_COLOUR = "#d62728"
RISK_DOWN_COLOUR = "#2ca02c"


def waterfall_figure(
    table: pd.DataFrame,
    base_value: float,
    probability: float,
    *,
    max_bars: int = 10,
    title: str = "Why this churn probability",
) -> go.Figure:
    """Draw a waterfall from the model's average probability to this customer's probability.

    Args:
        table: Columns label and contribution (probability), largest |contribution| first,
            as `core.explain.contribution_table` returns.
        base_value: Probability the bars start from.
        probability: The customer's churn probability, where the bars end.
        max_bars: Features drawn as their own bar; the rest are summed into one bar.
        title: Figure title.
    """
    shown = table.head(max_bars)
    rest = table.iloc[max_bars:]
    labels = list(shown["label"])
    deltas = list(shown["contribution"])
    if not rest.empty:
        labels.append(f"{len(rest)} other features")
        deltas.append(float(rest["contribution"].sum()))
    points = [100 * d for d in deltas]
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["absolute", *["relative"] * len(points), "total"],
            y=["average customer", *labels, "this customer"],
            x=[100 * base_value, *points, 100 * probability],
            text=[
                f"{100 * base_value:.1f}%",
                *[f"{p:+.1f}" for p in points],
                f"{100 * probability:.1f}%",
            ],
            textposition="outside",
            increasing={"marker": {"color": RISK_UP_COLOUR}},
            decreasing={"marker": {"color": RISK_DOWN_COLOUR}},
            totals={"marker": {"color": "#1f77b4"}},
            connector={"line": {"color": "#bbbbbb"}},
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=title,
        xaxis_title="Churn probability (%)",
        font={"size": FONT_SIZE},
        template="plotly_white",
        height=140 + 34 * (len(points) + 2),
        margin={"l": 260, "r": 40, "t": 60, "b": 60},
        showlegend=False,
    )
    return fig
