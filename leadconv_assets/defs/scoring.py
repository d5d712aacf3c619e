"""Scoring stage: daily ``lead_scores`` (each target's champion, else the rules baseline → SQL
upsert + history) with its checks: ``schema`` (blocking), ``score_drift`` (PSI, warning only) and
``model_champion`` (warning while a target is served by the rules baseline)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from leadconv_assets import schemas as lc_schemas
from leadconv_assets import scores_db
from leadconv_assets import scoring as lc_scoring
from leadconv_assets.config import LeadconvConfig, end_of_day
from leadconv_assets.defs import COMMON, LOCATION, check, clean_in
from shared.automation import DAILY_SCORES_FRESHNESS
from shared.dagster_helpers import (
    EXTERNAL_RETRY,
    LEAD_SCORES_POOL,
    bind,
    contract_column_schema,
    md_table,
    numeric_metadata,
    permanent_errors_fail_at_once,
    schema_check_result,
    warehouse_metadata,
)
from shared.partitions import to_date
from shared.sources import EnvVarRef
from shared.tracking import MLflowTracker


class LeadScoresConfig(dg.Config):
    """Run options of ``lead_scores``; unset values come from the leadconv config (``scoring``)."""

    split: str | None = None  # all | test | train
    dry_run: bool | None = None
    # the target DB URL never in run config (Dagster stores and shows it): the name of an
    # environment variable holding it, ``target_url: {env: VARIABLE}``; a literal is rejected
    target_url: EnvVarRef | None = None
    days_back: int | None = None
    table: str = "lead_scores"
    history_table: str = "lead_score_history"


def lead_scores(
    cfg: LeadconvConfig, context, config: LeadScoresConfig, tracker: MLflowTracker, clean: dict
):
    split = config.split or cfg.scoring.split
    dry_run = cfg.scoring.dry_run if config.dry_run is None else config.dry_run
    as_of = min(end_of_day(to_date(context.partition_key)), clean["as_of"])
    days_back = config.days_back or cfg.scoring.days_back
    scored = lc_scoring.score_leads(
        cfg, tracker, clean["tables"], as_of, days_back, LOCATION.model_name
    )
    chosen = scores_db.select_split(scored.scores, split)  # type: ignore[arg-type]
    own = config.target_url.resolve() if config.target_url else None
    url = lc_scoring.scores_url(own, cfg.scoring.target_url)
    # validate first: a frame that breaks the contract raises and writes nothing
    out, result = lc_scoring.write_scores(
        url, chosen, table=config.table, history_table=config.history_table, dry_run=dry_run
    )
    yield from scores_outputs(out, result, scored, list(cfg.targets), dry_run=dry_run,
                              split=split, as_of=as_of)  # fmt: skip
    yield unseen_check(scored, cfg.scoring.unseen_category_max_share)


def unseen_check(scored: lc_scoring.Scored, max_share: float) -> dg.AssetCheckResult:
    """The ``unseen_categories`` WARN result: per target and column, scored leads whose value
    the serving model (or rules baseline) never saw in training."""
    verdict, table = lc_scoring.unseen_verdict(scored, max_share)
    meta = dict(verdict.metadata)
    if table.height:
        meta["counts"] = dg.MetadataValue.md(md_table(table))
    return dg.AssetCheckResult(
        check_name="unseen_categories",
        asset_key=LOCATION.key("lead_scores"),
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=verdict.description,
        metadata=meta,
    )


def scores_outputs(out, result, scored: lc_scoring.Scored, targets: list[str], **meta: Any):
    """The ``lead_scores`` output and its three check results."""
    counts = {
        k: v for k, v in result.to_dict().items() if isinstance(v, int) and not isinstance(v, bool)
    }
    yield dg.Output(
        out,
        metadata={
            **numeric_metadata(counts),
            "dry_run": meta["dry_run"],
            "split": meta["split"],
            "target_db": result.target,
            "champions": dg.MetadataValue.json(scored.notes),
            "as_of": meta["as_of"].isoformat(),
        },
    )
    yield schema_check_result(
        out, lc_schemas.LeadScoresSchema, "leadconv.lead_scores",
        ["org_id", "enrollment_id", "label_col"],
        asset_key=LOCATION.key("lead_scores"), check_name="schema",
    )  # fmt: skip
    verdict = lc_scoring.drift_verdict(scored.drift, scored.unmeasured)
    yield dg.AssetCheckResult(
        check_name="score_drift",
        asset_key=LOCATION.key("lead_scores"),
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=verdict.description,
        metadata=verdict.metadata,
    )
    served = lc_scoring.champion_verdict(scored, targets)
    yield dg.AssetCheckResult(
        check_name="model_champion",
        asset_key=LOCATION.key("lead_scores"),
        passed=served.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=served.description,
        metadata=served.metadata,
    )


def build(cfg: LeadconvConfig, parts: dict[str, Any]) -> list:
    """``lead_scores`` on the daily partitions."""
    return [
        dg.asset(
            key=LOCATION.key("lead_scores"),
            partitions_def=parts["daily"],
            ins=clean_in(),
            deps=[
                dg.AssetDep(
                    LOCATION.key("promoted_model"), partition_mapping=dg.AllPartitionMapping()
                )
            ],
            kinds={"polars", "sql"},
            metadata={
                **warehouse_metadata("leadconv.lead_scores_daily"),
                **contract_column_schema(lc_schemas.LeadScoresSchema),
            },
            freshness_policy=DAILY_SCORES_FRESHNESS,
            # the SQL upsert into lead_scores (one transaction, idempotent by key) and the
            # champions' MLflow loads may meet a busy or restarting server
            retry_policy=EXTERNAL_RETRY,
            pool=LEAD_SCORES_POOL,  # one writer of the lead_scores store at a time
            check_specs=[
                check(
                    "schema",
                    "lead_scores",
                    "Scores match the lead_scores contract (unique key, score in [0, 1]).",
                ),
                check(
                    "score_drift",
                    "lead_scores",
                    "PSI of today's scores against the champion's holdout scores, per "
                    "target (< 0.1 stable, 0.1-0.25 moderate, > 0.25 significant: retrain). Warning only.",
                    blocking=False,
                ),
                check(
                    "unseen_categories",
                    "lead_scores",
                    "WARN when more than scoring.unseen_category_max_share (5%) of a target's "
                    "scored leads have a source, region, age band, job level, company size, "
                    "campaign or step variant its model never saw in training (counted per column with examples, "
                    "never silently merged).",
                    blocking=False,
                ),
                check(
                    "model_champion",
                    "lead_scores",
                    "WARN while a target has no model champion (every candidate refused) and is "
                    f"served by the rules baseline (rows say model_version='{lc_scoring.RULES_BASELINE}') "
                    "or not served at all.",
                    blocking=False,
                ),
            ],
            description="Enrollments first engaged in the last 90 days (not resolved before their "
            "decision time) scored with each target's champion (a target without one: by the rules "
            f"baseline, model_version='{lc_scoring.RULES_BASELINE}'), upserted into lead_scores keyed on "
            "(org_id, enrollment_id, label_col) with an append-only lead_score_history, in one "
            f"transaction. Target DB: config scoring.target_url, ${lc_scoring.SCORES_URL_ENV} or a "
            "DuckDB file under the home. Split all/test/train (default test = rows the model was not "
            "trained on); dry_run counts without writing.",
            **COMMON,
        )(permanent_errors_fail_at_once(bind(lead_scores, cfg))),
    ]
