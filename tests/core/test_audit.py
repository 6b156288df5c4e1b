"""Tests for core.audit: published figures of the real data and hand-made edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.audit import DataAudit, audit_frame
from core.schema import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS, RAW_COLUMNS


@pytest.fixture(scope="module")
def real_audit(real_frame) -> DataAudit:
    return audit_frame(real_frame)


def test_real_shape_and_dtypes(real_audit):
    assert (real_audit.n_rows, real_audit.n_columns) == (7043, 21)
    assert list(real_audit.dtypes) == list(RAW_COLUMNS)
    assert real_audit.dtypes["TotalCharges"] == "str"
    assert real_audit.dtypes["tenure"] == "int64"


def test_real_duplicates(real_audit):
    assert real_audit.duplicate_rows == 0
    assert real_audit.duplicate_rows_without_id == 22
    assert real_audit.duplicate_ids == 0


def test_real_hidden_blanks(real_audit):
    total_charges = real_audit.missing.loc["TotalCharges"]
    assert total_charges["blank"] == 11
    assert total_charges["missing"] == 0
    assert total_charges["total"] == 11
    assert real_audit.missing["blank"].sum() == 11
    assert real_audit.missing["missing"].sum() == 0


def test_real_target_balance(real_audit):
    balance = real_audit.target_balance
    assert balance.loc["Yes", "count"] == 1869
    assert balance.loc["No", "count"] == 5174
    assert balance.loc["Yes", "percent"] == pytest.approx(26.54, abs=0.01)


def test_real_numeric_summary(real_audit):
    summary = real_audit.numeric_summary
    assert list(summary.index) == list(NUMERIC_COLUMNS)
    assert summary.loc["TotalCharges", "count"] == 7032
    assert summary.loc["tenure", "max"] == 72
    assert summary.loc["MonthlyCharges", "min"] == pytest.approx(18.25)


def test_real_churn_by_contract(real_audit):
    contract = real_audit.churn_by_category["Contract"]
    assert list(contract.columns) == ["category", "customers", "churners", "churn_rate"]
    first = contract.iloc[0]
    assert first["category"] == "Month-to-month"
    assert first["customers"] == 3875
    assert first["churners"] == 1655
    assert first["churn_rate"] == pytest.approx(0.4271, abs=1e-4)


def test_churn_tables_cover_every_category(real_audit):
    assert set(real_audit.churn_by_category) == set(CATEGORICAL_COLUMNS)
    for column, table in real_audit.churn_by_category.items():
        assert table["customers"].sum() == 7043, column
        assert table["churners"].sum() == 1869, column
        assert table["churn_rate"].is_monotonic_decreasing, column


def test_frame_without_target(generated_frame):
    audit = audit_frame(generated_frame.drop(columns="Churn"))
    assert audit.target_balance is None
    assert audit.churn_by_category == {}
    assert audit.n_columns == 20


def test_invalid_target_skips_churn_figures(generated_frame, caplog):
    frame = generated_frame.head(10).copy()
    frame.loc[frame.index[0], "Churn"] = "Maybe"
    audit = audit_frame(frame)
    assert audit.target_balance is None
    assert "Maybe" in caplog.text


def test_numeric_labels_accepted(generated_frame):
    frame = generated_frame.head(100).copy()
    churners = int((frame["Churn"] == "Yes").sum())
    frame["Churn"] = (frame["Churn"] == "Yes").astype(int)
    audit = audit_frame(frame)
    assert audit.target_balance.loc["Yes", "count"] == churners


def test_duplicates_and_blanks_counted():
    frame = pd.DataFrame(
        {
            "customerID": ["A", "B", "A", "C"],
            "gender": ["Male", "Male", "Male", "  "],
            "TotalCharges": ["10", "10", "10", None],
            "Churn": ["Yes", "Yes", "Yes", "No"],
        }
    )
    audit = audit_frame(frame)
    assert audit.duplicate_rows == 1
    assert audit.duplicate_rows_without_id == 2
    assert audit.duplicate_ids == 1
    assert audit.missing.loc["gender", "blank"] == 1
    assert audit.missing.loc["TotalCharges", "missing"] == 1
    assert audit.missing.loc["TotalCharges", "percent"] == pytest.approx(25.0)


def test_blanks_in_object_columns():
    frame = pd.DataFrame({"gender": pd.Series(["", "Male", 3, " \t"], dtype=object)})
    assert audit_frame(frame).missing.loc["gender", "blank"] == 2


def test_input_not_modified(generated_frame):
    before = generated_frame.copy()
    audit_frame(generated_frame)
    pd.testing.assert_frame_equal(generated_frame, before)


def test_generated_audit_consistent(generated_frame):
    audit = audit_frame(generated_frame)
    blanks = int((generated_frame["tenure"] == 0).sum())
    assert audit.missing.loc["TotalCharges", "blank"] == blanks
    assert audit.duplicate_ids == 0
    assert np.isclose(audit.target_balance["percent"].sum(), 100.0)


def test_real_data_has_no_unknown_categories(real_audit):
    assert real_audit.unknown_categories.empty


def test_unknown_category_counted_with_its_rows(real_frame):
    frame = real_frame.head(50).copy()
    frame.loc[frame.index[:3], "Contract"] = "Three year"
    frame.loc[frame.index[3], "Contract"] = " "
    unknown = audit_frame(frame).unknown_categories
    assert unknown.to_dict("records") == [{"column": "Contract", "value": "Three year", "rows": 3}]
