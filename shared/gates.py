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

import polars as pl

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
    # An advisory gate (a business floor, say) is reported, WARN when it fails, and never
    # refuses a candidate on its own.
    advisory: bool = False
    # a named verdict that is neither a plain pass nor a plain FAIL ("insufficient evidence",
    # "bad model"); empty = the default words
    verdict: str = ""

    def result(self) -> str:
        """The verdict word: ``verdict`` when named, else skipped / pass / WARN / FAIL."""
        if self.verdict:
            return self.verdict
        if self.skipped:
            return "skipped"
        if self.passed:
            return "pass"
        return "WARN" if self.advisory else "FAIL"

    def sentence(self) -> str:
        """One line: what was measured against what, and the verdict."""
        verdict = self.result()
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


INSUFFICIENT = "insufficient evidence"
EVIDENCE_GATES = ("training_positives", "holdout_positives", "holdout_evidence")
"""Gates that say the data are too few to fit or judge, not that the model is bad."""


def evidence_gates(
    positives: int, min_positives: int, se: float, max_se: float, metric: str = "AUC"
) -> list[Gate]:
    """Whether the holdout can judge a model at all: at least ``min_positives`` positives
    and the metric's standard error at most ``max_se``. A failure is reported as
    "insufficient evidence" (:attr:`GateReport.insufficient_evidence`), not as a bad model."""
    return [
        gate(
            "holdout_positives",
            positives,
            ">=",
            min_positives,
            "insufficient evidence: too few positives to judge any model"
            if positives < min_positives
            else "",
        ),
        gate(
            "holdout_evidence",
            se,
            "<=",
            max_se,
            f"{metric} standard error on this holdout"
            + ("; insufficient evidence to tell models apart" if not se <= max_se else ""),
        ),
    ]


def paired_gate(
    name: str, diff: float, se: float, versus: str, higher_is_better: bool = True
) -> Gate:
    """``candidate - {versus}`` on the same holdout must not be worse than one paired
    standard error ``se``: the true model passes wherever the other is not clearly better,
    a model clearly worse than ``versus`` fails. No ``se`` measured fails (not compared)."""
    if math.isnan(se) or math.isnan(diff):
        return Gate(name, diff, ">=", math.nan, False, f"paired error vs {versus} not measured")
    if higher_is_better:
        return gate(name, diff, ">=", -se, f"candidate minus {versus}, paired SE {se:.4f}")
    return gate(name, diff, "<=", se, f"candidate minus {versus}, paired SE {se:.4f}")


def newer_champion_gate(name: str, metrics: pl.DataFrame, cutoff_col: str) -> Gate | None:
    """A failing gate when the serving champion was trained at a later cutoff than the
    candidate; None when it was not (or nothing serves).

    ``metrics``: a holdout-metrics frame whose rows carry the candidate's cutoff in
    ``cutoff_col`` and the serving champion's in ``champion_cutoff`` (dates, ISO
    strings or null). An older candidate never replaces a newer champion, whatever its
    metrics: a backfill of old cutoffs must leave the newest model serving.
    """
    if "champion_cutoff" not in metrics.columns or cutoff_col not in metrics.columns:
        return None
    serving, own = metrics["champion_cutoff"][0], metrics[cutoff_col][0]
    if serving is None or own is None or str(serving)[:10] <= str(own)[:10]:
        return None
    return Gate(
        name,
        math.nan,
        ">=",
        math.nan,
        False,
        f"the champion was trained at a later cutoff ({str(serving)[:10]}); "
        "an older candidate never replaces it",
    )


def metric_of(metrics: pl.DataFrame, model: str, column: str) -> float:
    """``column`` of the row whose ``model`` is ``model``; NaN when absent or null."""
    if column not in metrics.columns:
        return math.nan
    row = metrics.filter(pl.col("model") == model)
    if not row.height or row[column][0] is None:
        return math.nan
    return float(row[column][0])


