"""Model cards: counts print as integers, importance as a table, plots inline in the UI and as
PNG files beside the card; and the gains table against capture_at."""

from __future__ import annotations

import base64
import json

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import plots
from shared.dagster_helpers import md_table
from shared.metrics import calibration_bins, capture_at, gains_table
from shared.modelcard import format_value, importance_rows, render_model_card, write_model_card

PNG_MAGIC = b"\x89PNG"


def _card() -> dict:
    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    return {
        "title": "m — cutoff 2024-01-31",
        "data": {"holdout_rows": 4152.0, "base_rate": 0.1234567},
        "importance": importance_rows(["a", "b", "c"], [1.0, 3.0, 0.0]),
        "plots": {"Calibration curve": plots.calibration_png(calibration_bins(y, p))},
    }


def test_counts_are_integers_and_other_floats_keep_their_precision():
    assert format_value(4152.0) == "4152" and format_value(0.1234567) == "0.1235"
    assert format_value(float("nan")) == "n/a" and format_value("x") == "x"
    table = md_table(pl.DataFrame({"n": [41520.0], "auc": [0.81234]}))
    assert "| 41520 | 0.8123 |" in table  # not 4.152e+04


def test_importance_rows_are_sorted_with_shares_summing_to_one():
    rows = importance_rows(["a", "b", "c"], [1.0, -3.0, 0.0])
    assert [r["feature"] for r in rows] == ["b", "a", "c"]
    assert np.isclose(sum(r["share"] for r in rows), 1.0)


def test_the_ui_markdown_inlines_the_plot_and_the_files_reference_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESML_HOME", str(tmp_path))
    card = _card()
    md = render_model_card(card)
    assert "| holdout_rows | 4152 |" in md
    assert "## Feature importance (top 3 of 3)" in md and "| `b` | 3 | 75.0% |" in md
    uri = md.split("(data:image/png;base64,")[1].split(")")[0]
    assert base64.b64decode(uri).startswith(PNG_MAGIC)
    md_path, json_path = write_model_card("gosales", "m", "2024-01-31|x", card)
    png = md_path.parent / "calibration_curve.png"
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert "![Calibration curve](calibration_curve.png)" in md_path.read_text()
    data = json.loads(json_path.read_text())
    assert "plots" not in data and data["plot_files"] == ["calibration_curve.png"]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=20, max_value=300), st.integers(min_value=0, max_value=10_000))
def test_gains_table_is_capture_at_each_fraction_and_ends_at_one(n, seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    y[0] = 1
    p = rng.random(n)
    g = gains_table(y, {"m": p})
    assert g["capture"].to_list() == [capture_at(y, p, f) for f in g["frac"]]
    assert g["capture"][-1] == 1.0 and g["capture"].is_sorted()


def test_trend_plot_draws_one_line_per_group():
    trend = pl.DataFrame(
        {
            "cutoff": ["2023-09-30", "2023-12-31"] * 2,
            "auc": [0.8, 0.82, 0.7, 0.71],
            "d": ["a", "a", "b", "b"],
        }
    )
    assert plots.trend_png(trend, "cutoff", "auc", "d", "AUC").startswith(PNG_MAGIC)


def test_coverage_plot_takes_coverage_outside_its_interval():
    cov = pl.DataFrame(
        {
            "group": ["a", "b"],
            "coverage": [0.9, 0.95],
            "accept_lo": [0.87, 0.86],
            "accept_hi": [0.93, 0.94],
        }
    )
    assert plots.coverage_png(cov, 0.9).startswith(PNG_MAGIC)
