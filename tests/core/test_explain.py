"""SHAP explanations: additivity per model family, one-hot grouping, labels, importances."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from core.data import Dataset, DataSource
from core.evaluation import positive_weight
from core.explain import (
    LOG_ODDS,
    ChurnExplainer,
    apply_what_if,
    contribution_table,
    feature_label,
    group_by_raw_feature,
    reasons_sentence,
    top_reasons,
)
from core.explain_global import (
    ModelLoadError,
    builtin_importance,
    customer_decision,
    find_customer,
    importance_disagreements,
    importance_table,
    load_explain_context,
    log_global_explanation,
    logged_top_features,
    rank_test_customers,
)
from core.models import build_pipeline
from core.schema import FEATURE_COLUMNS, ID_COLUMN
from core.training import SplitData
from core.validation import validate_frame

FAMILY_MODELS = ("xgboost", "lightgbm", "random_forest", "logistic_regression", "mlp_relu")
EXPLAINED_ROWS = 40


@pytest.fixture(scope="module")
def split(real_frame) -> SplitData:
    frame = validate_frame(real_frame.copy())
    dataset = Dataset(frame, DataSource("file", "telco.csv", "test", None, len(frame)))
    return SplitData.from_dataset(dataset, test_size=0.2, seed=42)


@pytest.fixture(scope="module")
def fitted(split) -> dict[str, object]:
    """One fast pipeline per model family, fitted on the real training part."""
    pipelines = {}
    for name in FAMILY_MODELS:
        pipeline = build_pipeline(name, pos_weight=positive_weight(split.y_train), fast=True)
        pipelines[name] = pipeline.fit(split.X_train, split.y_train)
    return pipelines


def customer(split, position: int = 0) -> pd.DataFrame:
    return split.X_test.iloc[[position]]


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_contributions_add_up(name, fitted, split):
    pipeline = fitted[name]
    # The MLP's permutation explainer takes about 0.1 s per customer, so it gets fewer.
    X = split.X_test.iloc[: 10 if name.startswith("mlp") else EXPLAINED_ROWS]
    explanation = ChurnExplainer(pipeline, split.X_train).explain(X)
    proba = pipeline.predict_proba(X)[:, 1]

    native_total = explanation.native_base + explanation.native_values.sum(axis=1).to_numpy()
    expected_native = np.log(proba / (1 - proba)) if explanation.space == LOG_ODDS else proba
    assert np.allclose(native_total, expected_native, atol=1e-4)

    total = explanation.base_value + explanation.values.sum(axis=1).to_numpy()
    assert np.allclose(total, proba, atol=1e-5)
    assert np.allclose(explanation.probability, proba, atol=1e-5)
    assert list(explanation.values.columns) == list(FEATURE_COLUMNS)


@pytest.mark.slow
def test_log_odds_conversion_keeps_signs(fitted, split):
    explanation = ChurnExplainer(fitted["xgboost"]).explain(split.X_test.iloc[:20])
    same_sign = np.sign(explanation.values) == np.sign(explanation.native_values)
    assert same_sign.to_numpy().all()


def test_group_sums_one_hot_columns():
    names = [
        "num__tenure",
        "num__is_new_customer",
        "cat__Contract_Month-to-month",
        "cat__Contract_One year",
        "cat__Contract_Two year",
        "cat__PhoneService_Yes",
    ]
    values = np.array([[0.1, 0.2, 0.3, -0.05, -0.05, 0.4]])
    grouped = group_by_raw_feature(values, names)
    assert list(grouped.columns) == ["tenure", "PhoneService", "Contract"]
    assert grouped.loc[0, "tenure"] == pytest.approx(0.3)
    assert grouped.loc[0, "Contract"] == pytest.approx(0.2)
    assert grouped.loc[0, "PhoneService"] == pytest.approx(0.4)


def test_group_rejects_name_count_mismatch():
    with pytest.raises(ValueError, match="3 columns but 2 names"):
        group_by_raw_feature(np.zeros((1, 3)), ["num__tenure", "cat__Contract_One year"])


@pytest.mark.parametrize(
    ("feature", "value", "label"),
    [
        ("tenure", 3, "tenure = 3 months"),
        ("tenure", 1, "tenure = 1 month"),
        ("MonthlyCharges", 70.35, "MonthlyCharges = 70.35"),
        ("TotalCharges", 1889.5, "TotalCharges = 1,889.50"),
        ("TotalCharges", float("nan"), "TotalCharges = missing"),
        ("Contract", "Month-to-month", "Contract = Month-to-month"),
        ("SeniorCitizen", "1", "SeniorCitizen = Yes"),
        ("SeniorCitizen", 0, "SeniorCitizen = No"),
    ],
)
def test_feature_label(feature, value, label):
    assert feature_label(feature, value) == label


@pytest.mark.slow
def test_contribution_table_uses_raw_values(fitted, split):
    record = customer(split)
    table = contribution_table(ChurnExplainer(fitted["xgboost"]).explain(record))
    contract = table.loc[table["feature"] == "Contract", "label"].item()
    assert contract == f"Contract = {record['Contract'].item()}"
    magnitudes = table["contribution"].abs().to_numpy()
    assert (np.diff(magnitudes) <= 1e-12).all()


def test_reasons_sentence_names_both_directions():
    table = pd.DataFrame(
        {
            "label": ["Contract = Month-to-month", "tenure = 60 months", "gender = Male"],
            "contribution": [0.12, -0.08, 0.01],
        }
    )
    sentence = reasons_sentence(table, k=3)
    assert sentence.startswith("Churn risk is raised most by Contract = Month-to-month")
    assert "+12.0 points" in sentence
    assert "lowered most by tenure = 60 months (-8.0 points)" in sentence


@pytest.mark.slow
def test_top_reasons_are_risk_raising(fitted, split):
    X = split.X_test.iloc[:5]
    reasons = top_reasons(fitted["xgboost"], X, k=3)
    assert list(reasons.columns) == ["reason_1", "reason_2", "reason_3"]
    assert list(reasons.index) == list(X.index)
    first = reasons["reason_1"].iloc[0]
    assert " = " in first
    assert "(+" in first


def test_top_reasons_rejects_zero_k(fitted, split):
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_reasons(fitted["xgboost"], customer(split), k=0)


def test_linear_explainer_needs_background(fitted):
    with pytest.raises(ValueError, match="needs background customers"):
        ChurnExplainer(fitted["logistic_regression"])


def test_what_if_rescales_total_charges(split):
    record = split.X_test[split.X_test["tenure"] > 0].iloc[[0]]
    row = record.iloc[0]
    changed = apply_what_if(record, {"tenure": int(row["tenure"]) * 2})
    assert changed["TotalCharges"].item() == pytest.approx(2 * float(row["TotalCharges"]))
    assert record["tenure"].item() == row["tenure"]


def test_what_if_turning_internet_off(split):
    record = split.X_test[split.X_test["InternetService"] != "No"].iloc[[0]]
    changed = apply_what_if(record, {"InternetService": "No"})
    assert changed["OnlineSecurity"].item() == "No internet service"
    assert changed["StreamingMovies"].item() == "No internet service"


def test_what_if_rejects_unknown_column(split):
    with pytest.raises(ValueError, match="Unknown features \\['Plan'\\]"):
        apply_what_if(customer(split), {"Plan": "Gold"})


@pytest.mark.slow
def test_longer_contract_lowers_risk(fitted, split):
    monthly = split.X_test[split.X_test["Contract"] == "Month-to-month"].iloc[:30]
    explainer = ChurnExplainer(fitted["xgboost"])
    before = explainer.explain(monthly).probability
    after = explainer.explain(monthly.assign(Contract="Two year")).probability
    assert after.mean() < before.mean()


def test_decision_at_threshold():
    decision = customer_decision(0.3, 0.25, cost_fn=10.0, cost_fp=1.0)
    assert decision.contact
    assert decision.expected_cost_contact == pytest.approx(0.7)
    assert decision.expected_cost_no_contact == pytest.approx(3.0)


def test_decision_costs_use_calibrated_probability():
    decision = customer_decision(0.9, 0.25, cost_fn=10.0, cost_fp=1.0, calibrated_probability=0.6)
    assert decision.contact
    assert decision.probability == pytest.approx(0.9)
    assert decision.expected_cost_contact == pytest.approx(0.4)
    assert decision.expected_cost_no_contact == pytest.approx(6.0)


def test_builtin_importance_per_raw_feature(fitted):
    importance = builtin_importance(fitted["xgboost"])
    assert set(importance.index) == set(FEATURE_COLUMNS)
    assert importance.sum() == pytest.approx(1.0)
    assert builtin_importance(fitted["mlp_relu"]).empty


@pytest.mark.slow
def test_permutation_importance_on_raw_columns(fitted, split):
    table = importance_table(fitted["xgboost"], split.X_test, split.y_test, n_repeats=2)
    assert list(table.columns) == ["feature", "builtin", "permutation_mean", "permutation_std"]
    assert len(table) == len(FEATURE_COLUMNS)
    assert "Contract" in set(table["feature"].head(5))
    assert (table["permutation_std"] >= 0).all()


def test_disagreement_note_names_feature():
    table = pd.DataFrame(
        {
            "feature": ["A", "B", "C"],
            "builtin": [0.1, 0.2, 0.7],
            "permutation_mean": [0.05, 0.02, 0.0],
            "permutation_std": [0.0, 0.0, 0.0],
        }
    )
    notes = importance_disagreements(table, top=1)
    assert notes == [
        "A ranks 3 by built-in importance but 1 by permutation importance.",
        "C ranks 1 by built-in importance but 3 by permutation importance.",
    ]


@pytest.fixture
def store_env(trained_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
    monkeypatch.setenv("CHURNLAB_EXPERIMENT", trained_store.experiment)
    if trained_store.data_path:
        monkeypatch.setenv("CHURNLAB_DATA", trained_store.data_path)
    return trained_store


@pytest.mark.slow
def test_global_explanation_logged(store_env):
    run_id = store_env.run_ids["xgboost"]
    summary = log_global_explanation(run_id, tracking_uri=store_env.tracking_uri)
    assert summary.n_customers == 1409
    assert summary.mean_abs["mean_abs_shap"].is_monotonic_decreasing
    assert len(summary.beeswarm) == 1409 * len(FEATURE_COLUMNS)
    client = MlflowClient(tracking_uri=store_env.tracking_uri)
    logged = {item.path for item in client.list_artifacts(run_id, "explanations")}
    assert logged == {
        "explanations/beeswarm.parquet",
        "explanations/importance.csv",
        "explanations/mean_abs_shap.csv",
    }
    plots = {item.path for item in client.list_artifacts(run_id, "plots")}
    assert "plots/shap_beeswarm.json" in plots
    top = logged_top_features(run_id, store_env.tracking_uri, k=3)
    assert top["feature"].tolist() == summary.mean_abs["feature"].head(3).tolist()
    assert top["importance"].is_monotonic_decreasing


@pytest.mark.slow
def test_logged_top_features_absent(store_env):
    # A run of its own, because the Explain page tests log explanations to the shared runs.
    client = MlflowClient(tracking_uri=store_env.tracking_uri)
    experiment_id = client.get_experiment_by_name(store_env.experiment).experiment_id
    run = client.create_run(experiment_id, run_name="no-explanations")
    client.set_terminated(run.info.run_id)
    try:
        assert logged_top_features(run.info.run_id, store_env.tracking_uri) is None
    finally:
        # Deleted, so the pages' run lists in later tests do not show it.
        client.delete_run(run.info.run_id)


@pytest.mark.slow
def test_context_reproduces_test_split(store_env):
    run_id = store_env.run_ids["logistic_regression"]
    context = load_explain_context(run_id, store_env.tracking_uri)
    ranked = rank_test_customers(context)
    stored = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path="predictions/predictions.parquet",
        tracking_uri=store_env.tracking_uri,
    )
    test = pd.read_parquet(stored).query("split == 'test'").set_index(ID_COLUMN)["y_score"]
    assert set(ranked[ID_COLUMN]) == set(test.index)
    mine = ranked.set_index(ID_COLUMN)["probability"].reindex(test.index)
    assert np.allclose(mine, test, atol=1e-9)


@pytest.mark.slow
def test_unknown_customer_lists_close_matches(store_env):
    context = load_explain_context(store_env.run_ids["xgboost"], store_env.tracking_uri)
    known = context.split.X_test[ID_COLUMN].iloc[0]
    record, split_name = find_customer(context, known.lower())
    assert split_name == "test"
    assert record[ID_COLUMN].item() == known
    typo = known[:-1] + ("A" if known[-1] != "A" else "B")
    with pytest.raises(ValueError, match=f"Close matches: .*{known}"):
        find_customer(context, typo)


@pytest.mark.slow
def test_run_without_model_is_reported(store_env):
    client = MlflowClient(tracking_uri=store_env.tracking_uri)
    experiment = client.get_experiment_by_name(store_env.experiment)
    run = client.create_run(experiment.experiment_id, run_name="no-model")
    client.set_terminated(run.info.run_id)
    with pytest.raises(ModelLoadError, match=f"model of run {run.info.run_id} could not"):
        load_explain_context(run.info.run_id, store_env.tracking_uri)
