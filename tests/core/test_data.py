"""Tests for core.data: sources, loading, reading bad files and splitting."""

from __future__ import annotations

import hashlib
import io
import logging

import numpy as np
import pandas as pd
import pytest

import core.config
from core.data import (
    DataSource,
    dataset_from_bytes,
    load_dataset,
    read_csv_file,
    split_features_target,
    train_test_split_frame,
)
from core.validation import DataValidationError


@pytest.fixture
def csv_bytes(generated_frame) -> bytes:
    return generated_frame.head(50).to_csv(index=False).encode("utf-8")


@pytest.fixture
def no_default_data(monkeypatch, tmp_path):
    """Make the loader find no configured file, as on a fresh checkout without the CSV."""
    monkeypatch.delenv("CHURNLAB_DATA", raising=False)
    monkeypatch.setattr(core.config, "DEFAULT_DATA_PATH", tmp_path / "absent.csv")


def write(tmp_path, content: bytes, name: str = "data.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_generated_source_label():
    source = DataSource("generated", None, None, 42, 7043)
    assert source.label == "generated, seed 42, 7043 rows"
    assert source.as_tags() == {
        "data_source": "generated, seed 42, 7043 rows",
        "data_hash": "generated-seed42-n7043",
    }


def test_file_source_label():
    digest = "abcd1234" + "0" * 56
    source = DataSource("file", "/data/WA_Fn-UseC_-Telco-Customer-Churn.csv", digest, None, 7043)
    assert source.label == "file WA_Fn-UseC_-Telco-Customer-Churn.csv (sha256 abcd1234…)"
    assert source.as_tags()["data_hash"] == digest


def test_source_is_frozen():
    source = DataSource("generated", None, None, 42, 7043)
    with pytest.raises(AttributeError):
        source.n_rows = 5


def test_load_generated_when_no_file(no_default_data, caplog):
    with caplog.at_level(logging.WARNING, logger="core.data"):
        dataset = load_dataset(n_rows=300, seed=5)
    assert dataset.source == DataSource("generated", None, None, 5, 300)
    assert len(dataset.frame) == 300
    assert "using generated data" in caplog.text


def test_load_real_default_file(real_frame, monkeypatch):
    monkeypatch.delenv("CHURNLAB_DATA", raising=False)
    dataset = load_dataset()
    assert dataset.source.kind == "file"
    assert dataset.source.n_rows == 7043
    assert dataset.source.label.startswith("file WA_Fn-UseC_-Telco-Customer-Churn.csv")
    assert dataset.frame["TotalCharges"].isna().sum() == 11


def test_load_file_records_hash(tmp_path, csv_bytes):
    path = write(tmp_path, csv_bytes)
    dataset = load_dataset(path)
    assert dataset.source.sha256 == hashlib.sha256(csv_bytes).hexdigest()
    assert dataset.source.path == str(path)
    assert dataset.source.n_rows == 50


def test_load_without_validation_keeps_text(tmp_path, csv_bytes):
    dataset = load_dataset(write(tmp_path, csv_bytes), validate=False)
    assert dataset.frame["TotalCharges"].dtype == "str"


def test_load_missing_path_rejected(tmp_path):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(DataValidationError, match=r"not found: .*nowhere\.csv\. Fix: check"):
        load_dataset(missing)


def test_load_missing_env_path_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNLAB_DATA", str(tmp_path / "from_env.csv"))
    with pytest.raises(DataValidationError, match="from_env.csv.*unset CHURNLAB_DATA"):
        load_dataset()


def test_load_folder_rejected(tmp_path):
    with pytest.raises(DataValidationError, match="is a folder"):
        load_dataset(tmp_path)


def test_load_invalid_file_rejected(tmp_path, generated_frame):
    frame = generated_frame.head(30).drop(columns="gender")
    path = write(tmp_path, frame.to_csv(index=False).encode())
    with pytest.raises(DataValidationError, match="Missing columns: 'gender'"):
        load_dataset(path)


def test_read_keeps_total_charges_text(tmp_path, generated_frame):
    billed = generated_frame[generated_frame["tenure"] > 0].head(40)
    frame = read_csv_file(write(tmp_path, billed.to_csv(index=False).encode()))
    assert frame["TotalCharges"].dtype == "str"
    assert frame.dtypes.to_dict() == generated_frame.dtypes.to_dict()


def test_read_keeps_digit_ids_text(tmp_path, csv_bytes):
    frame = pd.read_csv(io.BytesIO(csv_bytes))
    frame["customerID"] = [f"{i:05d}" for i in range(len(frame))]
    read = read_csv_file(frame.to_csv(index=False).encode())
    assert read["customerID"].iloc[0] == "00000"


def test_read_real_file_dtypes(real_frame):
    assert real_frame.shape == (7043, 21)
    assert real_frame["TotalCharges"].dtype == "str"
    assert real_frame["SeniorCitizen"].dtype == "int64"


def test_read_accepts_bytes_and_buffers(csv_bytes):
    from_bytes = read_csv_file(csv_bytes)
    buffer = io.BytesIO(csv_bytes)
    buffer.read()  # a buffer that was read before, as after a preview
    from_buffer = read_csv_file(buffer)
    pd.testing.assert_frame_equal(from_bytes, from_buffer)


def test_read_accepts_file_object(tmp_path, csv_bytes):
    path = write(tmp_path, csv_bytes)
    with path.open("rb") as handle:
        frame = read_csv_file(handle)
    assert len(frame) == 50


def test_read_accepts_byte_order_mark(csv_bytes):
    frame = read_csv_file(b"\xef\xbb\xbf" + csv_bytes)
    assert frame.columns[0] == "customerID"


def test_dataset_from_bytes(csv_bytes):
    dataset = dataset_from_bytes(csv_bytes, "upload.csv")
    assert dataset.source.label.startswith("file upload.csv (sha256 ")
    assert dataset.source.sha256 == hashlib.sha256(csv_bytes).hexdigest()
    assert set(dataset.frame["Churn"].unique()) <= {"Yes", "No"}


@pytest.mark.parametrize("content", [b"", b"  \n\n "])
def test_empty_file_rejected(tmp_path, content):
    with pytest.raises(DataValidationError, match="data.csv is empty"):
        read_csv_file(write(tmp_path, content))


def test_header_only_file_has_no_rows(tmp_path, csv_bytes):
    header = csv_bytes.split(b"\n")[0] + b"\n"
    frame = read_csv_file(write(tmp_path, header))
    assert len(frame) == 0
    with pytest.raises(DataValidationError, match="header but no rows"):
        load_dataset(write(tmp_path, header, "header.csv"))


@pytest.mark.parametrize(
    ("delimiter", "name"),
    [(";", "semicolons"), ("\t", "tabs"), ("|", "pipes")],
)
def test_other_delimiter_rejected(generated_frame, delimiter, name):
    content = generated_frame.head(10).to_csv(index=False, sep=delimiter).encode()
    with pytest.raises(DataValidationError, match=f"separated by {name}.*Fix: save"):
        read_csv_file(content)


def test_latin1_file_rejected(tmp_path, generated_frame):
    frame = generated_frame.head(10).copy()
    frame.loc[frame.index[3], "PaymentMethod"] = "Chèque"
    path = write(tmp_path, frame.to_csv(index=False).encode("latin-1"))
    with pytest.raises(DataValidationError, match=r"not valid UTF-8: byte b'\\xe8'.*UTF-8"):
        read_csv_file(path)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00rest of a workbook", "Excel .xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old workbook", "old Excel .xls"),
        (b"%PDF-1.7\n", "PDF"),
        (b"PAR1\x15\x04", "Parquet"),
    ],
)
def test_binary_formats_rejected(content, kind):
    with pytest.raises(DataValidationError, match=f"{kind}.*not a CSV file"):
        read_csv_file(content)


