"""Campaign recommendations: adjusted effects of step variants, ranked, with an experiment plan.

For every campaign step that exists in two or more variants (``campaign_id``,
``step_number``), and every target, the effect of one variant against the
other variants of the same step is estimated among the enrollments that were
sent that step, **adjusted for who received it**: variants are not assigned at
random (a pushy SMS may go to the strongest leads), so raw rate differences
are biased. The estimator is augmented inverse-probability weighting (AIPW,
doubly robust) with logistic propensity and outcome models on pre-treatment
covariates (contact source, region, age band, job level, company size,
organization, hour and weekday of the first touch); the 95% interval comes
from the influence function. Engagement is *not* adjusted for: it happens
after the variant is sent.

Effects are risk differences on the target (``+0.05`` = five more booked calls
per 100 enrollments). Impact = effect × volume (enrollments sent the variant
in the last ``volume_days``): the expected number of outcomes won or lost
over that period. Underperformers (interval entirely below zero) are ranked
by impact, each with a concrete edit (replace the prompt / change the delay
or channel to the best alternative) and the per-arm sample size of an A/B test
that would confirm it. Nothing is changed automatically: it is a report for
a person to approve.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from leadconv_assets.labels import labels_for
from shared.dagster_helpers import md_table

if TYPE_CHECKING:
    from leadconv_assets.config import LeadconvConfig

KEYS = ["org_id", "enrollment_id"]
COVARIATES = ["source_channel", "region", "age_band", "job_level", "company_size", "org_id"]


def _design(frame: pl.DataFrame) -> np.ndarray:
    cols = []
    for c in COVARIATES:
        if c not in frame.columns:
            continue
        vals = sorted(v for v in frame[c].unique().to_list() if v is not None)
        for v in vals[1:]:  # drop one level per factor
            cols.append((frame[c] == v).fill_null(False).cast(pl.Float64).to_numpy())
    hour = frame["first_hour"].to_numpy()
    for lo, hi in ((6, 8), (8, 12), (12, 19)):
        cols.append(((hour >= lo) & (hour < hi)).astype(float))
    cols.append((frame["first_weekday"].to_numpy() >= 6).astype(float))
    return np.column_stack(cols) if cols else np.zeros((frame.height, 1))


def propensity(t: np.ndarray, X: np.ndarray, clip: float = 0.02) -> np.ndarray:
    """P(variant | covariates) from a logistic model, clipped away from 0 and 1."""
    from sklearn.linear_model import LogisticRegression

    ps = LogisticRegression(C=1.0, max_iter=1000).fit(X, t).predict_proba(X)[:, 1]
    return np.clip(ps, clip, 1 - clip)


def aipw(
    y: np.ndarray, t: np.ndarray, X: np.ndarray, ps: np.ndarray | None = None
) -> dict[str, float]:
    """Doubly robust average effect of ``t`` on ``y`` with an influence-function 95% interval."""
    from sklearn.linear_model import LogisticRegression

    ps = propensity(t, X) if ps is None else ps
    if y.min() == y.max():
        m1 = m0 = np.full(y.size, float(y.mean()))
    else:
        XT = np.column_stack([X, t])
        om = LogisticRegression(C=1.0, max_iter=1000).fit(XT, y)
        m1 = om.predict_proba(np.column_stack([X, np.ones_like(t)]))[:, 1]
        m0 = om.predict_proba(np.column_stack([X, np.zeros_like(t)]))[:, 1]
    psi = m1 - m0 + t * (y - m1) / ps - (1 - t) * (y - m0) / (1 - ps)
    est = float(psi.mean())
    se = float(psi.std(ddof=1) / math.sqrt(y.size))
    z = norm.ppf(0.975)
    p = float(2 * (1 - norm.cdf(abs(est) / se))) if se > 0 else float("nan")
    return {
        "effect": est,
        "ci_low": est - z * se,
        "ci_high": est + z * se,
        "se": se,
        "p_value": p,
        "control_rate_adj": float(m0.mean()),
    }


def ab_sample_size(p0: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Per-arm sample size of a two-sided two-proportion test to detect ``p0 → p0 + effect``."""
    p1 = min(max(p0 + effect, 1e-4), 1 - 1e-4)
    p0 = min(max(p0, 1e-4), 1 - 1e-4)
    if abs(p1 - p0) < 1e-9:
        return 0
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    pbar = (p0 + p1) / 2
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) ** 2
    return int(math.ceil(n / (p1 - p0) ** 2))


