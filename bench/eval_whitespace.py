"""Whitespace ranker judged against the demo world's truth, with the demo's champion models.

Run after ``make demo`` (it needs the champions in ``$SALESML_HOME``)::

    SALESML_HOME=$PWD/.salesml .venv/bin/python bench/eval_whitespace.py

Out of time: every champion is scored at the latest month end ``T`` the world has
truth for, and only if its training labels closed by ``T`` (cutoff + window <= T),
so the evaluation window (T, T + window] was never seen in training. The ranked
whitespace rows at ``T`` are then judged by their true purchase probabilities:
the share of all expected purchases that the top 5/10/20% of the list holds,
against the oracle ordering (by true probability) and other rankings. Prints a
markdown table and writes ``bench/whitespace_last_run.json``. Not a test.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl


def main() -> int:
    from gosales_assets.config import load_config
    from gosales_assets.inputs import world_folder
    from gosales_assets.location import LOCATION
    from gosales_assets.scoring import score_division
    from gosales_assets.whitespace import rank_whitespace, truth_capture
    from shared.partitions import add_months
    from shared.tracking import MLflowTracker

    cfg = load_config()
    folder = world_folder(cfg.world_size, cfg.world_seed)
    if not (folder / "_complete").exists():
        print(f"no world at {folder}: run `make demo` first", file=sys.stderr)
        return 1
    customers = pl.read_parquet(folder / "customers.parquet")
    transactions = pl.read_parquet(folder / "transactions.parquet")
    install_base = pl.read_parquet(folder / "assets.parquet")
    truth_all = pl.read_parquet(folder / "ground_truth.parquet")
    as_of = truth_all["cutoff_date"].max()
    truth = truth_all.filter(pl.col("cutoff_date") == as_of)

    tracker = MLflowTracker()
    started = time.perf_counter()
    scores, used = [], {}
    for division in cfg.divisions:
        champ = tracker.champion(LOCATION.model_name(division))
        if champ is None:
            continue
        frame = score_division(
            tracker, champ, division, as_of, customers, transactions, install_base, cfg.divisions
        )
        cutoff, window = frame["cutoff_date"][0], int(frame["prediction_window_months"][0])
        if add_months(cutoff, window) > as_of:
            print(f"skip {division}: labels of cutoff {cutoff} still open at {as_of}")
            continue
        scores.append(frame)
        used[division] = {"version": champ.version, "cutoff": cutoff.isoformat()}
    if not scores:
        print("no champion whose labels closed before the truth date", file=sys.stderr)
        return 1
    icp = pl.concat(scores)
    scored_at = time.perf_counter() - started

    flat = icp.with_columns(icp_score=pl.lit(0.1))  # no propensity: affinity and value only
    variants = {
        "blend (default: pooled, 0.6 / 0.2 / 0.2)": (icp, cfg.whitespace),
        "propensity only, pooled": (
            icp,
            cfg.whitespace.model_copy(update={"weights": {"p_icp_pct": 1.0}}),
        ),
        "blend, per-division percentiles": (
            icp,
            cfg.whitespace.model_copy(update={"normalization": "per_division"}),
        ),
        "affinity + value only (no model)": (flat, cfg.whitespace),
    }
    rows = []
    for name, (frame, wcfg) in variants.items():
        t0 = time.perf_counter()
        ranked = rank_whitespace(frame, transactions, customers, as_of, wcfg)
        seconds = time.perf_counter() - t0
        cap = truth_capture(ranked, truth.filter(pl.col("division").is_in(list(used))))
        row = {"ranking": name, "rows": ranked.height, "seconds": round(seconds, 2)}
        for r in cap.iter_rows(named=True):
            pct = int(round(100 * r["fraction"]))
            row[f"capture@{pct}%"] = round(r["capture"], 3)
            row[f"oracle@{pct}%"] = round(r["oracle_capture"], 3)
            row[f"truth_lift@{pct}%"] = round(r["truth_lift"], 2)
        rows.append(row)
    table = pl.DataFrame(rows)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(250)
    pl.Config.set_fmt_str_lengths(60)
    print(f"truth date {as_of}; champions {used}; scoring {scored_at:.1f} s")
    print(table)
    out = Path(__file__).with_name("whitespace_last_run.json")
    out.write_text(
        json.dumps({"truth_date": as_of.isoformat(), "champions": used, "results": rows}, indent=2)
    )
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
