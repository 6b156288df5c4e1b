"""The MLflow pyfunc model that scores raw customer records, and the checks on those records.

`ChurnModel.predict` validates the records itself and raises `MlflowException` with
`INVALID_PARAMETER_VALUE` on bad input, so `mlflow models serve` returns HTTP 400 with a
message naming the column and the records to fix. The input signature is lenient on purpose:
every column is optional and of type `Any`, because MLflow's own schema check responds to a
missing column with HTTP 500 and rejects numbers sent as text, such as the CSV's
`TotalCharges` of `"29.85"` or `" "`.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import version
from pathlib import Path

import joblib
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema

from core.schema import (
    CATEGORY_VALUES,
    FEATURE_COLUMNS,
    ID_COLUMN,
    NUMERIC_COLUMNS,
)

logger = logging.getLogger(__name__)

# Packages `core` imports when a logged model is loaded and scores records.
SERVING_PACKAGES: tuple[str, ...] = (
    "mlflow",
    "pandas",
    "numpy",
    "scikit-learn",
    "imbalanced-learn",
    "xgboost",
    "lightgbm",
    "shap",
    "numba",
    "joblib",
    "pyarrow",
)
PIPELINE_ARTIFACT = "pipeline"
BACKGROUND_ARTIFACT = "background"
# Training records stored with each model as the explainers' reference customers.
BACKGROUND_ROWS = 200
CORE_DIR = Path(__file__).resolve().parent

N_REASONS = 3
REASON_COLUMNS: tuple[str, ...] = tuple(f"reason_{i}" for i in range(1, N_REASONS + 1))
OUTPUT_COLUMNS: tuple[str, ...] = ("churn_probability", "decision", *REASON_COLUMNS)

# Largest number of records one `predict` call accepts, so one request cannot hold the
# server for minutes; `python -m core score` reads files of any size in chunks.
MAX_RECORDS_ENV = "CHURNLAB_MAX_RECORDS"
DEFAULT_MAX_RECORDS = 10_000

# A blank TotalCharges is valid: the published data has 11, all with tenure 0, and the
# pipeline imputes them. The other numbers must be present.
OPTIONAL_NUMERIC_COLUMNS = ("TotalCharges",)
MAX_EXAMPLES = 5


class InvalidRecordsError(ValueError):
    """Raised when customer records cannot be scored, with a message that names the fix."""


class ChurnModel(mlflow.pyfunc.PythonModel):
    """Fitted pipeline plus the decision threshold and the costs it was chosen for.

    `predict` returns one row per record: `customerID` first when the input has it, then
    `churn_probability`, `decision` (1 = contact the customer, when the probability is at
    least `threshold`) and `reason_1` to `reason_3`, the features that raise the churn risk
    most, from `core.explain.top_reasons`.
    """

    def __init__(self, threshold: float, cost_fn: float, cost_fp: float) -> None:
        self.threshold = float(threshold)
        self.cost_fn = float(cost_fn)
        self.cost_fp = float(cost_fp)
        self.pipeline = None
        self.background: pd.DataFrame | None = None

    def load_context(self, context) -> None:
        self.pipeline = joblib.load(context.artifacts[PIPELINE_ARTIFACT])
        # Models logged before the background sample was stored have none; their linear
        # and MLP explainers fall back to the configured data set.
        background_path = context.artifacts.get(BACKGROUND_ARTIFACT)
        self.background = pd.read_parquet(background_path) if background_path else None

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        try:
            check_record_count(len(frame), max_records())
            features = validate_records(frame, unit="record")
        except InvalidRecordsError as error:
            logger.warning("Rejected %d records: %s", len(frame), error)
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        return score_records(
            self.pipeline,
            features,
            self.threshold,
            ids=_ids(frame),
            background=self.background,
        )


def score_records(
    pipeline,
    features: pd.DataFrame,
    threshold: float,
    *,
    ids: pd.Series | None = None,
    reasons: bool = True,
    background: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score validated records: probability, decision at `threshold` and the top reasons.

    Args:
        pipeline: The fitted pipeline of a model run.
        features: Records as returned by `validate_records`.
        threshold: Customers with a churn probability at least this high are contacted.
        ids: Customer ids to put first in the output, or None.
        reasons: Whether to compute the reasons; when False they are empty strings.
        background: Training records for the linear and MLP explainers, or None.

    Returns:
        One row per record with `OUTPUT_COLUMNS`, and `customerID` first when `ids` is given.
    """
    from core.explain import pipeline_explainer, reason_columns

    found = pd.DataFrame()
    if reasons:
        # The explainer's preprocessing feeds the model too, so each record is cleaned and
        # encoded once. The estimator's own probabilities, not the explanation's sum, make
        # the decisions, so they equal the pipeline's `predict_proba` exactly.
        explainer = pipeline_explainer(pipeline, background)
        prepared = explainer.prepare(features)
        probability = explainer.estimator.predict_proba(prepared[1])[:, 1]
        found = reason_columns(explainer.explain(features, prepared), N_REASONS)
    else:
        probability = pipeline.predict_proba(features)[:, 1]
    probability = probability.astype(np.float64)
    result = pd.DataFrame(
        {
            "churn_probability": probability,
            "decision": (probability >= threshold).astype(np.int64),
        }
    )
    for column in REASON_COLUMNS:
        result[column] = found[column].to_numpy() if column in found else ""
    if ids is not None:
        result.insert(0, ID_COLUMN, ids.to_numpy())
    return result


