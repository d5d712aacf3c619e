"""Model cards: one markdown + one JSON file (and its plots as PNG) per model and partition.

A card is a plain dict; the renderer knows a few well-known keys and prints
every other scalar under "Details". Files land in
``<home>/reports/<domain>/<model_name>/<partition_key>/model_card.{md,json}``, the plots
(``plots``: title -> PNG bytes, from :mod:`shared.plots`) beside them as ``<slug>.png``;
in the Dagster UI the same markdown shows the plots inline (data URIs).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared import home as home_mod
from shared.plots import md_image

IMPORTANCE_ROWS = 20


def format_value(v: Any, spec: str = ".4f", nan: str = "n/a") -> str:
    """A table cell: counts held as floats print as integers (``4152``, not
    ``4152.0000``), other floats with ``spec``, NaN as ``nan``, anything else as ``str``."""
    if isinstance(v, float):
        if math.isnan(v):
            return nan
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else format(v, spec)
    return str(v)


def plot_file(title: str) -> str:
    """The file name a plot titled ``title`` is written to beside the card."""
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") + ".png"


def render_model_card(
    card: dict[str, Any], image: Callable[[str, bytes], str] | None = None
) -> str:
    """Markdown for a card with keys like ``title``, ``summary``, ``data``,
    ``metrics`` (name → value or {model: value}), ``gates_markdown``,
    ``calibration_markdown``, ``importance`` (rows ``feature, weight, share``, sorted),
    ``plots`` (title → PNG bytes), ``features`` (list), ``links`` (name → url),
    ``notes`` (list of str). Unknown scalar keys go under Details.

    ``image(title, png)`` gives a plot's markdown; default: inline data URI.
    """
    image = image or (lambda title, png: md_image(png, title))
    lines = [f"# {card.get('title', 'Model card')}", ""]
    if card.get("summary"):
        lines += [str(card["summary"]), ""]
    known = {
        "title",
        "summary",
        "data",
        "metrics",
        "gates_markdown",
        "calibration_markdown",
        "features",
        "links",
        "notes",
        "intended_use",
        "limitations",
        "importance",
        "plots",
    }
    for section, key in (("Intended use", "intended_use"), ("Limitations", "limitations")):
        if card.get(key):
            lines += [f"## {section}", "", str(card[key]), ""]
    if card.get("data"):
        lines += ["## Data", "", "| item | value |", "|---|---|"]
        lines += [f"| {k} | {format_value(v)} |" for k, v in card["data"].items()] + [""]
    metrics = card.get("metrics") or {}
    if metrics:
        lines += ["## Metrics", ""]
        models = sorted({m for v in metrics.values() if isinstance(v, dict) for m in v})
        if models:
            lines += ["| metric | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
            for name, v in metrics.items():
                vals = [
                    format_value(v.get(m, float("nan"))) if isinstance(v, dict) else format_value(v)
                    for m in models
                ]
                lines.append(f"| {name} | " + " | ".join(vals) + " |")
        else:
            lines += ["| metric | value |", "|---|---|"]
            lines += [f"| {k} | {format_value(v)} |" for k, v in metrics.items()]
        lines.append("")
    if card.get("gates_markdown"):
        lines += ["## Promotion gates", "", card["gates_markdown"], ""]
    if card.get("calibration_markdown"):
        lines += ["## Calibration (equal-mass bins)", "", card["calibration_markdown"], ""]
    if card.get("importance"):
        rows = list(card["importance"])
        lines += [
            f"## Feature importance (top {min(IMPORTANCE_ROWS, len(rows))} of {len(rows)})",
            "",
            "| feature | weight | share |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{r['feature']}` | {format_value(float(r['weight']))} | {float(r['share']):.1%} |"
            for r in rows[:IMPORTANCE_ROWS]
        ] + [""]
    for title, png in (card.get("plots") or {}).items():
        lines += [f"## {title}", "", image(title, png), ""]
    if card.get("features"):
        feats = list(card["features"])
        lines += [f"## Features ({len(feats)})", "", ", ".join(f"`{f}`" for f in feats), ""]
    details = {k: v for k, v in card.items() if k not in known and not isinstance(v, dict | list)}
    if details:
        lines += ["## Details", "", "| item | value |", "|---|---|"]
        lines += [f"| {k} | {format_value(v)} |" for k, v in details.items()] + [""]
    if card.get("links"):
        lines += ["## Links", ""] + [f"- {k}: {v}" for k, v in card["links"].items()] + [""]
    if card.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in card["notes"]] + [""]
    return "\n".join(lines)


def write_model_card(
    domain: str, model_name: str, partition_key: str, card: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``model_card.md`` and ``model_card.json``; returns both paths."""
    safe_key = partition_key.replace("|", "__")
    folder = home_mod.reports_dir() / domain / model_name / safe_key
    folder.mkdir(parents=True, exist_ok=True)
    md_path, json_path = folder / "model_card.md", folder / "model_card.json"
    plots = card.get("plots") or {}
    for title, png in plots.items():
        (folder / plot_file(title)).write_bytes(png)
    md_path.write_text(
        render_model_card(card, image=lambda title, _: f"![{title}]({plot_file(title)})")
    )
    data = {k: v for k, v in card.items() if k != "plots"}
    data["plot_files"] = [plot_file(t) for t in plots]
    json_path.write_text(json.dumps(data, indent=2, default=str, sort_keys=True))
    return md_path, json_path


def importance_rows(features: list[str], weights: list[float]) -> list[dict[str, Any]]:
    """``feature, weight, share`` rows sorted by weight (share of the total weight)."""
    total = float(sum(abs(w) for w in weights)) or 1.0
    rows = [
        {"feature": f, "weight": float(w), "share": abs(float(w)) / total}
        for f, w in zip(features, weights, strict=True)
    ]
    return sorted(rows, key=lambda r: -abs(r["weight"]))
