"""Tests for core.decisions: scenarios and decisions round-trip through a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from core.decisions import (
    RECORD_ARTIFACT,
    Decision,
    Scenario,
    adopt_decision,
    compare_scenarios,
    decisions_experiment,
    delete_scenario,
    get_decision,
    latest_decision,
    list_decisions,
    list_scenarios,
    save_scenario,
)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> Iterator[str]:
    """One SQLite store per module, because creating its schema takes seconds."""
    folder = tmp_path_factory.mktemp("decisions")
    with pytest.MonkeyPatch.context() as patch:
        # Artifacts of a SQLite store go under the working directory.
        patch.chdir(folder)
        yield f"sqlite:///{folder / 'decisions.db'}"


@pytest.fixture
def store(sqlite_store, monkeypatch, request) -> str:
    """The module's store with an experiment of its own for each test."""
    monkeypatch.chdir(sqlite_store.removeprefix("sqlite:///").rsplit("/", 1)[0])
    monkeypatch.setenv("CHURNLAB_DECISIONS_EXPERIMENT", f"decisions-{request.node.name}")
    return sqlite_store


def make_decision(**changes) -> Decision:
    fields = {
        "run_id": "abc123",
        "threshold": 0.12,
        "cost_fn": 10.0,
        "cost_fp": 1.0,
        "expected_savings": 1.5,
        "savings_low": 1.2,
        "savings_high": 1.8,
        "note": "Q1 campaign",
        "author": "ana",
    }
    return Decision(**(fields | changes))


def test_scenario_round_trip(store):
    campaign = {
        "horizon_months": 12.0,
        "offer_cost": 50.0,
        "contact_cost": 5.0,
        "acceptance_rate": 0.3,
    }
    save_scenario(Scenario("Finance", 20, 1, campaign=campaign, author="ana"), store)
    save_scenario(Scenario("Marketing", 5, 2), store)
    scenarios = list_scenarios(store)
    assert [s.name for s in scenarios] == ["Finance", "Marketing"]
    assert scenarios[0].cost_fn == 20
    assert scenarios[0].campaign == campaign
    assert scenarios[0].author == "ana"
    assert scenarios[1].campaign is None


def test_scenario_newer_save_replaces_name(store):
    save_scenario(Scenario("Finance", 20, 1), store)
    save_scenario(Scenario("Finance", 30, 1), store)
    scenarios = list_scenarios(store)
    assert len(scenarios) == 1
    assert scenarios[0].cost_fn == 30


def test_delete_scenario(store):
    save_scenario(Scenario("Finance", 20, 1), store)
    save_scenario(Scenario("Finance", 30, 1), store)
    assert delete_scenario("Finance", store) == 2
    assert list_scenarios(store) == []


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (Scenario(" ", 10, 1), "name is empty"),
        (Scenario("x", -1, 1), "cost_fn=-1"),
        (Scenario("x", 10, 1, campaign={"acceptance_rate": 2.0}), "acceptance_rate=2.0"),
    ],
)
def test_scenario_rejects_invalid(store, scenario, message):
    with pytest.raises(ValueError, match=message):
        save_scenario(scenario, store)


def test_decision_round_trip(store):
    stored = adopt_decision(make_decision(), store)
    assert stored.decision_id
    assert stored.created_at
    loaded = get_decision(stored.decision_id, store)
    assert loaded == stored


def test_decision_run_has_params_and_artifact(store):
    stored = adopt_decision(make_decision(), store)
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(stored.decision_id)
    assert run.data.params["threshold"] == "0.12"
    assert run.info.status == "FINISHED"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "decisions-test_decision_run_has_params_and_artifact"
    artifacts = [a.path for a in client.list_artifacts(stored.decision_id)]
    assert artifacts == [RECORD_ARTIFACT]


def test_latest_decision_is_newest(store):
    adopt_decision(make_decision(threshold=0.1), store)
    adopt_decision(make_decision(threshold=0.3), store)
    assert latest_decision(store).threshold == 0.3
    assert [d.threshold for d in list_decisions(store)] == [0.3, 0.1]


def test_latest_decision_empty_store(store):
    assert latest_decision(store) is None


def test_decision_default_author_is_os_user(store):
    fields = {
        "run_id": "r",
        "threshold": 0.2,
        "cost_fn": 10,
        "cost_fp": 1,
        "expected_savings": 0.0,
        "savings_low": 0.0,
        "savings_high": 0.0,
    }
    assert Decision(**fields).author


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"run_id": ""}, "no run_id"),
        ({"threshold": float("nan")}, "threshold=nan"),
        ({"cost_fp": -1.0}, "cost_fp=-1"),
        ({"note": "x" * 2001}, "2001 characters"),
    ],
)
def test_decision_rejects_invalid(store, changes, message):
    with pytest.raises(ValueError, match=message):
        adopt_decision(make_decision(**changes), store)


def test_get_decision_unknown_id(store):
    with pytest.raises(KeyError, match="nope"):
        get_decision("nope", store)


def test_default_experiment_name(monkeypatch):
    monkeypatch.delenv("CHURNLAB_DECISIONS_EXPERIMENT", raising=False)
    assert decisions_experiment() == "churnlab-decisions"


def test_compare_scenarios_table():
    rng = np.random.default_rng(0)
    scores = rng.random(600)
    labels = (rng.random(600) < scores).astype(int)
    oof = pd.DataFrame({"y_true": labels[:300], "y_score": scores[:300]})
    test = pd.DataFrame(
        {"y_true": labels[300:], "y_score": scores[300:], "customer_value": np.full(300, 600.0)}
    )
    campaign = {
        "horizon_months": 12.0,
        "offer_cost": 50.0,
        "contact_cost": 5.0,
        "acceptance_rate": 0.3,
    }
    scenarios = [Scenario("Finance", 20, 1, campaign=campaign), Scenario("Marketing", 2, 1)]
    table = compare_scenarios(oof, test, scenarios, n_resamples=50)
    assert table["scenario"].tolist() == ["Finance", "Marketing"]
    finance, marketing = table.itertuples(index=False)
    assert finance.threshold < marketing.threshold
    assert finance.n_contacted > marketing.n_contacted
    assert finance.savings_low <= finance.savings_per_customer <= finance.savings_high
    assert not np.isnan(finance.campaign_profit_per_customer)
    assert np.isnan(marketing.campaign_profit_per_customer)
