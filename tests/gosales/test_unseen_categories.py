"""Unseen categories at scoring: customers whose industry/region the champion never saw are
counted, and the WARN check fails above 5% with column, count, share and examples."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg
import polars as pl

from gosales_assets.defs.scoring import unseen_categories as unseen_check
from gosales_assets.features import build_features, feature_columns, unseen_categories
from gosales_assets.scoring import RULE_BASELINE
from shared.partitions import add_months, month_end


def _model_features(world):
    cutoff = month_end(add_months(world.as_of, -12))
    feats = build_features(
        world.transactions, world.customers, world.assets, cutoff, world.divisions, "hardware"
    )
    return feature_columns(feats)


def _relabel(customers: pl.DataFrame, share: float, value: str = "Aerospace & Defense"):
    n = int(customers.height * share)
    ids = customers.sort("customer_id")["customer_id"].head(n)
    return customers.with_columns(
        industry=pl.when(pl.col("customer_id").is_in(ids.implode()))
        .then(pl.lit(value))
        .otherwise(pl.col("industry"))
    )


def test_unseen_categories_against_the_models_one_hot_columns(tiny_world):
    w = tiny_world
    features = _model_features(w)
    clean = unseen_categories(w.customers, w.as_of, features)
    assert clean["unseen"].to_list() == [0, 0] and clean["column"].to_list() == [
        "industry",
        "region",
    ]
    report = unseen_categories(_relabel(w.customers, 0.10), w.as_of, features)
    row = report.filter(pl.col("column") == "industry").row(0, named=True)
    assert row["unseen"] == int(w.customers.height * 0.10)
    assert 0.09 < row["share"] < 0.11 and row["examples"] == "Aerospace & Defense"


class _Tracker:
    def __init__(self, features):
        self.meta = {"features": features}

    def champion(self, name):
        return SimpleNamespace(run_id="r1", version="1", name=name)

    def load_dict(self, run_id, artifact):
        return self.meta


def _scores(model_version="1", run_id="r1"):
    return pl.DataFrame(
        {"division_name": ["hardware"], "model_version": [model_version], "run_id": [run_id]}
    )


def test_check_warns_above_five_percent_with_metadata(tiny_world):
    w = tiny_world
    tracker = _Tracker(_model_features(w))
    ok = unseen_check(tracker, _scores(), _relabel(w.customers, 0.03), w.transactions)
    assert ok.passed and ok.metadata["measured"].value is True
    assert ok.metadata["industry_unseen"].value == int(w.customers.height * 0.03)
    bad = unseen_check(tracker, _scores(), _relabel(w.customers, 0.10), w.transactions)
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.WARN
    assert "industry" in bad.description and "> 5%" in bad.description
    assert bad.metadata["industry_examples"].value == "Aerospace & Defense"
    assert 0.09 < bad.metadata["industry_share"].value < 0.11


def test_check_is_not_measured_under_the_rule_baseline(tiny_world):
    w = tiny_world
    res = unseen_check(
        _Tracker([]), _scores(RULE_BASELINE, ""), _relabel(w.customers, 0.5), w.transactions
    )
    assert not res.passed and res.metadata["measured"].value is False
