"""The leadconv config is strict: bad keys and values are rejected at load, naming file and key."""

from __future__ import annotations

import pytest
import yaml

from leadconv_assets.config import DEFAULT_CONFIG, load_config
from shared.config import ConfigError


def _write(tmp_path, edit):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    edit(raw)
    path = tmp_path / "leadconv.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _rejected(path, *needles):
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text, text
    for needle in needles:
        assert needle in text, text


def test_default_config_loads_and_env_var_is_honoured(tmp_path, monkeypatch):
    assert load_config().gates.pr_auc_ratio_min == 1.05
    path = _write(tmp_path, lambda r: r["gates"].update(pr_auc_ratio_min=1.2))
    monkeypatch.setenv("SALESML_LEADCONV_CONFIG", str(path))
    assert load_config().gates.pr_auc_ratio_min == 1.2


def test_unknown_key_is_rejected(tmp_path):
    _rejected(_write(tmp_path, lambda r: r["gates"].update(auc_mn=0.99)), "gates.auc_mn", "unknown")
    _rejected(_write(tmp_path, lambda r: r.update(feature_windw_hours=3)), "feature_windw_hours")
    _rejected(
        _write(tmp_path, lambda r: r["targets"]["booked_call_within_7d"].update(windw=7)),
        "targets.booked_call_within_7d.windw",
    )


@pytest.mark.parametrize("days", [0, -7])
def test_non_positive_windows_are_rejected(tmp_path, days):
    _rejected(
        _write(tmp_path, lambda r: r["targets"]["booked_call_within_7d"].update(window_days=days)),
        "targets.booked_call_within_7d.window_days",
    )
    _rejected(
        _write(tmp_path, lambda r: r["split"].update(holdout_days=days)), "split.holdout_days"
    )
    _rejected(_write(tmp_path, lambda r: r["scoring"].update(days_back=days)), "scoring.days_back")


def test_non_month_end_cutoff_is_rejected(tmp_path):
    _rejected(
        _write(tmp_path, lambda r: r.update(cutoffs=["2025-05-31", "2025-06-15"])),
        "cutoffs.1",
        "month end",
    )


def test_overlong_target_name_is_rejected(tmp_path):
    name = "t" * 300

    def edit(raw):
        raw["targets"][name] = {"event": "converted", "window_days": 30}

    _rejected(_write(tmp_path, edit), "targets")


def test_malformed_yaml_is_rejected(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("targets:\n  a: {event: converted, window_days: 30\ncutoffs: [\n")
    _rejected(path, "not valid YAML", "line")


def test_duplicate_learners_are_rejected(tmp_path):
    _rejected(
        _write(
            tmp_path, lambda r: r["training"].update(learners=["lightgbm", "logistic", "lightgbm"])
        ),
        "training.learners",
        "more than once",
        "lightgbm",
    )


def test_extra_features_are_declared_per_table_once_and_never_keys(tmp_path):
    ok = _write(tmp_path, lambda r: r.update(extra_features={"contacts": ["vendor_score"]}))
    assert load_config(ok).extra_features == {"contacts": ["vendor_score"]}
    _rejected(
        _write(tmp_path, lambda r: r.update(extra_features={"leads": ["x"]})),
        "extra_features.leads",
    )
    _rejected(
        _write(
            tmp_path,
            lambda r: r.update(extra_features={"contacts": ["a", "a"], "enrollments": ["org_id"]}),
        ),
        "extra_features",
        "contacts: ['a'] listed more than once",
        "enrollments: ['org_id'] are keys",
    )


def test_target_names_become_partition_keys_and_all_bad_ones_are_one_line(tmp_path):
    def spelled(raw):
        raw["targets"] = {"Booked Call 7d": {"event": " Booked_Call", "window_days": 7}}

    cfg = load_config(_write(tmp_path, spelled))
    assert cfg.targets == {"booked_call_7d": cfg.targets["booked_call_7d"]}
    assert cfg.targets["booked_call_7d"].event == "booked_call"  # any case, as in the data

    def bad(raw):
        raw["targets"] = {
            "Booked Call 7d": {"event": "booked_call", "window_days": 7},
            "booked call 7d": {"event": "booked_call", "window_days": 7},
            "!!!": {"event": "converted", "window_days": 30},
            "?": {"event": "converted", "window_days": 30},
        }

    path = _write(tmp_path, bad)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = next(ln for ln in str(err.value).splitlines() if "invalid target names" in ln)
    for needle in ("'!!!'", "'?'", "'Booked Call 7d', 'booked call 7d' -> 'booked_call_7d'"):
        assert needle in line, line