def champion_gate(
    metrics: pl.DataFrame,
    metric: str,
    *,
    cutoff_col: str = "cutoff_date",
    enabled: bool = True,
    higher_is_better: bool = True,
    se_col: str | None = None,
) -> Gate:
    """The champion rules as one gate named ``<metric>_vs_champion``.

    In: ``metrics`` with a ``model`` column (rows ``candidate`` and, when a champion
    could score this holdout, ``champion``), the metric column, its standard error
    in ``se_col`` (default ``<metric>_se``) on the candidate row, the candidate's
    cutoff in ``cutoff_col`` and the champion's in ``champion_cutoff``.
    Fails when the champion is newer; otherwise the candidate must be no worse than
    the champion by more than one standard error (paired, same holdout rows).
    Skipped (visibly) when disabled or when no comparable champion serves.
    """
    name = f"{metric}_vs_champion"
    newer = newer_champion_gate(name, metrics, cutoff_col)
    if newer is not None:
        return newer
    if not enabled:
        return skipped_gate(name, "disabled in config")
    champ = metric_of(metrics, "champion", metric)
    if math.isnan(champ):
        return skipped_gate(name, "no comparable champion serving")
    cand = metric_of(metrics, "candidate", metric)
    se = metric_of(metrics, "candidate", se_col or f"{metric}_se")
    if math.isnan(se):
        return Gate(name, cand, ">=", champ, False, "no standard error measured: not compared")
    if higher_is_better:
        return gate(
            name, cand, ">=", champ - se, f"champion {champ:.4f} minus one standard error {se:.4f}"
        )
    return gate(
        name, cand, "<=", champ + se, f"champion {champ:.4f} plus one standard error {se:.4f}"
    )


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
        """Every gate that can refuse passed (advisory failures are warnings)."""
        return all(g.passed or g.advisory for g in self.gates)

    @property
    def failed(self) -> list[Gate]:
        """The failed gates that refuse the candidate."""
        return [g for g in self.gates if not g.passed and not g.advisory]

    @property
    def warnings(self) -> list[Gate]:
        """The failed advisory gates."""
        return [g for g in self.gates if not g.passed and g.advisory]

    @property
    def insufficient_evidence(self) -> bool:
        """Refused only because the holdout cannot tell (not because the model is bad)."""
        return bool(self.failed) and all(
            g.name in EVIDENCE_GATES or g.verdict == INSUFFICIENT for g in self.failed
        )

    def reasons(self) -> list[str]:
        """Sentences for the failed gates (empty when everything passed)."""
        return [g.sentence() for g in self.failed]

    def summary(self) -> str:
        warn = "; ".join(g.sentence() for g in self.warnings)
        if self.passed:
            return "all gates passed" + (f" (advisory: {warn})" if warn else "")
        head = "insufficient evidence: " if self.insufficient_evidence else ""
        return head + "; ".join(self.reasons())

    def to_markdown(self) -> str:
        """A narrow table (gate, value, rule, result) that fits beside the Dagster UI's
        metadata keys, then each gate's detail as a bullet below it; counts print as
        integers (``318``, not ``318.0000``), failures in bold."""
        from shared.modelcard import format_value  # shared.modelcard imports no gates

        lines = ["| gate | value | rule | result |", "|---|---|---|---|"]
        details = []
        for g in self.gates:
            res = g.result() if g.passed or g.advisory else f"**{g.result()}**"
            rule = "n/a" if g.skipped else f"{g.op} {format_value(g.threshold, '.4g')}"
            lines.append(f"| {g.name} | {format_value(g.value, '.4f', nan='')} | {rule} | {res} |")
            if g.detail:
                details.append(f"- `{g.name}` ({res}): {g.detail}")
        return "\n".join(lines + ([""] + details if details else []))

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "gates": [asdict(g) for g in self.gates]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateReport:
        return cls([Gate(**g) for g in data["gates"]])
