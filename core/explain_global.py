"""Global explanations of a logged run: SHAP summary, built-in and permutation importance.

Everything is stated per raw feature: one-hot and engineered columns are summed into the
raw column they come from, and permutation importance shuffles raw columns, so the one-hot
columns of a feature move together.
"""

from __future__ import annotations

import difflib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.inspection import permutation_importance

from core import explain_plots
from core.config import resolve_tracking_uri
from core.data import Dataset, load_dataset
from core.explain import ChurnExplainer, LocalExplanation, feature_label
from core.features import encoded_feature_names, raw_feature_name
from core.models import fitted_estimator, fitted_preprocessor
from core.schema import FEATURE_COLUMNS, ID_COLUMN, NUMERIC_COLUMNS
from core.training import SplitData

logger = logging.getLogger(__name__)

# The random forest and the MLP take tens of milliseconds per customer. Their global view
# therefore uses a seeded sample of this many test customers, and boosters explain all.
SLOW_FAMILY_MAX_CUSTOMERS = 300
SLOW_FAMILIES = ("random_forest", "mlp")
PERMUTATION_REPEATS = 5
# Features ranked within the top `DISAGREEMENT_TOP` by one importance but not the other.
DISAGREEMENT_TOP = 5


class ModelLoadError(RuntimeError):
    """The run's logged model could not be loaded, so it cannot be explained."""


@dataclass
class ExplainContext:
    """A logged run ready to explain: its pipeline, threshold and reproduced test split."""

    run_id: str
    model_name: str
    pipeline: object
    threshold: float
    split: SplitData
    explainer: ChurnExplainer

    @property
    def family(self) -> str:
        """Model family, as in `core.models.MODEL_FAMILIES`."""
        return self.explainer.family


@dataclass
class GlobalExplanation:
    """The global view of one model on its test customers.

    Attributes:
        mean_abs: Columns feature, mean_abs_shap (probability), sorted largest first.
        beeswarm: One row per customer and feature: customerID, feature, shap,
            value_label, value_scaled (0 to 1 within the feature, for colour).
        importance: Columns feature, builtin, permutation_mean, permutation_std.
        notes: Sentences on features where built-in and permutation importance disagree.
        n_customers: Test customers the SHAP summary is computed on.
    """

    mean_abs: pd.DataFrame
    beeswarm: pd.DataFrame
    importance: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    n_customers: int = 0


def load_explain_context(
    run_id: str, tracking_uri: str | None = None, dataset: Dataset | None = None
) -> ExplainContext:
    """Load a run's model and rebuild its train/test split from the run's seed and sizes.

    Args:
        run_id: MLflow run id of a model run.
        tracking_uri: Tracking store; the configured one when None.
        dataset: Data the run was trained on; `core.data.load_dataset()` when None.

    Raises:
        ModelLoadError: If the run has no loadable `model` artifact.
        ValueError: If the data differs from the data the run was trained on.
    """
    uri = resolve_tracking_uri(tracking_uri)
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    pipeline = _load_pipeline(run_id, uri)
    dataset = dataset or load_dataset()
    trained_hash = run.data.tags.get("data_hash")
    current_hash = dataset.source.as_tags()["data_hash"]
    if trained_hash and trained_hash != current_hash:
        raise ValueError(
            f"Run {run_id} was trained on {run.data.tags.get('data_source', trained_hash)}, "
            f"but the data loaded now is {dataset.source.label}; point CHURNLAB_DATA at the "
            "run's data to explain it."
        )
    params = run.data.params
    n_test, n_train = int(params["n_test"]), int(params["n_train"])
    split = SplitData.from_dataset(
        dataset, test_size=n_test / (n_test + n_train), seed=int(params["seed"])
    )
    explainer = ChurnExplainer(pipeline, split.X_train.drop(columns=[ID_COLUMN]))
    return ExplainContext(
        run_id=run_id,
        model_name=params.get("model", run.data.tags.get("model_name", "model")),
        pipeline=pipeline,
        threshold=float(run.data.metrics.get("threshold", 0.5)),
        split=split,
        explainer=explainer,
    )


