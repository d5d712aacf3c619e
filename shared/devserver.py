"""``dagster dev`` over a salesml home, on a free loopback port, for scripts and tests.

What ``make ui`` runs (webserver + daemon, the shipped ``scripts/dagster.yaml``, the three
locations of ``workspace.yaml``), started as a child process group so that it can be
stopped with everything it spawned (code servers, daemon, run workers). Used by the browser
test (``tests/shared/test_ui_browser.py``), the documentation screenshots
(``scripts/screenshots.py``) and ``bench/ui_launch.py``.

    with DagsterDev(home, env={"SALESML_GOSALES_CONFIG": "..."}) as dev:
        run_id = dev.launch("gosales_retrain_job", "gosales_assets", "2023-12-31|hardware")
        assert dev.wait(run_id) == "SUCCESS"
        print(dev.url)

No Dagster import at module level; ``dagster_graphql`` is imported when a client is needed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DagsterDev:
    """``dagster dev -w workspace.yaml`` on 127.0.0.1 over ``home`` (SALESML_HOME).

    Args:
        home: the salesml home; the Dagster instance lives in ``home/dagster`` and gets the
            shipped ``scripts/dagster.yaml`` unless one is there already.
        env: extra environment for the server and everything it starts (configs, sources).
        log: where the server's stdout/stderr go (default ``home/dagster_dev.log``).
        ready_timeout: seconds to wait for GraphQL to answer and every location to load.
    """

    def __init__(
        self,
        home: Path,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        ready_timeout: float = 300.0,
    ) -> None:
        self.home = Path(home)
        self.port = free_port()
        self.env = {
            **os.environ,
            "SALESML_HOME": str(self.home),
            "DAGSTER_HOME": str(self.home / "dagster"),
            **(env or {}),
        }
        self.log = log or self.home / "dagster_dev.log"
        self.ready_timeout = ready_timeout
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Base URL of the webserver, e.g. ``http://127.0.0.1:43111``."""
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        """A ``DagsterGraphQLClient`` on this server."""
        from dagster_graphql import DagsterGraphQLClient

        return DagsterGraphQLClient("127.0.0.1", port_number=self.port)

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one GraphQL query or mutation and return its ``data``."""
        return self.client()._execute(text, variables)  # noqa: SLF001 - the client's raw call

    def __enter__(self) -> DagsterDev:
        instance_dir = self.home / "dagster"
        instance_dir.mkdir(parents=True, exist_ok=True)
        if not (instance_dir / "dagster.yaml").exists():
            shutil.copy(REPO / "scripts" / "dagster.yaml", instance_dir / "dagster.yaml")
        bin_dir = Path(sys.executable).parent
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self._proc = subprocess.Popen(
                [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1"]
                + ["-p", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def locations(self) -> dict[str, str]:
        """``{location name: load status}`` as the webserver reports it."""
        data = self.query(
            "{ workspaceOrError { ... on Workspace { locationEntries {"
            " name loadStatus locationOrLoadError { __typename } } } } }"
        )
        entries = data["workspaceOrError"]["locationEntries"]
        return {
            e["name"]: e["locationOrLoadError"]["__typename"]
            if e["loadStatus"] == "LOADED"
            else e["loadStatus"]
            for e in entries
        }

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"dagster dev exited with {self._proc.returncode}; see {self.log}"
                )
            try:
                status = self.locations()
                if status and all(v != "LOADING" for v in status.values()):
                    return
            except Exception as err:  # not listening yet
                last = err
            time.sleep(1.0)
        raise TimeoutError(
            f"dagster dev not ready after {self.ready_timeout} s ({last}); see {self.log}"
        )

    def materialize(self, module: str, keys: list[str]) -> None:
        """Materialize ``keys`` (``"gosales/customers"``, ...) of ``module``'s definitions with
        ``dagster asset materialize`` in this server's environment (same home and instance);
        raises ``CalledProcessError`` with the CLI's output when the run fails."""
        subprocess.run(
            [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", module]
            + ["--select", ",".join(keys)],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def launch(
        self,
        job: str,
        location: str,
        partition: str | None = None,
        run_config: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Submit one run of ``job`` as the launchpad does; returns its run id."""
        all_tags = dict(tags or {})
        if partition is not None:
            all_tags["dagster/partition"] = partition
        return self.client().submit_job_execution(
            job, repository_location_name=location, run_config=run_config, tags=all_tags
        )

    def wait(self, run_id: str, timeout: float = 1800.0) -> str:
        """Poll the run until it ends; its final status, or ``TIMEOUT``."""
        from dagster_graphql import DagsterGraphQLClientError

        client = self.client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = client.get_run_status(run_id).value
            except DagsterGraphQLClientError:
                status = "UNKNOWN"
            if status in TERMINAL:
                return status
            time.sleep(0.5)
        return "TIMEOUT"

    def stop(self) -> None:
        """SIGINT the server's process group (as Ctrl-C does), SIGKILL it after 60 s."""
        if self._proc is None or self._proc.poll() is not None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGINT)
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=30)
        except ProcessLookupError:
            pass
