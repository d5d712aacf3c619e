"""gosales accepts data as users have it: string customer ids with leading zeros, returns
and credit notes, division names as the data spells them."""

from __future__ import annotations

import polars as pl
import pytest

from gosales_assets.features import build_features_all
from gosales_assets.labels import build_labels
from gosales_assets.schemas import validate_inputs
from shared.partitions import add_months, month_end
from shared.validation import DataContractError
from tests.gosales.conftest import tiny_config
from tests.gosales.test_pipeline import _pipeline, _run

WIDTH = 6


def _padded(frame: pl.DataFrame) -> pl.DataFrame:
    """``customer_id`` as a zero-padded string ("000123"), as many CRMs export it."""
    return frame.with_columns(pl.col("customer_id").cast(pl.String).str.zfill(WIDTH))


# The data's spellings of some tiny-world divisions; the config names them as below.
SPELLED = {"hardware": "Hardware", "software": "CAD Seats", "services": "Post_Processing"}
KEYS = {"hardware": "hardware", "software": "cad_seats", "services": "post_processing"}
CONFIG_NAMES = {"hardware": "hardware", "software": "CAD Seats", "services": "post_processing"}


def _spelled(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("division").replace(SPELLED))


def _keyed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("division").replace(KEYS))


def _string_tables(world) -> dict[str, pl.DataFrame]:
    return {name: _padded(frame) for name, frame in world.tables().items()}


@pytest.fixture(scope="module")
def string_source(tiny_world, tmp_path_factory):
    from shared.sources import write_folder

    folder = tmp_path_factory.mktemp("tiny_gosales_string_ids")
    tables = {
        n: _spelled(f) if "division" in f.columns else f
        for n, f in _string_tables(tiny_world).items()
    }
    write_folder(folder, {**tables, "ground_truth": _keyed(_padded(tiny_world.truth))})
    return folder


def test_features_and_labels_on_string_ids_equal_those_on_integer_ids(tiny_world):
    w, s = tiny_world, _string_tables(tiny_world)
    cutoff = month_end(add_months(w.as_of, -12))
    ints = build_features_all(w.transactions, w.customers, w.assets, cutoff, w.divisions)
    strs = build_features_all(s["transactions"], s["customers"], s["assets"], cutoff, w.divisions)
    for d in w.divisions:
        a, b = _padded(ints[d]), strs[d]
        assert b.schema["customer_id"] == pl.String
        assert b["customer_id"][0].startswith("0")
        assert a.equals(b), d  # same rows (in the same order), same values
    la = build_labels(w.transactions, w.customers, w.divisions[0], cutoff, 6)
    lb = build_labels(s["transactions"], s["customers"], w.divisions[0], cutoff, 6)
    assert _padded(la).equals(lb)


def test_string_ids_and_spelled_divisions_run_end_to_end(salesml_home, tiny_world, string_source):
    """Zero-padded string ids and divisions spelled ``Hardware``, ``CAD Seats``: the
    pipeline runs, and the outputs keep the padded ids and show the data's spelling."""
    from gosales_assets.config import GosalesConfig
    from gosales_assets.definitions import build_defs
    from shared.storage import query_warehouse

    raw = tiny_config(tiny_world).model_dump()
    raw["divisions"] = [CONFIG_NAMES.get(d, d) for d in tiny_world.divisions]
    cfg = GosalesConfig.model_validate(raw)
    assert cfg.divisions[:3] == ["hardware", "cad_seats", "post_processing"]
    _, results = _pipeline(cfg, string_source)
    assert all(r.success for r in results), [r.get_step_failure_events() for r in results]
    defs = build_defs(cfg, source_uri=str(string_source))
    for other in cfg.divisions[1:]:
        assert _run(defs, ["gosales/icp_scores"], other).success
    assert _run(defs, ["gosales/whitespace"]).success

    expected = set(_padded(tiny_world.customers)["customer_id"])
    scores = query_warehouse("SELECT * FROM gosales.icp_scores")
    assert scores.schema["customer_id"] == pl.String
    champion_rows = scores.filter(pl.col("model_version") != "rule-baseline")
    assert champion_rows.height == tiny_world.customers.height  # one division has a champion
    assert set(champion_rows["customer_id"]) == expected
    assert scores.height == tiny_world.customers.height * len(cfg.divisions)  # rule serves rest
    ws = query_warehouse("SELECT * FROM gosales.whitespace")
    assert ws.height > 0 and ws.schema["customer_id"] == pl.String
    assert set(ws["customer_id"]) <= expected
    assert all(len(c) == WIDTH for c in ws["customer_id"])
    assert set(champion_rows["division_name"]) == {"Hardware"}  # the data's spelling
    assert {"Hardware", "CAD Seats"} <= set(ws["division"])
    assert ws["nba_reason"].str.contains("Hardware").any()


