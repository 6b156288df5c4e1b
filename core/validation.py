"""Checks that a raw Telco frame can be used before anything is fitted on it.

Each failed check raises `DataValidationError` with one message that names the column, lists a
few example rows and gives the fix. Row numbers in messages count data rows from 1,
so row 1 is the first line below the CSV header.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from core.schema import (
    CATEGORICAL_COLUMNS,
    CATEGORY_VALUES,
    ID_COLUMN,
    NUMERIC_COLUMNS,
    RAW_COLUMNS,
    TARGET_COLUMN,
)

logger = logging.getLogger(__name__)

MAX_EXAMPLES = 5

# Spellings accepted for the target after stripping and lower-casing.
TARGET_LABELS: dict[str, str] = {
    "yes": "Yes",
    "no": "No",
    "1": "Yes",
    "0": "No",
    "1.0": "Yes",
    "0.0": "No",
    "true": "Yes",
    "false": "No",
}

ROW_CONVENTION = "rows counted from 1 below the header"


class DataValidationError(ValueError):
    """Raised when input data cannot be used, with a message that names the fix."""


def validate_frame(df: pd.DataFrame, *, require_target: bool = True) -> pd.DataFrame:
    """Validate a raw Telco frame and return a cleaned copy.

    The copy has stripped column names and text values, blank or whitespace-only strings
    replaced by missing values, `Churn` normalised to "Yes"/"No", and the numeric columns
    (`tenure`, `MonthlyCharges`, `TotalCharges`, `SeniorCitizen`) converted to numbers, so a
    blank `TotalCharges` becomes NaN. The input frame is never modified.

    Args:
        df: Frame with the 21 columns of the Telco CSV.
        require_target: Whether `Churn` must be present with both classes. Set it to False to
            validate customers to be scored; a `Churn` column that is present anyway must still
            contain valid labels.

    Returns:
        The cleaned copy, with the same index as `df`.

    Raises:
        DataValidationError: If the frame is empty, columns are missing or unknown, the target
            has invalid labels or a single class, a numeric column contains text, or customer
            ids are missing or duplicated.
    """
    _check_not_empty(df)
    frame = df.copy()
    frame.columns = [str(name).strip() for name in frame.columns]
    _check_columns(frame, require_target=require_target)

    frame = _strip_text(frame)
    if TARGET_COLUMN in frame.columns:
        frame[TARGET_COLUMN] = normalise_target(frame[TARGET_COLUMN])
        if require_target:
            _check_both_classes(frame[TARGET_COLUMN])
    for column in (*NUMERIC_COLUMNS, "SeniorCitizen"):
        frame[column] = _to_numeric(frame[column], column)
    _check_senior_citizen(frame["SeniorCitizen"])
    _check_ids(frame[ID_COLUMN])
    _warn_unknown_categories(frame)

    logger.info("Validated %d rows and %d columns", len(frame), frame.shape[1])
    return frame


def normalise_target(target: pd.Series) -> pd.Series:
    """Map churn labels such as "yes", " No ", 1, 0 or True to "Yes"/"No".

    Args:
        target: The `Churn` column, as text, numbers or booleans.

    Returns:
        A `str` series of "Yes" and "No" with the index of `target`.

    Raises:
        DataValidationError: If any value is missing or is not a yes/no or 1/0 label.
    """
    keys = target.astype("str").str.strip().str.lower()
    labels = keys.map(TARGET_LABELS)
    invalid = labels.isna().to_numpy()
    if invalid.any():
        raise DataValidationError(
            f"Column '{TARGET_COLUMN}' has labels that are not Yes/No or 1/0 on "
            f"{_count_rows(invalid)} ({ROW_CONVENTION}): {_examples(target, invalid)}. "
            f"Fix: write each customer's label as Yes (churned) or No, or drop unlabelled rows."
        )
    return labels.astype("str")


def _check_not_empty(df: pd.DataFrame) -> None:
    if df.shape[1] == 0:
        raise DataValidationError(
            "The data has no columns. Fix: load the Telco CSV with its header line, "
            f"starting with '{ID_COLUMN}'."
        )
    if df.shape[0] == 0:
        raise DataValidationError(
            "The data has a header but no rows. Fix: load a file that contains customers."
        )


def _check_columns(frame: pd.DataFrame, *, require_target: bool) -> None:
    expected = [c for c in RAW_COLUMNS if require_target or c != TARGET_COLUMN]
    present = list(frame.columns)

    duplicated = sorted({c for c in present if present.count(c) > 1})
    if duplicated:
        raise DataValidationError(
            f"Columns appear more than once: {_quote(duplicated)}. "
            "Fix: keep one column of each name."
        )

    missing = [c for c in expected if c not in present]
    unknown = [c for c in present if c not in RAW_COLUMNS]
    if missing:
        raise DataValidationError(
            f"Missing columns: {_quote(missing)}{_suggestions(missing, unknown)}. "
            "Fix: rename or add them so the header matches the Telco CSV."
        )
    if unknown:
        raise DataValidationError(
            f"Unknown columns: {_quote(unknown)}. The expected columns are {_quote(expected)}. "
            "Fix: drop the extra columns or rename them to the expected names."
        )


def _suggestions(missing: list[str], unknown: list[str]) -> str:
    """Name the unknown columns that look like a misspelt missing column."""
    pairs = []
    for name in missing:
        close = difflib.get_close_matches(name.lower(), [u.lower() for u in unknown], n=1)
        if close:
            original = next(u for u in unknown if u.lower() == close[0])
            pairs.append(f"'{original}' should probably be '{name}'")
    return f" ({'; '.join(pairs)})" if pairs else ""


def _strip_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Strip text values and turn blank strings into missing values."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:
            stripped = values.map(_strip_if_text)
        elif pd.api.types.is_string_dtype(values.dtype):
            stripped = values.str.strip()
        else:
            continue
        frame[column] = stripped.mask(stripped.eq(""))
    return frame


def _strip_if_text(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _check_both_classes(target: pd.Series) -> None:
    counts = target.value_counts()
    if len(counts) < 2:
        only = counts.index[0]
        raise DataValidationError(
            f"Column '{TARGET_COLUMN}' contains only '{only}' ({counts.iloc[0]} rows), so no "
            "model can learn to tell churners from other customers. "
            "Fix: load data that contains both churners (Yes) and retained customers (No)."
        )


def _to_numeric(values: pd.Series, column: str) -> pd.Series:
    """Convert a column to numbers, keeping missing values as NaN and raising on other text."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    invalid = (numbers.isna() & values.notna()).to_numpy()
    if invalid.any():
        raise DataValidationError(
            f"Column '{column}' has text that is not a number on {_count_rows(invalid)} "
            f"({ROW_CONVENTION}): {_examples(values, invalid)}. "
            "Fix: correct or blank out these cells; blank cells are read as missing values."
        )
    return numbers


