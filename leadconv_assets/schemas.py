"""Input contract of the lead-conversion source (pandera polars) and relational rules.

Tables (keys in brackets; every table carries ``org_id``):

* ``contacts`` [org_id, contact_id]: source_channel, region, age_band, job_level,
  company_size, created_at.
* ``enrollments`` [org_id, enrollment_id]: contact_id, campaign_id, enrolled_at.
* ``campaign_steps`` [org_id, step_id]: campaign_id, step_number, channel
  (sms/email/voice), delay_hours, prompt_template_id, prompt_variant_id.
* ``engagement_logs`` [org_id, event_id]: enrollment_id, step_id, event_type
  (sent, delivered, opened, clicked, replied, voicemail, call_answered), event_at.
* ``outcomes`` [org_id, outcome_id]: enrollment_id, outcome_type (booked_call,
  qualified, converted, opt_out), outcome_at.

``organizations`` is optional. Full description: docs/data_contracts/leadconv.md.
"""

from __future__ import annotations

from datetime import datetime

import pandera.polars as pa
import polars as pl

from shared.validation import (
    DataContractError,
    Violation,
    contract_frame,
    foreign_key_violation,
    row_violation,
)

REQUIRED = ("contacts", "enrollments", "campaign_steps", "engagement_logs", "outcomes")
OPTIONAL = ("organizations",)
TRUTH_TABLES = ("truth", "true_effects")  # synthetic worlds only
EVENT_TYPES = ("sent", "delivered", "opened", "clicked", "replied", "voicemail", "call_answered")
OUTCOME_TYPES = ("booked_call", "qualified", "converted", "opt_out")
CHANNELS = ("sms", "email", "voice")
EARLIEST = datetime(1990, 1, 1)

KEYS = {
    "organizations": ["org_id"],
    "contacts": ["org_id", "contact_id"],
    "enrollments": ["org_id", "enrollment_id"],
    "campaign_steps": ["org_id", "step_id"],
    "engagement_logs": ["org_id", "event_id"],
    "outcomes": ["org_id", "outcome_id"],
}
ID_COLUMNS = {  # text in every source: a CSV source reads them as text (leading zeros kept)
    "organizations": ["org_id"],
    "contacts": ["org_id", "contact_id"],
    "enrollments": ["org_id", "enrollment_id", "contact_id", "campaign_id"],
    "campaign_steps": ["org_id", "campaign_id", "step_id"],
    "engagement_logs": ["org_id", "event_id", "enrollment_id", "step_id"],
    "outcomes": ["org_id", "outcome_id", "enrollment_id"],
    "truth": ["org_id", "enrollment_id"],
}
TIME_COLUMNS = {
    "contacts": "created_at",
    "enrollments": "enrolled_at",
    "engagement_logs": "event_at",
    "outcomes": "outcome_at",
}


def _key(name: str) -> pa.Column:
    return pa.Column(pl.Utf8, nullable=False, coerce=True, title=name)


def _ts(nullable: bool = False) -> pa.Column:
    return pa.Column(pl.Datetime("us"), nullable=nullable, coerce=True)


def _text(nullable: bool = True) -> pa.Column:
    return pa.Column(pl.Utf8, nullable=nullable, coerce=True)


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "organizations": pa.DataFrameSchema({"org_id": _key("org_id")}, strict=False),
    "contacts": pa.DataFrameSchema(
        {
            "org_id": _key("org_id"),
            "contact_id": _key("contact_id"),
            "source_channel": _text(),
            "region": _text(),
            "age_band": _text(),
            "job_level": _text(),
            "company_size": _text(),
            "created_at": _ts(nullable=True),
        },
        strict=False,
    ),
    "enrollments": pa.DataFrameSchema(
        {
            "org_id": _key("org_id"),
            "enrollment_id": _key("enrollment_id"),
            "contact_id": _key("contact_id"),
            "campaign_id": _key("campaign_id"),
            "enrolled_at": _ts(),
        },
        strict=False,
    ),
    "campaign_steps": pa.DataFrameSchema(
        {
            "org_id": _key("org_id"),
            "campaign_id": _key("campaign_id"),
            "step_id": _key("step_id"),
            "step_number": pa.Column(pl.Int64, pa.Check.ge(1), coerce=True),
            "channel": _text(nullable=False),
            "delay_hours": pa.Column(pl.Float64, pa.Check.ge(0), nullable=True, coerce=True),
            "prompt_template_id": _text(nullable=False),
            "prompt_variant_id": _text(nullable=False),
        },
        strict=False,
    ),
    "engagement_logs": pa.DataFrameSchema(
        {
            "org_id": _key("org_id"),
            "event_id": _key("event_id"),
            "enrollment_id": _key("enrollment_id"),
            "step_id": _text(),
            "event_type": _text(nullable=False),
            "event_at": _ts(),
        },
        strict=False,
    ),
    "outcomes": pa.DataFrameSchema(
        {
            "org_id": _key("org_id"),
            "outcome_id": _key("outcome_id"),
            "enrollment_id": _key("enrollment_id"),
            "outcome_type": _text(nullable=False),
            "outcome_at": _ts(),
        },
        strict=False,
    ),
}


def _range_violations(df: pl.DataFrame, table: str, now: datetime) -> list[Violation]:
    col = TIME_COLUMNS.get(table)
    if col is None or col not in df.columns:
        return []
    found = row_violation(
        df,
        (pl.col(col) > now) | (pl.col(col) < EARLIEST),
        table,
        col,
        f"timestamp out of range [{EARLIEST:%Y-%m-%d}, extraction time {now:%Y-%m-%d %H:%M}]",
        KEYS[table],
    )
    return [found] if found is not None else []


