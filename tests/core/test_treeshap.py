"""TreeSHAP tables: equal to XGBoost's `pred_contribs`, the explainer's cut-over, fallbacks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import xgboost

from core.data import split_features_target
from core.evaluation import positive_weight
from core.explain import ChurnExplainer, cached_explainer, top_reasons
from core.models import build_pipeline, fitted_estimator, fitted_preprocessor
from core.treeshap import (
    TABLE_MIN_ROWS,
    TreeShapTables,
    UnsupportedBoosterError,
    XGBoostContributions,
)
from core.tuning import fit_with_early_stopping
from core.validation import validate_frame

# XGBoost returns float32 contributions, while the tables sum in float64.
ATOL = 1e-5
RTOL = 1e-4
COMPARED_ROWS = 3000


@dataclass(frozen=True)
class RealData:
    X: pd.DataFrame
    y: np.ndarray


@pytest.fixture(scope="module")
def real_data(real_frame) -> RealData:
    X, y = split_features_target(validate_frame(real_frame.copy()))
    return RealData(X=X, y=y)


@pytest.fixture(scope="module")
def fast_pipeline(real_data):
    """The fast XGBoost pipeline (80 trees of depth 4) fitted on all real rows."""
    pipeline = build_pipeline("xgboost", pos_weight=positive_weight(real_data.y), fast=True)
    return pipeline.fit(real_data.X, real_data.y)


@pytest.fixture(scope="module")
def encoded(fast_pipeline, real_data) -> np.ndarray:
    """The first `COMPARED_ROWS` real customers through the pipeline's preprocessing."""
    rows = real_data.X.iloc[:COMPARED_ROWS]
    return np.asarray(fitted_preprocessor(fast_pipeline).transform(rows), dtype=np.float64)


def pred_contribs(booster: xgboost.Booster, X: np.ndarray) -> np.ndarray:
    return booster.predict(xgboost.DMatrix(X, nthread=1), pred_contribs=True)


def fit_booster(X: np.ndarray | pd.DataFrame, y: np.ndarray, **params) -> xgboost.Booster:
    settings = {"n_estimators": 40, "max_depth": 4, "tree_method": "hist", "n_jobs": 1}
    settings.update(params)
    return xgboost.XGBClassifier(random_state=0, **settings).fit(X, y).get_booster()


def repeated_split_leaves(tables: TreeShapTables) -> int:
    """Count the leaves whose path splits more than once on one feature."""
    forest = tables._forest
    return int(np.sum(np.diff(forest.split_start) > np.diff(forest.feature_start)))


@pytest.mark.slow
def test_tables_match_fast_xgboost(fast_pipeline, encoded):
    booster = fitted_estimator(fast_pipeline).get_booster()
    tables = TreeShapTables(booster)

    result = tables.contributions(encoded)

    assert result.shape == (len(encoded), encoded.shape[1] + 1)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, pred_contribs(booster, encoded), atol=ATOL, rtol=RTOL)


@pytest.mark.slow
def test_tables_one_thread_equal_default(fast_pipeline, encoded):
    tables = TreeShapTables(fitted_estimator(fast_pipeline).get_booster())

    one_thread = tables.contributions(encoded[:500], n_threads=1)

    np.testing.assert_array_equal(one_thread, tables.contributions(encoded[:500]))


@pytest.mark.slow
def test_tables_match_depth_six(real_data, encoded):
    pipeline = build_pipeline(
        "xgboost", pos_weight=positive_weight(real_data.y), fast=True, params={"max_depth": 6}
    )
    booster = fitted_estimator(pipeline.fit(real_data.X, real_data.y)).get_booster()
    tables = TreeShapTables(booster)

    # Repeated splits on one feature are the case where the path's fractions are merged.
    assert repeated_split_leaves(tables) > 0
    result = tables.contributions(encoded)
    np.testing.assert_allclose(result, pred_contribs(booster, encoded), atol=ATOL, rtol=RTOL)


@pytest.mark.slow
def test_tables_match_with_missing_values(real_data, encoded):
    rng = np.random.default_rng(0)
    with_missing = encoded.copy()
    with_missing[rng.random(with_missing.shape) < 0.15] = np.nan
    booster = fit_booster(with_missing, real_data.y[:COMPARED_ROWS])
    tables = TreeShapTables(booster)

    # Both default directions must occur, so that missing values go left and right.
    default_yes = tables._forest.node_default_yes[tables._forest.node_feature >= 0]
    assert default_yes.any()
    assert not default_yes.all()
    result = tables.contributions(with_missing)
    expected = pred_contribs(booster, with_missing)
    np.testing.assert_allclose(result, expected, atol=ATOL, rtol=RTOL)


@pytest.mark.slow
def test_tables_match_custom_base_score(real_data, encoded):
    booster = fit_booster(encoded, real_data.y[:COMPARED_ROWS], base_score=0.2)
    tables = TreeShapTables(booster)

    result = tables.contributions(encoded)

    expected = pred_contribs(booster, encoded)
    np.testing.assert_allclose(result, expected, atol=ATOL, rtol=RTOL)
    # The bias column includes the base score's log-odds, log(0.2 / 0.8) = -1.386.
    assert result[0, -1] == pytest.approx(expected[0, -1], abs=1e-6)
    assert result[0, -1] < -1.0


