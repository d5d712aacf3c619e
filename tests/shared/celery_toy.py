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


@dg.op(out=dg.Out(tuple))
def where_a() -> tuple[int, str]:
    return _where()


@dg.op(out=dg.Out(tuple))
def where_b() -> tuple[int, str]:
    return _where()


@dg.op(out=dg.Out(tuple))
def where_c() -> tuple[int, str]:
    return _where()


@dg.op(out=dg.Out(tuple))
def where_d() -> tuple[int, str]:
    return _where()


@dg.op
def gather(a: tuple, b: tuple, c: tuple, d: tuple) -> list:
    return [a, b, c, d]


@dg.job(executor_def=celery_executor)
def fan_out() -> None:
    gather(where_a(), where_b(), where_c(), where_d())
