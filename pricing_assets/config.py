"""Typed pricing configuration: per-business-unit settings validated on load.

The YAML (``SALESML_PRICING_CONFIG`` or the packaged ``config.yaml``) has a
``defaults`` block and per-BU ``overrides`` that are deep-merged into it, so
``cfg.bu("apac")`` is a complete :class:`BUConfig`. Errors name the key that
is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, field_validator, model_validator

from shared.config import (
    MonthEnd,
    PositiveDays,
    StrictModel,
    load_yaml_config,
    partition_key_list,
    validate_config,
)
from shared.partitions import CutoffList, partition_key, validate_name

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
ENV_VAR = "SALESML_PRICING_CONFIG"

BuId = Annotated[str, AfterValidator(lambda v: validate_name(v, "bu_id"))]
"""``shared.config.BuId`` whose errors say ``bu_id`` (a business unit name)."""
BuIds = partition_key_list("bu_id")
"""Business units as keys (``north_america``) or as the data spells them (``North America``),
each mapped by :func:`shared.partitions.partition_key`; unusable or colliding names are
reported at once, in one line."""


class Guardrails(StrictModel):
    """Bounds every recommended discount must respect."""

    min_discount: float = Field(0.0, ge=0.0, lt=1.0)
    max_discount: float = Field(0.6, gt=0.0, lt=1.0)
    floor_policy: Literal["enforce", "ignore"] = "enforce"

    @model_validator(mode="after")
    def _order(self) -> Guardrails:
        if self.min_discount > self.max_discount:
            raise ValueError(
                f"guardrails.min_discount {self.min_discount} > max_discount {self.max_discount}"
            )
        return self


class Horizons(StrictModel):
    """Out-of-time splits, in days before the cutoff."""

    holdout_days: PositiveDays = Field(30, ge=7)
    calibration_days: PositiveDays = Field(60, ge=14)
    win_holdout_days: PositiveDays = Field(45, ge=7)


class Coverage(StrictModel):
    """The 90% range: target coverage, base tolerance, Mondrian threshold."""

    target: float = Field(0.90, gt=0.5, lt=1.0)
    base_tolerance: float = Field(0.02, gt=0.0, lt=0.2)
    mondrian_min_rows: int = Field(200, ge=50)
    max_crossing_share: float = Field(0.01, ge=0.0, le=1.0)


class ModelSettings(StrictModel):
    """LightGBM / RandomForest settings (fixed seeds, fixed threads)."""

    seed: int = 42
    n_estimators: int = Field(400, ge=10)
    learning_rate: float = Field(0.05, gt=0.0, le=1.0)
    num_leaves: int = Field(31, ge=2)
    min_child_samples: int = Field(30, ge=1)
    rf_estimators: int = Field(80, ge=10)
    num_threads: int = Field(1, ge=1)


class ExtraFeatures(StrictModel):
    """Extra user columns of ``order_lines`` declared as model features (location-wide, the
    top-level ``features`` key). In the models they are ``user_<col>`` (numeric) and
    ``user_<col>_code`` (categorical, coded on training lines); the user's own columns are
    never overwritten. A declared column missing from the data is a named contract error."""

    extra_numeric: list[str] = Field(default_factory=list)
    extra_categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names(self) -> ExtraFeatures:
        from pricing_assets.features import DERIVED_COLUMNS
        from pricing_assets.schemas import OrderLinesSchema

        cols = [*self.extra_numeric, *self.extra_categorical]
        contract = set(OrderLinesSchema.to_schema().columns) | DERIVED_COLUMNS
        problems = [
            f"{c!r} is declared twice" for c in sorted({c for c in cols if cols.count(c) > 1})
        ]
        problems += [
            f"{c!r} is a contract or derived pricing column (already used)"
            for c in cols
            if c in contract
        ]
        if problems:
            raise ValueError(f"features: {'; '.join(problems)}")
        return self

    def columns_by_kind(self) -> tuple[list[str], list[str]]:
        """``(extra_numeric, extra_categorical)``."""
        return list(self.extra_numeric), list(self.extra_categorical)


class BUConfig(StrictModel):
    """Everything one business unit's partitions use."""

    bu_id: BuId
    guardrails: Guardrails = Field(default_factory=Guardrails)
    horizons: Horizons = Field(default_factory=Horizons)
    coverage: Coverage = Field(default_factory=Coverage)
    deal_target: Literal["median", "expected_margin"] = "median"
    model: ModelSettings = Field(default_factory=ModelSettings)
    features: ExtraFeatures = Field(default_factory=ExtraFeatures)  # set from the top level


