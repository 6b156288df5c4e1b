"""Tests for core.synthetic: schema, determinism, realistic relations and scale."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from core.schema import CATEGORY_VALUES, RAW_COLUMNS
from core.synthetic import generate_telco
from core.validation import validate_frame

SERVICE_COLUMNS = [
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_telco()


def churn_rate(values: pd.Series) -> float:
    return float((values == "Yes").mean())


def test_columns_match_csv_order(frame):
    assert list(frame.columns) == list(RAW_COLUMNS)
    assert len(frame) == 7043


def test_dtypes_match_real_csv(frame, real_frame):
    assert frame.dtypes.to_dict() == real_frame.dtypes.to_dict()


def test_dtypes_without_real_data(frame):
    assert frame["SeniorCitizen"].dtype == "int64"
    assert frame["tenure"].dtype == "int64"
    assert frame["MonthlyCharges"].dtype == "float64"
    assert frame["TotalCharges"].dtype == "str"
    assert frame["Churn"].dtype == "str"
    assert set(frame["SeniorCitizen"].unique()) == {0, 1}


def test_categories_are_published_values(frame):
    for column, values in CATEGORY_VALUES.items():
        if column == "SeniorCitizen":
            continue
        assert set(frame[column].unique()) == set(values), column
    assert set(frame["Churn"].unique()) == {"Yes", "No"}


def test_same_seed_same_frame():
    pd.testing.assert_frame_equal(generate_telco(500, seed=3), generate_telco(500, seed=3))


def test_other_seed_other_frame():
    first = generate_telco(500, seed=3)
    second = generate_telco(500, seed=4)
    assert not first.equals(second)


@pytest.mark.parametrize("n_rows", [100, 101, 2500])
def test_requested_size(n_rows):
    assert len(generate_telco(n_rows, seed=1)) == n_rows


@pytest.mark.parametrize("n_rows", [99, 0, -5])
def test_too_few_rows_rejected(n_rows):
    with pytest.raises(ValueError, match=f"n_rows={n_rows} is too small"):
        generate_telco(n_rows)


def test_customer_ids_unique_and_shaped(frame):
    ids = frame["customerID"]
    assert ids.is_unique
    assert ids.map(lambda v: bool(re.fullmatch(r"\d{4}-[A-Z]{5}", v))).all()


def test_churn_rate_plausible(frame):
    assert 0.22 <= churn_rate(frame["Churn"]) <= 0.31


def test_churn_drivers_raise_churn(frame):
    by_contract = frame.groupby("Contract")["Churn"].apply(churn_rate)
    assert by_contract["Month-to-month"] > 2 * by_contract["One year"]
    assert by_contract["One year"] > by_contract["Two year"]

    by_internet = frame.groupby("InternetService")["Churn"].apply(churn_rate)
    assert by_internet["Fiber optic"] > by_internet["DSL"] > by_internet["No"]

    e_check = frame["PaymentMethod"] == "Electronic check"
    assert churn_rate(frame.loc[e_check, "Churn"]) > churn_rate(frame.loc[~e_check, "Churn"])

    short = frame["tenure"].between(1, 12)
    long = frame["tenure"] > 48
    assert churn_rate(frame.loc[short, "Churn"]) > 2 * churn_rate(frame.loc[long, "Churn"])


def test_no_internet_means_no_services(frame):
    no_internet = frame["InternetService"] == "No"
    for column in SERVICE_COLUMNS:
        is_marker = frame[column] == "No internet service"
        assert (is_marker == no_internet).all(), column


def test_no_phone_means_no_lines(frame):
    no_phone = frame["PhoneService"] == "No"
    assert ((frame["MultipleLines"] == "No phone service") == no_phone).all()


def test_monthly_charges_follow_services(frame):
    charges = frame.groupby("InternetService")["MonthlyCharges"].mean()
    assert charges["Fiber optic"] > charges["DSL"] > charges["No"]
    assert frame["MonthlyCharges"].between(18.0, 125.0).all()


def test_total_charges_near_tenure_times_monthly(frame):
    billed = frame[frame["tenure"] > 0]
    total = billed["TotalCharges"].astype(float)
    ratio = total / (billed["tenure"] * billed["MonthlyCharges"])
    assert ratio.between(0.8, 1.2).all()
    assert ratio.std() > 0.01


def test_blank_total_charges_only_at_tenure_zero(frame):
    blank = frame["TotalCharges"] == " "
    assert blank.sum() >= 1
    assert (blank == (frame["tenure"] == 0)).all()


def test_total_charges_text_like_csv(frame):
    billed = frame.loc[frame["tenure"] > 0, "TotalCharges"]
    assert not billed.str.endswith(".0").any()
    assert billed.str.fullmatch(r"\d+(\.\d{1,2})?").all()


def test_generated_frame_passes_validation(frame):
    validated = validate_frame(frame)
    assert len(validated) == len(frame)
    assert validated["TotalCharges"].isna().sum() == (frame["tenure"] == 0).sum()


def test_smallest_frame_passes_validation():
    validate_frame(generate_telco(100, seed=0))
