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

from shared.categories import UNSEEN_WARN_SHARE
from shared.config import (
    MonthEnd,
    PartitionName,
    PositiveDays,
    StrictModel,
    load_yaml_config,
)
from shared.lgbm import LGBMSettings
from shared.partitions import partition_keys

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")
CONFIG_ENV = "SALESML_LEADCONV_CONFIG"
OUTCOME_EVENTS = ("booked_call", "qualified", "converted", "opt_out")


class TargetConfig(StrictModel):
    """One target: 1 if ``event`` happens within ``window_days`` of the first engagement."""

    event: Literal["booked_call", "qualified", "converted"]
    window_days: PositiveDays

    @field_validator("event", mode="before")
    @classmethod
    def _event_case(cls, v: object) -> object:
        """Outcome names match as the data's ``outcome_type`` does: trimmed, any case."""
        return v.strip().lower() if isinstance(v, str) else v


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
ExtraTable = Literal["contacts", "enrollments"]
ColumnName = Annotated[str, Field(min_length=1, max_length=120)]
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

    @field_validator("learners")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        dup = sorted({x for x in v if v.count(x) > 1})
        if dup:
            raise ValueError(f"learner(s) listed more than once: {dup}; list each learner once")
        return v


class ScoringConfig(StrictModel):
    days_back: PositiveDays = 90
    retrain_days_back: PositiveDays = 120
    split: Literal["all", "test", "train"] = "test"
    target_url: str | None = None
    dry_run: bool = False
    # a feature the champion was trained with but today's frame lacks: fail (error) or score as 0
    missing_features: Literal["error", "zero"] = "error"
    # share of scored leads with a category value (source, region, ..., campaign) the serving
    # model never saw in training above which the unseen_categories check warns
    unseen_category_max_share: float = Field(default=UNSEEN_WARN_SHARE, ge=0, le=1)


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
    # your own numeric columns used as features, per table (contacts joined on the contact,
    # enrollments on the enrollment); each enters as ``user__<column>``, so it never
    # overwrites (or is overwritten by) a derived feature of the same name
    extra_features: dict[ExtraTable, list[ColumnName]] = Field(default_factory=dict)

    @field_validator("targets", mode="before")
    @classmethod
    def _keys(cls, v: object) -> object:
        """Target names become partition keys through :func:`shared.partitions.partition_key`
        (``"Booked Call 7d"`` → ``booked_call_7d``); every unusable or colliding name is
        reported at once, in one line."""
        if not isinstance(v, dict):
            return v
        names = list(v)
        mapping = partition_keys(names, "target", [f"targets.{str(n)[:40]}" for n in names])
        return {mapping[n]: t for n, t in v.items()}

    @field_validator("targets")
    @classmethod
    def _names(cls, v: dict[str, TargetConfig]) -> dict[str, TargetConfig]:
        if not v:
            raise ValueError("at least one target is required")
        return v

    @field_validator("extra_features")
    @classmethod
    def _extra(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        problems = []
        for table, cols in v.items():
            dup = sorted({c for c in cols if cols.count(c) > 1})
            if dup:
                problems.append(f"{table}: {dup} listed more than once")
            keys = sorted(set(cols) & {"org_id", "contact_id", "enrollment_id", "campaign_id"})
            if keys:
                problems.append(f"{table}: {keys} are keys, not features")
        if problems:
            raise ValueError("; ".join(problems))
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
