"""The Dagster UI in a real browser: what an engineer sees after ``make ui``.

Starts ``dagster dev`` on loopback over a temporary home (the three locations of
``workspace.yaml``; gosales on its tiny world with one cutoff), launches one gosales retrain
partition as the launchpad does (GraphQL), waits for success, then drives Debian's headless
Chromium (``scripts/chromium.sh``) through the run page, the global asset graph and the
partition's model card, and asserts that no page raised a JavaScript error or logged a
console error, that every location loaded and that the model card's plots decoded as
images. Screenshots are kept as test artifacts in ``$SALESML_TEST_ARTIFACTS`` (default
``build/test-artifacts/ui``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from gosales_assets.demo import INPUTS
from shared.devserver import REPO, DagsterDev
from tests.conftest import chromium_path

PARTITION = "2023-12-31|hardware"


def _tiny_gosales_yaml() -> str:
    """The gosales config of the wiring tests (tests/gosales/conftest.py) as the YAML file
    a user would point SALESML_GOSALES_CONFIG at: the tiny world, one closed cutoff."""
    from gosales_assets.world import generate_world
    from tests.gosales.conftest import tiny_config

    cfg = tiny_config(generate_world(size="tiny", seed=7, window_months=6))
    return yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True))


def _artifacts() -> Path:
    out = Path(os.environ.get("SALESML_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    out = out / "ui"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A running ``dagster dev`` whose gosales inputs are materialized and whose one retrain
    partition has run; yields ``(server, run_id, status)``."""
    browser = chromium_path()
    pytest.importorskip("playwright.sync_api")
    home = tmp_path_factory.mktemp("ui_home")
    config = home / "gosales_tiny.yaml"
    config.write_text(_tiny_gosales_yaml())
    env = {"SALESML_GOSALES_CONFIG": str(config), "SALESML_TEST_CHROMIUM": browser}
    with DagsterDev(home, env=env) as dev:
        dev.materialize("gosales_assets.definitions", INPUTS)
        dev.query("mutation { setNuxSeen }")  # the one-time newsletter dialog would cover pages
        run_id = dev.launch("gosales_retrain_job", "gosales_assets", PARTITION)
        yield dev, run_id, dev.wait(run_id, timeout=900)


@pytest.fixture(scope="module")
def page(ui):
    """One Chromium page; every uncaught page error and console error is collected."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1600, "height": 1000})
        tab.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
        tab.on("console", lambda msg: msg.type == "error" and errors.append(f"console: {msg.text}"))
        tab.errors = errors
        yield tab
        browser.close()


def _open(page, ui, path: str, shot: str) -> None:
    dev, _, _ = ui
    page.goto(dev.url + path, wait_until="networkidle")
    page.wait_for_timeout(1500)  # let the graph lay itself out before the screenshot
    page.screenshot(path=str(_artifacts() / f"{shot}.png"))


def test_every_location_loads_and_the_partition_run_succeeds(ui):
    dev, _, status = ui
    assert dev.locations() == {
        "gosales_assets": "RepositoryLocation",
        "pricing_assets": "RepositoryLocation",
        "leadconv_assets": "RepositoryLocation",
    }
    assert status == "SUCCESS", f"run ended {status}; see {dev.log}"


def test_the_run_page_shows_success(ui, page):
    _, run_id, _ = ui
    from playwright.sync_api import expect

    _open(page, ui, f"/runs/{run_id}", "run")
    # the title gains the run's status once the run's data has loaded over GraphQL
    expect(page).to_have_title(re.compile(r"\[SUCCESS\]"), timeout=60_000)
    page.screenshot(path=str(_artifacts() / "run.png"))
    assert page.errors == []


def test_the_asset_graph_shows_the_three_locations(ui, page):
    _open(page, ui, "/asset-groups", "asset_graph")
    for group in ("gosales", "pricing", "leadconv"):
        assert page.get_by_text(group, exact=True).first.is_visible()
    assert page.errors == []


def test_the_model_card_renders_with_its_plots(ui, page):
    _open(page, ui, "/assets/gosales/model_card?partition=" + PARTITION.replace("|", "%7C"), "card")
    page.locator("tr", has_text="card").first.get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Calibration curve").wait_for()
    images = dialog.locator("img")
    sizes = [images.nth(i).evaluate("img => img.naturalWidth") for i in range(images.count())]
    # calibration curve, cumulative gains, feature importance: all decoded (width > 0)
    assert len(sizes) == 3 and min(sizes) > 0, sizes
    images.first.scroll_into_view_if_needed()
    page.screenshot(path=str(_artifacts() / "model_card_plots.png"))
    assert page.errors == []
