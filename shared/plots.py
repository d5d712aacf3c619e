"""Small PNG charts for model cards and asset metadata (matplotlib, no Dagster here).

Each function takes the tables the metrics module already computes and returns PNG
bytes; :func:`md_image` embeds them in markdown as a data URI, which the Dagster UI
renders inside ``MetadataValue.md`` and any markdown viewer renders from the card file.
Figures are small (about 4.5 x 3 in at 80 dpi, 15-30 kB) so a partition's metadata stays
light.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

SIZE = (4.5, 3.0)
DPI = 80


@contextmanager
def _figure(title: str) -> Iterator[tuple[Any, Any, io.BytesIO]]:
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display on servers and in CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    buf = io.BytesIO()
    try:
        ax.set_title(title, fontsize=10)
        yield fig, ax, buf
        fig.tight_layout()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)


def calibration_png(bins: pl.DataFrame, title: str = "Calibration (equal-mass bins)") -> bytes:
    """Reliability curve from :func:`shared.metrics.calibration_bins` (``mean_pred``,
    ``observed_rate``): predicted against observed rate, the diagonal is perfect."""
    with _figure(title) as (_, ax, buf):
        hi = float(max(bins["mean_pred"].max() or 0, bins["observed_rate"].max() or 0, 0.01))
        ax.plot([0, hi], [0, hi], color="0.7", lw=1, ls="--", label="perfect")
        ax.plot(bins["mean_pred"], bins["observed_rate"], marker="o", label="candidate")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed rate")
        ax.legend(fontsize=8)
    return buf.getvalue()


def gains_png(gains: pl.DataFrame, title: str = "Cumulative gains (capture)") -> bytes:
    """Capture curves from :func:`shared.metrics.gains_table` (``model, frac, capture``),
    one line per model, with the random-order diagonal."""
    with _figure(title) as (_, ax, buf):
        ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="random")
        for (model,), part in gains.sort("frac").group_by(["model"], maintain_order=True):
            ax.plot([0.0, *part["frac"]], [0.0, *part["capture"]], label=str(model))
        ax.set_xlabel("share of customers contacted (by score)")
        ax.set_ylabel("share of buyers captured")
        ax.legend(fontsize=8)
    return buf.getvalue()


def importance_png(
    importance: pl.DataFrame, top: int = 15, title: str = "Feature importance"
) -> bytes:
    """Horizontal bars of the ``top`` rows of a ``feature, <weight>`` frame (sorted
    descending by its second column)."""
    weight = importance.columns[1]
    shown = importance.sort(weight, descending=True).head(top).reverse()
    with _figure(title) as (fig, ax, buf):
        fig.set_size_inches(SIZE[0], max(SIZE[1], 0.22 * shown.height + 0.8))
        ax.barh(shown["feature"].to_list(), shown[weight].to_list())
        ax.set_xlabel(weight)
        ax.tick_params(axis="y", labelsize=7)
    return buf.getvalue()


def trend_png(trend: pl.DataFrame, x: str, y: str, by: str, title: str) -> bytes:
    """One line per ``by`` group of ``y`` against ``x`` (e.g. AUC per division across
    cutoffs), so groups are never joined into one sawtooth line."""
    with _figure(title) as (_, ax, buf):
        for (group,), part in trend.sort(x).group_by([by], maintain_order=True):
            ax.plot(part[x].to_list(), part[y].to_list(), marker="o", label=str(group))
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.legend(fontsize=7)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    return buf.getvalue()


def null_png(null: Sequence[float], observed: float, title: str, xlabel: str = "AUC") -> bytes:
    """Histogram of a permutation null (``null``: one statistic per permutation) with the
    observed statistic as a vertical line: how far the real signal sits from chance."""
    with _figure(title) as (_, ax, buf):
        ax.hist(list(null), bins=20, color="#9aa", label=f"null ({len(null)} permutations)")
        ax.axvline(observed, color="#c33", linewidth=2, label=f"observed {observed:.3f}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("permutations")
        ax.legend(fontsize=7)
    return buf.getvalue()


def coverage_png(
    coverage: pl.DataFrame, target: float, title: str = "Range coverage by group"
) -> bytes:
    """Observed interval coverage per group (``group, coverage, accept_lo, accept_hi``)
    against the ``target``: each group's binomial acceptance interval around the target as
    a bar, its observed coverage as a dot (red when outside the interval)."""
    with _figure(title) as (_, ax, buf):
        x = list(range(coverage.height))
        cov = coverage["coverage"].to_numpy()
        lo, hi = coverage["accept_lo"].to_numpy(), coverage["accept_hi"].to_numpy()
        ax.axhline(target, color="0.6", lw=1, ls="--", label=f"target {target:.0%}")
        ax.vlines(x, lo, hi, color="0.75", lw=6, label="99% acceptance interval")
        inside = (cov >= lo) & (cov <= hi)
        ax.scatter(x, cov, c=["tab:blue" if ok else "tab:red" for ok in inside], zorder=3)
        ax.set_xticks(x, coverage["group"].to_list(), rotation=30, fontsize=7)
        ax.set_ylabel("share of lines inside the range")
        ax.legend(fontsize=7)
    return buf.getvalue()


def model_card_plots(
    calibration_bins: pl.DataFrame,
    importance: pl.DataFrame,
    weight_label: str,
    gains: pl.DataFrame | None = None,
) -> dict[str, bytes]:
    """A classifier card's charts (title -> PNG): calibration curve, cumulative gains when
    given, and the importance of ``importance``'s second column shown as ``weight_label``
    (none when every weight is 0: a prior-rate stand-in has no importance)."""
    out = {"Calibration curve": calibration_png(calibration_bins)}
    if gains is not None:
        out["Cumulative gains"] = gains_png(gains)
    weight = importance.columns[1] if importance.width > 1 else None
    if weight and importance.height and float(importance[weight].abs().sum()) > 0:
        out["Feature importance"] = importance_png(
            importance.select("feature", pl.col(weight).alias(weight_label)),
            title=f"Feature importance ({weight_label})",
        )
    return out


def md_image(png: bytes, alt: str) -> str:
    """Markdown image with the PNG inline (``data:image/png;base64``)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def horizon_png(
    curve: pl.DataFrame,
    metrics: tuple[str, ...] = ("auc", "pr_auc", "brier", "calibration_mae"),
    twin: str | None = "lift_at_10",
    title: str = "Prequential: metric vs horizon",
) -> bytes:
    """Metrics of a frozen model against ``horizon`` (months after its training cutoff):
    ``metrics`` (on [0, 1]) on the left axis, ``twin`` (e.g. lift) on the right; the
    reference horizon (``reference``) as a dashed line and censored horizons
    (``status == "censored"``, no metric) as a grey band."""
    shown = curve.sort("horizon")
    measured = shown.filter(pl.col("status") == "measured")
    with _figure(title) as (_, ax, buf):
        for m in metrics:
            ax.plot(measured["horizon"], measured[m], marker="o", ms=3, label=m)
        censored = shown.filter(pl.col("status") == "censored")["horizon"]
        if censored.len():
            ax.axvspan(float(censored.min()) - 0.5, float(censored.max()) + 0.5, color="0.9")
            ax.text(float(censored.min()), 0.02, "censored", fontsize=7, color="0.4")
        ref = shown.filter(pl.col("reference"))["horizon"]
        if ref.len():
            ax.axvline(float(ref[0]), color="0.5", lw=1, ls="--", label="holdout (reference)")
        ax.set_ylim(0, 1.3)  # headroom above 1 for the legend
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_xlabel("horizon (months after the training cutoff)")
        ax.set_ylabel("metric")
        ax.legend(fontsize=6, loc="upper left", ncol=3)
        if twin:
            right = ax.twinx()
            right.plot(measured["horizon"], measured[twin], color="k", ls=":", marker="s", ms=3)
            top = float(measured[twin].max() or 1.0) if measured.height else 1.0
            right.set_ylim(0, 1.3 * max(top, 1e-9))  # the same headroom as the left axis
            right.set_ylabel(f"{twin} (dotted)")
    return buf.getvalue()
