"""The GoSales leakage gauntlet: four checks that a candidate's signal is real (pure logic).

Frames are those of :func:`gosales_assets.training.training_frames`:

* ``train``: one row per non-holdout customer × snapshot, ``(n_train, ·)``, with
  ``snapshot`` (the feature cutoff ``s``; labels in ``(s, s + W]``), ``group``,
  ``label`` (0/1) and the ``features`` columns;
* ``holdout``: one row per holdout customer at ``H = cutoff + W`` (features as of
  ``H``, labels in ``(H, H + W]``), ``(n_holdout, ·)``, with ``label`` and the features.

Checks (each a :class:`shared.gates.GateReport`, worded like the promotion gates; a check
that could not be measured says "not measured" and never passes):

* :func:`permutation_test`: is the holdout AUC of a fast proxy model beyond what labels
  shuffled within each snapshot bucket of the training rows reach?
* :func:`too_good_to_be_true`: does one feature alone rank the holdout almost perfectly
  (an undated customer column that saw the label window)?
* :func:`reproducibility`: do two fits with one seed give the same holdout predictions?
* :func:`static_scan`: does the feature code read the wall clock (``datetime.now`` and
  kin), which makes a feature depend on when it was built rather than on the cutoff?

The four time checks (shift grid, group CV with purge, SAFE ablation, feature date audit)
are in :mod:`gosales_assets.gauntlet_extra`; :func:`gauntlet_report` runs them when given
the input tables. No Dagster here; :mod:`gosales_assets.defs.gauntlet` wires it.
"""

from __future__ import annotations

import ast
import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from gosales_assets import training
from gosales_assets.config import GauntletConfig, TrainingConfig
from shared.gates import INSUFFICIENT, Gate, GateReport, gate
from shared.metrics import auc_standard_error, roc_auc

if TYPE_CHECKING:
    from gosales_assets.gauntlet_extra import ExtraResults, Tables

NOT_MEASURED = "not measured"
CHECKS = ("label_permutation", "too_good_to_be_true", "reproducibility", "static_scan")
EXTRA_CHECKS = ("shift_grid", "group_cv_purge", "safe_ablation", "feature_dates")
"""The time checks of :mod:`gosales_assets.gauntlet_extra` (they need the input tables)."""
ALL_CHECKS = (*CHECKS, *EXTRA_CHECKS)
FEATURE_CODE = tuple(
    Path(__file__).with_name(name) for name in ("features.py", "labels.py", "aggregates.py")
)
"""The gosales feature code :func:`static_scan` reads by default."""


def not_measured(name: str, reason: str) -> Gate:
    """A gate that could not be measured: it fails (never passes silently) and says why."""
    return Gate(name, math.nan, "n/a", math.nan, False, reason, verdict=NOT_MEASURED)


def _labels(frame: pl.DataFrame) -> np.ndarray:
    return frame["label"].cast(pl.Float64).fill_null(0.0).to_numpy()


def _both(y: np.ndarray) -> bool:
    return y.size > 0 and 0 < y.sum() < y.size


# --- 1. label permutation test -------------------------------------------------------------


@dataclass
class PermutationResult:
    """``observed``: proxy holdout AUC on the true labels; ``null``: ``(n_permutations,)``
    holdout AUCs with training labels permuted; ``p_value`` = (C + 1) / (n + 1), C = number
    of permuted AUCs >= observed."""

    observed: float
    null: np.ndarray
    p_value: float
    report: GateReport
    proxy: str = "ridge"
    train_rows: int = 0

    @property
    def null_mean(self) -> float:
        return float(np.mean(self.null)) if self.null.size else math.nan

    @property
    def margin(self) -> float:
        return self.observed - self.null_mean


