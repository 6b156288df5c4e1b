"""Named cost scenarios and adopted decisions, stored in the MLflow tracking store.

Both live in their own experiment (`churnlab-decisions` unless `CHURNLAB_DECISIONS_EXPERIMENT`
is set), so everyone who points at the same tracking store shares the same scenarios and
decisions, and they survive restarts. Each record is one finished run with:

- the tag `churnlab.record` set to "scenario" or "decision";
- its settings as params, for reading in the MLflow UI;
- the whole record as JSON in the tag `churnlab.record_json`, which listing reads without
  downloading artifacts, and as the artifact `record.json`.

Saving a scenario under an existing name adds a newer run; listing returns the newest run of
each name. All calls go through `MlflowClient`, so they work with any tracking URI and never
touch the active run of the caller.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from mlflow.entities import Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from core.config import resolve_tracking_uri
from core.costs import check_costs, confusion_curve, optimal_threshold
from core.tracking import ensure_experiment
from core.uncertainty import cost_band
from core.value import CampaignSettings, campaign_profit_at

logger = logging.getLogger(__name__)

DEFAULT_DECISIONS_EXPERIMENT = "churnlab-decisions"
RECORD_TAG = "churnlab.record"
RECORD_JSON_TAG = "churnlab.record_json"
RECORD_ARTIFACT = "record.json"
MAX_NOTE_LENGTH = 2000


@dataclass(frozen=True)
class Scenario:
    """Named cost settings, such as "Finance" or "Marketing".

    Attributes:
        name: Name shown in the comparison, unique per store (a newer save replaces it).
        cost_fn: Cost of a missed churner.
        cost_fp: Cost of an unneeded offer.
        campaign: Retention-campaign settings as `CampaignSettings.as_dict()`, or None.
        author: Who saved it.
        created_at: ISO 8601 time in UTC.
    """

    name: str
    cost_fn: float
    cost_fp: float
    campaign: dict[str, float] | None = None
    author: str = ""
    created_at: str = ""

    def validate(self) -> Scenario:
        """Return the scenario, or raise ValueError naming the invalid setting and the fix."""
        if not self.name.strip():
            raise ValueError("The scenario name is empty: type a name such as 'Finance'.")
        check_costs(self.cost_fn, self.cost_fp)
        if self.campaign is not None:
            CampaignSettings(**self.campaign).validate()
        return self


@dataclass(frozen=True)
class Decision:
    """An adopted decision: which model, which threshold, under which costs, saving how much.

    Attributes:
        run_id: The model run whose predictions the decision was made on.
        threshold: The adopted decision threshold (contact when `y_score >= threshold`).
        cost_fn: Cost of a missed churner.
        cost_fp: Cost of an unneeded offer.
        expected_savings: Savings per customer against contacting no one, on the test set.
        savings_low: Lower end of the bootstrap interval of `expected_savings`.
        savings_high: Upper end of that interval.
        campaign: Retention-campaign settings as `CampaignSettings.as_dict()`, or None.
        model_version: Registered model version, such as "churnlab-churn/3", or "".
        note: Free text for the record.
        author: Who adopted it; the OS user by default.
        created_at: ISO 8601 time in UTC, set on adoption.
        decision_id: Run id of the stored record, set on adoption.
    """

    run_id: str
    threshold: float
    cost_fn: float
    cost_fp: float
    expected_savings: float
    savings_low: float
    savings_high: float
    campaign: dict[str, float] | None = None
    model_version: str = ""
    note: str = ""
    author: str = field(default_factory=lambda: default_author())
    created_at: str = ""
    decision_id: str = ""

    def validate(self) -> Decision:
        """Return the decision, or raise ValueError naming the invalid field and the fix."""
        if not self.run_id:
            raise ValueError("The decision has no run_id: select a model run first.")
        if not math.isfinite(self.threshold):
            raise ValueError(
                f"Invalid threshold={self.threshold!r}: pass a finite number such as 0.2."
            )
        check_costs(self.cost_fn, self.cost_fp)
        if self.campaign is not None:
            CampaignSettings(**self.campaign).validate()
        if len(self.note) > MAX_NOTE_LENGTH:
            raise ValueError(
                f"The note has {len(self.note)} characters: shorten it to {MAX_NOTE_LENGTH}."
            )
        return self


def default_author() -> str:
    """Return the OS user name, or "unknown" when the system has none for this process."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def decisions_experiment() -> str:
    """Return the experiment name: `CHURNLAB_DECISIONS_EXPERIMENT`, else the default."""
    return os.environ.get("CHURNLAB_DECISIONS_EXPERIMENT") or DEFAULT_DECISIONS_EXPERIMENT


