"""A second synthetic lead world (``world_variant: linear``): linear-logit truth, weaker signal.

Deliberately different from :mod:`leadconv_assets.world`: the organizations, contacts,
campaigns, variant assignment and first-day engagement are those of the shipped world (same
size and seed), but every outcome is redrawn from probabilities that are **exactly logistic in
the features the models see** at the decision time (:func:`features.build_features`): contact
source, job level, company size, campaign, first-day opens, clicks, replies and answered
calls, a weekend first touch, and the two planted variants (``welcome_s2_b`` harmful,
``nurture_s1_c`` helpful, both sent within the first day). No hour bump, no interaction: a
regularized logistic regression is the right model here, and LightGBM can only approach it.
The coefficients are smaller than the shipped funnel's, so the signal is weaker.

Targets nest on one linear predictor ``eta``: ``P(booked within 7d) = s(eta)``,
``P(qualified within 14d) = s(eta + b2)``, ``P(converted within 30d) = s(eta + b2 + b3)`` with
``b2, b3 < 0`` depending on job level and company size (also features), so each target's truth
is linear-logit and the funnel is consistent (``q2 = s(eta + b2) / s(eta)``). Events happen
after the decision time (bookings from day 1.05 on) and inside their windows, so the exported
truth is exactly the probability of each closed-window label.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from leadconv_assets.features import KEYS, build_features
from leadconv_assets.world import HARMFUL, HELPFUL, LeadconvWorld, generate_world

FEATURE_WINDOW = timedelta(hours=24)
INTERCEPT = -2.6
# coefficient per feature column (features.build_features names); everything else 0
COEFFICIENTS: dict[str, float] = {
    "source_channel__referral": 0.8,
    "source_channel__web_form": 0.5,
    "source_channel__event": 0.2,
    "source_channel__paid_social": -0.35,
    "source_channel__cold_list": -0.7,
    "job_level__c_level": 0.5,
    "job_level__director": 0.35,
    "job_level__individual": -0.2,
    "company_size__large": 0.25,
    "company_size__mid": 0.1,
    "campaign__welcome": 0.15,
    "campaign__reengage": -0.3,
    "n_opened": 0.25,
    "n_clicked": 0.35,
    "has_reply": 1.0,
    "n_call_answered": 0.7,
    "is_weekend": -0.3,
    f"seen_{HARMFUL}": -0.9,
    f"seen_{HELPFUL}": 0.8,
}
# qualification and conversion offsets (< 0 everywhere, so the targets nest)
QUALIFY = {"base": -0.8, "job_level__c_level": 0.3, "job_level__director": 0.3}
CONVERT = {"base": -0.7, "company_size__large": 0.35}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _linear(frame: pl.DataFrame, coefs: dict[str, float], base: float = 0.0) -> np.ndarray:
    out = np.full(frame.height, base, dtype=float)
    for col, c in coefs.items():
        if col != "base" and col in frame.columns:
            out += c * frame[col].cast(pl.Float64).fill_null(0.0).to_numpy()
    return out


def generate_linear_world(size: str = "demo", seed: int = 42) -> LeadconvWorld:
    """The linear-logit world of ``size`` and ``seed`` (deterministic)."""
    shipped = generate_world(size, seed)
    rng = np.random.default_rng(seed + 7919)
    tables = shipped.tables()
    feats = shipped.enrollments.select(KEYS).join(
        build_features(tables, shipped.as_of, FEATURE_WINDOW), on=KEYS, how="left"
    )
    eta = _linear(feats, COEFFICIENTS, INTERCEPT)
    b2 = _linear(feats, QUALIFY, QUALIFY["base"])
    b3 = _linear(feats, CONVERT, CONVERT["base"])
    p1, p2, p3 = _sigmoid(eta), _sigmoid(eta + b2), _sigmoid(eta + b2 + b3)
    n = feats.height
    booked = rng.random(n) < p1
    qualified = booked & (rng.random(n) < p2 / p1)
    converted = qualified & (rng.random(n) < p3 / p2)
    has_reply = feats["has_reply"].fill_null(0).to_numpy()
    opt_out = (~booked) & (rng.random(n) < _sigmoid(-2.0 - 0.3 * has_reply))
    t_book = rng.uniform(1.05, 7.0, n)
    t_qual = t_book + rng.uniform(0.3, 6.5, n)
    t_conv = t_qual + rng.uniform(0.5, 15.0, n)
    t_opt = rng.uniform(1.5, 10.0, n)

    first = feats["first_engagement_at"]
    parts = []
    for mask, days, kind in (
        (booked, t_book, "booked_call"),
        (qualified, t_qual, "qualified"),
        (converted, t_conv, "converted"),
        (opt_out, t_opt, "opt_out"),
    ):
        sel = np.flatnonzero(mask & first.is_not_null().to_numpy())
        offset = pl.Series("offset", (days[sel] * 86_400e6).astype(np.int64)).cast(
            pl.Duration("us")
        )
        part = feats.select(*KEYS, "first_engagement_at")[sel].with_columns(offset)
        parts.append(
            part.select(
                *KEYS,
                outcome_type=pl.lit(kind),
                outcome_at=pl.col("first_engagement_at") + pl.col("offset"),
            )
        )
    oc = pl.concat(parts).filter(pl.col("outcome_at") <= shipped.as_of)
    oc = oc.sort("outcome_at", *KEYS, "outcome_type").with_columns(
        outcome_id=pl.format("oc{}", pl.int_range(1, oc.height + 1).cast(pl.Utf8).str.zfill(7)),
        outcome_at=pl.col("outcome_at").cast(pl.Datetime("us")),
    )
    outcomes = oc.select("org_id", "outcome_id", "enrollment_id", "outcome_type", "outcome_at")
    # nothing is sent or logged after an opt-out
    opt = outcomes.filter(pl.col("outcome_type") == "opt_out").select(
        *KEYS, opt_out_at="outcome_at"
    )
    logs = (
        shipped.engagement_logs.join(opt, on=KEYS, how="left")
        .filter(pl.col("opt_out_at").is_null() | (pl.col("event_at") < pl.col("opt_out_at")))
        .drop("opt_out_at")
    )
    truth = feats.select(KEYS).with_columns(
        p_booked_call_within_7d=pl.Series(p1),
        p_qualified_within_14d=pl.Series(p2),
        p_conversion_within_30d=pl.Series(p3),
    )
    return LeadconvWorld(
        organizations=shipped.organizations,
        contacts=shipped.contacts,
        campaign_steps=shipped.campaign_steps,
        enrollments=shipped.enrollments,
        engagement_logs=logs,
        outcomes=outcomes,
        truth=truth,
        true_effects=_true_effects(shipped, feats, eta, b2, b3),
        as_of=shipped.as_of,
        meta={**shipped.meta, "variant": "linear", "coefficients": dict(COEFFICIENTS)},
    )


def _true_effects(
    shipped: LeadconvWorld, feats: pl.DataFrame, eta: np.ndarray, b2: np.ndarray, b3: np.ndarray
) -> pl.DataFrame:
    """Per step variant × target: the logit effect (its coefficient minus the mean of the other
    variants of its slot) and the counterfactual risk difference (this variant vs the mean of
    the others, over the enrollments of its campaign)."""
    steps = shipped.campaign_steps.select("campaign_id", "step_number", "step_id").unique()
    rows = []
    offsets = {
        "booked_call_within_7d": 0.0,
        "qualified_within_14d": b2,
        "conversion_within_30d": b2 + b3,
    }
    for (camp, num), grp in steps.sort("step_id").group_by(
        ["campaign_id", "step_number"], maintain_order=True
    ):
        ids = grp["step_id"].to_list()
        if len(ids) < 2:
            continue
        in_c = (feats[f"campaign__{camp}"] == 1).fill_null(False).to_numpy()
        eff = {s: COEFFICIENTS.get(f"seen_{s}", 0.0) for s in ids}
        own = sum(eff[s] * feats[f"seen_{s}"].fill_null(0).to_numpy() for s in ids)
        base = (eta - own)[in_c]
        for s in ids:
            others = [eff[o] for o in ids if o != s]
            for target, off in offsets.items():
                o = off if np.isscalar(off) else off[in_c]
                p_s = _sigmoid(base + o + eff[s])
                p_o = np.mean([_sigmoid(base + o + e) for e in others], axis=0)
                rows.append(
                    {
                        "campaign_id": camp,
                        "step_number": num,
                        "step_id": s,
                        "prompt_variant_id": s.rsplit("_", 1)[1],
                        "target": target,
                        "true_logit_effect": float(eff[s] - np.mean(others)),
                        "true_risk_difference": float(np.mean(p_s - p_o)),
                        "planted": "harmful"
                        if s == HARMFUL
                        else ("helpful" if s == HELPFUL else ""),
                    }
                )
    return pl.DataFrame(rows)


def make_world(size: str = "demo", seed: int = 42, variant: str = "shipped") -> LeadconvWorld:
    """The world of ``variant`` (``shipped`` = :func:`world.generate_world`, ``linear``)."""
    if variant == "shipped":
        return generate_world(size, seed)
    if variant == "linear":
        return generate_linear_world(size, seed)
    raise ValueError(f"unknown world variant {variant!r}; choose shipped or linear")