def treatment_frame(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per (enrollment, step sent) with the step's slot and variant, plus covariates."""
    steps = tables["campaign_steps"]
    sent = (
        tables["engagement_logs"]
        .filter(pl.col("event_type") == "sent")
        .group_by(*KEYS, "step_id")
        .agg(sent_at=pl.col("event_at").min())
        .join(
            steps.select("org_id", "step_id", "campaign_id", "step_number"),
            on=["org_id", "step_id"],
            how="inner",
        )
    )
    first = (
        tables["engagement_logs"]
        .filter(pl.col("event_type") == "sent")
        .group_by(KEYS)
        .agg(first_at=pl.col("event_at").min())
    )
    enr = (
        tables["enrollments"]
        .select(*KEYS, "contact_id")
        .join(first, on=KEYS, how="inner")
        .join(
            tables["contacts"].select(
                "org_id", "contact_id", *[c for c in COVARIATES if c != "org_id"]
            ),
            on=["org_id", "contact_id"],
            how="left",
        )
        .with_columns(
            first_hour=pl.col("first_at").dt.hour(), first_weekday=pl.col("first_at").dt.weekday()
        )
    )
    return sent.join(enr, on=KEYS, how="inner")


def estimate_effects(
    tables: dict[str, pl.DataFrame],
    labels_by_target: dict[str, pl.DataFrame],
    as_of: datetime,
    volume_days: int = 90,
    min_arm: int = 30,
) -> pl.DataFrame:
    """Adjusted effect of every step variant on every target (closed label windows only)."""
    tf = treatment_frame(tables)
    steps = tables["campaign_steps"].unique(subset=["step_id"], keep="first")
    slots = (
        steps.group_by("campaign_id", "step_number")
        .agg(n_variants=pl.col("step_id").n_unique())
        .filter(pl.col("n_variants") >= 2)
        .sort("campaign_id", "step_number")
    )
    recent = tf.filter(pl.col("sent_at") > as_of - timedelta(days=volume_days))
    volume = recent.group_by("step_id").agg(volume=pl.len())
    rows = []
    closed = {
        target: labels.filter(pl.col("window_closed")).select(*KEYS, "label")
        for target, labels in labels_by_target.items()
    }
    with threadpool_limits(1):
        for camp, num, _ in slots.iter_rows():
            pop = (
                tf.filter((pl.col("campaign_id") == camp) & (pl.col("step_number") == num))
                .sort(KEYS)
                .with_row_index("_i")
            )
            if pop.height < 2 * min_arm:
                continue
            X_all = _design(pop)
            for sid in sorted(pop["step_id"].unique().to_list()):
                t_all = (pop["step_id"] == sid).to_numpy().astype(float)
                if min(t_all.sum(), (1 - t_all).sum()) < min_arm:
                    continue
                ps_all = propensity(t_all, X_all)
                for target, lab in closed.items():
                    sub = pop.select("_i", *KEYS).join(lab, on=KEYS, how="inner").sort("_i")
                    i = sub["_i"].to_numpy()
                    y, t = sub["label"].to_numpy().astype(float), t_all[i]
                    n1, n0 = int(t.sum()), int((1 - t).sum())
                    if n1 < min_arm or n0 < min_arm:
                        continue
                    est = aipw(y, t, X_all[i], ps_all[i])
                    rows.append(
                        {
                            "target": target,
                            "campaign_id": camp,
                            "step_number": int(num),
                            "step_id": sid,
                            "n_treated": n1,
                            "n_control": n0,
                            "rate_treated": float(y[t == 1].mean()),
                            "rate_control": float(y[t == 0].mean()),
                            "raw_diff": float(y[t == 1].mean() - y[t == 0].mean()),
                            **est,
                        }
                    )
    if not rows:
        return pl.DataFrame()
    out = (
        pl.DataFrame(rows)
        .join(
            steps.select(
                "step_id",
                "channel",
                "delay_hours",
                "prompt_template_id",
                "prompt_variant_id",
                *(["prompt_text"] if "prompt_text" in steps.columns else []),
            ),
            on="step_id",
            how="left",
        )
        .join(volume, on="step_id", how="left")
        .with_columns(pl.col("volume").fill_null(0))
        .with_columns(
            impact=pl.col("effect") * pl.col("volume"),
            significant=(pl.col("ci_high") < 0) | (pl.col("ci_low") > 0),
        )
        .with_columns(
            rank_worst=pl.col("impact").rank("ordinal").over("target").cast(pl.Int32),
            sample_size_per_arm=pl.struct("control_rate_adj", "effect").map_elements(
                lambda s: ab_sample_size(s["control_rate_adj"], s["effect"]),
                return_dtype=pl.Int64,
            ),
            daily_volume=pl.col("volume") / volume_days,
            slot_daily_volume=pl.col("volume").sum().over("target", "campaign_id", "step_number")
            / volume_days,
        )
        .sort("target", "rank_worst")
    )
    return out


def _pp(x: float) -> str:
    return f"{x * 100:+.1f} pp"


def recommendations(effects: pl.DataFrame, volume_days: int = 90) -> pl.DataFrame:
    """Concrete edits: replace significant underperformers, roll out significant winners."""
    recs = []
    if effects.height == 0:
        return pl.DataFrame()
    for target in effects["target"].unique(maintain_order=True).to_list():
        eff = effects.filter(pl.col("target") == target)
        for r in eff.filter(pl.col("ci_high") < 0).sort("impact").to_dicts():
            alts = eff.filter(
                (pl.col("campaign_id") == r["campaign_id"])
                & (pl.col("step_number") == r["step_number"])
                & (pl.col("step_id") != r["step_id"])
            ).sort("effect", descending=True)
            alt = alts.row(0, named=True) if alts.height else None
            change = []
            if alt is not None:
                if alt["prompt_template_id"] != r["prompt_template_id"]:
                    text = f' ("{alt.get("prompt_text")}")' if alt.get("prompt_text") else ""
                    change.append(
                        f"replace prompt `{r['prompt_template_id']}` with `{alt['prompt_template_id']}`{text}"
                    )
                if alt["delay_hours"] != r["delay_hours"]:
                    change.append(
                        f"send it {alt['delay_hours']:g} h after the first touch instead of {r['delay_hours']:g} h"
                    )
                if alt["channel"] != r["channel"]:
                    change.append(f"use {alt['channel']} instead of {r['channel']}")
            action = "; ".join(change) or "retire this variant"
            days = r["sample_size_per_arm"] * 2 / max(r["slot_daily_volume"], 1e-9)
            recs.append(
                {
                    "target": target,
                    "kind": "fix underperformer",
                    "step_id": r["step_id"],
                    "priority": len(recs) + 1,
                    "recommendation": (
                        f"{r['campaign_id']} step {r['step_number']} variant {r['prompt_variant_id']} "
                        f"({r['channel']}, {r['delay_hours']:g} h, `{r['prompt_template_id']}`) lowers "
                        f"{target} by {abs(r['effect']) * 100:.1f} pp (95% CI {_pp(r['ci_low'])} to {_pp(r['ci_high'])}; "
                        f"raw difference {_pp(r['raw_diff'])}); about {abs(r['impact']):.0f} outcomes lost per "
                        f"{volume_days} days. Edit: {action}."
                    ),
                    "experiment": (
                        f"A/B test {r['step_id']} vs "
                        f"{alt['step_id'] if alt else 'no step'}: {r['sample_size_per_arm']} enrollments per arm "
                        f"(alpha 0.05, power 0.8), about {days:.0f} days of this step's current volume."
                    ),
                    "effect": r["effect"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "impact": r["impact"],
                    "sample_size_per_arm": r["sample_size_per_arm"],
                }
            )
        fixed_slots = {
            (r["campaign_id"], r["step_number"])
            for r in eff.filter(pl.col("ci_high") < 0).to_dicts()
        }
        for r in eff.filter(pl.col("ci_low") > 0).sort("impact", descending=True).to_dicts():
            if (r["campaign_id"], r["step_number"]) in fixed_slots:
                continue  # already covered by the fix of its alternative
            days = r["sample_size_per_arm"] * 2 / max(r["slot_daily_volume"], 1e-9)
            recs.append(
                {
                    "target": target,
                    "kind": "roll out winner",
                    "step_id": r["step_id"],
                    "priority": len(recs) + 1,
                    "recommendation": (
                        f"{r['campaign_id']} step {r['step_number']} variant {r['prompt_variant_id']} "
                        f"({r['channel']}, {r['delay_hours']:g} h, `{r['prompt_template_id']}`) raises "
                        f"{target} by {r['effect'] * 100:.1f} pp (95% CI {_pp(r['ci_low'])} to {_pp(r['ci_high'])}; "
                        f"raw difference {_pp(r['raw_diff'])}). Send it to every enrollment of this step."
                    ),
                    "experiment": (
                        f"Confirm with a holdout of the other variants: {r['sample_size_per_arm']} per arm, "
                        f"about {days:.0f} days of this step's current volume."
                    ),
                    "effect": r["effect"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "impact": r["impact"],
                    "sample_size_per_arm": r["sample_size_per_arm"],
                }
            )
    return pl.DataFrame(recs)


def report_markdown(effects: pl.DataFrame, recs: pl.DataFrame, as_of: datetime) -> str:
    """The readable report: recommendations, experiment plan, and every estimate."""
    lines = [
        f"# Campaign recommendations (data as of {as_of:%Y-%m-%d})",
        "",
        "Effects are adjusted for who received each variant (AIPW), as risk differences in "
        "percentage points against the other variants of the same step, with 95% intervals. "
        "**Nothing is changed automatically**: each item needs a person's approval and an A/B test.",
        "",
    ]
    if recs.height == 0:
        lines += ["No step variant differs from its alternatives with confidence.", ""]
    else:
        lines += ["## Recommended edits (by impact)", ""]
        for r in recs.to_dicts():
            lines.append(f"{r['priority']}. **{r['target']}** — {r['recommendation']}")
        lines += ["", "## Experiment plan", ""]
        for r in recs.to_dicts():
            lines.append(f"- {r['target']}: {r['experiment']}")
        lines.append("")
    if effects.height:
        lines += ["## All estimates (worst first per target)", ""]
        lines.append(
            md_table(
                effects.select(
                    "target",
                    "step_id",
                    "channel",
                    "delay_hours",
                    "n_treated",
                    pl.col("raw_diff").round(4),
                    pl.col("effect").round(4),
                    pl.col("ci_low").round(4),
                    pl.col("ci_high").round(4),
                    pl.col("impact").round(1),
                    "sample_size_per_arm",
                ),
                max_rows=200,
            )
        )
    return "\n".join(lines)


def campaign_report(
    cfg: LeadconvConfig, tables: dict[str, pl.DataFrame], as_of: datetime, folder: Path
) -> tuple[pl.DataFrame, pl.DataFrame, str, Path]:
    """Effects of every step variant on every target as of ``as_of``, the recommendations and
    their markdown report written to ``folder/campaign_recommendations.md``; returns
    ``(effects, recommendations, report, path)``."""
    lbl = {t: labels_for(cfg, tables, t, as_of) for t in cfg.targets}
    effects = estimate_effects(tables, lbl, as_of, cfg.scoring.days_back)
    recs = recommendations(effects, cfg.scoring.days_back)
    report = report_markdown(effects, recs, as_of)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "campaign_recommendations.md"
    path.write_text(report)
    return effects, recs, report, path


def worst_per_target(effects: pl.DataFrame) -> dict[str, str]:
    """The worst-ranked step of each target."""
    if not effects.height:
        return {}
    return dict(effects.filter(pl.col("rank_worst") == 1).select("target", "step_id").rows())
