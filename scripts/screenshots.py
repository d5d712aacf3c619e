"""Screenshots of the Dagster UI for docs/ui.md, taken over a home that `make demo` filled.

    make demo && bash scripts/chromium.sh install && .venv/bin/python scripts/screenshots.py

Starts ``dagster dev`` on loopback over ``$SALESML_HOME`` (default ``./.salesml``), opens
Debian's headless Chromium and writes to ``docs/screenshots/``:

* ``refused_decision.png``: the promotion partition of a candidate the gates refused (the
  newest refusal that is not "insufficient evidence"): a green materialization with the
  decision, its reason and the gate table;
* ``model_card.png``: the model card of a promoted partition, its plots in view;
* ``holdout_trends.png``: the per-division AUC trend across cutoffs.

Fails (exit 1) when a page raised a JavaScript error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.devserver import DagsterDev  # noqa: E402
from shared.storage import read_lake  # noqa: E402

OUT = REPO / "docs" / "screenshots"


def _partition(promoted: bool) -> str:
    """``cutoff|division`` of the newest decision with ``promoted``, preferring refusals
    for a reason other than insufficient evidence."""
    rows = read_lake(["gosales", "model_decisions"])
    if rows.height == 0:
        raise SystemExit("no gosales decisions under SALESML_HOME: run `make demo` first")
    rows = rows.filter(pl.col("promoted") == promoted).sort("decided_at", descending=True)
    if not promoted:
        judged = rows.filter(~pl.col("reason").str.starts_with("insufficient evidence"))
        rows = judged if judged.height else rows
    if rows.height == 0:
        raise SystemExit(f"no gosales decision with promoted={promoted} to show")
    return f"{rows['cutoff_date'][0]}|{rows['division'][0]}"


def _show_markdown(page, key: str) -> None:
    """Open the ``[Show Markdown]`` dialog of metadata entry ``key``."""
    page.locator("tr", has_text=key).first.get_by_text("[Show Markdown]").click()
    page.get_by_role("dialog").wait_for()
    page.wait_for_timeout(500)


def main() -> int:
    from playwright.sync_api import sync_playwright

    home = Path(os.environ.get("SALESML_HOME", REPO / ".salesml")).resolve()
    os.environ["SALESML_HOME"] = str(home)
    chromium = os.environ.get("SALESML_TEST_CHROMIUM", "/usr/bin/chromium")
    refused, promoted = _partition(False), _partition(True)
    OUT.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with DagsterDev(home) as dev, sync_playwright() as p:
        dev.query("mutation { setNuxSeen }")
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1800, "height": 1000})
        page.on("pageerror", lambda err: errors.append(str(err)))

        def goto(path: str) -> None:
            page.goto(dev.url + path, wait_until="networkidle")
            page.wait_for_timeout(1500)

        goto(f"/assets/gosales/promoted_model?view=partitions&partition={refused}")
        page.screenshot(path=str(OUT / "refused_decision.png"))

        goto(f"/assets/gosales/model_card?view=partitions&partition={promoted}")
        _show_markdown(page, "card")
        heading = page.get_by_role("dialog").get_by_text("Calibration curve")
        heading.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(OUT / "model_card.png"))

        goto("/assets/gosales/holdout_trends")
        _show_markdown(page, "trends")
        page.get_by_role("dialog").locator("img").first.scroll_into_view_if_needed()
        page.screenshot(path=str(OUT / "holdout_trends.png"))
        browser.close()
    print(f"refused {refused}, promoted {promoted}: screenshots in {OUT}")
    if errors:
        print("page errors:", *errors, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
