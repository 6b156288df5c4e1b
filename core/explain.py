"""SHAP explanations of single customers, stated in raw customer terms and in probability.

Each model family gets the SHAP explainer that is exact or cheap for it, in the output space
where its Shapley values add up:

- XGBoost and LightGBM: tree SHAP on the trees (path-dependent), in log-odds. For XGBoost,
  a batch below `core.treeshap.TABLE_MIN_ROWS` customers gets XGBoost's own `pred_contribs`,
  the routine `shap.TreeExplainer` calls for it, on one thread, because starting a thread
  pool for one customer cost more than the work. Larger batches get the same values from
  the per-leaf tables of `core.treeshap`, about 20 times faster per core. A booster those
  tables do not support stays on `pred_contribs`.
- Random forest: `TreeExplainer`, in probability, because scikit-learn's forest averages the
  class fractions of its leaves.
- Logistic regression: `LinearExplainer` over a background sample, in log-odds.
- MLP: a permutation explainer over a background sample of 50 rows, in probability.

The page shows probabilities, so contributions in log-odds are converted: each one is scaled
by the same factor, (p - p0) / (m - m0), where m is the customer's log-odds, m0 the base
log-odds, p and p0 their probabilities. The scaled values keep their signs and ranking and
add up exactly from p0 to p. The exact log-odds values stay available as `native_values`.
Contributions of the one-hot and engineered columns of one raw feature are summed into it.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shap

from core.features import encoded_feature_names, raw_feature_name
from core.models import fitted_estimator, fitted_preprocessor
from core.schema import FEATURE_COLUMNS, ID_COLUMN
from core.treeshap import XGBoostContributions

logger = logging.getLogger(__name__)

LOG_ODDS = "log-odds"
PROBABILITY = "probability"

BACKGROUND_ROWS = 100
MLP_BACKGROUND_ROWS = 50
BACKGROUND_SEED = 0

# Add-on services that exist only with internet service, so a what-if keeps them consistent.
INTERNET_ADDONS: tuple[str, ...] = (
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)


@dataclass
class LocalExplanation:
    """SHAP contributions of some customers, one column per raw feature.

    Attributes:
        values: Contributions in probability, rows indexed like the input customers.
        base_value: Probability the contributions start from (the model's average output).
        probability: Each customer's churn probability; `base_value + values.sum(axis=1)`.
        raw_values: The customers' cleaned raw feature values, for labels.
        native_values: Contributions in the explainer's own output space.
        native_base: Base value in that space.
        space: `"log-odds"` or `"probability"`, the space of `native_values`.
    """

    values: pd.DataFrame
    base_value: float
    probability: np.ndarray
    raw_values: pd.DataFrame
    native_values: pd.DataFrame
    native_base: float
    space: str


class ChurnExplainer:
    """A SHAP explainer for one fitted pipeline, built once and reused for many customers.

    Args:
        pipeline: Fitted model pipeline (steps clean, engineer, encode, [resample], model).
        background: Raw customer records the linear and MLP explainers compare against;
            tree explainers ignore it. A seeded sample of `BACKGROUND_ROWS` rows is used
            (`MLP_BACKGROUND_ROWS` for the MLP).

    Raises:
        ValueError: If the model needs a background and none is given, or the estimator
            is not one of the supported families.
    """

    def __init__(self, pipeline, background: pd.DataFrame | None = None) -> None:
        self.pipeline = pipeline
        self.preprocessor = fitted_preprocessor(pipeline)
        self.estimator = fitted_estimator(pipeline)
        self.encoded_names = encoded_feature_names(self.preprocessor)
        self.raw_names = [raw_feature_name(name) for name in self.encoded_names]
        self.family = estimator_family(self.estimator)
        self.space = PROBABILITY if self.family in ("random_forest", "mlp") else LOG_ODDS
        started = time.perf_counter()
        self._explainer = self._build(background)
        logger.info(
            "built the %s SHAP explainer (%s) in %.2f s",
            self.family,
            self.space,
            time.perf_counter() - started,
        )

    def _build(self, background: pd.DataFrame | None):
        if self.family == "xgboost":
            # After early stopping, `predict_proba` uses the trees up to the best iteration
            # only, so the explanation keeps the same trees. Slicing also copies the booster,
            # so the single-thread setting leaves the served model alone.
            booster = self.estimator.get_booster()
            best_iteration = getattr(self.estimator, "best_iteration", None)
            n_rounds = (
                booster.num_boosted_rounds() if best_iteration is None else best_iteration + 1
            )
            booster = booster[:n_rounds]
            booster.set_param({"nthread": 1})
            return XGBoostContributions(booster)
        if self.family in ("lightgbm", "random_forest"):
            return shap.TreeExplainer(self.estimator)
        if background is None or background.empty:
            raise ValueError(
                f"The {self.family} explainer needs background customers; pass a sample "
                "of the training data as `background`."
            )
        rows = MLP_BACKGROUND_ROWS if self.family == "mlp" else BACKGROUND_ROWS
        sample = background.sample(n=min(rows, len(background)), random_state=BACKGROUND_SEED)
        encoded = self.preprocessor.transform(sample)
        masker = shap.maskers.Independent(encoded, max_samples=len(encoded))
        if self.family == "logistic_regression":
            return shap.LinearExplainer(self.estimator, masker)
        return shap.explainers.Permutation(self._positive_probability, masker)

    def _positive_probability(self, encoded: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(encoded)[:, 1]

    def prepare(self, X_raw: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the customers' cleaned raw values and the model's encoded input matrix.

        The cleaned frame goes through the remaining steps, so it is cleaned only once.
        """
        raw_values = self.preprocessor.named_steps["clean"].transform(X_raw)
        return raw_values, self.preprocessor[1:].transform(raw_values)

    def explain(
        self, X_raw: pd.DataFrame, prepared: tuple[pd.DataFrame, np.ndarray] | None = None
    ) -> LocalExplanation:
        """Explain each customer of `X_raw` (raw Telco columns, customerID optional).

        Args:
            X_raw: Raw customer records.
            prepared: `prepare(X_raw)`, when the caller has it already.
        """
        raw_values, encoded = prepared if prepared is not None else self.prepare(X_raw)
        native, native_base = self._native(encoded)
        grouped = group_by_raw_feature(native, self.encoded_names)
        grouped.index = X_raw.index
        # Additivity gives the model's output from the explanation itself, without a second
        # prediction; the tests check it against `predict_proba` for every family.
        output = native_base + grouped.sum(axis=1).to_numpy()
        probability = output if self.space == PROBABILITY else _sigmoid_array(output)
        values, base_value = to_probability(grouped, native_base, probability, self.space)
        return LocalExplanation(
            values=values,
            base_value=base_value,
            probability=probability,
            raw_values=raw_values,
            native_values=grouped,
            native_base=native_base,
            space=self.space,
        )

    def _native(self, encoded: np.ndarray) -> tuple[np.ndarray, float]:
        if self.family == "xgboost":
            contributions = self._explainer.contributions(encoded)
            # The last column is the bias: the expected log-odds, the same for every row.
            return contributions[:, :-1], float(contributions[0, -1])
        if self.family == "mlp":
            # 2 * features + 1 evaluations give at least one forward and backward pass.
            max_evals = max(500, 2 * encoded.shape[1] + 1)
            result = self._explainer(encoded, max_evals=max_evals, silent=True)
            return np.asarray(result.values), float(np.ravel(result.base_values)[0])
        if self.family == "logistic_regression":
            values = self._explainer.shap_values(encoded)
            return np.asarray(values), float(np.ravel(self._explainer.expected_value)[0])
        values = np.asarray(self._explainer.shap_values(encoded, check_additivity=False))
        base = np.ravel(self._explainer.expected_value)
        if values.ndim == 3:
            # scikit-learn forests give one slice per class; class 1 is churn.
            return values[:, :, 1], float(base[1])
        return values, float(base[-1])


def estimator_family(estimator) -> str:
    """Return the model family of a fitted classifier, as in `core.models.MODEL_FAMILIES`."""
    kind = type(estimator).__name__
    families = {
        "XGBClassifier": "xgboost",
        "LGBMClassifier": "lightgbm",
        "RandomForestClassifier": "random_forest",
        "LogisticRegression": "logistic_regression",
        "MLPClassifier": "mlp",
    }
    if kind not in families:
        raise ValueError(f"No explainer for estimator {kind}; supported: {', '.join(families)}.")
    return families[kind]


def group_by_raw_feature(values: np.ndarray, encoded_names: list[str]) -> pd.DataFrame:
    """Sum the columns of `values` that belong to one raw feature.

    One-hot columns such as `cat__Contract_Two year` and engineered columns such as
    `num__is_new_customer` map to their raw feature by `core.features.raw_feature_name`.
    The result has one column per raw feature, in `FEATURE_COLUMNS` order.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    if values.shape[1] != len(encoded_names):
        raise ValueError(
            f"values have {values.shape[1]} columns but {len(encoded_names)} names were given."
        )
    features, membership = raw_feature_membership(encoded_names)
    return pd.DataFrame(values @ membership, columns=features)


def raw_feature_membership(encoded_names: list[str]) -> tuple[list[str], np.ndarray]:
    """Return the raw features present and the 0/1 matrix mapping encoded columns to them.

    A matrix product sums the groups in one step, about a hundred times faster than a
    pandas groupby on a one-row frame.
    """
    raw_names = [raw_feature_name(name) for name in encoded_names]
    features = [name for name in FEATURE_COLUMNS if name in raw_names]
    membership = np.zeros((len(encoded_names), len(features)))
    for row, raw in enumerate(raw_names):
        membership[row, features.index(raw)] = 1.0
    return features, membership


def to_probability(
    native: pd.DataFrame, native_base: float, probability: np.ndarray, space: str
) -> tuple[pd.DataFrame, float]:
    """Convert contributions to probability, so that base plus contributions is `probability`.

    Log-odds contributions of each customer are scaled by (p - p0) / (m - m0). When m is
    within 1e-9 of m0, the slope of the sigmoid at m0 is the scale instead.
    """
    if space == PROBABILITY:
        return native.copy(), float(native_base)
    base_probability = _sigmoid(native_base)
    margin_gap = native.sum(axis=1).to_numpy()
    probability_gap = np.asarray(probability, dtype=float) - base_probability
    slope = base_probability * (1.0 - base_probability)
    small = np.abs(margin_gap) < 1e-9
    scale = np.where(small, slope, probability_gap / np.where(small, 1.0, margin_gap))
    return native.mul(scale, axis=0), base_probability


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def _sigmoid_array(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def feature_label(feature: str, value: object) -> str:
    """Name a raw feature with its value as a customer would read it.

    Examples: "tenure = 3 months", "MonthlyCharges = 70.35", "Contract = Month-to-month".
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{feature} = missing"
    if feature == "tenure":
        months = int(round(float(value)))
        return f"tenure = {months} month" + ("" if months == 1 else "s")
    if feature in ("MonthlyCharges", "TotalCharges"):
        return f"{feature} = {float(value):,.2f}"
    if feature == "SeniorCitizen":
        return "SeniorCitizen = " + ("Yes" if str(value).strip() in ("1", "1.0") else "No")
    return f"{feature} = {value}"


def contribution_table(explanation: LocalExplanation, position: int = 0) -> pd.DataFrame:
    """Return one customer's contributions as rows: feature, label, contribution.

    Rows are sorted by absolute contribution, largest first; contributions are in
    probability (0.12 means 12 percentage points).
    """
    values = explanation.values.iloc[position]
    raw = explanation.raw_values.iloc[position]
    table = pd.DataFrame(
        {
            "feature": values.index,
            "label": [feature_label(name, raw[name]) for name in values.index],
            "contribution": values.to_numpy(),
        }
    )
    order = np.argsort(-np.abs(table["contribution"].to_numpy()), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def reasons_sentence(table: pd.DataFrame, k: int = 3) -> str:
    """Write the top `k` reasons each way as one plain sentence.

    Args:
        table: Output of `contribution_table`.
        k: Reasons to name in each direction.
    """
    up = table[table["contribution"] > 0].nlargest(k, "contribution")
    down = table[table["contribution"] < 0].nsmallest(k, "contribution")
    parts = []
    if not up.empty:
        parts.append("Churn risk is raised most by " + _join_reasons(up))
    if not down.empty:
        lead = "and lowered most by " if parts else "Churn risk is lowered most by "
        parts.append(lead + _join_reasons(down))
    if not parts:
        return "No feature moves this customer's churn risk away from the average."
    return ", ".join(parts) + "."


def _join_reasons(rows: pd.DataFrame) -> str:
    items = [f"{row.label} ({100 * row.contribution:+.1f} points)" for row in rows.itertuples()]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


# One explainer per fitted pipeline, dropped when the pipeline is garbage-collected.
_EXPLAINERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_explainer(pipeline, background: pd.DataFrame | None = None) -> ChurnExplainer:
    """Return the explainer of `pipeline`, building it on the first call.

    A later call reuses the first explainer whatever `background` it passes.
    """
    explainer = _EXPLAINERS.get(pipeline)
    if explainer is None:
        explainer = ChurnExplainer(pipeline, background)
        _EXPLAINERS[pipeline] = explainer
    return explainer


def top_reasons(
    pipeline, X_raw: pd.DataFrame, k: int = 3, background: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Return the `k` features that push each customer's churn risk up most.

    Columns `reason_1` .. `reason_k` hold strings such as
    "Contract = Month-to-month (+0.12)", the contribution in probability; a reason is an
    empty string when fewer than `k` features raise the risk. The index is `X_raw`'s.

    Cost per customer with a warm explainer, measured on a busy 2-core machine: about 27 ms
    median for the default XGBoost (`bench/explain.py`), most of it preprocessing. Estimates
    from timing the fast test models: 20-70 ms for the other families. The MLP is the costly
    one in batches, because its permutation explainer evaluates the network on 500 x 50
    masked rows per customer (about 11 s for 200 customers).

    Args:
        pipeline: Fitted model pipeline; its explainer is built once and cached.
        X_raw: Raw customer records.
        k: Reasons per customer, at least 1.
        background: Training records for logistic regression and MLP explainers. When
            None, a sample of `core.data.load_dataset()` is used for them.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    explanation = pipeline_explainer(pipeline, background).explain(X_raw)
    return reason_columns(explanation, k)


def pipeline_explainer(pipeline, background: pd.DataFrame | None = None) -> ChurnExplainer:
    """Return the cached explainer of `pipeline`, with a default background when it needs one.

    Without `background`, logistic regression and MLP explainers use a sample of
    `core.data.load_dataset()`.
    """
    if background is None and pipeline not in _EXPLAINERS:
        background = _default_background(pipeline)
    return cached_explainer(pipeline, background)


def reason_columns(explanation: LocalExplanation, k: int = 3) -> pd.DataFrame:
    """Return `reason_1` .. `reason_k` of each explained customer, as `top_reasons` does."""
    values = explanation.values.to_numpy()
    labels = np.column_stack(
        [
            feature_labels(feature, explanation.raw_values[feature]).to_numpy(dtype=object)
            for feature in explanation.values.columns
        ]
    )
    # Sorting the whole matrix at once keeps batch scoring free of a per-customer loop.
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(values))[:, None]
    top_values = values[rows, order]
    top_labels = labels[rows, order]
    reasons = {}
    for position in range(order.shape[1]):
        text = pd.Series(top_labels[:, position]) + pd.Series(top_values[:, position]).map(
            " ({:+.2f})".format
        )
        reasons[f"reason_{position + 1}"] = text.where(top_values[:, position] > 0, "")
    for position in range(order.shape[1], k):
        reasons[f"reason_{position + 1}"] = pd.Series("", index=range(len(values)))
    result = pd.DataFrame(reasons)
    result.index = explanation.values.index
    return result


def feature_labels(feature: str, values: pd.Series) -> pd.Series:
    """Label every value of one raw feature as `feature_label` does, without a Python loop."""
    missing = values.isna()
    if feature == "tenure":
        months = values.fillna(0).astype(float).round().astype(int)
        text = "tenure = " + months.astype(str) + np.where(months == 1, " month", " months")
    elif feature in ("MonthlyCharges", "TotalCharges"):
        text = f"{feature} = " + values.fillna(0).astype(float).map("{:,.2f}".format)
    elif feature == "SeniorCitizen":
        senior = values.astype(str).str.strip().isin(["1", "1.0"])
        text = pd.Series(np.where(senior, "SeniorCitizen = Yes", "SeniorCitizen = No"))
        text.index = values.index
    else:
        text = f"{feature} = " + values.astype(str)
    return text.where(~missing, f"{feature} = missing")


def _default_background(pipeline) -> pd.DataFrame | None:
    if estimator_family(fitted_estimator(pipeline)) in ("xgboost", "lightgbm", "random_forest"):
        return None
    from core.data import load_dataset

    # NOTE: this is the configured data set. It matches the training data only when the
    # model was trained on it, so pass `background` when serving a model of other data.
    frame = load_dataset().frame
    return frame.drop(columns=[ID_COLUMN], errors="ignore")


def apply_what_if(customer: pd.DataFrame, changes: dict[str, object]) -> pd.DataFrame:
    """Return a copy of one customer's record with `changes` applied, kept consistent.

    A new `tenure` rescales `TotalCharges` to keep the average charge per month (or sets it
    to tenure x MonthlyCharges for a customer with tenure 0), unless `TotalCharges` is
    changed too. Internet service set to "No" sets the internet add-ons to
    "No internet service"; internet service set on turns those add-ons to "No".

    Raises:
        ValueError: If `customer` is not one row or a change names an unknown column.
    """
    if len(customer) != 1:
        raise ValueError(f"A what-if needs one customer, got {len(customer)} rows.")
    unknown = [name for name in changes if name not in FEATURE_COLUMNS]
    if unknown:
        raise ValueError(
            f"Unknown features {unknown} in the what-if; use raw Telco columns such as "
            "Contract or tenure."
        )
    changed = customer.copy()
    index = changed.index[0]
    if "tenure" in changes and "TotalCharges" not in changes:
        changed.loc[index, "TotalCharges"] = _rescaled_total(changed.loc[index], changes["tenure"])
    for name, value in changes.items():
        changed.loc[index, name] = value
    internet = changes.get("InternetService")
    if internet is not None:
        for addon in INTERNET_ADDONS:
            if addon in changes:
                continue
            if internet == "No":
                changed.loc[index, addon] = "No internet service"
            elif changed.loc[index, addon] == "No internet service":
                changed.loc[index, addon] = "No"
    return changed


def _rescaled_total(row: pd.Series, new_tenure: object) -> float:
    tenure = float(row["tenure"])
    total = pd.to_numeric(pd.Series([row["TotalCharges"]]), errors="coerce").iloc[0]
    if tenure > 0 and not pd.isna(total):
        return float(total) / tenure * float(new_tenure)
    return float(row["MonthlyCharges"]) * float(new_tenure)
