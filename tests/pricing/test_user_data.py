"""Pricing on the user's own data as it is, and always serving something honest (issue 9)."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from pricing_assets.config import PricingConfig
from pricing_assets.definitions import build_defs
from pricing_assets.location import model_name
from shared.storage import query_warehouse, read_lake
from shared.tracking import MLflowTracker
from tests.pricing.conftest import TINY_CUTOFF, tiny_config
from tests.pricing.test_pipeline import INPUTS, PARTITIONED, _run

RECS = ["pricing/price_recs_line", "pricing/price_recs_deal"]


def test_rule_baseline_range_is_the_segment_median_rule_with_segment_quantiles(tiny_partition):
    from pricing_assets import serving
    from pricing_assets.models import SegmentMedianRule

    feats, cfg, _ = tiny_partition
    lines, deals, rho = serving.recommend_rule_baseline(feats, cfg, TINY_CUTOFF)
    hold = feats.filter(pl.col("split") == "holdout")
    assert lines.height == hold.height and 0.0 <= rho <= 1.0
    rule = SegmentMedianRule.fit(feats.filter(pl.col("split") != "holdout"))
    by_id = dict(zip(hold["order_line_id"], rule.predict(hold), strict=True))
    expected = lines["order_line_id"].replace_strict(by_id, return_dtype=pl.Float64)
    assert (lines["model_median_discount"] - expected).abs().max() < 1e-12
    assert (lines["model_lower_discount"] <= lines["model_median_discount"]).all()
    assert (lines["model_median_discount"] <= lines["model_upper_discount"]).all()
    assert lines["recommended_discount"].is_between(0, cfg.guardrails.max_discount).all()
    cov = float(lines["covered_before_guardrails"].mean())
    assert 0.75 < cov < 0.99, cov  # empirical segment quantiles: roughly the 90 % it aims at
    # no win model: the median is the target, nothing is claimed about margins
    assert (deals["optimal_discount"] == deals["median_discount"]).all()
    assert (deals["expected_margin_impact"] == 0).all()
    assert deals["p_win_median"].null_count() == deals.height


def test_no_champion_serves_the_rule_baseline_labelled_with_a_warn_check(
    salesml_home, tiny_world, tiny_source, monkeypatch
):
    import pricing_assets.training as training

    # an impossible tolerance: no candidate can pass the coverage gate
    monkeypatch.setattr(training, "coverage_tolerance", lambda *a, **k: (0.99, 1.0))
    defs = build_defs(tiny_config(tiny_world), source_uri=str(tiny_source))
    instance = dg.DagsterInstance.ephemeral()
    _run(defs, INPUTS, instance=instance)
    pk = dg.MultiPartitionKey({"bu_id": "na", "cutoff": TINY_CUTOFF.isoformat()})
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # a sensor tick
    # the refusal is a decision: the run succeeds, records it and recommends in the same run
    served = _run(defs, PARTITIONED, pk, instance)
    assert served.success, served.get_step_failure_events()
    mats = {e.asset_key.to_user_string() for e in served.get_asset_materialization_events()}
    assert "pricing/promoted_model" in mats and set(RECS) <= mats
    assert MLflowTracker().champion(model_name("na")) is None
    assert read_lake(["pricing", "promoted_model"])["promoted"].to_list() == [False]
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    assert again.total_requested == 0  # recommended once, not requested again
    checks = {e.asset_check_key.name: e for e in served.get_asset_check_evaluations()}
    assert checks["model_champion"].passed is False
    assert checks["model_champion"].severity == dg.AssetCheckSeverity.WARN
    assert "no model champion" in checks["model_champion"].description
    assert checks["price_recs_line_schema"].passed and checks["price_recs_deal_schema"].passed
    line = query_warehouse("SELECT * FROM pricing.price_recs_line")
    deal = query_warehouse("SELECT * FROM pricing.price_recs_deal")
    assert line.height > 50 and deal.height > 10
    assert set(line["model_version"]) == {"rule-baseline"}
    assert set(deal["model_version"]) == {"rule-baseline"}
    assert (line["final_recommended_price"] >= line["floor_price"] - 1e-6).all()


# --- the user's data as it is: business-unit names, ids, returns -------------------------

SPELLED = {"na": "North America", "emea": "EMEA ", "apac": "APAC "}  # as exported, blanks too
KEYS = {"na": "north_america", "emea": "emea", "apac": "apac"}
CONFIGURED = ["north_america", "EMEA", "apac"]  # the config may use either spelling
ID_WIDTH = 8


def _id_maps(world) -> dict[str, dict[str, int]]:
    """Per id column, the world's ids numbered densely (one numbering per column)."""
    frames = (world.order_lines, world.quotes)
    out = {}
    for col in ("order_line_id", "deal_id", "customer_id", "quote_id", "product_id"):
        values = sorted({v for f in frames if col in f.columns for v in f[col].to_list()})
        out[col] = {v: i + 1 for i, v in enumerate(values)}
    return out


