"""Typed lead-conversion configuration with every default in one place.

Targets, cutoffs and the feature window are read when definitions are built
(partitions must be known then) from ``SALESML_LEADCONV_CONFIG`` or the
packaged ``config.yaml``.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator

from shared.lgbm import LGBMSettings
from shared.partitions import CutoffList, validate_name

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
OUTCOME_EVENTS = ("booked_call", "qualified", "converted", "opt_out")


class TargetConfig(BaseModel):
    """One target: 1 if ``event`` happens within ``window_days`` of the first engagement."""

    event: Literal["booked_call", "qualified", "converted"]
    window_days: int = Field(gt=0)


class SplitConfig(BaseModel):
    """Out-of-time holdout: the last ``holdout_days`` of closed windows; an embargo before it."""

    holdout_days: int = Field(default=40, gt=0)
    embargo_days: int | None = None
    calibration_frac: float = Field(default=0.2, gt=0, lt=0.5)
    train_days_back: int = Field(default=120, gt=0)


class GateConfig(BaseModel):
    pr_auc_ratio_min: float = 1.05
    brier_skill_min: float = 0.0
    min_holdout_positives: int = 10
    # candidate PR-AUC >= champion PR-AUC - one bootstrap SE, on the same holdout
    beat_champion: bool = True


class TrainingConfig(LGBMSettings):
    """LightGBM settings of the lead candidates: small trees, strong L2 (few positives per target)."""

    n_estimators: int = 250
    num_leaves: int = 7
    min_child_samples: int = 50
    reg_lambda: float = 5.0
    isotonic_min_positives: int = 1000


class ScoringConfig(BaseModel):
    days_back: int = 90
    retrain_days_back: int = 120
    split: Literal["all", "test", "train"] = "test"
    target_url: str | None = None
    dry_run: bool = False


class LeadconvConfig(BaseModel):
    targets: dict[str, TargetConfig]
    cutoffs: CutoffList
    feature_window_hours: int = Field(default=24, gt=0)
    world_size: str = "demo"
    world_seed: int = 42
    split: SplitConfig = Field(default_factory=SplitConfig)
    gates: GateConfig = Field(default_factory=GateConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    scoring_start: date = date(2025, 1, 1)

    @field_validator("targets")
    @classmethod
    def _names(cls, v: dict[str, TargetConfig]) -> dict[str, TargetConfig]:
        if not v:
            raise ValueError("at least one target is required")
        for name in v:
            validate_name(name, "target")
        return v

    @model_validator(mode="after")
    def _embargo(self) -> LeadconvConfig:
        e = self.split.embargo_days
        if e is not None:
            for name, t in self.targets.items():
                if e < t.window_days:
                    raise ValueError(
                        f"split.embargo_days={e} is shorter than the label window of {name} "
                        f"({t.window_days} days): training labels would overlap the holdout"
                    )
        return self

    @property
    def feature_window(self) -> timedelta:
        return timedelta(hours=self.feature_window_hours)

    def target(self, name: str) -> TargetConfig:
        if name not in self.targets:
            raise ValueError(f"unknown target {name!r}; configured: {sorted(self.targets)}")
        return self.targets[name]

    def embargo(self, name: str) -> timedelta:
        """Gap between the last training enrollment and the holdout (>= the label window)."""
        days = self.split.embargo_days
        return timedelta(days=days if days is not None else self.target(name).window_days)


def end_of_day(d: date) -> datetime:
    """A cutoff date means 'data up to the end of that day'."""
    return datetime.combine(d, time.max).replace(microsecond=0)


def load_config(path: str | Path | None = None) -> LeadconvConfig:
    """Load the YAML config (``path``, ``$SALESML_LEADCONV_CONFIG`` or the packaged default)."""
    path = Path(path or os.environ.get("SALESML_LEADCONV_CONFIG") or DEFAULT_CONFIG)
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        return LeadconvConfig.model_validate(raw)
    except Exception as err:
        raise ValueError(f"leadconv config {path} is invalid: {err}") from err
