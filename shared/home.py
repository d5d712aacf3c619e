"""Where salesml keeps everything: one home folder, resolved at call time.

``SALESML_HOME`` (default ``./.salesml``) holds the lake (Parquet per
partition), the warehouse DuckDB file with views over the lake, the MLflow
store, reports (model cards), generated synthetic worlds and the Dagster
instance. The environment is read when a function is called, never at import,
so tests can point ``SALESML_HOME`` at a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "SALESML_HOME"


def home() -> Path:
    """Absolute path of the salesml home folder (created if missing)."""
    path = Path(os.environ.get(ENV_HOME, ".salesml")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def lake_dir() -> Path:
    """Folder of partitioned Parquet assets: ``lake/<asset path>/<dim>=<value>/...``."""
    return _sub("lake")


def warehouse_path() -> Path:
    """DuckDB file whose views expose every published table (``SELECT * FROM gosales.icp_scores``)."""
    return home() / "warehouse.duckdb"


def mlflow_uri() -> str:
    """MLflow tracking URI: ``SALESML_MLFLOW_URI`` or a SQLite file under the home folder.

    MLflow 3 refuses the plain file store, so the default is SQLite.
    """
    return os.environ.get("SALESML_MLFLOW_URI") or f"sqlite:///{home() / 'mlflow.db'}"


def mlflow_artifacts_dir() -> Path:
    """Artifact root for experiments created by salesml."""
    return _sub("mlartifacts")


def reports_dir() -> Path:
    """Model cards and other human-readable reports."""
    return _sub("reports")


def worlds_dir() -> Path:
    """Generated synthetic worlds (the embedded default input)."""
    return _sub("worlds")


def dagster_home() -> Path:
    """The Dagster instance folder used by ``make demo`` and ``make ui``."""
    return _sub("dagster")


def lake_key() -> bytes:
    """The secret that signs model objects in the lake (HMAC-SHA256), kept outside the home.

    ``$SALESML_LAKE_KEY`` if set (production: from a secret store), else
    ``$XDG_CONFIG_HOME/salesml/lake.key`` (default ``~/.config/salesml/lake.key``),
    created once with 32 random bytes and mode 0600. Outside the home on purpose:
    whoever can write the home must not be able to forge a signature.
    """
    env = os.environ.get("SALESML_LAKE_KEY")
    if env:
        return env.encode()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = base / "salesml" / "lake.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".lake.key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        try:
            os.link(tmp, path)  # atomic: the first process to get here wins, others read it
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()
