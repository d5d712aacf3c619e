"""The gosales config is strict: a typo or a meaningless value fails at load, naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gosales_assets.config import DEFAULT_CONFIG, load_config
from shared.config import ConfigError


def _write(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    edit(raw)
    path = tmp_path / "gosales.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_default_config_loads():
    cfg = load_config(DEFAULT_CONFIG)
    assert cfg.gates.floors_for("training")["auc_min"] == 0.60
    assert cfg.gates.floors_for("hardware")["auc_min"] == cfg.gates.auc_min


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda r: r["gates"].update(auc_mn=0.99), "gates.auc_mn"),
        (lambda r: r.update(window_months=0), "window_months"),
        (lambda r: r.update(window_months=-6), "window_months"),
        (lambda r: r.update(window_overrides={"software": 0}), "window_overrides.software"),
        (lambda r: r.update(cutoffs=["2024-06-15"]), "cutoffs.0"),
        (lambda r: r.update(cutoffs=[]), "cutoffs"),
        (lambda r: r["divisions"].append("d" * 300), "divisions.6"),
        (lambda r: r["gates"]["overrides"]["training"].update(auc_mn=0.5), "auc_mn"),
        (lambda r: r["training"].update(n_estimatorz=5), "training.n_estimatorz"),
        (lambda r: r["whitespace"].update(per_repp=5), "whitespace.per_repp"),
    ],
)
def test_bad_values_are_rejected_naming_file_and_key(tmp_path, edit, key):
    path = _write(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert key in str(err.value)


def test_malformed_yaml_is_rejected_naming_file_and_line(tmp_path):
    path = tmp_path / "gosales.yaml"
    path.write_text("divisions: [hardware\ncutoffs: ['2023-09-30'\n")
    with pytest.raises(ConfigError, match="not valid YAML at line") as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_env_var_points_at_the_config(tmp_path, monkeypatch):
    path = _write(tmp_path, lambda r: r.update(window_months=0))
    monkeypatch.setenv("SALESML_GOSALES_CONFIG", str(path))
    with pytest.raises(ConfigError, match="window_months"):
        load_config()
