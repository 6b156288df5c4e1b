"""Model pipelines: every name and imbalance strategy builds, fits and predicts raw rows."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE, RandomOverSampler

from core.data import split_features_target
from core.models import (
    IMBALANCE_STRATEGIES,
    MODEL_NAMES,
    build_pipeline,
    fitted_estimator,
    fitted_preprocessor,
    model_family,
)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("imbalance", IMBALANCE_STRATEGIES)
def test_pipeline_fits_and_predicts_raw_rows(name, imbalance, generated_frame):
    X, y = split_features_target(generated_frame)
    pipeline = build_pipeline(name, imbalance=imbalance, fast=True, pos_weight=2.8, n_jobs=1)

    pipeline.fit(X, y)
    proba = pipeline.predict_proba(X.head(5))[:, 1]

    assert proba.shape == (5,)
    assert np.all((proba >= 0) & (proba <= 1))


def test_smote_sits_inside_pipeline():
    pipeline = build_pipeline("xgboost", imbalance="smote", fast=True)

    assert isinstance(pipeline.named_steps["resample"], SMOTE)
    assert list(pipeline.named_steps)[-1] == "model"


def test_mlp_with_class_weight_oversamples():
    pipeline = build_pipeline("mlp_tanh", imbalance="class_weight", fast=True)

    assert isinstance(pipeline.named_steps["resample"], RandomOverSampler)
    assert pipeline.named_steps["model"].activation == "tanh"


def test_fitted_parts_split_pipeline(generated_frame):
    X, y = split_features_target(generated_frame)
    pipeline = build_pipeline("logistic_regression").fit(X, y)

    matrix = fitted_preprocessor(pipeline).transform(X.head(3))
    direct = fitted_estimator(pipeline).predict_proba(matrix)[:, 1]

    np.testing.assert_allclose(direct, pipeline.predict_proba(X.head(3))[:, 1])


@pytest.mark.parametrize(
    ("name", "message"),
    [("svm", "Unknown model 'svm'"), ("mlp_selu", "Unknown model 'mlp_selu'")],
)
def test_unknown_model_name_is_rejected(name, message):
    with pytest.raises(ValueError, match=message):
        model_family(name)


def test_unknown_imbalance_is_rejected():
    with pytest.raises(ValueError, match="Unknown imbalance strategy 'undersample'"):
        build_pipeline("xgboost", imbalance="undersample")
