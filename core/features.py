"""Preprocessing from raw Telco columns to model inputs.

Every step is a scikit-learn transformer, so the whole chain is fitted on training folds
only and the logged model accepts raw customer records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from core.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, NUMERIC_COLUMNS

NEW_CUSTOMER_MONTHS = 12

ENGINEERED_COLUMNS: tuple[str, ...] = (
    "avg_charge_per_month",
    "charge_delta",
    "is_new_customer",
)
MODEL_NUMERIC_COLUMNS: tuple[str, ...] = NUMERIC_COLUMNS + ENGINEERED_COLUMNS

# Raw feature behind each engineered column, used to group explanations in raw terms.
ENGINEERED_SOURCES: dict[str, str] = {
    "avg_charge_per_month": "TotalCharges",
    "charge_delta": "MonthlyCharges",
    "is_new_customer": "tenure",
}


class TelcoCleaner(TransformerMixin, BaseEstimator):
    """Keep the feature columns, make charges numeric and categories text.

    Blank or non-numeric `TotalCharges` become NaN (the imputer fills them later). Extra
    columns such as `customerID` or `Churn` are dropped, so raw records can be scored as read.
    """

    def fit(self, X: pd.DataFrame, y=None) -> TelcoCleaner:
        self._check_columns(X)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_columns(X)
        out = X.loc[:, list(FEATURE_COLUMNS)].copy()
        for column in NUMERIC_COLUMNS:
            values = out[column]
            if not pd.api.types.is_numeric_dtype(values):
                values = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
            out[column] = values.astype(float)
        for column in CATEGORICAL_COLUMNS:
            out[column] = out[column].astype("string").str.strip().astype(object)
        return out

    @staticmethod
    def _check_columns(X: pd.DataFrame) -> None:
        missing = [c for c in FEATURE_COLUMNS if c not in X.columns]
        if missing:
            raise ValueError(
                f"Input is missing columns {missing}; pass the raw Telco customer columns "
                "(customerID optional, Churn not needed)."
            )


class ChargeFeatures(TransformerMixin, BaseEstimator):
    """Add average charge per month of tenure, its gap to the current charge, a new flag.

    Customers with tenure 0 have paid nothing yet, so their average is their monthly charge.
    """

    def fit(self, X: pd.DataFrame, y=None) -> ChargeFeatures:
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        tenure = out["tenure"].to_numpy(dtype=float)
        monthly = out["MonthlyCharges"].to_numpy(dtype=float)
        total = out["TotalCharges"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            average = np.where(tenure > 0, total / tenure, monthly)
        out["avg_charge_per_month"] = average
        out["charge_delta"] = monthly - average
        out["is_new_customer"] = (tenure < NEW_CUSTOMER_MONTHS).astype(float)
        return out


def build_preprocessor() -> Pipeline:
    """Build the unfitted chain: clean, engineer features, impute, one-hot encode, scale."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    encode = ColumnTransformer(
        [
            ("num", numeric, list(MODEL_NUMERIC_COLUMNS)),
            ("cat", categorical, list(CATEGORICAL_COLUMNS)),
        ],
        verbose_feature_names_out=True,
    )
    return Pipeline(
        [("clean", TelcoCleaner()), ("engineer", ChargeFeatures()), ("encode", encode)]
    )


def raw_feature_name(encoded_name: str) -> str:
    """Map an encoded column name back to the raw customer column it comes from.

    `cat__Contract_Month-to-month` becomes `Contract`; `num__charge_delta` becomes
    `MonthlyCharges`. Engineered columns map to the raw column they are built from.
    """
    prefix, _, rest = encoded_name.partition("__")
    if prefix == "num":
        return ENGINEERED_SOURCES.get(rest, rest)
    # Longest match first, so that a column name that is a prefix of another cannot win.
    for column in sorted(CATEGORICAL_COLUMNS, key=len, reverse=True):
        if rest == column or rest.startswith(column + "_"):
            return column
    return rest


def encoded_feature_names(preprocessor: Pipeline) -> list[str]:
    """Return the names of the fitted preprocessor's output columns, in order."""
    return list(preprocessor.named_steps["encode"].get_feature_names_out())
