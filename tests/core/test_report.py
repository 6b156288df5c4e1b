"""Tests for core.report: the self-contained HTML meeting summary."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from core.costs import ConfusionCounts
from core.report import (
    MeetingSummary,
    build_meeting_summary,
    cost_band_svg,
    render_meeting_summary,
)
from core.uncertainty import cost_band
from core.value import CampaignSettings


@pytest.fixture(scope="module")
def band():
    rng = np.random.default_rng(0)
    scores = rng.random(400)
    labels = (rng.random(400) < scores).astype(int)
    return cost_band(labels, scores, 10, 1, threshold=0.2, n_resamples=20)


def make_summary(default_band, **changes) -> MeetingSummary:
    fields = {
        "title": "Churn campaign decision",
        "run_label": "xgboost · abc12345",
        "threshold": 0.2,
        "key_numbers": [("Savings per customer", "1.23 (90 %: 1.10 to 1.40)")],
        "confusion": ConfusionCounts(tp=10, fp=20, fn=3, tn=67),
        "band": default_band,
        "top_reasons": pd.DataFrame({"feature": ["Contract", "tenure"], "importance": [0.4, 0.2]}),
        "note": "Approved",
        "author": "ana",
    }
    return MeetingSummary(**(fields | changes))


def test_report_contains_key_parts(band):
    page = render_meeting_summary(make_summary(band))
    assert page.startswith("<!DOCTYPE html>")
    assert "Savings per customer" in page
    assert "<svg" in page
    assert "<polygon class='band'" in page
    assert "10 (TP)" in page
    assert "<li>Contract (0.400)</li>" in page


def test_cost_chart_labels_its_ticks(band):
    svg = cost_band_svg(band)
    ticks = re.findall(r"<text class='tick'[^>]*>([0-9.]+)</text>", svg)
    assert len(ticks) == 10
    assert ticks[0] == f"{band.grid[0]:.2f}"
    assert ticks[4] == f"{band.grid[-1]:.2f}"
    assert ticks[5] == "0.00"


def test_report_is_self_contained(band):
    page = render_meeting_summary(make_summary(band))
    assert "<script" not in page
    assert "src=" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_report_escapes_user_text(band):
    page = render_meeting_summary(make_summary(band, note="<script>alert(1)</script>"))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_report_without_reasons_or_band(band):
    page = render_meeting_summary(make_summary(band, top_reasons=None, band=None))
    assert "Not available" in page
    assert "No cost curve available" in page


def test_build_summary_key_numbers():
    rng = np.random.default_rng(1)
    scores = rng.random(400)
    test = pd.DataFrame(
        {
            "y_true": (rng.random(400) < scores).astype(int),
            "y_score": scores,
            "customer_value": np.full(400, 600.0),
        }
    )
    summary = build_meeting_summary(
        test,
        threshold=0.3,
        cost_fn=10,
        cost_fp=1,
        run_label="xgboost",
        campaign=CampaignSettings(),
        n_resamples=30,
    )
    labels = [label for label, _ in summary.key_numbers]
    assert "Savings per customer vs contacting no one" in labels
    assert "Campaign profit per test customer at the threshold in use" in labels
    assert summary.confusion.n_contacted == int((scores >= 0.3).sum())
    assert summary.band.threshold == 0.3
