"""GoSales forward validation (pure logic, polars/numpy in and out, no Dagster).

Four questions about a model that serves, all out of time and on the *holdout customers*
(the :func:`gosales_assets.training.customer_groups` group no model was ever trained on):

1. **Prequential curve** (:func:`prequential`). The frozen model, trained at cutoff ``C``
   with window ``W``, is scored at every month end ``t = C + h`` (``h`` = horizon in
   months after the training cutoff, 1 .. ``max_horizon``): features as of ``t`` (only
   rows dated ``<= t``), labels in ``(t, t + W]`` (:mod:`gosales_assets.labels`). A
   horizon whose label window has not closed by the data's as-of date is listed as
   ``censored`` with no metric and is never gated. The *reference* horizon is ``h = W``:
   the model's own out-of-time holdout (``training.training_frames``), the value it was
   judged on. Horizons ``h < W`` score label windows that overlap the training labels in
   time (never in customers) and are flagged ``overlaps_training_window``. A later horizon
   beating the reference AUC by more than ``early_gain_z`` standard errors of the
   difference is an "early gain" (:func:`early_gain_report`): a gentle decline is expected,
   a gain suggests the features see something they should not.
2. **Customer-block bootstrap CIs** (:func:`scenario_bootstrap`) of the yield of capacity
   scenarios on one holdout: top-K% of customers, each rep's top N (``per_rep``) and the
   top K% of each segment (``hybrid``). Per scenario: capture (share of buyers reached),
   precision, revenue capture and realized gross profit of the selected customers in the
   label window, with percentile 95% intervals over ``n_boot`` resamples of customers
   (with replacement, fixed seed; all resamples at once in numpy, in chunks).
3. **Scenario ranking rule** (:func:`ranking_rule`): order customers by expected gross
   profit ``p × EV`` when the model's calibration MAE is within a bound (a probability
   can be multiplied by money only when it is calibrated), else by ``p`` (capture).
4. **Base-rate guard** (:func:`base_rate_report`): holdout prevalence outside
   ``[prevalence_min, prevalence_max]`` is a warning (rankings and CIs of a very rare or a
   majority event are fragile).

:func:`score_as_of` scores customers as they were at any past date.

Money: ``revenue`` and ``gross_profit`` are the contract's columns (reporting currency),
net of returns, summed over the customer's lines of the target division in the label
window (:func:`window_outcomes`). ``gross_profit`` is optional in the contract: without it
(or with nulls in it) the GP columns are null and reported "not available".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from gosales_assets import features as gs_features
from gosales_assets import labels as gs_labels
from gosales_assets import training
from shared.gates import Gate, GateReport, gate
from shared.metrics import auc_standard_error, classification_summary
from shared.partitions import add_months

Scorer = Callable[[pl.DataFrame], np.ndarray]
"""Feature frame (one row per customer, model feature columns) -> probability per row."""

CURVE_METRICS = ("auc", "pr_auc", "lift_at_10", "brier", "calibration_mae")
"""The metrics plotted and put in metadata per horizon."""
HORIZON_COLUMNS = (
    "n",
    "positives",
    "prevalence",
    "auc",
    "auc_se",
    "pr_auc",
    "lift_at_10",
    "capture_at_10",
    "brier",
    "calibration_mae",
)
"""The columns :func:`curve_row` fills per measured horizon (Float64; null when censored)."""
YIELD_METRICS = (
    "selected",
    "capture",
    "precision",
    "revenue_capture",
    "realized_gp",
    "expected_gp",
)


# --- as-of scoring ---------------------------------------------------------------------------


def score_as_of(
    model: Any,
    tables: Mapping[str, pl.DataFrame | None],
    as_of: date,
    *,
    division: str,
    divisions: Sequence[str],
    features: Sequence[str] | None = None,
    missing: training.MissingFeatures = "error",
) -> pl.DataFrame:
    """Score every customer as they were at ``as_of`` (a past date or today).

    In: ``model`` with ``predict_proba`` (a :class:`training.Candidate` carries its
    ``features``; an MLflow-loaded model needs ``features`` from its ``model_meta.json``);
    ``tables`` = ``customers``, ``transactions``, optional ``install_base`` (validated
    contract tables, may extend past ``as_of``). Every row dated after ``as_of`` is
    deleted before anything is computed (:func:`features.truncate_inputs`), so the scores
    are exactly those the model would have given on that day.
    Out: ``customer_id``, ``p`` (probability of buying into ``division`` within the
    model's window after ``as_of``), one row per customer created on or before ``as_of``,
    sorted by ``customer_id``.
    """
    ib = tables.get("install_base")
    ib = ib if ib is not None and ib.width else None
    tx, cu, ab = gs_features.truncate_inputs(tables["transactions"], tables["customers"], ib, as_of)
    feats = gs_features.build_features(tx, cu, ab, as_of, list(divisions), target_division=division)
    cols = list(features if features is not None else model.features)
    p = model.predict_proba(training.matrix(feats, cols, missing))[:, 1]
    return feats.select("customer_id").with_columns(p=pl.Series(p, dtype=pl.Float64))


# --- label-window outcomes --------------------------------------------------------------------


def has_gross_profit(transactions: pl.DataFrame) -> bool:
    """Whether realized gross profit can be reported: the optional ``gross_profit`` column
    exists and has no null (a partial GP would understate the realized profit)."""
    return "gross_profit" in transactions.columns and transactions["gross_profit"].null_count() == 0


def window_outcomes(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    division: str,
    cutoff: date,
    window_months: int,
) -> pl.DataFrame:
    """What each customer did in the label window ``(cutoff, cutoff + W]``.

    Out: ``customer_id``, ``label`` (Int8, exactly :func:`labels.build_labels`),
    ``revenue`` and ``gross_profit`` (Float64, net of returns, the division's lines in the
    window; 0 without lines; ``gross_profit`` null when :func:`has_gross_profit` is false).
    One row per customer created on or before ``cutoff``. Raises ValueError on an open
    window (like the labels).
    """
    labs = gs_labels.build_labels(transactions, customers, division, cutoff, window_months)
    end = gs_labels.window_end(cutoff, window_months)
    gp = has_gross_profit(transactions)
    money = (
        transactions.filter(
            (pl.col("division") == division)
            & (pl.col("order_date") > cutoff)
            & (pl.col("order_date") <= end)
        )
        .group_by("customer_id")
        .agg(
            gs_labels.micro("revenue").sum(),
            *([gs_labels.micro("gross_profit").sum()] if gp else []),
        )
    )
    out = labs.join(money, on="customer_id", how="left").with_columns(
        (pl.col("revenue").fill_null(0) / gs_labels.MICRO).cast(pl.Float64)
    )
    if gp:
        return out.with_columns(
            (pl.col("gross_profit").fill_null(0) / gs_labels.MICRO).cast(pl.Float64)
        )
    return out.with_columns(gross_profit=pl.lit(None, pl.Float64))


def expected_gp(
    transactions: pl.DataFrame,
    customers: pl.DataFrame,
    division: str,
    as_of: date,
    window_months: int,
    lookback_months: int = 24,
    shrinkage: float = 20.0,
) -> pl.DataFrame:
    """Expected gross profit (currency) of a customer who buys ``division`` within the
    window after ``as_of``: the whitespace ranker's expected annual spend per industry
    (:func:`whitespace.expected_value`, buyers' median shrunk to the division's) times
    ``W / 12`` times the division's gross margin over the lookback (revenue when gross
    profit is not available). Everything from lines dated ``<= as_of``.

    Out: ``customer_id``, ``ev`` (Float64, >= 0), one row per customer of ``customers``.
    """
    from gosales_assets import whitespace as ws

    tx = transactions.filter(pl.col("order_date") <= as_of)
    owned = ws.ownership(tx, as_of, lookback_months)
    ev = ws.expected_value(owned, customers, lookback_months, shrinkage).filter(
        pl.col("division") == division
    )
    recent = tx.filter(
        (pl.col("division") == division)
        & (pl.col("order_date") > add_months(as_of, -lookback_months))
    )
    margin = 1.0
    if has_gross_profit(transactions) and recent.height:
        rev = float(recent["revenue"].sum())
        margin = float(recent["gross_profit"].sum()) / rev if rev > 0 else 0.0
    scale = max(margin, 0.0) * window_months / 12.0
    return (
        customers.select("customer_id", industry=pl.col("industry").fill_null("unknown"))
        .join(ev.select("industry", "expected_value"), on="industry", how="left")
        .select(
            "customer_id",
            ev=(pl.col("expected_value").fill_null(0.0).clip(lower_bound=0.0) * scale).cast(
                pl.Float64
            ),
        )
    )


# --- prequential ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrozenModel:
    """The model a prequential curve follows: how it scores, when it was trained, and what
    it is (``label``: ``champion v3``, or ``candidate (no champion serving)``)."""

    scorer: Scorer
    cutoff: date
    window_months: int
    label: str


def horizon_grid(cutoff: date, window_months: int, as_of: date, max_horizon: int) -> pl.DataFrame:
    """Month ends ``t = cutoff + h`` for ``h = 1 .. max_horizon``: ``horizon``,
    ``score_cutoff`` (t), ``window_end`` (t + W), ``censored`` (window not closed by
    ``as_of``), ``overlaps_training_window`` (h < W: the label window overlaps the training
    labels ``(cutoff, cutoff + W]`` in time)."""
    rows = []
    for h in range(1, max_horizon + 1):
        t = add_months(cutoff, h)
        end = gs_labels.window_end(t, window_months)
        rows.append(
            {
                "horizon": h,
                "score_cutoff": t,
                "window_end": end,
                "censored": end > as_of,
                "overlaps_training_window": h < window_months,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"horizon": pl.Int32})


def scored_frame(
    frozen: FrozenModel,
    *,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame | None,
    division: str,
    divisions: Sequence[str],
    at: date,
    customer_ids: pl.Series,
) -> pl.DataFrame:
    """The frozen model's scores at month end ``at`` on ``customer_ids`` with what they did
    in ``(at, at + W]``: ``customer_id, p, label, revenue, gross_profit`` plus the customer
    attributes (``industry``, ``region``, ``rep_id``, ... whichever exist), sorted by id."""
    feats = gs_features.build_features(
        transactions, customers, install_base, at, list(divisions), target_division=division
    )
    outcome = window_outcomes(transactions, customers, division, at, frozen.window_months)
    frame = (
        feats.join(outcome, on="customer_id", how="inner")
        .filter(pl.col("customer_id").is_in(customer_ids.implode()))
        .sort("customer_id")
    )
    attrs = [c for c in customers.columns if c not in ("customer_name", "created_date")]
    return (
        frame.select("customer_id", "label", "revenue", "gross_profit")
        .with_columns(p=pl.Series(frozen.scorer(frame), dtype=pl.Float64))
        .join(customers.select(attrs), on="customer_id", how="left")
    )


def curve_row(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """One horizon's metrics: n, positives, prevalence, AUC (+ Hanley-McNeil SE), PR-AUC,
    lift@10%, capture@10%, Brier, calibration MAE (:func:`shared.metrics.classification_summary`)."""
    m = classification_summary(y, p, fracs=(0.10,))
    m["auc_se"] = auc_standard_error(m["auc"], int(y.sum()), int(y.size - y.sum()))
    return {k: m[k] for k in HORIZON_COLUMNS}


def prequential(
    frozen: FrozenModel,
    *,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame | None,
    division: str,
    divisions: Sequence[str],
    customer_ids: pl.Series,
    as_of: date,
    max_horizon: int,
    keep: Sequence[date] = (),
    truth: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[date, pl.DataFrame]]:
    """The prequential curve of ``frozen`` on ``customer_ids`` (see the module docstring).

    Out: (curve, frames). ``curve``: one row per horizon of :func:`horizon_grid` with
    ``status`` (``measured`` / ``censored``), ``reference`` (h = W) and the metrics of
    :func:`curve_row` (null when censored). ``frames``: the :func:`scored_frame` of each
    measured score cutoff in ``keep`` (for the bootstrap; nothing is scored twice).
    ``truth`` (synthetic worlds: ``customer_id, division, cutoff_date, window_months,
    true_prob``) adds ``oracle_auc``, the AUC of the true probabilities on the same rows
    (null where the truth does not cover them): what any model could reach at that horizon.
    """
    grid = horizon_grid(frozen.cutoff, frozen.window_months, as_of, max_horizon)
    rows, frames = [], {}
    for g in grid.to_dicts():
        row: dict[str, Any] = {
            **g,
            "status": "censored" if g["censored"] else "measured",
            "reference": g["horizon"] == frozen.window_months,
        }
        if not g["censored"]:
            frame = scored_frame(
                frozen,
                customers=customers,
                transactions=transactions,
                install_base=install_base,
                division=division,
                divisions=divisions,
                at=g["score_cutoff"],
                customer_ids=customer_ids,
            )
            if frame.height:
                row.update(curve_row(frame["label"].to_numpy(), frame["p"].to_numpy()))
                row["oracle_auc"] = oracle_auc(frame, truth, division, g["score_cutoff"], frozen)
            else:
                row["status"] = "no customers"
            if g["score_cutoff"] in keep:
                frames[g["score_cutoff"]] = frame
        rows.append(row)
    metric_cols = (*HORIZON_COLUMNS, "oracle_auc")
    curve = pl.DataFrame(
        rows, schema_overrides={c: pl.Float64 for c in metric_cols}, infer_schema_length=None
    )
    for c in metric_cols:
        if c not in curve.columns:
            curve = curve.with_columns(pl.lit(None, pl.Float64).alias(c))
    head = pl.DataFrame(
        {"division": [division], "model_cutoff": [frozen.cutoff], "model": [frozen.label]}
    )
    curve = (
        head.join(curve, how="cross").fill_nan(None).with_columns(pl.col("horizon").cast(pl.Int32))
    )
    return curve, frames


def oracle_auc(
    frame: pl.DataFrame, truth: pl.DataFrame | None, division: str, at: date, frozen: FrozenModel
) -> float | None:
    """AUC of the true probabilities at ``at`` (window ``frozen.window_months``) on the rows
    of ``frame``; None without a truth covering every row."""
    from shared.metrics import roc_auc

    if truth is None or truth.height == 0:
        return None
    same = (pl.col("division") == division) & (pl.col("cutoff_date") == at)
    if "window_months" in truth.columns:
        same = same & (pl.col("window_months") == frozen.window_months)
    joined = frame.select("customer_id", "label").join(
        truth.filter(same).select("customer_id", "true_prob"), on="customer_id", how="left"
    )
    if joined.height == 0 or joined["true_prob"].null_count():
        return None
    return roc_auc(joined["label"].to_numpy(), joined["true_prob"].to_numpy())


def early_gain_report(curve: pl.DataFrame, z: float = 2.0) -> GateReport:
    """One gate per measured horizon after the reference (h > W): its AUC may exceed the
    reference's by at most ``z · sqrt(se_h² + se_ref²)`` (Hanley-McNeil SEs). Censored
    horizons are not gated. Empty report when nothing can be compared (the caller shows
    "not measured")."""
    ref = curve.filter(pl.col("reference") & (pl.col("status") == "measured"))
    if ref.height == 0 or ref["auc"][0] is None:
        return GateReport([])
    auc0, se0 = float(ref["auc"][0]), float(ref["auc_se"][0] or math.nan)
    h0 = int(ref["horizon"][0])
    gates: list[Gate] = []
    for row in curve.filter(
        (pl.col("horizon") > h0) & (pl.col("status") == "measured") & pl.col("auc").is_not_null()
    ).to_dicts():
        noise = z * math.sqrt(se0**2 + (row["auc_se"] or math.nan) ** 2)
        gates.append(
            gate(
                f"auc_h{row['horizon']}",
                row["auc"],
                "<=",
                auc0 + noise,
                f"reference h{h0} AUC {auc0:.4f} + {z:g} SE of the difference ({noise:.4f})",
            )
        )
    return GateReport(gates)


# --- bootstrap of capacity scenarios ---------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A capacity rule: within each group of ``by`` (None: one list) take the top ``frac``
    of customers (``ceil(frac · n)``, at least 1) or the top ``n`` by the ordering score."""

    name: str
    by: str | None = None
    frac: float | None = None
    n: int | None = None


