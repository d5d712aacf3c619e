"""The gosales feature matrix written the straightforward pandas way (benchmark reference only).

Per division, per window: filter the frame and ``groupby("customer_id")``; the
way such features are usually first written. It computes the same columns as
``gosales_assets.features.build_features`` (checked column by column in
bench_gosales_features.py) so the speed comparison is like for like. It is not
used by salesml itself.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd

from gosales_assets.features import NEVER_DAYS, OFFSET_DAYS, SHARE_PRIOR, WINDOWS, _slug
from shared.partitions import add_months


def _invoices(tx: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    tx = tx[tx["order_date"] <= pd.Timestamp(cutoff)]
    return tx.groupby(["customer_id", "division", "invoice_id"], as_index=False).agg(
        order_date=("order_date", "min"),
        revenue=("revenue", "sum"),
        gross_profit=("gross_profit", "sum"),
    )


def build_features_pandas(
    tx: pd.DataFrame,
    customers: pd.DataFrame,
    assets: pd.DataFrame,
    cutoff: date,
    divisions: list[str],
    target: str,
) -> pd.DataFrame:
    """Same contract as build_features, with pandas frames (dates as datetime64)."""
    c = pd.Timestamp(cutoff)
    pop = customers[customers["created_date"] <= c].drop_duplicates("customer_id")
    out = pd.DataFrame({"customer_id": np.sort(pop["customer_id"].to_numpy())}).set_index(
        "customer_id"
    )
    out["cal_window_start_month"] = float((cutoff + timedelta(days=1)).month)
    out["cust_tenure_days"] = (c - pop.set_index("customer_id")["created_date"]).dt.days.astype(
        float
    )
    inv = _invoices(tx, cutoff)
    start = {w: pd.Timestamp(add_months(cutoff, -w)) for w in WINDOWS}

    def per_div(d: str) -> pd.DataFrame:
        return inv[inv["division"] == d]

    # target block
    t = per_div(target)
    g = t.groupby("customer_id")
    for w in WINDOWS:
        sub = t[t["order_date"] > start[w]].groupby("customer_id")
        out[f"tgt_tx_count_{w}m"] = sub.size()
        out[f"tgt_revenue_{w}m"] = sub["revenue"].sum()
    out["tgt_gp_12m"] = t[t["order_date"] > start[12]].groupby("customer_id")["gross_profit"].sum()
    off_end = c - pd.Timedelta(days=OFFSET_DAYS)
    off_start = pd.Timestamp(add_months(off_end.date(), -12))
    off = t[(t["order_date"] > off_start) & (t["order_date"] <= off_end)].groupby("customer_id")
    out["tgt_tx_count_12m_off60"] = off.size()
    out["tgt_revenue_12m_off60"] = off["revenue"].sum()
    out = out.fillna(0.0)
    out["tgt_delta_tx_12m"] = out["tgt_tx_count_12m"] - (
        out["tgt_tx_count_24m"] - out["tgt_tx_count_12m"]
    )
    out["tgt_delta_rev_log_12m"] = np.log1p(out["tgt_revenue_12m"]) - np.log1p(
        (out["tgt_revenue_24m"] - out["tgt_revenue_12m"]).clip(lower=0)
    )
    out["tgt_tx_count_all"] = g.size()
    out["tgt_ever"] = g.size().gt(0).astype(float)
    last, first = g["order_date"].max(), g["order_date"].min()
    rec = (c - last).dt.days.astype(float)
    out["tgt_recency_days"] = rec
    out["tgt_recency_log"] = np.log1p(rec)
    for h in (30, 90, 180):
        out[f"tgt_recency_decay_{h}"] = np.exp(-rec / h)
    out["tgt_tenure_days"] = (c - first).dt.days.astype(float)
    n_dates = g["order_date"].nunique().astype(float)
    span = (last - first).dt.days.astype(float)
    cadence = (span / (n_dates - 1)).where(n_dates > 1, 0.0)
    out["tgt_cadence_days"] = cadence
    out["tgt_overdue_ratio"] = (rec / cadence).where(cadence > 0, 0.0)
    t24 = t[t["order_date"] > start[24]]
    quarters = {
        q: t24[(t24["order_date"].dt.month - 1) // 3 + 1 == q].groupby("customer_id").size()
        for q in range(1, 5)
    }
    # monthly trend of the target over 12 months
    t12 = tx[
        (tx["division"] == target) & (tx["order_date"] > start[12]) & (tx["order_date"] <= c)
    ].copy()
    t12["x"] = 11 - np.clip(np.floor((c - t12["order_date"]).dt.days / 30.4375), 0, 11)
    monthly = t12.groupby(["customer_id", "x"], as_index=False)["revenue"].sum()
    mg = monthly.groupby("customer_id")
    sxx = sum((x - 5.5) ** 2 for x in range(12))
    sum_y = mg["revenue"].sum()
    sum_xy = monthly.assign(xy=monthly["x"] * monthly["revenue"]).groupby("customer_id")["xy"].sum()
    sum_y2 = monthly.assign(y2=monthly["revenue"] ** 2).groupby("customer_id")["y2"].sum()
    out["tgt_month_slope_12m"] = (sum_xy - 5.5 * sum_y) / sxx
    out["tgt_month_vol_12m"] = np.sqrt((sum_y2 / 12 - (sum_y / 12) ** 2).clip(lower=0))
    out["tgt_active_months_12m"] = mg.size().astype(float)

    # all-division block
    ag = inv.groupby("customer_id")
    for w in WINDOWS:
        sub = inv[inv["order_date"] > start[w]].groupby("customer_id")
        out[f"all_tx_{w}m"] = sub.size()
    for w in WINDOWS:
        out[f"all_rev_{w}m"] = (
            inv[inv["order_date"] > start[w]].groupby("customer_id")["revenue"].sum()
        )
    out["all_gp_12m"] = (
        inv[inv["order_date"] > start[12]].groupby("customer_id")["gross_profit"].sum()
    )
    out["all_n_divisions_24m"] = (
        inv[inv["order_date"] > start[24]].groupby("customer_id")["division"].nunique()
    )
    out = out.fillna({c_: 0.0 for c_ in out.columns if c_.startswith("all_")})
    out["all_delta_tx_12m"] = out["all_tx_12m"] - (out["all_tx_24m"] - out["all_tx_12m"])
    out["all_recency_log"] = np.log1p((c - ag["order_date"].max()).dt.days.astype(float))
    out["all_tenure_days"] = (c - ag["order_date"].min()).dt.days.astype(float)
    inv24 = inv[inv["order_date"] > start[24]]
    n24 = out["all_tx_24m"]
    for q in range(1, 5):
        cnt = inv24[(inv24["order_date"].dt.month - 1) // 3 + 1 == q].groupby("customer_id").size()
        out[f"all_q{q}_share_24m"] = (cnt.reindex(out.index).fillna(0) / n24).where(n24 > 0, 0.0)
    rev24 = out["all_rev_24m"]
    for d in divisions:
        r = (
            inv24[inv24["division"] == d]
            .groupby("customer_id")["revenue"]
            .sum()
            .reindex(out.index)
            .fillna(0)
        )
        out[f"mix_{d}_share_24m"] = (r / rev24).where(rev24 > 0, 0.0)

    # other divisions
    for d in divisions:
        if d == target:
            continue
        s = per_div(d)
        for w in WINDOWS:
            out[f"d_{d}_tx_{w}m"] = s[s["order_date"] > start[w]].groupby("customer_id").size()
        out[f"d_{d}_rev_12m"] = (
            s[s["order_date"] > start[12]].groupby("customer_id")["revenue"].sum()
        )
        out[f"d_{d}_rev_24m"] = (
            s[s["order_date"] > start[24]].groupby("customer_id")["revenue"].sum()
        )
        out[f"d_{d}_recency_log"] = np.log1p(
            (c - s.groupby("customer_id")["order_date"].max()).dt.days.astype(float)
        )
        out[f"d_{d}_ever"] = s.groupby("customer_id").size().gt(0).astype(float)

    # install base
    ab = assets[(assets["purchase_date"] <= c) & (assets["expiration_date"] > c)]
    ends = {m: pd.Timestamp(add_months(cutoff, m)) for m in (3, 6, 12)}
    for d in divisions:
        a = ab[ab["division"] == d]
        out[f"ib_{d}_active"] = a.groupby("customer_id").size()
        for lo, hi in [(0, 3), (3, 6), (6, 12)]:
            low = c if lo == 0 else ends[lo]
            sel = a[(a["expiration_date"] > low) & (a["expiration_date"] <= ends[hi])]
            out[f"ib_{d}_exp_{lo}_{hi}m"] = sel.groupby("customer_id").size()
    out["ib_days_to_next_expiry"] = (
        ab.groupby("customer_id")["expiration_date"].min() - c
    ).dt.days.astype(float)

    # fills, as in build_features
    for col in out.columns:
        if col.endswith("_recency_days") or col == "ib_days_to_next_expiry":
            out[col] = out[col].fillna(NEVER_DAYS)
        elif col.endswith("_recency_log"):
            out[col] = out[col].fillna(math.log1p(NEVER_DAYS))
    out = out.astype(float).fillna(0.0)
    p_pop = out["tgt_tx_count_24m"].sum() / out["all_tx_24m"].sum()
    out["tgt_share_smoothed_24m"] = (out["tgt_tx_count_24m"] + SHARE_PRIOR * p_pop) / (
        out["all_tx_24m"] + SHARE_PRIOR
    )
    next_q = ((cutoff + timedelta(days=1)).month - 1) // 3 + 1
    nq = quarters[next_q].reindex(out.index).fillna(0)
    out["tgt_next_quarter_share_24m"] = (nq / out["tgt_tx_count_24m"]).where(
        out["tgt_tx_count_24m"] > 0, 0.0
    )
    popi = pop.set_index("customer_id").reindex(out.index)
    for col in ("industry", "region"):
        for v in sorted(popi[col].dropna().unique()):
            out[f"cat_{col}_{_slug(v)}"] = (popi[col] == v).astype(float)
    return out.reset_index()
