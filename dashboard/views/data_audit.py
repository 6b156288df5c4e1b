"""Data audit: a health check of the customer data before any model is trained on it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.audit import DataAudit, audit_frame
from core.data import read_csv_file
from core.schema import (
    CATEGORICAL_COLUMNS,
    ID_COLUMN,
    NUMERIC_COLUMNS,
    TARGET_COLUMN,
)
from core.validation import DataValidationError, normalise_target, validate_frame
from dashboard import charts, data_access, state

UNITS = {"tenure": "months", "MonthlyCharges": "money per month", "TotalCharges": "money"}
UPLOAD_KEY = "audit.upload"
# Short: a metric label in a fifth of the page width is cut after about 20 characters.
DUPLICATES_WITHOUT_ID_LABEL = "Duplicates (no id)"
# st.dataframe rows are 35 pixels high, plus one row for the header and a margin for borders
# (measured in Chromium with Streamlit 1.67: 3 pixels still cut the last row of a short table).
TABLE_ROW_PX = 35
TABLE_MARGIN_PX = 12
SUMMARY_LABELS = {
    "count": "Customers with a value",
    "mean": "Mean",
    "std": "Standard deviation",
    "min": "Minimum",
    "25%": "Lower quartile",
    "50%": "Median",
    "75%": "Upper quartile",
    "max": "Maximum",
}


@st.cache_data(show_spinner="Auditing the data…", max_entries=8)
def _audit_default(data_label: str) -> tuple[pd.DataFrame, DataAudit]:
    """Audit the dashboard's data; `data_label` names it, so each data file has its own entry."""
    frame = data_access.load_default_dataset(validate=False).frame
    return frame, audit_frame(frame)


@st.cache_data(show_spinner="Auditing the uploaded file…", max_entries=8)
def _audit_upload(content: bytes) -> tuple[pd.DataFrame, DataAudit]:
    """Read, validate and audit an uploaded CSV; raises DataValidationError when unusable."""
    frame = read_csv_file(content)
    validate_frame(frame)
    return frame, audit_frame(frame)


def _choose_data() -> tuple[pd.DataFrame, DataAudit, str] | None:
    upload = st.file_uploader(
        "Audit another CSV (optional, same 21 columns as the Telco file)",
        type=["csv"],
        key=UPLOAD_KEY,
    )
    if upload is None:
        label = data_access.data_source_label()
        frame, audit = _audit_default(label)
        return frame, audit, label
    try:
        frame, audit = _audit_upload(upload.getvalue())
    except DataValidationError as error:
        st.error(f"{upload.name} cannot be audited. {error}", icon=":material/error:")
        return None
    return frame, audit, f"uploaded file {upload.name}"


def _headline(audit: DataAudit) -> None:
    columns = st.columns(5)
    columns[0].metric("Customers (rows)", f"{audit.n_rows:,}")
    columns[1].metric("Columns", audit.n_columns)
    columns[2].metric("Duplicate rows", f"{audit.duplicate_rows:,}")
    columns[3].metric(
        DUPLICATES_WITHOUT_ID_LABEL,
        f"{audit.duplicate_rows_without_id:,}",
        help="Rows identical to an earlier row once customerID is dropped, so the id is "
        "the only difference. Such rows can land in both the training and the test split.",
    )
    columns[4].metric(
        "Hidden blanks",
        f"{int(audit.missing['blank'].sum()):,}",
        help="Cells that contain only spaces: pandas does not count them as missing.",
    )


def plain_kind(dtype: str) -> str:
    """Name a pandas dtype in plain words, such as "text", "whole number" or "decimal"."""
    if dtype.startswith(("int", "uint", "Int", "UInt")):
        return "whole number"
    if dtype.startswith(("float", "Float")):
        return "decimal"
    if dtype in ("bool", "boolean"):
        return "yes/no"
    if dtype in ("str", "object", "string") or dtype.startswith("string"):
        return "text"
    return dtype


def column_role(column: str) -> str:
    """Name how the models use a column: id, target, category or number."""
    if column == ID_COLUMN:
        return "id (not used)"
    if column == TARGET_COLUMN:
        return "predicted"
    if column in CATEGORICAL_COLUMNS:
        return "category"
    if column in NUMERIC_COLUMNS:
        return "number"
    return "not used"