def capacity_scenarios(
    columns: Sequence[str],
    k_fracs: Sequence[float],
    per_rep: int,
    rep_column: str,
    hybrid_column: str,
    hybrid_frac: float,
) -> tuple[list[Scenario], list[str]]:
    """The scenarios the data supports and the notes on those it does not: top-K% for
    every K; ``per_rep_<N>`` when ``rep_column`` exists; ``hybrid_<K>pct_by_<col>`` (each
    ``hybrid_column`` segment's own top K%) when that column exists."""
    out = [Scenario(f"top_{round(k * 100)}pct", frac=k) for k in k_fracs]
    notes = []
    if rep_column in columns:
        out.append(Scenario(f"per_rep_{per_rep}", by=rep_column, n=per_rep))
    else:
        notes.append(f"per_rep: not measured (no {rep_column!r} column)")
    if hybrid_column in columns:
        out.append(
            Scenario(
                f"hybrid_{round(hybrid_frac * 100)}pct_by_{hybrid_column}",
                hybrid_column,
                hybrid_frac,
            )
        )
    else:
        notes.append(f"hybrid: not measured (no {hybrid_column!r} column)")
    return out, notes


def resample_counts(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_groups)`` int32: how often each group (customer) is drawn in each
    resample of ``n_groups`` draws with replacement. Draw ``b`` is
    ``default_rng(seed).integers(0, n_groups, (n_boot, n_groups))[b]`` (so a reference
    computation can rebuild the resampled rows)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_groups, (n_boot, n_groups))
    flat = idx + n_groups * np.arange(n_boot)[:, None]
    return (
        np.bincount(flat.ravel(), minlength=n_boot * n_groups)
        .reshape(n_boot, n_groups)
        .astype(np.int32)
    )


