"""A deterministic synthetic lead-conversion world with planted campaign effects.

Organizations run the same three campaigns. Each campaign is a sequence of
steps (``step_number``); each step exists in two or three variants that
differ in channel, delay and prompt template. A contact enrolled in a
campaign is assigned one variant per step at enrollment time, and the
assignment depends on the contact (confounding): the planted **harmful**
variant (``welcome_s2_b``, a pushy SMS one hour after the first touch) goes
preferentially to strong leads, the planted **helpful** variant
(``nurture_s1_c``, a personalised email) preferentially to weak ones, so raw
rates understate both.

Outcomes follow a funnel measured from the first engagement (first message
sent): a call is booked within 7 days with probability ``p1`` (some bookings
also happen later, outside every window), a booked lead is qualified within
the next days with probability ``q2`` and a qualified lead converts with
probability ``c3``; so the true target probabilities are exactly
``p1``, ``p1·q2`` and ``p1·q2·c3`` (exported per enrollment). Leads that do
not book may opt out. Variant effects act on the booking logit, so every
target sees them; the true effect of each element on each target is exported
both as a logit shift and as a counterfactual risk difference.

Engagement (delivered, opened, clicked, replied, voicemail, call answered)
is driven by a latent interest ``z`` that also drives the funnel, so the
first 24 hours of engagement carry signal; booking also depends on the hour
of the first touch (a morning bump, a night dip) and on an interaction
(referral × large company) that a linear baseline cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl

SIZES: dict[str, dict[str, int]] = {
    "tiny": {"orgs": 2, "enrollments": 900, "days": 120},
    "small": {"orgs": 3, "enrollments": 4000, "days": 180},
    "demo": {"orgs": 4, "enrollments": 9000, "days": 180},
    "large": {"orgs": 8, "enrollments": 60000, "days": 240},
}
START = datetime(2025, 1, 1)
TAIL_DAYS = 10  # data continue this long after the last enrollment (open windows)

TARGETS = {
    "booked_call_within_7d": ("booked_call", 7),
    "qualified_within_14d": ("qualified", 14),
    "conversion_within_30d": ("converted", 30),
}
HARMFUL = "welcome_s2_b"
HELPFUL = "nurture_s1_c"

SOURCES = ["referral", "web_form", "event", "paid_social", "cold_list"]
SOURCE_EFFECT = np.array([0.9, 0.5, 0.2, -0.3, -0.8])
REGIONS = ["north", "south", "east", "west"]
REGION_EFFECT = np.array([0.1, -0.1, 0.0, 0.05])
AGE_BANDS = ["18-29", "30-44", "45-59", "60+"]
AGE_EFFECT = np.array([-0.1, 0.1, 0.05, -0.15])
JOB_LEVELS = ["individual", "manager", "director", "c_level"]
JOB_EFFECT = np.array([-0.2, 0.1, 0.3, 0.4])
SIZES_CO = ["small", "mid", "large"]
SIZE_EFFECT = np.array([-0.1, 0.1, 0.2])

# (campaign, step_number, variant, channel, delay_hours, template, text, booking logit effect)
STEPS: list[tuple[str, int, str, str, float, str, str, float]] = [
    (
        "welcome",
        1,
        "a",
        "email",
        0,
        "tmpl_welcome_email",
        "Welcome! Here is what we can do for you.",
        0.0,
    ),
    (
        "welcome",
        1,
        "b",
        "email",
        0,
        "tmpl_welcome_email_short",
        "Hi {first_name}, quick intro.",
        0.10,
    ),
    (
        "welcome",
        2,
        "a",
        "sms",
        6,
        "tmpl_sms_checkin",
        "Hi {first_name}, any questions? Reply here.",
        0.0,
    ),
    (
        "welcome",
        2,
        "b",
        "sms",
        1,
        "tmpl_sms_urgent",
        "LAST CHANCE! Book now or lose your spot!!",
        -1.10,
    ),
    ("welcome", 3, "a", "voice", 48, "tmpl_voice_intro", "Intro call script", 0.0),
    ("welcome", 3, "b", "voice", 30, "tmpl_voice_intro_short", "Short intro call script", -0.08),
    ("welcome", 4, "a", "email", 120, "tmpl_case_study", "Case study: how peers grew 20%", 0.0),
    (
        "nurture",
        1,
        "a",
        "email",
        0,
        "tmpl_nurture_generic",
        "Our newsletter: tips for your team",
        0.0,
    ),
    ("nurture", 1, "b", "email", 0, "tmpl_nurture_webinar", "Join our webinar next week", 0.08),
    (
        "nurture",
        1,
        "c",
        "email",
        0,
        "tmpl_nurture_personal",
        "{first_name}, a plan tailored to {company}",
        1.00,
    ),
    ("nurture", 2, "a", "email", 24, "tmpl_nurture_followup", "Following up on our note", 0.0),
    (
        "nurture",
        3,
        "a",
        "sms",
        72,
        "tmpl_sms_reminder",
        "Reminder: book a 15-min call any time",
        0.0,
    ),
    (
        "nurture",
        3,
        "b",
        "sms",
        96,
        "tmpl_sms_reminder_link",
        "Pick a time that suits you: {link}",
        0.12,
    ),
    ("reengage", 1, "a", "sms", 0, "tmpl_sms_reengage", "Still interested? Reply YES", 0.0),
    (
        "reengage",
        1,
        "b",
        "sms",
        0,
        "tmpl_sms_reengage_offer",
        "We saved you a discount, reply YES",
        0.10,
    ),
    ("reengage", 2, "a", "voice", 2, "tmpl_voice_followup", "Follow-up call script", 0.0),
    (
        "reengage",
        2,
        "b",
        "voice",
        26,
        "tmpl_voice_followup_nextday",
        "Next-day follow-up call script",
        -0.10,
    ),
    (
        "reengage",
        3,
        "a",
        "email",
        72,
        "tmpl_reengage_email",
        "What changed since we last spoke",
        0.0,
    ),
]
CAMPAIGNS = ["welcome", "nurture", "reengage"]


def step_id(campaign: str, number: int, variant: str) -> str:
    return f"{campaign}_s{number}_{variant}"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class LeadconvWorld:
    """Contract tables plus the ground truth of one generated world."""

    organizations: pl.DataFrame
    contacts: pl.DataFrame
    campaign_steps: pl.DataFrame
    enrollments: pl.DataFrame
    engagement_logs: pl.DataFrame
    outcomes: pl.DataFrame
    truth: pl.DataFrame  # true probability of each target per enrollment
    true_effects: pl.DataFrame  # per step variant × target
    as_of: datetime
    meta: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pl.DataFrame]:
        """The contract tables (what a real source would hold)."""
        return {
            "organizations": self.organizations,
            "contacts": self.contacts,
            "campaign_steps": self.campaign_steps,
            "enrollments": self.enrollments,
            "engagement_logs": self.engagement_logs,
            "outcomes": self.outcomes,
        }


def _choice(rng: np.random.Generator, n: int, k: int, p: list[float] | None = None) -> np.ndarray:
    return rng.choice(k, size=n, p=p)


def generate_world(size: str = "demo", seed: int = 42) -> LeadconvWorld:
    """Generate the world deterministically from ``size`` and ``seed``."""
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}; choose one of {sorted(SIZES)}")
    spec = SIZES[size]
    rng = np.random.default_rng(seed)
    n_orgs, n_enr, days = spec["orgs"], spec["enrollments"], spec["days"]
    as_of = START + timedelta(days=days + TAIL_DAYS)

    org_ids = np.array([f"org{i + 1:02d}" for i in range(n_orgs)])
    org_effect = rng.normal(0, 0.2, n_orgs)
    organizations = pl.DataFrame(
        {
            "org_id": org_ids,
            "org_name": [f"Organization {i + 1}" for i in range(n_orgs)],
            "industry": rng.choice(["software", "health", "finance", "retail"], n_orgs),
        }
    )

    # --- contacts --------------------------------------------------------------
    n_contacts = int(n_enr * 0.9)
    c_org = rng.integers(0, n_orgs, n_contacts)
    c_src = _choice(rng, n_contacts, 5, [0.15, 0.25, 0.15, 0.25, 0.20])
    c_reg = _choice(rng, n_contacts, 4)
    c_age = _choice(rng, n_contacts, 4, [0.2, 0.35, 0.3, 0.15])
    c_job = _choice(rng, n_contacts, 4, [0.4, 0.3, 0.2, 0.1])
    c_size = _choice(rng, n_contacts, 3, [0.45, 0.35, 0.2])
    c_created = np.datetime64(START - timedelta(days=30), "us") + rng.integers(
        0, (days + 30) * 1440, n_contacts
    ).astype("timedelta64[m]")
    contact_ids = np.array([f"c{i + 1:06d}" for i in range(n_contacts)])
    quality_c = (
        SOURCE_EFFECT[c_src]
        + REGION_EFFECT[c_reg]
        + AGE_EFFECT[c_age]
        + JOB_EFFECT[c_job]
        + SIZE_EFFECT[c_size]
        + 0.8 * ((c_src == 0) & (c_size == 2))
        + org_effect[c_org]
    )
    contacts = pl.DataFrame(
        {
            "org_id": org_ids[c_org],
            "contact_id": contact_ids,
            "source_channel": np.array(SOURCES)[c_src],
            "region": np.array(REGIONS)[c_reg],
            "age_band": np.array(AGE_BANDS)[c_age],
            "job_level": np.array(JOB_LEVELS)[c_job],
            "company_size": np.array(SIZES_CO)[c_size],
            "created_at": c_created,
        }
    )

    # --- enrollments ---------------------------------------------------------
    e_contact = rng.integers(0, n_contacts, n_enr)
    q = quality_c[e_contact]
    qs = (q - q.mean()) / (q.std() + 1e-9)
    # campaign choice depends on the lead (cold leads go to reengage more often)
    camp_logits = np.stack([0.3 + 0.4 * qs, np.zeros(n_enr), -0.2 - 0.5 * qs], axis=1)
    camp_p = np.exp(camp_logits) / np.exp(camp_logits).sum(axis=1, keepdims=True)
    e_camp = (camp_p.cumsum(axis=1) > rng.random(n_enr)[:, None]).argmax(axis=1)
    day = rng.integers(0, days, n_enr)
    hour_p = np.array(
        [0.5] * 6 + [2, 3, 4, 4, 4, 3, 3, 3, 3, 3, 2.5, 2, 1.5, 1.2, 1, 0.8, 0.6, 0.5]
    )
    hour = rng.choice(24, n_enr, p=hour_p / hour_p.sum())
    minute = rng.integers(0, 60, n_enr)
    enrolled_at = np.array(
        [
            START + timedelta(days=int(d), hours=int(h), minutes=int(m))
            for d, h, m in zip(day, hour, minute, strict=True)
        ]
    )
    lag_min = rng.integers(5, 90, n_enr)
    first_at = enrolled_at + np.array([timedelta(minutes=int(m)) for m in lag_min])
    order = np.argsort(first_at, kind="stable")
    e_contact, e_camp, enrolled_at, first_at, qs = (
        e_contact[order],
        e_camp[order],
        enrolled_at[order],
        first_at[order],
        qs[order],
    )
    enr_ids = np.array([f"e{i + 1:07d}" for i in range(n_enr)])
    e_org = c_org[e_contact]
    z = rng.normal(0, 1, n_enr)

    # --- variant assignment (confounded) --------------------------------------
    steps = pl.DataFrame(
        STEPS,
        schema=[
            "campaign_id",
            "step_number",
            "prompt_variant_id",
            "channel",
            "delay_hours",
            "prompt_template_id",
            "prompt_text",
            "effect",
        ],
        orient="row",
    ).with_columns(
        step_id=pl.concat_str(
            [
                pl.col("campaign_id"),
                pl.lit("_s"),
                pl.col("step_number").cast(pl.Utf8),
                pl.lit("_"),
                pl.col("prompt_variant_id"),
            ]
        )
    )
    slot_assign: dict[tuple[str, int], np.ndarray] = {}  # variant index per enrollment
    slot_variants: dict[tuple[str, int], list[dict]] = {}
    for (camp, num), grp in steps.group_by(["campaign_id", "step_number"], maintain_order=True):
        variants = grp.to_dicts()
        slot_variants[(camp, num)] = variants
        k = len(variants)
        if k == 1:
            slot_assign[(camp, num)] = np.zeros(n_enr, dtype=int)
            continue
        logits = np.zeros((n_enr, k))
        for j, v in enumerate(variants):
            sid = v["step_id"]
            if sid == HARMFUL:
                logits[:, j] = -0.1 + 1.2 * qs  # pushy SMS goes to strong leads
            elif sid == HELPFUL:
                logits[:, j] = -0.5 - 1.2 * qs  # personalised email goes to weak leads
            elif j > 0:
                logits[:, j] = 0.3 * qs * (1 if j % 2 else -1)
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        slot_assign[(camp, num)] = (p.cumsum(axis=1) > rng.random(n_enr)[:, None]).argmax(axis=1)

    variant_effect = np.zeros(n_enr)
    for (camp, num), variants in slot_variants.items():
        ci = CAMPAIGNS.index(camp)
        eff = np.array([v["effect"] for v in variants])[slot_assign[(camp, num)]]
        variant_effect += np.where(e_camp == ci, eff, 0.0)

    # --- sends and engagement (opt-outs happen after the first 36 hours) --------
    c_src_e, c_job_e, c_size_e = c_src[e_contact], c_job[e_contact], c_size[e_contact]
    ev_rows: dict[str, list] = {
        k: [] for k in ("idx", "step_id", "event_type", "event_at", "sent_at")
    }

    def emit(idx: np.ndarray, sid: str, etype: str, at: np.ndarray, sent_at: np.ndarray) -> None:
        ev_rows["idx"].append(idx)
        ev_rows["step_id"].append(np.full(idx.shape, sid, dtype=object))
        ev_rows["event_type"].append(np.full(idx.shape, etype, dtype=object))
        ev_rows["event_at"].append(at)
        ev_rows["sent_at"].append(sent_at)

    first_ns = first_at.astype("datetime64[ns]").astype("int64")
    hour_ns = 3_600_000_000_000
    for (camp, num), variants in slot_variants.items():
        ci = CAMPAIGNS.index(camp)
        for j, v in enumerate(variants):
            sel = np.where((e_camp == ci) & (slot_assign[(camp, num)] == j))[0]
            # small jitter except for the first touch (which defines first engagement)
            jitter = np.zeros(sel.size) if v["delay_hours"] == 0 else rng.uniform(0, 0.25, sel.size)
            sent = first_ns[sel] + ((v["delay_hours"] + jitter) * hour_ns).astype("int64")
            n = sel.size
            sid = v["step_id"]
            emit(sel, sid, "sent", sent, sent)
            zz = z[sel]
            if v["channel"] == "voice":
                ans = rng.random(n) < _sigmoid(-0.8 + 0.6 * zz)
                t = sent + rng.integers(10_000_000_000, 120_000_000_000, n)
                emit(sel[ans], sid, "call_answered", t[ans], sent[ans])
                emit(sel[~ans], sid, "voicemail", t[~ans], sent[~ans])
                continue
            deliv = rng.random(n) < 0.96
            t_del = sent + rng.integers(1_000_000_000, 60_000_000_000, n)
            emit(sel[deliv], sid, "delivered", t_del[deliv], sent[deliv])
            base_open = 0.9 if v["channel"] == "sms" else -0.4
            opened = deliv & (rng.random(n) < _sigmoid(base_open + 0.9 * zz))
            t_open = t_del + (rng.exponential(2.0 * np.exp(-0.4 * zz), n) * hour_ns).astype("int64")
            emit(sel[opened], sid, "opened", t_open[opened], sent[opened])
            clicked = opened & (rng.random(n) < _sigmoid(-1.4 + 0.8 * zz))
            t_click = t_open + rng.integers(5_000_000_000, 600_000_000_000, n)
            emit(sel[clicked], sid, "clicked", t_click[clicked], sent[clicked])
            rep_base = -1.6 if v["channel"] == "sms" else -2.3
            replied = opened & (rng.random(n) < _sigmoid(rep_base + 1.1 * zz))
            t_rep = t_open + (rng.exponential(3.0 * np.exp(-0.5 * zz), n) * hour_ns).astype("int64")
            emit(sel[replied], sid, "replied", t_rep[replied], sent[replied])

    idx = np.concatenate(ev_rows["idx"])
    ev_at = np.concatenate(ev_rows["event_at"])
    ev_type = np.concatenate(ev_rows["event_type"]).astype(str)
    rel_h = (ev_at - first_ns[idx]) / hour_ns
    # what the lead did in the first 24 hours drives booking (intent shows in replies)
    early_reply = np.full(n_enr, np.inf)
    m = (ev_type == "replied") & (rel_h <= 24)
    np.minimum.at(early_reply, idx[m], rel_h[m])
    answered = np.zeros(n_enr, dtype=bool)
    answered[idx[(ev_type == "call_answered") & (rel_h <= 24)]] = True

    # --- funnel probabilities ---------------------------------------------------
    first_hour = np.array([t.hour for t in first_at])
    first_dow = np.array([t.weekday() for t in first_at])
    hour_eff = np.where((first_hour >= 8) & (first_hour < 12), 0.9, 0.0) + np.where(
        (first_hour >= 19) | (first_hour < 6), -1.0, 0.0
    )
    weekend = (first_dow >= 5).astype(float)
    reply_eff = np.where(early_reply <= 2, 1.4, np.where(np.isfinite(early_reply), 0.3, 0.0))
    engaged = reply_eff + 0.7 * answered

    def booking_logit(v_eff: np.ndarray) -> np.ndarray:
        return -2.1 + q[order] * 0.7 + 0.5 * z + hour_eff - 0.4 * weekend + engaged + v_eff

    qual_logit = -0.1 + 0.8 * JOB_EFFECT[c_job_e] + 0.5 * z + 0.6 * (early_reply <= 2)
    conv_logit = -0.5 + 0.6 * z + 0.5 * (c_size_e == 2) * (c_job_e >= 2) + 0.3 * (c_src_e == 0)
    p1 = _sigmoid(booking_logit(variant_effect))
    q2, c3 = _sigmoid(qual_logit), _sigmoid(conv_logit)

    booked = rng.random(n_enr) < p1
    t_book_days = rng.uniform(0.02, 7.0, n_enr)
    late_book = (~booked) & (rng.random(n_enr) < 0.06)
    t_late_days = rng.uniform(7.5, 25.0, n_enr)
    qualified = booked & (rng.random(n_enr) < q2)
    t_qual_days = t_book_days + rng.uniform(0.3, 6.5, n_enr)
    converted = qualified & (rng.random(n_enr) < c3)
    t_conv_days = t_qual_days + rng.uniform(0.5, 15.0, n_enr)
    opt_out = (~booked) & (~late_book) & (rng.random(n_enr) < _sigmoid(-1.8 - 0.5 * z))
    t_opt_days = rng.uniform(1.5, 10.0, n_enr)
    opt_ns = np.where(
        opt_out, first_ns + (t_opt_days * 24 * hour_ns).astype("int64"), np.iinfo(np.int64).max
    )
    keep = np.concatenate(ev_rows["sent_at"]) < opt_ns[idx]  # nothing is sent after an opt-out
    ev = pl.DataFrame(
        {
            "idx": idx[keep],
            "step_id": np.concatenate(ev_rows["step_id"]).astype(str)[keep],
            "event_type": ev_type[keep],
            "event_at": ev_at[keep].astype("datetime64[ns]").astype("datetime64[us]"),
        }
    )
    as_of_np = np.datetime64(as_of, "us")
    ev = ev.filter(pl.col("event_at") <= as_of_np).sort(["event_at", "idx", "event_type"])
    ev = ev.with_columns(
        org_id=pl.Series(org_ids[e_org])[ev["idx"]],
        enrollment_id=pl.Series(enr_ids)[ev["idx"]],
        event_id=pl.format("ev{}", pl.int_range(1, ev.height + 1).cast(pl.Utf8).str.zfill(8)),
    ).select("org_id", "event_id", "enrollment_id", "step_id", "event_type", "event_at")

    # --- outcomes --------------------------------------------------------------
    oc_parts = []
    for mask, t_days, typ in (
        (booked, t_book_days, "booked_call"),
        (late_book, t_late_days, "booked_call"),
        (qualified, t_qual_days, "qualified"),
        (converted, t_conv_days, "converted"),
        (opt_out, t_opt_days, "opt_out"),
    ):
        sel = np.where(mask)[0]
        at = first_ns[sel] + (t_days[sel] * 24 * hour_ns).astype("int64")
        oc_parts.append(
            pl.DataFrame(
                {
                    "idx": sel,
                    "outcome_type": [typ] * sel.size,
                    "outcome_at": at.astype("datetime64[ns]").astype("datetime64[us]"),
                },
                schema={"idx": pl.Int64, "outcome_type": pl.Utf8, "outcome_at": pl.Datetime("us")},
            )
        )
    oc = (
        pl.concat(oc_parts)
        .filter(pl.col("outcome_at") <= as_of_np)
        .sort(["outcome_at", "idx", "outcome_type"])
    )
    oc = oc.with_columns(
        org_id=pl.Series(org_ids[e_org])[oc["idx"]],
        enrollment_id=pl.Series(enr_ids)[oc["idx"]],
        outcome_id=pl.format("oc{}", pl.int_range(1, oc.height + 1).cast(pl.Utf8).str.zfill(7)),
    ).select("org_id", "outcome_id", "enrollment_id", "outcome_type", "outcome_at")

    enrollments = pl.DataFrame(
        {
            "org_id": org_ids[e_org],
            "enrollment_id": enr_ids,
            "contact_id": contact_ids[e_contact],
            "campaign_id": np.array(CAMPAIGNS)[e_camp],
            "enrolled_at": enrolled_at.astype("datetime64[us]"),
        }
    )
    campaign_steps = pl.concat(
        [
            steps.with_columns(org_id=pl.lit(o))
            for o in org_ids  # every organization runs the same campaigns
        ]
    ).select(
        "org_id",
        "campaign_id",
        "step_id",
        "step_number",
        "channel",
        "delay_hours",
        "prompt_template_id",
        "prompt_variant_id",
        "prompt_text",
    )

    # --- truth -----------------------------------------------------------------
    truth = pl.DataFrame(
        {
            "org_id": org_ids[e_org],
            "enrollment_id": enr_ids,
            "p_booked_call_within_7d": p1,
            "p_qualified_within_14d": p1 * q2,
            "p_conversion_within_30d": p1 * q2 * c3,
        }
    )
    eff_rows = []
    for (camp, num), variants in slot_variants.items():
        if len(variants) < 2:
            continue
        ci = CAMPAIGNS.index(camp)
        in_c = e_camp == ci
        own = np.array([v["effect"] for v in variants])[slot_assign[(camp, num)]]
        base_eff = variant_effect - own  # everything but this slot
        probs = [_sigmoid(booking_logit(base_eff + v["effect"]))[in_c] for v in variants]
        for j, v in enumerate(variants):
            others = np.mean([probs[k] for k in range(len(variants)) if k != j], axis=0)
            for target, mult in (
                ("booked_call_within_7d", 1.0),
                ("qualified_within_14d", q2[in_c]),
                ("conversion_within_30d", q2[in_c] * c3[in_c]),
            ):
                rd = float(np.mean((probs[j] - others) * mult))
                eff_rows.append(
                    {
                        "campaign_id": camp,
                        "step_number": num,
                        "step_id": v["step_id"],
                        "prompt_variant_id": v["prompt_variant_id"],
                        "target": target,
                        "true_logit_effect": float(
                            v["effect"] - np.mean([w["effect"] for w in variants if w is not v])
                        ),
                        "true_risk_difference": rd,
                        "planted": "harmful"
                        if v["step_id"] == HARMFUL
                        else ("helpful" if v["step_id"] == HELPFUL else ""),
                    }
                )
    true_effects = pl.DataFrame(eff_rows)
    return LeadconvWorld(
        organizations=organizations,
        contacts=contacts,
        campaign_steps=campaign_steps,
        enrollments=enrollments,
        engagement_logs=ev,
        outcomes=oc,
        truth=truth,
        true_effects=true_effects,
        as_of=as_of,
        meta={"size": size, "seed": seed, "harmful": HARMFUL, "helpful": HELPFUL},
    )
