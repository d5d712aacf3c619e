"""Rescaling, guardrails, floors and the deal range on hand-worked deals."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pricing_assets.config import Guardrails
from pricing_assets.recommend import (
    allocate,
    deal_half_width,
    estimate_within_deal_correlation,
    line_bounds,
    recommend,
    rescale_to_target,
    weighted_discount,
)

# Deal: line A list 100 × 2 (weight 200), median 10 %; line B list 50 × 4 (weight 200), median 30 %.
W = np.array([200.0, 200.0])
M = np.array([0.10, 0.30])


def test_value_weighted_deal_discount():
    assert weighted_discount(M, W) == pytest.approx(0.20)
    assert weighted_discount(M, np.array([300.0, 100.0])) == pytest.approx(0.15)


def test_rescaling_keeps_line_ratios_and_hits_the_target():
    d = rescale_to_target(M, W, 0.25)  # factor 0.25 / 0.20 = 1.25
    np.testing.assert_allclose(d, [0.125, 0.375])
    assert weighted_discount(d, W) == pytest.approx(0.25)
    np.testing.assert_allclose(rescale_to_target(np.zeros(2), W, 0.1), [0.1, 0.1])


def test_guardrail_clip_redistributes_the_gap_to_free_lines():
    lo, cap = line_bounds(
        np.array([100.0, 50.0]), np.array([np.nan, np.nan]), Guardrails(max_discount=0.3)
    )
    np.testing.assert_allclose(cap, [0.3, 0.3])
    d = allocate(M, W, 0.25, lo, cap)
    # B clips from 0.375 to 0.30; the 0.0375 gap × 400 / 200 moves A from 0.125 to 0.20
    np.testing.assert_allclose(d, [0.20, 0.30])
    assert weighted_discount(d, W) == pytest.approx(0.25)


def test_floor_caps_the_line_and_the_infeasible_target_is_clipped():
    lp = np.array([100.0, 50.0])
    lo, cap = line_bounds(lp, np.array([85.0, np.nan]), Guardrails(max_discount=0.6))
    np.testing.assert_allclose(cap, [0.15, 0.6])
    d = allocate(M, W, 0.40, lo, cap)  # most the bounds allow: (0.15 + 0.60) / 2 = 0.375
    np.testing.assert_allclose(d, [0.15, 0.60])
    assert lp[0] * (1 - d[0]) == pytest.approx(85.0)  # final price exactly at the floor


def test_floor_policy_ignore_and_min_discount():
    lo, cap = line_bounds(np.array([100.0]), np.array([90.0]), Guardrails(floor_policy="ignore"))
    assert cap[0] == pytest.approx(0.6) and lo[0] == 0.0
    lo, cap = line_bounds(np.array([100.0]), np.array([99.0]), Guardrails(min_discount=0.05))
    assert cap[0] == pytest.approx(0.01) and lo[0] == pytest.approx(0.01)  # the floor wins


def test_deal_half_width_between_independent_and_comonotone():
    h, w = np.array([0.1, 0.1]), np.array([1.0, 1.0])
    assert deal_half_width(h, w, 1.0) == pytest.approx(0.1)  # average of the line bounds
    assert deal_half_width(h, w, 0.0) == pytest.approx(math.sqrt(0.02) / 2)
    assert deal_half_width(h, w, 0.0) < deal_half_width(h, w, 0.5) < deal_half_width(h, w, 1.0)


def test_within_deal_correlation_is_recovered():
    rng = np.random.default_rng(0)
    n_deals, k, rho = 3000, 3, 0.4
    shared = np.repeat(rng.normal(size=n_deals), k)
    e = math.sqrt(rho) * shared + math.sqrt(1 - rho) * rng.normal(size=n_deals * k)
    frame = pl.DataFrame(
        {
            "deal_id": np.repeat(np.arange(n_deals), k).astype(str),
            "discount": 0.2 + 0.05 * e,
            "median_discount": np.full(n_deals * k, 0.2),
            "lower_discount": np.full(n_deals * k, 0.2 - 1.6449 * 0.05),
            "upper_discount": np.full(n_deals * k, 0.2 + 1.6449 * 0.05),
        }
    )
    assert estimate_within_deal_correlation(frame) == pytest.approx(rho, abs=0.05)


def _deal_lines() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "bu_id": ["na"] * 3,
            "deal_id": ["d1", "d1", "d2"],
            "order_line_id": ["a", "b", "c"],
            "customer_id": ["c1", "c1", "c2"],
            "list_price": [100.0, 50.0, 200.0],
            "quantity": [2.0, 4.0, 1.0],
            "floor_price": [85.0, None, 150.0],
            "unit_cost": [40.0, 20.0, 100.0],
            "lower_discount": [-0.05, 0.20, 0.10],
            "median_discount": [0.10, 0.30, 0.30],
            "upper_discount": [0.20, 0.70, 0.45],
            "discount": [0.12, 0.65, 0.20],
        }
    )


def test_recommend_end_to_end_on_hand_worked_deals():
    lines, deals = recommend(_deal_lines(), Guardrails(max_discount=0.6), rho=0.5)
    by = {r["order_line_id"]: r for r in lines.to_dicts()}
    # d2: one line, median 0.30 but floor 150 on list 200 caps it at 0.25
    assert by["c"]["recommended_discount"] == pytest.approx(0.25)
    assert by["c"]["final_recommended_price"] == pytest.approx(150.0)
    # d1: lines rescaled to the deal median (0.20; A capped at 0.15 by its floor, B takes the gap)
    assert by["a"]["recommended_discount"] == pytest.approx(0.10)
    assert by["b"]["recommended_discount"] == pytest.approx(0.30)
    assert all(r["final_recommended_price"] >= (r["floor_price"] or 0) - 1e-9 for r in by.values())
    # guardrailed ranges: negative lower clipped to 0, B's upper 0.70 clipped to 0.60
    assert by["a"]["lower_discount"] == 0.0 and by["b"]["upper_discount"] == pytest.approx(0.60)
    # coverage before vs after guardrails: B's actual 0.65 is inside the model range only
    assert by["b"]["covered_before_guardrails"] and not by["b"]["covered_after_guardrails"]
    d1 = deals.filter(pl.col("deal_id") == "d1").to_dicts()[0]
    assert d1["deal_value"] == pytest.approx(400.0)
    assert d1["model_median_discount"] == pytest.approx(0.20)
    # deal range with rho = 0.5 lies between independent and comonotone widths
    comonotone_upper = weighted_discount(np.array([0.20, 0.70]), W)
    assert 0.20 < d1["model_upper_discount"] < comonotone_upper
    # without a win model P(win) = 1: the optimum is the smallest discount in the range
    assert d1["optimal_discount"] == pytest.approx(d1["lower_discount"])
    assert d1["expected_margin_impact"] >= 0


def test_expected_margin_optimum_uses_the_win_curve():
    lines = _deal_lines()
    feats = pl.DataFrame({"deal_id": ["d1", "d2"]})

    def curve(_f, grid):  # steep: P(win) rises with discount, saturating
        return 1 / (1 + np.exp(-(grid - 0.15) * 40))

    _, deals = recommend(lines, Guardrails(), 0.5, curve, feats)
    for r in deals.to_dicts():
        grid = np.linspace(r["lower_discount"], r["upper_discount"], 41)
        em = curve(None, grid) * (r["deal_value"] * (1 - grid) - r["deal_cost"])
        assert r["expected_margin_optimal"] == pytest.approx(em.max())
        assert r["expected_margin_optimal"] >= r["expected_margin_median"] - 1e-9


def test_expected_margin_target_moves_the_lines():
    lines = _deal_lines()
    feats = pl.DataFrame({"deal_id": ["d1", "d2"]})

    def curve(_f, grid):
        return 1 / (1 + np.exp(-(grid - 0.15) * 40))

    line_recs, deals = recommend(lines, Guardrails(), 0.5, curve, feats, "expected_margin")
    d1 = deals.filter(pl.col("deal_id") == "d1").row(0, named=True)
    got = line_recs.filter(pl.col("deal_id") == "d1")
    w = (got["list_price"] * got["quantity"]).to_numpy()
    achieved = weighted_discount(got["recommended_discount"].to_numpy(), w)
    assert d1["recommended_discount"] == pytest.approx(d1["optimal_discount"])
    assert achieved == pytest.approx(min(d1["optimal_discount"], d1["max_allowed"]))
