"""The GoSales leakage gauntlet, time checks (pure logic): shift grid, group CV with purge,
SAFE ablation and the feature date audit (issue 11, seed 002).

Frames are those of :func:`gosales_assets.training.training_frames` (see
:mod:`gosales_assets.gauntlet`): ``train`` rows are customer × ``snapshot`` (feature cutoff
``s``, labels in ``(s, s + W]``), ``holdout`` rows are holdout customers at ``H = cutoff + W``.
The checks that rebuild features read the input tables through :class:`Tables`.

* :func:`shift_grid`: features rebuilt at ``date - k`` days for every training snapshot and
  the holdout (``k`` in ``cfg.shift_days``), labels unchanged; the permutation test's ridge
  proxy fitted per shift. Older features must not score better: an improvement above
  ``cfg.shift_auc_epsilon`` / ``cfg.shift_lift_epsilon`` fails, a smaller one warns.
* :func:`group_cv`: customer-grouped folds (``StratifiedGroupKFold``) evaluated at the
  latest snapshot ``T``, trained on the other folds' snapshots ``s <= T - purge`` (purge >=
  the label window, so no training label window is still open at ``T``); zero customer
  overlap between every fold's train and test rows and between training and holdout.
* :func:`safe_ablation`: the candidate trained on every feature (Full) and on the SAFE
  policy (:func:`safe_features`), both judged on a far holdout; SAFE is adopted when
  ``AUC_safe >= AUC_full - cfg.safe_margin``; Full beating SAFE by more than
  ``cfg.safe_max_gap`` fails (the edge lives in the features next to the cutoff).
* :func:`feature_date_audit`: per feature family, the latest event date that fed it; a
  feature fed by an event after the cutoff fails by name. A data probe, its own check
  (``static_scan`` reads the code; this reads what the data did).

No Dagster here; :mod:`gosales_assets.defs.gauntlet` wires it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from gosales_assets import training
from gosales_assets.config import GauntletConfig, TrainingConfig
from gosales_assets.gauntlet import (
    EXTRA_CHECKS,
    Trainer,
    _both,
    _labels,
    _ridge_scores,
    not_measured,
)
from shared.gates import INSUFFICIENT, Gate, GateReport, gate
from shared.metrics import lift_at, roc_auc
from shared.partitions import add_months

Builder = Callable[..., pl.DataFrame]
"""``(transactions, customers, assets, at, divisions, target_division=) -> features``
(:func:`gosales_assets.features.build_features`)."""


def _default_builder(*args: Any, **kwargs: Any) -> pl.DataFrame:
    from gosales_assets.features import build_features

    return build_features(*args, **kwargs)


@dataclass
class Tables:
    """The input tables and time frame of one ``division × cutoff`` candidate: what the
    checks that rebuild features or labels read. ``builder`` makes a feature matrix (tests
    swap in a leaky one)."""

    transactions: pl.DataFrame
    customers: pl.DataFrame
    install_base: pl.DataFrame | None
    divisions: list[str]
    division: str
    cutoff: date
    window_months: int
    builder: Builder = _default_builder

    @property
    def holdout_cutoff(self) -> date:
        return add_months(self.cutoff, self.window_months)

    @property
    def as_of(self) -> date:
        return self.transactions["order_date"].max()

    def features_at(self, at: date, tables: tuple[Any, Any, Any] | None = None) -> pl.DataFrame:
        tx, cu, ab = tables or (self.transactions, self.customers, self.install_base)
        return self.builder(tx, cu, ab, at, self.divisions, target_division=self.division)

    def labels_at(self, at: date) -> pl.DataFrame:
        from gosales_assets.labels import build_labels

        return build_labels(
            self.transactions, self.customers, self.division, at, self.window_months
        )

    def far_holdout(self, customer_ids: pl.Series, months: int) -> tuple[pl.DataFrame, date]:
        """The holdout customers at the farthest month end ``F`` in ``[H, H + months]``
        whose label window closes by the as-of date (``F = H`` when nothing later closes):
        features as of ``F``, labels in ``(F, F + W]``, sorted by ``customer_id``."""
        far = self.holdout_cutoff
        for m in range(months, 0, -1):
            f = add_months(self.holdout_cutoff, m)
            if add_months(f, self.window_months) <= self.as_of:
                far = f
                break
        frame = (
            self.features_at(far)
            .join(self.labels_at(far), on="customer_id", how="inner")
            .filter(pl.col("customer_id").is_in(customer_ids.implode()))
            .sort("customer_id")
        )
        return frame, far


def _insufficient(gates: list[Gate], positives: int, need: int) -> list[Gate]:
    """Failed gates on fewer than ``need`` positives say "insufficient evidence"."""
    if positives >= need:
        return gates
    few = f"; insufficient evidence: {positives} holdout positives < {need}"
    return [
        g if g.passed else replace(g, verdict=INSUFFICIENT, detail=g.detail + few) for g in gates
    ]


# --- 1. shift grid ------------------------------------------------------------------------------


@dataclass
class ShiftGridResult:
    """``table``: one row per shift (0 = the candidate's own features): ``shift_days``,
    ``train_rows``, ``holdout_rows``, ``auc``, ``lift_at_10`` (proxy on the holdout) and
    ``auc_change``, ``lift_change`` versus the previous (less shifted) row."""

    table: pl.DataFrame
    report: GateReport


def _proxy_metrics(
    train: pl.DataFrame, holdout: pl.DataFrame, features: list[str], penalty: float
) -> tuple[float, float]:
    X = training.matrix(train, features, missing="zero")
    Xh = training.matrix(holdout, features, missing="zero")
    p = _ridge_scores(X, _labels(train)[:, None], Xh, penalty)[:, 0]
    y = _labels(holdout)
    return roc_auc(y, p), lift_at(y, p, 0.10)


def _reframe(
    frame: pl.DataFrame, features: list[str], at: date, build: Callable[[date], pl.DataFrame]
) -> pl.DataFrame:
    """``frame``'s rows (labels, groups) with their features replaced by ``build(at)``;
    customers absent at ``at`` are dropped."""
    feats = build(at)
    keep = [c for c in features if c in feats.columns]
    return frame.drop([c for c in features if c in frame.columns]).join(
        feats.select("customer_id", *keep), on="customer_id", how="inner"
    )


def shift_grid(
    train: pl.DataFrame,
    holdout: pl.DataFrame,
    holdout_cutoff: date,
    features: list[str],
    cfg: GauntletConfig,
    build: Callable[[date], pl.DataFrame],
) -> ShiftGridResult:
    """Shift-grid sanity: do metrics get better when the features get older?

    For each ``k`` in ``cfg.shift_days`` the features of every training row are rebuilt
    with ``build(snapshot - k days)`` and those of the holdout with
    ``build(holdout_cutoff - k days)``; labels (and their windows) stay as they were. The
    ridge proxy of :func:`gosales_assets.gauntlet.permutation_test` is fitted on the
    training rows and scores the holdout: AUC and lift@10%.

    Gates, per consecutive pair of shifts and per metric (``shift_<k>_vs_<j>_auc`` /
    ``_lift10``): the change ``metric(k) - metric(j)`` must be <= epsilon (else FAIL); a
    change in ``(0, epsilon]`` is an advisory WARN. ``shift_max_vs_0_auc`` / ``_lift10``:
    no shift beats the unshifted features by more than epsilon. One class or a failed
    build: "not measured". Fewer than ``cfg.min_holdout_positives`` holdout positives: a
    failure is "insufficient evidence".
    """
    schema = {
        "shift_days": pl.Int64,
        "train_rows": pl.Int64,
        "holdout_rows": pl.Int64,
        "auc": pl.Float64,
        "lift_at_10": pl.Float64,
    }
    y_tr, y_ho = _labels(train), _labels(holdout)
    if not (_both(y_tr) and _both(y_ho)):
        why = "one class only in the " + ("training rows" if not _both(y_tr) else "holdout")
        return ShiftGridResult(
            pl.DataFrame(schema=schema), GateReport([not_measured("shift_grid", why)])
        )
    rows = [
        (
            0,
            train.height,
            holdout.height,
            *_proxy_metrics(train, holdout, features, cfg.proxy_ridge_penalty),
        )
    ]
    snapshots = sorted(train["snapshot"].unique().to_list())
    try:
        for k in sorted(cfg.shift_days):
            lag = timedelta(days=k)
            tr = pl.concat(
                [
                    _reframe(train.filter(pl.col("snapshot") == s), features, s - lag, build)
                    for s in snapshots
                ],
                how="diagonal_relaxed",
            ).sort("snapshot", "customer_id")
            ho = _reframe(holdout, features, holdout_cutoff - lag, build).sort("customer_id")
            if not (_both(_labels(tr)) and _both(_labels(ho))):
                raise ValueError(f"one class only after shifting {k} days")
            rows.append(
                (
                    k,
                    tr.height,
                    ho.height,
                    *_proxy_metrics(tr, ho, features, cfg.proxy_ridge_penalty),
                )
            )
    except Exception as exc:  # noqa: BLE001 - reported: the check says why
        return ShiftGridResult(
            pl.DataFrame(rows, schema=schema, orient="row"),
            GateReport([not_measured("shift_grid", f"{type(exc).__name__}: {exc}")]),
        )
    table = pl.DataFrame(rows, schema=schema, orient="row").with_columns(
        auc_change=pl.col("auc").diff(), lift_change=pl.col("lift_at_10").diff()
    )
    eps = {"auc": cfg.shift_auc_epsilon, "lift10": cfg.shift_lift_epsilon}
    cols = {"auc": "auc", "lift10": "lift_at_10"}
    gates: list[Gate] = []
    recs = table.to_dicts()
    for prev, cur in zip(recs, recs[1:], strict=False):
        for m, col in cols.items():
            change = cur[col] - prev[col]
            name = f"shift_{cur['shift_days']}_vs_{prev['shift_days']}_{m}"
            detail = (
                f"{col} {prev[col]:.4f} at {prev['shift_days']} d -> {cur[col]:.4f} at "
                f"{cur['shift_days']} d older features"
            )
            g = gate(name, change, "<=", eps[m], detail)
            if g.passed and change > 0:  # better with older features, within epsilon: WARN
                g = replace(
                    gate(name, change, "<=", 0.0, detail + "; within epsilon"), advisory=True
                )
            gates.append(g)
    for m, col in cols.items():
        best = max(recs[1:], key=lambda r, c=col: r[c])
        gates.append(
            gate(
                f"shift_max_vs_0_{m}",
                best[col] - recs[0][col],
                "<=",
                eps[m],
                f"best shifted {col} {best[col]:.4f} ({best['shift_days']} d) vs "
                f"{recs[0][col]:.4f} unshifted",
            )
        )
    gates = _insufficient(gates, int(y_ho.sum()), cfg.min_holdout_positives)
    return ShiftGridResult(table, GateReport(gates))


# --- 2. group CV with purge ---------------------------------------------------------------------

FoldAssigner = Callable[[pl.DataFrame, int, int], np.ndarray]
"""``(train, n_folds, seed) -> fold per row``."""


def grouped_folds(train: pl.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    """Fold per training row: ``StratifiedGroupKFold`` grouped by ``customer_id`` (a
    customer's rows at every snapshot share one fold), stratified by ``label``, seeded."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = np.full(train.height, -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    y = _labels(train).astype(int)
    groups = train["customer_id"].to_numpy()
    for i, (_, test) in enumerate(splitter.split(np.zeros(train.height), y, groups)):
        folds[test] = i
    return folds


@dataclass
class GroupCVResult:
    """``folds``: one row per fold (``fold, eval_snapshot, train_snapshots, purge_gap_days,
    train_rows, train_customers, train_positives, test_rows, test_customers,
    test_positives, overlap_customers, auc``); ``assignments``: ``customer_id, fold``
    (every training row's fold, unique); ``offenders``: ``kind, fold, customer_id`` of
    every customer on both sides of a split (empty when honest)."""

    folds: pl.DataFrame
    assignments: pl.DataFrame
    offenders: pl.DataFrame
    purge_months: int
    report: GateReport


def group_cv(
    train: pl.DataFrame,
    holdout: pl.DataFrame,
    features: list[str],
    cfg: GauntletConfig,
    window_months: int,
    *,
    assign: FoldAssigner | None = None,
) -> GroupCVResult:
    """Customer-grouped cross-validation with a purge gap (see the module docstring).

    ``assign`` (default :func:`grouped_folds`) gives every training row a fold; fold ``f``
    is tested on its rows at the latest snapshot ``T`` and trained (ridge proxy) on the
    other folds' rows at snapshots ``s <= T - purge`` with ``purge = cfg.cv_purge_months``
    (None: the label window ``W``). Gates: ``cv_customer_overlap`` (customers in both the
    train and test rows of a fold, summed over folds) <= 0; ``train_holdout_customer_overlap``
    <= 0; ``cv_purge_gap_days`` (smallest ``T - max training snapshot``) >= the label window
    in days. No training snapshot left after the purge: the gap and AUC are not measured.
    """
    assign = assign or grouped_folds
    purge = window_months if cfg.cv_purge_months is None else cfg.cv_purge_months
    folds = assign(train, cfg.cv_folds, cfg.seed)
    t = train.with_columns(fold=pl.Series(folds, dtype=pl.Int64))
    last = t["snapshot"].max()
    window_days = (add_months(last, window_months) - last).days
    bound = add_months(last, -purge)
    rows, offenders = [], []
    for f in sorted(set(folds.tolist())):
        test = t.filter((pl.col("fold") == f) & (pl.col("snapshot") == last))
        tr = t.filter((pl.col("fold") != f) & (pl.col("snapshot") <= bound))
        both = sorted(set(test["customer_id"].to_list()) & set(tr["customer_id"].to_list()))
        offenders += [("fold_train_test", f, str(c)) for c in both]
        gap = (last - tr["snapshot"].max()).days if tr.height else math.nan
        y_tr, y_te = _labels(tr), _labels(test)
        auc = math.nan
        if _both(y_tr) and _both(y_te):
            X, Xt = training.matrix(tr, features, "zero"), training.matrix(test, features, "zero")
            auc = roc_auc(y_te, _ridge_scores(X, y_tr[:, None], Xt, cfg.proxy_ridge_penalty)[:, 0])
        rows.append(
            {
                "fold": f,
                "eval_snapshot": last,
                "train_snapshots": ", ".join(
                    str(s) for s in sorted(tr["snapshot"].unique().to_list())
                ),
                "purge_gap_days": gap,
                "train_rows": tr.height,
                "train_customers": tr["customer_id"].n_unique(),
                "train_positives": int(y_tr.sum()),
                "test_rows": test.height,
                "test_customers": test["customer_id"].n_unique(),
                "test_positives": int(y_te.sum()),
                "overlap_customers": len(both),
                "auc": auc,
            }
        )
    leaked = sorted(set(train["customer_id"].to_list()) & set(holdout["customer_id"].to_list()))
    offenders += [("train_holdout", -1, str(c)) for c in leaked]
    table = pl.DataFrame(rows)
    off = pl.DataFrame(
        offenders,
        schema={"kind": pl.Utf8, "fold": pl.Int64, "customer_id": pl.Utf8},
        orient="row",
    )
    assignments = t.select("customer_id", "fold").unique().sort("customer_id", "fold")
    overlap = int(table["overlap_customers"].sum())

    def named(kind: str) -> str:
        ids = off.filter(pl.col("kind") == kind)["customer_id"].to_list()
        return f"; e.g. {', '.join(ids[:5])}" if ids else ""

    gaps = table["purge_gap_days"].drop_nans().drop_nulls()
    gates = [
        gate(
            "cv_customer_overlap",
            overlap,
            "<=",
            0,
            f"{len(rows)} folds grouped by customer, evaluated at {last}"
            + named("fold_train_test"),
        ),
        gate(
            "train_holdout_customer_overlap",
            len(leaked),
            "<=",
            0,
            f"{train['customer_id'].n_unique()} training, {holdout.height} holdout customers"
            + named("train_holdout"),
        ),
        gate(
            "cv_purge_gap_days",
            float(gaps.min()) if gaps.len() == len(rows) else math.nan,
            ">=",
            window_days,
            f"purge {purge} months: training snapshots <= {bound}; label window "
            f"{window_months} months = {window_days} days",
        )
        if gaps.len() == len(rows)
        else not_measured(
            "cv_purge_gap_days", f"no training snapshot at or before {bound} (purge {purge} months)"
        ),
    ]
    return GroupCVResult(table, assignments, off, purge, GateReport(gates))


# --- 3. SAFE ablation ---------------------------------------------------------------------------

EXPIRING = re.compile(r"^ib_.*_exp_\d+_\d+m$|^ib_days_to_next_expiry$")
RECENCY = re.compile(r"recency|overdue")
WINDOW = re.compile(r"_(\d+)m(?:_|$)")


def safe_rule(feature: str, min_window_months: int = 6) -> str:
    """Why the SAFE policy drops ``feature`` ("" when it keeps it). The mapping to our
    feature names (:mod:`gosales_assets.features`):

    * ``expiring asset``: ``ib_<d>_exp_{0_3,3_6,6_12}m`` and ``ib_days_to_next_expiry``
      (``ib_<d>_active`` stays);
    * ``recency``: ``tgt_recency_days``, ``tgt_recency_log``, ``tgt_recency_decay_{30,90,180}``,
      ``tgt_overdue_ratio``, ``all_recency_log``, ``d_<d>_recency_log``: each is measured from
      the cutoff and moves with a purchase the day before it, so each looks within 30 days
      of the cutoff (there is no lagged recency to keep);
    * ``short window``: any other feature whose last ``<n>m`` window is under
      ``min_window_months`` (the ``*_3m`` counts and revenues); the 12-month window offset
      60 days (``*_12m_off60``) and every 6/12/24-month window stay.
    """
    if EXPIRING.search(feature):
        return "expiring asset"
    if RECENCY.search(feature):
        return "recency (within 30 days of the cutoff)"
    windows = WINDOW.findall(feature)
    if windows and int(windows[-1]) < min_window_months:
        return f"short window ({windows[-1]} months < {min_window_months})"
    return ""


def safe_features(
    features: Sequence[str], min_window_months: int = 6
) -> tuple[list[str], pl.DataFrame]:
    """``(kept, dropped)``: the SAFE feature list (model order kept) and ``feature, rule``
    of every dropped feature (:func:`safe_rule`)."""
    rules = [(f, safe_rule(f, min_window_months)) for f in features]
    dropped = pl.DataFrame(
        [(f, r) for f, r in rules if r], schema={"feature": pl.Utf8, "rule": pl.Utf8}, orient="row"
    )
    return [f for f, r in rules if not r], dropped


@dataclass
class SafeResult:
    """``table``: ``policy`` (full / safe), ``n_features``, ``auc``, ``lift_at_10`` on the far
    holdout; ``adopted``: SAFE is the policy for this division; ``dropped``: ``feature, rule``."""

    table: pl.DataFrame
    dropped: pl.DataFrame
    adopted: bool | None
    far_cutoff: Any
    report: GateReport
    gap: float = math.nan
    evidence: bool = True
    """False: fewer far-holdout positives than ``min_holdout_positives``; Full stays."""

    @property
    def policy(self) -> str:
        if self.adopted is False and not self.evidence:
            return "Full (insufficient evidence)"
        return {True: "SAFE", False: "Full", None: "not measured"}[self.adopted]


def safe_ablation(
    train: pl.DataFrame,
    far_holdout: pl.DataFrame,
    features: list[str],
    training_cfg: TrainingConfig,
    cfg: GauntletConfig,
    *,
    far_cutoff: Any = None,
    trainer: Trainer | None = None,
) -> SafeResult:
    """Full versus SAFE feature policy on a far holdout (``far_holdout``: holdout customers
    with features and labels at ``far_cutoff``).

    Both are fitted by ``trainer`` (default ``training.train_candidate``) on the same
    training rows. Decision: SAFE adopted when ``AUC_safe >= AUC_full - cfg.safe_margin``
    and the far holdout has at least ``cfg.min_holdout_positives`` positives (else Full stays).
    Gate ``safe_full_auc_gap``: ``AUC_full - AUC_safe <= cfg.safe_max_gap`` (a larger gap:
    the model's edge lives in the near-cutoff features, review for adjacency leakage).
    "not measured" on one class or a failed fit; "insufficient evidence" on fewer than
    ``cfg.min_holdout_positives`` far-holdout positives.
    """
    trainer = trainer or training.train_candidate
    kept, dropped = safe_features(features, cfg.safe_min_window_months)
    schema = {
        "policy": pl.Utf8,
        "n_features": pl.Int64,
        "auc": pl.Float64,
        "lift_at_10": pl.Float64,
    }
    y = _labels(far_holdout)
    if not (_both(y) and _both(_labels(train))) or not kept:
        why = (
            "no feature left under SAFE"
            if not kept
            else "one class only in the far holdout or training rows"
        )
        return SafeResult(
            pl.DataFrame(schema=schema),
            dropped,
            None,
            far_cutoff,
            GateReport([not_measured("safe_full_auc_gap", why)]),
        )
    rows = []
    try:
        for policy, cols in (("full", features), ("safe", kept)):
            p = np.asarray(trainer(train, cols, training_cfg).predict(far_holdout), float)
            rows.append((policy, len(cols), roc_auc(y, p), lift_at(y, p, 0.10)))
    except Exception as exc:  # noqa: BLE001 - reported: the check says why
        gates = [not_measured("safe_full_auc_gap", f"fit failed: {type(exc).__name__}: {exc}")]
        return SafeResult(
            pl.DataFrame(rows, schema=schema, orient="row"),
            dropped,
            None,
            far_cutoff,
            GateReport(gates),
        )
    table = pl.DataFrame(rows, schema=schema, orient="row")
    full, safe = rows[0][2], rows[1][2]
    gap = full - safe
    positives = int(y.sum())
    # too few far-holdout positives to tell the policies apart: no change, Full stays
    enough = positives >= cfg.min_holdout_positives
    adopted = bool(safe >= full - cfg.safe_margin) and enough
    decision = "SAFE adopted" if adopted else "Full kept"
    if not enough:
        decision += f" (insufficient evidence: {positives} positives)"
    detail = (
        f"far holdout {far_cutoff}: Full AUC {full:.4f} ({len(features)} features), SAFE "
        f"{safe:.4f} ({len(kept)}); {decision} (margin {cfg.safe_margin:g})"
    )
    gates = _insufficient(
        [gate("safe_full_auc_gap", gap, "<=", cfg.safe_max_gap, detail)],
        positives,
        cfg.min_holdout_positives,
    )
    return SafeResult(table, dropped, adopted, far_cutoff, GateReport(gates), gap, enough)


# --- 4. feature date audit ----------------------------------------------------------------------


def feature_family(feature: str, divisions: Sequence[str], target: str) -> tuple[str, str]:
    """``(family, source)`` of a feature: the family name and the events that feed it
    (``transactions:<division|all>`` by ``order_date``, ``assets`` by ``purchase_date``,
    ``customers`` by ``created_date``, ``cutoff`` for calendar columns, ``undated`` for
    declared static ``usr_*`` columns)."""
    if feature.startswith("tgt_"):
        return "tgt", f"transactions:{target}"
    for d in divisions:
        if feature.startswith(f"d_{d}_"):
            return f"d_{d}", f"transactions:{d}"
    if feature.startswith(("all_", "mix_")):
        return feature.split("_", 1)[0], "transactions:all"
    if feature.startswith("ib_"):
        return "ib", "assets"
    if feature.startswith(("cat_", "cust_")):
        return feature.split("_", 1)[0], "customers"
    if feature.startswith("cal_"):
        return "cal", "cutoff"
    if feature.startswith("usr_"):
        return "usr", "undated"
    return "other", "undated"


@dataclass
class DateAuditResult:
    """``families``: one row per feature family: ``family, source, n_features,
    latest_event, how, after_cutoff, features_after_cutoff`` (``latest_event``: the latest
    event date that fed the family; ``how``: ``probe`` when found by truncation search
    beyond the cutoff, ``source`` when the truncation at the cutoff changed nothing and it
    is the family's latest source event on or before the cutoff)."""

    families: pl.DataFrame
    leaky: list[str]
    cutoff: date
    report: GateReport


def _source_latest(tables: Tables, source: str, until: date) -> date | None:
    kind, _, div = source.partition(":")
    if kind == "transactions":
        tx = tables.transactions.filter(pl.col("order_date") <= until)
        if div != "all":
            tx = tx.filter(pl.col("division") == div)
        return tx["order_date"].max()
    if (
        kind == "assets"
        and tables.install_base is not None
        and "purchase_date" in tables.install_base.columns
    ):
        return tables.install_base.filter(pl.col("purchase_date") <= until)["purchase_date"].max()
    if kind == "customers":
        return tables.customers.filter(pl.col("created_date") <= until)["created_date"].max()
    if kind == "cutoff":
        return until
    return None


def _differ(a: pl.DataFrame, b: pl.DataFrame, cols: Sequence[str], tol: float = 1e-9) -> list[str]:
    """Columns of ``cols`` whose values differ between ``a`` and ``b`` (rows by customer)."""
    j = a.select("customer_id", *cols).join(
        b.select("customer_id", *[pl.col(c).alias(f"{c}__b") for c in cols if c in b.columns]),
        on="customer_id",
        how="full",
        coalesce=True,
    )
    out = []
    for c in cols:
        if f"{c}__b" not in j.columns:
            out.append(c)
            continue
        x = j[c].cast(pl.Float64).fill_null(math.nan).to_numpy()
        y = j[f"{c}__b"].cast(pl.Float64).fill_null(math.nan).to_numpy()
        same = (np.abs(x - y) <= tol * (1 + np.abs(x))) | (np.isnan(x) & np.isnan(y))
        if not same.all():
            out.append(c)
    return out


def feature_date_audit(tables: Tables, features: list[str], cfg: GauntletConfig) -> DateAuditResult:
    """Every feature's latest contributing event must be on or before the cutoff.

    The matrix at the cutoff is built from the full tables and from the tables cut at the
    cutoff (:func:`gosales_assets.features.truncate_inputs`); a feature that differs was fed
    by an event after the cutoff. For such a family the latest contributing date is found
    by bisection over truncation dates in ``(cutoff, as_of]`` (the earliest cut that leaves
    the family's values as on the full data; day precision). Gate
    ``features_after_cutoff``: their number <= 0, naming them. A build that raises: "not
    measured".
    """
    from gosales_assets.features import truncate_inputs

    cutoff = tables.cutoff
    schema = {
        "family": pl.Utf8,
        "source": pl.Utf8,
        "n_features": pl.Int64,
        "latest_event": pl.Date,
        "how": pl.Utf8,
        "after_cutoff": pl.Boolean,
        "features_after_cutoff": pl.Utf8,
    }

    def cut_of(d: date) -> tuple[Any, Any, Any]:
        return truncate_inputs(tables.transactions, tables.customers, tables.install_base, d)

    try:
        full = tables.features_at(cutoff)
        cut = tables.features_at(cutoff, cut_of(cutoff))
        cols = [c for c in features if c in full.columns]
        leaky = _differ(full, cut, cols)
        fams: dict[str, tuple[str, list[str]]] = {}
        for c in cols:
            fam, src = feature_family(c, tables.divisions, tables.division)
            fams.setdefault(fam, (src, []))[1].append(c)
        rows = []
        for fam, (src, members) in fams.items():
            bad = [c for c in members if c in leaky]
            if bad:  # earliest truncation date that reproduces the full values: bisection
                lo, hi = 0, (tables.as_of - cutoff).days
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    probe = tables.features_at(cutoff, cut_of(cutoff + timedelta(days=mid)))
                    lo, hi = (mid, hi) if _differ(full, probe, bad) else (lo, mid)
                latest, how = cutoff + timedelta(days=hi), "probe"
            else:
                latest, how = _source_latest(tables, src, cutoff), "source"
            rows.append((fam, src, len(members), latest, how, bool(bad), ", ".join(bad)))
    except Exception as exc:  # noqa: BLE001 - reported: the check says why
        gates = [not_measured("features_after_cutoff", f"{type(exc).__name__}: {exc}")]
        return DateAuditResult(pl.DataFrame(schema=schema), [], cutoff, GateReport(gates))
    families = pl.DataFrame(rows, schema=schema, orient="row").sort("family")
    shown = ", ".join(leaky[:8]) + (" …" if len(leaky) > 8 else "")
    detail = f"{len(cols)} features in {families.height} families, cutoff {cutoff}" + (
        f"; fed after the cutoff: {shown}" if leaky else ""
    )
    return DateAuditResult(
        families,
        leaky,
        cutoff,
        GateReport([gate("features_after_cutoff", len(leaky), "<=", 0, detail)]),
    )


# --- all four -----------------------------------------------------------------------------------


@dataclass
class ExtraResults:
    """The four time checks of one candidate (None: not run)."""

    shift: ShiftGridResult | None = None
    group_cv: GroupCVResult | None = None
    safe: SafeResult | None = None
    dates: DateAuditResult | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def reports(self) -> dict[str, GateReport]:
        why = "no input tables given to the gauntlet"
        out = {}
        for name, res in zip(
            EXTRA_CHECKS, (self.shift, self.group_cv, self.safe, self.dates), strict=True
        ):
            out[name] = res.report if res is not None else GateReport([not_measured(name, why)])
        return out

    def payload(self) -> dict[str, Any]:
        """The tables of the time checks, for the stored report (absent parts omitted)."""
        out: dict[str, Any] = {}
        if self.shift is not None:
            out["shift_grid"] = self.shift.table
        if self.group_cv is not None:
            out["cv_folds"] = self.group_cv.folds
            out["fold_assignments"] = self.group_cv.assignments
            out["cv_offenders"] = self.group_cv.offenders
            out["cv_purge_months"] = self.group_cv.purge_months
        if self.safe is not None:
            out["safe"] = {
                "policy": self.safe.policy,
                "adopted": self.safe.adopted,
                "far_holdout_cutoff": str(self.safe.far_cutoff),
                "table": self.safe.table,
                "dropped": self.safe.dropped,
            }
        if self.dates is not None:
            out["feature_dates"] = self.dates.families
        return out

    def numbers(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.shift is not None:
            for r in self.shift.table.to_dicts():
                out[f"shift_{r['shift_days']}_auc"] = r["auc"]
                out[f"shift_{r['shift_days']}_lift10"] = r["lift_at_10"]
        if self.group_cv is not None:
            f = self.group_cv.folds
            out["cv_folds"] = float(f.height)
            out["cv_customer_overlap"] = float(f["overlap_customers"].sum())
            out["cv_min_purge_gap_days"] = (
                float(f["purge_gap_days"].min()) if f.height else math.nan
            )
            aucs = f["auc"].drop_nans().drop_nulls()
            out["cv_mean_auc"] = float(aucs.mean()) if aucs.len() else math.nan
            out["train_holdout_overlap"] = float(
                self.group_cv.offenders.filter(pl.col("kind") == "train_holdout").height
            )
        if self.safe is not None:
            for r in self.safe.table.to_dicts():
                out[f"safe_{r['policy']}_auc"] = r["auc"]
                out[f"safe_{r['policy']}_lift10"] = r["lift_at_10"]
            out["safe_auc_gap"] = self.safe.gap
            out["safe_adopted"] = (
                math.nan if self.safe.adopted is None else float(self.safe.adopted)
            )
            out["safe_dropped_features"] = float(self.safe.dropped.height)
        if self.dates is not None:
            out["features_after_cutoff"] = float(len(self.dates.leaky))
        return out


def run_extra(
    train: pl.DataFrame,
    holdout: pl.DataFrame,
    features: list[str],
    training_cfg: TrainingConfig,
    cfg: GauntletConfig,
    tables: Tables,
    *,
    trainer: Trainer | None = None,
) -> ExtraResults:
    """Run the four time checks on one candidate; wall time of each in ``seconds``."""
    import time

    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - start
        return out

    def safe() -> SafeResult:
        far, at = tables.far_holdout(holdout["customer_id"], cfg.safe_far_months)
        return safe_ablation(
            train, far, features, training_cfg, cfg, far_cutoff=at, trainer=trainer
        )

    return ExtraResults(
        shift=timed(
            "shift_grid",
            lambda: shift_grid(
                train, holdout, tables.holdout_cutoff, features, cfg, tables.features_at
            ),
        ),
        group_cv=timed(
            "group_cv_purge", lambda: group_cv(train, holdout, features, cfg, tables.window_months)
        ),
        safe=timed("safe_ablation", safe),
        dates=timed("feature_dates", lambda: feature_date_audit(tables, features, cfg)),
        seconds=seconds,
    )
