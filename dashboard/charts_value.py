"""Pure Plotly figure builders for the business-value pages.

Each function takes curves, bands or frames from `core.value`, `core.uncertainty` and
`core.calibration` and returns a `go.Figure`, with no I/O and no Streamlit calls.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.uncertainty import CostBand
from core.value import CampaignCurve
from dashboard.charts import (
    CHURN_COLOR,
    MAX_CURVE_POINTS,
    NEUTRAL_COLOR,
    STAY_COLOR,
    projector_layout,
)

BAND_FILL = "rgba(46, 134, 193, 0.25)"
# Behind marker labels, so a curve crossing a label does not hide it.
LABEL_BACKGROUND = "rgba(255, 255, 255, 0.85)"


def cost_band_figure(band: CostBand, *, money: str = "money") -> go.Figure:
    """Draw cost per customer against threshold with its bootstrap band and the decision."""
    percent = round(band.cost_at_threshold.confidence * 100)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([band.grid, band.grid[::-1]]),
            y=np.concatenate([band.cost_high, band.cost_low[::-1]]),
            fill="toself",
            fillcolor=BAND_FILL,
            line={"width": 0},
            name=f"{percent} % band ({band.n_resamples} resamples)",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=band.grid, y=band.cost, mode="lines", name="test set", line={"color": STAY_COLOR}
        )
    )
    fig.add_vline(x=band.threshold, line={"color": CHURN_COLOR, "dash": "dash"})
    fig.update_layout(
        title="Cost per customer with bootstrap band",
        xaxis_title="Threshold",
        yaxis_title=f"Cost per customer ({money})",
        legend={"orientation": "h", "y": -0.25},
    )
    return projector_layout(fig)


def profit_figure(
    curve: CampaignCurve,
    *,
    threshold: float,
    by: str = "threshold",
    money: str = "money",
    threshold_in_use: float | None = None,
) -> go.Figure:
    """Draw expected campaign profit per customer against the threshold or the share contacted.

    Args:
        curve: The campaign curve.
        threshold: The profit-optimal threshold, marked with a dashed line.
        by: "threshold" or "share" for the x axis.
        money: Name of the money unit for the axis title.
        threshold_in_use: The decision's threshold, marked with a dotted line when given.
    """
    picked = _sample(curve.thresholds.size)
    profit = curve.profit_per_customer[picked]
    if by == "share":
        x = curve.share_contacted[picked]
        x_title = "Share of customers contacted"
    else:
        x = np.minimum(curve.thresholds[picked], 1.0)
        x_title = "Threshold"
    fig = go.Figure(go.Scatter(x=x, y=profit, mode="lines", name="expected profit"))
    fig.add_hline(y=0, line={"color": NEUTRAL_COLOR, "width": 1})
    fig.add_vline(
        x=_marker_x(curve, threshold, by),
        line={"color": CHURN_COLOR, "dash": "dash"},
        annotation_text="profit-optimal",
        annotation_position="top right",
        annotation_bgcolor=LABEL_BACKGROUND,
    )
    if threshold_in_use is not None:
        fig.add_vline(
            x=_marker_x(curve, threshold_in_use, by),
            line={"color": NEUTRAL_COLOR, "dash": "dot"},
            annotation_text="in use",
            annotation_position="bottom right",
            annotation_bgcolor=LABEL_BACKGROUND,
        )
    fig.update_layout(
        title=f"Campaign profit against {'share contacted' if by == 'share' else 'threshold'}",
        xaxis_title=x_title,
        yaxis_title=f"Profit per customer ({money})",
        showlegend=False,
    )
    return projector_layout(fig)


def _marker_x(curve: CampaignCurve, threshold: float, by: str) -> float:
    if by != "share":
        return threshold
    index = min(int(np.searchsorted(curve.thresholds, threshold)), curve.thresholds.size - 1)
    return float(curve.share_contacted[index])


def gains_figure(table: pd.DataFrame, k: int) -> go.Figure:
    """Draw the cumulative gains curve with the random baseline and the capacity `k`."""
    picked = _sample(len(table))
    rows = table.iloc[picked]
    fig = go.Figure(
        go.Scatter(x=rows["share_contacted"], y=rows["gain"], mode="lines", name="model")
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="random", line={"dash": "dot", "color": "grey"}
        )
    )
    fig.add_vline(x=k / (len(table) - 1), line={"color": CHURN_COLOR, "dash": "dash"})
    fig.update_layout(
        title="Cumulative gains",
        xaxis_title="Share of customers contacted",
        yaxis_title="Share of churners found",
        legend={"orientation": "h", "y": -0.25},
    )
    return projector_layout(fig)


def lift_figure(table: pd.DataFrame, k: int) -> go.Figure:
    """Draw lift against the share contacted, with the capacity `k` marked."""
    rows = table.iloc[_sample(len(table))].iloc[1:]
    fig = go.Figure(go.Scatter(x=rows["share_contacted"], y=rows["lift"], mode="lines"))
    fig.add_hline(y=1, line={"color": NEUTRAL_COLOR, "dash": "dot"})
    fig.add_vline(x=k / (len(table) - 1), line={"color": CHURN_COLOR, "dash": "dash"})
    fig.update_layout(
        title="Lift",
        xaxis_title="Share of customers contacted",
        yaxis_title="Lift",
        showlegend=False,
    )
    return projector_layout(fig)


def reliability_figure(tables: dict[str, pd.DataFrame]) -> go.Figure:
    """Draw reliability diagrams, one line per label, with the diagonal of perfect calibration."""
    fig = go.Figure(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfectly calibrated",
            line={"dash": "dot", "color": "grey"},
        )
    )
    for label, table in tables.items():
        fig.add_trace(
            go.Scatter(
                x=table["mean_predicted"],
                y=table["fraction_positive"],
                mode="lines+markers",
                name=label,
                customdata=table["count"],
                hovertemplate=(
                    "mean score %{x:.3f}<br>churn rate %{y:.3f}<br>%{customdata} customers"
                ),
            )
        )
    fig.update_layout(
        title="Reliability diagram",
        xaxis_title="Mean predicted churn probability",
        yaxis_title="Observed churn rate",
        legend={"orientation": "h", "y": -0.25},
    )
    return projector_layout(fig)


def sensitivity_figure(
    table: pd.DataFrame, *, money: str = "money", current_ratio: float | None = None
) -> go.Figure:
    """Draw the optimal threshold and the savings against the FN/FP cost ratio.

    Args:
        table: A frame from `core.value.sensitivity_table`.
        money: Name of the money unit for the axis title.
        current_ratio: The ratio of the costs in use, marked with a labelled line when given.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=table["ratio"], y=table["threshold"], name="optimal threshold", mode="lines")
    )
    fig.add_trace(
        go.Scatter(
            x=table["ratio"],
            y=table["savings_per_customer"],
            name=f"savings per customer ({money})",
            mode="lines",
            yaxis="y2",
            line={"color": CHURN_COLOR},
        )
    )
    savings = table["savings_per_customer"]
    savings_ticks = nice_ticks(min(0.0, float(savings.min())), float(savings.max()))
    threshold_ticks = nice_ticks(0.0, float(table["threshold"].max()))
    if current_ratio is not None:
        fig.add_vline(
            x=current_ratio,
            line={"color": NEUTRAL_COLOR, "dash": "dash"},
            annotation_text=f"current ratio {current_ratio:g}",
            annotation_position="top right",
            annotation_bgcolor=LABEL_BACKGROUND,
        )
    fig.update_layout(
        title="Sensitivity to the cost ratio (missed churner / unneeded offer)",
        xaxis_title="Cost of a missed churner / cost of an unneeded offer",
        yaxis={
            "title": "Optimal threshold",
            "tickmode": "array",
            "tickvals": threshold_ticks,
            "range": [threshold_ticks[0], threshold_ticks[-1]],
        },
        yaxis2={
            "title": f"Savings per customer ({money})",
            "overlaying": "y",
            "side": "right",
            "tickmode": "array",
            "tickvals": savings_ticks,
            "range": [savings_ticks[0], savings_ticks[-1]],
            "showgrid": False,
        },
        legend={"orientation": "h", "y": -0.25},
    )
    return projector_layout(fig)


