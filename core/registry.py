"""Model registry: versions of the churn model, the champion and challenger aliases, promotion.

One registered model (`churnlab-churn`, or `CHURNLAB_MODEL_NAME`) holds every registered
run. Aliases mark the served version (`champion`) and the one under review (`challenger`);
the deprecated stages are never used. Each version carries its threshold, the costs it was
chosen for, its data source and test metrics as version tags.

Promotion to champion passes a business gate: the candidate's test cost at its own
threshold must not be above the champion's, both recomputed from the stored out-of-fold and
test predictions under the costs of the promotion. When those costs differ from the ones the
candidate was trained with, its threshold changes, and a threshold travels inside the logged
model. So the pipeline is logged again in a new run of kind `promotion` with the new
threshold and costs, and that new version is promoted. Every promotion and rollback is
appended to the registered model's tags (`history.000001`, ...), which `rollback` replays.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from core import costs
from core.config import resolve_tracking_uri
from core.schema import TARGET_COLUMN
from core.tracking import load_predictions

logger = logging.getLogger(__name__)

# Version tag with the reason its last promotion was rejected, removed once it is promoted.
REJECTED_TAG = "rejected"
# Shortest start of a run id accepted in place of the whole id. The pages show 8 characters.
MIN_RUN_ID_PREFIX = 6
# Runs read when a short run id is looked up, MLflow's largest page of search results.
SEARCH_MAX_RUNS = 50_000

MODEL_NAME_ENV = "CHURNLAB_MODEL_NAME"
DEFAULT_MODEL_NAME = "churnlab-churn"
CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)
MODEL_ARTIFACT = "model"
HISTORY_PREFIX = "history."

# Run metrics copied to version tags, so the registry shows them without opening the run.
METRIC_TAGS = ("test_cost", "test_auc", "cv_auc_mean", "oof_cost", "test_recall", "test_precision")

# Costs per customer are compared with this absolute tolerance, so rounding in the sums
# cannot turn a tie into a rejection.
COST_TOLERANCE = 1e-9


class PromotionError(ValueError):
    """Raised when a promotion or rollback is rejected, with a message that names the fix.

    Attributes:
        gate: The business gate figures when the gate rejected the promotion, else None.
    """

    def __init__(self, message: str, gate: GateResult | None = None) -> None:
        super().__init__(message)
        self.gate = gate


@dataclass(frozen=True)
class VersionInfo:
    """One registered version of the churn model, read from its tags.

    Attributes:
        name: Registered model name.
        version: Version number as text, as MLflow returns it.
        run_id: Run that logged this version's model.
        predictions_run_id: Run whose stored predictions describe this version; the training
            run, also for versions logged again at promotion with other costs.
        model_name: Algorithm, such as `xgboost`.
        threshold: Decision threshold inside the logged model.
        cost_fn: Cost of a missed churner the threshold was chosen for.
        cost_fp: Cost of an unneeded offer the threshold was chosen for.
        data_source: Description of the training data.
        metrics: Test metrics of the training run (`METRIC_TAGS`), NaN when absent.
        aliases: Aliases pointing at this version.
        promoted_by: Who last promoted it, or "" if never promoted.
        promoted_at: When, as an ISO 8601 UTC time, or "".
        forced: Whether that promotion overrode a failed check.
        rejected: Why its last promotion was rejected, or "" when none was.
    """

    name: str
    version: str
    run_id: str
    predictions_run_id: str
    model_name: str
    threshold: float
    cost_fn: float
    cost_fp: float
    data_source: str
    metrics: dict[str, float]
    aliases: tuple[str, ...]
    promoted_by: str
    promoted_at: str
    forced: bool
    rejected: str = ""

    @property
    def model_uri(self) -> str:
        """URI that loads this version, such as `models:/churnlab-churn/3`."""
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class GateResult:
    """The business gate: both test costs per customer under the same costs.

    Attributes:
        cost_fn: Cost of a missed churner used for both models.
        cost_fp: Cost of an unneeded offer used for both models.
        challenger_cost: Candidate's test cost per customer at its out-of-fold threshold.
        challenger_threshold: That threshold.
        champion_cost: Champion's test cost per customer, chosen the same way.
        champion_threshold: The champion's threshold under these costs.
        champion_version: Version of the champion compared against.
        same_test_set: Whether both runs were tested on the same customers; when False the
            comparison mixes two test sets.
    """

    cost_fn: float
    cost_fp: float
    challenger_cost: float
    challenger_threshold: float
    champion_cost: float
    champion_threshold: float
    champion_version: str
    same_test_set: bool

    @property
    def passed(self) -> bool:
        """Whether the challenger's test cost is not above the champion's."""
        return self.challenger_cost <= self.champion_cost + COST_TOLERANCE

    def describe(self) -> str:
        """Summarise both figures in one sentence."""
        text = (
            f"test cost per customer at FN={self.cost_fn:g}, FP={self.cost_fp:g}: candidate "
            f"{self.challenger_cost:.4f} (threshold {self.challenger_threshold:.4f}), champion "
            f"version {self.champion_version} {self.champion_cost:.4f} "
            f"(threshold {self.champion_threshold:.4f})"
        )
        if not self.same_test_set:
            text += "; the two runs were tested on different customers"
        return text


@dataclass(frozen=True)
class PromotionResult:
    """Outcome of `promote` or `rollback`.

    Attributes:
        version: Version the alias points at now.
        alias: The alias that moved.
        previous_version: Version the alias pointed at before, or None.
        gate: Business gate figures, or None when there was no champion to compare with
            or the alias is not `champion`.
        forced: Whether a failed check was overridden.
        logged_again: Whether the pipeline was logged again with a threshold for new costs.
    """

    version: str
    alias: str
    previous_version: str | None
    gate: GateResult | None
    forced: bool
    logged_again: bool


@dataclass(frozen=True)
class PromotionCheck:
    """The checks a promotion must pass, computed without changing the registry.

    Attributes:
        candidate: Version to promote.
        champion: Current champion compared against, or None when there is none or it is
            the candidate itself.
        cost_fn: Cost of a missed churner of the promotion.
        cost_fp: Cost of an unneeded offer of the promotion.
        gate: Business gate figures, or None when the alias is not `champion` or there is
            no champion to compare with.
        schema_problem: Why the input schemas differ, or None when they match.
    """

    candidate: VersionInfo
    champion: VersionInfo | None
    cost_fn: float
    cost_fp: float
    gate: GateResult | None
    schema_problem: str | None

    @property
    def problems(self) -> list[str]:
        """Failed checks as sentences; empty when the promotion may go ahead."""
        found = [self.schema_problem] if self.schema_problem else []
        if self.gate is not None and not self.gate.passed:
            found.append(
                f"Version {self.candidate.version} costs more than the champion: "
                f"{self.gate.describe()}."
            )
        return found


def resolve_model_name(name: str | None = None) -> str:
    """Return the registered model name: the argument, else `CHURNLAB_MODEL_NAME`, else default."""
    return name or os.environ.get(MODEL_NAME_ENV) or DEFAULT_MODEL_NAME


def registry_client(tracking_uri: str | None = None) -> MlflowClient:
    """Return a client whose tracking store is also its model registry.

    The global URIs are set too, because `mlflow.register_model` and `models:/` loading
    read them.
    """
    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def register_run(
    run_id: str, *, tracking_uri: str | None = None, model_name: str | None = None
) -> str:
    """Register the `model` artifact of a run as a new version, or return its existing one.

    Returns:
        The version number as text.

    Raises:
        PromotionError: If the run does not exist or logged no model.
    """
    client = registry_client(tracking_uri)
    name = resolve_model_name(model_name)
    run = _get_run(client, run_id)
    # The full id, when `run_id` was the short id that the pages show.
    run_id = run.info.run_id
    for existing in _versions_of_run(client, name, run_id):
        return str(existing.version)

    model_uri = _logged_model_uri(run_id)
    tags = _version_tags(run)
    found = client.search_registered_models(filter_string=f"name = '{name}'")
    if not found:
        client.create_registered_model(
            name, description="ChurnLab churn model: raw customer records in, decisions out."
        )
    version = mlflow.register_model(model_uri, name, tags=tags)
    logger.info("Registered run %s as %s version %s", run_id, name, version.version)
    return str(version.version)


def list_versions(
    tracking_uri: str | None = None, model_name: str | None = None
) -> list[VersionInfo]:
    """Return every registered version, newest first; empty when nothing is registered."""
    client = registry_client(tracking_uri)
    name = resolve_model_name(model_name)
    aliases = _aliases_by_version(client, name)
    found = client.search_model_versions(f"name = '{name}'")
    versions = [_version_info(v, aliases.get(str(v.version), ())) for v in found]
    return sorted(versions, key=lambda v: int(v.version), reverse=True)


def versions_frame(tracking_uri: str | None = None, model_name: str | None = None) -> pd.DataFrame:
    """Return `list_versions` as a table: one row per version, metrics as columns."""
    rows = []
    for info in list_versions(tracking_uri, model_name):
        row = asdict(info)
        row["aliases"] = ", ".join(info.aliases)
        row.update(row.pop("metrics"))
        rows.append(row)
    return pd.DataFrame(rows)


def get_version(
    version: str | int, tracking_uri: str | None = None, model_name: str | None = None
) -> VersionInfo:
    """Return one registered version.

    Raises:
        PromotionError: If the version does not exist.
    """
    client = registry_client(tracking_uri)
    name = resolve_model_name(model_name)
    try:
        found = client.get_model_version(name, str(version))
    except MlflowException:
        raise PromotionError(
            f"Version {version} of registered model '{name}' not found. "
            "Fix: list the versions on the Promotion page or in the MLflow UI."
        ) from None
    return _version_info(found, _aliases_by_version(client, name).get(str(found.version), ()))


def get_champion(
    tracking_uri: str | None = None, model_name: str | None = None
) -> VersionInfo | None:
    """Return the version with the `champion` alias, or None when there is none."""
    return get_alias(CHAMPION, tracking_uri, model_name)


def get_alias(
    alias: str, tracking_uri: str | None = None, model_name: str | None = None
) -> VersionInfo | None:
    """Return the version an alias points at, or None when the alias or model is not set."""
    client = registry_client(tracking_uri)
    name = resolve_model_name(model_name)
    try:
        found = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return _version_info(found, _aliases_by_version(client, name).get(str(found.version), ()))


def business_gate(
    candidate: VersionInfo,
    champion: VersionInfo,
    cost_fn: float,
    cost_fp: float,
    tracking_uri: str | None = None,
) -> GateResult:
    """Compare the test costs of two versions under the same costs.

    For each version the threshold is chosen on its out-of-fold predictions under
    `cost_fn` and `cost_fp`, and its test predictions report the cost at that threshold,
    so neither figure uses the test set to choose anything.

    Raises:
        FileNotFoundError: If a run has no stored predictions.
        ValueError: If the costs are invalid.
    """
    cost_fn, cost_fp = costs.check_costs(cost_fn, cost_fp)
    candidate_predictions = load_predictions(candidate.predictions_run_id, tracking_uri)
    champion_predictions = load_predictions(champion.predictions_run_id, tracking_uri)
    challenger_threshold, challenger_cost = _threshold_and_test_cost(
        candidate_predictions, cost_fn, cost_fp
    )
    champion_threshold, champion_cost = _threshold_and_test_cost(
        champion_predictions, cost_fn, cost_fp
    )
    return GateResult(
        cost_fn=cost_fn,
        cost_fp=cost_fp,
        challenger_cost=challenger_cost,
        challenger_threshold=challenger_threshold,
        champion_cost=champion_cost,
        champion_threshold=champion_threshold,
        champion_version=champion.version,
        same_test_set=_test_ids(candidate_predictions) == _test_ids(champion_predictions),
    )


def check_promotion(
    version: str | int,
    *,
    alias: str = CHAMPION,
    cost_fn: float | None = None,
    cost_fp: float | None = None,
    tracking_uri: str | None = None,
    model_name: str | None = None,
) -> PromotionCheck:
    """Run the schema check and, for `champion`, the business gate, without promoting.

    Costs default to the candidate's own training costs.

    Raises:
        PromotionError: If the version does not exist.
        FileNotFoundError: If a run has no stored predictions for the gate.
        ValueError: If the alias or costs are invalid.
    """
    if alias not in ALIASES:
        raise ValueError(f"Unknown alias {alias!r}; use one of {', '.join(ALIASES)}.")
    candidate = get_version(version, tracking_uri, model_name)
    cost_fn = candidate.cost_fn if cost_fn is None else cost_fn
    cost_fp = candidate.cost_fp if cost_fp is None else cost_fp
    cost_fn, cost_fp = costs.check_costs(cost_fn, cost_fp)
    champion = get_champion(tracking_uri, model_name)
    if champion is not None and champion.version == candidate.version:
        champion = None
    schema_problem = None
    gate = None
    if champion is not None:
        schema_problem = _schema_problem(candidate, champion)
        if alias == CHAMPION:
            gate = business_gate(candidate, champion, cost_fn, cost_fp, tracking_uri)
            _log_gate(candidate, gate)
    return PromotionCheck(candidate, champion, cost_fn, cost_fp, gate, schema_problem)


def promote(
    *,
    run_id: str | None = None,
    version: str | int | None = None,
    alias: str = CHAMPION,
    cost_fn: float | None = None,
    cost_fp: float | None = None,
    force: bool = False,
    promoted_by: str | None = None,
    tracking_uri: str | None = None,
    model_name: str | None = None,
) -> PromotionResult:
    """Point `alias` at a run's model or at a registered version, after the checks.

    Args:
        run_id: Run to register and promote; give it or `version`.
        version: Registered version to promote.
        alias: `champion` or `challenger`. Only `champion` passes the business gate.
        cost_fn: Cost of a missed churner for the gate and the threshold. When both costs
            are None, the latest adopted decision's costs apply (and its threshold, when it
            was made on the candidate's run); with no decision, the candidate's own.
        cost_fp: Cost of an unneeded offer, with the same default.
        force: Promote even when the input schema differs from the champion's or the gate
            fails; the override is recorded in the version's tags and the history.
        promoted_by: Name recorded as the promoter; default the operating-system user.
        tracking_uri: Tracking and registry store.
        model_name: Registered model name.

    Returns:
        What moved, with the gate figures.

    Raises:
        PromotionError: If the run has no model, the version does not exist, or a check
            fails without `force`.
        FileNotFoundError: If a run has no stored predictions for the gate.
        ValueError: If the arguments are invalid.
    """
    if (run_id is None) == (version is None):
        raise ValueError("Give exactly one of run_id or version to promote.")
    if alias not in ALIASES:
        raise ValueError(f"Unknown alias {alias!r}; use one of {', '.join(ALIASES)}.")
    if run_id is not None:
        version = register_run(run_id, tracking_uri=tracking_uri, model_name=model_name)
    decision = _decision_to_apply(cost_fn, cost_fp, tracking_uri)
    if decision is not None:
        cost_fn, cost_fp = decision.cost_fn, decision.cost_fp
    check = check_promotion(
        version,
        alias=alias,
        cost_fn=cost_fn,
        cost_fp=cost_fp,
        tracking_uri=tracking_uri,
        model_name=model_name,
    )
    candidate, gate = check.candidate, check.gate
    # A decision adopted on this very run fixes the threshold too, even one set by hand.
    threshold = None
    if decision is not None and decision.run_id == candidate.predictions_run_id:
        threshold = decision.threshold
    logged_again = (check.cost_fn, check.cost_fp) != (candidate.cost_fn, candidate.cost_fp)
    logged_again = logged_again or (threshold is not None and threshold != candidate.threshold)
    previous = get_alias(alias, tracking_uri, model_name)
    if previous is not None and previous.version == candidate.version and not logged_again:
        logger.info("Version %s already has the alias %s; nothing to do", version, alias)
        return PromotionResult(previous.version, alias, previous.version, None, False, False)
    if check.problems and not force:
        # Registering the run came first, so the version stays, marked as rejected.
        registry_client(tracking_uri).set_model_version_tag(
            candidate.name, candidate.version, REJECTED_TAG, " ".join(check.problems)[:4000]
        )
        raise PromotionError(
            f"{' '.join(check.problems)} Fix: keep the current {alias}, or promote with "
            "--force to override; the override is recorded.",
            gate=gate,
        )
    for problem in check.problems:
        logger.warning("Forced past a failed check: %s", problem)
    if candidate.rejected:
        registry_client(tracking_uri).delete_model_version_tag(
            candidate.name, candidate.version, REJECTED_TAG
        )
    forced_reasons = check.problems
    if logged_again:
        candidate = _log_with_costs(
            candidate, check.cost_fn, check.cost_fp, tracking_uri, model_name, threshold
        )
    _move_alias(
        candidate,
        alias,
        previous_version=previous.version if previous else None,
        action="promote",
        promoted_by=promoted_by,
        forced=bool(forced_reasons),
        gate=gate,
        tracking_uri=tracking_uri,
    )
    return PromotionResult(
        version=candidate.version,
        alias=alias,
        previous_version=previous.version if previous else None,
        gate=gate,
        forced=bool(forced_reasons),
        logged_again=logged_again,
    )


def rollback(
    *,
    promoted_by: str | None = None,
    tracking_uri: str | None = None,
    model_name: str | None = None,
) -> PromotionResult:
    """Move `champion` back to the champion before the current one.

    The previous champion comes from replaying the promotion history: a promotion pushes a
    version, a rollback pops one, so repeated rollbacks walk back through older champions.
    A rollback skips the gate, because the target was champion before.

    Raises:
        PromotionError: If there is no champion or no earlier champion to return to.
    """
    name = resolve_model_name(model_name)
    current = get_champion(tracking_uri, model_name)
    if current is None:
        raise PromotionError(
            f"Registered model '{name}' has no champion, so there is nothing to roll back. "
            "Fix: promote a version first with `python -m core promote`."
        )
    target_version = rollback_target(tracking_uri, model_name)
    if target_version is None:
        raise PromotionError(
            f"Version {current.version} is the first champion of '{name}', so there is no "
            "previous champion to roll back to. Fix: promote another version instead."
        )
    target = get_version(target_version, tracking_uri, model_name)
    _move_alias(
        target,
        CHAMPION,
        previous_version=current.version,
        action="rollback",
        promoted_by=promoted_by,
        forced=False,
        gate=None,
        tracking_uri=tracking_uri,
    )
    return PromotionResult(
        version=target.version,
        alias=CHAMPION,
        previous_version=current.version,
        gate=None,
        forced=False,
        logged_again=False,
    )


def promotion_history(
    tracking_uri: str | None = None, model_name: str | None = None
) -> list[dict]:
    """Return every promotion and rollback, oldest first.

    Each entry has `action` ("promote" or "rollback"), `alias`, `version`, `previous`,
    `by`, `at` (ISO 8601 UTC), `forced`, and for gated promotions `cost_fn`, `cost_fp`,
    `challenger_cost` and `champion_cost`.
    """
    client = registry_client(tracking_uri)
    name = resolve_model_name(model_name)
    found = client.search_registered_models(filter_string=f"name = '{name}'")
    if not found:
        return []
    tags = client.get_registered_model(name).tags
    keys = sorted(key for key in tags if key.startswith(HISTORY_PREFIX))
    return [json.loads(tags[key]) for key in keys]


def rollback_target(tracking_uri: str | None = None, model_name: str | None = None) -> str | None:
    """Return the version a rollback would make champion, or None when there is none."""
    current = get_champion(tracking_uri, model_name)
    if current is None:
        return None
    stack = champion_stack(tracking_uri, model_name)
    if not stack or stack[-1] != current.version:
        # The alias was moved outside ChurnLab; treat that move as the latest promotion.
        stack.append(current.version)
    return stack[-2] if len(stack) >= 2 else None


def champion_stack(tracking_uri: str | None = None, model_name: str | None = None) -> list[str]:
    """Replay the history of the champion alias: the versions a rollback would return to."""
    stack: list[str] = []
    for entry in promotion_history(tracking_uri, model_name):
        if entry.get("alias") != CHAMPION:
            continue
        if entry["action"] == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != entry["version"]:
                stack.append(entry["version"])
        elif not stack or stack[-1] != entry["version"]:
            stack.append(entry["version"])
    return stack


def _threshold_and_test_cost(
    predictions: pd.DataFrame, cost_fn: float, cost_fp: float
) -> tuple[float, float]:
    oof = predictions[predictions["split"] == "oof"]
    test = predictions[predictions["split"] == "test"]
    if oof.empty or test.empty:
        raise FileNotFoundError(
            "Stored predictions lack out-of-fold or test rows, so the business gate cannot "
            "be computed. Fix: retrain the run with `python -m core train`."
        )
    curve = costs.cost_curve(oof["y_true"], oof["y_score"], cost_fn, cost_fp)
    threshold = costs.optimal_threshold(curve).threshold
    total = costs.cost_at(test["y_true"], test["y_score"], threshold, cost_fn, cost_fp)
    return threshold, total / len(test)


def _test_ids(predictions: pd.DataFrame) -> frozenset[str]:
    return frozenset(predictions.loc[predictions["split"] == "test", "customerID"].astype(str))


def _schema_problem(candidate: VersionInfo, champion: VersionInfo) -> str | None:
    candidate_schema = _input_schema(candidate.model_uri)
    champion_schema = _input_schema(champion.model_uri)
    if candidate_schema == champion_schema:
        return None
    return (
        f"Version {candidate.version} takes a different input schema from champion version "
        f"{champion.version}, so clients of the served model could break: "
        f"{_schema_difference(candidate_schema, champion_schema)}."
    )


def _log_gate(candidate: VersionInfo, gate: GateResult) -> None:
    if not gate.same_test_set:
        logger.warning("Business gate compares two different test sets: %s", gate.describe())
    outcome = "passed" if gate.passed else "failed"
    logger.info("Version %s %s the business gate: %s", candidate.version, outcome, gate.describe())


def _input_schema(model_uri: str) -> list[dict]:
    signature = mlflow.models.get_model_info(model_uri).signature
    if signature is None or signature.inputs is None:
        return []
    return signature.inputs.to_dict()


def _schema_difference(candidate: list[dict], champion: list[dict]) -> str:
    candidate_columns = {spec.get("name"): spec for spec in candidate}
    champion_columns = {spec.get("name"): spec for spec in champion}
    only_candidate = sorted(set(candidate_columns) - set(champion_columns), key=str)
    only_champion = sorted(set(champion_columns) - set(candidate_columns), key=str)
    changed = sorted(
        (
            name
            for name in set(candidate_columns) & set(champion_columns)
            if candidate_columns[name] != champion_columns[name]
        ),
        key=str,
    )
    parts = []
    if only_candidate:
        parts.append(f"new columns {only_candidate}")
    if only_champion:
        parts.append(f"columns no longer taken {only_champion}")
    if changed:
        parts.append(f"changed types or requirements of {changed}")
    return "; ".join(parts) or "the column order differs"


def _decision_to_apply(cost_fn: float | None, cost_fp: float | None, tracking_uri: str | None):
    """Return the latest adopted decision when no costs were given, else None."""
    if cost_fn is not None or cost_fp is not None:
        return None
    from core.decisions import latest_decision

    decision = latest_decision(tracking_uri)
    if decision is not None:
        logger.info(
            "Promoting under the latest adopted decision (%s): costs %g and %g, threshold %.4f",
            decision.created_at,
            decision.cost_fn,
            decision.cost_fp,
            decision.threshold,
        )
    return decision


def _log_with_costs(
    candidate: VersionInfo,
    cost_fn: float,
    cost_fp: float,
    tracking_uri: str | None,
    model_name: str | None,
    threshold: float | None = None,
) -> VersionInfo:
    """Log the candidate's pipeline again with the threshold for new costs; register it.

    The threshold is the out-of-fold optimum for the costs unless `threshold` is given.
    """
    from core.serving import log_churn_model
    from core.synthetic import generate_telco

    client = registry_client(tracking_uri)
    predictions = load_predictions(candidate.predictions_run_id, tracking_uri)
    if threshold is None:
        threshold, test_cost = _threshold_and_test_cost(predictions, cost_fn, cost_fp)
    else:
        test = predictions[predictions["split"] == "test"]
        total = costs.cost_at(test["y_true"], test["y_score"], threshold, cost_fn, cost_fp)
        test_cost = total / len(test)
    served = mlflow.pyfunc.load_model(candidate.model_uri).unwrap_python_model()
    source_run = client.get_run(candidate.predictions_run_id)
    run_tags = {k: v for k, v in source_run.data.tags.items() if not k.startswith("mlflow.")}
    run_tags |= {
        "churnlab.kind": "promotion",
        "churnlab.source_run_id": candidate.predictions_run_id,
        "churnlab.source_version": candidate.version,
    }
    example = generate_telco(n_rows=100, seed=0).head(3).drop(columns=TARGET_COLUMN)
    with (
        mlflow.start_run(
            experiment_id=source_run.info.experiment_id,
            run_name=f"{candidate.model_name}-fn{cost_fn:g}-fp{cost_fp:g}",
            tags=run_tags,
        ) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_params({"cost_fn": cost_fn, "cost_fp": cost_fp, "threshold": threshold})
        log_churn_model(
            served.pipeline,
            threshold=threshold,
            cost_fn=cost_fn,
            cost_fp=cost_fp,
            input_example=example,
            work_dir=Path(tmp),
            background=getattr(served, "background", None),
        )
    tags = _version_tags(source_run) | {
        "threshold": repr(threshold),
        "cost_fn": repr(cost_fn),
        "cost_fp": repr(cost_fp),
        "test_cost": repr(test_cost),
        "source_version": candidate.version,
    }
    # Recall and precision were measured at the old threshold, so they would mislead.
    for key in ("test_recall", "test_precision"):
        tags.pop(key, None)
    name = resolve_model_name(model_name)
    version = mlflow.register_model(_logged_model_uri(run.info.run_id), name, tags=tags)
    logger.info(
        "Logged version %s again as version %s with threshold %.4f for FN=%g, FP=%g",
        candidate.version,
        version.version,
        threshold,
        cost_fn,
        cost_fp,
    )
    return get_version(version.version, tracking_uri, model_name)


def _move_alias(
    target: VersionInfo,
    alias: str,
    *,
    previous_version: str | None,
    action: str,
    promoted_by: str | None,
    forced: bool,
    gate: GateResult | None,
    tracking_uri: str | None,
) -> None:
    client = registry_client(tracking_uri)
    by = promoted_by or _os_user()
    at = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_registered_model_alias(target.name, alias, target.version)
    if alias == CHAMPION:
        _clear_alias_on(client, target, CHALLENGER)
        stamp = {"promoted_by": by, "promoted_at": at, "forced": str(forced).lower()}
        for key, value in stamp.items():
            client.set_model_version_tag(target.name, target.version, key, value)
    entry = {
        "action": action,
        "alias": alias,
        "version": target.version,
        "previous": previous_version,
        "by": by,
        "at": at,
        "forced": forced,
    }
    if gate is not None:
        entry |= {
            "cost_fn": gate.cost_fn,
            "cost_fp": gate.cost_fp,
            "challenger_cost": gate.challenger_cost,
            "champion_cost": gate.champion_cost,
        }
    _append_history(client, target.name, entry)
    logger.info(
        "%s: %s@%s -> version %s (was %s) by %s%s",
        action,
        target.name,
        alias,
        target.version,
        previous_version,
        by,
        ", forced" if forced else "",
    )


def _clear_alias_on(client: MlflowClient, target: VersionInfo, alias: str) -> None:
    """Remove `alias` when it points at `target`, so one version is not both."""
    try:
        holder = client.get_model_version_by_alias(target.name, alias)
    except MlflowException:
        return
    if str(holder.version) == target.version:
        client.delete_registered_model_alias(target.name, alias)


def _append_history(client: MlflowClient, name: str, entry: dict) -> None:
    tags = client.get_registered_model(name).tags
    count = sum(1 for key in tags if key.startswith(HISTORY_PREFIX))
    client.set_registered_model_tag(name, f"{HISTORY_PREFIX}{count + 1:06d}", json.dumps(entry))


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _get_run(client: MlflowClient, run_id: str):
    """Return a run by its id, or by a unique start of it such as the 8 characters shown."""
    try:
        return client.get_run(run_id)
    except MlflowException:
        pass
    matches = _runs_with_prefix(client, run_id) if len(run_id) >= MIN_RUN_ID_PREFIX else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        first_ids = ", ".join(run.info.run_id for run in matches[:5])
        raise PromotionError(
            f"Run id {run_id} is the start of {len(matches)} runs ({first_ids}). Fix: give more "
            "characters of the run id."
        )
    raise PromotionError(
        f"Run {run_id} not found in the tracking store. Fix: copy a run id from the "
        "leaderboard or `python -m core train` output."
    )


def _runs_with_prefix(client: MlflowClient, prefix: str) -> list:
    # MLflow's search filter compares run ids only for equality, so the runs are listed.
    experiment_ids = [experiment.experiment_id for experiment in client.search_experiments()]
    if not experiment_ids:
        return []
    runs = client.search_runs(experiment_ids, max_results=SEARCH_MAX_RUNS)
    return [run for run in runs if run.info.run_id.startswith(prefix)]


def _logged_model_uri(run_id: str) -> str:
    """Return the `models:/m-...` URI of the run's logged model."""
    try:
        return mlflow.models.get_model_info(f"runs:/{run_id}/{MODEL_ARTIFACT}").model_uri
    except (MlflowException, OSError):
        raise PromotionError(
            f"Run {run_id} has no logged model '{MODEL_ARTIFACT}', so it cannot be served. "
            "Fix: promote a finished model run from `python -m core train`."
        ) from None


