"""Batch scoring tests: chunks, row numbers in errors, and the `score` command."""

from __future__ import annotations

import uuid

import mlflow
import numpy as np
import pandas as pd
import pytest

from core import registry
from core.cli import main
from core.schema import ID_COLUMN
from core.scoring import score_csv
from core.serving import OUTPUT_COLUMNS, InvalidRecordsError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def champion_uri(trained_store) -> str:
    """Promote XGBoost to champion of its own registered model; return its alias URI."""
    name = f"churn-score-{uuid.uuid4().hex[:8]}"
    registry.promote(
        run_id=trained_store.run_ids["xgboost"],
        tracking_uri=trained_store.tracking_uri,
        model_name=name,
    )
    return f"models:/{name}@champion"


@pytest.fixture
def customers_csv(real_frame, tmp_path):
    path = tmp_path / "customers.csv"
    real_frame.head(150).to_csv(path, index=False)
    return path


@pytest.fixture
def score_file(trained_store, champion_uri, tmp_path):
    """A function that scores a CSV with the champion into `tmp_path / "out.csv"`."""

    def score(path, **options):
        return score_csv(
            path,
            tmp_path / "out.csv",
            model_uri=champion_uri,
            tracking_uri=trained_store.tracking_uri,
            **options,
        )

    return score


def test_score_csv_matches_pipeline(
    trained_store, champion_uri, customers_csv, real_frame, tmp_path
):
    output = tmp_path / "scored.csv"
    result = score_csv(
        customers_csv,
        output,
        model_uri=champion_uri,
        tracking_uri=trained_store.tracking_uri,
        chunk_size=40,
    )
    scored = pd.read_csv(output, dtype={ID_COLUMN: str}, keep_default_na=False)
    model = mlflow.pyfunc.load_model(champion_uri).unwrap_python_model()
    expected = model.pipeline.predict_proba(real_frame.head(150))[:, 1]
    assert result.n_rows == 150
    assert list(scored.columns) == [ID_COLUMN, *OUTPUT_COLUMNS]
    assert scored[ID_COLUMN].tolist() == real_frame[ID_COLUMN].head(150).tolist()
    np.testing.assert_allclose(scored["churn_probability"], expected, rtol=1e-9)
    assert result.n_contacted == int((expected >= model.threshold).sum())
    assert not (tmp_path / "scored.csv.partial").exists()


def test_score_csv_names_invalid_row(score_file, real_frame, tmp_path):
    frame = real_frame.head(150).astype({"MonthlyCharges": object})
    frame.loc[frame.index[120], "MonthlyCharges"] = "lots"
    path = tmp_path / "bad_value.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidRecordsError, match=r"MonthlyCharges' is not a number in row 121"):
        score_file(path, chunk_size=50)
    assert not (tmp_path / "out.csv").exists()
    assert not (tmp_path / "out.csv.partial").exists()


def test_score_csv_names_malformed_row(score_file, customers_csv, tmp_path):
    lines = customers_csv.read_text().splitlines()
    lines[90] += ",surplus"
    path = tmp_path / "malformed.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidRecordsError, match=r"malformed at row 90 .*has 22 fields"):
        score_file(path, chunk_size=40)


def test_score_csv_names_short_row(score_file, customers_csv, tmp_path):
    lines = customers_csv.read_text().splitlines()
    lines[45] = ",".join(lines[45].split(",")[:-2])
    path = tmp_path / "short.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidRecordsError, match=r"malformed at row 45 .*has 19 fields"):
        score_file(path, chunk_size=40)


def test_score_csv_names_invalid_utf8(score_file, customers_csv, tmp_path):
    # The last rows, beyond the first block that the header check decodes.
    head, tail = customers_csv.read_bytes().rsplit(b"Female", 1)
    content = head + b"F\xe9male" + tail
    path = tmp_path / "latin1.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidRecordsError, match="not valid UTF-8. Fix: save it as CSV UTF-8"):
        score_file(path)


def test_score_csv_names_semicolon_separator(score_file, customers_csv, tmp_path):
    path = tmp_path / "semicolons.csv"
    path.write_text(customers_csv.read_text().replace(",", ";"))
    with pytest.raises(InvalidRecordsError, match="separates its columns with semicolons"):
        score_file(path)


def test_score_csv_header_only_rejected(score_file, customers_csv, tmp_path):
    path = tmp_path / "header_only.csv"
    path.write_text(customers_csv.read_text().splitlines()[0] + "\n")
    with pytest.raises(InvalidRecordsError, match="has a header but no rows"):
        score_file(path)
    assert not (tmp_path / "out.csv").exists()


def test_score_missing_model_rejected(trained_store, customers_csv, tmp_path):
    with pytest.raises(FileNotFoundError, match="could not be loaded"):
        score_csv(
            customers_csv,
            tmp_path / "out.csv",
            model_uri="models:/no-such-model@champion",
            tracking_uri=trained_store.tracking_uri,
        )


def test_score_command_writes_file(trained_store, champion_uri, customers_csv, tmp_path, capsys):
    output = tmp_path / "scored.csv"
    argv = [
        "score", "--input", str(customers_csv), "--output", str(output),
        "--model-uri", champion_uri, "--tracking-uri", trained_store.tracking_uri,
    ]  # fmt: skip
    assert main(argv) == 0
    assert "Scored 150 customers" in capsys.readouterr().out
    assert len(pd.read_csv(output)) == 150


def test_score_missing_output_folder_rejected(
    trained_store, champion_uri, customers_csv, tmp_path
):
    output = tmp_path / "no-such-folder" / "scored.csv"

    with pytest.raises(FileNotFoundError, match="Output folder not found: .*no-such-folder"):
        score_csv(
            customers_csv, output, model_uri=champion_uri, tracking_uri=trained_store.tracking_uri
        )
