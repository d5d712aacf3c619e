"""Issue 10: an MLflow tracking URI with a password never reaches the job snapshot.

Resource config set in code is stored by Dagster in the job snapshot and shown in the
UI, so ``MLflowTracker`` refuses a URL carrying a secret when the definitions load and
accepts it only as ``dg.EnvVar`` (stored as ``{env: VAR}``) or ``$SALESML_MLFLOW_URI``.
"""

from __future__ import annotations

import dagster as dg
import pytest

from shared.sources import PlainSecretError
from shared.tracking import MLflowTracker

SECRET = "s3cr3t-Pw-4711"


@pytest.mark.parametrize(
    "field,value",
    [
        ("tracking_uri", f"postgresql://u:{SECRET}@h/db"),
        ("tracking_uri", f"https://user:{SECRET}@mlflow.example.com"),
        ("tracking_uri", f"postgresql://u@h/db?password={SECRET}"),
        ("ui_url", f"https://user:{SECRET}@mlflow.example.com"),
    ],
)
def test_a_plain_secret_url_is_refused_at_definitions_load(field, value):
    with pytest.raises(PlainSecretError, match=rf"{field}.*EnvVar") as err:
        dg.Definitions(resources={"tracker": MLflowTracker(**{field: value})})
    assert SECRET not in str(err.value)  # the message redacts what it refuses


def test_urls_without_secrets_are_accepted():
    tracker = MLflowTracker(tracking_uri="sqlite:////tmp/x/mlflow.db", ui_url="http://h:5000")
    assert tracker.uri() == "sqlite:////tmp/x/mlflow.db"


def _uri_asset_defs(tracker: MLflowTracker) -> dg.Definitions:
    @dg.asset
    def seen_uri(tracker: MLflowTracker) -> str:
        return tracker.uri()  # no MLflow call: only what the resource resolved to

    return dg.Definitions(assets=[seen_uri], resources={"tracker": tracker})


def test_an_env_var_uri_resolves_at_run_time_and_stays_out_of_the_snapshot(monkeypatch):
    url = f"postgresql://u:{SECRET}@h/db"
    monkeypatch.setenv("SALESML_TEST_MLFLOW_URI", url)
    defs = _uri_asset_defs(MLflowTracker(tracking_uri=dg.EnvVar("SALESML_TEST_MLFLOW_URI")))
    job = defs.resolve_implicit_global_asset_job_def()
    from dagster._core.snap import JobSnap
    from dagster._serdes import serialize_value

    snapshot = serialize_value(JobSnap.from_job_def(job))
    assert "SALESML_TEST_MLFLOW_URI" in snapshot  # measured: the reference is there...
    assert SECRET not in snapshot  # ...and the value is not

    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance)
    assert result.success
    assert result.output_for_node("seen_uri") == url  # the run got the real URL
    run = instance.get_run_by_id(result.run_id)
    assert SECRET not in serialize_value(run)  # nor is it in the stored run (config, tags)


def test_a_secret_typed_into_run_config_fails_the_run_before_any_step(monkeypatch):
    defs = _uri_asset_defs(MLflowTracker())
    job = defs.resolve_implicit_global_asset_job_def()
    config = {"resources": {"tracker": {"config": {"tracking_uri": f"mysql://u:{SECRET}@h/d"}}}}
    with pytest.raises(dg.DagsterResourceFunctionError) as err:
        job.execute_in_process(run_config=config, instance=dg.DagsterInstance.ephemeral())
    cause = err.value.__cause__
    assert isinstance(cause, PlainSecretError)
    assert "resources.tracker.config.tracking_uri" in str(cause)
    assert SECRET not in str(cause)
