"""`make demo` counts every failed step as an error (a gate refusal is no failed step: the
run succeeds with the decision recorded) and lists every failed check."""

from __future__ import annotations

import dagster as dg

from shared.demo import run_plan


@dg.asset
def crashes() -> int:
    raise RuntimeError("boom in the asset")


# a gate: ERROR severity, not blocking (the promotion step records the refusal)
@dg.asset(check_specs=[dg.AssetCheckSpec("gate", asset="refused", blocking=False)])
def refused():
    yield dg.Output(1)
    yield dg.AssetCheckResult(passed=False, check_name="gate")


@dg.asset(deps=[refused])
def downstream() -> int:
    return 2


@dg.asset
def fine() -> int:
    return 3


def test_crash_after_a_failed_check_is_still_an_error(salesml_home):
    defs = dg.Definitions(assets=[crashes, refused, downstream, fine])
    instance = dg.DagsterInstance.ephemeral()
    result = run_plan(
        "t", defs, [(["refused", "downstream"], None), (["crashes", "refused"], None)], instance
    )
    assert [label for label, _ in result.failed_checks] == ["-", "-"]
    assert len(result.errors) == 1
    assert "crashes" in result.errors[0][1] and "boom in the asset" in result.errors[0][1]


def test_a_clean_plan_has_no_errors(salesml_home):
    defs = dg.Definitions(assets=[fine])
    result = run_plan("t", defs, [(["fine"], None)], dg.DagsterInstance.ephemeral())
    assert result.errors == [] and result.failed_checks == [] and result.runs == 1
