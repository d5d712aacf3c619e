"""A fan-out job on the Celery executor, importable by Celery workers (they load it by
module name from the run's code pointer): four independent steps that report the process
and the Celery worker that ran them, and one step that gathers them."""

from __future__ import annotations

import os

import dagster as dg
from dagster_celery import celery_executor


def _where() -> tuple[int, str]:
    from celery import current_task

    return os.getpid(), str(current_task.request.hostname if current_task else "")


def _where_op(name: str) -> dg.OpDefinition:
    @dg.op(name=name, out=dg.Out(tuple))
    def _op() -> tuple[int, str]:
        return _where()

    return _op


WHERE = [_where_op(f"where_{x}") for x in "abcd"]


@dg.op
def gather(a: tuple, b: tuple, c: tuple, d: tuple) -> list:
    return [a, b, c, d]


@dg.job(executor_def=celery_executor)
def fan_out() -> None:
    gather(*(op() for op in WHERE))