def permuted_labels(y: np.ndarray, buckets: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``(n_rows, n)``: column ``i`` is ``y`` shuffled within each value of ``buckets`` (the
    snapshot), by a generator seeded with ``(seed, i)`` — each permutation re-seeded, so one
    permutation does not depend on how many came before."""
    out = np.empty((y.size, n), dtype=float)
    groups = [np.flatnonzero(buckets == b) for b in np.unique(buckets)]
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        col = y.copy()
        for idx in groups:
            col[idx] = y[rng.permutation(idx)]
        out[:, i] = col
    return out


def _standardize(X: np.ndarray, X_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed-log then standardize with the training rows' mean and spread (label-free)."""
    Z, Zo = training.signed_log1p(X), training.signed_log1p(X_other)
    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd[sd == 0] = 1.0
    return (Z - mu) / sd, (Zo - mu) / sd


def _ridge_scores(X: np.ndarray, Y: np.ndarray, X_hold: np.ndarray, penalty: float) -> np.ndarray:
    """Holdout scores ``(n_holdout, k)`` of closed-form ridge fits of each column of ``Y``
    ``(n_train, k)``: one solve for every label vector (the proxy of the permutation test).
    Training columns are centred, so the intercept is the label mean and leaves ranks alone."""
    Z, Zh = _standardize(X, X_hold)
    gram = Z.T @ Z + penalty * np.eye(Z.shape[1])
    beta = np.linalg.solve(gram, Z.T @ Y)
    return Zh @ beta


def _logistic_scores(X: np.ndarray, Y: np.ndarray, X_hold: np.ndarray, seed: int) -> np.ndarray:
    out = np.empty((X_hold.shape[0], Y.shape[1]))
    for i in range(Y.shape[1]):
        if not _both(Y[:, i]):
            out[:, i] = 0.0
            continue
        out[:, i] = training.make_baseline(seed).fit(X, Y[:, i]).predict_proba(X_hold)[:, 1]
    return out


def permutation_test(
    train: pl.DataFrame, holdout: pl.DataFrame, features: list[str], cfg: GauntletConfig
) -> PermutationResult:
    """Label permutation test of the holdout AUC of a fast proxy model.

    The proxy (``cfg.proxy``) is fitted on the training rows with their true labels and
    with ``cfg.n_permutations`` label vectors shuffled within each ``snapshot`` bucket
    (the prevalence of every snapshot is kept; holdout labels are never touched), and
    scores the holdout each time. ``ridge`` (default) solves every fit at once in closed
    form on all training rows; ``logistic`` refits ``training.make_baseline`` per
    permutation on a seeded subsample of at most ``cfg.proxy_max_rows`` training rows.

    Gates: ``permutation_p`` p <= ``permutation_alpha``; ``permutation_margin`` observed
    minus mean null AUC >= ``permutation_min_margin``. A holdout or training set with one
    class cannot be measured: both gates "not measured". With fewer than
    ``cfg.min_holdout_positives`` holdout positives a failed gate is "insufficient
    evidence" (too few positives to show a signal), not a verdict on the features.
    """
    names = ("permutation_p", "permutation_margin")
    y_tr, y_ho = _labels(train), _labels(holdout)
    if not (_both(y_tr) and _both(y_ho)):
        why = "training rows" if not _both(y_tr) else "holdout"
        gates = [not_measured(n, f"one class only in the {why}") for n in names]
        return PermutationResult(math.nan, np.zeros(0), math.nan, GateReport(gates), cfg.proxy)
    X, X_hold = training.matrix(train, features), training.matrix(holdout, features)
    buckets = train["snapshot"].cast(pl.Utf8).to_numpy()
    if cfg.proxy == "logistic" and y_tr.size > cfg.proxy_max_rows:
        keep = np.sort(np.random.default_rng(cfg.seed).permutation(y_tr.size)[: cfg.proxy_max_rows])
        X, y_tr, buckets = X[keep], y_tr[keep], buckets[keep]
    Y = np.column_stack([y_tr, permuted_labels(y_tr, buckets, cfg.n_permutations, cfg.seed)])
    if cfg.proxy == "ridge":
        scores = _ridge_scores(X, Y, X_hold, cfg.proxy_ridge_penalty)
    else:
        scores = _logistic_scores(X, Y, X_hold, cfg.seed)
    aucs = np.array([roc_auc(y_ho, scores[:, i]) for i in range(scores.shape[1])])
    observed, null = float(aucs[0]), aucs[1:]
    count = int(np.sum(null >= observed))
    p = (count + 1) / (null.size + 1)
    margin = observed - float(null.mean())
    gates = [
        gate(
            "permutation_p",
            p,
            "<=",
            cfg.permutation_alpha,
            f"{count} of {null.size} permuted proxy AUCs >= observed {observed:.4f}",
        ),
        gate(
            "permutation_margin",
            margin,
            ">=",
            cfg.permutation_min_margin,
            f"observed {observed:.4f} minus mean null {null.mean():.4f} "
            f"(null sd {null.std():.4f}, {cfg.proxy} proxy)",
        ),
    ]
    positives = int(y_ho.sum())
    if positives < cfg.min_holdout_positives:
        few = (
            f"; insufficient evidence: {positives} holdout positives < {cfg.min_holdout_positives}"
        )
        gates = [
            g if g.passed else replace(g, verdict=INSUFFICIENT, detail=g.detail + few)
            for g in gates
        ]
    return PermutationResult(observed, null, p, GateReport(gates), cfg.proxy, int(y_tr.size))


def null_histogram(result: PermutationResult, bins: int = 10) -> pl.DataFrame:
    """The permutation null as a histogram: ``bin_low, bin_high, count`` plus a last row
    marking where the observed AUC falls (``observed``)."""
    if not result.null.size:
        return pl.DataFrame(
            schema={"bin_low": pl.Float64, "bin_high": pl.Float64, "count": pl.Int64}
        )
    lo = min(float(result.null.min()), result.observed)
    hi = max(float(result.null.max()), result.observed)
    counts, edges = np.histogram(result.null, bins=bins, range=(lo, hi if hi > lo else lo + 1e-9))
    observed_bin = min(int(np.searchsorted(edges, result.observed, side="right")) - 1, bins - 1)
    return pl.DataFrame(
        {
            "bin_low": edges[:-1],
            "bin_high": edges[1:],
            "count": counts.astype(np.int64),
            "observed": [i == observed_bin for i in range(bins)],
        }
    )


# --- 2. too good to be true ------------------------------------------------------------------


@dataclass
class UnivariateResult:
    """``table``: one row per feature, most suspicious first: ``feature``, ``holdout_auc``
    (max(auc, 1 - auc) on the holdout), ``holdout_auc_low`` (that minus ``z`` Hanley-McNeil
    standard errors), ``train_auc`` (same on the training rows), ``best_of_rest`` (the
    highest holdout AUC of the other features), ``flagged``, ``reason``."""

    table: pl.DataFrame
    report: GateReport

    @property
    def flagged(self) -> list[str]:
        return self.table.filter(pl.col("flagged"))["feature"].to_list()


def _univariate(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    out = np.full(X.shape[1], math.nan)
    for j in range(X.shape[1]):
        a = roc_auc(y, X[:, j])
        out[j] = max(a, 1 - a) if not math.isnan(a) else math.nan
    return out


def too_good_to_be_true(
    train: pl.DataFrame, holdout: pl.DataFrame, features: list[str], cfg: GauntletConfig
) -> UnivariateResult:
    """Univariate holdout AUC of every feature; a feature that alone ranks the holdout
    above ``cfg.univariate_auc_max``, or above the best of the rest by more than
    ``cfg.univariate_gap_max``, is flagged (the signature of a column that saw the label
    window, e.g. an undated customer attribute written after the purchase).

    The AUC judged is its lower bound, ``auc - cfg.univariate_z * SE`` (Hanley-McNeil from
    the holdout's positives and negatives, :func:`shared.metrics.auc_standard_error`): with
    a handful of holdout positives an honest feature reaches 0.95 by chance, while a leaked
    column (AUC ~0.99, small SE) stays flagged.

    Gates: ``univariate_auc_max`` (the most suspicious feature's lower bound, naming it)
    and ``univariate_auc_gap`` (that minus the best other feature's AUC); "not measured"
    when the holdout has one class or there are fewer than two features.
    """
    y_ho = _labels(holdout)
    schema = {
        "feature": pl.Utf8,
        "holdout_auc": pl.Float64,
        "holdout_auc_low": pl.Float64,
        "train_auc": pl.Float64,
        "best_of_rest": pl.Float64,
        "flagged": pl.Boolean,
        "reason": pl.Utf8,
    }
    names = ("univariate_auc_max", "univariate_auc_gap")
    if not _both(y_ho) or len(features) < 2:
        why = "one class only in the holdout" if not _both(y_ho) else "fewer than two features"
        return UnivariateResult(
            pl.DataFrame(schema=schema), GateReport([not_measured(n, why) for n in names])
        )
    ho = np.nan_to_num(_univariate(y_ho, training.matrix(holdout, features)), nan=0.5)
    pos, neg = int(y_ho.sum()), int(y_ho.size - y_ho.sum())
    se = np.array([auc_standard_error(float(a), pos, neg) for a in ho])
    low = ho - cfg.univariate_z * se
    y_tr = _labels(train)
    tr = (
        _univariate(y_tr, training.matrix(train, features))
        if _both(y_tr)
        else np.full(len(features), math.nan)
    )
    by_auc = np.argsort(-ho, kind="stable")
    rest = np.where(np.arange(ho.size) == by_auc[0], ho[by_auc[1]], ho[by_auc[0]])
    flagged, reasons = [], []
    for a, lo, r in zip(ho, low, rest, strict=True):
        why = []
        if lo > cfg.univariate_auc_max:
            why.append(f"AUC {a:.3f} (lower bound {lo:.3f}) > {cfg.univariate_auc_max:.2f}")
        if lo - r > cfg.univariate_gap_max:
            why.append(f"lower bound {lo - r:.3f} above the best other feature")
        flagged.append(bool(why))
        reasons.append("; ".join(why))
    table = pl.DataFrame(
        {
            "feature": features,
            "holdout_auc": ho,
            "holdout_auc_low": low,
            "train_auc": tr,
            "best_of_rest": rest,
            "flagged": flagged,
            "reason": reasons,
        },
        schema=schema,
    ).sort("holdout_auc_low", descending=True)
    worst = int(np.argmax(low))
    named = [f for f, bad in zip(features, flagged, strict=True) if bad]
    suspects = f"; flagged: {', '.join(named)}" if named else ""
    what = f"{features[worst]}: AUC {ho[worst]:.3f} - {cfg.univariate_z:g} SE {se[worst]:.3f}"
    gates = [
        gate("univariate_auc_max", low[worst], "<=", cfg.univariate_auc_max, what + suspects),
        gate(
            "univariate_auc_gap",
            low[worst] - rest[worst],
            "<=",
            cfg.univariate_gap_max,
            f"{what}, best other feature {rest[worst]:.3f}",
        ),
    ]
    return UnivariateResult(table, GateReport(gates))


# --- 3. reproducibility ------------------------------------------------------------------------

Trainer = Callable[[pl.DataFrame, list[str], TrainingConfig], Any]
"""``(train, features, cfg) -> model`` with ``predict(frame) -> (n,)`` probabilities
(:func:`gosales_assets.training.train_candidate`)."""


@dataclass
class ReproducibilityResult:
    """Two fits with one seed: the largest absolute difference of their predictions on the
    evaluation rows, each fit's sha256 of the predictions rounded to 10 decimals, and each
    fit's AUC on those rows."""

    max_abs_diff: float
    checksums: tuple[str, str]
    aucs: tuple[float, float]
    report: GateReport


def prediction_checksum(p: np.ndarray) -> str:
    """sha256 of predictions rounded to 10 decimals (``+0.0`` for ``-0.0``)."""
    rounded = np.round(np.asarray(p, dtype=np.float64), 10) + 0.0
    return hashlib.sha256(rounded.tobytes()).hexdigest()


def reproducibility(
    train: pl.DataFrame,
    features: list[str],
    cfg: TrainingConfig,
    *,
    holdout: pl.DataFrame | None = None,
    gauntlet: GauntletConfig | None = None,
    trainer: Trainer | None = None,
) -> ReproducibilityResult:
    """Train twice with the same seed (``trainer``, default ``training.train_candidate``)
    and compare predictions on ``holdout`` (the training rows when None).

    Gates: ``prediction_max_abs_diff`` <= ``gauntlet.reproducibility_tolerance``;
    ``prediction_checksum`` the two checksums equal (1 = equal). A fit that raises is
    "not measured" (the error is in the detail).
    """
    gauntlet = gauntlet or GauntletConfig()
    trainer = trainer or training.train_candidate
    rows = train if holdout is None else holdout
    names = ("prediction_max_abs_diff", "prediction_checksum")
    try:
        preds = [np.asarray(trainer(train, features, cfg).predict(rows), float) for _ in range(2)]
    except Exception as exc:  # noqa: BLE001 - reported, not raised: the check says why
        gates = [not_measured(n, f"fit failed: {type(exc).__name__}: {exc}") for n in names]
        return ReproducibilityResult(math.nan, ("", ""), (math.nan, math.nan), GateReport(gates))
    diff = float(np.max(np.abs(preds[0] - preds[1]))) if preds[0].size else 0.0
    if preds[0].shape != preds[1].shape:
        diff = math.inf
    sums = (prediction_checksum(preds[0]), prediction_checksum(preds[1]))
    y = _labels(rows)
    aucs = tuple(roc_auc(y, p) if _both(y) else math.nan for p in preds)
    same = float(sums[0] == sums[1])
    gates = [
        gate(
            "prediction_max_abs_diff",
            diff,
            "<=",
            gauntlet.reproducibility_tolerance,
            f"two fits, seed {getattr(cfg, 'seed', '?')}, {preds[0].size} rows; "
            f"AUC {aucs[0]:.6f} vs {aucs[1]:.6f}",
        ),
        gate(
            "prediction_checksum",
            same,
            ">=",
            1.0,
            f"sha256 {sums[0][:12]} vs {sums[1][:12]}",
        ),
    ]
    return ReproducibilityResult(diff, sums, aucs, GateReport(gates))  # type: ignore[arg-type]


# --- 4. static scan ------------------------------------------------------------------------------

WALL_CLOCK_METHODS = frozenset({"now", "utcnow", "today"})
"""Attribute calls that read the clock whatever the receiver: ``datetime.now()``,
``dt.datetime.utcnow()``, ``date.today()``, ``pd.Timestamp.now()``, ``pl.datetime.now``…"""
TIME_FUNCTIONS = frozenset({"time", "time_ns", "localtime", "gmtime", "ctime", "asctime"})
"""``time.<name>()`` reads the clock."""
CLOCK_STRINGS = frozenset({"now", "today"})
"""String arguments that parse as the current time: ``np.datetime64("now")``,
``pd.Timestamp("today")``, ``pd.to_datetime("now")``."""


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    call: str


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_dotted(node.func)}()"
    return "…"


def _clock_aliases(tree: ast.AST) -> set[str]:
    """Names bound by ``from time import time`` / ``from datetime import datetime as now``
    style imports that are wall-clock functions when called bare."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            names |= {a.asname or a.name for a in node.names if a.name in TIME_FUNCTIONS}
    return names


def _scan_tree(tree: ast.AST, file: str) -> list[Finding]:
    bare = _clock_aliases(tree)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, hit = node.func, False
        if isinstance(func, ast.Attribute):
            base = _dotted(func.value)
            hit = func.attr in WALL_CLOCK_METHODS or (
                func.attr in TIME_FUNCTIONS and base.split(".")[-1] == "time"
            )
        elif isinstance(func, ast.Name):
            hit = func.id in bare
        if not hit:
            hit = any(
                isinstance(a, ast.Constant)
                and isinstance(a.value, str)
                and a.value.strip().lower() in CLOCK_STRINGS
                for a in node.args
            ) and _dotted(func).split(".")[-1] in {"datetime64", "Timestamp", "to_datetime"}
        if hit:
            out.append(Finding(file, node.lineno, _dotted(func) + "()"))
    return sorted(out, key=lambda f: (f.file, f.line))


@dataclass
class StaticScanResult:
    """``findings``: every wall-clock read as ``(file, line, call)``; ``scanned``: files read."""

    findings: list[Finding]
    scanned: list[str]
    report: GateReport

    def table(self) -> pl.DataFrame:
        return pl.DataFrame(
            [(f.file, f.line, f.call) for f in self.findings],
            schema={"file": pl.Utf8, "line": pl.Int64, "call": pl.Utf8},
            orient="row",
        )


def static_scan(paths: Iterable[str | Path] = FEATURE_CODE) -> StaticScanResult:
    """Scan Python files with :mod:`ast` for wall-clock reads (``datetime.now()``,
    ``date.today()``, ``time.time()``, ``datetime.utcnow()``, ``pl.lit(datetime.now())``,
    ``np.datetime64("now")``…). A feature must be a function of the cutoff and the data
    before it; the clock makes it a function of the day it ran.

    Gate ``wall_clock_reads``: the number of findings <= 0, naming the first few.
    "not measured" when no file is given or a file cannot be read or parsed.
    """
    files = [Path(p) for p in paths]
    findings: list[Finding] = []
    problems: list[str] = []
    for path in files:
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: {type(exc).__name__}")
            continue
        findings += _scan_tree(tree, str(path))
    scanned = [str(p) for p in files]
    if not files or problems:
        why = "no files to scan" if not files else "unreadable: " + ", ".join(problems)
        return StaticScanResult(
            findings, scanned, GateReport([not_measured("wall_clock_reads", why)])
        )
    shown = "; ".join(f"{Path(f.file).name}:{f.line} {f.call}" for f in findings[:5])
    detail = f"{len(files)} files" + (f"; {shown}" if shown else "")
    return StaticScanResult(
        findings, scanned, GateReport([gate("wall_clock_reads", len(findings), "<=", 0, detail)])
    )


# --- the report --------------------------------------------------------------------------------


@dataclass
class GauntletReport:
    """Every check's result; ``reports[name]`` is its :class:`GateReport` (names in
    :data:`ALL_CHECKS`; the time checks are "not measured" when ``extra`` is None)."""

    permutation: PermutationResult
    univariate: UnivariateResult
    reproducibility: ReproducibilityResult
    static: StaticScanResult
    seconds: dict[str, float] = field(default_factory=dict)
    extra: ExtraResults | None = None

    @property
    def reports(self) -> dict[str, GateReport]:
        from gosales_assets.gauntlet_extra import ExtraResults

        return {
            "label_permutation": self.permutation.report,
            "too_good_to_be_true": self.univariate.report,
            "reproducibility": self.reproducibility.report,
            "static_scan": self.static.report,
            **(self.extra or ExtraResults()).reports(),
        }

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports.values())

    def combined(self) -> GateReport:
        return GateReport.of(g for r in self.reports.values() for g in r.gates)

    def numbers(self) -> dict[str, float]:
        """Every measured number, flat (NaN where not measured)."""
        top = self.univariate.table.head(1)
        return {
            "permutation_observed_auc": self.permutation.observed,
            "permutation_null_mean_auc": self.permutation.null_mean,
            "permutation_null_sd_auc": float(np.std(self.permutation.null))
            if self.permutation.null.size
            else math.nan,
            "permutation_auc_margin": self.permutation.margin,
            "permutation_p": self.permutation.p_value,
            "permutation_n": float(self.permutation.null.size),
            "univariate_best_auc": float(self.univariate.table["holdout_auc"].max())
            if top.height
            else math.nan,
            "univariate_max_auc_low": float(top["holdout_auc_low"][0]) if top.height else math.nan,
            "univariate_flagged": float(len(self.univariate.flagged)),
            "reproducibility_max_abs_diff": self.reproducibility.max_abs_diff,
            "static_scan_findings": float(len(self.static.findings)),
            **(self.extra.numbers() if self.extra else {}),
            **{f"seconds_{k}": v for k, v in self.seconds.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """A plain payload (what the Dagster asset stores)."""
        return {
            "passed": self.passed,
            "checks": {k: r.to_dict() for k, r in self.reports.items()},
            "numbers": self.numbers(),
            "null": self.permutation.null.tolist(),
            "univariate": self.univariate.table,
            "static_findings": self.static.table(),
            "checksums": list(self.reproducibility.checksums),
            **(self.extra.payload() if self.extra else {}),
        }


def gauntlet_report(
    train: pl.DataFrame,
    holdout: pl.DataFrame,
    features: list[str],
    training_cfg: TrainingConfig,
    cfg: GauntletConfig,
    *,
    paths: Sequence[str | Path] = FEATURE_CODE,
    trainer: Trainer | None = None,
    tables: Tables | None = None,
) -> GauntletReport:
    """Run the checks on one candidate's frames; wall time of each in ``seconds``. The
    four time checks (:data:`EXTRA_CHECKS`) run when ``tables`` (the input tables and time
    frame, :class:`gosales_assets.gauntlet_extra.Tables`) is given, else they are "not
    measured"."""
    import time

    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - start
        return out

    extra = None
    if tables is not None:
        from gosales_assets.gauntlet_extra import run_extra

        extra = run_extra(train, holdout, features, training_cfg, cfg, tables, trainer=trainer)
    report = GauntletReport(
        permutation=timed(
            "label_permutation", lambda: permutation_test(train, holdout, features, cfg)
        ),
        univariate=timed(
            "too_good_to_be_true", lambda: too_good_to_be_true(train, holdout, features, cfg)
        ),
        reproducibility=timed(
            "reproducibility",
            lambda: reproducibility(
                train, features, training_cfg, holdout=holdout, gauntlet=cfg, trainer=trainer
            ),
        ),
        static=timed("static_scan", lambda: static_scan(paths)),
        seconds=seconds,
        extra=extra,
    )
    if extra is not None:
        report.seconds.update(extra.seconds)
    return report