def nice_ticks(low: float, high: float, max_ticks: int = 6) -> list[float]:
    """Return evenly spaced round tick values (steps of 1, 2, 2.5 or 5 times a power of 10).

    The ticks start at or below `low` and end at or above `high`, so they can set the range.
    """
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low, low + 1.0]
    raw_step = (high - low) / (max_ticks - 1)
    power = 10.0 ** math.floor(math.log10(raw_step))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw_step)
    start = math.floor(low / step) * step
    count = math.ceil((high - start) / step - 1e-9)
    return [round(start + i * step, 10) for i in range(count + 1)]


def scenario_figure(table: pd.DataFrame, *, money: str = "money") -> go.Figure:
    """Draw savings per customer for each scenario, with interval whiskers when present."""
    error = None
    if {"savings_low", "savings_high"} <= set(table.columns):
        error = {
            "type": "data",
            "array": table["savings_high"] - table["savings_per_customer"],
            "arrayminus": table["savings_per_customer"] - table["savings_low"],
        }
    fig = go.Figure(go.Bar(x=table["scenario"], y=table["savings_per_customer"], error_y=error))
    fig.update_layout(
        title="Savings per customer by scenario",
        xaxis_title="Scenario",
        yaxis_title=f"Savings per customer ({money})",
        showlegend=False,
    )
    return projector_layout(fig)


def _sample(size: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    if size <= max_points:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, max_points).astype(int))
