"""Extra user columns: never silently overwriting a derived feature; declarable as features
(config ``extra_features``, validated in the config and against the data)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from gosales_assets.config import GosalesConfig
from gosales_assets.features import build_features, feature_columns
from gosales_assets.schemas import with_extra_features
from shared.partitions import add_months, month_end
from shared.validation import DataContractError


def _cutoff(world):
    return month_end(add_months(world.as_of, -12))


def _employees(customers: pl.DataFrame) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    return customers.with_columns(
        employees=pl.Series(rng.integers(1, 5000, customers.height)),
        cust_tenure_days=pl.lit(-1.0),  # same name as a derived feature, nonsense values
    )


def test_undeclared_columns_named_like_derived_features_change_nothing(tiny_world):
    w, cutoff = tiny_world, _cutoff(tiny_world)
    base = build_features(w.transactions, w.customers, w.assets, cutoff, w.divisions, "hardware")
    tx = w.transactions.with_columns(tgt_revenue_12m=pl.lit(1e9), all_tx_24m=pl.lit(-5.0))
    extra = build_features(tx, _employees(w.customers), w.assets, cutoff, w.divisions, "hardware")
    assert extra.equals(base)  # ignored, neither overwriting nor overwritten


def test_declared_columns_become_usr_features_next_to_the_derived_ones(tiny_world):
    w, cutoff = tiny_world, _cutoff(tiny_world)
    customers = with_extra_features(_employees(w.customers), ["employees", "cust_tenure_days"])
    base = build_features(w.transactions, w.customers, w.assets, cutoff, w.divisions, "hardware")
    feats = build_features(w.transactions, customers, w.assets, cutoff, w.divisions, "hardware")
    cols = feature_columns(feats)
    assert {"usr_employees", "usr_cust_tenure_days"} <= set(cols)
    assert feats.drop("usr_employees", "usr_cust_tenure_days").equals(base)  # derived intact
    assert (feats["usr_cust_tenure_days"] == -1.0).all() and feats["usr_employees"].min() >= 1
    by_id = dict(zip(customers["customer_id"], customers["employees"], strict=True))
    assert feats["usr_employees"].to_list() == [float(by_id[c]) for c in feats["customer_id"]]


@pytest.mark.parametrize(
    ("edit", "column", "rule"),
    [
        (lambda c: c, "headcount", "declared in extra_features but missing"),
        (lambda c: c.with_columns(headcount=pl.lit("many")), "headcount", "numeric"),
        (
            lambda c: c.with_columns(
                headcount=pl.when(pl.col("customer_id") < 4).then(None).otherwise(7)
            ),
            "headcount",
            "null",
        ),
        (lambda c: c.with_columns(headcount=1, usr_score=pl.lit(0.5)), "usr_score", "reserved"),
    ],
)
def test_bad_extra_feature_columns_name_table_column_and_rows(tiny_world, edit, column, rule):
    with pytest.raises(DataContractError) as err:
        with_extra_features(edit(tiny_world.customers), ["headcount"])
    msg = str(err.value)
    assert "table 'customers'" in msg and f"column '{column}'" in msg and rule in msg
    if rule == "null":
        assert "3 offending row(s)" in msg


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["industry"], "already used by the derived features"),
        (["employees", "employees"], "named twice"),
        (["bad name"], "not plain column names"),
    ],
)
def test_extra_features_config_is_validated(extra, message):
    with pytest.raises(ValueError, match=message):
        GosalesConfig(divisions=["hardware"], cutoffs=["2023-06-30"], extra_features=extra)


def test_inputs_stage_adds_declared_features_and_training_uses_them(tiny_world, tmp_path):
    from gosales_assets.config import TrainingConfig
    from gosales_assets.inputs import validated_inputs
    from gosales_assets.training import fit_and_evaluate
    from shared.sources import write_folder

    w = tiny_world
    write_folder(tmp_path, {**w.tables(), "customers": _employees(w.customers)})
    tables, _, _ = validated_inputs(str(tmp_path), "tiny", 7, 6, extra_features=["employees"])
    assert "usr_employees" in tables["customers"].columns
    ev = fit_and_evaluate(
        customers=tables["customers"],
        transactions=tables["transactions"],
        install_base=tables["install_base"],
        ground_truth=None,
        cutoff=_cutoff(w),
        division="software",
        divisions=list(w.divisions),
        window_months=6,
        cfg=TrainingConfig(snapshots=1, n_estimators=30, min_child_samples=10),
    )
    assert "usr_employees" in ev.candidate.features
