"""The leakage gauntlet: each check fails on a purpose-built bad case and passes on the
honest one (small synthetic frames), and the Dagster report materializes on the tiny world."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import dagster as dg
import numpy as np
import polars as pl
import pytest

from gosales_assets import gauntlet, training
from gosales_assets.config import GauntletConfig, TrainingConfig
from gosales_assets.definitions import build_defs
from gosales_assets.inputs import OUTPUTS
from shared.gates import GateReport
from tests.gosales.conftest import tiny_config

CFG = GauntletConfig()
TRAINING = TrainingConfig(n_estimators=60, min_child_samples=10)
FEATURES = [f"x{i}" for i in range(6)]
SNAPSHOTS = (date(2024, 6, 30), date(2024, 9, 30))


def _frame(rng: np.random.Generator, n: int, signal: float) -> pl.DataFrame:
    X = rng.normal(size=(n, len(FEATURES)))
    logit = signal * (1.2 * X[:, 0] + 0.8 * X[:, 1]) - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pl.DataFrame({**{f: X[:, i] for i, f in enumerate(FEATURES)}, "label": y})


def frames(
    *, signal: float = 1.0, shuffle: bool = False, leak: bool = False, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """``train``: 2 snapshots × 500 customers (groups fit / early_stop / calibration);
    ``holdout``: 400 other customers. ``shuffle`` permutes every label (no signal left);
    ``leak`` adds ``usr_leak`` = label + small noise, an undated customer column."""
    rng = np.random.default_rng(seed)
    parts = []
    for s in SNAPSHOTS:
        part = _frame(rng, 500, signal).with_columns(
            customer_id=pl.int_range(0, 500),
            snapshot=pl.lit(s),
            group=pl.Series(
                rng.choice(["fit", "early_stop", "calibration"], 500, p=[0.6, 0.2, 0.2])
            ),
        )
        parts.append(part)
    train = pl.concat(parts)
    holdout = _frame(rng, 400, signal).with_columns(customer_id=pl.int_range(1000, 1400))
    if shuffle:
        train = train.with_columns(label=pl.Series(rng.permutation(train["label"].to_numpy())))
        holdout = holdout.with_columns(
            label=pl.Series(rng.permutation(holdout["label"].to_numpy()))
        )
    features = list(FEATURES)
    if leak:
        noise = lambda n: rng.normal(scale=0.15, size=n)  # noqa: E731
        train = train.with_columns(usr_leak=pl.col("label") + noise(train.height))
        holdout = holdout.with_columns(usr_leak=pl.col("label") + noise(holdout.height))
        features.append("usr_leak")
    return train, holdout, features


# --- label permutation --------------------------------------------------------------------


def test_permutation_passes_on_honest_signal():
    train, holdout, features = frames()
    res = gauntlet.permutation_test(train, holdout, features, CFG)
    assert res.report.passed, res.report.summary()
    assert res.null.shape == (199,) and res.p_value == pytest.approx(1 / 200)
    assert res.observed > 0.7 and abs(res.null_mean - 0.5) < 0.03
    assert res.margin >= CFG.permutation_min_margin


def test_permutation_fails_on_shuffled_labels():
    train, holdout, features = frames(shuffle=True)
    res = gauntlet.permutation_test(train, holdout, features, CFG)
    assert not res.report.passed
    assert res.p_value > 0.01
    assert {g.name for g in res.report.failed} >= {"permutation_p"}


def test_permutation_failure_on_few_holdout_positives_is_insufficient_evidence():
    train, holdout, features = frames(shuffle=True)
    few = pl.concat(
        [holdout.filter(pl.col("label") == 0), holdout.filter(pl.col("label") == 1).head(8)]
    )
    res = gauntlet.permutation_test(train, few, features, CFG)
    assert not res.report.passed and res.report.insufficient_evidence
    assert res.report.summary().startswith("insufficient evidence")


def test_permutation_is_within_snapshot_and_reseeded():
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0], dtype=float)
    buckets = np.array(["a"] * 4 + ["b"] * 4)
    perms = gauntlet.permuted_labels(y, buckets, 20, seed=3)
    assert (perms[:4].sum(axis=0) == 1).all() and (perms[4:].sum(axis=0) == 2).all()
    # re-seeded per permutation: the first 5 do not depend on how many are drawn
    np.testing.assert_array_equal(gauntlet.permuted_labels(y, buckets, 5, seed=3), perms[:, :5])


def test_logistic_proxy_agrees_with_the_ridge_proxy():
    train, holdout, features = frames()
    cfg = GauntletConfig(proxy="logistic", proxy_max_rows=400)
    res = gauntlet.permutation_test(train, holdout, features, cfg)
    assert res.report.passed and res.train_rows == 400


def test_permutation_not_measured_with_one_class():
    train, holdout, features = frames()
    res = gauntlet.permutation_test(train, holdout.with_columns(label=pl.lit(0)), features, CFG)
    assert not res.report.passed
    assert {g.result() for g in res.report.gates} == {gauntlet.NOT_MEASURED}


def test_permutations_below_what_alpha_can_reach_are_rejected():
    with pytest.raises(ValueError):
        GauntletConfig(n_permutations=99)
    with pytest.raises(ValueError):
        GauntletConfig(permutation_alpha=0.001)  # 199 permutations reach 0.005 at best


# --- too good to be true -------------------------------------------------------------------


def test_too_good_to_be_true_names_the_leaked_column():
    train, holdout, features = frames(leak=True)
    res = gauntlet.too_good_to_be_true(train, holdout, features, CFG)
    assert not res.report.passed
    assert res.flagged == ["usr_leak"]
    top = res.table.row(0, named=True)
    assert top["feature"] == "usr_leak" and top["holdout_auc"] > 0.99
    assert "usr_leak" in res.report.summary()


def test_too_good_to_be_true_passes_honest_features():
    train, holdout, features = frames()
    res = gauntlet.too_good_to_be_true(train, holdout, features, CFG)
    assert res.report.passed, res.report.summary()
    assert res.flagged == [] and res.table.height == len(features)


def test_a_feature_far_above_the_rest_is_flagged_below_the_absolute_bound():
    train, holdout, features = frames(signal=0.0, seed=1)  # nothing else carries signal
    y = holdout["label"].to_numpy()
    lone = y + np.random.default_rng(2).normal(scale=0.6, size=y.size)
    holdout = holdout.with_columns(usr_lone=pl.Series(lone))
    train = train.with_columns(usr_lone=pl.lit(0.0))
    res = gauntlet.too_good_to_be_true(train, holdout, [*features, "usr_lone"], CFG)
    auc = res.table.filter(pl.col("feature") == "usr_lone")["holdout_auc"][0]
    assert auc < CFG.univariate_auc_max and res.flagged == ["usr_lone"]
    assert [g.name for g in res.report.failed] == ["univariate_auc_gap"]


# --- reproducibility -------------------------------------------------------------------------


def test_reproducibility_passes_with_the_seeded_candidate():
    train, holdout, features = frames()
    res = gauntlet.reproducibility(train, features, TRAINING, holdout=holdout)
    assert res.report.passed, res.report.summary()
    assert res.max_abs_diff == 0.0 and res.checksums[0] == res.checksums[1]


def _noisy_trainer(train: pl.DataFrame, features: list[str], cfg: TrainingConfig):
    rng = np.random.default_rng()  # unseeded on purpose: every fit sees another bootstrap
    idx = rng.choice(train.height, train.height)
    X, y = training.matrix(train, features), train["label"].to_numpy()
    model = training.make_baseline(cfg.seed).fit(X[idx], y[idx])
    return SimpleNamespace(
        predict=lambda f: model.predict_proba(training.matrix(f, features))[:, 1]
    )


def test_reproducibility_fails_with_a_nondeterministic_trainer():
    train, holdout, features = frames()
    res = gauntlet.reproducibility(
        train, features, TRAINING, holdout=holdout, trainer=_noisy_trainer
    )
    assert not res.report.passed
    assert {g.name for g in res.report.failed} == {"prediction_max_abs_diff", "prediction_checksum"}
    assert res.checksums[0] != res.checksums[1]


def test_reproducibility_not_measured_when_the_fit_raises():
    def broken(*_):
        raise RuntimeError("no")

    train, _, features = frames()
    res = gauntlet.reproducibility(train, features, TRAINING, trainer=broken)
    assert not res.report.passed and res.report.gates[0].result() == gauntlet.NOT_MEASURED


# --- static scan -----------------------------------------------------------------------------


def test_static_scan_passes_the_real_feature_code():
    res = gauntlet.static_scan()
    assert res.report.passed, res.report.summary()
    assert len(res.scanned) == 3 and res.findings == []


def test_static_scan_fails_on_wall_clock_reads(tmp_path):
    bad = tmp_path / "bad_features.py"
    bad.write_text(
        "import time\n"
        "import datetime as dt\n"
        "from datetime import date, datetime\n"
        "import numpy as np\n"
        "import polars as pl\n"
        "from time import time as clock\n"
        "a = datetime.now()\n"
        "b = date.today()\n"
        "c = time.time()\n"
        "d = dt.datetime.utcnow()\n"
        "e = pl.lit(datetime.now())\n"
        "f = clock()\n"
        "g = np.datetime64('now')\n"
        "h = date(2024, 1, 31)  # a fixed date is fine\n"
    )
    res = gauntlet.static_scan([bad])
    assert not res.report.passed
    lines = sorted({f.line for f in res.findings})
    assert lines == [7, 8, 9, 10, 11, 12, 13]
    assert ("datetime.now()" in {f.call for f in res.findings}) and res.table().height == 7
    assert "bad_features.py:7 datetime.now()" in res.report.summary()


def test_static_scan_not_measured_on_unparsable_or_no_files(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    for paths in ([broken], []):
        res = gauntlet.static_scan(paths)
        assert not res.report.passed
        assert res.report.gates[0].result() == gauntlet.NOT_MEASURED


# --- the report -------------------------------------------------------------------------------


def test_gauntlet_report_collects_every_check():
    train, holdout, features = frames(leak=True)
    rep = gauntlet.gauntlet_report(train, holdout, features, TRAINING, CFG)
    assert set(rep.reports) == set(gauntlet.ALL_CHECKS)
    assert not rep.passed and not rep.reports["too_good_to_be_true"].passed
    # without the input tables the time checks are not measured (and never pass)
    for name in gauntlet.EXTRA_CHECKS:
        assert rep.reports[name].gates[0].result() == gauntlet.NOT_MEASURED
    payload = rep.to_dict()
    restored = GateReport.from_dict(payload["checks"]["label_permutation"])
    assert restored.passed == rep.reports["label_permutation"].passed
    assert payload["numbers"]["permutation_n"] == 199 and len(payload["null"]) == 199
    assert set(rep.seconds) == set(gauntlet.CHECKS)
    hist = gauntlet.null_histogram(rep.permutation)
    assert hist["count"].sum() == 199 and hist["observed"].sum() == 1


def test_gauntlet_report_partition_materializes_with_its_checks(
    salesml_home, tiny_world, tiny_source
):
    cfg = tiny_config(tiny_world)
    # three snapshots: the group CV's purge (one label window) leaves one to train on
    cfg = cfg.model_copy(update={"training": cfg.training.model_copy(update={"snapshots": 3})})
    defs = build_defs(cfg, source_uri=str(tiny_source))
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()

    def run(keys, pk=None):
        return job.execute_in_process(
            asset_selection=[dg.AssetKey.from_user_string(k) for k in keys],
            partition_key=pk,
            raise_on_error=False,
            instance=instance,
        )

    assert run([f"gosales/{n}" for n in OUTPUTS]).success
    pk = dg.MultiPartitionKey({"cutoff": cfg.cutoffs[0].isoformat(), "division": "hardware"})
    result = run(["gosales/feature_matrix", "gosales/labels", "gosales/gauntlet_report"], pk)
    assert result.success, result.get_step_failure_events()
    checks = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["gosales", "gauntlet_report"])
    }
    assert set(checks) == set(gauntlet.ALL_CHECKS)
    honest = [*gauntlet.CHECKS, "group_cv_purge", "feature_dates"]
    assert all(checks[n].passed for n in honest), {k: e.description for k, e in checks.items()}
    assert all(checks[n].severity == dg.AssetCheckSeverity.ERROR for n in honest)
    # measured, whatever the verdict on a 245-customer holdout (numbers in the metadata)
    assert "shift_grid" in checks["shift_grid"].metadata
    assert checks["safe_ablation"].metadata["policy"].value in {"SAFE", "Full"}
    folds = checks["group_cv_purge"].metadata["fold_assignments"].value
    assert pl.read_csv(folds).columns == ["customer_id", "fold"]
    meta = next(
        m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["gosales", "gauntlet_report"])
    )
    assert meta["permutation_p"].value <= 0.01
    assert "bin_low" in meta["permutation_null"].value
    # the null as a picture in the UI (histogram with the observed AUC), on the check too
    assert "data:image/png;base64," in meta["permutation_null"].value
    assert "data:image/png;base64," in checks["label_permutation"].metadata["null"].value
    assert meta["univariate_best_auc"].value < 0.9
    assert meta["features_after_cutoff"].value == 0 and meta["cv_customer_overlap"].value == 0
