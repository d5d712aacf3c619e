"""The synthetic world, the one label definition (censoring) and truncation invariance."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import polars as pl
import pytest

from leadconv_assets import clean, extract, features, labels
from leadconv_assets.schemas import LabelsSchema
from leadconv_assets.world import HARMFUL, HELPFUL, generate_world
from shared.validation import pandera_violations

W24 = timedelta(hours=24)
T0 = datetime(2025, 3, 1, 9, 0)


def test_world_is_deterministic_fast_and_exports_truth():
    start = time.perf_counter()
    a = generate_world("tiny", 3)
    assert time.perf_counter() - start < 2.0
    b = generate_world("tiny", 3)
    for name, frame in a.tables().items():
        assert frame.equals(b.tables()[name]), name
    assert not a.engagement_logs.equals(generate_world("tiny", 4).engagement_logs)
    assert set(a.engagement_logs["event_type"].unique()) == {
        "sent",
        "delivered",
        "opened",
        "clicked",
        "replied",
        "voicemail",
        "call_answered",
    }
    assert set(a.outcomes["outcome_type"].unique()) == {
        "booked_call",
        "qualified",
        "converted",
        "opt_out",
    }
    assert set(a.campaign_steps["channel"].unique()) == {"sms", "email", "voice"}
    assert a.truth.height == a.enrollments.height
    assert a.truth.select(pl.all().exclude("org_id", "enrollment_id")).min_horizontal().min() > 0
    planted = a.true_effects.filter(pl.col("target") == "booked_call_within_7d")
    worst = planted.sort("true_risk_difference").row(0, named=True)
    assert worst["step_id"] == HARMFUL and worst["planted"] == "harmful"
    helpful = planted.filter(pl.col("step_id") == HELPFUL)
    assert helpful["true_risk_difference"][0] > 0.05


def _tables(events: list[tuple], outcomes: list[tuple]) -> dict[str, pl.DataFrame]:
    enr = pl.DataFrame(
        {
            "org_id": ["o"] * 3,
            "enrollment_id": ["e1", "e2", "e3"],
            "contact_id": ["c1", "c2", "c3"],
            "campaign_id": ["welcome"] * 3,
            "enrolled_at": [T0 - timedelta(minutes=10)] * 3,
        }
    )
    ev = pl.DataFrame(
        events,
        schema=["org_id", "event_id", "enrollment_id", "step_id", "event_type", "event_at"],
        orient="row",
    )
    oc = pl.DataFrame(
        outcomes,
        schema={
            "org_id": pl.Utf8,
            "outcome_id": pl.Utf8,
            "enrollment_id": pl.Utf8,
            "outcome_type": pl.Utf8,
            "outcome_at": pl.Datetime("us"),
        },
        orient="row",
    )
    return {"enrollments": enr, "engagement_logs": ev, "outcomes": oc}


def test_label_definition_and_censoring():
    events = [
        ("o", f"v{i}", e, "welcome_s1_a", "sent", T0) for i, e in enumerate(["e1", "e2", "e3"])
    ]
    outcomes = [
        ("o", "x1", "e1", "booked_call", T0 + timedelta(days=6, hours=23)),  # inside 7 days
        ("o", "x2", "e2", "booked_call", T0 + timedelta(days=7, hours=1)),  # after the window
        ("o", "x3", "e3", "booked_call", T0 + timedelta(hours=3)),  # before the decision time
    ]
    t = _tables(events, outcomes)

    def lab(as_of: datetime) -> dict[str, dict]:
        frame = labels.build_labels(
            t["enrollments"],
            t["engagement_logs"],
            t["outcomes"],
            "booked_call_within_7d",
            "booked_call",
            7,
            as_of,
            W24,
        )
        return {r["enrollment_id"]: r for r in frame.to_dicts()}

    closed = lab(T0 + timedelta(days=30))
    assert closed["e1"]["label"] == 1 and closed["e2"]["label"] == 0
    assert closed["e3"]["resolved_before_decision"] and not closed["e1"]["resolved_before_decision"]
    # as of day 3 every window is open: no label at all, and never a negative
    open_ = lab(T0 + timedelta(days=3))
    assert all(r["label"] is None and not r["window_closed"] for r in open_.values())
    # the booking on day 6.9 is not visible as of day 5 and must not leak in later either
    assert lab(T0 + timedelta(days=5))["e1"]["event_at"] is None
    # before the decision time nothing is labeled (not even listed)
    assert lab(T0 + timedelta(hours=12)) == {}


def test_open_windows_are_never_negatives_on_the_world(tiny_world, tiny_cfg):
    tables, _ = clean.clean_tables(extract.quality_gates(tiny_world.tables()))
    as_of = datetime(2025, 4, 20)
    for target, tc in tiny_cfg.targets.items():
        frame = labels.build_labels(
            tables["enrollments"],
            tables["engagement_logs"],
            tables["outcomes"],
            target,
            tc.event,
            tc.window_days,
            as_of,
            W24,
        )
        still_open = frame.filter(pl.col("window_end") > as_of)
        assert still_open.height > 0
        assert still_open["label"].null_count() == still_open.height
        assert not pandera_violations(frame, LabelsSchema, "labels")
        # the same enrollments, labeled once their windows closed, may well be positives
        later = labels.build_labels(
            tables["enrollments"],
            tables["engagement_logs"],
            tables["outcomes"],
            target,
            tc.event,
            tc.window_days,
            as_of + timedelta(days=tc.window_days + 1),
            W24,
        ).join(still_open.select("org_id", "enrollment_id"), on=["org_id", "enrollment_id"])
        assert later["label"].null_count() == 0


def test_labels_schema_rejects_a_labeled_open_window():
    bad = pl.DataFrame(
        {
            "org_id": ["o"],
            "enrollment_id": ["e"],
            "label": pl.Series([0], dtype=pl.Int8),
            "window_closed": [False],
            "resolved_before_decision": [False],
        }
    )
    found = pandera_violations(bad, LabelsSchema, "labels")
    assert any("still open" in v.rule for v in found)


def test_features_are_truncation_invariant(tiny_world):
    tables, _ = clean.clean_tables(extract.quality_gates(tiny_world.tables()))
    as_of = datetime(2025, 4, 30, 23, 59, 59)
    assert features.truncation_differences(tables, as_of, W24) == []
    frame = features.build_features(tables, as_of, W24)
    assert (frame["decision_at"] <= as_of).all()
    assert frame.select(["org_id", "enrollment_id"]).is_unique().all()


def test_features_ignore_events_after_the_decision_time():
    events = [
        ("o", "v1", "e1", "welcome_s1_a", "sent", T0),
        ("o", "v2", "e1", "welcome_s1_a", "replied", T0 + timedelta(hours=2)),
        ("o", "v3", "e1", "welcome_s2_a", "sent", T0 + timedelta(hours=30)),
        ("o", "v4", "e1", "welcome_s2_a", "replied", T0 + timedelta(hours=31)),
    ]
    t = _tables(events, [])
    t["contacts"] = pl.DataFrame(
        {
            "org_id": ["o"] * 3,
            "contact_id": ["c1", "c2", "c3"],
            "source_channel": ["referral"] * 3,
            "region": ["north"] * 3,
            "age_band": ["30-44"] * 3,
            "job_level": ["manager"] * 3,
            "company_size": ["mid"] * 3,
        }
    )
    t["campaign_steps"] = pl.DataFrame(
        {
            "org_id": ["o", "o"],
            "campaign_id": ["welcome", "welcome"],
            "step_id": ["welcome_s1_a", "welcome_s2_a"],
            "channel": ["email", "sms"],
        }
    )
    row = features.build_features(t, T0 + timedelta(days=3), W24).row(0, named=True)
    assert row["n_sent"] == 1 and row["n_replied"] == 1
    assert row["seen_welcome_s1_a"] == 1 and row["seen_welcome_s2_a"] == 0
    assert row["reply_latency_h"] == pytest.approx(2.0)
