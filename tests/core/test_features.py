"""Preprocessing: cleaning, engineered features, unseen categories, blank charges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.features import (
    ChargeFeatures,
    TelcoCleaner,
    build_preprocessor,
    encoded_feature_names,
    raw_feature_name,
)
from core.schema import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS


def test_cleaner_turns_blank_total_charges_into_nan(generated_frame):
    frame = generated_frame.copy()
    frame["TotalCharges"] = frame["TotalCharges"].astype(object)
    frame.loc[frame.index[:3], "TotalCharges"] = [" ", "", "12.5"]

    cleaned = TelcoCleaner().fit_transform(frame)

    assert np.isnan(cleaned["TotalCharges"].iloc[0])
    assert np.isnan(cleaned["TotalCharges"].iloc[1])
    assert cleaned["TotalCharges"].iloc[2] == 12.5
    assert "customerID" not in cleaned.columns
    assert "Churn" not in cleaned.columns


def test_cleaner_rejects_missing_column(generated_frame):
    with pytest.raises(ValueError, match=r"missing columns \['Contract'\]"):
        TelcoCleaner().fit(generated_frame.drop(columns=["Contract"]))


def test_charge_features_use_monthly_charge_at_zero_tenure():
    frame = pd.DataFrame(
        {"tenure": [0.0, 20.0], "MonthlyCharges": [50.0, 70.0], "TotalCharges": [np.nan, 1200.0]}
    )
    out = ChargeFeatures().fit_transform(frame)

    assert out["avg_charge_per_month"].tolist() == [50.0, 60.0]
    assert out["charge_delta"].tolist() == [0.0, 10.0]
    assert out["is_new_customer"].tolist() == [1.0, 0.0]


def test_preprocessor_output_has_no_missing_values(real_frame):
    matrix = build_preprocessor().fit_transform(real_frame)

    assert not np.isnan(matrix).any()
    assert matrix.shape[0] == len(real_frame)


def test_preprocessor_ignores_unseen_category(generated_frame):
    preprocessor = build_preprocessor().fit(generated_frame)
    record = generated_frame.head(1).copy()
    record["PaymentMethod"] = "Cryptocurrency"

    matrix = preprocessor.transform(record)
    names = encoded_feature_names(preprocessor)
    payment = [i for i, name in enumerate(names) if name.startswith("cat__PaymentMethod_")]

    assert matrix[0, payment].sum() == 0.0


def test_raw_feature_name_groups_every_encoded_column(generated_frame):
    preprocessor = build_preprocessor().fit(generated_frame)
    raw_names = {raw_feature_name(name) for name in encoded_feature_names(preprocessor)}

    assert raw_names == set(CATEGORICAL_COLUMNS) | set(NUMERIC_COLUMNS)


@pytest.mark.parametrize(
    ("encoded", "raw"),
    [
        ("cat__Contract_Month-to-month", "Contract"),
        ("cat__MultipleLines_No phone service", "MultipleLines"),
        ("num__tenure", "tenure"),
        ("num__charge_delta", "MonthlyCharges"),
        ("num__is_new_customer", "tenure"),
    ],
)
def test_raw_feature_name_maps_known_columns(encoded, raw):
    assert raw_feature_name(encoded) == raw