class PricingConfig(StrictModel):
    """The pricing location: business units, cutoffs, world, per-BU settings."""

    business_units: BuIds
    cutoffs: Annotated[CutoffList, Field(min_length=1)]
    world_size: str = "demo"
    world_seed: int = 42
    # off: a row breaking a row-level input rule fails the inputs step (nothing written);
    # on: such rows go to the location's quarantine table with the rule, the rest continues
    quarantine_bad_rows: bool = False
    # shipped: world.py's line-level discount signal; segment_median: the optimal discount is
    # the segment median plus noise (the rule baseline is near-optimal)
    world_variant: Literal["shipped", "segment_median"] = "shipped"
    features: ExtraFeatures = Field(default_factory=ExtraFeatures)
    defaults: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("business_units")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("business_units is empty: list at least one bu_id")
        if len(set(v)) != len(v):
            raise ValueError(f"business_units are not unique: {v}")
        return v

    @field_validator("cutoffs")
    @classmethod
    def _month_ends(cls, v: list) -> list:
        return _CUTOFFS.validate_python(v)

    @field_validator("overrides", mode="before")
    @classmethod
    def _override_keys(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v  # pydantic reports the wrong type
        keys = [partition_key(k) if isinstance(k, str) else k for k in v]
        if len(set(keys)) != len(keys):
            raise ValueError(f"overrides name one business unit twice: {sorted(v)}")
        return dict(zip(keys, v.values(), strict=True))

    @model_validator(mode="after")
    def _bus(self) -> PricingConfig:
        unknown = set(self.overrides) - set(self.business_units)
        if unknown:
            raise ValueError(f"overrides name unknown business units {sorted(unknown)}")
        for b in self.business_units:  # validate every merged BU config now, not at run time
            self.bu(b)
        return self

    def bu(self, bu_id: str) -> BUConfig:
        """The complete configuration of one business unit (defaults + overrides), by its
        key (``north_america``) or as the data spells it (``North America``)."""
        bu_id = partition_key(bu_id)
        if bu_id not in self.business_units:
            raise KeyError(f"bu_id {bu_id!r} is not configured; known: {self.business_units}")
        merged = _deep_merge(self.defaults, self.overrides.get(bu_id, {}))
        if "features" in merged:
            raise ValueError(
                f"pricing config for bu_id {bu_id!r}: `features` is location-wide (one "
                "order_lines table); set it at the top level, not in defaults/overrides"
            )
        try:
            return BUConfig.model_validate(
                {**merged, "bu_id": bu_id, "features": self.features.model_dump()}
            )
        except Exception as err:
            raise ValueError(f"pricing config for bu_id {bu_id!r} is invalid: {err}") from err


_CUTOFFS = TypeAdapter(list[MonthEnd])


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = (
            _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def load_config(path: str | Path | None = None) -> PricingConfig:
    """Load the YAML config (``path``, ``$SALESML_PRICING_CONFIG`` or the packaged default).

    Raises:
        shared.config.ConfigError: naming the file and each offending key.
    """
    return load_yaml_config(PricingConfig, DEFAULT_CONFIG, ENV_VAR, path)


def config_from_dict(raw: dict[str, Any]) -> PricingConfig:
    """Build a config from a dict (tests); :class:`shared.config.ConfigError` when invalid."""
    return validate_config(PricingConfig, raw, "pricing config (dict)")