def _user_tables(world, ids: str = "padded") -> dict[str, pl.DataFrame]:
    """The world as users have it: spelled business-unit names and numeric ids, as
    zero-padded text (``"00000123"``) or as integers."""
    maps = _id_maps(world)

    def recode(frame: pl.DataFrame) -> pl.DataFrame:
        cols = []
        for col, m in maps.items():
            if col in frame.columns:
                num = pl.col(col).replace_strict(m, return_dtype=pl.Int64)
                cols.append(num.cast(pl.String).str.zfill(ID_WIDTH) if ids == "padded" else num)
        out = frame.with_columns(cols)
        if "bu_id" in out.columns:
            out = out.with_columns(pl.col("bu_id").replace_strict(SPELLED))
        return out

    tables = {**world.tables(), **world.truth_tables()}
    return {name: recode(frame) for name, frame in tables.items()}


def _validate(tables, business_units=tuple(KEYS.values())):
    from pricing_assets.schemas import validate_inputs

    return validate_inputs(
        {"order_lines": tables["order_lines"], "quotes": tables["quotes"]}, list(business_units)
    )


def test_config_lists_business_units_by_key_or_by_the_datas_name(tiny_world):
    cfg = tiny_config(tiny_world).model_copy()
    raw = {**cfg.model_dump(), "business_units": CONFIGURED, "overrides": {"North America": {}}}
    from pricing_assets.config import config_from_dict

    parsed = config_from_dict(raw)
    assert parsed.business_units == list(KEYS.values())
    assert parsed.bu("North America").bu_id == "north_america" == parsed.bu("north_america").bu_id


def test_bu_names_map_to_keys_with_the_datas_name_beside_them(tiny_world):
    clean = _validate(_user_tables(tiny_world))
    for table in ("order_lines", "quotes"):
        pairs = clean[table].select("bu_id", "bu_name").unique().sort("bu_id")
        expected = {KEYS[k]: SPELLED[k] for k in tiny_world.business_units}
        assert dict(pairs.iter_rows()) == expected


