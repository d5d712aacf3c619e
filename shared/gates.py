"""Promotion gates: named comparisons with reasons a person can read.

A gate compares one measured value against a threshold. A :class:`GateReport`
collects the gates of one candidate; it is what blocking asset checks return
and what ``promoted_model`` reads before moving the ``champion`` alias.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.metrics import binomial_acceptance

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Gate:
    """One gate: ``value <op> threshold``; NaN never passes unless ``skipped``."""

    name: str
    value: float
    op: str
    threshold: float
    passed: bool
    detail: str = ""
    skipped: bool = False

    def sentence(self) -> str:
        """One line: what was measured against what, and the verdict."""
        verdict = "skipped" if self.skipped else ("pass" if self.passed else "FAIL")
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.name}: {self.value:.4g} {self.op} {self.threshold:.4g} -> {verdict}{extra}"


def gate(name: str, value: float, op: str, threshold: float, detail: str = "") -> Gate:
    """Evaluate ``value <op> threshold`` (``op`` one of >=, >, <=, <)."""
    if op not in _OPS:
        raise ValueError(f"unknown gate operator {op!r}; use one of {sorted(_OPS)}")
    value = float(value)
    ok = (not math.isnan(value)) and _OPS[op](value, float(threshold))
    return Gate(name, value, op, float(threshold), bool(ok), detail)


def skipped_gate(name: str, reason: str) -> Gate:
    """A gate that does not apply (no champion yet, a relaxed floor): passes, says why."""
    return Gate(name, math.nan, "n/a", math.nan, True, reason, skipped=True)


def within_gate(name: str, value: float, lo: float, hi: float, detail: str = "") -> Gate:
    """``lo <= value <= hi`` as one gate (threshold reported as the interval's midpoint)."""
    ok = (not math.isnan(value)) and lo <= value <= hi
    text = f"allowed [{lo:.4f}, {hi:.4f}]" + (f"; {detail}" if detail else "")
    return Gate(name, float(value), "in", (lo + hi) / 2, bool(ok), text)


def coverage_tolerance(
    n: int, target: float = 0.90, base_tol: float = 0.02, conf: float = 0.99
) -> tuple[float, float]:
    """Allowed range of empirical coverage for a holdout of ``n`` rows.

    The configured tolerance ``target ± base_tol``, widened to the central
    ``conf`` binomial interval when the holdout is small, so that a correct
    model is not blocked by chance.
    """
    lo, hi = binomial_acceptance(target, n, conf)
    return (min(target - base_tol, lo), max(target + base_tol, hi))


@dataclass
class GateReport:
    """All gates of one candidate."""

    gates: list[Gate] = field(default_factory=list)

    @classmethod
    def of(cls, gates: Iterable[Gate]) -> GateReport:
        return cls(list(gates))

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    def reasons(self) -> list[str]:
        """Sentences for the failed gates (empty when everything passed)."""
        return [g.sentence() for g in self.failed]

    def summary(self) -> str:
        if self.passed:
            return "all gates passed"
        return "; ".join(self.reasons())

    def to_markdown(self) -> str:
        lines = ["| gate | value | rule | result | detail |", "|---|---|---|---|---|"]
        for g in self.gates:
            res = "skipped" if g.skipped else ("pass" if g.passed else "**FAIL**")
            rule = "n/a" if g.skipped else f"{g.op} {g.threshold:.4g}"
            val = "" if math.isnan(g.value) else f"{g.value:.4f}"
            lines.append(f"| {g.name} | {val} | {rule} | {res} | {g.detail} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "gates": [asdict(g) for g in self.gates]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateReport:
        return cls([Gate(**g) for g in data["gates"]])
