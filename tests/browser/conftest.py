"""A real `streamlit run` of the dashboard on a free loopback port, and headless Chromium.

The server reads the session's `trained_store` (fast runs on the real data when its CSV is
present). Chromium is Debian's `/usr/bin/chromium`, driven by Playwright; the tests are
skipped when it is not installed (`.ci/run` installs it).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import PROJECT_ROOT
from tests.servers import free_port, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR = PROJECT_ROOT / "test-artifacts" / "screenshots"
SERVER_START_TIMEOUT_S = 60


@contextlib.contextmanager
def running_dashboard(store, log_path: Path) -> Iterator[str]:
    """Run `streamlit run dashboard/app.py` against `store`; yield its base URL, then stop it."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard" / "app.py"),
        "--server.address=127.0.0.1", f"--server.port={port}",
        "--server.headless=true", "--browser.gatherUsageStats=false",
    ]  # fmt: skip
    env = os.environ | {
        "MLFLOW_TRACKING_URI": store.tracking_uri,
        "CHURNLAB_EXPERIMENT": store.experiment,
    }
    with running_server(
        command,
        f"http://127.0.0.1:{port}",
        health_path="/_stcore/health",
        log_path=log_path,
        env=env,
        cwd=PROJECT_ROOT,
        timeout_s=SERVER_START_TIMEOUT_S,
    ) as url:
        yield url


@pytest.fixture(scope="session")
def dashboard_url(trained_store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dashboard server on the trained store, shared by the session's browser tests."""
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with running_dashboard(trained_store, log_path) as url:
        yield url


@pytest.fixture()
def fresh_dashboard(trained_store, tmp_path: Path):
    """A function that starts a new dashboard server for one test: `with fresh_dashboard():`."""
    return lambda: running_dashboard(trained_store, tmp_path / "fresh-server.log")


@pytest.fixture(scope="session")
def browser():
    """Launch headless Debian Chromium through Playwright; skip when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture()
def page(browser):
    """A fresh browser tab at a projector-like size."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Folder for one full-page screenshot per dashboard page."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
