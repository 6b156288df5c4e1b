"""Loading the Telco data from a CSV file, an upload or the generator, and splitting it."""

from __future__ import annotations

import hashlib
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from core.config import resolve_data_path
from core.schema import ID_COLUMN, TARGET_COLUMN
from core.synthetic import generate_telco
from core.validation import DataValidationError, normalise_target, validate_frame

logger = logging.getLogger(__name__)

# Columns read as text whatever they contain: TotalCharges has blanks in the real file, and ids
# made of digits only must not turn into numbers.
TEXT_COLUMNS = {ID_COLUMN: "str", "TotalCharges": "str"}

# Delimiters that are reported when a file read with commas yields one column.
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}

# File signatures of formats that are often uploaded by mistake instead of a CSV.
BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive or an Excel .xlsx workbook",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"PAR1": "a Parquet file",
}

# First characters of JSON, HTML and XML documents, which a Telco CSV header never starts with.
MARKUP_STARTS = {b"{": "JSON", b"[": "JSON", b"<": "HTML or XML"}

SNIFF_BYTES = 8192


@dataclass(frozen=True)
class DataSource:
    """Origin of a data set, recorded with every model run.

    Attributes:
        kind: "file" for a CSV file or upload, "generated" for `core.synthetic` data.
        path: Path or upload name of the file, or None for generated data.
        sha256: Hex SHA-256 of the file's bytes, or None for generated data.
        seed: Generator seed, or None for files.
        n_rows: Number of data rows.
    """

    kind: Literal["file", "generated"]
    path: str | None
    sha256: str | None
    seed: int | None
    n_rows: int

    @property
    def label(self) -> str:
        """Short description such as "generated, seed 42, 7043 rows"."""
        if self.kind == "generated":
            return f"generated, seed {self.seed}, {self.n_rows} rows"
        name = Path(self.path).name if self.path else "upload"
        digest = (self.sha256 or "")[:8]
        return f"file {name} (sha256 {digest}…)"

    def as_tags(self) -> dict[str, str]:
        """Return the MLflow tags `data_source` and `data_hash` for this source.

        Generated data has no file hash, so its `data_hash` is "generated-seed<seed>-n<rows>",
        which identifies the frame because the generator is deterministic.
        """
        data_hash = self.sha256 or f"generated-seed{self.seed}-n{self.n_rows}"
        return {"data_source": self.label, "data_hash": data_hash}


@dataclass
class Dataset:
    """A raw Telco frame together with the source it came from."""

    frame: pd.DataFrame
    source: DataSource


def load_dataset(
    path: str | os.PathLike | None = None,
    *,
    n_rows: int = 7043,
    seed: int = 42,
    validate: bool = True,
) -> Dataset:
    """Load the Telco data from a CSV file, or generate it when no file is configured.

    The file is chosen by `core.config.resolve_data_path`: the argument, else the
    `CHURNLAB_DATA` variable, else the default file in `data/`. When none of these gives a
    file, generated data is returned and a warning is logged.

    Args:
        path: CSV file to read. A path that does not exist is an error, never a fallback.
        n_rows: Number of rows to generate when no file is used.
        seed: Generator seed when no file is used.
        validate: Whether to pass the frame through `validate_frame`. Set it to False to
            keep the raw text, for example to audit hidden blanks.

    Returns:
        The frame and its `DataSource`.

    Raises:
        DataValidationError: If the file is missing, unreadable or fails validation.
    """
    resolved = resolve_data_path(path)
    if resolved is None:
        logger.warning(
            "No data file found, so using generated data (%d rows, seed %d); set "
            "CHURNLAB_DATA or pass a path to use the real data",
            n_rows,
            seed,
        )
        frame = generate_telco(n_rows=n_rows, seed=seed)
        source = DataSource("generated", None, None, seed, len(frame))
    else:
        content = _read_file_bytes(resolved)
        frame = read_csv_file(_named_buffer(content, str(resolved)))
        digest = hashlib.sha256(content).hexdigest()
        source = DataSource("file", str(resolved), digest, None, len(frame))
        logger.info("Loaded %d rows from %s (sha256 %s)", len(frame), resolved, digest[:12])

    if validate:
        frame = validate_frame(frame)
    return Dataset(frame=frame, source=source)


def dataset_from_bytes(content: bytes, name: str, *, validate: bool = True) -> Dataset:
    """Read an uploaded CSV given as bytes and record its name and hash as the source.

    Args:
        content: The file's bytes, as returned by an upload widget's `getvalue()`.
        name: File name shown in labels and tags.
        validate: Whether to pass the frame through `validate_frame`.

    Returns:
        The frame and a `DataSource` of kind "file".

    Raises:
        DataValidationError: If the bytes are not a readable CSV or fail validation.
    """
    frame = read_csv_file(_named_buffer(content, name))
    digest = hashlib.sha256(content).hexdigest()
    source = DataSource("file", name, digest, None, len(frame))
    if validate:
        frame = validate_frame(frame)
    return Dataset(frame=frame, source=source)


def read_csv_file(path_or_buffer: str | os.PathLike | bytes | IO[bytes]) -> pd.DataFrame:
    """Read a Telco CSV with the dtypes of the published file, reporting unusable files.

    `customerID` and `TotalCharges` are always read as text. Values are not stripped, so
    blank cells such as `" "` stay visible to `core.audit`.

    Args:
        path_or_buffer: A path, the file's bytes, or a binary file object such as a
            Streamlit upload.

    Returns:
        The frame as read.

    Raises:
        DataValidationError: If the file is missing, empty, binary, not UTF-8, not valid CSV
            or separated by another delimiter than a comma.
    """
    if isinstance(path_or_buffer, bytes):
        content = path_or_buffer
        name = "The uploaded file"
    elif isinstance(path_or_buffer, (str, os.PathLike)):
        content = _read_file_bytes(Path(path_or_buffer))
        name = str(path_or_buffer)
    else:
        content = _read_buffer(path_or_buffer)
        name = getattr(path_or_buffer, "name", None) or "The uploaded file"

    _check_text_content(content, name)
    frame = _parse_csv(content, name)
    _check_delimiter(frame, name)
    return frame


