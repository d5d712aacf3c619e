"""Typed gosales configuration with every default in one place.

Defaults describe the embedded demo world. A user bringing their own data
points ``SALESML_GOSALES_CONFIG`` at a YAML file with the same keys (read when
definitions are built, because partitions must be known then); asset configs
in the UI override training settings per run. Every model is a
:class:`shared.config.StrictModel`: an unknown key, a non-month-end cutoff, a
window below one month or an unusable division name fails at load with a
:class:`shared.config.ConfigError` naming the file and the key.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gosales_assets.whitespace import WhitespaceConfig
from shared.config import (
    MonthEnd,
    PositiveMonths,
    StrictModel,
    load_yaml_config,
    partition_key_dict,
    partition_key_list,
    partition_key_name,
)
from shared.lgbm import LGBMSettings
from shared.partitions import add_months, partition_key

DEFAULT_CONFIG = Path(__file__).with_name("config.yaml")

# Divisions are given as partition keys (``cad_seats``) or as the data spells them
# (``CAD Seats``): both become the key (shared.partitions.partition_key), the name the
# partitions, lake folders and model names use; the data's values are mapped alike.
DivisionKey = partition_key_name("division")
DivisionKeys = partition_key_list("division")


class FloorOverride(StrictModel):
    """A division's replacement for some of the absolute floors (unknown metrics rejected)."""

    auc_min: float | None = None
    lift10_min: float | None = None
    calibration_mae_max: float | None = None


class GateConfig(StrictModel):
    """Promotion gates. Absolute floors from the seed plus relative gates."""

    auc_min: float = 0.70
    lift10_min: float = 2.0
    # The absolute floors above are business floors, not evidence: an honest model of a
    # weak-signal division (the true probabilities reach AUC 0.61-0.75 on such worlds) fails
    # them. "warn" reports them (WARN, never refuses), "block" makes them refuse, "off" drops.
    floors: Literal["warn", "block", "off"] = "warn"
    calibration_mae_max: float = 0.10
    beat_rule: bool = True
    beat_champion: bool = True
    min_holdout_positives: int = 20
    # Above this AUC standard error (Hanley-McNeil) the holdout cannot tell a good model from
    # a lucky one: refused as "insufficient evidence". 0.04 ~ 60-100 positives at AUC 0.75;
    # 25 positives give ~0.06.
    max_auc_se: float = Field(default=0.04, gt=0)
    # Per-division overrides of the absolute floors (weak-signal divisions).
    # Two spellings of one division (`CAD Seats`, `cad_seats`) are a ConfigError naming both.
    overrides: partition_key_dict("division", FloorOverride) = Field(default_factory=dict)

    def floors_for(self, division: str) -> dict[str, float]:
        base = {
            "auc_min": self.auc_min,
            "lift10_min": self.lift10_min,
            "calibration_mae_max": self.calibration_mae_max,
        }
        division = partition_key(division)
        if division in self.overrides:
            base.update(self.overrides[division].model_dump(exclude_none=True))
        return base


class TrainingConfig(LGBMSettings):
    """How candidates are trained (fixed seeds, grouped splits) and the LightGBM settings."""

    snapshots: int = 3
    snapshot_step_months: int = 3
    holdout_customer_frac: float = 0.35
    calibration_frac: float = 0.2
    early_stopping_frac: float = 0.1
    isotonic_min_positives: int = 1000
    # A model feature the scoring frame lacks: "error" (name the columns) or "zero".
    missing_features: Literal["error", "zero"] = "error"


