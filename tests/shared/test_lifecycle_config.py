"""The shared model lifecycle (champion rules, decisions), the MLflow 'missing' rule and
the strict config loader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2 as pb
from pydantic import Field

from shared.config import (
    ConfigError,
    MonthEnd,
    PartitionName,
    PositiveMonths,
    StrictModel,
    load_yaml_config,
)
from shared.gates import champion_gate
from shared.tracking import MLflowTracker, is_missing


def _metrics(cand: float, champ: float | None, se: float = 0.01, champ_cutoff=None):
    rows = [{"model": "candidate", "auc": cand, "auc_se": se}]
    if champ is not None:
        rows.append({"model": "champion", "auc": champ, "auc_se": None})
    return pl.DataFrame(rows).with_columns(
        cutoff_date=pl.lit(date(2024, 6, 30)),
        champion_cutoff=pl.lit(champ_cutoff, pl.Utf8),
    )


def test_champion_gate_allows_one_standard_error_and_refuses_more():
    assert champion_gate(_metrics(0.795, 0.80), "auc").passed
    assert not champion_gate(_metrics(0.78, 0.80), "auc").passed
    lower = champion_gate(_metrics(0.11, 0.10), "auc", higher_is_better=False)
    assert lower.passed and lower.op == "<="
    assert not champion_gate(_metrics(0.12, 0.10), "auc", higher_is_better=False).passed


def test_champion_gate_refuses_an_older_candidate_whatever_its_metric():
    g = champion_gate(_metrics(0.99, None, champ_cutoff="2024-09-30"), "auc")
    assert not g.passed and "later cutoff" in g.detail


def test_champion_gate_without_a_standard_error_does_not_pass():
    g = champion_gate(_metrics(0.9, 0.8, se=None), "auc")
    assert not g.passed and not g.skipped


def test_champion_gate_skips_visibly_when_nothing_serves_or_disabled():
    assert champion_gate(_metrics(0.5, None), "auc").skipped
    assert champion_gate(_metrics(0.5, 0.9), "auc", enabled=False).skipped


def test_missing_means_only_does_not_exist():
    assert is_missing(MlflowException("x not found", error_code=pb.RESOURCE_DOES_NOT_EXIST))
    assert is_missing(
        MlflowException(
            "Registered model alias champion not found.", error_code=pb.INVALID_PARAMETER_VALUE
        )
    )
    assert not is_missing(MlflowException("connection refused", error_code=pb.INTERNAL_ERROR))
    assert not is_missing(OSError("disk"))


class _BrokenClient:
    def get_model_version_by_alias(self, name, alias):
        raise MlflowException(
            "API request failed: connection refused", error_code=pb.INTERNAL_ERROR
        )


class _EmptyClient:
    def get_model_version_by_alias(self, name, alias):
        raise MlflowException(
            f"Registered Model with name={name} not found", error_code=pb.RESOURCE_DOES_NOT_EXIST
        )


def test_champion_lookup_fails_loudly_on_an_outage(monkeypatch):
    tracker = MLflowTracker(tracking_uri="sqlite:///unused.db")
    monkeypatch.setattr(MLflowTracker, "client", lambda self: _BrokenClient())
    with pytest.raises(MlflowException, match="connection refused"):
        tracker.champion("gosales_x")
    monkeypatch.setattr(MLflowTracker, "client", lambda self: _EmptyClient())
    assert tracker.champion("gosales_x") is None


def test_holdout_scores_fail_loudly_on_an_outage(monkeypatch):
    tracker = MLflowTracker(tracking_uri="sqlite:///unused.db")

    def broken(self, run_id, artifact):
        raise MlflowException("store unreachable", error_code=pb.INTERNAL_ERROR)

    def missing(self, run_id, artifact):
        raise MlflowException("no such artifact", error_code=pb.RESOURCE_DOES_NOT_EXIST)

    monkeypatch.setattr(MLflowTracker, "load_dict", broken)
    with pytest.raises(MlflowException):
        tracker.holdout_scores("r1")
    monkeypatch.setattr(MLflowTracker, "load_dict", missing)
    assert tracker.holdout_scores("r1") is None


class _Inner(StrictModel):
    auc_min: float = 0.7


class _Cfg(StrictModel):
    divisions: list[PartitionName]
    cutoffs: list[MonthEnd]
    window_months: PositiveMonths = 6
    gates: _Inner = Field(default_factory=_Inner)


def _load(tmp_path: Path, text: str) -> _Cfg:
    f = tmp_path / "cfg.yaml"
    f.write_text(text)
    return load_yaml_config(_Cfg, tmp_path / "default.yaml", "SALESML_TEST_CONFIG", f)


OK = "divisions: [a]\ncutoffs: [2024-06-30]\n"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("gates: {auc_mn: 0.99}\n", "gates.auc_mn"),
        ("window_months: 0\n", "window_months"),
        ("window_months: -6\n", "window_months"),
    ],
)
def test_config_rejects_unknown_keys_and_bad_values_naming_file_and_key(tmp_path, extra, key):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, OK + extra)
    assert key in str(err.value) and "cfg.yaml" in str(err.value)


def test_config_rejects_non_month_end_long_names_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"cutoffs\.0.*not a month end"):
        _load(tmp_path, "divisions: [a]\ncutoffs: [2024-06-15]\n")
    with pytest.raises(ConfigError, match=r"divisions\.0.*at most 64"):
        _load(tmp_path, f"divisions: [{'a' * 300}]\ncutoffs: [2024-06-30]\n")
    with pytest.raises(ConfigError, match=r"cfg\.yaml is not valid YAML at line 3"):
        _load(tmp_path, "divisions: [a]\ncutoffs: [2024-06-30\n  : x\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_yaml_config(_Cfg, tmp_path / "nope.yaml", "SALESML_TEST_CONFIG")
    assert _load(tmp_path, OK).window_months == 6


class _FakeTracker:
    """Registry stand-in: register/promote/champion in memory."""

    ui_url = "http://127.0.0.1:5000"

    def __init__(self):
        self.versions: list[str] = []
        self.serving: str | None = None

    def model_link(self, name, version=None):
        from shared.tracking import MLflowTracker

        return MLflowTracker.model_link(self, name, version)  # type: ignore[arg-type]

    def register(self, name, uri, tags=None):
        self.versions.append(uri)
        return str(len(self.versions))

    def promote(self, name, version):
        self.serving = version

    def champion(self, name):
        if self.serving is None:
            return None
        from types import SimpleNamespace

        return SimpleNamespace(version=self.serving)


class _Ctx:
    run_id = "run-0001"

    def __init__(self):
        self.metadata = {}

    def add_output_metadata(self, md):
        self.metadata.update(md)


def test_every_decision_is_kept_in_the_history(salesml_home):
    from shared.lifecycle import decide
    from shared.storage import query_warehouse

    tracker, cols = _FakeTracker(), {"division": "a", "cutoff_date": date(2024, 6, 30)}
    cand = {"model_uri": "runs:/r1/model", "run_id": "r1"}
    ctx = _Ctx()
    first = decide(ctx, tracker, "gosales", "gosales_a", cand, True, "all gates passed", cols)
    assert first["promoted"][0] and tracker.serving == "1"
    assert ctx.metadata["decision_history"] == "gosales.model_decisions"
    assert ctx.metadata["decision"] == "promoted: version 1 is the champion and serves"
    assert ctx.metadata["version_link"].value.endswith("/#/models/gosales_a/versions/1")
    refused = decide(ctx, tracker, "gosales", "gosales_a", cand, False, "auc: FAIL", cols)
    assert not refused["promoted"][0] and refused["champion_version"][0] == "1"
    decide(ctx, tracker, "gosales", "gosales_a", cand, False, "auc: FAIL", cols)  # re-run
    assert ctx.metadata["decision"] == "refused: champion version 1 keeps serving"
    assert ctx.metadata["champion_link"].value.endswith("/#/models/gosales_a/versions/1")
    history = query_warehouse("SELECT * FROM gosales.model_decisions ORDER BY decided_at")
    assert history["promoted"].to_list() == [True, False, False]
    assert history["reason"].to_list() == ["all gates passed", "auc: FAIL", "auc: FAIL"]
    assert tracker.serving == "1" and len(tracker.versions) == 1  # refusals registered nothing


def test_partition_name_errors_name_their_dimension():
    from shared.config import partition_name, validate_config

    class _M(StrictModel):
        bu_ids: list[partition_name("bu_id")]

    with pytest.raises(ConfigError, match="invalid bu_id 'North America'"):
        validate_config(_M, {"bu_ids": ["North America"]}, "x.yaml")
    assert validate_config(_M, {"bu_ids": ["na"]}, "x.yaml").bu_ids == ["na"]


def test_lightgbm_settings_reject_unknown_keys():
    from shared.lgbm import LGBMSettings

    with pytest.raises(Exception, match="extra"):
        LGBMSettings.model_validate({"num_leaf": 7})