def _before_enrollment(
    child: pl.DataFrame, enrollments: pl.DataFrame, table: str, col: str
) -> Violation | None:
    keys = ["org_id", "enrollment_id"]
    joined = child.join(enrollments.select(*keys, "enrolled_at"), on=keys, how="inner")
    return row_violation(
        joined,
        pl.col(col) < pl.col("enrolled_at"),
        table,
        col,
        "timestamp before the enrollment's enrolled_at",
        [*KEYS[table], "enrollment_id", "enrolled_at"],
    )


def _value_violation(
    df: pl.DataFrame, table: str, col: str, allowed: tuple[str, ...], normalize: bool = True
) -> Violation | None:
    values = pl.col(col).str.strip_chars().str.to_lowercase() if normalize else pl.col(col)
    return row_violation(
        df, ~values.is_in(list(allowed)), table, col, f"value not in {list(allowed)}", KEYS[table]
    )


def contract_violations(
    tables: dict[str, pl.DataFrame | None], now: datetime | None = None
) -> tuple[dict[str, pl.DataFrame], list[Violation]]:
    """Every violation of the contract; returns (coerced tables, violations).

    Rules: required tables and columns present, types, null keys, allowed
    values (case-insensitive), timestamps in range, orphan foreign keys
    (enrollments→contacts, engagement_logs/outcomes→enrollments, engagement
    step_id→campaign_steps) and events or outcomes dated before their
    enrollment.
    """
    now = now or datetime.now()
    violations: list[Violation] = []
    out: dict[str, pl.DataFrame] = {}
    for t in REQUIRED:
        if tables.get(t) is None:
            violations.append(Violation(t, "*", "missing table", 0, []))
    for t, df in tables.items():
        if df is None or t not in SCHEMAS:
            continue
        frame, found = contract_frame(df, SCHEMAS[t], t, KEYS[t])
        violations += found
        if frame is not None:
            out[t] = frame
    if violations:
        return out, violations
    for t, df in out.items():
        violations += _range_violations(df, t, now)
    v = [
        foreign_key_violation(
            out["enrollments"], out["contacts"], ["org_id", "contact_id"], "enrollments", "contacts"
        ),
        foreign_key_violation(
            out["engagement_logs"],
            out["enrollments"],
            ["org_id", "enrollment_id"],
            "engagement_logs",
            "enrollments",
        ),
        foreign_key_violation(
            out["outcomes"],
            out["enrollments"],
            ["org_id", "enrollment_id"],
            "outcomes",
            "enrollments",
        ),
        foreign_key_violation(
            out["engagement_logs"].filter(pl.col("step_id").is_not_null()),
            out["campaign_steps"],
            ["org_id", "step_id"],
            "engagement_logs",
            "campaign_steps",
        ),
        _before_enrollment(
            out["engagement_logs"], out["enrollments"], "engagement_logs", "event_at"
        ),
        _before_enrollment(out["outcomes"], out["enrollments"], "outcomes", "outcome_at"),
        _value_violation(out["engagement_logs"], "engagement_logs", "event_type", EVENT_TYPES),
        _value_violation(out["outcomes"], "outcomes", "outcome_type", OUTCOME_TYPES),
        _value_violation(out["campaign_steps"], "campaign_steps", "channel", CHANNELS),
    ]
    violations += [x for x in v if x is not None]
    return out, violations


def validate_inputs(
    tables: dict[str, pl.DataFrame | None], now: datetime | None = None
) -> dict[str, pl.DataFrame]:
    """Validated, type-coerced contract tables, or :class:`DataContractError` naming every problem."""
    out, violations = contract_violations(tables, now)
    if violations:
        raise DataContractError(violations)
    return out


# --- output schemas ------------------------------------------------------------

FeaturesSchema = pa.DataFrameSchema(
    {
        "org_id": _key("org_id"),
        "enrollment_id": _key("enrollment_id"),
        "decision_at": _ts(),
        "n_sent": pa.Column(pl.Int64, pa.Check.ge(0), coerce=True),
        "reply_rate": pa.Column(pl.Float64, pa.Check.in_range(0, 1), coerce=True),
        "open_rate": pa.Column(pl.Float64, pa.Check.in_range(0, 1), coerce=True),
    },
    strict=False,
    unique=["org_id", "enrollment_id"],
)

LabelsSchema = pa.DataFrameSchema(
    {
        "org_id": _key("org_id"),
        "enrollment_id": _key("enrollment_id"),
        "label": pa.Column(pl.Int8, pa.Check.isin([0, 1]), nullable=True, coerce=True),
        "window_closed": pa.Column(pl.Boolean, nullable=False),
        "resolved_before_decision": pa.Column(pl.Boolean, nullable=False),
    },
    strict=False,
    unique=["org_id", "enrollment_id"],
    checks=[
        pa.Check(
            lambda data: data.lazyframe.select(pl.col("window_closed") | pl.col("label").is_null()),
            name="open_window_has_no_label",
            error="an enrollment whose window is still open must not be labeled",
        )
    ],
)

LeadScoresSchema = pa.DataFrameSchema(
    {
        "org_id": _key("org_id"),
        "enrollment_id": _key("enrollment_id"),
        "label_col": _key("label_col"),
        "score": pa.Column(pl.Float64, pa.Check.in_range(0, 1), coerce=True),
        "model_name": _text(nullable=False),
        "model_version": _text(nullable=False),
        "run_id": _text(nullable=False),
        "scored_at": _ts(),
    },
    strict=False,
    unique=["org_id", "enrollment_id", "label_col"],
)
