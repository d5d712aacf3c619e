"""Features of an enrollment as of its decision time (first engagement + feature window).

Nothing dated after the decision time is read: engagement rows are cut at
each enrollment's own decision time, so deleting every later row from the
source leaves the features unchanged (:func:`assert_truncation_invariant`).

Columns: keys and times, then numeric features — counts per channel and
event type, open/click/reply/answer rates, reply and open latency, hour and
weekday of the first touch, delay from enrollment to first touch, one-hot
contact source/region/age band/job level/company size and campaign, and one
indicator per campaign step variant sent before the decision time, and the
user's own numeric contact/enrollment columns declared in config
``extra_features`` as ``user__<column>`` (namespaced: never confused with a
derived feature of the same name).
Categories come from the dimension tables (contacts, campaign_steps), so
columns do not depend on which enrollments are in the frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import polars as pl

from shared.validation import DataContractError, Violation

KEYS = ["org_id", "enrollment_id"]
ID_COLUMNS = [
    "org_id",
    "enrollment_id",
    "contact_id",
    "campaign_id",
    "first_engagement_at",
    "decision_at",
]
CONTACT_CATS = ["source_channel", "region", "age_band", "job_level", "company_size"]
EVENT_TYPES = ["delivered", "opened", "clicked", "replied", "voicemail", "call_answered"]
CHANNELS = ["sms", "email", "voice"]
USER = "user__"  # prefix of the user's own columns declared as features (extra_features)
EXTRA_KEYS = {"contacts": ["org_id", "contact_id"], "enrollments": KEYS}
# categorical attributes one-hot encoded as ``<attribute>__<value>`` (values from the
# dimension tables): what unseen-category monitoring decodes and compares with training
CATEGORY_ATTRIBUTES = [*CONTACT_CATS, "campaign"]


def _safe(value: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(value).lower())


def enrollment_times(
    enrollments: pl.DataFrame,
    engagement_logs: pl.DataFrame,
    feature_window: timedelta,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """First engagement (first ``sent`` event) and decision time per enrollment.

    Enrollments without a sent event (by ``as_of``) have no first engagement
    and are left out.
    """
    ev = engagement_logs.filter(pl.col("event_type") == "sent")
    if as_of is not None:
        ev = ev.filter(pl.col("event_at") <= as_of)
    first = ev.group_by(KEYS).agg(first_engagement_at=pl.col("event_at").min())
    return (
        enrollments.select(*KEYS, "contact_id", "campaign_id", "enrolled_at")
        .join(first, on=KEYS, how="inner")
        .with_columns(decision_at=pl.col("first_engagement_at") + feature_window)
    )


def extra_feature_frame(
    tables: dict[str, pl.DataFrame], extra: Mapping[str, Sequence[str]]
) -> dict[str, pl.DataFrame]:
    """The user columns declared as features (config ``extra_features``: table → columns),
    per table with its join keys, renamed ``user__<column>`` and cast to Float64.

    Raises :class:`DataContractError` naming every declared column that is missing from its
    table and every value that is not a number (with its rows), all at once.
    """
    problems: list[Violation] = []
    out: dict[str, pl.DataFrame] = {}
    for table, cols in extra.items():
        if not cols:
            continue
        df, keys = tables[table], EXTRA_KEYS[table]
        missing = [c for c in cols if c not in df.columns]
        problems += [
            Violation(table, c, "declared in config extra_features but not in the table", 0, [])
            for c in missing
        ]
        present = [c for c in cols if c not in missing]
        cast = df.select(
            *keys, *[pl.col(c).cast(pl.Float64, strict=False).alias(USER + c) for c in present]
        )
        for c in present:
            bad = df[c].is_not_null() & cast[USER + c].is_null()
            if bad.any():
                examples = df.filter(bad).select(*keys, c).head(5).to_dicts()
                problems.append(
                    Violation(
                        table, c, "extra feature value is not a number", int(bad.sum()), examples
                    )
                )
        out[table] = cast
    if problems:
        raise DataContractError(problems)
    return out


def build_features(
    tables: dict[str, pl.DataFrame],
    as_of: datetime,
    feature_window: timedelta = timedelta(hours=24),
    extra: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """One row per enrollment whose decision time is at or before ``as_of``; ``extra``
    (config ``extra_features``) adds the user's numeric columns as ``user__<column>``."""
    user = extra_feature_frame(tables, extra or {})
    enr, ev = tables["enrollments"], tables["engagement_logs"]
    contacts, steps = tables["contacts"], tables["campaign_steps"]
    times = enrollment_times(enr, ev, feature_window, as_of).filter(pl.col("decision_at") <= as_of)
    w_hours = feature_window.total_seconds() / 3600

    events = (
        ev.join(times.select(*KEYS, "first_engagement_at", "decision_at"), on=KEYS, how="inner")
        .filter(pl.col("event_at") <= pl.col("decision_at"))
        .join(steps.select("org_id", "step_id", "channel"), on=["org_id", "step_id"], how="left")
    )
    hours = (pl.col("event_at") - pl.col("first_engagement_at")).dt.total_seconds() / 3600
    aggs = [pl.len().alias("n_events"), (pl.col("event_type") == "sent").sum().alias("n_sent")]
    aggs += [
        ((pl.col("event_type") == "sent") & (pl.col("channel") == ch)).sum().alias(f"n_sent_{ch}")
        for ch in CHANNELS
    ]
    aggs += [(pl.col("event_type") == e).sum().alias(f"n_{e}") for e in EVENT_TYPES]
    aggs += [
        hours.filter(pl.col("event_type") == "replied").min().alias("reply_latency_h"),
        hours.filter(pl.col("event_type") == "opened").min().alias("open_latency_h"),
        hours.filter(pl.col("event_type") == "clicked").min().alias("click_latency_h"),
    ]
    per = events.group_by(KEYS).agg(aggs)

    step_ids = sorted(steps["step_id"].unique().to_list())
    seen = (
        events.filter(pl.col("event_type") == "sent")
        .select(*KEYS, "step_id")
        .unique()
        .with_columns(v=pl.lit(1, pl.Int8))
        .pivot(on="step_id", index=KEYS, values="v")
    )
    seen = seen.rename({s: f"seen_{_safe(s)}" for s in seen.columns if s not in KEYS})

    frame = times.join(per, on=KEYS, how="left").join(seen, on=KEYS, how="left")
    for s in step_ids:
        col = f"seen_{_safe(s)}"
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(0, pl.Int8).alias(col))
    count_cols = [
        "n_events",
        "n_sent",
        *[f"n_sent_{c}" for c in CHANNELS],
        *[f"n_{e}" for e in EVENT_TYPES],
    ]
    frame = frame.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in count_cols]
        + [pl.col(f"seen_{_safe(s)}").fill_null(0).cast(pl.Int8) for s in step_ids]
    )
    msg_sent = pl.col("n_sent_sms") + pl.col("n_sent_email")
    frame = frame.with_columns(
        open_rate=(pl.col("n_opened") / pl.max_horizontal(pl.col("n_delivered"), 1)).clip(0, 1),
        click_rate=(pl.col("n_clicked") / pl.max_horizontal(pl.col("n_opened"), 1)).clip(0, 1),
        reply_rate=(pl.col("n_replied") / pl.max_horizontal(msg_sent, 1)).clip(0, 1),
        answer_rate=(pl.col("n_call_answered") / pl.max_horizontal(pl.col("n_sent_voice"), 1)).clip(
            0, 1
        ),
        has_reply=(pl.col("n_replied") > 0).cast(pl.Int8),
        reply_latency_h=pl.col("reply_latency_h").fill_null(w_hours + 1),
        open_latency_h=pl.col("open_latency_h").fill_null(w_hours + 1),
        click_latency_h=pl.col("click_latency_h").fill_null(w_hours + 1),
        first_hour=pl.col("first_engagement_at").dt.hour().cast(pl.Int64),
        first_weekday=pl.col("first_engagement_at").dt.weekday().cast(pl.Int64),
        is_weekend=(pl.col("first_engagement_at").dt.weekday() >= 6).cast(pl.Int8),
        hours_to_first_touch=(
            (pl.col("first_engagement_at") - pl.col("enrolled_at")).dt.total_seconds() / 3600
        ),
    )

    # one-hot contact attributes and campaign (categories from the dimension tables)
    frame = frame.join(
        contacts.select(
            "org_id", "contact_id", *[c for c in CONTACT_CATS if c in contacts.columns]
        ),
        on=["org_id", "contact_id"],
        how="left",
    )
    onehots = []
    for col in CONTACT_CATS:
        if col not in frame.columns:
            continue
        for val in sorted(v for v in contacts[col].unique().to_list() if v is not None):
            onehots.append(
                (pl.col(col) == val).fill_null(False).cast(pl.Int8).alias(f"{col}__{_safe(val)}")
            )
    for camp in sorted(steps["campaign_id"].unique().to_list()):
        onehots.append(
            (pl.col("campaign_id") == camp).cast(pl.Int8).alias(f"campaign__{_safe(camp)}")
        )
    frame = frame.with_columns(onehots).drop([c for c in CONTACT_CATS if c in frame.columns])
    for table, cols in user.items():  # namespaced: a user column never meets a derived one
        frame = frame.join(cols, on=EXTRA_KEYS[table], how="left")
    numeric = sorted(c for c in frame.columns if c not in ID_COLUMNS and c != "enrolled_at")
    return frame.select(*ID_COLUMNS, *numeric).sort(KEYS)