def test_invalid_and_colliding_bu_names_are_reported_at_once(tiny_world):
    from shared.validation import DataContractError

    tables = _user_tables(tiny_world)
    lines = tables["order_lines"]
    n = lines.height
    renamed = pl.Series(["north america", "???", "North America"] * (n // 3 + 1))[:n]
    lines = lines.with_columns(bu_id=renamed)
    with pytest.raises(DataContractError) as err:
        _validate({**tables, "order_lines": lines})
    text = str(err.value)
    line = next(ln for ln in text.splitlines() if "different names with one key" in ln)
    assert "'???' has no letter or digit" in line  # both problems, one line
    assert "'North America', 'north america' -> 'north_america'" in line
    assert "Traceback" not in text


@pytest.mark.parametrize("ids", ["padded", "integer"])
def test_integer_or_text_ids_are_kept_as_text_with_their_zeros(tiny_world, ids):
    tables = _user_tables(tiny_world, ids)
    clean = _validate(tables)
    lines = clean["order_lines"]
    for col in ("order_line_id", "deal_id", "customer_id", "product_id"):
        assert lines[col].dtype == pl.String, col
    expected = tables["order_lines"]["order_line_id"].cast(pl.String)
    assert lines["order_line_id"].to_list() == expected.to_list()
    assert lines["order_line_id"].str.starts_with("0").all() == (ids == "padded")
    assert clean["quotes"]["quote_id"].dtype == pl.String


def test_float_ids_are_rejected_naming_the_column(tiny_world):
    from shared.validation import DataContractError

    tables = _user_tables(tiny_world, "integer")
    bad = tables["order_lines"].with_columns(pl.col("deal_id").cast(pl.Float64))
    with pytest.raises(
        DataContractError,
        match=r"'order_lines', column 'deal_id': id must be an integer or a string",
    ):
        _validate({**tables, "order_lines": bad})


def test_a_csv_source_keeps_leading_zeros(tiny_world, tmp_path):
    from pricing_assets.inputs import read_validated_inputs
    from shared.sources import write_folder

    tables = _user_tables(tiny_world)
    folder = write_folder(tmp_path / "csv", tables, fmt="csv")
    clean, _, _ = read_validated_inputs(str(folder), "tiny", 7, list(KEYS.values()))
    assert clean["order_lines"]["order_line_id"].to_list() == (
        tables["order_lines"]["order_line_id"].to_list()
    )
    assert clean["quotes"]["customer_id"].str.len_chars().min() == ID_WIDTH
    assert clean["line_truth"]["order_line_id"].str.starts_with("0").all()


# --- returns -----------------------------------------------------------------------------


def _with_returns(lines: pl.DataFrame, every: int = 25) -> pl.DataFrame:
    """``lines`` plus a return of every ``every``-th line (same prices, negated quantity,
    dated 7 days later, its own order_line_id)."""
    src = lines.filter(pl.int_range(pl.len()) % every == 0)
    returns = src.with_columns(
        order_line_id=pl.col("order_line_id") + "-R",
        quantity=-pl.col("quantity"),
        order_date=pl.col("order_date") + pl.duration(days=7),
    )
    return pl.concat([lines, returns.select(lines.columns)])


def test_returns_are_accepted_and_left_out_of_features_and_training(tiny_world):
    from pricing_assets.features import build_line_features, split_returns

    with_returns = _with_returns(tiny_world.order_lines)
    clean = _validate(
        {"order_lines": with_returns, "quotes": tiny_world.quotes}, ["na", "emea", "apac"]
    )
    sales, returns = split_returns(clean["order_lines"])
    assert returns.height == with_returns.height - tiny_world.order_lines.height > 0
    assert (returns["quantity"] < 0).all() and sales.height == tiny_world.order_lines.height
    # the sale lines' features (discount of a returned line as observed, context, deal size)
    # are exactly those of the data without its returns
    plain = _validate(
        {"order_lines": tiny_world.order_lines, "quotes": tiny_world.quotes}, ["na", "emea", "apac"]
    )
    a = build_line_features(clean["order_lines"], "na", TINY_CUTOFF)
    b = build_line_features(plain["order_lines"], "na", TINY_CUTOFF)
    assert a.drop("bu_name").equals(b.drop("bu_name"))
    assert not a["order_line_id"].str.ends_with("-R").any()


def test_other_negatives_are_still_rejected_naming_the_rows(tiny_world):
    from shared.validation import DataContractError

    lines = tiny_world.order_lines
    row = pl.int_range(pl.len())
    bad = lines.with_columns(
        quantity=pl.when(row == 0).then(0).otherwise(pl.col("quantity")),
        list_price=pl.when(row == 1).then(-pl.col("list_price")).otherwise(pl.col("list_price")),
        sell_price=pl.when(row == 2).then(0.0).otherwise(pl.col("sell_price")),
    )
    with pytest.raises(DataContractError) as err:
        _validate({"order_lines": bad, "quotes": tiny_world.quotes}, ["na", "emea", "apac"])
    text = str(err.value)
    ids = lines["order_line_id"].to_list()
    assert "quantity is 0" in text and ids[0] in text
    assert "column 'list_price'" in text and ids[1] in text
    assert "column 'sell_price'" in text and ids[2] in text


def test_user_style_csv_runs_end_to_end_with_names_ids_and_returns(
    salesml_home, tiny_world, tmp_path
):
    from shared.sources import write_folder

    tables = _user_tables(tiny_world)
    tables["order_lines"] = _with_user_columns(_with_returns(tables["order_lines"]))
    folder = write_folder(tmp_path / "user_csv", tables, fmt="csv")
    extra = {"extra_numeric": ["list_hint"], "extra_categorical": ["channel"]}
    raw = {**tiny_config(tiny_world).model_dump(), "business_units": list(KEYS.values())}
    cfg = PricingConfig.model_validate({**raw, "features": extra})
    defs = build_defs(cfg, source_uri=str(folder))
    instance = dg.DagsterInstance.ephemeral()
    assert _run(defs, INPUTS, instance=instance).success
    pk = dg.MultiPartitionKey({"bu_id": "north_america", "cutoff": TINY_CUTOFF.isoformat()})
    res = _run(defs, PARTITIONED, pk, instance)
    assert res.success, res.get_step_failure_events()
    feats = next(
        m
        for m in res.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "pricing/line_features"
    )
    assert feats.materialization.metadata["returns_excluded"].value > 0
    line = query_warehouse("SELECT * FROM pricing.price_recs_line")
    deal = query_warehouse("SELECT * FROM pricing.price_recs_deal")
    assert set(line["bu_id"]) == {"north_america"} and set(line["bu_name"]) == {"North America"}
    assert set(deal["bu_name"]) == {"North America"}
    for frame, col in ((line, "order_line_id"), (line, "customer_id"), (deal, "deal_id")):
        assert frame[col].dtype == pl.String and frame[col].str.starts_with("0").all(), col
    assert not line["order_line_id"].str.ends_with("-R").any()  # returns are not recommended
    orders = query_warehouse("SELECT * FROM pricing.order_lines")
    assert (orders["quantity"] < 0).sum() > 0  # the returns are kept in the table, as they are
    # the declared user columns are model features of the served bundle
    champ = MLflowTracker().champion(model_name("north_america"))
    assert champ is not None  # the shipped tiny world's candidate passes its gates
    bundle = MLflowTracker().load_model(champ.model_uri)
    assert bundle.point.features[-2:] == ["user_list_hint", "user_channel_code"]
    assert bundle.encoders.extra_categorical == ("channel",)
    assert set(line["model_version"]) == {champ.version}
    card = salesml_home / "reports" / "pricing" / model_name("north_america")
    card = card / f"north_america__{TINY_CUTOFF}" / "model_card.md"
    assert "user_channel_code" in card.read_text()  # the card lists the model's columns


# --- a second, deliberately different world: the segment median is optimal --------------


def test_segment_median_world_has_no_signal_beyond_the_segment():
    from pricing_assets.models import RULE_KEYS
    from pricing_assets.world import generate_world

    seg = generate_world("tiny", 7, "segment_median")
    shipped = generate_world("tiny", 7)
    truth = seg.line_truth.join(seg.order_lines, on="order_line_id")
    per_segment = truth.group_by(["bu_id", *RULE_KEYS]).agg(pl.col("mu").n_unique())
    assert (per_segment["mu"] == 1).all()  # one true median per segment
    assert seg.quotes.equals(shipped.quotes)  # only the discounts' signal differs
    assert not seg.order_lines["sell_price"].equals(shipped.order_lines["sell_price"])
    with pytest.raises(ValueError, match="unknown pricing world variant"):
        generate_world("tiny", 7, "nonsense")


def test_on_the_segment_world_the_truth_passes_point_vs_rule(tiny_world):
    from pricing_assets.quality import evaluate_world

    q = evaluate_world("tiny", 7, cfg=tiny_config(tiny_world), variant="segment_median")
    per_bu = q.per_bu
    assert (per_bu["truth_vs_rule_passed"] == 1).all()  # the truth-like model passes
    assert (per_bu["coverage_passed"] == 1).all()  # the range is still calibrated
    # the candidate is refused by point_vs_rule only when it is worse than the rule by more
    # than the paired noise of this holdout
    refused = per_bu.filter(pl.col("point_vs_rule_passed") == 0)
    assert (refused["mse_vs_rule_diff"] > refused["mse_vs_rule_se"]).all()


def test_segment_world_end_to_end_every_business_unit_is_served(salesml_home, tiny_world):
    small = {"n_estimators": 60, "rf_estimators": 10, "min_child_samples": 20}
    cfg = tiny_config(tiny_world, model=small).model_copy(
        update={"world_variant": "segment_median"}
    )
    defs = build_defs(cfg)  # the embedded world of that variant
    instance = dg.DagsterInstance.ephemeral()
    assert _run(defs, INPUTS, instance=instance).success
    for bu in cfg.business_units:  # refused or promoted, each run decides and recommends
        pk = dg.MultiPartitionKey({"bu_id": bu, "cutoff": TINY_CUTOFF.isoformat()})
        assert _run(defs, PARTITIONED, pk, instance).success
    decisions = query_warehouse("SELECT * FROM pricing.model_decisions")
    line = query_warehouse("SELECT * FROM pricing.price_recs_line")
    served = dict(line.select("bu_id", "model_version").unique().iter_rows())
    assert set(served) == set(cfg.business_units)  # every business unit is served
    for row in decisions.to_dicts():
        # champion when promoted, the rule baseline otherwise; a refusal here is the point
        # model versus the near-optimal rule, never the (well calibrated) range
        assert served[row["bu_id"]] == ("1" if row["promoted"] else "rule-baseline"), row
        if not row["promoted"]:
            assert "point_vs_rule" in row["reason"] and "holdout_coverage" not in row["reason"]
    metrics = query_warehouse(
        "SELECT bu_id, metric, value FROM pricing.model_metrics "
        "WHERE component = 'point' AND model = 'candidate' AND metric LIKE 'mse_vs_rule%'"
    )
    assert metrics.height == 2 * len(cfg.business_units)


# --- extra user columns ------------------------------------------------------------------


def _with_user_columns(lines: pl.DataFrame) -> pl.DataFrame:
    """Two extra columns a user might have: a numeric ``list_hint`` and a ``channel``."""
    row = pl.int_range(pl.len())
    return lines.with_columns(
        list_hint=(pl.col("list_price") * 0.01).round(2),
        channel=pl.when(row % 3 == 0).then(pl.lit("web")).otherwise(pl.lit("partner")),
    )


def test_declared_extra_columns_become_namespaced_features(tiny_world):
    from pricing_assets.config import config_from_dict
    from pricing_assets.features import build_line_features, feature_list
    from pricing_assets.models import fit_point_models

    raw = {
        **tiny_config(tiny_world).model_dump(),
        "features": {"extra_numeric": ["list_hint"], "extra_categorical": ["channel"]},
    }
    cfg = config_from_dict(raw).bu("na")
    x = cfg.features
    lines = _with_user_columns(tiny_world.order_lines)
    clean = _validate(
        {"order_lines": lines, "quotes": tiny_world.quotes},
        ["na", "emea"],
    )
    feats = build_line_features(
        clean["order_lines"], "na", TINY_CUTOFF, 30, 60, x.extra_numeric, x.extra_categorical
    )
    assert (
        feats["channel"].to_list()[:3]
        == lines.filter(pl.col("bu_id") == "na")
        .sort("order_date", "order_line_id")["channel"]
        .to_list()[:3]
    )  # the user's column is kept as it is
    assert set(feats["user_channel_code"].unique()) == {0.0, 1.0}  # partner, web
    assert (feats["user_list_hint"] == feats["list_hint"]).all()
    columns = feature_list(x.extra_numeric, x.extra_categorical)
    assert columns[-2:] == ["user_list_hint", "user_channel_code"]
    small = cfg.model.model_copy(update={"n_estimators": 20, "rf_estimators": 10})
    point = fit_point_models(feats.filter(pl.col("split") == "train"), small, columns)
    assert point.features == columns and len(point.predict(feats)) == feats.height


def test_declared_but_missing_or_non_numeric_extra_columns_are_named(tiny_world):
    from shared.validation import DataContractError

    lines = _with_user_columns(tiny_world.order_lines)
    with pytest.raises(DataContractError) as err:
        from pricing_assets.schemas import validate_inputs

        validate_inputs(
            {"order_lines": lines, "quotes": tiny_world.quotes},
            ["na", "emea"],
            extra_numeric=["channel", "margin_hint"],
            extra_categorical=["segment_code_x"],
        )
    text = str(err.value)
    assert "column 'margin_hint': missing column declared in features.extra_numeric" in text
    assert "column 'segment_code_x': missing column declared in features.extra_categorical" in text
    assert "column 'channel': features.extra_numeric column is String, not numeric" in text


def test_an_input_column_named_like_a_derived_feature_is_never_overwritten(tiny_world):
    from pricing_assets.config import config_from_dict
    from shared.config import ConfigError
    from shared.validation import DataContractError

    lines = tiny_world.order_lines.with_columns(log_qty=pl.lit(1.0), discount=pl.lit(0.1))
    with pytest.raises(DataContractError) as err:
        _validate({"order_lines": lines, "quotes": tiny_world.quotes}, ["na", "emea"])
    text = str(err.value)
    assert "column 'log_qty': a column of this name is derived by pricing" in text
    assert "column 'discount'" in text
    raw = tiny_config(tiny_world).model_dump()
    with pytest.raises(ConfigError, match="'quantity' is a contract or derived"):
        config_from_dict({**raw, "features": {"extra_numeric": ["quantity"]}})
    with pytest.raises(ConfigError, match="location-wide"):
        config_from_dict({**raw, "defaults": {"features": {"extra_numeric": ["x"]}}})
