"""Where plain-text secrets hide in config, and the env-var reference that replaces them."""

from __future__ import annotations

import pytest

from shared.sources import EnvVarRef, PlainSecretError, plain_secrets, refuse_plain_secrets


def test_plain_secrets_finds_urls_query_params_and_secret_keys_but_not_env_refs():
    config = {
        "ops": {
            "a": {"config": {"target_url": "postgresql://u:pw@h/db", "table": "t"}},
            "b": {"config": {"target_url": {"env": "MY_URL"}}},
        },
        "resources": {
            "source": {"config": {"uri": "postgresql://u@h/db?sslmode=require&password=x"}},
            "api": {"config": {"token": "abc", "hosts": ["https://h/x?api_key=k", "/a/b"]}},
        },
    }
    assert sorted(plain_secrets(config)) == [
        "ops.a.config.target_url",
        "resources.api.config.hosts[0]",
        "resources.api.config.token",
        "resources.source.config.uri",
    ]
    with pytest.raises(PlainSecretError, match="ops.a.config.target_url") as err:
        refuse_plain_secrets(config)
    assert "pw" not in str(err.value).replace("password", "")
    refuse_plain_secrets({"ops": {"b": {"config": {"target_url": {"env": "MY_URL"}}}}})


def test_env_var_ref_reads_the_variable_when_resolved(monkeypatch):
    ref = EnvVarRef(env="SALESML_TEST_SOME_URL")
    monkeypatch.delenv("SALESML_TEST_SOME_URL", raising=False)
    with pytest.raises(ValueError, match="SALESML_TEST_SOME_URL"):
        ref.resolve()
    monkeypatch.setenv("SALESML_TEST_SOME_URL", "duckdb:///x.duckdb")
    assert ref.resolve() == "duckdb:///x.duckdb"
