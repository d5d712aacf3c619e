"""No secret reaches Dagster's run storage, the event log, metadata or the salesml home
(issue 10): each location reads its tiny world from a PostgreSQL source whose URL carries a
planted password, leadconv also upserts ``lead_scores`` into PostgreSQL through such a URL
(run config ``target_url: {env: ...}``), and then every stored byte is searched for it."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest

from gosales_assets.demo import INPUTS as GS_INPUTS
from pricing_assets.demo import INPUTS as PR_INPUTS
from shared.sources import PlainSecretError

PLANTED = "p4ssw0rd-planted"


@pytest.fixture(scope="module")
def planted_pg_url():
    """A fresh database holding the three tiny worlds; its URL with the planted password
    (the test server trusts local connections, so any password connects)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from gosales_assets.world import generate_world as gosales_world
    from leadconv_assets.world import generate_world as leadconv_world
    from pricing_assets.world import generate_world as pricing_world
    from tests.conftest import pg_url

    url = make_url(pg_url())
    db = f"planted_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {db}"))
    planted = url.set(database=db, password=PLANTED).render_as_string(hide_password=False)
    engine = sa.create_engine(planted)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception:
        engine.dispose()
        pytest.skip("the PostgreSQL test server does not accept an arbitrary password")
    gs = gosales_world(size="tiny", seed=7, window_months=6)
    pr = pricing_world(size="tiny", seed=7)
    tables = {
        **gs.tables(),
        "ground_truth": gs.truth,
        **pr.tables(),
        **pr.truth_tables(),
        **leadconv_world("tiny", 7).tables(),
    }
    for name, frame in tables.items():
        frame.write_database(name, connection=engine, if_table_exists="replace")
    engine.dispose()
    try:
        yield planted, gs, pr
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        admin.dispose()


def _run(defs, instance, keys, partition=None, run_config=None):
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey.from_user_string(k) for k in keys],
        partition_key=partition,
        run_config=run_config or {},
        raise_on_error=False,
    )


def _stored_texts(instance: dg.DagsterInstance) -> dict[str, str]:
    """Everything Dagster keeps about its runs, decoded: each run (config, tags), its job
    and execution plan snapshots (resource config lives there), every event record
    (metadata values, log messages, errors)."""
    from dagster._serdes import serialize_value

    texts: dict[str, str] = {}
    for run in instance.get_runs():
        texts[f"run {run.run_id}"] = serialize_value(run)
        texts[f"job snapshot {run.run_id}"] = serialize_value(
            instance.get_job_snapshot(run.job_snapshot_id)
        )
        texts[f"plan snapshot {run.run_id}"] = serialize_value(
            instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        )
        for i, record in enumerate(instance.all_logs(run.run_id)):
            texts[f"event {run.run_id}#{i}"] = serialize_value(record)
    return texts


def _mlflow_texts() -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    from shared.home import mlflow_uri

    client = MlflowClient(tracking_uri=mlflow_uri())
    texts = {}
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id]):
            texts[f"mlflow run {run.info.run_id}"] = repr(
                (run.data.tags, run.data.params, run.info.run_name)
            )
    for mv in client.search_model_versions():
        texts[f"model version {mv.name}/{mv.version}"] = repr((mv.tags, mv.source))
    return texts


def _files_with(root: Path, needle: bytes) -> list[str]:
    return [
        str(p)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and needle in p.read_bytes()
    ]


def test_a_planted_password_is_stored_nowhere(planted_pg_url, salesml_home, tmp_path, monkeypatch):
    from gosales_assets.definitions import build_defs as gosales_defs
    from leadconv_assets.definitions import build_defs as leadconv_defs
    from leadconv_assets.demo import TRAIN
    from pricing_assets.definitions import build_defs as pricing_defs
    from tests.gosales.conftest import tiny_config as gosales_config
    from tests.leadconv.conftest import TINY_CUTOFF
    from tests.leadconv.conftest import tiny_config as leadconv_config
    from tests.pricing.conftest import tiny_config as pricing_config

    url, gs_world, pr_world = planted_pg_url
    monkeypatch.setenv("SALESML_GOSALES_SOURCE", url)
    monkeypatch.setenv("SALESML_PRICING_SOURCE", url)
    monkeypatch.setenv("SALESML_LEADCONV_SOURCE", url)
    monkeypatch.setenv("PLANTED_SCORES_URL", url)
    dagster_dir = tmp_path / "dagster"
    dagster_dir.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_dir)) as instance:
        results = [
            _run(gosales_defs(gosales_config(gs_world)), instance, list(GS_INPUTS)),
            _run(pricing_defs(pricing_config(pr_world)), instance, list(PR_INPUTS)),
        ]  # fmt: skip
        lc = leadconv_defs(leadconv_config())
        target = "booked_call_within_7d"
        results.append(_run(lc, instance, ["leadconv/extract", "leadconv/clean"]))
        results.append(_run(lc, instance, TRAIN, f"{TINY_CUTOFF}|{target}"))
        scores_cfg = {"target_url": {"env": "PLANTED_SCORES_URL"}, "table": "planted_scores"}
        results.append(
            _run(lc, instance, ["leadconv/lead_scores"], "2025-05-11",
                 {"ops": {"leadconv__lead_scores": {"config": scores_cfg}}})
        )  # fmt: skip
        # a literal URL in run config is rejected before the run is created (never stored)
        literal = {"ops": {"leadconv__lead_scores": {"config": {"target_url": url}}}}
        with pytest.raises(dg.DagsterInvalidConfigError) as err:
            _run(lc, instance, ["leadconv/lead_scores"], "2025-05-11", literal)
        assert PLANTED not in str(err.value)
        for res in results:
            assert res.success, [e.message for e in res.get_step_failure_events()]
        metas = [
            m.materialization.metadata
            for res in results
            for m in res.get_asset_materialization_events()
        ]
        described = [str(m["source"].value) for m in metas if "source" in m]
        assert len(described) >= 2 and all("***" in d for d in described), described
        scored = [m for m in metas if "target_db" in m]
        assert scored and "***" in str(scored[0]["target_db"].value)

        leaks = [k for k, text in _stored_texts(instance).items() if PLANTED in text]
    leaks += [k for k, text in _mlflow_texts().items() if PLANTED in text]
    leaks += _files_with(dagster_dir, PLANTED.encode())  # sqlite run/event storage, logs
    leaks += _files_with(salesml_home, PLANTED.encode())  # lake, warehouse, mlflow.db, reports
    assert not leaks, leaks[:10]


def test_a_plain_password_in_run_config_or_definitions_is_refused(salesml_home, monkeypatch):
    from leadconv_assets.definitions import build_defs as leadconv_defs
    from tests.leadconv.conftest import tiny_config as leadconv_config

    url = f"postgresql+psycopg://bob:{PLANTED}@127.0.0.1:1/x"
    with pytest.raises(PlainSecretError, match="SALESML_LEADCONV_SOURCE") as err:
        leadconv_defs(leadconv_config(), source_uri=url)
    assert PLANTED not in str(err.value)
    res = _run(
        leadconv_defs(leadconv_config()),
        dg.DagsterInstance.ephemeral(),
        ["leadconv/extract"],
        run_config={"resources": {"source": {"config": {"uri": url}}}},
    )
    assert not res.success
    errors = " ".join(str(e.event_specific_data.error) for e in res.all_events if e.is_failure)
    assert "plain text at resources.source.config.uri" in errors or "PlainSecretError" in errors, (
        errors
    )