class GauntletConfig(StrictModel):
    """The leakage gauntlet (``gosales/gauntlet_report``, :mod:`gosales_assets.gauntlet` and
    :mod:`gosales_assets.gauntlet_extra`): thresholds of its eight checks. It reports;
    promotion does not read it (yet)."""

    # Label permutation test on a fast proxy model (labels shuffled within snapshot buckets,
    # training rows only). 199 permutations: the smallest reachable p is 1/200 = 0.005, half
    # the 0.01 bar, so a real signal passes with room for Monte-Carlo noise.
    n_permutations: int = Field(default=199, ge=199)
    permutation_alpha: float = Field(default=0.01, gt=0, lt=1)
    # observed proxy AUC minus the mean permuted AUC: below this the signal is too small to
    # be worth a model even when it is significant.
    permutation_min_margin: float = Field(default=0.02, ge=0)
    # Fewer holdout positives than this: a permutation test that fails is "insufficient
    # evidence", not "no signal" (the promotion gates' min_holdout_positives default).
    min_holdout_positives: int = Field(default=20, ge=1)
    # ridge: closed-form ridge (linear probability) on standardized signed-log features, all
    # permutations in one solve; logistic: training.make_baseline refitted per permutation
    # on at most ``proxy_max_rows`` training rows (slower; seconds per hundred fits).
    proxy: Literal["ridge", "logistic"] = "ridge"
    proxy_ridge_penalty: float = Field(default=10.0, gt=0)
    proxy_max_rows: int = Field(default=2000, ge=100)
    seed: int = 11
    # Too good to be true: a feature whose holdout univariate AUC (max(auc, 1 - auc)) is
    # above this, or above the best of the other features by more than ``univariate_gap_max``.
    # The honest demo world's best single features reach 0.67-0.87, the oracle 0.90.
    univariate_auc_max: float = Field(default=0.90, gt=0.5, le=1)
    univariate_gap_max: float = Field(default=0.15, gt=0)
    # Both rules judge the AUC minus this many Hanley-McNeil standard errors: with a few
    # holdout positives an honest feature reaches 0.95 by chance (tiny world, `training`).
    univariate_z: float = Field(default=2.0, ge=0)
    # Reproducibility: two fits with one seed may differ by at most this in any holdout
    # prediction (LightGBM is deterministic=True, single-threaded: expect exactly 0).
    reproducibility_tolerance: float = Field(default=1e-9, ge=0)
    # Shift grid (gauntlet_extra.shift_grid): features rebuilt this many days before every
    # snapshot and the holdout cutoff, labels fixed; the ridge proxy must not score better
    # with older features by more than these (a smaller improvement is a WARN).
    shift_days: tuple[int, ...] = (7, 14, 28, 56)
    shift_auc_epsilon: float = Field(default=0.01, ge=0)
    shift_lift_epsilon: float = Field(default=0.25, ge=0)
    # Group CV with purge: customer-grouped folds, evaluated at the latest snapshot, trained
    # on snapshots at least this many months earlier (None: the label window; less fails).
    cv_folds: int = Field(default=5, ge=2)
    cv_purge_months: int | None = Field(default=None, ge=0)
    # SAFE ablation: windows under ``safe_min_window_months``, recency and expiring-asset
    # features dropped (gauntlet_extra.safe_rule); judged on the holdout customers up to
    # ``safe_far_months`` past the holdout cutoff (as far as the data closes). SAFE is
    # adopted when its AUC >= Full's - ``safe_margin``; Full beating SAFE by more than
    # ``safe_max_gap`` fails (the model's edge sits in the features next to the cutoff).
    safe_min_window_months: int = Field(default=6, ge=1)
    safe_far_months: int = Field(default=3, ge=0)
    safe_margin: float = Field(default=0.005, ge=0)
    safe_max_gap: float = Field(default=0.05, gt=0)

    @model_validator(mode="after")
    def _reachable(self) -> GauntletConfig:
        if 1.0 / (self.n_permutations + 1) > self.permutation_alpha:
            raise ValueError(
                f"{self.n_permutations} permutations cannot reach p <= {self.permutation_alpha}"
            )
        if (
            not self.shift_days
            or min(self.shift_days) <= 0
            or len(set(self.shift_days)) != len(self.shift_days)
        ):
            raise ValueError(f"shift_days must be distinct positive days: {self.shift_days}")
        return self


class SparseConfig(StrictModel):
    """Sparse divisions: a division's label window is widened, a month at a time from its
    configured window, until the labels at the cutoff have ``min_positives`` positives, at
    most to ``max_window_months`` (and never past what the data can close: the holdout
    window ``cutoff + 2 * window`` must end by the as-of date). Dense divisions keep theirs."""

    min_positives: int = Field(default=20, ge=1)
    max_window_months: PositiveMonths = 12


class ForwardConfig(StrictModel):
    """Forward validation (``gosales/prequential`` and ``gosales/forward_validation``,
    :mod:`gosales_assets.forward`): prequential horizons, bootstrap, capacity scenarios,
    the scenario-ranking rule and the base-rate guard (seed 002 §C)."""

    # horizons scored: month ends cutoff + 1 .. cutoff + max_horizon_months (at least up to
    # the partition's holdout); those whose label window is still open are listed censored
    max_horizon_months: PositiveMonths = 12
    # a later horizon's AUC above the reference (h = window) by more than this many standard
    # errors of the difference is an "early gain" (WARN)
    early_gain_z: float = Field(default=2.0, gt=0)
    # customer-block bootstrap of the capacity scenarios (percentile 95% CIs)
    n_boot: int = Field(default=1000, ge=100)
    seed: int = 2
    k_fracs: list[float] = Field(default_factory=lambda: [0.05, 0.10, 0.20], min_length=1)
    # per-rep capacity: each rep's top N (whitespace.per_rep) among their holdout customers
    rep_column: str = "rep_id"
    # hybrid capacity: the top hybrid_frac of each hybrid_column segment
    hybrid_column: str = "region"
    hybrid_frac: float = Field(default=0.10, gt=0, le=1)
    segment_columns: list[str] = Field(default_factory=lambda: ["industry", "region", "size"])
    # order customers by p x expected GP when the holdout calibration MAE is at most this,
    # else by p (capture)
    calibration_mae_bound: float = Field(default=0.05, gt=0)
    # holdout prevalence outside [prevalence_min, prevalence_max] is a WARN
    prevalence_min: float = Field(default=0.002, ge=0, lt=1)
    prevalence_max: float = Field(default=0.5, gt=0, le=1)

    @field_validator("k_fracs")
    @classmethod
    def _fracs(cls, v: list[float]) -> list[float]:
        if any(not 0 < k <= 1 for k in v):
            raise ValueError(f"k_fracs must be in (0, 1]: {v}")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> ForwardConfig:
        if self.prevalence_min >= self.prevalence_max:
            raise ValueError(
                f"prevalence_min {self.prevalence_min} must be below prevalence_max "
                f"{self.prevalence_max}"
            )
        return self


