"""Tests of the diagnostics charts logged with a tuned run."""

from __future__ import annotations

import pandas as pd

from core.diagnostics import comparison_figure


def test_comparison_puts_auc_and_cost_on_own_axes():
    comparison = pd.DataFrame(
        {
            "model": ["baseline", "tuned"],
            "train_auc": [0.90, 0.88],
            "test_auc": [0.84, 0.85],
            "oof_cost": [0.50, 0.49],
            "test_cost": [0.53, 0.52],
        }
    )
    figure = comparison_figure(comparison)
    axes = {trace.yaxis: set(trace.x) for trace in figure.data}
    assert axes == {"y": {"train", "test"}, "y2": {"out-of-fold", "test"}}
    tuned_cost = [t for t in figure.data if t.name == "tuned" and t.yaxis == "y2"][0]
    assert list(tuned_cost.y) == [0.49, 0.52]
