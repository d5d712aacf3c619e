"""Run-failure alerts: one concise line per failed run, in the Dagster log and in
``$SALESML_HOME/alerts/run_failures.jsonl`` (one JSON object a line).

An alert names the job, the run id, the failing step(s) and the first line of the error,
never more: stack traces, run config and resource config stay in Dagster's own run view.
The error line goes through :func:`scrub` first: URLs lose their passwords and secret
query parameters (``shared.sources.redact``), and the value of any environment variable
that holds a secret (a URL with a password, or a variable named like ``*PASSWORD*``,
``*SECRET*``, ``*TOKEN*``, ``*_KEY``) is replaced by ``***`` wherever it appears.

:func:`record_run_failure` is a plain function of a run-failure context (anything with
``dagster_run``, ``failure_event``, ``get_step_failure_events()`` and ``log``), so tests
call it with ``dg.build_run_status_sensor_context`` or a fake; :func:`run_failure_alert_sensor`
wraps it in ``dg.run_failure_sensor`` for one location (``shared.automation`` adds it to
every location's definitions).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from shared.home import home
from shared.sources import has_secret, redact

ALERTS_FILE = "run_failures.jsonl"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|(^|_)KEY$|CREDENTIAL", re.IGNORECASE)
MAX_MESSAGE = 300
"""An alert's error line is cut at this many characters (a contract error can be long)."""


def alerts_path() -> Path:
    """``$SALESML_HOME/alerts/run_failures.jsonl`` (folder created if missing)."""
    folder = home() / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / ALERTS_FILE


def _env_secrets() -> list[str]:
    """Secret values of the environment, longest first: whole values of secret-named or
    secret-carrying variables, and the password of every URL-valued variable."""
    found: set[str] = set()
    for name, value in os.environ.items():
        if not value:
            continue
        if has_secret(value):
            found.add(value)
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password and len(password) >= 4:
                found.add(password)
        elif _SECRET_NAME.search(name) and len(value) >= 6:
            found.add(value)
    return sorted(found, key=len, reverse=True)


def scrub(text: str) -> str:
    """``text`` with every URL redacted and every secret value of the environment masked."""
    out = _URL.sub(lambda m: redact(m.group(0)), text)
    for secret in _env_secrets():
        out = out.replace(secret, "***")
    return out


def first_line(text: str | None) -> str:
    """The first non-blank line of ``text``, scrubbed and cut at :data:`MAX_MESSAGE`."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    line = scrub(line)
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}
_QUALIFIED = re.compile(r"^(?:[A-Za-z_][\w]*\.)+(?=[A-Za-z_]\w*: )")


def _error_message(event: Any) -> str | None:
    """The user's error of a failure event: a ``dg.Failure``'s description, else the
    innermost user exception under Dagster's wrappers (a step that exhausted its retries,
    an op execution error), as ``ErrorClass: message``."""
    data = getattr(event, "event_specific_data", None)
    user = getattr(data, "user_failure_data", None)
    if user is not None and getattr(user, "description", None):
        return user.description
    error = getattr(data, "error", None)
    if error is None:
        return getattr(event, "message", None)
    while error.cause is not None and (
        error.cls_name in _WRAPPERS or (error.message or "").startswith("Exceeded max_retries")
    ):
        error = error.cause
    return _QUALIFIED.sub("", error.message or "")


def failure_alert(context: Any, location: str) -> dict[str, Any]:
    """The alert of one failed run: location, job, run id, partition, failing steps and
    the first line of the (first failing step's, else the run's) error; UTC time."""
    if not hasattr(context, "get_step_failure_events") and hasattr(context, "for_run_failure"):
        context = context.for_run_failure()  # dg.build_run_status_sensor_context builds this
    run = context.dagster_run
    try:
        steps = list(context.get_step_failure_events())
    except Exception:  # a context without an instance (fakes, odd sensor contexts)
        steps = []
    source = steps[0] if steps else context.failure_event
    return {
        "at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "location": location,
        "job": run.job_name,
        "run_id": run.run_id,
        "partition": (run.tags or {}).get("dagster/partition"),
        "steps": sorted({e.step_key for e in steps if getattr(e, "step_key", None)}),
        "error": first_line(_error_message(source)),
    }


def record_run_failure(context: Any, location: str) -> dict[str, Any]:
    """Log the alert of a failed run (error level) and append it to :func:`alerts_path`;
    returns it."""
    alert = failure_alert(context, location)
    steps = ", ".join(alert["steps"]) or "no step"
    context.log.error(
        f"{location}: run {alert['run_id']} of {alert['job']} failed at {steps}: {alert['error']}"
    )
    with alerts_path().open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert, sort_keys=True) + "\n")
    return alert


def run_failure_alert_sensor(location: str) -> dg.SensorDefinition:
    """``<location>_run_failure_alert``: a ``dg.run_failure_sensor`` over the location's
    own jobs (asset jobs, the implicit asset job, schedules' and sensors' runs) that calls
    :func:`record_run_failure`. RUNNING by default: it only reads the failed run's events
    and appends to a file under the salesml home (no network, no secret)."""

    @dg.run_failure_sensor(
        name=f"{location}_run_failure_alert",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Writes a one-line alert for every failed {location} run (job, run id, "
        "failing step, first error line; secrets masked) to the Dagster log and to "
        "$SALESML_HOME/alerts/run_failures.jsonl.",
    )
    def _alert(context: dg.RunFailureSensorContext) -> None:
        record_run_failure(context, location)

    return _alert