def _taken(w: np.ndarray, seg: np.ndarray, sc: Scenario) -> np.ndarray:
    """Copies of each row selected, per resample: ``w`` ``(B, n)`` row weights with rows
    sorted by (segment, score descending); ``seg`` ``(n,)`` non-decreasing segment codes.
    Within a segment the first ``k`` resampled rows are taken (a row drawn twice counts
    twice; the last row may be taken in part of its copies, which have equal outcomes)."""
    n = seg.size
    cum = np.cumsum(w, axis=1)
    before = cum - w
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    ends = np.r_[starts[1:], n]
    base = before[:, starts]
    if sc.frac is not None:
        size = cum[:, ends - 1] - base
        k = np.maximum(1.0, np.ceil(sc.frac * size))
    else:
        k = np.full(base.shape, float(sc.n))
    of = np.repeat(np.arange(starts.size), ends - starts)
    return np.clip(k[:, of] - (before - base[:, of]), 0.0, w)


def _yields(w: np.ndarray, take: np.ndarray, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scenario metrics per resample from weights, taken copies and row values."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sel = take.sum(1)
        pos = take @ v["y"]
        out = {
            "selected": sel,
            "capture": pos / (w @ v["y"]),
            "precision": pos / sel,
            "revenue_capture": (take @ v["revenue"]) / (w @ v["revenue"]),
            "realized_gp": take @ v["gp"],
            "expected_gp": take @ v["egp"],
        }
    return out


@dataclass
class BootstrapResult:
    """The scenario table and how it was made."""

    table: pl.DataFrame
    """One row per ordering × scenario × metric: ``ordering, scenario, metric, point,
    ci_low, ci_high, ci_width, n_boot`` (CI: 2.5% / 97.5% percentiles; null when the
    metric is undefined in too many resamples or not available)."""
    notes: list[str] = field(default_factory=list)


def scenario_bootstrap(
    frame: pl.DataFrame,
    scenarios: Sequence[Scenario],
    orderings: Mapping[str, np.ndarray],
    *,
    n_boot: int,
    seed: int,
    group: str = "customer_id",
    chunk: int = 200,
) -> BootstrapResult:
    """Point values and customer-block bootstrap percentile 95% CIs of every scenario.

    In: ``frame`` rows with ``label``, ``revenue``, ``gross_profit`` (may be null: GP not
    available), ``egp`` (expected GP, p × EV), the scenario ``by`` columns and ``group``
    (the block: all rows of one customer are drawn together); ``orderings`` name ->
    score per row (customers are selected by it). Resamples are the same for every
    scenario and ordering (paired), drawn by :func:`resample_counts`.
    """
    codes = frame[group].rank("dense").cast(pl.Int64).to_numpy() - 1
    counts = resample_counts(int(codes.max()) + 1, n_boot, seed)
    gp_ok = frame["gross_profit"].null_count() == 0
    base = {
        "y": frame["label"].cast(pl.Float64).to_numpy(),
        "revenue": frame["revenue"].cast(pl.Float64).to_numpy(),
        "gp": frame["gross_profit"].fill_null(0.0).cast(pl.Float64).to_numpy(),
        "egp": frame["egp"].cast(pl.Float64).to_numpy(),
    }
    rows = []
    for oname, score in orderings.items():
        for sc in scenarios:
            seg_raw = (
                np.zeros(frame.height, np.int64)
                if sc.by is None
                else frame[sc.by].fill_null("unknown").rank("dense").cast(pl.Int64).to_numpy()
            )
            order = np.lexsort((-np.asarray(score, float), seg_raw))  # stable: ties by row
            seg = seg_raw[order]
            v = {k: a[order] for k, a in base.items()}
            rowcodes = codes[order]
            point = _yields(
                np.ones((1, frame.height)), _taken(np.ones((1, frame.height)), seg, sc), v
            )
            boots: dict[str, list[np.ndarray]] = {m: [] for m in YIELD_METRICS}
            for lo in range(0, n_boot, chunk):
                w = counts[lo : lo + chunk][:, rowcodes].astype(np.float64)
                for m, vals in _yields(w, _taken(w, seg, sc), v).items():
                    boots[m].append(vals)
            for m in YIELD_METRICS:
                est = float(point[m][0])
                vals = np.concatenate(boots[m])
                finite = vals[np.isfinite(vals)]
                unavailable = m == "realized_gp" and not gp_ok
                ok = finite.size >= n_boot / 2 and not unavailable
                lo_, hi_ = np.percentile(finite, [2.5, 97.5]) if ok else (math.nan, math.nan)
                rows.append(
                    {
                        "ordering": oname,
                        "scenario": sc.name,
                        "metric": m,
                        "point": math.nan if unavailable or not math.isfinite(est) else est,
                        "ci_low": float(lo_),
                        "ci_high": float(hi_),
                        "ci_width": float(hi_ - lo_),
                        "n_boot": n_boot,
                    }
                )
    notes = [] if gp_ok else ["realized_gp: not available (no gross_profit in the data)"]
    return BootstrapResult(pl.DataFrame(rows).fill_nan(None), notes)


# --- scenario ranking, segments, base rate ----------------------------------------------------

EXPECTED_GP = "expected_gp"
CAPTURE = "capture"


def ranking_rule(calibration_mae: float, bound: float) -> str:
    """Which score orders the customers (seed 002 §C): ``expected_gp`` (p × expected GP)
    when the calibration MAE is measured and ``<= bound`` (the probabilities can be
    multiplied by money), else ``capture`` (p alone: reach the most buyers)."""
    ok = calibration_mae is not None and math.isfinite(calibration_mae) and calibration_mae <= bound
    return EXPECTED_GP if ok else CAPTURE


def ranked_scenarios(table: pl.DataFrame, rule: str) -> pl.DataFrame:
    """The scenarios of the chosen ordering (``p`` for capture, ``expected_gp`` otherwise),
    one row each with the point values, sorted by the rule's objective (expected GP of the
    selection, or capture), ``scenario_rank`` 1 = best."""
    ordering = "p" if rule == CAPTURE else EXPECTED_GP
    wide = table.filter(pl.col("ordering") == ordering).pivot(
        on="metric", index="scenario", values="point"
    )
    key = EXPECTED_GP if rule == EXPECTED_GP else CAPTURE
    return (
        wide.sort(key, descending=True, nulls_last=True)
        .with_row_index("scenario_rank", offset=1)
        .with_columns(rule=pl.lit(rule), ordering=pl.lit(ordering))
    )


def segment_performance(
    frame: pl.DataFrame, columns: Sequence[str]
) -> tuple[pl.DataFrame, list[str]]:
    """Per segment value of each of ``columns`` present in ``frame``: ``segment, value, n,
    positives, prevalence, auc, auc_se, lift_at_10, capture_at_10`` (the segment's own top
    10%). Columns not in the frame are returned as "not measured" notes."""
    rows, notes = [], []
    for col in columns:
        if col not in frame.columns:
            notes.append(f"segment {col}: not measured (no {col!r} column)")
            continue
        for (value,), part in frame.group_by([col], maintain_order=True):
            m = curve_row(part["label"].to_numpy(), part["p"].to_numpy())
            rows.append(
                {
                    "segment": col,
                    "value": str(value),
                    **{k: m[k] for k in ("n", "positives", "prevalence", "auc", "auc_se")},
                    "lift_at_10": m["lift_at_10"],
                    "capture_at_10": m["capture_at_10"],
                }
            )
    out = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    return (out.fill_nan(None).sort("segment", "value") if rows else out), notes


def base_rate_report(positives: int, n: int, lo: float, hi: float) -> GateReport:
    """Prevalence of the holdout within ``[lo, hi]``. Empty report for an empty holdout
    (nothing measured: the caller shows "not measured", never a pass)."""
    if n <= 0:
        return GateReport([])
    prev = positives / n
    return GateReport(
        [
            gate("prevalence_min", prev, ">=", lo, f"{positives} buyers of {n} customers"),
            gate("prevalence_max", prev, "<=", hi, f"{positives} buyers of {n} customers"),
        ]
    )


# --- everything for one partition -------------------------------------------------------------


@dataclass
class ForwardResult:
    """Prequential curve and forward validation of one division × cutoff."""

    curve: pl.DataFrame
    early_gain: GateReport
    scenarios: pl.DataFrame  # BootstrapResult.table
    ranked: pl.DataFrame
    rule: str
    calibration_mae: float
    segments: pl.DataFrame
    base_rate: GateReport
    holdout_cutoff: date
    holdout_n: int
    holdout_positives: int
    notes: list[str]
    seconds: dict[str, float] = field(default_factory=dict)

    def numbers(self) -> dict[str, float]:
        """Flat numbers for metadata: per measured horizon ``<metric>_h<h>``; per top-K
        scenario of the chosen ordering its capture / realized GP with CI bounds."""
        out: dict[str, float] = {
            "holdout_n": self.holdout_n,
            "holdout_positives": self.holdout_positives,
            "calibration_mae": self.calibration_mae,
            "horizons_measured": int((self.curve["status"] == "measured").sum()),
            "horizons_censored": int((self.curve["status"] == "censored").sum()),
        }
        for row in self.curve.filter(pl.col("status") == "measured").to_dicts():
            for m in CURVE_METRICS:
                if row[m] is not None:
                    out[f"{m}_h{row['horizon']}"] = float(row[m])
        ordering = "p" if self.rule == CAPTURE else EXPECTED_GP
        for row in self.scenarios.filter(
            (pl.col("ordering") == ordering) & pl.col("metric").is_in(["capture", "realized_gp"])
        ).to_dicts():
            for part in ("point", "ci_low", "ci_high", "ci_width"):
                if row[part] is not None:
                    out[f"{row['scenario']}_{row['metric']}_{part}"] = float(row[part])
        return out


def forward_validation(
    frozen: FrozenModel,
    *,
    customers: pl.DataFrame,
    transactions: pl.DataFrame,
    install_base: pl.DataFrame | None,
    division: str,
    divisions: Sequence[str],
    holdout_ids: pl.Series,
    holdout_cutoff: date,
    cfg: Any,
    per_rep: int,
    lookback_months: int = 24,
    shrinkage: float = 20.0,
    truth: pl.DataFrame | None = None,
) -> ForwardResult:
    """Prequential curve of ``frozen`` and the bootstrap / scenarios / segments / base rate
    on the holdout at ``holdout_cutoff`` (features as of it, labels in
    ``(holdout_cutoff, holdout_cutoff + W]``), scored by ``frozen``. ``cfg`` is the
    :class:`gosales_assets.config.ForwardConfig`; ``per_rep`` the whitespace capacity."""
    import time

    as_of = transactions["order_date"].max()
    t0 = time.perf_counter()
    horizon_h = (
        (holdout_cutoff.year - frozen.cutoff.year) * 12 + holdout_cutoff.month - frozen.cutoff.month
    )
    curve, frames = prequential(
        frozen,
        customers=customers,
        transactions=transactions,
        install_base=install_base,
        division=division,
        divisions=divisions,
        customer_ids=holdout_ids,
        as_of=as_of,
        max_horizon=max(cfg.max_horizon_months, horizon_h),
        keep=[holdout_cutoff],
        truth=truth,
    )
    t1 = time.perf_counter()
    notes: list[str] = []
    if holdout_cutoff not in frames:
        raise ValueError(
            f"forward validation {division}: the holdout at {holdout_cutoff} is censored "
            f"(window ends after the data's as-of date {as_of})"
        )
    hold = frames[holdout_cutoff]
    ev = expected_gp(
        transactions,
        customers,
        division,
        holdout_cutoff,
        frozen.window_months,
        lookback_months,
        shrinkage,
    )
    hold = hold.join(ev, on="customer_id", how="left").with_columns(
        egp=pl.col("p") * pl.col("ev").fill_null(0.0)
    )
    y, p = hold["label"].to_numpy(), hold["p"].to_numpy()
    cal_mae = classification_summary(y, p)["calibration_mae"] if hold.height else math.nan
    rule = ranking_rule(cal_mae, cfg.calibration_mae_bound)
    scenarios, sc_notes = capacity_scenarios(
        hold.columns, cfg.k_fracs, per_rep, cfg.rep_column, cfg.hybrid_column, cfg.hybrid_frac
    )
    boot = scenario_bootstrap(
        hold,
        scenarios,
        {"p": p, EXPECTED_GP: hold["egp"].to_numpy()},
        n_boot=cfg.n_boot,
        seed=cfg.seed,
    )
    t2 = time.perf_counter()
    segments, seg_notes = segment_performance(hold, cfg.segment_columns)
    if not has_gross_profit(transactions):
        notes.append("expected value uses revenue (no gross_profit column): expected_gp is revenue")
    notes += sc_notes + boot.notes + seg_notes
    return ForwardResult(
        curve=curve,
        early_gain=early_gain_report(curve, cfg.early_gain_z),
        scenarios=boot.table,
        ranked=ranked_scenarios(boot.table, rule),
        rule=rule,
        calibration_mae=float(cal_mae),
        segments=segments,
        base_rate=base_rate_report(
            int(y.sum()), int(y.size), cfg.prevalence_min, cfg.prevalence_max
        ),
        holdout_cutoff=holdout_cutoff,
        holdout_n=int(y.size),
        holdout_positives=int(y.sum()),
        notes=notes,
        seconds={"prequential": t1 - t0, "bootstrap": t2 - t1},
    )


def frozen_model(
    tracker: Any,
    name: str,
    decision: pl.DataFrame,
    candidate: Mapping[str, Any],
    missing: training.MissingFeatures = "error",
) -> FrozenModel:
    """The model that served after the partition's promotion decision, frozen.

    In: ``decision`` = the partition's ``promoted_model`` row (``champion_version`` after
    the decision, ``version`` registered by it or ""), ``candidate`` = its
    ``candidate_model`` bundle. The champion version is loaded from the registry (its
    ``model_meta.json`` gives features, cutoff and window); the candidate itself stands in,
    labelled so, when no champion serves or the champion was trained at a later cutoff
    than the partition (its training labels cover this holdout).
    """
    from shared.lifecycle import MODEL_META
    from shared.partitions import to_date

    cand = candidate["candidate"]
    as_candidate = FrozenModel(
        cand.predict, candidate["cutoff"], int(candidate["window_months"]), "candidate"
    )
    version = str(decision["champion_version"][0] or "") if decision.height else ""
    if not version:
        return replace(as_candidate, label="candidate (no champion serving)")
    if version == str(decision["version"][0] or ""):
        return replace(as_candidate, label=f"champion v{version} (this candidate)")
    mv = tracker.client().get_model_version(name, version)
    meta = tracker.load_dict(str(mv.run_id), MODEL_META)
    champ_cutoff = to_date(meta["cutoff"])
    if champ_cutoff > candidate["cutoff"]:
        return replace(
            as_candidate, label=f"candidate (champion v{version} was trained later, {champ_cutoff})"
        )
    model = tracker.load_model(f"models:/{name}/{version}")
    feats = list(meta["features"])

    def score(frame: pl.DataFrame) -> np.ndarray:
        return model.predict_proba(training.matrix(frame, feats, missing))[:, 1]

    return FrozenModel(
        score,
        champ_cutoff,
        int(meta["window_months"]),
        f"champion v{version} (cutoff {champ_cutoff})",
    )


def holdout_customers(customers: pl.DataFrame, cfg: Any) -> pl.Series:
    """The ids of the holdout group (:func:`training.customer_groups`, ``cfg`` the
    TrainingConfig): never trained on by any candidate with this seed."""
    groups = training.customer_groups(customers["customer_id"], cfg)
    return groups.filter(pl.col("group") == "holdout")["customer_id"]


# --- command line: the demo measurement of docs/results.md --------------------------------------


def demo_report(cutoff: date | None = None, divisions: Sequence[str] | None = None) -> str:
    """Train each division's candidate at ``cutoff`` on the configured world (the ``make
    demo`` one by default; no MLflow, so the frozen model is the candidate, labelled so) and
    return the prequential curves and top-K bootstrap CIs as markdown, with run times."""
    import time

    from gosales_assets import candidate as gs_candidate
    from gosales_assets.config import load_config
    from gosales_assets.inputs import validated_inputs
    from shared.dagster_helpers import md_table

    cfg = load_config()
    cutoff = cutoff or min(cfg.cutoffs)
    tables, described, as_of = validated_inputs(
        None,
        cfg.world_size,
        cfg.world_seed,
        cfg.window_months,
        cfg.world_variant,
        cfg.truth_windows(),
    )
    cu, tx = tables["customers"], tables["transactions"]
    ib = tables["install_base"] if tables["install_base"].width else None
    out = [
        f"world: {described}; as of {as_of}; cutoff {cutoff}; "
        f"{cfg.forward.n_boot} bootstrap replicates, seed {cfg.forward.seed}\n"
    ]
    curves, cis, both, timing = [], [], [], []
    for division in divisions or cfg.divisions:
        t0 = time.perf_counter()
        res = gs_candidate.evaluate(
            cfg,
            cutoff,
            division,
            feature_matrix=None,
            labels=None,
            customers=cu,
            transactions=tx,
            install_base=ib,
            ground_truth=tables["ground_truth"],
            champion_scorer=None,
            champion_cutoff=None,
            champion_note="",
        )
        t1 = time.perf_counter()
        frozen = FrozenModel(res.candidate.predict, cutoff, res.window_months, "candidate")
        fv = forward_validation(
            frozen,
            customers=cu,
            transactions=tx,
            install_base=ib,
            division=division,
            divisions=cfg.divisions,
            holdout_ids=holdout_customers(cu, cfg.training),
            holdout_cutoff=res.ev.holdout_cutoff,
            cfg=cfg.forward,
            per_rep=cfg.whitespace.per_rep,
            lookback_months=cfg.whitespace.lookback_months,
            shrinkage=cfg.whitespace.value_shrinkage,
            truth=tables["ground_truth"],
        )
        t2 = time.perf_counter()
        curves.append(fv.curve)
        ordering = "p" if fv.rule == CAPTURE else EXPECTED_GP
        cis.append(
            fv.scenarios.filter(pl.col("ordering") == ordering).with_columns(
                division=pl.lit(division),
                rule=pl.lit(fv.rule),
            )
        )
        both.append(
            fv.scenarios.filter(
                (pl.col("scenario") == "top_10pct")
                & pl.col("metric").is_in(["capture", "realized_gp"])
            ).with_columns(division=pl.lit(division), cal_mae=pl.lit(fv.calibration_mae))
        )
        timing.append(
            {
                "division": division,
                "train_s": t1 - t0,
                "prequential_s": fv.seconds["prequential"],
                "bootstrap_s": fv.seconds["bootstrap"],
                "forward_total_s": t2 - t1,
                "holdout_n": fv.holdout_n,
                "holdout_positives": fv.holdout_positives,
                "early_gain": fv.early_gain.summary() if fv.early_gain.gates else "not measured",
                "base_rate": "pass" if fv.base_rate.passed else "WARN",
                "rule": fv.rule,
                "notes": "; ".join(fv.notes),
            }
        )
    curve = pl.concat(curves).filter(pl.col("status") == "measured")
    wide = curve.pivot(on="division", index="horizon", values="auc", sort_columns=False).sort(
        "horizon"
    )
    out.append("Prequential AUC by horizon (months after the cutoff; h = W is the holdout):\n")
    out.append(md_table(wide, max_rows=40))
    out.append("\nPrequential detail (measured horizons):\n")
    out.append(
        md_table(
            curve.select(
                "division",
                "horizon",
                "score_cutoff",
                "n",
                "positives",
                "auc",
                "auc_se",
                "pr_auc",
                "lift_at_10",
                "brier",
                "calibration_mae",
                "oracle_auc",
            ),
            max_rows=200,
        )
    )
    censored = pl.concat(curves).filter(pl.col("status") == "censored")
    out.append(
        f"\ncensored horizons (listed, not gated): "
        f"{sorted(set(censored['horizon'].to_list()))} for every division\n"
    )
    ci = pl.concat(cis, how="diagonal_relaxed").filter(
        pl.col("metric").is_in(["capture", "precision", "revenue_capture", "realized_gp"])
    )
    out.append(
        "Capacity scenarios, customers ordered by the chosen rule (`rule`), "
        "point [2.5%, 97.5%] (CI width):\n"
    )
    out.append(
        md_table(
            ci.with_columns(
                ci=pl.format(
                    "{} [{}, {}] ({})",
                    *[
                        pl.col(c).round_sig_figs(4)
                        for c in ("point", "ci_low", "ci_high", "ci_width")
                    ],
                )
            ).pivot(on="metric", index=["division", "rule", "scenario"], values="ci"),
            max_rows=200,
        )
    )
    fmt = pl.format(
        "{} [{}, {}]", *[pl.col(c).round_sig_figs(4) for c in ("point", "ci_low", "ci_high")]
    )
    out.append("\nTop 10%: ordering by p (capture) vs by p x expected GP:\n")
    out.append(
        md_table(
            pl.concat(both)
            .with_columns(ci=fmt, col=pl.col("metric") + "_by_" + pl.col("ordering"))
            .pivot(on="col", index=["division", "cal_mae"], values="ci"),
            max_rows=20,
        )
    )
    out.append("\nRun time and checks per division:\n")
    out.append(md_table(pl.DataFrame(timing), max_rows=20))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gosales_assets.forward demo [--cutoff YYYY-MM-DD] [--division D ...]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gosales_assets.forward")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="measure the forward validation on the configured world")
    demo.add_argument("--cutoff", type=date.fromisoformat, default=None)
    demo.add_argument("--division", action="append", default=None)
    args = parser.parse_args(argv)
    print(demo_report(args.cutoff, args.division))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
