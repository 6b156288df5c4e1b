"""Data audit of a raw Telco frame: shape, types, duplicates, missing values and churn rates.

The audit computes figures only, and the dashboard draws them. It reads the raw frame as
`core.data.read_csv_file` returns it, so blank text cells still count as hidden missing values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from core.schema import (
    CATEGORICAL_COLUMNS,
    CATEGORY_VALUES,
    ID_COLUMN,
    NUMERIC_COLUMNS,
    TARGET_COLUMN,
)
from core.validation import DataValidationError, normalise_target

logger = logging.getLogger(__name__)


@dataclass
class DataAudit:
    """Figures describing a raw Telco frame.

    Attributes:
        n_rows: Number of rows.
        n_columns: Number of columns.
        dtypes: Pandas dtype name of each column, such as "str", "int64" or "float64".
        duplicate_rows: Rows identical to an earlier row in every column, id included.
        duplicate_rows_without_id: Rows identical to an earlier row once `customerID` is
            dropped; equal to `duplicate_rows` when the frame has no id column.
        duplicate_ids: Rows whose `customerID` already appeared on an earlier row.
        missing: One row per column with `missing` (NaN or None), `blank` (empty or
            whitespace-only strings, which pandas does not count as missing), `total` and
            `percent` (total as a percentage of the rows).
        target_balance: One row per label ("No", "Yes") with `count` and `percent`, or None
            when the frame has no valid `Churn` column.
        numeric_summary: `DataFrame.describe()` of each numeric column present, one row per
            column, with `TotalCharges` converted to numbers (blanks become NaN).
        churn_by_category: For each categorical column present, a frame with columns
            `category`, `customers`, `churners` and `churn_rate`, sorted by churn rate from
            high to low. Empty when the frame has no valid `Churn` column.
        unknown_categories: One row per category value that the published Telco data does
            not contain, with `column`, `value` and `rows` (how many rows hold it). Missing
            and blank cells are left out, because `missing` counts them.
    """

    n_rows: int
    n_columns: int
    dtypes: dict[str, str]
    duplicate_rows: int
    duplicate_rows_without_id: int
    duplicate_ids: int
    missing: pd.DataFrame
    target_balance: pd.DataFrame | None
    numeric_summary: pd.DataFrame
    churn_by_category: dict[str, pd.DataFrame] = field(default_factory=dict)
    unknown_categories: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["column", "value", "rows"])
    )


def audit_frame(df: pd.DataFrame) -> DataAudit:
    """Compute the data audit of a raw Telco frame, with or without `Churn`.

    Args:
        df: Raw frame, ideally as read from the CSV so that blank strings are still present.
            The frame is not modified.

    Returns:
        The figures as a `DataAudit`.
    """
    churn = _churn_flags(df)
    audit = DataAudit(
        n_rows=len(df),
        n_columns=df.shape[1],
        dtypes={str(column): str(dtype) for column, dtype in df.dtypes.items()},
        duplicate_rows=int(df.duplicated().sum()),
        duplicate_rows_without_id=_count_duplicates_without_id(df),
        duplicate_ids=int(df[ID_COLUMN].duplicated().sum()) if ID_COLUMN in df else 0,
        missing=_missing_values(df),
        target_balance=_target_balance(churn),
        numeric_summary=_numeric_summary(df),
        churn_by_category=_churn_by_category(df, churn),
        unknown_categories=_unknown_categories(df),
    )
    logger.info(
        "Audited %d rows: %d duplicates without id, %d hidden blanks",
        audit.n_rows,
        audit.duplicate_rows_without_id,
        int(audit.missing["blank"].sum()),
    )
    return audit


def _unknown_categories(df: pd.DataFrame) -> pd.DataFrame:
    found = []
    for column, known in CATEGORY_VALUES.items():
        if column not in df.columns:
            continue
        values = df[column].dropna().astype("str").str.strip()
        values = values[(values != "") & ~values.isin(known)]
        for value, rows in values.value_counts().items():
            found.append({"column": column, "value": value, "rows": int(rows)})
    return pd.DataFrame(found, columns=["column", "value", "rows"])


def _churn_flags(df: pd.DataFrame) -> pd.Series | None:
    """Return 1/0 churn flags, or None when the target is absent or invalid."""
    if TARGET_COLUMN not in df.columns:
        return None
    try:
        labels = normalise_target(df[TARGET_COLUMN])
    except DataValidationError as error:
        logger.warning("Skipping the churn figures of the audit: %s", error)
        return None
    return (labels == "Yes").astype("int64")


def _count_duplicates_without_id(df: pd.DataFrame) -> int:
    features = df.drop(columns=ID_COLUMN) if ID_COLUMN in df.columns else df
    return int(features.duplicated().sum())


def _missing_values(df: pd.DataFrame) -> pd.DataFrame:
    missing = df.isna().sum()
    blank = pd.Series({column: _count_blank(df[column]) for column in df.columns}, dtype="int64")
    table = pd.DataFrame({"missing": missing, "blank": blank})
    table["total"] = table["missing"] + table["blank"]
    table["percent"] = 100.0 * table["total"] / max(len(df), 1)
    table.index.name = "column"
    return table


def _count_blank(values: pd.Series) -> int:
    """Count empty or whitespace-only strings in a text column."""
    if values.dtype == object:
        is_blank = values.map(lambda v: isinstance(v, str) and not v.strip())
        return int(is_blank.sum())
    if pd.api.types.is_string_dtype(values.dtype):
        return int(values.str.strip().eq("").sum())
    return 0


def _target_balance(churn: pd.Series | None) -> pd.DataFrame | None:
    if churn is None:
        return None
    counts = churn.map({0: "No", 1: "Yes"}).value_counts().reindex(["No", "Yes"], fill_value=0)
    table = pd.DataFrame({"count": counts, "percent": 100.0 * counts / max(len(churn), 1)})
    table.index.name = TARGET_COLUMN
    return table


def _numeric_summary(df: pd.DataFrame) -> pd.DataFrame:
    present = [column for column in NUMERIC_COLUMNS if column in df.columns]
    numbers = pd.DataFrame(
        {column: pd.to_numeric(df[column], errors="coerce") for column in present},
        index=df.index,
    )
    if numbers.empty:
        return pd.DataFrame()
    return numbers.describe().T


def _churn_by_category(df: pd.DataFrame, churn: pd.Series | None) -> dict[str, pd.DataFrame]:
    if churn is None:
        return {}
    tables = {}
    for column in CATEGORICAL_COLUMNS:
        if column not in df.columns:
            continue
        grouped = churn.groupby(df[column], dropna=False)
        table = pd.DataFrame({"customers": grouped.size(), "churners": grouped.sum()})
        table["churn_rate"] = table["churners"] / table["customers"]
        table.index.name = "category"
        table = table.reset_index().sort_values("churn_rate", ascending=False)
        tables[column] = table.reset_index(drop=True)
    return tables