def segment_of(frame: pl.DataFrame, attribute: str) -> pl.Series:
    """The value of a one-hot encoded ``attribute`` per row (``<attribute>__<value>`` columns of
    the features frame, value as encoded: lower-case, non-alphanumerics ``_``); ``"(unknown)"``
    where no column is set or none exists."""
    prefix = f"{attribute}__"
    cols = [c for c in frame.columns if c.startswith(prefix)]
    expr = pl.lit("(unknown)")
    for c in reversed(cols):
        expr = pl.when(pl.col(c) == 1).then(pl.lit(c[len(prefix) :])).otherwise(expr)
    return frame.select(expr.alias(attribute)).to_series()


def steps_sent(frame: pl.DataFrame) -> pl.Series:
    """Per row, the step variants sent before the decision time (``seen_<step>`` = 1), as a
    list of the encoded step ids."""
    cols = [c for c in frame.columns if c.startswith("seen_")]
    if not cols:
        return pl.Series("step", [[] for _ in range(frame.height)], dtype=pl.List(pl.Utf8))
    lists = frame.select(
        pl.concat_list(
            [pl.when(pl.col(c) == 1).then(pl.lit(c[len("seen_") :])) for c in cols]
        ).list.drop_nulls()
    ).to_series()
    return lists.alias("step")