def save_scenario(scenario: Scenario, tracking_uri: str | None = None) -> Scenario:
    """Store a named scenario; a scenario saved earlier under the same name is superseded.

    Returns:
        The stored scenario with its author and time filled in.

    Raises:
        ValueError: If the scenario is invalid.
    """
    scenario = replace(
        scenario.validate(),
        name=scenario.name.strip(),
        author=scenario.author or default_author(),
        created_at=_now(),
    )
    params = {"name": scenario.name, "cost_fn": scenario.cost_fn, "cost_fp": scenario.cost_fp}
    params |= _prefixed("campaign", scenario.campaign)
    _store_record("scenario", f"scenario {scenario.name}", asdict(scenario), params, tracking_uri)
    logger.info(
        "Saved scenario %r (fn=%g, fp=%g)", scenario.name, scenario.cost_fn, scenario.cost_fp
    )
    return scenario


def list_scenarios(tracking_uri: str | None = None) -> list[Scenario]:
    """Return the newest scenario of each name, sorted by name."""
    newest: dict[str, Scenario] = {}
    for record, _ in _load_records("scenario", tracking_uri):
        scenario = Scenario(**record)
        if scenario.name not in newest:
            newest[scenario.name] = scenario
    return [newest[name] for name in sorted(newest)]


def delete_scenario(name: str, tracking_uri: str | None = None) -> int:
    """Delete every stored run of the scenario `name` and return how many were deleted."""
    client = _client(tracking_uri)
    deleted = 0
    for record, run_id in _load_records("scenario", tracking_uri):
        if record["name"] == name:
            client.delete_run(run_id)
            deleted += 1
    logger.info("Deleted %d runs of scenario %r", deleted, name)
    return deleted


def adopt_decision(decision: Decision, tracking_uri: str | None = None) -> Decision:
    """Store a decision in the tracking store.

    Returns:
        The stored decision with `created_at` and `decision_id` filled in.

    Raises:
        ValueError: If the decision is invalid.
    """
    decision = replace(
        decision.validate(), author=decision.author or default_author(), created_at=_now()
    )
    params = {
        "run_id": decision.run_id,
        "threshold": decision.threshold,
        "cost_fn": decision.cost_fn,
        "cost_fp": decision.cost_fp,
        "expected_savings": decision.expected_savings,
        "model_version": decision.model_version or "none",
    }
    params |= _prefixed("campaign", decision.campaign)
    record = asdict(decision)
    run_id = _store_record("decision", "decision", record, params, tracking_uri)
    logger.info(
        "Adopted threshold %.4f of run %s as decision %s",
        decision.threshold,
        decision.run_id,
        run_id,
    )
    return replace(decision, decision_id=run_id)


def list_decisions(tracking_uri: str | None = None) -> list[Decision]:
    """Return every adopted decision, newest first."""
    decisions = [
        replace(Decision(**record), decision_id=run_id)
        for record, run_id in _load_records("decision", tracking_uri)
    ]
    return sorted(decisions, key=lambda d: d.created_at, reverse=True)


def latest_decision(tracking_uri: str | None = None) -> Decision | None:
    """Return the most recently adopted decision, or None when none was adopted."""
    decisions = list_decisions(tracking_uri)
    return decisions[0] if decisions else None


def get_decision(decision_id: str, tracking_uri: str | None = None) -> Decision:
    """Return the decision stored in run `decision_id`.

    Raises:
        KeyError: If no decision has that id.
    """
    for decision in list_decisions(tracking_uri):
        if decision.decision_id == decision_id:
            return decision
    raise KeyError(f"No decision with id {decision_id!r}: pick one from list_decisions().")


