"""Registry tests against the session's temporary SQLite store with two fast model runs.

Each test registers into its own registered model name, so tests do not share aliases.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import joblib
import mlflow
import pytest
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types.schema import ColSpec, Schema

from core import costs, decisions, registry
from core.cli import main
from core.serving import PIPELINE_ARTIFACT, ChurnModel
from core.tracking import load_predictions, log_predictions

pytestmark = pytest.mark.slow


@pytest.fixture
def model_name() -> str:
    return f"churn-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def ranked_runs(trained_store) -> tuple[str, str]:
    """Return (cheaper run id, costlier run id) by test cost at the training costs."""
    test_costs = {}
    for run_id in trained_store.run_ids.values():
        predictions = load_predictions(run_id, trained_store.tracking_uri)
        test_costs[run_id] = registry._threshold_and_test_cost(predictions, 10.0, 1.0)[1]
    cheaper, costlier = sorted(test_costs, key=test_costs.get)
    assert test_costs[cheaper] < test_costs[costlier]
    return cheaper, costlier


def test_register_run_copies_run_figures(trained_store, model_name):
    run_id = trained_store.run_ids["xgboost"]
    version = registry.register_run(
        run_id, tracking_uri=trained_store.tracking_uri, model_name=model_name
    )
    info = registry.get_version(version, trained_store.tracking_uri, model_name)
    run = MlflowClient(trained_store.tracking_uri).get_run(run_id)
    assert info.run_id == run_id
    assert info.predictions_run_id == run_id
    assert info.model_name == "xgboost"
    assert info.threshold == pytest.approx(run.data.metrics["threshold"])
    assert info.cost_fn == 10.0
    assert info.cost_fp == 1.0
    assert info.metrics["test_cost"] == pytest.approx(run.data.metrics["test_cost"])
    assert info.metrics["test_auc"] == pytest.approx(run.data.metrics["test_auc"])
    assert info.data_source == run.data.tags["data_source"]
    assert info.aliases == ()


def test_register_run_twice_reuses_version(trained_store, model_name):
    run_id = trained_store.run_ids["xgboost"]
    uri = trained_store.tracking_uri
    first = registry.register_run(run_id, tracking_uri=uri, model_name=model_name)
    second = registry.register_run(run_id, tracking_uri=uri, model_name=model_name)
    assert first == second
    assert len(registry.list_versions(uri, model_name)) == 1


def test_register_run_accepts_short_id(trained_store, model_name):
    run_id = trained_store.run_ids["xgboost"]
    uri = trained_store.tracking_uri
    short = registry.register_run(run_id[:8], tracking_uri=uri, model_name=model_name)
    full = registry.register_run(run_id, tracking_uri=uri, model_name=model_name)
    assert short == full
    assert registry.get_version(short, uri, model_name).run_id == run_id


def test_register_unknown_run_rejected(trained_store, model_name):
    with pytest.raises(registry.PromotionError, match="Run 0123abc not found"):
        registry.register_run(
            "0123abc", tracking_uri=trained_store.tracking_uri, model_name=model_name
        )


def test_run_without_model_rejected(trained_store, model_name):
    mlflow.set_tracking_uri(trained_store.tracking_uri)
    experiment = mlflow.set_experiment(trained_store.experiment)
    with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
        mlflow.log_param("cost_fn", 10.0)
    with pytest.raises(registry.PromotionError, match="has no logged model 'model'"):
        registry.promote(
            run_id=run.info.run_id,
            tracking_uri=trained_store.tracking_uri,
            model_name=model_name,
        )


def test_first_promotion_sets_champion(trained_store, model_name):
    uri = trained_store.tracking_uri
    assert registry.get_champion(uri, model_name) is None
    result = registry.promote(
        run_id=trained_store.run_ids["xgboost"],
        promoted_by="analyst",
        tracking_uri=uri,
        model_name=model_name,
    )
    champion = registry.get_champion(uri, model_name)
    assert result.gate is None
    assert result.previous_version is None
    assert champion.version == result.version
    assert champion.aliases == ("champion",)
    assert champion.promoted_by == "analyst"
    assert champion.promoted_at.endswith("+00:00")
    assert champion.forced is False
    history = registry.promotion_history(uri, model_name)
    assert [entry["version"] for entry in history] == [result.version]
    assert history[0]["by"] == "analyst"


def test_gate_rejects_costlier_candidate(trained_store, ranked_runs, model_name):
    uri = trained_store.tracking_uri
    cheaper, costlier = ranked_runs
    first = registry.promote(run_id=cheaper, tracking_uri=uri, model_name=model_name)
    with pytest.raises(registry.PromotionError, match="costs more than the champion") as caught:
        registry.promote(run_id=costlier, tracking_uri=uri, model_name=model_name)
    gate = caught.value.gate
    assert gate.challenger_cost > gate.champion_cost
    assert f"{gate.challenger_cost:.4f}" in str(caught.value)
    assert f"{gate.champion_cost:.4f}" in str(caught.value)
    assert "--force" in str(caught.value)
    assert registry.get_champion(uri, model_name).version == first.version
    [rejected] = [v for v in registry.list_versions(uri, model_name) if v.rejected]
    assert "costs more than the champion" in rejected.rejected
    forced = registry.promote(run_id=costlier, force=True, tracking_uri=uri, model_name=model_name)
    assert registry.get_version(forced.version, uri, model_name).rejected == ""


def test_gate_figures_match_stored_predictions(trained_store, ranked_runs, model_name):
    uri = trained_store.tracking_uri
    cheaper, costlier = ranked_runs
    registry.promote(run_id=cheaper, tracking_uri=uri, model_name=model_name)
    version = registry.register_run(costlier, tracking_uri=uri, model_name=model_name)
    check = registry.check_promotion(
        version, cost_fn=20.0, cost_fp=1.0, tracking_uri=uri, model_name=model_name
    )
    predictions = load_predictions(costlier, uri)
    oof = predictions[predictions["split"] == "oof"]
    test = predictions[predictions["split"] == "test"]
    curve = costs.cost_curve(oof["y_true"], oof["y_score"], 20.0, 1.0)
    threshold = costs.optimal_threshold(curve).threshold
    expected = costs.cost_at(test["y_true"], test["y_score"], threshold, 20.0, 1.0) / len(test)
    assert check.gate.challenger_threshold == pytest.approx(threshold)
    assert check.gate.challenger_cost == pytest.approx(expected)
    assert check.gate.same_test_set is True


def test_forced_promotion_is_recorded(trained_store, ranked_runs, model_name):
    uri = trained_store.tracking_uri
    cheaper, costlier = ranked_runs
    registry.promote(run_id=cheaper, tracking_uri=uri, model_name=model_name)
    result = registry.promote(run_id=costlier, force=True, tracking_uri=uri, model_name=model_name)
    champion = registry.get_champion(uri, model_name)
    assert result.forced is True
    assert champion.version == result.version
    assert champion.forced is True
    last = registry.promotion_history(uri, model_name)[-1]
    assert last["forced"] is True
    assert last["challenger_cost"] > last["champion_cost"]


def test_rollback_walks_back_through_champions(trained_store, ranked_runs, model_name):
    uri = trained_store.tracking_uri
    cheaper, costlier = ranked_runs
    first = registry.promote(run_id=costlier, tracking_uri=uri, model_name=model_name)
    second = registry.promote(run_id=cheaper, tracking_uri=uri, model_name=model_name)
    third = registry.promote(
        version=second.version, cost_fn=5.0, cost_fp=1.0, tracking_uri=uri, model_name=model_name
    )
    assert registry.rollback_target(uri, model_name) == second.version

    back = registry.rollback(promoted_by="ops", tracking_uri=uri, model_name=model_name)
    assert back.version == second.version
    assert back.previous_version == third.version
    assert registry.get_champion(uri, model_name).version == second.version

    registry.rollback(tracking_uri=uri, model_name=model_name)
    assert registry.get_champion(uri, model_name).version == first.version
    with pytest.raises(registry.PromotionError, match="no previous champion"):
        registry.rollback(tracking_uri=uri, model_name=model_name)
    actions = [entry["action"] for entry in registry.promotion_history(uri, model_name)]
    assert actions == ["promote", "promote", "promote", "rollback", "rollback"]


def test_rollback_without_champion_rejected(trained_store, model_name):
    with pytest.raises(registry.PromotionError, match="has no champion"):
        registry.rollback(tracking_uri=trained_store.tracking_uri, model_name=model_name)


def test_new_costs_log_model_again(trained_store, model_name):
    uri = trained_store.tracking_uri
    run_id = trained_store.run_ids["logistic_regression"]
    original = registry.register_run(run_id, tracking_uri=uri, model_name=model_name)
    result = registry.promote(
        version=original, cost_fn=3.0, cost_fp=2.0, tracking_uri=uri, model_name=model_name
    )
    assert result.logged_again is True
    assert result.version != original
    info = registry.get_version(result.version, uri, model_name)
    predictions = load_predictions(run_id, uri)
    oof = predictions[predictions["split"] == "oof"]
    curve = costs.cost_curve(oof["y_true"], oof["y_score"], 3.0, 2.0)
    expected = costs.optimal_threshold(curve).threshold
    assert info.cost_fn == 3.0
    assert info.cost_fp == 2.0
    assert info.threshold == pytest.approx(expected)
    assert info.predictions_run_id == run_id
    assert info.run_id != run_id
    served = mlflow.pyfunc.load_model(info.model_uri).unwrap_python_model()
    assert served.threshold == pytest.approx(expected)
    assert served.cost_fn == 3.0


def test_challenger_alias_skips_gate(trained_store, ranked_runs, model_name):
    uri = trained_store.tracking_uri
    cheaper, costlier = ranked_runs
    registry.promote(run_id=costlier, tracking_uri=uri, model_name=model_name)
    challenger = registry.promote(
        run_id=cheaper, alias="challenger", tracking_uri=uri, model_name=model_name
    )
    assert challenger.gate is None
    assert registry.get_alias("challenger", uri, model_name).version == challenger.version

    registry.promote(version=challenger.version, tracking_uri=uri, model_name=model_name)
    assert registry.get_champion(uri, model_name).aliases == ("champion",)
    assert registry.get_alias("challenger", uri, model_name) is None


def test_schema_change_rejected(trained_store, ranked_runs, model_name):
    uri = trained_store.tracking_uri
    cheaper, costlier = ranked_runs
    registry.promote(run_id=costlier, tracking_uri=uri, model_name=model_name)
    narrow_run = _log_model_with_narrow_schema(trained_store, cheaper)
    with pytest.raises(registry.PromotionError, match="different input schema") as caught:
        registry.promote(run_id=narrow_run, tracking_uri=uri, model_name=model_name)
    assert "columns no longer taken" in str(caught.value)
    forced = registry.promote(
        run_id=narrow_run, force=True, tracking_uri=uri, model_name=model_name
    )
    assert forced.forced is True


def test_promote_command_prints_alias(trained_store, model_name, capsys):
    uri = trained_store.tracking_uri
    run_id = trained_store.run_ids["xgboost"]
    code = main(["promote", "--run", run_id, "--tracking-uri", uri, "--model-name", model_name])
    assert code == 0
    assert "champion -> version 1" in capsys.readouterr().out


def test_rollback_command_error_exits_2(trained_store, model_name, capsys):
    uri = trained_store.tracking_uri
    code = main(["rollback", "--tracking-uri", uri, "--model-name", model_name])
    assert code == 2
    assert "has no champion" in capsys.readouterr().err


def _log_model_with_narrow_schema(trained_store, source_run_id: str) -> str:
    """Log a copy of a run's model whose signature lacks `gender`; return the new run id."""
    uri = trained_store.tracking_uri
    source = mlflow.pyfunc.load_model(f"runs:/{source_run_id}/model").unwrap_python_model()
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.set_experiment(trained_store.experiment)
    signature = mlflow.models.get_model_info(f"runs:/{source_run_id}/model").signature
    narrow = [spec for spec in signature.inputs.inputs if spec.name != "gender"]
    with (
        mlflow.start_run(experiment_id=experiment.experiment_id) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_params({"cost_fn": 10.0, "cost_fp": 1.0, "model": "logistic_regression"})
        mlflow.log_metric("threshold", source.threshold)
        log_predictions(load_predictions(source_run_id, uri))
        pipeline_path = Path(tmp) / "pipeline.joblib"
        joblib.dump(source.pipeline, pipeline_path)
        mlflow.pyfunc.log_model(
            name="model",
            python_model=ChurnModel(source.threshold, 10.0, 1.0),
            artifacts={PIPELINE_ARTIFACT: str(pipeline_path)},
            signature=ModelSignature(
                inputs=Schema(narrow), outputs=Schema([ColSpec("double", "churn_probability")])
            ),
        )
    return run.info.run_id


def test_promote_applies_latest_decision(trained_store, model_name):
    run_id = trained_store.run_ids["logistic_regression"]
    decisions.adopt_decision(
        decisions.Decision(
            run_id=run_id,
            threshold=0.3,
            cost_fn=20.0,
            cost_fp=2.0,
            expected_savings=1.0,
            savings_low=0.5,
            savings_high=1.5,
        ),
        trained_store.tracking_uri,
    )

    registry.promote(
        run_id=run_id, tracking_uri=trained_store.tracking_uri, model_name=model_name, force=True
    )
    champion = registry.get_champion(trained_store.tracking_uri, model_name)

    assert champion.threshold == pytest.approx(0.3)
    assert champion.cost_fn == 20.0
    assert champion.cost_fp == 2.0
