"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def salesml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SALESML_HOME (lake, warehouse, MLflow store) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("SALESML_HOME", str(home))
    monkeypatch.delenv("SALESML_MLFLOW_URI", raising=False)
    return home
