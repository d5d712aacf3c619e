"""Small helpers for the Dagster wiring layer (metadata, schema checks, resources)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
import polars as pl

from shared.modelcard import format_value
from shared.storage import WAREHOUSE_TABLE, LakeIOManager, UntrustedObjectError
from shared.tracking import MLflowTracker, ModelIntegrityError
from shared.validation import (
    QUARANTINE_COLUMNS,
    QUARANTINE_SCHEMA,
    column_dtypes,
    pandera_violations,
)

OWNERS = ["team:revenue-ml"]


def md_table(df: pl.DataFrame, max_rows: int = 30) -> str:
    """A polars frame as a markdown table (first ``max_rows`` rows)."""
    if df.height == 0:
        return "_(no rows)_"
    shown = df.head(max_rows)
    cols = shown.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in shown.iter_rows():
        lines.append("| " + " | ".join(format_value(v, ".4g", nan="") for v in row) + " |")
    if df.height > max_rows:
        lines.append(f"\n_{df.height - max_rows} more rows_")
    return "\n".join(lines)


def numeric_metadata(values: Mapping[str, Any], prefix: str = "") -> dict[str, dg.MetadataValue]:
    """Finite numbers as metadata the UI plots across materializations: ``int`` (counts)
    as integers, so a count reads ``4152`` and not ``4152.0000``; other numbers as floats."""
    out: dict[str, dg.MetadataValue] = {}
    for k, v in values.items():
        if isinstance(v, bool):
            out[f"{prefix}{k}"] = dg.MetadataValue.bool(v)
        elif isinstance(v, int):
            out[f"{prefix}{k}"] = dg.MetadataValue.int(v)
        elif isinstance(v, int | float) and math.isfinite(float(v)):
            out[f"{prefix}{k}"] = dg.MetadataValue.float(float(v))
    return out


def schema_check_result(
    df: pl.DataFrame,
    schema: Any,
    table: str,
    key_columns: Sequence[str] = (),
    asset_key: dg.AssetKey | None = None,
    check_name: str | None = None,
) -> dg.AssetCheckResult:
    """Run a pandera polars schema lazily; a blocking-severity result with the failure cases.

    (dagster-pandera reports pandas types for polars schemas and stores no
    failure cases, so we run pandera ourselves.)
    """
    violations = pandera_violations(df, schema, table, key_columns)
    meta: dict[str, Any] = {"rows": df.height, "violations": len(violations)}
    if violations:
        rows = pl.DataFrame(
            [
                {
                    "column": v.column,
                    "rule": v.rule,
                    "n_rows": v.n_rows,
                    "examples": "; ".join(map(str, v.examples[:3])),
                }
                for v in violations
            ]
        )
        meta["failure_cases"] = dg.MetadataValue.md(md_table(rows))
    kwargs: dict[str, Any] = {"asset_key": asset_key} if asset_key is not None else {}
    if check_name is not None:  # only needed when one function yields several checks
        kwargs["check_name"] = check_name
    return dg.AssetCheckResult(
        passed=not violations,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=meta,
        **kwargs,
    )


def warehouse_metadata(table: str) -> dict[str, str]:
    """Asset metadata that makes the lake IO manager publish ``table`` as a DuckDB view."""
    return {WAREHOUSE_TABLE: table}


def model_champion_result(
    served_rows: pl.DataFrame, baseline: str, what: str
) -> dg.AssetCheckResult:
    """The WARN check ``model_champion`` of a scored partition: failed while it is served by
    the labelled rule baseline (``model_version == baseline``, ``what`` names it) or by
    nothing; passed, naming the version, when a model champion serves."""
    served = served_rows["model_version"][0] if served_rows.height else "nothing"
    by_rule = served == baseline
    return dg.AssetCheckResult(
        passed=served_rows.height > 0 and not by_rule,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"no model champion: served by the {what}"
        if by_rule
        else f"served by model version {served}",
        metadata={"model_version": served, "rows": served_rows.height},
    )


def not_measured(reason: str) -> dg.AssetCheckResult:
    """A visible non-pass for a WARN check that could not measure anything (``measured:
    False``): not measured is never read as passed, and ``shared.drift_sensor`` knows
    it is no evidence of drift."""
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"not measured: {reason}",
        metadata={"measured": False, "reason": reason},
    )


def bind(fn: Callable[..., Any], value: Any) -> Callable[..., Any]:
    """``fn`` with its first parameter (the location config, or another build-time value)
    bound, keeping its name and docstring, so Dagster sees only the remaining parameters
    (context, inputs, resources, run config). How module-level asset functions get their
    config without reading it at import time.

    The signature Dagster reads has its annotations resolved (``eval_str``): modules use
    ``from __future__ import annotations``, and a run-config class named only by a string
    cannot be resolved from a ``functools.partial``.
    """
    sig = inspect.signature(fn, eval_str=True)
    params = list(sig.parameters.values())[1:]
    if inspect.isgeneratorfunction(fn):

        def bound(*args: Any, **kwargs: Any) -> Any:
            return (yield from fn(value, *args, **kwargs))
    else:

        def bound(*args: Any, **kwargs: Any) -> Any:
            return fn(value, *args, **kwargs)

    for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
        setattr(bound, attr, getattr(fn, attr))
    bound.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    bound.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
    if sig.return_annotation is not sig.empty:
        bound.__annotations__["return"] = sig.return_annotation
    return bound


def input_outputs(
    context: Any, location: str, tables: Mapping[str, pl.DataFrame], described: str, as_of: Any
) -> Iterator[dg.Output]:
    """The outputs of a location's multi-asset of validated input tables: one ``Output`` per
    table, each with the (redacted) source description and the data's as-of date, and one
    log line saying where the inputs came from. Called only after every table validated."""
    context.log.info(f"{location} inputs from {described}, as of {as_of}")
    meta = {"source": described, "as_of": as_of.isoformat()}
    for name, frame in tables.items():
        extra = quarantine_metadata(frame) if name == "quarantine" else {}
        if extra.get("quarantined_rows"):
            context.log.warning(
                f"{location}: {extra['quarantined_rows'].value} row(s) quarantined "
                "(source.quarantine_bad_rows is on); see the quarantine table"
            )
        yield dg.Output(frame, name, metadata={**meta, **extra})


def quarantine_metadata(held: pl.DataFrame) -> dict[str, Any]:
    """Counts of a quarantine table (columns of ``shared.validation.QUARANTINE_SCHEMA``):
    rows set aside, and a table of rows per source table and rule."""
    counts = (
        held.group_by("table", "column", "rule").agg(pl.len().alias("rows")).sort("table", "rule")
        if held.height
        else held
    )
    return {
        "quarantined_rows": dg.MetadataValue.int(held.height),
        "quarantined_by_rule": dg.MetadataValue.md(md_table(counts)),
    }


def column_schema(
    columns: Mapping[str, Any], descriptions: Mapping[str, str] | None = None
) -> dict[str, dg.TableSchema]:
    """Asset metadata that shows a table's columns in the Dagster UI (``dagster/column_schema``).

    Args:
        columns: column name -> polars dtype, in table order.
        descriptions: optional column name -> one-line description.
    """
    notes = descriptions or {}
    return {
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name, str(dtype), description=notes.get(name))
                for name, dtype in columns.items()
            ]
        )
    }


def contract_column_schema(
    schema: Any, descriptions: Mapping[str, str] | None = None
) -> dict[str, dg.TableSchema]:
    """:func:`column_schema` of the columns a pandera polars schema guarantees (the
    table's contract; a non-strict schema's table may carry more). A column the schema
    checks without fixing its type shows as ``any``."""
    return column_schema(
        {name: "any" if dtype is None else dtype for name, dtype in column_dtypes(schema).items()},
        descriptions,
    )


EXTERNAL_RETRY = dg.RetryPolicy(
    max_retries=3, delay=20, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Retry policy of the steps that talk to an external system (source database or files,
MLflow tracking server and registry, the lead_scores database): three more attempts
after about 20 s, 40 s and 80 s (± jitter, so parallel partitions do not retry in step):
rides out a restart, a failover or a dropped connection of two minutes or so, and still
fails a run within three minutes when the system is really down. Pair it with
:func:`permanent_errors_fail_at_once` so a broken contract is not retried."""