# --- returns and credit notes ------------------------------------------------------------


def _return_of(lines: pl.DataFrame, fraction: float = 1.0) -> pl.DataFrame:
    """Return lines cancelling ``fraction`` of ``lines`` (same day, new transaction ids)."""
    return lines.with_columns(
        transaction_id=pl.col("transaction_id") + 10**9,
        invoice_id=pl.col("invoice_id").cast(pl.String) + "-CN",
        quantity=-pl.col("quantity"),
        revenue=-(pl.col("revenue") * fraction).round(2),
        gross_profit=-(pl.col("gross_profit") * fraction).round(2),
    )


def _window_lines(world, customer, division, cutoff, months=6) -> pl.DataFrame:
    return world.transactions.filter(
        (pl.col("customer_id") == customer)
        & (pl.col("division") == division)
        & (pl.col("order_date") > cutoff)
        & (pl.col("order_date") <= add_months(cutoff, months))
    )


def _with(world, extra: pl.DataFrame) -> pl.DataFrame:
    tx = world.transactions.with_columns(pl.col("invoice_id").cast(pl.String))
    return pl.concat([tx, extra.select(tx.columns)])


def test_a_purchase_returned_in_the_label_window_is_not_a_purchase(tiny_world):
    w = tiny_world
    cutoff = month_end(add_months(w.as_of, -12))
    labels = build_labels(w.transactions, w.customers, "hardware", cutoff, 6)
    buyers = labels.filter(pl.col("label") == 1)["customer_id"].to_list()
    full, part = buyers[0], buyers[1]
    returns = pl.concat(
        [
            _return_of(_window_lines(w, full, "hardware", cutoff)),
            _return_of(_window_lines(w, part, "hardware", cutoff), fraction=0.5),
        ]
    )
    tx = _with(w, returns)
    validate_inputs({**w.tables(), "transactions": tx}, w.as_of)  # returns are accepted
    after = build_labels(tx, w.customers, "hardware", cutoff, 6)
    got = dict(zip(after["customer_id"], after["label"], strict=True))
    assert got[full] == 0  # fully returned: nets to 0
    assert got[part] == 1  # half returned: still a purchase
    assert after["label"].sum() == labels["label"].sum() - 1


def test_features_net_returns_and_do_not_count_credit_notes(tiny_world):
    w = tiny_world
    cutoff = month_end(add_months(w.as_of, -12))
    before = build_features_all(w.transactions, w.customers, w.assets, cutoff, w.divisions)
    hw = before["hardware"].filter(pl.col("tgt_tx_count_12m") > 0).row(0, named=True)
    customer = hw["customer_id"]
    last = w.transactions.filter(
        (pl.col("customer_id") == customer)
        & (pl.col("division") == "hardware")
        & (pl.col("order_date") <= cutoff)
    ).sort("order_date")
    # a credit note for 40% of the customer's last hardware invoice, a week after it
    # (still before the cutoff): its own invoice, negative quantity and revenue
    lines = last.filter(pl.col("invoice_id") == last["invoice_id"][-1])
    credit = _return_of(lines, fraction=0.4).with_columns(
        order_date=pl.min_horizontal(pl.col("order_date") + pl.duration(days=7), pl.lit(cutoff))
    )
    after = build_features_all(_with(w, credit), w.customers, w.assets, cutoff, w.divisions)
    a = after["hardware"].filter(pl.col("customer_id") == customer).row(0, named=True)
    refund = float(credit["revenue"].sum())
    assert refund < 0
    assert a["tgt_revenue_12m"] == pytest.approx(hw["tgt_revenue_12m"] + refund)  # net
    assert a["tgt_gp_12m"] == pytest.approx(hw["tgt_gp_12m"] + float(credit["gross_profit"].sum()))
    assert a["all_rev_12m"] == pytest.approx(hw["all_rev_12m"] + refund)
    assert a["tgt_tx_count_12m"] == hw["tgt_tx_count_12m"]  # a credit note is not an invoice
    assert a["all_tx_12m"] == hw["all_tx_12m"]
    assert a["tgt_recency_days"] == hw["tgt_recency_days"]  # nor a purchase date
    others = after["hardware"].filter(pl.col("customer_id") != customer)
    assert others.equals(before["hardware"].filter(pl.col("customer_id") != customer))