def table_height(rows: int) -> int:
    """Return a st.dataframe height in pixels that shows every row without scrolling."""
    return TABLE_ROW_PX * (rows + 1) + TABLE_MARGIN_PX


def _types_and_missing(audit: DataAudit) -> None:
    left, right = st.columns([5, 7])
    types = pd.DataFrame(
        {
            "column": list(audit.dtypes),
            "stored as": [plain_kind(dtype) for dtype in audit.dtypes.values()],
            "used as": [column_role(column) for column in audit.dtypes],
        }
    )
    left.markdown("**Column types**")
    left.dataframe(types, hide_index=True, height=table_height(len(types)), key="audit.types")
    right.plotly_chart(charts.missing_values_figure(audit.missing), key="audit.missing_chart")
    gaps = audit.missing[audit.missing["total"] > 0]
    if gaps.empty:
        right.caption("No column has missing or blank cells.")
    else:
        listed = ", ".join(f"{column} ({int(n):,})" for column, n in gaps["total"].items())
        right.caption(f"Columns with missing or blank cells: {listed}.")


def _unknown_categories(audit: DataAudit) -> None:
    unknown = audit.unknown_categories
    if unknown.empty:
        st.caption("Every category value is one the published Telco data contains.")
        return
    listed = ", ".join(
        f"{row.column} {row.value!r} ({row.rows:,} rows)" for row in unknown.head(5).itertuples()
    )
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    st.warning(
        f"Unknown categories: {listed}{more}. The published Telco data has no such values, so "
        "no model has learnt from them. Check them for typos or new products before training "
        "or scoring.",
        icon=":material/warning:",
    )
    st.dataframe(unknown, hide_index=True, key="audit.unknown_categories")


def _balance(audit: DataAudit) -> None:
    if audit.target_balance is None:
        st.info("The data has no valid Churn column, so churn figures are not shown.")
        return
    left, right = st.columns([2, 1])
    left.plotly_chart(charts.target_balance_figure(audit.target_balance), key="audit.balance")
    table = audit.target_balance.rename(columns={"count": "customers", "percent": "percent (%)"})
    right.markdown("**Churn balance**")
    right.dataframe(
        table.style.format({"customers": "{:,}", "percent (%)": "{:.1f}"}),
        key="audit.balance_table",
    )


def _churn_labels(frame: pd.DataFrame) -> pd.Series | None:
    if TARGET_COLUMN not in frame.columns:
        return None
    try:
        return normalise_target(frame[TARGET_COLUMN])
    except DataValidationError:
        return None


def _distributions(frame: pd.DataFrame, audit: DataAudit) -> None:
    present = [c for c in NUMERIC_COLUMNS if c in frame.columns]
    if not present:
        return
    st.subheader("Numeric columns")
    column = st.selectbox("Column", present, key="audit.numeric")
    values = pd.to_numeric(frame[column], errors="coerce").rename(column)
    st.plotly_chart(
        charts.distribution_figure(values, _churn_labels(frame), UNITS.get(column, "value")),
        key="audit.distribution",
    )
    # One row per statistic, so the long plain labels fit as row names.
    summary = audit.numeric_summary.rename(columns=SUMMARY_LABELS).T
    counts = pd.IndexSlice[[SUMMARY_LABELS["count"]], :]
    styled = summary.style.format("{:,.2f}").format("{:,.0f}", subset=counts)
    st.dataframe(styled, height=table_height(len(summary)), key="audit.numeric_summary")


def _categories(audit: DataAudit) -> None:
    if not audit.churn_by_category:
        return
    st.subheader("Churn rate per category")
    options = list(audit.churn_by_category)
    default = options.index("Contract") if "Contract" in options else 0
    column = st.selectbox("Column", options, index=default, key="audit.category")
    table = audit.churn_by_category[column]
    st.plotly_chart(charts.churn_by_category_figure(table, column), key="audit.category_chart")


def _render() -> None:
    st.title("Data audit")
    st.markdown(
        "A health check of the customer data before any model learns from it: its size, "
        "column types, duplicates, missing values, how many customers left, and which "
        "groups leave most."
    )
    chosen = _choose_data()
    if chosen is None:
        return
    frame, audit, label = chosen
    st.caption(f"Auditing {label}.")
    _headline(audit)
    _unknown_categories(audit)
    _types_and_missing(audit)
    st.subheader("Churn balance")
    _balance(audit)
    _distributions(frame, audit)
    _categories(audit)


state.init_state()
_render()