def _check_senior_citizen(values: pd.Series) -> None:
    invalid = (values.notna() & ~values.isin([0, 1])).to_numpy()
    if invalid.any():
        raise DataValidationError(
            f"Column 'SeniorCitizen' has values other than 0 or 1 on {_count_rows(invalid)} "
            f"({ROW_CONVENTION}): {_examples(values, invalid)}. "
            "Fix: write 1 for senior citizens and 0 for everyone else."
        )


def _check_ids(ids: pd.Series) -> None:
    missing = ids.isna().to_numpy()
    if missing.any():
        rows = _row_numbers(np.flatnonzero(missing))
        raise DataValidationError(
            f"Column '{ID_COLUMN}' is blank on {_count_rows(missing)} ({ROW_CONVENTION}): "
            f"{rows}. Fix: give every customer an id."
        )
    duplicated = ids.duplicated(keep=False).to_numpy()
    if duplicated.any():
        n_ids = ids[duplicated].nunique()
        raise DataValidationError(
            f"Column '{ID_COLUMN}' repeats {n_ids} ids on {_count_rows(duplicated)} "
            f"({ROW_CONVENTION}): {_examples(ids, duplicated)}. "
            "Fix: remove the repeated customers or give each row its own id."
        )


def _warn_unknown_categories(frame: pd.DataFrame) -> None:
    """Log category values that the published data does not contain."""
    for column in CATEGORICAL_COLUMNS:
        if column == "SeniorCitizen":
            continue
        values = frame[column]
        unknown = ~values.isin(CATEGORY_VALUES[column]) & values.notna()
        if unknown.any():
            found = sorted(values[unknown].astype("str").unique())[:MAX_EXAMPLES]
            logger.warning(
                "Column %r has %d values outside %s, for example %s",
                column,
                int(unknown.sum()),
                list(CATEGORY_VALUES[column]),
                found,
            )


def _examples(values: pd.Series, flags: np.ndarray) -> str:
    """Describe the first flagged rows as "row 3 ('abc'), row 9 ('x') and 4 more"."""
    positions = np.flatnonzero(flags)
    described = [
        f"row {position + 1} ({_plain(values.iloc[position])!r})"
        for position in positions[:MAX_EXAMPLES]
    ]
    return _with_rest(described, len(positions))


def _plain(value: object) -> object:
    """Unwrap numpy scalars so messages show 2 rather than np.int64(2)."""
    return value.item() if isinstance(value, np.generic) else value


def _count_rows(flags: np.ndarray) -> str:
    count = int(flags.sum())
    return f"{count} row" if count == 1 else f"{count} rows"


def _row_numbers(positions: np.ndarray) -> str:
    described = [f"row {position + 1}" for position in positions[:MAX_EXAMPLES]]
    return _with_rest(described, len(positions))


def _with_rest(described: list[str], total: int) -> str:
    text = ", ".join(described)
    if total > len(described):
        text += f" and {total - len(described)} more"
    return text


def _quote(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
