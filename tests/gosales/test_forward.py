"""Forward validation: the customer-block bootstrap against a direct and a scipy computation
and the truth, censored horizons never gated, the ranking rule's switch, as-of scoring
without future events, and the Dagster assets on the tiny world."""

from __future__ import annotations

import math
from datetime import date

import dagster as dg
import numpy as np
import polars as pl
import pytest
from scipy import stats

from gosales_assets import forward as fw
from gosales_assets.config import ForwardConfig
from gosales_assets.definitions import build_defs
from gosales_assets.demo import TRAIN
from gosales_assets.inputs import OUTPUTS
from shared.metrics import capture_at
from shared.storage import read_lake
from tests.gosales.conftest import tiny_config

TOP10 = fw.Scenario("top_10pct", frac=0.10)


def _population(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """``n`` customers, p ~ Beta(1, 9) (the true probability, also the score), y ~ Bernoulli(p)."""
    p = rng.beta(1.0, 9.0, n)
    y = (rng.random(n) < p).astype(np.int8)
    return pl.DataFrame(
        {
            "customer_id": np.arange(n),
            "label": y,
            "revenue": y * 100.0,
            "gross_profit": y * 30.0,
            "egp": p * 30.0,
            "p": p,
        }
    )


def _ci(frame: pl.DataFrame, metric: str, n_boot: int = 1000, seed: int = 3) -> dict:
    res = fw.scenario_bootstrap(
        frame, [TOP10], {"p": frame["p"].to_numpy()}, n_boot=n_boot, seed=seed
    )
    return res.table.filter(pl.col("metric") == metric).row(0, named=True)


def test_bootstrap_ci_is_the_percentiles_of_the_resampled_metric():
    frame = _population(np.random.default_rng(0), 600)
    y, p = frame["label"].to_numpy(), frame["p"].to_numpy()
    got = _ci(frame, "capture")
    idx = np.random.default_rng(3).integers(0, y.size, (1000, y.size))  # resample_counts' draws
    direct = np.array([capture_at(y[i], p[i], 0.10) for i in idx])
    lo, hi = np.percentile(direct, [2.5, 97.5])
    assert got["point"] == pytest.approx(capture_at(y, p, 0.10), abs=1e-12)
    assert got["ci_low"] == pytest.approx(lo, abs=1e-12)
    assert got["ci_high"] == pytest.approx(hi, abs=1e-12)
    assert got["ci_width"] == pytest.approx(hi - lo, abs=1e-12)
    # and scipy's percentile bootstrap (its own resamples) agrees within Monte-Carlo noise
    ref = stats.bootstrap(
        (y, p),
        lambda a, b: capture_at(a, b, 0.10),
        paired=True,
        vectorized=False,
        n_resamples=1000,
        method="percentile",
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert got["ci_low"] == pytest.approx(ref.low, abs=0.03)
    assert got["ci_high"] == pytest.approx(ref.high, abs=0.03)
    # precision and realized GP are the same resamples' top 10%
    prec = np.array([y[i][np.argsort(-p[i], kind="stable")[:60]].mean() for i in idx])
    assert _ci(frame, "precision")["ci_low"] == pytest.approx(np.percentile(prec, 2.5))
    assert _ci(frame, "realized_gp")["point"] == pytest.approx(
        30.0 * y[np.argsort(-p, kind="stable")[:60]].sum()
    )


def test_bootstrap_ci_covers_the_truth():
    rng = np.random.default_rng(11)
    big = rng.beta(1.0, 9.0, 2_000_000)
    q90 = np.quantile(big, 0.9)
    truth = big[big > q90].sum() / big.sum()  # population capture@10% of the true probability
    hits = 0
    for rep in range(60):
        ci = _ci(_population(rng, 2000), "capture", n_boot=400, seed=rep)
        hits += ci["ci_low"] <= truth <= ci["ci_high"]
    assert 0.85 <= hits / 60 <= 1.0, hits


def test_bootstrap_is_deterministic_and_draws_a_customer_s_rows_together():
    frame = _population(np.random.default_rng(5), 300)
    a, b = _ci(frame, "capture"), _ci(frame, "capture")
    assert a == b
    counts = fw.resample_counts(4, 50, seed=1)
    assert counts.shape == (50, 4) and (counts.sum(1) == 4).all()
    # two rows per customer: every resample takes both rows of a drawn customer, so the
    # resampled size is always even
    doubled = pl.concat([frame, frame]).sort("customer_id")
    res = fw.scenario_bootstrap(
        doubled,
        [fw.Scenario("all", frac=1.0)],
        {"p": doubled["p"].to_numpy()},
        n_boot=200,
        seed=0,
    )
    sel = res.table.filter(pl.col("metric") == "selected").row(0, named=True)
    assert sel["point"] == 600 and sel["ci_low"] == sel["ci_high"] == 600


def test_per_rep_and_hybrid_scenarios_select_within_their_groups():
    frame = _population(np.random.default_rng(2), 400).with_columns(
        rep_id=(pl.col("customer_id") % 8).cast(pl.Utf8), region=pl.lit("north")
    )
    scenarios, notes = fw.capacity_scenarios(frame.columns, [0.1], 5, "rep_id", "region", 0.1)
    assert [s.name for s in scenarios] == ["top_10pct", "per_rep_5", "hybrid_10pct_by_region"]
    assert notes == []
    res = fw.scenario_bootstrap(frame, scenarios, {"p": frame["p"].to_numpy()}, n_boot=100, seed=0)
    point = {
        r["scenario"]: r["point"]
        for r in res.table.filter(pl.col("metric") == "selected").to_dicts()
    }
    assert point == {"top_10pct": 40, "per_rep_5": 40, "hybrid_10pct_by_region": 40}
    _, notes = fw.capacity_scenarios(["customer_id"], [0.1], 5, "rep_id", "region", 0.1)
    assert all("not measured" in n for n in notes) and len(notes) == 2


def _curve(rows: list[dict]) -> pl.DataFrame:
    base = {"reference": False, "auc_se": 0.02}
    return pl.DataFrame([{**base, **r} for r in rows])


def test_censored_horizon_is_listed_and_never_gated():
    grid = fw.horizon_grid(date(2023, 12, 31), 6, date(2024, 12, 31), 9)
    assert grid.filter(pl.col("censored"))["horizon"].to_list() == [7, 8, 9]
    assert grid.filter(pl.col("overlaps_training_window"))["horizon"].to_list() == [1, 2, 3, 4, 5]
    curve = _curve(
        [
            {"horizon": 6, "status": "measured", "reference": True, "auc": 0.70},
            {"horizon": 7, "status": "measured", "auc": 0.71},
            {"horizon": 8, "status": "censored", "auc": 0.99},  # would be a gain: not gated
        ]
    )
    report = fw.early_gain_report(curve)
    assert [g.name for g in report.gates] == ["auc_h7"] and report.passed
    gain = curve.with_columns(
        auc=pl.when(pl.col("horizon") == 7).then(0.80).otherwise(pl.col("auc"))
    )
    assert not fw.early_gain_report(gain).passed  # 0.10 above, 2 SE of the difference = 0.057
    only_censored = curve.filter(pl.col("horizon") != 7)
    assert fw.early_gain_report(only_censored).gates == []  # nothing measured: no pass


def test_ranking_rule_switches_at_the_calibration_bound():
    assert fw.ranking_rule(0.049, 0.05) == fw.EXPECTED_GP
    assert fw.ranking_rule(0.05, 0.05) == fw.EXPECTED_GP
    assert fw.ranking_rule(0.051, 0.05) == fw.CAPTURE
    assert fw.ranking_rule(math.nan, 0.05) == fw.CAPTURE  # not measured is not calibrated
    table = pl.DataFrame(
        [
            {"ordering": o, "scenario": s, "metric": m, "point": v}
            for o in ("p", "expected_gp")
            for s, cap, egp in (("a", 0.6, 10.0), ("b", 0.4, 20.0))
            for m, v in (("capture", cap), ("expected_gp", egp))
        ]
    )
    by_gp = fw.ranked_scenarios(table, fw.ranking_rule(0.01, 0.05))
    by_capture = fw.ranked_scenarios(table, fw.ranking_rule(0.09, 0.05))
    assert by_gp["scenario"].to_list() == ["b", "a"] and by_gp["rule"][0] == "expected_gp"
    assert by_capture["scenario"].to_list() == ["a", "b"] and by_capture["ordering"][0] == "p"


def test_base_rate_guard_warns_outside_its_bounds():
    cfg = ForwardConfig()
    bounds = (cfg.prevalence_min, cfg.prevalence_max)
    assert fw.base_rate_report(100, 1000, *bounds).passed
    assert not fw.base_rate_report(1, 1000, *bounds).passed  # 0.1% < 0.2%
    assert not fw.base_rate_report(600, 1000, *bounds).passed  # 60% > 50%
    assert fw.base_rate_report(0, 0, *bounds).gates == []  # nothing measured: no pass


class _SumModel:
    """A fixed model over every feature: sigmoid of a scaled sum (no fitting needed)."""

    def __init__(self, features: list[str]) -> None:
        self.features = features

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = np.tanh(np.log1p(np.abs(X)).sum(axis=1) / 50.0)
        return np.column_stack([1 - (z + 1) / 2, (z + 1) / 2])


def test_score_as_of_uses_no_future_events(tiny_world):
    from gosales_assets import features as gs_features
    from shared.partitions import add_months

    w = tiny_world
    as_of = add_months(w.as_of, -9)
    divisions = list(w.divisions)
    tables = {"customers": w.customers, "transactions": w.transactions, "install_base": w.assets}
    cols = gs_features.feature_columns(
        gs_features.build_features(
            w.transactions, w.customers, w.assets, as_of, divisions, "hardware"
        )
    )
    model = _SumModel(cols)
    full = fw.score_as_of(model, tables, as_of, division="hardware", divisions=divisions)
    cut = fw.score_as_of(
        model,
        dict(
            zip(
                ("transactions", "customers", "install_base"),
                gs_features.truncate_inputs(w.transactions, w.customers, w.assets, as_of),
                strict=True,
            )
        ),
        as_of,
        division="hardware",
        divisions=divisions,
    )
    # a flood of future orders by every customer must not move a single score
    future = w.transactions.head(w.customers.height).with_columns(
        customer_id=w.customers["customer_id"],
        order_date=pl.lit(add_months(as_of, 1)),
        revenue=pl.lit(1e6),
        gross_profit=pl.lit(1e5),
    )
    flooded = fw.score_as_of(
        model,
        {**tables, "transactions": pl.concat([w.transactions, future])},
        as_of,
        division="hardware",
        divisions=divisions,
    )
    assert full.equals(cut) and full.equals(flooded)
    born = w.customers.filter(pl.col("created_date") <= as_of).height
    assert full.height == born < w.customers.height  # customers not yet created are not scored
    assert full["p"].n_unique() > 10


def test_forward_assets_materialize_on_the_tiny_world(salesml_home, tiny_world, tiny_source):
    cfg = tiny_config(tiny_world)
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
    result = run([*TRAIN, "gosales/prequential", "gosales/forward_validation"], pk)
    assert result.success, result.get_step_failure_events()
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["prequential_schema"].passed and checks["forward_validation_schema"].passed
    assert checks["confidence_intervals"].passed
    assert checks["base_rate"].passed  # hardware buys ~20% in six months
    # the tiny world ends at the holdout window: no later horizon, so not measured (not passed)
    assert not checks["early_gain"].passed
    assert checks["early_gain"].metadata["measured"].value is False
    assert checks["early_gain"].severity == dg.AssetCheckSeverity.WARN

    curve = read_lake(["gosales", "prequential"])
    ref = curve.filter(pl.col("reference")).row(0, named=True)
    assert ref["model"] == "champion v1 (this candidate)"
    assert (curve.filter(pl.col("status") == "censored")["auc"].is_null()).all()
    assert 0.5 < ref["oracle_auc"] <= 1  # the tiny world's truth: what any model could reach
    metrics = read_lake(["gosales", "holdout_metrics"]).filter(pl.col("model") == "candidate")
    for m in ("n", "positives", "auc", "brier", "calibration_mae"):  # h = W is the holdout
        assert ref[m] == pytest.approx(metrics[m][0], rel=1e-9), m
    table = read_lake(["gosales", "forward_validation"])
    capture = table.filter((pl.col("metric") == "capture") & (pl.col("ordering") == "p")).sort(
        "scenario"
    )
    assert (capture["ci_low"] <= capture["point"]).all()
    assert (capture["point"] <= capture["ci_high"]).all()
    assert table["rule"][0] in (fw.EXPECTED_GP, fw.CAPTURE)


class _FakeTracker:
    """The three tracker calls :func:`forward.frozen_model` makes, over one registered version."""

    def __init__(self, cutoff: date) -> None:
        self.meta = {"cutoff": cutoff.isoformat(), "features": ["x"], "window_months": 6}
        self.loaded: list[str] = []

    def client(self):
        from types import SimpleNamespace

        return SimpleNamespace(get_model_version=lambda name, v: SimpleNamespace(run_id="r1"))

    def load_dict(self, run_id: str, artifact: str) -> dict:
        return self.meta

    def load_model(self, uri: str):
        self.loaded.append(uri)
        return _SumModel(["x"])


def test_frozen_model_is_the_champion_that_served_else_the_labelled_candidate():
    from types import SimpleNamespace

    cutoff = date(2023, 12, 31)
    cand = SimpleNamespace(predict=lambda f: np.full(f.height, 0.5))
    bundle = {"candidate": cand, "cutoff": cutoff, "window_months": 6}

    def decision(version: str, champion: str) -> pl.DataFrame:
        return pl.DataFrame({"version": [version], "champion_version": [champion]})

    older = _FakeTracker(date(2023, 9, 30))
    got = fw.frozen_model(older, "gosales_hardware", decision("", ""), bundle)
    assert got.label == "candidate (no champion serving)" and got.cutoff == cutoff
    got = fw.frozen_model(older, "gosales_hardware", decision("2", "2"), bundle)
    assert got.label == "champion v2 (this candidate)" and older.loaded == []
    got = fw.frozen_model(older, "gosales_hardware", decision("", "1"), bundle)
    assert got.label == "champion v1 (cutoff 2023-09-30)" and got.cutoff == date(2023, 9, 30)
    assert older.loaded == ["models:/gosales_hardware/1"]
    assert got.scorer(pl.DataFrame({"x": [1.0, 2.0]})).shape == (2,)
    later = _FakeTracker(date(2024, 3, 31))  # trained on data after this partition's holdout
    got = fw.frozen_model(later, "gosales_hardware", decision("", "3"), bundle)
    assert got.label.startswith("candidate (champion v3 was trained later") and later.loaded == []


def test_horizon_plot_draws_measured_and_censored_horizons():
    from shared.plots import horizon_png

    curve = _curve(
        [
            {
                "horizon": 1,
                "status": "measured",
                "auc": 0.7,
                "pr_auc": 0.3,
                "brier": 0.1,
                "calibration_mae": 0.02,
                "lift_at_10": 3.0,
            },
            {
                "horizon": 2,
                "status": "measured",
                "reference": True,
                "auc": 0.69,
                "pr_auc": 0.3,
                "brier": 0.1,
                "calibration_mae": 0.02,
                "lift_at_10": 2.9,
            },
            {
                "horizon": 3,
                "status": "censored",
                "auc": None,
                "pr_auc": None,
                "brier": None,
                "calibration_mae": None,
                "lift_at_10": None,
            },
        ]
    )
    png = horizon_png(curve)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_forward_config_rejects_unusable_knobs():
    from pydantic import ValidationError

    assert ForwardConfig().n_boot == 1000 and ForwardConfig().k_fracs == [0.05, 0.10, 0.20]
    for bad in ({"k_fracs": [0.0]}, {"k_fracs": [1.5]}, {"n_boot": 10}, {"prevalence_min": 0.6}):
        with pytest.raises(ValidationError):
            ForwardConfig(**bad)
