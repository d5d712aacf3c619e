"""The one config loader of every location, and the strict field types its models use.

A location's config is a YAML file (``$SALESML_<LOCATION>_CONFIG`` or the packaged
``config.yaml``) validated by a pydantic model built from :class:`StrictModel`:
unknown keys are errors (``auc_mn: 0.99`` must not run with the default), and so
are values that cannot mean anything (a window of 0 months, a cutoff that is not a
month end, a 300-character partition name). :func:`load_yaml_config` turns every
failure (missing file, malformed YAML, a bad key or value) into one
:class:`ConfigError` whose message names the file and each offending key, at load
time rather than as "0 positives" three steps later.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from shared.partitions import (
    MAX_NAME_LEN,
    month_end,
    partition_key,
    partition_keys,
    to_date,
    validate_name,
)


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are rejected, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the keys."""


PositiveMonths = Annotated[int, Field(ge=1, le=120)]
"""A window in months: at least 1, at most 10 years."""

PositiveDays = Annotated[int, Field(ge=1, le=3660)]
"""A window in days: at least 1, at most about 10 years."""


def _month_end_date(value: date) -> date:
    if value != month_end(value):
        raise ValueError(f"{value.isoformat()} is not a month end (use {month_end(value)})")
    return value


MonthEnd = Annotated[date, AfterValidator(_month_end_date)]
"""A date that must be the last day of its month (cutoffs)."""


def partition_name(what: str) -> Any:
    """The field type of a value that becomes part of a Dagster partition key, with
    errors that name it (``partition_name("bu_id")``): at most ``MAX_NAME_LEN``
    characters of ``[a-z0-9_-]``."""
    return Annotated[str, AfterValidator(lambda v: validate_name(v, what))]


PartitionName = partition_name("partition name")
"""A partition value whose errors say "partition name"; prefer ``partition_name(dim)``."""


def _keys(values: Any, what: str) -> Any:
    if not isinstance(values, list):
        return values  # pydantic reports the wrong type
    mapping = partition_keys(values, what, [f"{what}s.{i}" for i in range(len(values))])
    return [mapping[v] for v in values]


def partition_key_list(what: str) -> Any:
    """The field type of a list of names that become partition keys, given either as
    keys (``cad_seats``) or as the data spells them (``CAD Seats``): each is mapped by
    :func:`shared.partitions.partition_key`, and every unusable or colliding name is
    reported at once, in one line (``partition_key_list("division")``)."""
    return Annotated[list[str], BeforeValidator(lambda v: _keys(v, what))]


def partition_key_name(what: str) -> Any:
    """One name mapped to its partition key (as :func:`partition_key_list`), e.g. the keys
    of a per-division mapping; an unusable key is an error naming ``what``."""
    return Annotated[
        str,
        BeforeValidator(lambda v: partition_key(v) if isinstance(v, str) else v),
        AfterValidator(lambda v: validate_name(v, what)),
    ]


def _dict_keys(values: Any, what: str) -> Any:
    if not isinstance(values, dict):
        return values  # pydantic reports the wrong type
    partition_keys(list(values), what)  # two spellings of one key: one error naming both
    return values


def partition_key_dict(what: str, value: Any) -> Any:
    """The field type of a mapping keyed by names that become partition keys (per-division
    overrides): each key is mapped as :func:`partition_key_name`, and two spellings of one
    key (``CAD Seats`` and ``cad_seats``) are an error naming both, never silently the later
    value (``partition_key_dict("division", int)``)."""
    return Annotated[
        dict[partition_key_name(what), value], BeforeValidator(lambda v: _dict_keys(v, what))
    ]


M = TypeVar("M", bound=BaseModel)


def format_errors(err: ValidationError) -> str:
    """One line per offending key: ``key.path: message (got value)``."""
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (a typo? it would be ignored and the default used)"
        got = e.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {str(got)[:60]!r})"
        lines.append(f"  {where}: {msg}{shown}")
    return "\n".join(lines)


def validate_config(model: type[M], raw: Any, source: str) -> M:
    """``model`` validated from ``raw``; :class:`ConfigError` naming ``source`` and keys."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, got {type(raw).__name__}"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{source} is invalid:\n{format_errors(err)}") from None


def load_yaml_config(
    model: type[M], default: Path, env_var: str, path: str | Path | None = None
) -> M:
    """Load ``model`` from ``path``, else ``$<env_var>``, else the packaged ``default``.

    Read at call time (never at import). Raises :class:`ConfigError` for a missing
    file, malformed YAML (with the line), or invalid keys and values.
    """
    file = Path(path or os.environ.get(env_var) or default)
    try:
        text = file.read_text()
    except OSError as err:
        raise ConfigError(
            f"config file {file} (from {env_var} or the default) cannot be read: {err.strerror}"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"config file {file} is not valid YAML{where}: {getattr(err, 'problem', err)}"
        ) from None
    return validate_config(model, raw, f"config file {file}")


__all__ = [
    "MAX_NAME_LEN",
    "ConfigError",
    "MonthEnd",
    "PartitionName",
    "PositiveDays",
    "PositiveMonths",
    "StrictModel",
    "format_errors",
    "partition_key_list",
    "partition_key_name",
    "partition_name",
    "load_yaml_config",
    "to_date",
    "validate_config",
]