def max_records() -> int:
    """Return the per-request record limit: `CHURNLAB_MAX_RECORDS`, else 10,000."""
    value = os.environ.get(MAX_RECORDS_ENV)
    if not value:
        return DEFAULT_MAX_RECORDS
    try:
        limit = int(value)
    except ValueError:
        raise InvalidRecordsError(
            f"{MAX_RECORDS_ENV}={value!r} is not a whole number; set it to a limit such as "
            "10000, or unset it."
        ) from None
    return max(limit, 1)


def check_record_count(n_records: int, limit: int) -> None:
    """Raise InvalidRecordsError for an empty batch or one above `limit` records."""
    if n_records == 0:
        raise InvalidRecordsError(
            "The input contains no records. Send at least one customer record."
        )
    if n_records > limit:
        raise InvalidRecordsError(
            f"The input contains {n_records} records, above the limit of {limit} per request. "
            "Split it into smaller requests, or score the file with "
            "`python -m core score --input FILE --output FILE`."
        )


def validate_records(
    frame: pd.DataFrame, *, first_row: int = 1, unit: str = "row"
) -> pd.DataFrame:
    """Check raw customer records and return the feature columns ready for the pipeline.

    Category values are stripped and must be values of the published data (`SeniorCitizen`
    0 or 1, as a number or text). `tenure` and `MonthlyCharges` must be numbers >= 0, given
    as numbers or text. `TotalCharges` may also be blank or null, which the pipeline imputes.
    `customerID` and columns the model does not use, such as `Churn`, are ignored.

    Args:
        frame: Records with the CSV's columns.
        first_row: Number that messages give the first record, so a chunk of a file can
            report rows of the whole file.
        unit: Word for one record in messages, such as "row" or "record".

    Returns:
        The feature columns in the CSV's order, numbers as floats and categories as text.

    Raises:
        InvalidRecordsError: If a feature column is missing, or a value is missing, not a
            number, negative, or an unknown category.
    """
    frame = frame.rename(columns=lambda name: str(name).strip())
    missing = [c for c in FEATURE_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidRecordsError(
            f"Missing columns: {', '.join(missing)}. Send every column of the Telco CSV "
            f"except Churn ({ID_COLUMN} is optional)."
        )
    extra = [c for c in frame.columns if c not in FEATURE_COLUMNS and c != ID_COLUMN]
    if extra:
        logger.info("Ignoring columns the model does not use: %s", extra)

    features = pd.DataFrame(index=frame.index)
    for column in FEATURE_COLUMNS:
        values = frame[column]
        if column == "SeniorCitizen":
            features[column] = _senior_citizen(values, first_row, unit)
        elif column in NUMERIC_COLUMNS:
            features[column] = _numbers(values, column, first_row, unit)
        else:
            features[column] = _categories(values, column, first_row, unit)
    return features.reset_index(drop=True)


def _ids(frame: pd.DataFrame) -> pd.Series | None:
    if ID_COLUMN not in frame.columns:
        return None
    ids = frame[ID_COLUMN]
    return ids.astype("str").where(ids.notna(), None).reset_index(drop=True)


def _as_text(values: pd.Series) -> pd.Series:
    """Return values as stripped text, with null and blank values as missing."""
    text = values.astype("string").str.strip()
    return text.mask(text.eq(""))


def _numbers(values: pd.Series, column: str, first_row: int, unit: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        _raise_rows(
            column,
            np.ones(len(values), bool),
            values,
            "is true/false, not a number",
            first_row,
            unit,
            "send a number such as 29.85",
        )
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(float)
        blank = numbers.isna().to_numpy()
    else:
        text = _as_text(values)
        blank = text.isna().to_numpy()
        numbers = pd.to_numeric(text, errors="coerce").astype(float)
        _raise_rows(
            column,
            numbers.isna().to_numpy() & ~blank,
            values,
            "is not a number",
            first_row,
            unit,
            "write a number such as 29.85",
        )
    if column not in OPTIONAL_NUMERIC_COLUMNS:
        _raise_rows(column, blank, values, "is blank", first_row, unit, "fill in a number")
    with np.errstate(invalid="ignore"):
        invalid = ~blank & (~np.isfinite(numbers.to_numpy()) | (numbers.to_numpy() < 0))
    _raise_rows(
        column, invalid, values, "is negative or not finite", first_row, unit, "use 0 or more"
    )
    return numbers


def _senior_citizen(values: pd.Series, first_row: int, unit: str) -> pd.Series:
    text = _as_text(values)
    codes = text.map({"0": 0, "1": 1, "0.0": 0, "1.0": 1}).astype("Int64")
    invalid = codes.isna().to_numpy()
    _raise_rows("SeniorCitizen", invalid, values, "is not 0 or 1", first_row, unit, "use 0 or 1")
    return codes.astype(np.int64)


def _categories(values: pd.Series, column: str, first_row: int, unit: str) -> pd.Series:
    text = _as_text(values)
    allowed = CATEGORY_VALUES[column]
    _raise_rows(
        column, text.isna().to_numpy(), values, "is blank", first_row, unit, "fill in a value"
    )
    unknown = ~text.isin(allowed).to_numpy()
    expected = ", ".join(repr(value) for value in allowed)
    _raise_rows(
        column, unknown, values, f"is not one of {expected}", first_row, unit, "use one of them"
    )
    return text.astype(object)


def _raise_rows(
    column: str,
    flags: np.ndarray,
    values: pd.Series,
    problem: str,
    first_row: int,
    unit: str,
    fix: str,
) -> None:
    """Raise InvalidRecordsError naming the first flagged rows, their values and `fix`."""
    positions = np.flatnonzero(flags)
    if positions.size == 0:
        return
    shown = [
        f"{unit} {first_row + position} ({_plain(values.iloc[position])!r})"
        for position in positions[:MAX_EXAMPLES]
    ]
    rest = positions.size - len(shown)
    where = ", ".join(shown) + (f" and {rest} more" if rest else "")
    raise InvalidRecordsError(f"Column '{column}' {problem} in {where}. Fix: {fix}.")


def _plain(value: object) -> object:
    """Unwrap numpy scalars so messages show 2 rather than np.int64(2)."""
    return value.item() if isinstance(value, np.generic) else value


def raw_input_signature() -> ModelSignature:
    """Return the signature of raw records: every CSV column but Churn, any type, optional.

    The names document the input; `ChurnModel.predict` checks presence and values itself,
    so bad input gets an HTTP 400 response and a message naming the records to fix.
    """
    inputs = Schema(
        [ColSpec(AnyType(), ID_COLUMN, required=False)]
        + [ColSpec(AnyType(), column, required=False) for column in FEATURE_COLUMNS]
    )
    outputs = Schema(
        [
            ColSpec("string", ID_COLUMN, required=False),
            ColSpec("double", "churn_probability"),
            ColSpec("long", "decision"),
        ]
        + [ColSpec("string", column) for column in REASON_COLUMNS]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_churn_model(
    pipeline,
    *,
    threshold: float,
    cost_fn: float,
    cost_fp: float,
    input_example: pd.DataFrame,
    work_dir: Path,
    background: pd.DataFrame | None = None,
) -> mlflow.models.model.ModelInfo:
    """Log `pipeline` as the `model` artifact of the active run, as a ChurnModel pyfunc.

    The `core` package travels with the model (`code_paths`), so the model loads and
    serves outside this repository. `background`, a sample of training records, travels
    with it too, for the explainers of models that need reference customers.
    """
    pipeline_path = Path(work_dir) / "pipeline.joblib"
    joblib.dump(pipeline, pipeline_path)
    artifacts = {PIPELINE_ARTIFACT: str(pipeline_path)}
    if background is not None:
        background_path = Path(work_dir) / "background.parquet"
        background.to_parquet(background_path, index=False)
        artifacts[BACKGROUND_ARTIFACT] = str(background_path)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=ChurnModel(threshold, cost_fn, cost_fp),
        artifacts=artifacts,
        code_paths=[str(CORE_DIR)],
        signature=raw_input_signature(),
        input_example=input_example,
        pip_requirements=serving_requirements(),
    )


def serving_requirements() -> list[str]:
    """Return the pinned packages a served model imports, at the versions installed now.

    Naming them spares MLflow its own inference, which loads the model in a subprocess
    and took about 8 of the 14 seconds of one model log here.
    """
    return [f"{name}=={version(name)}" for name in SERVING_PACKAGES]
