"""The gauntlet's time checks (gosales_assets.gauntlet_extra): each fails on a purpose-built
bad case and passes on the honest one (small synthetic frames or the tiny world)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from sklearn.model_selection import KFold

from gosales_assets import gauntlet_extra as gx
from gosales_assets import training
from gosales_assets.config import GauntletConfig, TrainingConfig
from gosales_assets.features import build_features
from shared.partitions import add_months, month_end
from tests.gosales.test_gauntlet import FEATURES, SNAPSHOTS, frames

CFG = GauntletConfig()
HOLDOUT_AT = date(2024, 12, 31)


def _logistic(train: pl.DataFrame, features: list[str], cfg: TrainingConfig):
    """A fast seeded trainer (the ablation logic does not depend on the learner)."""
    model = training.make_baseline(cfg.seed).fit(
        training.matrix(train, features), train["label"].to_numpy()
    )
    return SimpleNamespace(
        predict=lambda f: model.predict_proba(training.matrix(f, features))[:, 1]
    )


# --- shift grid ------------------------------------------------------------------------------


def _shift_world(lag_leak: float = 0.0, age_blur: float = 1 / 14):
    """Frames plus a feature builder. ``build(at)`` returns the rows of the reference date
    ``r`` (a training snapshot or the holdout cutoff) that ``at`` was shifted from, their
    features blurred by noise growing with the age ``k = r - at`` (honest: older features
    know less). ``lag_leak`` adds ``usr_lagged`` = label · lag_leak · k / 56 + noise: a
    feature fed by events after its date at a lag, so the older it is the more of the
    label window it sees (the leak the shift grid exists for)."""
    train, holdout, _ = frames()
    refs = {**{s: train.filter(pl.col("snapshot") == s) for s in SNAPSHOTS}, HOLDOUT_AT: holdout}
    features = [*FEATURES, "usr_lagged"]

    def build(at: date) -> pl.DataFrame:
        ref = next(r for r in refs if 0 <= (r - at).days <= 60)
        k = (ref - at).days
        base = refs[ref]
        # one noise draw per reference date, scaled with the age: older is strictly blurrier
        z = np.random.default_rng(ref.toordinal()).normal(size=(base.height, len(FEATURES)))
        blur = {f: pl.col(f) + np.sqrt(k * age_blur) * z[:, i] for i, f in enumerate(FEATURES)}
        noise = np.random.default_rng([ref.toordinal(), 1]).normal(scale=0.3, size=base.height)
        leak = pl.col("label") * (lag_leak * k / 56) + noise
        return base.select("customer_id", **blur, usr_lagged=leak)

    def at0(frame: pl.DataFrame, at: date) -> pl.DataFrame:
        return frame.drop(FEATURES).join(build(at), on="customer_id")

    train0 = pl.concat([at0(train.filter(pl.col("snapshot") == s), s) for s in SNAPSHOTS])
    return train0, at0(holdout, HOLDOUT_AT), features, build


def test_shift_grid_passes_when_older_features_know_less():
    train, holdout, features, build = _shift_world()
    res = gx.shift_grid(train, holdout, HOLDOUT_AT, features, CFG, build)
    assert res.report.passed and not res.report.warnings, res.report.summary()
    assert res.table["shift_days"].to_list() == [0, 7, 14, 28, 56]
    auc = res.table["auc"].to_list()
    assert auc[0] > 0.7 and auc[-1] < auc[0]  # monotone decline
    assert (res.table["auc_change"].drop_nulls() <= 0).all()


def test_shift_grid_fails_on_a_lagged_leak():
    train, holdout, features, build = _shift_world(lag_leak=3.0)
    res = gx.shift_grid(train, holdout, HOLDOUT_AT, features, CFG, build)
    assert not res.report.passed
    failed = {g.name for g in res.report.failed}
    assert {"shift_7_vs_0_auc", "shift_max_vs_0_auc"} <= failed
    auc = res.table["auc"].to_list()
    assert auc[-1] - auc[0] > CFG.shift_auc_epsilon


def test_shift_grid_warns_on_an_improvement_within_epsilon():
    # features that do not age, and a faint lagged leak: older is a little better
    train, holdout, features, build = _shift_world(lag_leak=0.1, age_blur=0.0)
    res = gx.shift_grid(train, holdout, HOLDOUT_AT, features, CFG, build)
    change = res.table["auc_change"].drop_nulls()
    assert 0 < change.max() <= CFG.shift_auc_epsilon
    assert res.report.passed  # nothing refuses ...
    assert {g.name for g in res.report.warnings} == {"shift_28_vs_14_auc", "shift_56_vs_28_auc"}


def test_shift_grid_not_measured_when_the_build_fails():
    train, holdout, features, _ = _shift_world()

    def broken(at: date) -> pl.DataFrame:
        raise RuntimeError("no data")

    res = gx.shift_grid(train, holdout, HOLDOUT_AT, features, CFG, broken)
    assert not res.report.passed and res.report.gates[0].result() == "not measured"


def test_shift_days_are_validated():
    with pytest.raises(ValueError):
        GauntletConfig(shift_days=(7, 7))
    with pytest.raises(ValueError):
        GauntletConfig(shift_days=(0, 14))


# --- group CV with purge ---------------------------------------------------------------------

CV_SNAPSHOTS = [date(2023, 12, 31), date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30)]


def _cv_frames(n: int = 300, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """4 quarterly snapshots of ``n`` customers (ids 0..n-1) and 200 holdout customers."""
    rng = np.random.default_rng(seed)

    def rows(ids: np.ndarray) -> pl.DataFrame:
        X = rng.normal(size=(ids.size, 3))
        y = (rng.random(ids.size) < 1 / (1 + np.exp(-(1.5 * X[:, 0] - 1)))).astype(np.int64)
        return pl.DataFrame(
            {"customer_id": ids, "x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2], "label": y}
        )

    train = pl.concat([rows(np.arange(n)).with_columns(snapshot=pl.lit(s)) for s in CV_SNAPSHOTS])
    return train, rows(np.arange(1000, 1200))


def test_group_cv_passes_with_grouped_folds_and_a_window_long_purge():
    train, holdout = _cv_frames()
    res = gx.group_cv(train, holdout, ["x0", "x1", "x2"], CFG, window_months=6)
    assert res.report.passed, res.report.summary()
    folds = res.folds
    assert folds.height == 5 and folds["overlap_customers"].sum() == 0
    assert set(folds["train_snapshots"]) == {"2023-12-31, 2024-03-31"}  # T - 6 months
    assert folds["purge_gap_days"].min() >= 182 and folds["test_customers"].sum() == 300
    assert folds["test_positives"].sum() == int(
        train.filter(pl.col("snapshot") == CV_SNAPSHOTS[-1])["label"].sum()
    )
    assert (folds["auc"] > 0.7).all()
    # persisted assignments: one fold per customer
    assert res.assignments.height == 300 and res.assignments["customer_id"].n_unique() == 300
    assert res.offenders.height == 0


def _row_folds(train: pl.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    """The purpose-built bad split: rows, not customers (a customer lands on both sides)."""
    out = np.empty(train.height, dtype=np.int64)
    for i, (_, test) in enumerate(KFold(n_folds, shuffle=True, random_state=seed).split(train)):
        out[test] = i
    return out


def test_group_cv_fails_on_row_folds_and_names_the_customers():
    train, holdout = _cv_frames()
    res = gx.group_cv(train, holdout, ["x0", "x1", "x2"], CFG, 6, assign=_row_folds)
    assert [g.name for g in res.report.failed] == ["cv_customer_overlap"]
    bad = res.offenders.filter(pl.col("kind") == "fold_train_test")
    assert bad.height == res.folds["overlap_customers"].sum() > 0
    assert bad["customer_id"][0] in res.report.summary()


def test_group_cv_fails_when_training_holds_holdout_customers():
    train, holdout = _cv_frames()
    trained_on_holdout = pl.concat(
        [train, holdout.head(7).with_columns(snapshot=pl.lit(CV_SNAPSHOTS[0]))]
    )
    res = gx.group_cv(trained_on_holdout, holdout, ["x0", "x1", "x2"], CFG, 6)
    assert [g.name for g in res.report.failed] == ["train_holdout_customer_overlap"]
    ids = res.offenders.filter(pl.col("kind") == "train_holdout")["customer_id"].to_list()
    assert ids == [str(i) for i in range(1000, 1007)]


def test_group_cv_fails_on_a_purge_shorter_than_the_window_and_not_measured_without_one():
    train, holdout = _cv_frames()
    short = gx.group_cv(train, holdout, ["x0"], GauntletConfig(cv_purge_months=3), 6)
    assert [g.name for g in short.report.failed] == ["cv_purge_gap_days"]
    two = train.filter(pl.col("snapshot") >= CV_SNAPSHOTS[2])  # nothing 6 months before T
    res = gx.group_cv(two, holdout, ["x0"], CFG, 6)
    gate = next(g for g in res.report.gates if g.name == "cv_purge_gap_days")
    assert not res.report.passed and gate.result() == "not measured"


# --- SAFE ablation ---------------------------------------------------------------------------


def test_safe_policy_maps_our_feature_names():
    kept, dropped = gx.safe_features(
        [
            "tgt_tx_count_3m",
            "tgt_tx_count_6m",
            "tgt_revenue_12m_off60",
            "d_software_tx_3m",
            "all_rev_3m",
            "tgt_recency_days",
            "tgt_recency_decay_180",
            "tgt_overdue_ratio",
            "d_software_recency_log",
            "ib_hardware_active",
            "ib_hardware_exp_0_3m",
            "ib_days_to_next_expiry",
            "tgt_q1_24m",
            "mix_hardware_share_24m",
        ]
    )
    assert kept == [
        "tgt_tx_count_6m",
        "tgt_revenue_12m_off60",
        "ib_hardware_active",
        "tgt_q1_24m",
        "mix_hardware_share_24m",
    ]
    rules = dict(dropped.iter_rows())
    assert rules["ib_hardware_exp_0_3m"] == "expiring asset"
    assert rules["tgt_recency_decay_180"].startswith("recency")
    assert rules["all_rev_3m"].startswith("short window")


def _safe_frames(leak: bool):
    """Training rows and a far holdout with the honest x-features plus a short-window and a
    recency column: noise when honest; with ``leak``, ``tgt_tx_count_3m`` = label + noise
    (a near-cutoff feature that saw the label window)."""
    train, holdout, features = frames(seed=3)
    rng = np.random.default_rng(5)

    def add(f: pl.DataFrame) -> pl.DataFrame:
        short = pl.col("label") * 1.0 if leak else pl.lit(0.0)
        return f.with_columns(
            tgt_tx_count_3m=short + rng.normal(scale=0.4, size=f.height),
            tgt_recency_days=pl.Series(rng.normal(size=f.height)),
        )

    return add(train), add(holdout), [*features, "tgt_tx_count_3m", "tgt_recency_days"]


def test_safe_ablation_adopts_safe_when_it_loses_nothing():
    train, far, features = _safe_frames(leak=False)
    res = gx.safe_ablation(train, far, features, TrainingConfig(), CFG, trainer=_logistic)
    assert res.report.passed, res.report.summary()
    assert res.adopted is True and res.policy == "SAFE"
    assert res.table["n_features"].to_list() == [8, 6] and abs(res.gap) < 0.02
    assert set(res.dropped["feature"]) == {"tgt_tx_count_3m", "tgt_recency_days"}


def test_safe_ablation_fails_when_the_edge_is_a_near_cutoff_feature():
    train, far, features = _safe_frames(leak=True)
    res = gx.safe_ablation(train, far, features, TrainingConfig(), CFG, trainer=_logistic)
    assert not res.report.passed and res.adopted is False and res.policy == "Full"
    assert res.gap > CFG.safe_max_gap
    assert "Full kept" in res.report.summary()


def test_safe_ablation_with_the_real_candidate_and_not_measured_on_one_class():
    train, far, features = _safe_frames(leak=False)
    cfg = TrainingConfig(n_estimators=40, min_child_samples=10)
    res = gx.safe_ablation(train, far, features, cfg, CFG)
    assert res.table.height == 2 and res.report.gates[0].name == "safe_full_auc_gap"
    few = pl.concat([far.filter(pl.col("label") == 0), far.filter(pl.col("label") == 1).head(5)])
    thin = gx.safe_ablation(train, few, features, cfg, CFG)
    assert thin.adopted is False and thin.policy == "Full (insufficient evidence)"
    one = gx.safe_ablation(train, far.with_columns(label=pl.lit(0)), features, cfg, CFG)
    assert one.adopted is None and one.report.gates[0].result() == "not measured"


# --- feature date audit (tiny world) ---------------------------------------------------------


def _tables(world, builder=None) -> gx.Tables:
    cutoff = month_end(add_months(world.as_of, -12))
    t = gx.Tables(
        world.transactions,
        world.customers,
        world.assets,
        list(world.divisions),
        "hardware",
        cutoff,
        6,
    )
    return t if builder is None else gx.Tables(**{**t.__dict__, "builder": builder})


def _future_30d(tx, cu, ab, at, divisions, target_division):
    """The purpose-built leak: the honest matrix plus ``tgt_tx_next_30d``, the target
    division's invoices in the 30 days after ``at`` (events after the cutoff)."""
    honest = build_features(tx, cu, ab, at, divisions, target_division=target_division)
    future = (
        tx.filter(
            (pl.col("division") == target_division)
            & (pl.col("order_date") > at)
            & (pl.col("order_date") <= at + timedelta(days=30))
        )
        .group_by("customer_id")
        .agg(tgt_tx_next_30d=pl.col("invoice_id").n_unique().cast(pl.Float64))
    )
    return honest.join(future, on="customer_id", how="left").with_columns(
        pl.col("tgt_tx_next_30d").fill_null(0.0)
    )


