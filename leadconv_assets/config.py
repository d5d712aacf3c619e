"""Typed lead-conversion configuration with every default in one place.

Targets, cutoffs and the feature window are read when definitions are built
(partitions must be known then) from ``SALESML_LEADCONV_CONFIG`` or the
packaged ``config.yaml``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from shared.config import (
    MonthEnd,
    PartitionName,
    PositiveDays,
    StrictModel,
    load_yaml_config,
)
from shared.lgbm import LGBMSettings

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
CONFIG_ENV = "SALESML_LEADCONV_CONFIG"
OUTCOME_EVENTS = ("booked_call", "qualified", "converted", "opt_out")


class TargetConfig(StrictModel):
    """One target: 1 if ``event`` happens within ``window_days`` of the first engagement."""

    event: Literal["booked_call", "qualified", "converted"]
    window_days: PositiveDays


class SplitConfig(StrictModel):
    """Out-of-time holdout: the last ``holdout_days`` of closed windows; an embargo before it."""

    holdout_days: PositiveDays = 40
    embargo_days: PositiveDays | None = None
    calibration_frac: float = Field(default=0.2, gt=0, lt=0.5)
    train_days_back: PositiveDays = 120


class GateConfig(StrictModel):
    """Promotion gates; defaults and their reasons in docs/data_contracts/leadconv.md#gates.

    ``pr_auc_vs_baseline`` judges the paired holdout PR-AUC difference candidate - rules
    baseline ``d`` with its paired bootstrap standard error ``se``: pass when the observed
    ratio reaches ``pr_auc_ratio_min`` and ``d - evidence_z * se > min(0, margin)``
    (``margin = (pr_auc_ratio_min - 1) * baseline``); "bad model" when
    ``d + evidence_z * se < margin``; "insufficient evidence" otherwise, or when ``se`` exceeds
    ``max_pr_auc_se`` or the holdout has fewer than ``min_holdout_positives`` positives.
    """

    pr_auc_ratio_min: float = Field(default=1.05, gt=0)
    brier_skill_min: float = 0.0
    min_holdout_positives: int = Field(default=10, ge=1)
    evidence_z: float = Field(default=1.645, ge=0)
    max_pr_auc_se: float = Field(default=0.05, gt=0, le=1)
    bootstrap_n: int = Field(default=400, ge=50, le=20000)
    # candidate PR-AUC >= champion PR-AUC - one bootstrap SE, on the same holdout
    beat_champion: bool = True


Learner = Literal["lightgbm", "logistic"]
SegmentAttribute = Literal[
    "source_channel", "region", "age_band", "job_level", "company_size", "campaign"
]


class BaselineConfig(StrictModel):
    """The rules baseline ("current campaign comparator"): the training conversion rate per
    segment of ``by`` (nested, in order), each level shrunk towards its parent level with
    ``smoothing`` pseudo-rows (the coarsest level towards the training prevalence)."""

    by: Annotated[list[SegmentAttribute], Field(min_length=1)] = ["source_channel", "campaign"]
    smoothing: float = Field(default=20.0, ge=0)


class TrainingConfig(LGBMSettings):
    """LightGBM settings of the lead candidates: small trees, strong L2 (few positives per target)."""

    n_estimators: int = 250
    num_leaves: int = 7
    min_child_samples: int = 50
    reg_lambda: float = 5.0
    isotonic_min_positives: int = 1000
    # the candidate is the best (validation PR-AUC) of these; the first wins ties and
    # validation slices without positives
    learners: Annotated[list[Learner], Field(min_length=1)] = ["lightgbm", "logistic"]
    logistic_c: float = Field(default=0.1, gt=0)  # inverse L2 strength, standardized features


class ScoringConfig(StrictModel):
    days_back: PositiveDays = 90
    retrain_days_back: PositiveDays = 120
    split: Literal["all", "test", "train"] = "test"
    target_url: str | None = None
    dry_run: bool = False
    # a feature the champion was trained with but today's frame lacks: fail (error) or score as 0
    missing_features: Literal["error", "zero"] = "error"


class LeadconvConfig(StrictModel):
    targets: dict[PartitionName, TargetConfig]
    cutoffs: Annotated[list[MonthEnd], Field(min_length=1)]
    feature_window_hours: int = Field(default=24, gt=0)
    world_size: str = "demo"
    world_seed: int = 42
    # off: a row breaking a row-level input rule fails the inputs step (nothing written);
    # on: such rows go to the location's quarantine table with the rule, the rest continues
    quarantine_bad_rows: bool = False
    # shipped: world.py (nonlinear funnel); linear: world_linear.py (linear-logit truth, weaker)
    world_variant: Literal["shipped", "linear"] = "shipped"
    split: SplitConfig = Field(default_factory=SplitConfig)
    gates: GateConfig = Field(default_factory=GateConfig)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    scoring_start: date = date(2025, 1, 1)

    @field_validator("targets")
    @classmethod
    def _names(cls, v: dict[str, TargetConfig]) -> dict[str, TargetConfig]:
        if not v:
            raise ValueError("at least one target is required")
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
    """Load the YAML config (``path``, ``$SALESML_LEADCONV_CONFIG`` or the packaged default).

    Raises :class:`shared.config.ConfigError` naming the file and every offending key.
    """
    return load_yaml_config(LeadconvConfig, DEFAULT_CONFIG, CONFIG_ENV, path)