def category_values(frame: pl.DataFrame) -> pl.DataFrame:
    """One column per :data:`CATEGORY_ATTRIBUTES` entry (each row's decoded value) and
    ``step`` (the list of step variants sent)."""
    return pl.DataFrame([*(segment_of(frame, a) for a in CATEGORY_ATTRIBUTES), steps_sent(frame)])


def training_categories(frame: pl.DataFrame) -> dict[str, list[str]]:
    """The values of each categorical attribute (and the step variants sent) among
    ``frame``'s rows (the training rows): what a scorer fitted on them has seen (kept in the
    model meta as ``categories``)."""
    values = category_values(frame)
    out = {c: sorted(values[c].unique().to_list()) for c in CATEGORY_ATTRIBUTES}
    out["step"] = sorted(values["step"].explode().drop_nulls().unique().to_list())
    return out


def feature_columns(frame: pl.DataFrame) -> list[str]:
    """The numeric feature columns of a features frame (everything but ids and times)."""
    skip = {*ID_COLUMNS, "enrolled_at", "target", "cutoff"}
    return [c for c in frame.columns if c not in skip]


def truncate(tables: dict[str, pl.DataFrame], cutoff: datetime) -> dict[str, pl.DataFrame]:
    """The tables with every row dated after ``cutoff`` deleted (dimension tables kept)."""
    out = dict(tables)
    out["enrollments"] = tables["enrollments"].filter(pl.col("enrolled_at") <= cutoff)
    out["engagement_logs"] = tables["engagement_logs"].filter(pl.col("event_at") <= cutoff)
    out["outcomes"] = tables["outcomes"].filter(pl.col("outcome_at") <= cutoff)
    return out


def truncate_at_decision(
    tables: dict[str, pl.DataFrame], feature_window: timedelta
) -> dict[str, pl.DataFrame]:
    """The tables with every engagement/outcome after its own enrollment's decision time deleted."""
    times = enrollment_times(tables["enrollments"], tables["engagement_logs"], feature_window)
    out = dict(tables)
    out["engagement_logs"] = (
        tables["engagement_logs"]
        .join(times.select(*KEYS, "decision_at"), on=KEYS, how="left")
        .filter(pl.col("event_at") <= pl.col("decision_at"))
        .drop("decision_at")
    )
    out["outcomes"] = (
        tables["outcomes"]
        .join(times.select(*KEYS, "decision_at"), on=KEYS, how="left")
        .filter(pl.col("outcome_at") <= pl.col("decision_at"))
        .drop("decision_at")
    )
    return out


def truncation_differences(
    tables: dict[str, pl.DataFrame],
    as_of: datetime,
    feature_window: timedelta,
    extra: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Differences between features from the full data and from truncated data (empty = invariant).

    Two truncations: every row after ``as_of`` deleted, and every row after
    its enrollment's own decision time deleted.
    """
    full = build_features(tables, as_of, feature_window, extra)
    problems: list[str] = []
    for name, cut in (
        ("rows after the as-of time deleted", truncate(tables, as_of)),
        ("rows after each decision time deleted", truncate_at_decision(tables, feature_window)),
    ):
        other = build_features(cut, as_of, feature_window, extra)
        if full.columns != other.columns or full.height != other.height:
            problems.append(f"{name}: shape {full.shape} vs {other.shape}")
            continue
        for col in full.columns:
            a, b = full[col], other[col]
            diff = (a != b).fill_null(a.is_null() != b.is_null())
            n = int(diff.sum())
            if n:
                problems.append(f"{name}: column {col} differs on {n} rows")
    return problems


def assert_truncation_invariant(
    tables: dict[str, pl.DataFrame], as_of: datetime, feature_window: timedelta
) -> None:
    problems = truncation_differences(tables, as_of, feature_window)
    if problems:
        raise AssertionError("; ".join(problems[:20]))


def partition_features(
    tables: dict[str, pl.DataFrame],
    cutoff: date,
    cutoff_at: datetime,
    window: timedelta,
    target: str,
    extra: Mapping[str, Sequence[str]] | None = None,
) -> tuple[pl.DataFrame, int]:
    """The features of one ``target × cutoff`` partition (``cutoff_at`` = the end of the
    cutoff day), tagged with ``target`` and ``cutoff``; returns ``(frame, n_features)``."""
    frame = build_features(tables, cutoff_at, window, extra)
    n_features = len(feature_columns(frame))
    return frame.with_columns(target=pl.lit(target), cutoff=pl.lit(cutoff)), n_features