def _store_record(
    kind: str,
    run_name: str,
    record: dict[str, Any],
    params: dict[str, Any],
    tracking_uri: str | None,
) -> str:
    client = _client(tracking_uri)
    experiment_id = _experiment_id(client)
    record = {key: value for key, value in record.items() if key != "decision_id"}
    text = json.dumps(record, sort_keys=True)
    tags = {RECORD_TAG: kind, RECORD_JSON_TAG: text, "mlflow.runName": run_name}
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    run_id = run.info.run_id
    client.log_batch(
        run_id, params=[Param(key, str(value)[:6000]) for key, value in params.items()]
    )
    try:
        client.log_text(run_id, json.dumps(record, indent=2, sort_keys=True), RECORD_ARTIFACT)
    except (MlflowException, OSError) as error:
        # The tag above already contains the record, so a failed artifact upload loses nothing.
        logger.warning(
            "Could not store %s for %s run %s: %s", RECORD_ARTIFACT, kind, run_id, error
        )
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return run_id


def _load_records(kind: str, tracking_uri: str | None) -> list[tuple[dict[str, Any], str]]:
    client = _client(tracking_uri)
    experiment = client.get_experiment_by_name(decisions_experiment())
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{RECORD_TAG}` = '{kind}'",
        order_by=["attributes.start_time DESC"],
        max_results=5000,
    )
    records = []
    for run in runs:
        try:
            records.append((json.loads(run.data.tags[RECORD_JSON_TAG]), run.info.run_id))
        except (KeyError, json.JSONDecodeError):
            logger.warning(
                "Skipped %s run %s: its record tag is missing or invalid", kind, run.info.run_id
            )
    return records


def _client(tracking_uri: str | None) -> MlflowClient:
    return MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))


def _experiment_id(client: MlflowClient) -> str:
    return ensure_experiment(client, decisions_experiment())


def _prefixed(prefix: str, values: dict[str, float] | None) -> dict[str, float]:
    return {f"{prefix}.{key}": value for key, value in (values or {}).items()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def compare_scenarios(
    oof: pd.DataFrame,
    test: pd.DataFrame,
    scenarios: list[Scenario],
    *,
    n_resamples: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Compare scenarios on one run: threshold from OOF data, cost and savings on the test set.

    Args:
        oof: Out-of-fold rows with `y_true` and `y_score`.
        test: Test rows with `y_true`, `y_score` and, for campaign settings, `customer_value`.
        scenarios: The scenarios to compare.
        n_resamples: Bootstrap resamples for the savings interval.
        seed: Seed of the resampling.

    Returns:
        One row per scenario: `scenario`, `cost_fn`, `cost_fp`, `threshold`, `n_contacted`,
        `cost_per_customer`, `savings_per_customer`, `savings_low`, `savings_high` and
        `campaign_profit_per_customer` (NaN without campaign settings).
    """
    counts = confusion_curve(oof["y_true"], oof["y_score"])
    rows = []
    for scenario in scenarios:
        threshold = optimal_threshold(counts.apply_costs(scenario.cost_fn, scenario.cost_fp))
        band = cost_band(
            test["y_true"],
            test["y_score"],
            scenario.cost_fn,
            scenario.cost_fp,
            threshold=threshold.threshold,
            grid=[threshold.threshold],
            n_resamples=n_resamples,
            seed=seed,
        )
        profit = math.nan
        if scenario.campaign is not None and "customer_value" in test.columns:
            profit = campaign_profit_at(
                test["y_true"],
                test["y_score"],
                test["customer_value"],
                threshold.threshold,
                CampaignSettings(**scenario.campaign),
            ) / len(test)
        rows.append(
            {
                "scenario": scenario.name,
                "cost_fn": scenario.cost_fn,
                "cost_fp": scenario.cost_fp,
                "threshold": threshold.threshold,
                "n_contacted": int((test["y_score"] >= threshold.threshold).sum()),
                "cost_per_customer": band.cost_at_threshold.point,
                "savings_per_customer": band.savings_at_threshold.point,
                "savings_low": band.savings_at_threshold.low,
                "savings_high": band.savings_at_threshold.high,
                "campaign_profit_per_customer": profit,
            }
        )
    return pd.DataFrame(rows)