def _load_pipeline(run_id: str, tracking_uri: str):
    mlflow.set_tracking_uri(tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
        pipeline = model.unwrap_python_model().pipeline
    except Exception as error:  # noqa: BLE001 - any unpickling failure means "not loadable"
        raise ModelLoadError(
            f"The model of run {run_id} could not be loaded ({type(error).__name__}: {error})."
        ) from error
    if pipeline is None:
        raise ModelLoadError(
            f"The model of run {run_id} is missing its fitted pipeline; retrain the run."
        )
    return pipeline


def builtin_importance(pipeline) -> pd.Series:
    """Return the model's own importance per raw feature, summing to 1; empty for an MLP.

    Trees give `feature_importances_` (XGBoost: gain, LightGBM: split counts, random
    forest: impurity decrease). Logistic regression gives |coefficient| on the scaled,
    one-hot inputs, so a feature with many categories collects more of it.
    """
    estimator = fitted_estimator(pipeline)
    names = encoded_feature_names(fitted_preprocessor(pipeline))
    if hasattr(estimator, "feature_importances_"):
        weights = np.asarray(estimator.feature_importances_, dtype=float)
    elif hasattr(estimator, "coef_"):
        weights = np.abs(np.ravel(estimator.coef_))
    else:
        return pd.Series(dtype=float, name="builtin")
    grouped = pd.Series(weights, index=[raw_feature_name(n) for n in names]).groupby(level=0)
    totals = grouped.sum()
    if totals.sum() > 0:
        totals = totals / totals.sum()
    return totals.rename("builtin")


def raw_permutation_importance(
    pipeline, X: pd.DataFrame, y: np.ndarray, *, n_repeats: int = PERMUTATION_REPEATS, seed=0
) -> pd.DataFrame:
    """Return the drop in test AUC when each raw column is shuffled, with its std over repeats.

    Returns:
        A frame indexed by raw feature with `permutation_mean` and `permutation_std`.
    """
    features = X.loc[:, list(FEATURE_COLUMNS)]
    result = permutation_importance(
        pipeline, features, y, scoring="roc_auc", n_repeats=n_repeats, random_state=seed
    )
    return pd.DataFrame(
        {"permutation_mean": result.importances_mean, "permutation_std": result.importances_std},
        index=list(FEATURE_COLUMNS),
    )


def importance_table(
    pipeline, X: pd.DataFrame, y: np.ndarray, *, n_repeats: int = PERMUTATION_REPEATS
) -> pd.DataFrame:
    """Return built-in and permutation importance side by side, by permutation importance."""
    table = raw_permutation_importance(pipeline, X, y, n_repeats=n_repeats)
    table.insert(0, "builtin", builtin_importance(pipeline).reindex(table.index))
    table = table.sort_values("permutation_mean", ascending=False)
    return table.rename_axis("feature").reset_index()


def importance_disagreements(table: pd.DataFrame, top: int = DISAGREEMENT_TOP) -> list[str]:
    """Name the features in the top `top` of one importance but outside it in the other."""
    if table["builtin"].isna().all():
        return ["This model has no built-in importance; only permutation importance is shown."]
    builtin_rank = table["builtin"].rank(ascending=False, method="first")
    permutation_rank = table["permutation_mean"].rank(ascending=False, method="first")
    notes = []
    for position, feature in enumerate(table["feature"]):
        by_builtin, by_permutation = int(builtin_rank[position]), int(permutation_rank[position])
        if (by_builtin <= top) != (by_permutation <= top):
            notes.append(
                f"{feature} ranks {by_builtin} by built-in importance but {by_permutation} by "
                "permutation importance."
            )
    return notes


def global_explanation(
    context: ExplainContext, *, max_customers: int | None = None, n_repeats: int = 5
) -> GlobalExplanation:
    """Explain the run's test customers: mean |SHAP|, beeswarm data and both importances.

    Args:
        context: Output of `load_explain_context`.
        max_customers: Explain at most this many test customers, a seeded sample. None
            explains all of them, except for slow families (`SLOW_FAMILY_MAX_CUSTOMERS`).
        n_repeats: Shuffles per raw column for permutation importance.
    """
    X_test, y_test = context.split.X_test, context.split.y_test
    limit = max_customers
    if limit is None and context.family in SLOW_FAMILIES:
        limit = SLOW_FAMILY_MAX_CUSTOMERS
    sample = (
        X_test if limit is None or limit >= len(X_test) else X_test.sample(n=limit, random_state=0)
    )
    started = time.perf_counter()
    explanation = context.explainer.explain(sample)
    logger.info(
        "SHAP values of %d customers for run %s in %.2f s",
        len(sample),
        context.run_id,
        time.perf_counter() - started,
    )
    mean_abs = explanation.values.abs().mean().sort_values(ascending=False)
    importance = importance_table(context.pipeline, X_test, y_test, n_repeats=n_repeats)
    return GlobalExplanation(
        mean_abs=mean_abs.rename_axis("feature").reset_index(name="mean_abs_shap"),
        beeswarm=beeswarm_frame(explanation, sample[ID_COLUMN].astype(str).to_numpy()),
        importance=importance,
        notes=importance_disagreements(importance),
        n_customers=len(sample),
    )


def beeswarm_frame(explanation: LocalExplanation, customer_ids: np.ndarray) -> pd.DataFrame:
    """Return the long beeswarm data: one row per customer and raw feature.

    `value_scaled` places the raw value within its feature from 0 to 1: the percentile rank
    for numbers, the category's position among the sorted categories otherwise.
    """
    frames = []
    for feature in explanation.values.columns:
        raw = explanation.raw_values[feature]
        frames.append(
            pd.DataFrame(
                {
                    ID_COLUMN: customer_ids,
                    "feature": feature,
                    "shap": explanation.values[feature].to_numpy(),
                    "value_label": [feature_label(feature, value) for value in raw],
                    "value_scaled": _scaled_values(raw, numeric=feature in NUMERIC_COLUMNS),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _scaled_values(values: pd.Series, *, numeric: bool) -> np.ndarray:
    if numeric:
        return values.rank(pct=True).fillna(0.5).to_numpy()
    categories = sorted(values.astype(str).unique())
    if len(categories) == 1:
        return np.full(len(values), 0.5)
    position = values.astype(str).map({c: i for i, c in enumerate(categories)})
    return (position / (len(categories) - 1)).to_numpy(dtype=float)


def log_global_explanation(
    run_id: str,
    *,
    tracking_uri: str | None = None,
    context: ExplainContext | None = None,
    summary: GlobalExplanation | None = None,
    max_customers: int | None = None,
) -> GlobalExplanation:
    """Compute the global explanation of a run and log it to that run.

    Data goes under `explanations/` (mean_abs_shap.csv, importance.csv, beeswarm.parquet),
    Plotly JSON figures under `plots/` (shap_mean_abs.json, shap_beeswarm.json,
    importance.json). Logging again overwrites them. A `summary` computed before is logged
    as it is; otherwise it is computed from `context` (loaded from the run when None).
    """
    uri = resolve_tracking_uri(tracking_uri)
    if summary is None:
        context = context or load_explain_context(run_id, uri)
        summary = global_explanation(context, max_customers=max_customers)
    client = MlflowClient(tracking_uri=uri)
    client.log_text(run_id, summary.mean_abs.to_csv(index=False), "explanations/mean_abs_shap.csv")
    client.log_text(run_id, summary.importance.to_csv(index=False), "explanations/importance.csv")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "beeswarm.parquet"
        summary.beeswarm.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), artifact_path="explanations")
    figures = {
        "shap_mean_abs": explain_plots.mean_abs_shap_figure(summary.mean_abs),
        "shap_beeswarm": explain_plots.beeswarm_figure(summary.beeswarm),
        "importance": explain_plots.importance_comparison_figure(summary.importance),
    }
    for key, figure in figures.items():
        client.log_text(run_id, figure.to_json(), f"plots/{key}.json")
    logger.info(
        "logged the global explanation of run %s (%d customers)", run_id, summary.n_customers
    )
    return summary


@dataclass
class CustomerDecision:
    """The decision for one customer at a threshold and the expected cost of each action.

    Attributes:
        probability: The model's output, which the threshold is compared with.
        threshold: Decision threshold.
        contact: Whether the customer gets a retention offer.
        expected_cost_contact: Cost expected from contacting: `cost_fp` if they stay.
        expected_cost_no_contact: Cost expected from not contacting: `cost_fn` if they leave.
        calibrated_probability: The chance of churn that the expected costs use: the
            calibrated probability when one is given, else `probability`.
    """

    probability: float
    threshold: float
    contact: bool
    expected_cost_contact: float
    expected_cost_no_contact: float
    calibrated_probability: float


def customer_decision(
    probability: float,
    threshold: float,
    cost_fn: float,
    cost_fp: float,
    calibrated_probability: float | None = None,
) -> CustomerDecision:
    """Decide whether to contact a customer: contact when `probability >= threshold`.

    The threshold was chosen on the model's raw outputs, so the decision compares the raw
    output. The expected costs need a real chance of churn: with class weights the raw
    output overstates it, so pass `calibrated_probability` (for example from
    `core.calibration.fit_calibrator` on the run's out-of-fold predictions) when there is one.
    """
    chance = float(probability if calibrated_probability is None else calibrated_probability)
    return CustomerDecision(
        probability=float(probability),
        threshold=float(threshold),
        contact=bool(probability >= threshold),
        expected_cost_contact=(1.0 - chance) * cost_fp,
        expected_cost_no_contact=chance * cost_fn,
        calibrated_probability=chance,
    )


def rank_test_customers(context: ExplainContext) -> pd.DataFrame:
    """Return the test customers' ids and churn probabilities, highest probability first."""
    X_test = context.split.X_test
    probability = context.pipeline.predict_proba(X_test)[:, 1]
    frame = pd.DataFrame(
        {ID_COLUMN: X_test[ID_COLUMN].astype(str).to_numpy(), "probability": probability}
    )
    return frame.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)


def find_customer(context: ExplainContext, customer_id: str) -> tuple[pd.DataFrame, str]:
    """Return one customer's raw record and its split ("test" or "train") by customer id.

    Raises:
        ValueError: If no customer has this id; the message lists up to five close matches.
    """
    requested = customer_id.strip()
    for split_name, frame in (("test", context.split.X_test), ("train", context.split.X_train)):
        ids = frame[ID_COLUMN].astype(str)
        hits = frame[ids.str.upper() == requested.upper()]
        if not hits.empty:
            return hits.head(1), split_name
    known = pd.concat([context.split.X_test[ID_COLUMN], context.split.X_train[ID_COLUMN]])
    close = difflib.get_close_matches(requested.upper(), known.astype(str).str.upper(), n=5)
    originals = {c.upper(): c for c in known.astype(str)}
    hint = (
        "Close matches: " + ", ".join(originals[c] for c in close) + "."
        if close
        else "Ids look like 7590-VHVEG; pick one from the list of high-risk customers."
    )
    raise ValueError(f"No customer with id {requested!r} in run {context.run_id}'s data. {hint}")


def logged_top_features(
    run_id: str, tracking_uri: str | None = None, k: int = 5
) -> pd.DataFrame | None:
    """Return the run's k features with the largest mean |SHAP|, as logged, or None.

    Reads `explanations/mean_abs_shap.csv`, written by `log_global_explanation`, so it
    computes nothing. The frame has columns `feature` and `importance`, highest first.
    """
    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path="explanations/mean_abs_shap.csv",
            tracking_uri=resolve_tracking_uri(tracking_uri),
        )
    except mlflow.exceptions.MlflowException:
        return None
    table = pd.read_csv(local).rename(columns={"mean_abs_shap": "importance"})
    return table.sort_values("importance", ascending=False).head(k).reset_index(drop=True)
