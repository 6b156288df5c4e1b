"""Tests of run ranking at the current costs, curve lookups and parameter differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import leaderboard
from core.costs import (
    confusion_at,
    confusion_curve,
    cost_at,
    cost_curve,
    cost_summary,
    optimal_threshold,
)
from core.tracking import load_predictions, search_model_runs


def _predictions(seed: int, n_oof: int = 400, n_test: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for split, n in (("oof", n_oof), ("test", n_test)):
        y_true = (rng.random(n) < 0.3).astype(int)
        # Rounded scores create ties, which the curve must keep on one side of a threshold.
        y_score = np.round(np.clip(0.3 * y_true + rng.random(n) * 0.7, 0, 1), 2)
        parts.append(
            pd.DataFrame(
                {
                    "customerID": [f"{split}{i}" for i in range(n)],
                    "split": split,
                    "y_true": y_true,
                    "y_score": y_score,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _split(predictions: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray]:
    rows = predictions[predictions["split"] == split]
    return rows["y_true"].to_numpy(), rows["y_score"].to_numpy()


@pytest.mark.parametrize("threshold", [0.0, 0.005, 0.3, 0.31, 0.5, 0.999, 1.0, 1.5])
def test_curve_index_matches_confusion_at(threshold):
    y_true, y_score = _split(_predictions(1), "test")
    curve = confusion_curve(y_true, y_score)
    index = leaderboard.curve_index(curve, threshold)
    counts = confusion_at(y_true, y_score, threshold)
    assert curve.tp[index] == counts.tp
    assert curve.fp[index] == counts.fp
    assert curve.fn[index] == counts.fn
    assert curve.tn[index] == counts.tn


@pytest.mark.parametrize(("cost_fn", "cost_fp"), [(10, 1), (1, 1), (500, 3), (0, 2), (5, 0)])
def test_run_cost_chooses_threshold_on_oof(cost_fn, cost_fp):
    predictions = _predictions(2)
    curves = leaderboard.curves_from_predictions(predictions)
    figures = leaderboard.run_cost(curves, cost_fn, cost_fp)

    oof_true, oof_score = _split(predictions, "oof")
    test_true, test_score = _split(predictions, "test")
    expected = optimal_threshold(cost_curve(oof_true, oof_score, cost_fn, cost_fp))
    assert figures.threshold == expected.threshold
    assert figures.oof_cost_per_customer == pytest.approx(expected.cost_per_customer)
    expected_test = cost_at(test_true, test_score, expected.threshold, cost_fn, cost_fp)
    assert figures.test_cost == pytest.approx(expected_test)
    assert figures.test_cost_per_customer == pytest.approx(expected_test / len(test_true))
    assert figures.test_contacted == int((test_score >= expected.threshold).sum())


@pytest.mark.parametrize("threshold", [0.0, 0.25, 0.5, 0.77, 1.0])
def test_summary_at_matches_cost_summary(threshold):
    y_true, y_score = _split(_predictions(3), "test")
    curve = cost_curve(y_true, y_score, 7, 2)
    summary = leaderboard.summary_at(curve, threshold)
    expected = cost_summary(y_true, y_score, threshold, 7, 2)
    for field in (
        "cost",
        "cost_default_threshold",
        "cost_contact_none",
        "cost_contact_all",
        "savings_vs_default_threshold_per_customer",
        "savings_vs_contact_none",
        "savings_vs_contact_all",
    ):
        assert getattr(summary, field) == pytest.approx(getattr(expected, field)), field


def test_curves_reject_missing_split():
    predictions = _predictions(4)
    only_oof = predictions[predictions["split"] == "oof"]
    with pytest.raises(ValueError, match="no rows with split == 'test'"):
        leaderboard.curves_from_predictions(only_oof)


def _runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "tags.model_family": ["linear", "boosting", "boosting"],
            "tags.imbalance": ["class_weight", "smote", "class_weight"],
            "tags.churnlab.kind": ["train", "tuned", "train"],
            "params.model": ["logistic_regression", "xgboost", "xgboost"],
            "params.model__C": ["1.0", None, None],
            "params.model__max_depth": [None, "4", "6"],
            "params.cost_fn": ["10", "10", "10"],
        }
    )


def test_rank_runs_follows_current_costs():
    runs = _runs_frame()
    curves = {
        run_id: leaderboard.curves_from_predictions(_predictions(seed))
        for run_id, seed in (("a", 5), ("b", 6))
    }
    ranked = leaderboard.rank_runs(runs, curves, 10, 1)

    figures = {run_id: leaderboard.run_cost(curves[run_id], 10, 1) for run_id in curves}
    oof_costs = {run_id: figure.oof_cost_per_customer for run_id, figure in figures.items()}
    best = min(oof_costs, key=oof_costs.get)
    assert ranked["run_id"].iloc[0] == best
    assert list(ranked[leaderboard.RANK]) == [1, 2, 0]
    assert ranked["run_id"].iloc[2] == "c"
    assert np.isnan(ranked[leaderboard.COST_NOW].iloc[2])
    assert ranked[leaderboard.OOF_COST_NOW].iloc[0] == pytest.approx(oof_costs[best])
    assert ranked[leaderboard.COST_NOW].iloc[0] == pytest.approx(
        figures[best].test_cost_per_customer
    )


def test_rank_runs_rejects_invalid_costs():
    runs = _runs_frame().iloc[:1]
    curves = {"a": leaderboard.curves_from_predictions(_predictions(5))}
    with pytest.raises(ValueError, match="cost_fn and cost_fp are both 0"):
        leaderboard.rank_runs(runs, curves, 0, 0)


def test_ranking_changes_with_costs():
    # Run "a" ranks half the churners on top and ties the rest with everyone else; run "b"
    # puts every churner among 100 contacted customers. Cheap misses favour "a", dear
    # misses favour "b".
    n = 200
    y_true = np.r_[np.ones(40, int), np.zeros(n - 40, int)]
    cautious = np.r_[np.full(20, 0.9), np.full(20, 0.1), np.full(n - 40, 0.1)]
    generous = np.r_[np.full(40, 0.9), np.full(60, 0.9), np.full(n - 100, 0.1)]

    def frame(scores):
        return pd.concat(
            [
                pd.DataFrame({"split": s, "y_true": y_true, "y_score": scores, "customerID": "x"})
                for s in ("oof", "test")
            ]
        )

    curves = {
        "a": leaderboard.curves_from_predictions(frame(cautious)),
        "b": leaderboard.curves_from_predictions(frame(generous)),
    }
    runs = pd.DataFrame({"run_id": ["a", "b"]})
    assert leaderboard.rank_runs(runs, curves, 1, 1)["run_id"].iloc[0] == "a"
    assert leaderboard.rank_runs(runs, curves, 100, 1)["run_id"].iloc[0] == "b"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["a", "b", "c"]),
        ({"families": ["boosting"]}, ["b", "c"]),
        ({"imbalances": ["class_weight"]}, ["a", "c"]),
        ({"families": ["boosting"], "imbalances": ["class_weight"]}, ["c"]),
        ({"tag_key": "churnlab.kind", "tag_value": "TUN"}, ["b"]),
        ({"tag_key": "no.such.tag", "tag_value": "x"}, []),
    ],
)
def test_filter_runs(filters, expected):
    assert list(leaderboard.filter_runs(_runs_frame(), **filters)["run_id"]) == expected


def test_differing_params_marks_differences():
    table = leaderboard.differing_params(_runs_frame(), ["b", "c"])
    assert list(table.columns) == ["b", "c", "differs"]
    assert table.index[0] == "model__max_depth"
    assert bool(table.loc["model__max_depth", "differs"])
    assert not table.loc["model", "differs"]
    assert not table.loc["cost_fn", "differs"]
    # Both runs lack C, so the row is dropped.
    assert "model__C" not in table.index


def test_differing_params_shows_absent_values():
    table = leaderboard.differing_params(_runs_frame(), ["a", "b"])
    assert table.loc["model__C", "b"] == "—"
    assert bool(table.loc["model__C", "differs"])


@pytest.mark.slow
def test_load_curves_reads_store_and_skips_broken(trained_store):
    runs = search_model_runs(trained_store.tracking_uri, trained_store.experiment)
    broken = runs.iloc[:1].assign(run_id="0" * 32, artifact_uri="/nonexistent/artifacts")
    curves = leaderboard.load_curves(pd.concat([runs, broken]), trained_store.tracking_uri)
    assert set(curves) == set(trained_store.run_ids.values())
    for run_curves in curves.values():
        assert run_curves.test.n == 1409 or trained_store.data_path is None


@pytest.mark.slow
def test_load_curves_equal_curves_through_mlflow(trained_store):
    runs = search_model_runs(trained_store.tracking_uri, trained_store.experiment)
    curves = leaderboard.load_curves(runs, trained_store.tracking_uri)
    for run_id in runs["run_id"]:
        predictions = load_predictions(run_id, trained_store.tracking_uri)
        expected = leaderboard.curves_from_predictions(predictions)
        for split in ("oof", "test"):
            loaded = getattr(curves[run_id], split)
            built = getattr(expected, split)
            np.testing.assert_array_equal(loaded.thresholds, built.thresholds)
            np.testing.assert_array_equal(loaded.tp, built.tp)
            np.testing.assert_array_equal(loaded.fp, built.fp)
