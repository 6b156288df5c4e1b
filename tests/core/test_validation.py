"""Tests for core.validation: each kind of bad input and the cleaned copy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.validation import DataValidationError, normalise_target, validate_frame


@pytest.fixture
def small(generated_frame) -> pd.DataFrame:
    """The first 20 generated rows, which contain both classes."""
    frame = generated_frame.head(20).copy()
    assert frame["Churn"].nunique() == 2
    return frame


def test_valid_frame_returns_copy(small):
    before = small.copy()
    cleaned = validate_frame(small)
    assert cleaned is not small
    pd.testing.assert_frame_equal(small, before)


def test_real_frame_cleaned(real_frame):
    cleaned = validate_frame(real_frame)
    assert cleaned["TotalCharges"].dtype == "float64"
    assert cleaned["TotalCharges"].isna().sum() == 11
    assert set(cleaned["Churn"].unique()) == {"Yes", "No"}
    assert real_frame["TotalCharges"].dtype == "str"


def test_text_values_stripped(small):
    small["gender"] = small["gender"].astype(object)
    small.loc[small.index[0], "gender"] = "  Female "
    small.loc[small.index[1], "TotalCharges"] = "   "
    cleaned = validate_frame(small)
    assert cleaned["gender"].iloc[0] == "Female"
    assert np.isnan(cleaned["TotalCharges"].iloc[1])


def test_column_names_stripped(small):
    renamed = small.rename(columns={"gender": " gender "})
    assert "gender" in validate_frame(renamed).columns


def test_empty_frame_rejected(small):
    with pytest.raises(DataValidationError, match="header but no rows"):
        validate_frame(small.iloc[0:0])


def test_frame_without_columns_rejected():
    with pytest.raises(DataValidationError, match="no columns"):
        validate_frame(pd.DataFrame())


def test_missing_column_rejected(small):
    with pytest.raises(DataValidationError, match=r"Missing columns: 'tenure'\. Fix: rename"):
        validate_frame(small.drop(columns="tenure"))


def test_misspelt_column_suggested(small):
    renamed = small.rename(columns={"MonthlyCharges": "monthly_charges"})
    with pytest.raises(DataValidationError, match="'monthly_charges' should probably be"):
        validate_frame(renamed)


def test_unknown_column_rejected(small):
    small["Region"] = "North"
    with pytest.raises(DataValidationError, match="Unknown columns: 'Region'.*Fix: drop"):
        validate_frame(small)


def test_repeated_column_rejected(small):
    repeated = pd.concat([small, small[["gender"]]], axis=1)
    with pytest.raises(DataValidationError, match="more than once: 'gender'"):
        validate_frame(repeated)


def test_missing_target_rejected_when_required(small):
    with pytest.raises(DataValidationError, match="Missing columns: 'Churn'"):
        validate_frame(small.drop(columns="Churn"))


def test_missing_target_allowed_for_scoring(small):
    cleaned = validate_frame(small.drop(columns="Churn"), require_target=False)
    assert "Churn" not in cleaned.columns


@pytest.mark.parametrize(
    "raw_labels",
    [
        [" yes", "NO "],
        ["Yes", "no"],
        [1, 0],
        [1.0, 0.0],
        ["1", "0"],
        [True, False],
    ],
)
def test_target_variants_normalised(small, raw_labels):
    churned = small["Churn"] == "Yes"
    small["Churn"] = np.where(churned, raw_labels[0], raw_labels[1])
    cleaned = validate_frame(small)
    expected = np.where(churned, "Yes", "No")
    assert (cleaned["Churn"].to_numpy() == expected).all()


def test_invalid_target_rejected(small):
    small.loc[small.index[3], "Churn"] = "Maybe"
    with pytest.raises(
        DataValidationError, match=r"'Churn' has labels .* on 1 row .*row 4 \('Maybe'\)"
    ):
        validate_frame(small)


def test_blank_target_rejected(small):
    small.loc[small.index[0], "Churn"] = " "
    with pytest.raises(DataValidationError, match="not Yes/No or 1/0.*drop unlabelled rows"):
        validate_frame(small)


def test_invalid_target_rejected_for_scoring(small):
    small.loc[small.index[0], "Churn"] = "2"
    with pytest.raises(DataValidationError, match="'Churn' has labels that are not Yes/No"):
        validate_frame(small, require_target=False)


def test_single_class_rejected(small):
    small["Churn"] = "No"
    with pytest.raises(DataValidationError, match="contains only 'No' \\(20 rows\\)"):
        validate_frame(small)


def test_single_class_allowed_for_scoring(small):
    small["Churn"] = "No"
    assert len(validate_frame(small, require_target=False)) == 20


@pytest.mark.parametrize("column", ["tenure", "MonthlyCharges", "TotalCharges"])
def test_text_in_numeric_column_rejected(small, column):
    small[column] = small[column].astype("str")
    small.loc[small.index[1], column] = "n/a"
    small.loc[small.index[6], column] = "12,5"
    with pytest.raises(
        DataValidationError,
        match=rf"'{column}' has text that is not a number on 2 rows.*row 2 \('n/a'\), row 7",
    ):
        validate_frame(small)


def test_numeric_text_converted(small):
    small["tenure"] = small["tenure"].astype("str")
    cleaned = validate_frame(small)
    assert cleaned["tenure"].dtype == "int64"


def test_senior_citizen_outside_zero_one_rejected(small):
    small.loc[small.index[2], "SeniorCitizen"] = 2
    with pytest.raises(DataValidationError, match=r"'SeniorCitizen'.*row 3 \(2\)"):
        validate_frame(small)


def test_duplicated_ids_rejected(small):
    small.loc[small.index[5], "customerID"] = small["customerID"].iloc[2]
    with pytest.raises(DataValidationError, match="repeats 1 ids on 2 rows.*row 3.*row 6"):
        validate_frame(small)


def test_blank_id_rejected(small):
    small.loc[small.index[4], "customerID"] = "  "
    with pytest.raises(DataValidationError, match="'customerID' is blank on 1 row .*row 5"):
        validate_frame(small)


def test_many_problems_shortened(small):
    small["tenure"] = "x"
    with pytest.raises(DataValidationError, match="and 15 more"):
        validate_frame(small)


def test_unknown_category_logged(small, caplog):
    small.loc[small.index[0], "Contract"] = "Three year"
    validate_frame(small)
    assert "Three year" in caplog.text


def test_normalise_target_keeps_index():
    labels = normalise_target(pd.Series(["yes", "0"], index=[10, 20]))
    assert labels.to_dict() == {10: "Yes", 20: "No"}
