"""A one-page HTML meeting summary of a threshold decision.

The page is self-contained: the cost curve is an inline SVG drawn here, not a Plotly chart,
so the file needs no JavaScript, no network and no other files, and stays a few kilobytes.
Every text that comes from users (note, author, run names) is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.costs import ConfusionCounts, confusion_at
from core.uncertainty import CostBand, cost_band, format_interval, profit_interval
from core.value import CampaignSettings

logger = logging.getLogger(__name__)

SVG_WIDTH = 640
SVG_HEIGHT = 300
SVG_MARGIN = 48


@dataclass(frozen=True)
class MeetingSummary:
    """Everything the meeting summary shows.

    Attributes:
        title: Heading of the page.
        run_label: The model run or version the decision is about.
        threshold: The decision threshold.
        key_numbers: (label, formatted value) pairs shown as a table, in order.
        confusion: Test confusion counts at `threshold`.
        band: Bootstrap cost band, drawn as the cost curve; None leaves the chart out.
        top_reasons: Frame with `feature` and `importance` columns, highest first, or None
            when no explanation is available for the run.
        note: Free text of the decision.
        author: Who made the decision.
        created_at: When the decision was made, as text.
        extra_lines: Further paragraphs shown at the end, such as data caveats.
    """

    title: str
    run_label: str
    threshold: float
    key_numbers: list[tuple[str, str]]
    confusion: ConfusionCounts
    band: CostBand | None = None
    top_reasons: pd.DataFrame | None = None
    note: str = ""
    author: str = ""
    created_at: str = ""
    extra_lines: list[str] = field(default_factory=list)


def render_meeting_summary(summary: MeetingSummary) -> str:
    """Render the summary as one self-contained HTML document."""
    sections = [
        f"<h1>{_escape(summary.title)}</h1>",
        f"<p class='meta'>Model: {_escape(summary.run_label)} · threshold "
        f"{summary.threshold:.4f} · decided by {_escape(summary.author or 'unknown')}"
        f"{' on ' + _escape(summary.created_at) if summary.created_at else ''}</p>",
        "<h2>Key numbers</h2>",
        _key_numbers_table(summary.key_numbers),
        "<div class='row'>",
        "<div><h2>Cost curve with bootstrap band</h2>",
        cost_band_svg(summary.band) if summary.band else "<p>No cost curve available.</p>",
        "</div>",
        "<div><h2>Confusion matrix (test set)</h2>",
        _confusion_table(summary.confusion),
        "</div></div>",
        "<h2>Top reasons for churn</h2>",
        _reasons_list(summary.top_reasons),
    ]
    if summary.note:
        sections += ["<h2>Note</h2>", f"<p>{_escape(summary.note)}</p>"]
    sections += [f"<p>{_escape(line)}</p>" for line in summary.extra_lines]
    body = "\n".join(sections)
    logger.debug("Rendered a meeting summary for %s", summary.run_label)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_escape(summary.title)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def cost_band_svg(band: CostBand) -> str:
    """Draw the cost per customer against threshold, its band and the threshold, as SVG."""
    x_values = band.grid
    y_max = float(np.nanmax(band.cost_high)) * 1.05 or 1.0

    def x_pixel(x: float) -> float:
        return SVG_MARGIN + (x - x_values[0]) / _span(x_values) * (SVG_WIDTH - 2 * SVG_MARGIN)

    def y_pixel(y: float) -> float:
        return SVG_HEIGHT - SVG_MARGIN - y / y_max * (SVG_HEIGHT - 2 * SVG_MARGIN)

    upper = [
        f"{x_pixel(x):.1f},{y_pixel(y):.1f}" for x, y in zip(x_values, band.cost_high, strict=True)
    ]
    lower = [
        f"{x_pixel(x):.1f},{y_pixel(y):.1f}" for x, y in zip(x_values, band.cost_low, strict=True)
    ]
    line = [f"{x_pixel(x):.1f},{y_pixel(y):.1f}" for x, y in zip(x_values, band.cost, strict=True)]
    threshold_x = x_pixel(min(max(band.threshold, x_values[0]), x_values[-1]))
    percent = round(band.cost_at_threshold.confidence * 100)
    bottom = SVG_HEIGHT - SVG_MARGIN
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{SVG_WIDTH}' height='{SVG_HEIGHT}' "
        "role='img' aria-label='Cost per customer against threshold'>"
        f"<polygon class='band' points='{' '.join(upper + lower[::-1])}'/>"
        f"<polyline class='curve' points='{' '.join(line)}'/>"
        f"<line class='threshold' x1='{threshold_x:.1f}' y1='{SVG_MARGIN}' "
        f"x2='{threshold_x:.1f}' y2='{bottom}'/>"
        f"<line class='axis' x1='{SVG_MARGIN}' y1='{bottom}' x2='{SVG_WIDTH - SVG_MARGIN}' "
        f"y2='{bottom}'/>"
        f"<line class='axis' x1='{SVG_MARGIN}' y1='{SVG_MARGIN}' x2='{SVG_MARGIN}' "
        f"y2='{bottom}'/>"
        + _ticks_svg(x_values, y_max, x_pixel, y_pixel)
        + f"<text x='{SVG_WIDTH / 2}' y='{SVG_HEIGHT - 10}'>threshold "
        f"({x_values[0]:g} to {x_values[-1]:g})</text>"
        f"<text x='4' y='{SVG_MARGIN - 12}'>cost per customer (0 to {y_max:.2f}), "
        f"{percent} % band over {band.n_resamples} resamples</text>"
        "</svg>"
    )


def _ticks_svg(x_values: np.ndarray, y_max: float, x_pixel, y_pixel) -> str:
    """Draw short tick marks with their values: five on the threshold axis, five on cost."""
    bottom = SVG_HEIGHT - SVG_MARGIN
    parts = []
    for x in np.linspace(x_values[0], x_values[-1], 5):
        px = x_pixel(x)
        parts.append(
            f"<line class='axis' x1='{px:.1f}' y1='{bottom}' x2='{px:.1f}' y2='{bottom + 5}'/>"
            f"<text class='tick' x='{px:.1f}' y='{bottom + 17}' text-anchor='middle'>"
            f"{x:.2f}</text>"
        )
    for y in np.linspace(0.0, y_max, 5):
        py = y_pixel(y)
        parts.append(
            f"<line class='axis' x1='{SVG_MARGIN - 5}' y1='{py:.1f}' x2='{SVG_MARGIN}' "
            f"y2='{py:.1f}'/><text class='tick' x='{SVG_MARGIN - 8}' y='{py + 4:.1f}' "
            f"text-anchor='end'>{y:.2f}</text>"
        )
    return "".join(parts)


def _key_numbers_table(key_numbers: list[tuple[str, str]]) -> str:
    rows = "".join(
        f"<tr><th>{_escape(label)}</th><td>{_escape(value)}</td></tr>"
        for label, value in key_numbers
    )
    return f"<table class='numbers'>{rows}</table>"


def _confusion_table(counts: ConfusionCounts) -> str:
    return (
        "<table class='confusion'><tr><th></th><th>contacted</th><th>not contacted</th></tr>"
        f"<tr><th>churned</th><td>{counts.tp} (TP)</td><td>{counts.fn} (FN)</td></tr>"
        f"<tr><th>stayed</th><td>{counts.fp} (FP)</td><td>{counts.tn} (TN)</td></tr></table>"
    )


def _reasons_list(reasons: pd.DataFrame | None) -> str:
    if reasons is None or reasons.empty:
        return "<p>Not available: no explanation has been computed for this run.</p>"
    items = "".join(
        f"<li>{_escape(str(row.feature))} ({float(row.importance):.3f})</li>"
        for row in reasons.itertuples(index=False)
    )
    return f"<ol>{items}</ol>"


def _span(values: np.ndarray) -> float:
    return float(values[-1] - values[0]) or 1.0


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 24px auto; color: #222; }
h1 { margin-bottom: 4px; } h2 { font-size: 1.1em; margin: 18px 0 6px; }
.meta { color: #555; } .row { display: flex; gap: 32px; flex-wrap: wrap; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: 4px 10px; }
th { text-align: left; background: #f4f4f4; }
.band { fill: #9ecae1; opacity: 0.6; } .curve { fill: none; stroke: #08519c; stroke-width: 2; }
.threshold { stroke: #d62728; stroke-dasharray: 4 3; } .axis { stroke: #444; }
text { font-size: 12px; fill: #333; }
@media print { body { margin: 0; } }
"""