@pytest.mark.slow
def test_tables_add_up_to_margin(fast_pipeline, encoded):
    booster = fitted_estimator(fast_pipeline).get_booster()

    result = TreeShapTables(booster).contributions(encoded)

    margin = booster.predict(xgboost.DMatrix(encoded), output_margin=True)
    np.testing.assert_allclose(result.sum(axis=1), margin, atol=1e-4)


@pytest.mark.slow
def test_tables_reject_wrong_width(fast_pipeline, encoded):
    tables = TreeShapTables(fitted_estimator(fast_pipeline).get_booster())

    with pytest.raises(ValueError, match=r"trained on \d+ features"):
        tables.contributions(encoded[:, :-1])


@pytest.mark.slow
def test_explainer_batch_and_small_batches_agree(fast_pipeline, real_data):
    X = real_data.X.iloc[: TABLE_MIN_ROWS + 500]
    explainer = ChurnExplainer(fast_pipeline)

    small = [explainer.explain(X.iloc[start : start + 500]) for start in range(0, len(X), 500)]
    assert explainer._explainer.tables is None
    batch = explainer.explain(X)
    assert explainer._explainer.tables is not None

    small_native = pd.concat([explanation.native_values for explanation in small])
    np.testing.assert_allclose(batch.native_values, small_native, atol=ATOL, rtol=RTOL)
    assert batch.native_base == pytest.approx(small[0].native_base, abs=1e-6)


@pytest.mark.slow
def test_top_reasons_batch_equal_single_rows(fast_pipeline, real_data):
    X = real_data.X.iloc[: TABLE_MIN_ROWS + 100]

    batch = top_reasons(fast_pipeline, X, k=3)
    assert cached_explainer(fast_pipeline)._explainer.tables is not None
    # One customer at a time, as a served record is explained, for every 100th customer.
    picked = X.iloc[::100]
    single = pd.concat(
        [top_reasons(fast_pipeline, picked.loc[[index]], k=3) for index in picked.index]
    )

    assert batch.loc[picked.index].equals(single)


@pytest.mark.slow
def test_explainer_uses_early_stopped_trees(real_data):
    pipeline = build_pipeline(
        "xgboost",
        pos_weight=positive_weight(real_data.y),
        params={"n_estimators": 300, "learning_rate": 0.3},
    )
    fit_with_early_stopping(pipeline, real_data.X, real_data.y)
    estimator = fitted_estimator(pipeline)
    assert estimator.best_iteration + 1 < estimator.get_booster().num_boosted_rounds()

    explainer = ChurnExplainer(pipeline)
    # Five rows go through pred_contribs, the full batch through the tables.
    for rows in (real_data.X.iloc[:5], real_data.X.iloc[:TABLE_MIN_ROWS]):
        explanation = explainer.explain(rows)
        expected = pipeline.predict_proba(rows)[:, 1]
        np.testing.assert_allclose(explanation.probability, expected, atol=1e-5)
    assert explainer._explainer.tables is not None


@pytest.fixture(scope="module")
def encoded_small() -> tuple[np.ndarray, np.ndarray]:
    """200 rows of 5 random features, with a label that depends on the first two."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    return X, y


def test_xgboost_contributions_fall_back(encoded_small):
    X, y = encoded_small
    booster = fit_booster(X, y, n_estimators=5, objective="binary:logitraw")
    contributions = XGBoostContributions(booster, min_table_rows=10)

    result = contributions.contributions(X)

    assert contributions.tables is None
    np.testing.assert_array_equal(result, pred_contribs(booster, X))


def test_tables_reject_other_objective(encoded_small):
    X, y = encoded_small
    booster = fit_booster(X, y, n_estimators=3, objective="binary:logitraw")

    with pytest.raises(UnsupportedBoosterError, match="objective is 'binary:logitraw'"):
        TreeShapTables(booster)


def test_tables_reject_multiclass(encoded_small):
    X, _ = encoded_small
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    booster = fit_booster(X, y, n_estimators=3)

    with pytest.raises(UnsupportedBoosterError, match="objective is 'multi:softprob'"):
        TreeShapTables(booster)


def test_tables_reject_several_outputs(encoded_small):
    X, y = encoded_small
    booster = fit_booster(X, np.column_stack([y, 1 - y]), n_estimators=3)

    with pytest.raises(UnsupportedBoosterError, match="2 outputs"):
        TreeShapTables(booster)


def test_tables_reject_categorical_splits(encoded_small):
    X, y = encoded_small
    frame = pd.DataFrame({"plan": pd.Categorical(np.where(X[:, 0] > 0, "a", "b")), "x": X[:, 1]})
    booster = fit_booster(frame, y, n_estimators=3, enable_categorical=True)

    with pytest.raises(UnsupportedBoosterError, match="categorical splits"):
        TreeShapTables(booster)
    assert TreeShapTables.build_or_none(booster) is None


def test_tables_reject_over_budget(encoded_small):
    X, y = encoded_small
    booster = fit_booster(X, y, n_estimators=3)

    with pytest.raises(UnsupportedBoosterError, match="max_table_floats=100"):
        TreeShapTables(booster, max_table_floats=100)