def test_contradicting_negative_lines_are_still_rejected_naming_rows(tiny_world):
    w = tiny_world
    tx = w.transactions
    bad_ids = tx["transaction_id"][:2].to_list()
    bad = tx.with_columns(
        quantity=pl.when(pl.col("transaction_id").is_in(bad_ids))
        .then(-pl.col("quantity"))  # negative quantity, revenue still positive
        .otherwise(pl.col("quantity")),
        revenue=pl.when(pl.col("transaction_id") == tx["transaction_id"][5])
        .then(-10.0)  # negative revenue on a positive quantity
        .otherwise(pl.col("revenue")),
    )
    with pytest.raises(DataContractError) as info:
        validate_inputs({**w.tables(), "transactions": bad}, w.as_of)
    found = {(v.table, v.column): v for v in info.value.violations}
    q = found[("transactions", "quantity")]
    assert q.n_rows == 2 and {e["transaction_id"] for e in q.examples} == set(bad_ids)
    assert "negative quantity with positive revenue" in q.rule
    r = found[("transactions", "revenue")]
    assert r.n_rows == 1 and r.examples[0]["transaction_id"] == tx["transaction_id"][5]
    # a return (negative quantity, non-positive revenue) on the same rows is accepted
    ok = bad.with_columns(
        revenue=pl.when(pl.col("quantity") < 0)
        .then(-pl.col("revenue"))
        .otherwise(pl.col("revenue").abs())
    )
    assert validate_inputs({**w.tables(), "transactions": ok}, w.as_of)["transactions"].height


# --- division names ----------------------------------------------------------------------


def test_config_divisions_as_keys_or_as_the_data_spells_them():
    from gosales_assets.config import GosalesConfig

    cfg = GosalesConfig.model_validate(
        {
            "divisions": ["Post_Processing", "CAD Seats", "hardware", "Solid-Works 3D"],
            "cutoffs": ["2023-06-30"],
            "window_overrides": {"CAD Seats": 3},
            "gates": {"overrides": {"Post_Processing": {"auc_min": 0.6}}},
        }
    )
    assert cfg.divisions == ["post_processing", "cad_seats", "hardware", "solid-works_3d"]
    assert cfg.window_for("cad_seats") == 3 and cfg.window_for("CAD Seats") == 3
    assert cfg.gates.floors_for("post_processing")["auc_min"] == 0.6


def test_invalid_and_colliding_division_names_are_reported_at_once_in_one_line(tmp_path):
    import yaml

    from gosales_assets.config import DEFAULT_CONFIG, load_config
    from shared.config import ConfigError

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["divisions"] = ["Hardware", "hardware", "d" * 300, "***", "CAD Seats", "cad seats"]
    path = tmp_path / "gosales.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    line = next(x for x in message.splitlines() if "divisions" in x)
    for part in ("divisions.2", "divisions.3 '***'", "'Hardware', 'hardware' -> 'hardware'"):
        assert part in line
    assert "'CAD Seats', 'cad seats' -> 'cad_seats'" in line


