"""Model cards: one markdown + one JSON file per model and partition.

A card is a plain dict; the renderer knows a few well-known keys and prints
every other scalar under "Details". Files land in
``<home>/reports/<domain>/<model_name>/<partition_key>/model_card.{md,json}``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from shared import home as home_mod


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def render_model_card(card: dict[str, Any]) -> str:
    """Markdown for a card with keys like ``title``, ``summary``, ``data``,
    ``metrics`` (name → value or {model: value}), ``gates_markdown``,
    ``calibration_markdown``, ``features`` (list), ``links`` (name → url),
    ``notes`` (list of str). Unknown scalar keys go under Details.
    """
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
    }
    for section, key in (("Intended use", "intended_use"), ("Limitations", "limitations")):
        if card.get(key):
            lines += [f"## {section}", "", str(card[key]), ""]
    if card.get("data"):
        lines += ["## Data", "", "| item | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in card["data"].items()] + [""]
    metrics = card.get("metrics") or {}
    if metrics:
        lines += ["## Metrics", ""]
        models = sorted({m for v in metrics.values() if isinstance(v, dict) for m in v})
        if models:
            lines += ["| metric | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
            for name, v in metrics.items():
                vals = [
                    _fmt(v.get(m, float("nan"))) if isinstance(v, dict) else _fmt(v) for m in models
                ]
                lines.append(f"| {name} | " + " | ".join(vals) + " |")
        else:
            lines += ["| metric | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in metrics.items()]
        lines.append("")
    if card.get("gates_markdown"):
        lines += ["## Promotion gates", "", card["gates_markdown"], ""]
    if card.get("calibration_markdown"):
        lines += ["## Calibration (equal-mass bins)", "", card["calibration_markdown"], ""]
    if card.get("features"):
        feats = list(card["features"])
        lines += [f"## Features ({len(feats)})", "", ", ".join(f"`{f}`" for f in feats), ""]
    details = {k: v for k, v in card.items() if k not in known and not isinstance(v, dict | list)}
    if details:
        lines += ["## Details", "", "| item | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in details.items()] + [""]
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
    md_path.write_text(render_model_card(card))
    json_path.write_text(json.dumps(card, indent=2, default=str, sort_keys=True))
    return md_path, json_path