class GosalesConfig(StrictModel):
    """Everything gosales needs to build its definitions."""

    divisions: DivisionKeys = Field(min_length=1)
    cutoffs: list[MonthEnd] = Field(min_length=1)
    window_months: PositiveMonths = 6
    # off: a row breaking a row-level input rule fails the inputs step (nothing written);
    # on: such rows go to the location's quarantine table with the rule, the rest continues
    quarantine_bad_rows: bool = False
    window_overrides: partition_key_dict("division", PositiveMonths) = Field(default_factory=dict)
    # None: every division keeps its window; set: sparse divisions widen theirs (SparseConfig)
    sparse: SparseConfig | None = None
    world_size: str = "demo"
    world_seed: int = 42
    # The embedded synthetic world: shipped (world.py) or weak_signal (base rates 1-25%,
    # weak features, no install-base interactions; world.VARIANTS). Ignored for a real source.
    world_variant: Literal["shipped", "weak_signal"] = "shipped"
    # Extra numeric/boolean columns of the user's `customers` table used as model features,
    # as `usr_<column>` (never overwriting a derived feature). Static attributes only: the
    # value must have been known at every cutoff (no truncation check can see their history).
    extra_features: list[str] = Field(default_factory=list)

    @field_validator("extra_features")
    @classmethod
    def _extra(cls, v: list[str]) -> list[str]:
        import re

        reserved = {"customer_id", "created_date", "industry", "region"}
        bad = [c for c in v if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", c)]
        if bad:
            raise ValueError(f"not plain column names: {bad}")
        if len(set(v)) != len(v):
            raise ValueError(f"named twice: {sorted({c for c in v if v.count(c) > 1})}")
        if used := sorted(set(v) & reserved):
            raise ValueError(f"{used} are already used by the derived features; not extra")
        return v

    forward: ForwardConfig = Field(default_factory=ForwardConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    gates: GateConfig = Field(default_factory=GateConfig)
    whitespace: WhitespaceConfig = Field(default_factory=WhitespaceConfig)
    gauntlet: GauntletConfig = Field(default_factory=GauntletConfig)

    @field_validator("divisions")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"divisions are not unique: {v}")
        return v

    @model_validator(mode="after")
    def _windows(self) -> GosalesConfig:
        for d in self.window_overrides:
            if d not in self.divisions:
                raise ValueError(f"window_overrides names unknown division {d!r}")
        return self

    def window_for(self, division: str) -> int:
        """Label window in months for ``division`` (a key or the data's name)."""
        return self.window_overrides.get(partition_key(division), self.window_months)

    def label_window(self, transactions, customers, division: str, cutoff: date):
        """The :class:`gosales_assets.labels.WindowChoice` of ``division`` at ``cutoff``:
        its configured window, widened when ``sparse`` is set and its labels are too few.
        Labels, holdout, oracle and model card all use this one choice."""
        from gosales_assets.labels import choose_window

        return choose_window(
            transactions,
            customers,
            partition_key(division),
            cutoff,
            self.window_for(division),
            self.sparse.min_positives if self.sparse else None,
            self.sparse.max_window_months if self.sparse else None,
        )

    def truth_windows(self) -> tuple[int, ...]:
        """Every label window a division may use (overrides, widened sparse windows), for
        the synthetic world's ground truth; its exact truth stops at 10 months."""
        top = self.sparse.max_window_months if self.sparse else 0
        wins = {self.window_months, *self.window_overrides.values()}
        wins |= {w for base in list(wins) for w in range(base, top + 1)}
        return tuple(sorted(w for w in wins if w <= 10))

    def holdout_cutoff(self, cutoff: date, division: str) -> date:
        """Out-of-time holdout cutoff: the training label window's end."""
        return add_months(cutoff, self.window_for(division))


def load_config(path: str | Path | None = None) -> GosalesConfig:
    """Load the YAML config (``path``, ``$SALESML_GOSALES_CONFIG`` or the packaged default).

    Raises:
        shared.config.ConfigError: naming the file and each offending key.
    """
    return load_yaml_config(GosalesConfig, DEFAULT_CONFIG, "SALESML_GOSALES_CONFIG", path)