def build_meeting_summary(
    test: pd.DataFrame,
    *,
    threshold: float,
    cost_fn: float,
    cost_fp: float,
    run_label: str,
    campaign: CampaignSettings | None = None,
    top_reasons: pd.DataFrame | None = None,
    note: str = "",
    author: str = "",
    created_at: str = "",
    n_resamples: int = 200,
) -> MeetingSummary:
    """Compute the key numbers of a decision on the test set and gather them for the page.

    Args:
        test: Test rows with `y_true`, `y_score` and, for campaign numbers, `customer_value`.
        threshold: The decision threshold.
        cost_fn: Cost of a missed churner.
        cost_fp: Cost of an unneeded offer.
        run_label: The model run or version, for the heading.
        campaign: Campaign settings; when given with `customer_value`, the expected campaign
            profit is added to the key numbers.
        top_reasons: Frame with `feature` and `importance`, or None when unavailable.
        note: Free text of the decision.
        author: Who made the decision.
        created_at: When it was made, as text.
        n_resamples: Bootstrap resamples for the band and intervals.
    """
    labels, scores = test["y_true"].to_numpy(), test["y_score"].to_numpy()
    band = cost_band(
        labels, scores, cost_fn, cost_fp, threshold=threshold, n_resamples=n_resamples
    )
    counts = confusion_at(labels, scores, threshold)
    key_numbers = [
        ("Costs", f"missed churner {cost_fn:g}, unneeded offer {cost_fp:g}"),
        ("Test customers contacted", f"{counts.n_contacted:,} of {labels.size:,}"),
        ("Cost per customer", format_interval(band.cost_at_threshold)),
        ("Savings per customer vs contacting no one", format_interval(band.savings_at_threshold)),
        (
            "Cost-optimal threshold on test resamples (for information only)",
            format_interval(band.optimal_threshold),
        ),
    ]
    if campaign is not None and "customer_value" in test.columns:
        profit = profit_interval(
            labels,
            scores,
            test["customer_value"].to_numpy(),
            threshold,
            campaign,
            n_resamples=n_resamples,
        )
        key_numbers.append(
            (
                "Campaign profit per test customer at the threshold in use",
                format_interval(profit, 2),
            )
        )
    return MeetingSummary(
        title="Churn retention decision",
        run_label=run_label,
        threshold=threshold,
        key_numbers=key_numbers,
        confusion=counts,
        band=band,
        top_reasons=top_reasons,
        note=note,
        author=author,
        created_at=created_at,
    )
