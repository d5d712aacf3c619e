"""Input contract, config validation and the synthetic world."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from pricing_assets.config import config_from_dict, load_config
from pricing_assets.schemas import validate_inputs
from pricing_assets.world import generate_world, true_quantile, true_win_probability
from shared.validation import DataContractError

BUS = ["na", "emea"]


def _mutate(lines: pl.DataFrame, ids: list[str], **cols) -> pl.DataFrame:
    hit = pl.col("order_line_id").is_in(ids)
    return lines.with_columns(
        **{c: pl.when(hit).then(v).otherwise(pl.col(c)) for c, v in cols.items()}
    )


def test_clean_world_validates_and_keeps_every_row(tiny_world):
    out = validate_inputs(tiny_world.tables(), BUS, tiny_world.as_of)
    assert out["order_lines"].height == tiny_world.order_lines.height
    assert out["quotes"].height == tiny_world.quotes.height


def test_bad_lines_are_rejected_with_count_and_examples(tiny_world):
    lines = tiny_world.order_lines
    ids = lines["order_line_id"].to_list()
    bad = _mutate(lines, ids[0:2], list_price=pl.lit(None, pl.Float64))
    bad = _mutate(bad, ids[2:5], sell_price=pl.lit(-1.0))
    bad = _mutate(bad, ids[5:6], quantity=pl.lit(0))
    bad = _mutate(bad, ids[6:10], sell_price=pl.col("list_price") * 1.5)
    bad = _mutate(bad, ids[10:11], bu_id=pl.lit("mars"))
    with pytest.raises(DataContractError) as err:
        validate_inputs({"order_lines": bad, "quotes": tiny_world.quotes}, BUS)
    found = {(v.column, v.n_rows) for v in err.value.violations}
    assert ("list_price", 2) in found
    assert ("sell_price", 3) in found  # non-positive
    assert ("quantity", 1) in found
    assert ("bu_id", 1) in found
    above = [v for v in err.value.violations if v.rule == "sell_price above list_price"]
    assert above and above[0].n_rows == 4 + 0  # the negative sell prices are not above list
    assert {e["order_line_id"] for e in above[0].examples} == set(ids[6:10])
    for v in err.value.violations:
        assert v.examples, v  # every violation shows examples
    message = str(err.value)
    assert "order_lines" in message and "mars" in message


def test_missing_column_and_duplicate_keys(tiny_world):
    lines = tiny_world.order_lines.drop("quantity")
    dup = pl.concat([tiny_world.quotes, tiny_world.quotes.head(2)])
    with pytest.raises(DataContractError) as err:
        validate_inputs({"order_lines": lines, "quotes": dup}, BUS)
    rules = {(v.table, v.column, v.rule) for v in err.value.violations}
    assert rules == {("order_lines", "quantity", "missing column")}
    with pytest.raises(DataContractError) as err:
        validate_inputs({"order_lines": tiny_world.order_lines, "quotes": dup}, BUS)
    dups = [v for v in err.value.violations if v.rule == "duplicate key"]
    assert dups and dups[0].table == "quotes" and dups[0].n_rows == 4


def test_optional_columns_may_be_absent(tiny_world):
    lines = tiny_world.order_lines.drop("unit_cost", "floor_price")
    out = validate_inputs({"order_lines": lines, "quotes": tiny_world.quotes}, BUS)
    assert out["order_lines"]["floor_price"].null_count() == lines.height


def test_config_loads_and_errors_name_the_key(tmp_path):
    cfg = load_config()
    assert cfg.bu("apac").guardrails.max_discount == 0.55  # override merged
    assert cfg.bu("na").guardrails.max_discount == 0.6
    base = {"business_units": ["na"], "cutoffs": ["2024-06-30"]}
    with pytest.raises(ValueError, match="max_discount"):
        config_from_dict(
            {**base, "defaults": {"guardrails": {"min_discount": 0.5, "max_discount": 0.4}}}
        )
    # a name as the data spells it is its partition key; one with no usable key is an error
    assert config_from_dict({**base, "business_units": ["North America"]}).business_units == [
        "north_america"
    ]
    with pytest.raises(ValueError, match="bu_id"):
        config_from_dict({**base, "business_units": ["!!!"]})
    with pytest.raises(ValueError, match="unknown business units"):
        config_from_dict({**base, "overrides": {"emea": {}}})
    with pytest.raises(ValueError, match="holdout_dayz"):
        config_from_dict({**base, "defaults": {"horizons": {"holdout_dayz": 3}}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("business_units: [na]\ncutoffs: []\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_config(bad)


def test_world_is_deterministic_and_sized():
    a, b = generate_world("tiny", 3), generate_world("tiny", 3)
    assert a.order_lines.equals(b.order_lines) and a.quotes.equals(b.quotes)
    assert not a.order_lines.equals(generate_world("tiny", 4).order_lines)
    assert set(a.order_lines["bu_id"]) == {"na", "emea"}
    with pytest.raises(ValueError, match="unknown pricing world size"):
        generate_world("huge", 1)


def test_world_truth_quantiles_are_exact(tiny_world):
    lines = tiny_world.order_lines.join(tiny_world.line_truth, on="order_line_id")
    d = (1 - lines["sell_price"] / lines["list_price"]).to_numpy()
    for q in ("q10", "q50", "q90"):
        share = float(np.mean(d <= lines[q].to_numpy() + 1e-12))
        assert share == pytest.approx(int(q[1:]) / 100, abs=0.02), q
    inside = np.mean((d >= lines["q05"].to_numpy()) & (d <= lines["q95"].to_numpy()))
    assert inside == pytest.approx(0.90, abs=0.02)
    # heteroscedastic: spreads differ by segment
    widths = lines.group_by("customer_tier").agg((pl.col("q90") - pl.col("q10")).mean().alias("w"))
    assert widths["w"].max() > 1.5 * widths["w"].min()
    np.testing.assert_allclose(
        true_quantile(np.array([0.7, -0.1]), np.array([0.01, 0.01]), 0.5), [0.6, 0.0]
    )


def test_true_win_probability_rises_with_discount(tiny_world):
    qt = tiny_world.quote_truth
    p0, p1 = true_win_probability(qt, 0.0), true_win_probability(qt, 0.3)
    assert (p1 > p0).all()
    at_offer = tiny_world.quotes.select("quote_id", "discount_offered").join(qt, on="quote_id")
    np.testing.assert_allclose(
        true_win_probability(at_offer, at_offer["discount_offered"].to_numpy()),
        at_offer["true_win_prob"].to_numpy(),
        atol=1e-3,  # discount_offered is rounded to 4 decimals
    )
    won = tiny_world.quotes.join(qt, on="quote_id")
    assert won["true_win_prob"].mean() == pytest.approx((won["outcome"] == "won").mean(), abs=0.04)


def test_demo_world_is_big_enough():
    w = generate_world("demo", 42)
    assert len(w.business_units) >= 3
    last30 = w.order_lines.filter(pl.col("order_date") > date(2024, 5, 31))
    assert last30.height >= 5000


def test_demo_plan_keys_are_valid_partitions():
    from pricing_assets.demo import demo_plan
    from pricing_assets.location import DIMS
    from shared.partitions import cutoff_multi_partitions, parse_partition_key

    cfg = load_config()
    parts = cutoff_multi_partitions("bu_id", cfg.business_units, cfg.cutoffs)
    valid = {str(k) for k in parts.get_partition_keys()}
    plan = demo_plan()
    keys = plan[-1][1]
    assert keys and set(keys) <= valid
    assert {parse_partition_key(k, DIMS)["bu_id"] for k in keys} == set(cfg.business_units)


def test_bad_config_key_or_value_names_the_file_and_the_key(tmp_path):
    from shared.config import ConfigError

    cases = {
        "typo.yaml": (
            "business_units: [na]\ncutoffs: ['2024-06-30']\nworld_sise: demo\n",
            "world_sise",
        ),
        "notmonthend.yaml": ("business_units: [na]\ncutoffs: ['2024-06-15']\n", "cutoffs"),
        "badbu.yaml": (
            "business_units: ['North America', 'north america']\ncutoffs: ['2024-06-30']\n",
            "business_units",
        ),
        "window.yaml": (
            "business_units: [na]\ncutoffs: ['2024-06-30']\n"
            "defaults: {coverage: {max_crossing_share: 2}}\n",
            "max_crossing_share",
        ),
    }
    for name, (text, key) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_config(path)
        assert name in str(err.value) and key in str(err.value), str(err.value)


def test_infinite_values_are_rejected_with_the_rows_named(tiny_world):
    """±inf passes a one-sided range check; the contract rejects it, naming the rows."""
    first = tiny_world.order_lines["order_line_id"][0]
    bad = tiny_world.order_lines.with_columns(
        list_price=pl.when(pl.col("order_line_id") == first)
        .then(float("inf"))
        .otherwise(pl.col("list_price"))
    )
    with pytest.raises(DataContractError) as err:
        validate_inputs({"order_lines": bad, "quotes": tiny_world.quotes}, BUS)
    text = str(err.value)
    assert "order_lines" in text and "list_price" in text and "±inf" in text
    assert str(first) in text
