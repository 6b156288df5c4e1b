"""The MLflow pyfunc model that scores raw customer records."""

from __future__ import annotations

import logging
from pathlib import Path

import joblib
import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from core.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, ID_COLUMN

logger = logging.getLogger(__name__)

PIPELINE_ARTIFACT = "pipeline"
CORE_DIR = Path(__file__).resolve().parent


class ChurnModel(mlflow.pyfunc.PythonModel):
    """Fitted pipeline plus the decision threshold and the costs it was chosen for.

    `predict` returns one row per record with `churn_probability` and `decision`
    (1 = contact the customer), and `customerID` first when the input has it.
    """

    def __init__(self, threshold: float, cost_fn: float, cost_fp: float) -> None:
        self.threshold = float(threshold)
        self.cost_fn = float(cost_fn)
        self.cost_fp = float(cost_fp)
        self.pipeline = None

    def load_context(self, context) -> None:
        self.pipeline = joblib.load(context.artifacts[PIPELINE_ARTIFACT])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        probability = self.pipeline.predict_proba(frame)[:, 1]
        result = pd.DataFrame(
            {"churn_probability": probability, "decision": (probability >= self.threshold)}
        )
        result["decision"] = result["decision"].astype(int)
        if ID_COLUMN in frame.columns:
            result.insert(0, ID_COLUMN, frame[ID_COLUMN].astype(str).to_numpy())
        return result


def raw_input_signature() -> ModelSignature:
    """Return the input schema of raw records: every feature required, customerID optional.

    Charges are numbers, as `core.validation.validate_frame` returns them; a blank
    `TotalCharges` is sent as null.
    """
    specs = [ColSpec("string", ID_COLUMN, required=False)]
    for column in FEATURE_COLUMNS:
        if column in CATEGORICAL_COLUMNS and column != "SeniorCitizen":
            specs.append(ColSpec("string", column))
        elif column in ("MonthlyCharges", "TotalCharges"):
            specs.append(ColSpec("double", column))
        else:
            specs.append(ColSpec("long", column))
    outputs = Schema(
        [
            ColSpec("string", ID_COLUMN, required=False),
            ColSpec("double", "churn_probability"),
            ColSpec("long", "decision"),
        ]
    )
    return ModelSignature(inputs=Schema(specs), outputs=outputs)


def log_churn_model(
    pipeline,
    *,
    threshold: float,
    cost_fn: float,
    cost_fp: float,
    input_example: pd.DataFrame,
    work_dir: Path,
) -> mlflow.models.model.ModelInfo:
    """Log `pipeline` as the `model` artifact of the active run, as a ChurnModel pyfunc.

    The `core` package travels with the model (`code_paths`), so the model loads and
    serves outside this repository.
    """
    pipeline_path = Path(work_dir) / "pipeline.joblib"
    joblib.dump(pipeline, pipeline_path)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=ChurnModel(threshold, cost_fn, cost_fp),
        artifacts={PIPELINE_ARTIFACT: str(pipeline_path)},
        code_paths=[str(CORE_DIR)],
        signature=raw_input_signature(),
        input_example=input_example,
    )
