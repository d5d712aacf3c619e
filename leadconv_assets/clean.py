"""Cleaning rules for validated lead-conversion tables, each with a count of what it changed.

Rules (in order):

1. ``exact_duplicates``: identical rows are dropped.
2. ``duplicate_keys``: rows sharing a key keep the earliest (by the table's time column).
3. ``standardize_text``: categorical text is trimmed and lower-cased
   (``" SMS "`` → ``sms``).
4. ``missing_categories``: missing contact attributes become ``unknown``.
5. ``delay_outliers``: step delays above 30 days are capped at 30 days.
6. ``late_events``: engagement more than 90 days after enrollment is dropped
   (outside any campaign).
7. ``repeated_outcomes``: only the first outcome of each type per enrollment is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from leadconv_assets.schemas import KEYS, TIME_COLUMNS

CATEGORICAL = {
    "contacts": ["source_channel", "region", "age_band", "job_level", "company_size"],
    "campaign_steps": ["channel", "prompt_variant_id"],
    "engagement_logs": ["event_type"],
    "outcomes": ["outcome_type"],
}
MAX_DELAY_HOURS = 30 * 24
MAX_EVENT_AGE = timedelta(days=90)


def clean_tables(
    tables: dict[str, pl.DataFrame],
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Apply every rule; returns ``(clean tables, counts)`` with one row per (table, rule)."""
    counts: list[dict] = []
    out: dict[str, pl.DataFrame] = {}

    def note(table: str, rule: str, n: int) -> None:
        counts.append({"table": table, "rule": rule, "rows_changed": int(n)})

    for t, df in tables.items():
        before = df.height
        df = df.unique(maintain_order=True)
        note(t, "exact_duplicates", before - df.height)
        before = df.height
        tcol = TIME_COLUMNS.get(t)
        if tcol and tcol in df.columns:
            df = df.sort(tcol, nulls_last=True, maintain_order=True)
        df = df.unique(subset=KEYS[t], keep="first", maintain_order=True)
        note(t, "duplicate_keys", before - df.height)
        changed = 0
        for col in CATEGORICAL.get(t, []):
            if col not in df.columns:
                continue
            new = pl.col(col).str.strip_chars().str.to_lowercase()
            changed += df.filter((new != pl.col(col)).fill_null(False)).height
            df = df.with_columns(new.alias(col))
        note(t, "standardize_text", changed)
        out[t] = df

    contacts = out["contacts"]
    cats = [c for c in CATEGORICAL["contacts"] if c in contacts.columns]
    n_missing = contacts.select(pl.sum_horizontal([pl.col(c).is_null() for c in cats])).sum().item()
    out["contacts"] = contacts.with_columns([pl.col(c).fill_null("unknown") for c in cats])
    note("contacts", "missing_categories", n_missing or 0)

    steps = out["campaign_steps"]
    n_out = steps.filter(pl.col("delay_hours") > MAX_DELAY_HOURS).height
    out["campaign_steps"] = steps.with_columns(
        pl.col("delay_hours").fill_null(0.0).clip(0, MAX_DELAY_HOURS)
    )
    note("campaign_steps", "delay_outliers", n_out)

    ev = out["engagement_logs"].join(
        out["enrollments"].select("org_id", "enrollment_id", "enrolled_at"),
        on=["org_id", "enrollment_id"],
        how="left",
    )
    keep = ev.filter(pl.col("event_at") <= pl.col("enrolled_at") + MAX_EVENT_AGE)
    note("engagement_logs", "late_events", ev.height - keep.height)
    out["engagement_logs"] = keep.drop("enrolled_at").sort("event_at", maintain_order=True)

    oc = out["outcomes"].sort("outcome_at", maintain_order=True)
    first = oc.unique(
        subset=["org_id", "enrollment_id", "outcome_type"], keep="first", maintain_order=True
    )
    note("outcomes", "repeated_outcomes", oc.height - first.height)
    out["outcomes"] = first
    return out, pl.DataFrame(
        counts, schema={"table": pl.Utf8, "rule": pl.Utf8, "rows_changed": pl.Int64}
    )


def data_as_of(tables: dict[str, pl.DataFrame]) -> datetime:
    """The data's as-of time: the latest engagement or outcome timestamp."""
    values = [
        tables["engagement_logs"]["event_at"].max(),
        tables["outcomes"]["outcome_at"].max(),
        tables["enrollments"]["enrolled_at"].max(),
    ]
    found = [v for v in values if v is not None]
    if not found:
        raise ValueError("the source holds no enrollments or events: nothing to train or score")
    return max(found)  # type: ignore[return-value]


def _read(folder: Path, names) -> dict[str, pl.DataFrame]:
    return {
        t: pl.read_parquet(folder / f"{t}.parquet")
        for t in names
        if (folder / f"{t}.parquet").exists()
    }


def clean_snapshot(manifest: dict[str, Any]) -> dict[str, Any]:
    """Read the snapshot of an extract ``manifest`` and clean it: ``tables``, ``truth``,
    ``rule_counts``, ``as_of``, ``snapshot`` (path) and ``content_hash``."""
    folder = Path(manifest["path"])
    tables = _read(folder, manifest["row_counts"])
    truth = _read(folder, manifest.get("truth_tables", []))
    cleaned, counts = clean_tables(tables)
    return {
        "tables": cleaned,
        "truth": truth,
        "rule_counts": counts,
        "as_of": data_as_of(cleaned),
        "snapshot": manifest["path"],
        "content_hash": manifest["content_hash"],
    }