REGISTRY_POOL = "mlflow_registry"
"""Concurrency pool of the promotion steps (scripts/dagster.yaml: one slot per pool). Two
runs of one model at different cutoffs (a backfill, a schedule beside a sensor) must not
interleave "compare with the champion, register, move the alias": the later one would
judge against a champion that is about to change. The partition tag limit keeps one run
per partition; this keeps one promotion at a time across all runs."""

LEAD_SCORES_POOL = "lead_scores_db"
"""Concurrency pool of the lead_scores upsert: the embedded default store is a DuckDB file,
which takes one writing process at a time (a second writer fails on its lock)."""

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # DataContractError, ConfigError, PlainSecretError, MissingFeaturesError, ...
    TypeError,
    KeyError,
    AssertionError,
    ModelIntegrityError,
    UntrustedObjectError,
)
"""Errors another attempt cannot cure (bad data, bad config, a plain secret, a tampered
model, a bug): :func:`permanent_errors_fail_at_once` fails the step on them at once."""


def permanent_errors_fail_at_once(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (an asset function, plain or generator, e.g. from :func:`bind`) raising
    ``dg.Failure(allow_retries=False)`` from any of :data:`PERMANENT_ERRORS`, so a step
    with :data:`EXTERNAL_RETRY` retries only what may heal (connections, timeouts, a busy
    server). The failure's description is ``<ErrorClass>: <message>`` and the original
    error is its cause (both in the step's error in the UI and the event log)."""

    def fail(err: BaseException) -> dg.Failure:
        return dg.Failure(description=f"{type(err).__name__}: {err}", allow_retries=False)

    if inspect.isgeneratorfunction(fn):

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return (yield from fn(*args, **kwargs))
            except PERMANENT_ERRORS as err:
                raise fail(err) from err
    else:

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except PERMANENT_ERRORS as err:
                raise fail(err) from err

    for attr in ("__name__", "__qualname__", "__doc__", "__module__", "__annotations__"):
        setattr(wrapped, attr, getattr(fn, attr))
    wrapped.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return wrapped


def source_key(location: Any, table: str) -> dg.AssetKey:
    """Key of a raw source table's external asset: ``<location>/source/<table>``."""
    return dg.AssetKey([*location.prefix, "source", table])


def source_specs(
    location: Any, tables: Mapping[str, str], kinds: set[str], where: str
) -> list[dg.AssetSpec]:
    """External assets for the raw source tables a location reads (``<location>/source/
    <table>``, not materializable by Dagster): the top of the lineage in the UI.

    Args:
        location: the location's :class:`~shared.location.Location`.
        tables: source table name -> one-line description.
        kinds: the source system's kinds (``{"parquet"}``, ``{"duckdb"}``, ``{"postgres"}``).
        where: where the location reads them from (its source env var and default).
    """
    return [
        dg.AssetSpec(
            key=source_key(location, table),
            description=f"{description} Read from {where}.",
            group_name=location.name,
            owners=OWNERS,
            kinds=kinds,
        )
        for table, description in tables.items()
    ]


def source_kinds(uri: str | None, default: str) -> set[str]:
    """Kinds of a location's source system: the kind of ``uri`` when the definitions are
    built with one (``postgres``, ``sqlite``, ``duckdb``, a folder's ``parquet``/``csv``), else ``default`` (the
    embedded synthetic world's format). A source set only through the environment at run
    time is not known when the definitions load."""
    if not uri:
        return {default}
    from shared.sources import source_kind

    kind = source_kind(uri)
    if kind == "sqlalchemy":
        scheme = uri.split("://", 1)[0].split("+", 1)[0]
        return {"postgres" if scheme.startswith("postgres") else scheme}
    return {"duckdb"} if kind == "duckdb" else {"parquet", "csv"}


def quarantine_out(location: Any, **kwargs: Any) -> dg.AssetOut:
    """The ``quarantine`` output of a location's inputs multi-asset (its warehouse table
    ``<location>.quarantine``): rows set aside by ``source.quarantine_bad_rows``."""
    return dg.AssetOut(
        description="Input rows set aside with the contract rule they broke, when the source "
        "resource's quarantine_bad_rows is on (off by default: bad rows fail the run). One row "
        "per (rule, source row); the source row's values as JSON.",
        metadata={
            **warehouse_metadata(location.table("quarantine")),
            **column_schema(QUARANTINE_SCHEMA, QUARANTINE_COLUMNS),
        },
        kinds={"polars", "duckdb"},
        **kwargs,
    )


def publish_model_card(
    context: Any,
    location: str,
    model_name: str,
    card: Mapping[str, Any],
    gates_passed: bool,
    extra_metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a partition's model card (markdown + JSON under ``reports/``), show it in the
    asset's metadata, and return the ``model_card`` asset value (both paths and whether
    the gates passed). The one model-card step of every location."""
    from shared.modelcard import render_model_card, write_model_card

    md_path, json_path = write_model_card(location, model_name, context.partition_key, dict(card))
    paths = {"markdown_path": str(md_path), "json_path": str(json_path)}
    context.add_output_metadata(
        {
            "card": dg.MetadataValue.md(render_model_card(dict(card))),
            **paths,
            **(extra_metadata or {}),
        }
    )
    return {**paths, "gates_passed": gates_passed}


def common_resources() -> dict[str, Any]:
    """Resources every code location uses: the lake IO manager and the MLflow tracker."""
    return {"io_manager": LakeIOManager(), "tracker": MLflowTracker()}