def split_features_target(df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Split a frame into features `X` (every column but `Churn`) and an int target.

    Args:
        df: Frame with a `Churn` column of yes/no or 1/0 labels.

    Returns:
        `X` with the index of `df`, and `y` as an int array with 1 for churn.

    Raises:
        DataValidationError: If `Churn` is absent or contains invalid labels.
    """
    if TARGET_COLUMN not in df.columns:
        raise DataValidationError(
            f"Column '{TARGET_COLUMN}' is missing, so there is no target to learn. "
            "Fix: load labelled data with a Churn column of Yes/No values."
        )
    labels = normalise_target(df[TARGET_COLUMN])
    y = (labels == "Yes").to_numpy(dtype=np.int64)
    return df.drop(columns=TARGET_COLUMN), y


def train_test_split_frame(
    df: pd.DataFrame, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a labelled frame into train and test frames stratified on `Churn`.

    Args:
        df: Frame with a `Churn` column.
        test_size: Fraction of rows in the test frame.
        seed: `random_state` of `sklearn.model_selection.train_test_split`.

    Returns:
        `(train_df, test_df)`, keeping the original index labels of `df`.

    Raises:
        DataValidationError: If `Churn` is absent or contains invalid labels.
    """
    _, y = split_features_target(df)
    train_df, test_df = train_test_split(df, test_size=test_size, random_state=seed, stratify=y)
    logger.info(
        "Split %d rows into %d train and %d test rows (seed %d)",
        len(df),
        len(train_df),
        len(test_df),
        seed,
    )
    return train_df, test_df


def _named_buffer(content: bytes, name: str) -> io.BytesIO:
    # Errors from read_csv_file name the file through the buffer's `name`.
    buffer = io.BytesIO(content)
    buffer.name = name
    return buffer


def _read_file_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataValidationError(
            f"Data file not found: {path}. Fix: check the path, or pass no path and unset "
            "CHURNLAB_DATA to use the generated data."
        )
    if path.is_dir():
        raise DataValidationError(
            f"Data path is a folder, not a file: {path}. Fix: pass the path of the CSV file."
        )
    return path.read_bytes()


def _read_buffer(buffer: IO[bytes]) -> bytes:
    """Read a whole binary file object, from its start when it can seek."""
    if hasattr(buffer, "getvalue"):
        content = buffer.getvalue()
    else:
        if hasattr(buffer, "seek"):
            buffer.seek(0)
        content = buffer.read()
    if isinstance(content, str):
        # Text buffers such as io.StringIO are accepted and treated as UTF-8.
        content = content.encode("utf-8")
    return content


def _check_text_content(content: bytes, name: str) -> None:
    if not content.strip():
        raise DataValidationError(
            f"{name} is empty. Fix: export the data again with its header line and rows."
        )
    for signature, description in BINARY_SIGNATURES.items():
        if content.startswith(signature):
            raise DataValidationError(
                f"{name} is {description}, not a CSV file. "
                "Fix: open it and save or export it as 'CSV UTF-8 (comma delimited)'."
            )
    first_char = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first_char in MARKUP_STARTS:
        raise DataValidationError(
            f"{name} starts with {first_char.decode()!r}, so it looks like "
            f"{MARKUP_STARTS[first_char]}, not a CSV file. "
            "Fix: export the data as 'CSV UTF-8 (comma delimited)'."
        )
    if b"\x00" in content[:SNIFF_BYTES]:
        raise DataValidationError(
            f"{name} contains binary data (NUL bytes), so it is not a CSV text file. "
            "Fix: export the data as 'CSV UTF-8 (comma delimited)'."
        )


def _parse_csv(content: bytes, name: str) -> pd.DataFrame:
    # utf-8-sig also reads files that start with the byte-order mark Excel writes.
    buffer = io.BytesIO(content)
    try:
        return pd.read_csv(buffer, encoding="utf-8-sig", dtype=TEXT_COLUMNS)
    except UnicodeDecodeError as error:
        raise DataValidationError(
            f"{name} is not valid UTF-8: byte {content[error.start : error.start + 1]!r} at "
            f"offset {error.start} cannot be decoded. Fix: save the file with UTF-8 encoding, "
            "for example as 'CSV UTF-8' in Excel."
        ) from error
    except pd.errors.EmptyDataError as error:
        raise DataValidationError(
            f"{name} has no header line. Fix: export the data again with its header line."
        ) from error
    except pd.errors.ParserError as error:
        raise DataValidationError(
            f"{name} is not a valid CSV file: {str(error).strip()}. Fix: check that every "
            "row has the same number of comma-separated fields and that quotes are closed."
        ) from error


def _check_delimiter(frame: pd.DataFrame, name: str) -> None:
    """Reject a file whose header has no comma, which a Telco CSV of 21 columns always has."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    for delimiter, delimiter_name in OTHER_DELIMITERS.items():
        if delimiter in header:
            raise DataValidationError(
                f"{name} is separated by {delimiter_name}s ({delimiter!r}), not commas: its "
                f"header was read as the single column {header[:60]!r}. "
                "Fix: save the file with commas as the delimiter."
            )
    raise DataValidationError(
        f"{name} does not look like a CSV file: its first line {header[:60]!r} contains no "
        "comma. Fix: load the Telco CSV, whose header starts with 'customerID,gender,'."
    )
