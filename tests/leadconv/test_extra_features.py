"""The user's own columns as features: declared in config, validated, namespaced."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from leadconv_assets import clean, extract
from leadconv_assets.features import build_features, feature_columns
from shared.validation import DataContractError

AS_OF = datetime(2025, 4, 30, 23, 59, 59)


def _tables(world):
    raw = dict(world.tables())
    contacts = raw["contacts"]
    raw["contacts"] = contacts.with_columns(
        vendor_score=(pl.int_range(pl.len()) % 7).cast(pl.Float64),
        n_sent=pl.lit(999),  # a user column named like a derived feature
    )
    raw["enrollments"] = raw["enrollments"].with_columns(priority=pl.lit("3"))  # text digits
    tables, _ = clean.clean_tables(extract.quality_gates(raw))
    return tables


def test_declared_user_columns_become_namespaced_features(tiny_world):
    tables = _tables(tiny_world)
    plain = build_features(tables, AS_OF)
    extra = {"contacts": ["vendor_score", "n_sent"], "enrollments": ["priority"]}
    feats = build_features(tables, AS_OF, extra=extra)
    added = set(feature_columns(feats)) - set(feature_columns(plain))
    assert added == {"user__vendor_score", "user__n_sent", "user__priority"}
    # the derived n_sent is untouched by the user's n_sent, and vice versa
    assert feats["n_sent"].equals(plain["n_sent"]) and (feats["user__n_sent"] == 999).all()
    assert feats["user__priority"].dtype == pl.Float64 and (feats["user__priority"] == 3).all()
    assert feats["user__vendor_score"].n_unique() == 7
    assert feats.height == plain.height
    # an undeclared user column is not a feature
    assert not any("vendor" in c for c in feature_columns(plain))


def test_missing_and_non_numeric_declared_columns_are_named_errors(tiny_world):
    tables = _tables(tiny_world)
    tables["contacts"] = tables["contacts"].with_columns(
        vendor_score=pl.when(pl.col("contact_id") == "c000002")
        .then(pl.lit("high"))
        .otherwise(pl.col("vendor_score").cast(pl.Utf8))
    )
    extra = {"contacts": ["vendor_score", "lead_grade"], "enrollments": ["budget"]}
    with pytest.raises(DataContractError) as err:
        build_features(tables, AS_OF, extra=extra)
    text = str(err.value)
    for needle in ("contacts", "lead_grade", "enrollments", "budget", "not in the table"):
        assert needle in text, text
    assert "vendor_score" in text and "not a number" in text and "c000002" in text