def test_feature_date_audit_passes_the_real_features(tiny_world):
    tables = _tables(tiny_world)
    features = [c for c in tables.features_at(tables.cutoff).columns if c != "customer_id"]
    res = gx.feature_date_audit(tables, features, CFG)
    assert res.report.passed, res.report.summary()
    fam = res.families
    assert fam.filter(pl.col("latest_event") > tables.cutoff).height == 0
    assert set(fam["family"]) >= {"tgt", "all", "ib", "cat", "cal"}
    assert fam.filter(pl.col("family") == "cal")["latest_event"][0] == tables.cutoff
    assert set(fam["how"]) == {"source"} and fam["n_features"].sum() == len(features)


def test_feature_date_audit_names_a_feature_fed_after_the_cutoff(tiny_world):
    tables = _tables(tiny_world, _future_30d)
    features = [c for c in tables.features_at(tables.cutoff).columns if c != "customer_id"]
    res = gx.feature_date_audit(tables, features, CFG)
    assert not res.report.passed and res.leaky == ["tgt_tx_next_30d"]
    assert "tgt_tx_next_30d" in res.report.summary()
    row = res.families.filter(pl.col("family") == "tgt").row(0, named=True)
    assert row["after_cutoff"] and row["how"] == "probe"
    latest = tiny_world.transactions.filter(
        (pl.col("division") == "hardware")
        & (pl.col("order_date") > tables.cutoff)
        & (pl.col("order_date") <= tables.cutoff + timedelta(days=30))
    )["order_date"].max()
    assert row["latest_event"] == latest  # the bisection finds the last event that fed it


def test_far_holdout_goes_as_far_as_the_data_closes(tiny_world):
    tables = _tables(tiny_world)
    ids = pl.Series("customer_id", tiny_world.customers["customer_id"].head(50))
    frame, far = tables.far_holdout(ids, 3)
    assert far >= tables.holdout_cutoff
    assert add_months(far, 6) <= tables.as_of and frame.height <= 50
    assert {"label", "tgt_tx_count_12m"} <= set(frame.columns)


# --- the asset checks' severity ----------------------------------------------------------------


def test_a_check_with_only_advisory_failures_is_a_warn_and_a_refusal_an_error():
    import dagster as dg

    from gosales_assets.defs.gauntlet import _check
    from shared.gates import GateReport, gate

    def result(gates):
        stored = {"checks": {"shift_grid": GateReport(gates).to_dict()}, "numbers": {}}
        return _check("shift_grid")(stored)

    warn = result([gate("a", 0.0, "<=", 0.01), replace(gate("b", 0.004, "<=", 0.0), advisory=True)])
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    fail = result([gate("a", 0.03, "<=", 0.01)])
    assert not fail.passed and fail.severity == dg.AssetCheckSeverity.ERROR
    ok = result([gate("a", -0.01, "<=", 0.01)])
    assert ok.passed
