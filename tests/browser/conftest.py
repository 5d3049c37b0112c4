"""Fixtures for the browser tests: one emulator and one ``airflow api-server`` per module,
and Debian's Chromium driven by Playwright.

Where Chromium or Playwright is missing the tests that need them are skipped, saying what
to install; with ``SCHEDULERX_BROWSER_REQUIRED=1`` (set by ``.ci/run`` once it has
installed Chromium) they fail instead, so that CI cannot pass by skipping them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_schedulerx.emulator import Emulator
from tests.browser.api_server import ApiServer
from tests.conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, GROUP_ID, NAMESPACE, TEST_JOBS

CHROMIUM = Path(os.environ.get("SCHEDULERX_CHROMIUM", "/usr/bin/chromium"))


def browser_missing() -> str | None:
    """Why no browser can be driven here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed: pip install -e '.[test]'"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = browser_missing()
    if reason and os.environ.get("SCHEDULERX_BROWSER_REQUIRED") == "1":
        pytest.fail(f"SCHEDULERX_BROWSER_REQUIRED=1 but {reason}")
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def ui_emulator() -> Iterator[Emulator]:
    with Emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        jobs=TEST_JOBS,
        namespace=NAMESPACE,
        group_id=GROUP_ID,
        seed=7,
    ) as emu:
        yield emu


@pytest.fixture(scope="module")
def api_server(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    if int(version("apache-airflow").split(".")[0]) < 3:
        pytest.skip("the UI under test is Airflow 3's (airflow api-server)")
    with ApiServer(tmp_path_factory.mktemp("api-server") / "api-server.log") as server:
        yield server


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``SCHEDULERX_SCREENSHOT_DIR`` (``make screenshots`` sets
    docs/img), else a temporary directory."""
    configured = os.environ.get("SCHEDULERX_SCREENSHOT_DIR")
    if not configured:
        return tmp_path_factory.mktemp("screenshots")
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    return path
