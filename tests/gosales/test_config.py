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


@pytest.mark.parametrize("field", ["window_overrides", "gates.overrides"])
def test_a_division_named_twice_in_overrides_names_both(tmp_path, field):
    """`CAD Seats` and `cad_seats` are one division: an error naming both, not the later value."""

    def edit(raw):
        raw["divisions"] = ["CAD Seats", "hardware"]
        if field == "window_overrides":
            raw["window_overrides"] = {"CAD Seats": 3, "cad_seats": 9}
        else:
            raw["gates"]["overrides"] = {
                "CAD Seats": {"auc_min": 0.6},
                "cad_seats": {"auc_min": 0.5},
            }

    path = _write(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "'CAD Seats'" in msg and "'cad_seats'" in msg and field.split(".")[0] in msg


def test_overrides_in_either_spelling_still_apply(tmp_path):
    def edit(raw):
        raw["divisions"] = ["CAD Seats", "hardware"]
        raw["window_overrides"] = {"CAD Seats": 3}
        raw["gates"]["overrides"] = {"cad_seats": {"auc_min": 0.55}}

    cfg = load_config(_write(tmp_path, edit))
    assert cfg.window_for("CAD Seats") == 3 and cfg.window_for("hardware") == 6
    assert cfg.gates.floors_for("CAD Seats")["auc_min"] == 0.55
