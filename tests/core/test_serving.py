"""Serving tests: record checks, the pyfunc in-process, `mlflow models serve` on loopback."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.exceptions import MlflowException

from core import registry
from core.schema import FEATURE_COLUMNS, ID_COLUMN, TARGET_COLUMN
from core.serving import (
    OUTPUT_COLUMNS,
    REASON_COLUMNS,
    InvalidRecordsError,
    check_record_count,
    validate_records,
)
from tests.servers import VENV_BIN, free_port, running_server, venv_env

SERVER_START_SECONDS = 120


@pytest.fixture
def records(generated_frame) -> pd.DataFrame:
    """Five generated customers as raw records, without Churn."""
    return generated_frame.head(5).drop(columns=TARGET_COLUMN).reset_index(drop=True)


def test_validate_records_returns_features(records):
    features = validate_records(records)
    assert list(features.columns) == list(FEATURE_COLUMNS)
    assert features["TotalCharges"].dtype == float
    assert features["SeniorCitizen"].isin([0, 1]).all()


def test_validate_records_accepts_csv_text(records):
    text = records.astype(str)
    text.loc[0, "TotalCharges"] = " "
    text.loc[1, "MonthlyCharges"] = " 70.5 "
    features = validate_records(text)
    assert np.isnan(features.loc[0, "TotalCharges"])
    assert features.loc[1, "MonthlyCharges"] == 70.5


def test_validate_records_ignores_extra_columns(records):
    features = validate_records(records.assign(Churn="Yes", note="vip"))
    assert list(features.columns) == list(FEATURE_COLUMNS)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("MonthlyCharges", "abc", r"Column 'MonthlyCharges' is not a number in row 3 \('abc'\)"),
        ("MonthlyCharges", " ", "Column 'MonthlyCharges' is blank in row 3"),
        ("tenure", -4, "Column 'tenure' is negative or not finite in row 3"),
        ("Contract", "Three year", "Column 'Contract' is not one of 'Month-to-month'"),
        ("gender", None, "Column 'gender' is blank in row 3"),
        ("SeniorCitizen", 2, "Column 'SeniorCitizen' is not 0 or 1 in row 3"),
    ],
)
def test_validate_records_rejects_bad_value(records, column, value, match):
    bad = records.astype(object)
    bad.loc[2, column] = value
    with pytest.raises(InvalidRecordsError, match=match):
        validate_records(bad)


def test_validate_records_names_missing_columns(records):
    with pytest.raises(InvalidRecordsError, match="Missing columns: tenure, Contract"):
        validate_records(records.drop(columns=["tenure", "Contract"]))


def test_validate_records_counts_from_first_row(records):
    bad = records.astype(object)
    bad.loc[1, "TotalCharges"] = "n/a"
    with pytest.raises(InvalidRecordsError, match="row 1001"):
        validate_records(bad, first_row=1000)


def test_record_count_limits():
    with pytest.raises(InvalidRecordsError, match="contains no records"):
        check_record_count(0, 10)
    with pytest.raises(InvalidRecordsError, match="11 records, above the limit of 10"):
        check_record_count(11, 10)


@pytest.fixture(scope="module")
def champion(trained_store) -> registry.VersionInfo:
    """Logistic regression promoted to champion of a registered model of its own."""
    name = f"churn-serve-{uuid.uuid4().hex[:8]}"
    registry.promote(
        run_id=trained_store.run_ids["logistic_regression"],
        tracking_uri=trained_store.tracking_uri,
        model_name=name,
    )
    return registry.get_champion(trained_store.tracking_uri, name)


@pytest.mark.slow
def test_pyfunc_scores_raw_records(champion, records):
    model = mlflow.pyfunc.load_model(f"models:/{champion.name}@champion")
    result = model.predict(records)
    pipeline = model.unwrap_python_model().pipeline
    expected = pipeline.predict_proba(records)[:, 1]
    assert list(result.columns) == [ID_COLUMN, *OUTPUT_COLUMNS]
    assert result[ID_COLUMN].tolist() == records[ID_COLUMN].tolist()
    np.testing.assert_allclose(result["churn_probability"], expected, rtol=1e-12)
    assert (result["decision"] == (expected >= champion.threshold)).all()
    for column in REASON_COLUMNS:
        assert result[column].map(lambda text: isinstance(text, str)).all()
    assert (result["reason_1"] != "").any()


@pytest.mark.slow
def test_pyfunc_bad_records_raise_invalid_parameter(champion, records):
    model = mlflow.pyfunc.load_model(f"models:/{champion.name}@champion")
    with pytest.raises(MlflowException, match="Missing columns: tenure") as caught:
        model.predict(records.drop(columns="tenure"))
    assert caught.value.get_http_status_code() == 400


@pytest.fixture(scope="module")
def server(champion, trained_store, tmp_path_factory) -> Iterator[str]:
    """Run `mlflow models serve` on the champion at a free loopback port; yield its URL."""
    port = free_port()
    command = [
        str(VENV_BIN / "mlflow"), "models", "serve",
        "-m", f"models:/{champion.name}@champion",
        "--env-manager", "local",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    with running_server(
        command,
        f"http://127.0.0.1:{port}",
        health_path="/ping",
        log_path=tmp_path_factory.mktemp("serve") / "server.log",
        env=venv_env(MLFLOW_TRACKING_URI=trained_store.tracking_uri),
        timeout_s=SERVER_START_SECONDS,
    ) as url:
        yield url


def _invoke(url: str, payload: dict | str) -> requests.Response:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return requests.post(
        f"{url}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )


def _split_payload(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}


def _records_payload(frame: pd.DataFrame) -> dict:
    return {"dataframe_records": json.loads(frame.to_json(orient="records"))}


@pytest.mark.slow
@pytest.mark.parametrize("to_payload", [_split_payload, _records_payload])
def test_server_matches_in_process(server, champion, real_frame, to_payload):
    raw = real_frame.head(20).drop(columns=TARGET_COLUMN)
    response = _invoke(server, to_payload(raw))
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    pipeline = mlflow.pyfunc.load_model(champion.model_uri).unwrap_python_model().pipeline
    expected = pipeline.predict_proba(raw)[:, 1]
    np.testing.assert_allclose(served["churn_probability"], expected, rtol=1e-9)
    assert served[ID_COLUMN].tolist() == raw[ID_COLUMN].tolist()
    assert served["decision"].tolist() == (expected >= champion.threshold).astype(int).tolist()
    assert set(REASON_COLUMNS) <= set(served.columns)


def _bad_payloads(raw: pd.DataFrame) -> dict[str, tuple[dict | str, str]]:
    """Name -> (payload, text the 400 message must contain)."""
    blank = raw.copy()
    blank.loc[0, "MonthlyCharges"] = None
    text_charge = raw.astype({"TotalCharges": object})
    text_charge.loc[1, "TotalCharges"] = "twenty"
    unknown = raw.copy()
    unknown.loc[0, "PaymentMethod"] = "Bitcoin"
    return {
        "missing column": (_records_payload(raw.drop(columns="Contract")), "Missing columns"),
        "unknown category": (_records_payload(unknown), "Column 'PaymentMethod'"),
        "blank charge": (_records_payload(blank), "Column 'MonthlyCharges' is blank"),
        "non-numeric charge": (_split_payload(text_charge), "Column 'TotalCharges'"),
        "empty list": ({"dataframe_records": []}, "no records"),
        "not json": ("{not json", ""),
    }


@pytest.mark.slow
def test_server_rejects_bad_payloads_with_400(server, real_frame):
    raw = real_frame.head(3).drop(columns=TARGET_COLUMN)
    for name, (payload, text) in _bad_payloads(raw).items():
        response = _invoke(server, payload)
        assert response.status_code == 400, f"{name}: {response.status_code} {response.text}"
        assert text in response.json()["message"], name
        assert "Traceback" not in response.text, name
    assert requests.get(f"{server}/ping", timeout=5).status_code == 200
    assert _invoke(server, _records_payload(raw)).status_code == 200


@pytest.mark.slow
def test_server_ignores_extra_column(server, real_frame):
    raw = real_frame.head(3).drop(columns=TARGET_COLUMN).assign(segment="gold")
    response = _invoke(server, _records_payload(raw))
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 3


@pytest.mark.slow
def test_server_rejects_100k_records(server, real_frame):
    raw = real_frame.drop(columns=TARGET_COLUMN)
    big = raw.sample(n=100_000, replace=True, random_state=0)
    response = _invoke(server, _split_payload(big))
    assert response.status_code == 400
    assert "above the limit of 10000" in response.json()["message"]
    assert _invoke(server, _records_payload(raw.head(2))).status_code == 200