def test_data_division_names_map_to_the_configured_keys(tiny_world):
    w = tiny_world
    tables = {n: _spelled(f) if "division" in f.columns else f for n, f in w.tables().items()}
    clean = validate_inputs(tables, w.as_of)
    tx = clean["transactions"]
    assert set(tx["division"]) == set(w.divisions) - {"software", "services"} | {
        "cad_seats",
        "post_processing",
    }
    assert set(tx.filter(pl.col("division") == "cad_seats")["division_name"]) == {"CAD Seats"}
    assert set(clean["assets"]["division"]) <= set(tx["division"]) | set(w.divisions)
    cutoff = month_end(add_months(w.as_of, -12))
    # "Hardware" in the data is config's "hardware": the same positives, not 0
    want = build_labels(w.transactions, w.customers, "hardware", cutoff, 6)
    got = build_labels(tx, clean["customers"], "hardware", cutoff, 6)
    assert got["label"].sum() == want["label"].sum() > 0
    got = build_labels(tx, clean["customers"], "cad_seats", cutoff, 6)
    assert (
        got["label"].sum()
        == build_labels(w.transactions, w.customers, "software", cutoff, 6)["label"].sum()
    )


def test_colliding_division_names_in_the_data_are_rejected_naming_the_table(tiny_world):
    w = tiny_world
    tx = w.transactions.with_columns(
        division=pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit("HARDWARE"))
        .otherwise(pl.col("division"))
    )
    with pytest.raises(DataContractError) as info:
        validate_inputs({**w.tables(), "transactions": tx}, w.as_of)
    v = next(v for v in info.value.violations if v.column == "division")
    assert v.table == "transactions" and "'HARDWARE', 'hardware' -> 'hardware'" in v.rule
    assert v.n_rows > 3  # every row of both spellings


def test_output_schemas_take_integer_or_string_ids_only():
    from datetime import date

    from gosales_assets.output_schemas import IcpScoresSchema
    from gosales_assets.scoring import icp_schema

    row = {
        "run_id": ["r"],
        "model_version": ["1"],
        "division_name": ["CAD Seats"],
        "cutoff_date": [date(2024, 1, 31)],
        "as_of_date": [date(2024, 7, 31)],
        "prediction_window_months": pl.Series([6], dtype=pl.Int32),
        "customer_name": ["a"],
        "icp_score": [0.5],
        "calibration_method": ["sigmoid"],
        "rank": pl.Series([1], dtype=pl.Int32),
    }
    for ids in (["000123"], [123]):
        assert IcpScoresSchema.validate(pl.DataFrame({**row, "customer_id": ids})).height == 1
    with pytest.raises(Exception, match="integer or a string"):
        IcpScoresSchema.validate(pl.DataFrame({**row, "customer_id": [1.5]}))
    strings = pl.DataFrame({"customer_id": ["000123"]})
    assert icp_schema(strings)["customer_id"] == pl.String  # the empty frame of no champion


def test_a_zero_revenue_invoice_without_a_return_is_not_a_purchase(tiny_world):
    """An invoice netting to 0 with no return line (a free replacement) labels 0; the
    customer's features still count it as an order."""
    w = tiny_world
    cutoff = month_end(add_months(w.as_of, -12))
    labels = build_labels(w.transactions, w.customers, "hardware", cutoff, 6)
    outside = labels.filter(pl.col("label") == 0)["customer_id"].to_list()[:2]
    template = w.transactions.filter(pl.col("division") == "hardware").head(1)
    zero = pl.concat(
        [
            template.with_columns(
                transaction_id=pl.lit(10**9 + i, pl.Int64),
                invoice_id=pl.lit(f"Z{i}"),
                customer_id=pl.lit(c, pl.Int64),
                order_date=pl.lit(add_months(cutoff, 2)),
                revenue=pl.lit(0.0),
                gross_profit=pl.lit(0.0),
                quantity=pl.lit(1.0 if i == 0 else 0.0),
            )
            for i, c in enumerate(outside)
        ]
    )
    tx = _with(w, zero)
    validate_inputs({**w.tables(), "transactions": tx}, w.as_of)  # accepted by the contract
    after = build_labels(tx, w.customers, "hardware", cutoff, 6)
    got = dict(zip(after["customer_id"], after["label"], strict=True))
    assert [got[c] for c in outside] == [0, 0]
    assert after["label"].sum() == labels["label"].sum()
    # a positive invoice the same day does make the same customer a buyer
    paid = zero.head(1).with_columns(
        transaction_id=pl.lit(2 * 10**9, pl.Int64), revenue=pl.lit(10.0)
    )
    again = build_labels(_with(w, pl.concat([zero, paid])), w.customers, "hardware", cutoff, 6)
    assert dict(zip(again["customer_id"], again["label"], strict=True))[outside[0]] == 1