def test_nul_bytes_rejected():
    with pytest.raises(DataValidationError, match="binary data"):
        read_csv_file(b"customerID,gender\x00\x00\x01\n")


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b'[{"customerID": "1234-ABCDE"}]', "JSON"),
        (b'  {"customerID": "1234-ABCDE"}', "JSON"),
        (b"<!DOCTYPE html><html></html>", "HTML or XML"),
    ],
)
def test_markup_rejected(content, kind):
    with pytest.raises(DataValidationError, match=f"looks like {kind}"):
        read_csv_file(content)


def test_plain_text_rejected():
    with pytest.raises(DataValidationError, match="does not look like a CSV file"):
        read_csv_file(b"Customer churn notes\nnothing tabular here\n")


def test_ragged_rows_rejected(csv_bytes):
    lines = csv_bytes.split(b"\n")
    lines[3] = lines[3] + b",extra,fields"
    with pytest.raises(DataValidationError, match="not a valid CSV file.*same number"):
        read_csv_file(b"\n".join(lines))


def test_split_features_target(real_frame):
    X, y = split_features_target(real_frame)
    assert "Churn" not in X.columns
    assert X.shape == (7043, 20)
    assert y.dtype == np.int64
    assert int(y.sum()) == 1869
    assert (y == (real_frame["Churn"] == "Yes").to_numpy()).all()


def test_split_accepts_numeric_labels(generated_frame):
    frame = generated_frame.head(30).copy()
    expected = (frame["Churn"] == "Yes").to_numpy(dtype=np.int64)
    frame["Churn"] = expected
    _, y = split_features_target(frame)
    assert (y == expected).all()


def test_split_without_target_rejected(generated_frame):
    with pytest.raises(DataValidationError, match="'Churn' is missing.*Fix: load labelled"):
        split_features_target(generated_frame.drop(columns="Churn"))


def test_train_test_split_stratified(real_frame):
    train, test = train_test_split_frame(real_frame)
    assert len(test) == 1409
    assert len(train) + len(test) == 7043
    assert train.index.intersection(test.index).empty
    train_rate = (train["Churn"] == "Yes").mean()
    test_rate = (test["Churn"] == "Yes").mean()
    assert abs(train_rate - test_rate) < 0.002


def test_train_test_split_deterministic(generated_frame):
    first_train, _ = train_test_split_frame(generated_frame, test_size=0.3, seed=1)
    second_train, _ = train_test_split_frame(generated_frame, test_size=0.3, seed=1)
    other_train, _ = train_test_split_frame(generated_frame, test_size=0.3, seed=2)
    assert first_train.index.equals(second_train.index)
    assert not first_train.index.equals(other_train.index)
    assert len(first_train) == 700
