"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def salesml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SALESML_HOME (lake, warehouse, MLflow store) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("SALESML_HOME", str(home))
    monkeypatch.delenv("SALESML_MLFLOW_URI", raising=False)
    return home


def pg_url() -> str:
    """The PostgreSQL test server URL (scripts/pg.sh); skip locally without it, fail in CI."""
    url = os.environ.get("SALESML_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("SALESML_TEST_PG_URL is not set in CI: scripts/pg.sh must start the server")
        pytest.skip(
            "SALESML_TEST_PG_URL not set (run `bash scripts/pg.sh start` and export its env)"
        )
    return url


def redis_url() -> str:
    """The Redis test server URL (scripts/redis.sh); skip locally without it, fail in CI."""
    url = os.environ.get("SALESML_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("SALESML_TEST_REDIS_URL is not set in CI: scripts/redis.sh must start it")
        pytest.skip("SALESML_TEST_REDIS_URL not set (run `bash scripts/redis.sh start`)")
    return url


def chromium_path() -> str:
    """Debian's Chromium (scripts/chromium.sh); skip locally without it, fail in CI."""
    path = os.environ.get("SALESML_TEST_CHROMIUM")
    if not path or not Path(path).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                "SALESML_TEST_CHROMIUM is not set in CI: scripts/chromium.sh must install it"
            )
        pytest.skip("SALESML_TEST_CHROMIUM not set (run `bash scripts/chromium.sh install`)")
    return path
