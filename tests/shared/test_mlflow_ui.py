"""The MLflow links in asset metadata resolve on the MLflow UI that ``make ui`` starts:
the same command (``mlflow ui`` over the home's tracking store, loopback) serves the run,
the registered model with its ``champion`` alias and the version each link names."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlencode

import pytest

from shared.tracking import MLflowTracker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(base: str, path: str, **params: str) -> dict:
    url = f"{base}{path}?{urlencode(params)}" if params else f"{base}{path}"
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback only
        body = resp.read().decode()
    return json.loads(body) if body.lstrip().startswith("{") else {"html": body}


@pytest.fixture
def mlflow_ui(tmp_path: Path):
    port = _free_port()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = MLflowTracker(tracking_uri=uri, ui_url=f"http://127.0.0.1:{port}")
    tracker.mlflow()  # create the schema before the server opens the file
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    # the command scripts/ui.sh runs (`make ui`), on a free port
    cmd = [
        str(mlflow_bin),
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the server forks workers: stop the whole group
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(tracker.ui_url, "/health")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the MLflow UI did not start")
                time.sleep(0.5)
        yield tracker
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_run_model_and_version_links_resolve(mlflow_ui: MLflowTracker, tmp_path: Path):
    tracker = mlflow_ui
    mlflow = tracker.mlflow()
    mlflow.set_experiment("links")
    with mlflow.start_run() as run:
        mlflow.log_text("model", "model/MLmodel")
        source = f"runs:/{run.info.run_id}/model"
    version = tracker.register("gosales_links", source, tags={"cutoff_date": "2024-06-30"})
    tracker.promote("gosales_links", version)

    run_link = tracker.run_link(run)
    model_link = tracker.model_link("gosales_links")
    version_link = tracker.model_link("gosales_links", version)
    for link in (run_link, model_link, version_link):
        assert link.startswith(tracker.ui_url + "/#/")
    assert "html" in _get(tracker.ui_url, "/")  # the UI the links open

    # each link's target exists on that server (the UI reads it through these endpoints)
    run_id = run_link.rsplit("/runs/", 1)[1]
    assert _get(tracker.ui_url, "/ajax-api/2.0/mlflow/runs/get", run_id=run_id)["run"]
    name = unquote(model_link.rsplit("/models/", 1)[1])
    model = _get(tracker.ui_url, "/ajax-api/2.0/mlflow/registered-models/get", name=name)
    aliases = {a["alias"]: a["version"] for a in model["registered_model"].get("aliases", [])}
    assert aliases == {"champion": version}
    name_v, v = version_link.rsplit("/models/", 1)[1].split("/versions/")
    got = _get(
        tracker.ui_url, "/ajax-api/2.0/mlflow/model-versions/get", name=unquote(name_v), version=v
    )
    assert got["model_version"]["version"] == version


def test_make_ui_starts_the_mlflow_ui_on_loopback_beside_dagster():
    script = (Path(__file__).parents[2] / "scripts" / "ui.sh").read_text()
    mlflow_line = next(line for line in script.splitlines() if '/mlflow" ui' in line)
    assert "$SALESML_HOME/mlflow.db" in mlflow_line  # the home's tracking store
    assert "--host 127.0.0.1 --workers 1 --port" in script and "MLFLOW_PORT=5000" in script
    assert MLflowTracker().ui_url == "http://127.0.0.1:5000"  # where the links point
    assert 'dagster" dev -w workspace.yaml -h 127.0.0.1' in script