def _versions_of_run(client: MlflowClient, name: str, run_id: str) -> list:
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return sorted(found, key=lambda v: int(v.version))


def _version_tags(run) -> dict[str, str]:
    params = run.data.params
    metrics = run.data.metrics
    run_tags = run.data.tags
    tags = {
        "threshold": repr(float(metrics.get("threshold", math.nan))),
        "cost_fn": params.get("cost_fn", ""),
        "cost_fp": params.get("cost_fp", ""),
        "data_source": run_tags.get("data_source", ""),
        "data_hash": run_tags.get("data_hash", ""),
        "model_name": run_tags.get("model_name", params.get("model", "")),
        "predictions_run_id": run.info.run_id,
    }
    for key in METRIC_TAGS:
        if key in metrics:
            tags[key] = repr(float(metrics[key]))
    return tags


def _aliases_by_version(client: MlflowClient, name: str) -> dict[str, tuple[str, ...]]:
    try:
        aliases = client.get_registered_model(name).aliases
    except MlflowException:
        return {}
    by_version: dict[str, tuple[str, ...]] = {}
    for alias, version in aliases.items():
        by_version[str(version)] = (*by_version.get(str(version), ()), alias)
    return by_version


def _version_info(version, aliases: tuple[str, ...]) -> VersionInfo:
    tags = version.tags
    return VersionInfo(
        name=version.name,
        version=str(version.version),
        run_id=version.run_id or "",
        predictions_run_id=tags.get("predictions_run_id") or version.run_id or "",
        model_name=tags.get("model_name", ""),
        threshold=_float(tags.get("threshold")),
        cost_fn=_float(tags.get("cost_fn")),
        cost_fp=_float(tags.get("cost_fp")),
        data_source=tags.get("data_source", ""),
        metrics={key: _float(tags.get(key)) for key in METRIC_TAGS},
        aliases=tuple(sorted(aliases)),
        promoted_by=tags.get("promoted_by", ""),
        promoted_at=tags.get("promoted_at", ""),
        forced=tags.get("forced") == "true",
        rejected=tags.get(REJECTED_TAG, ""),
    )


def _float(value: str | None) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
