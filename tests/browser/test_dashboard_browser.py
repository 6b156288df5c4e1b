"""Drive the running dashboard in headless Chromium: every page, a cost slider, persistence."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# URL path -> heading shown at the top of the page.
PAGES = {
    "": "ChurnLab overview",
    "data_audit": "Data audit",
    "leaderboard": "Leaderboard",
    "threshold": "Threshold & cost",
    "tuning": "Tuning",
    "explain": "Explain a customer",
    "promotion": "Promotion",
    "business_value": "Business value",
    "decisions": "Decisions",
}
LOAD_TIMEOUT_MS = 60_000


def _wait_for_page(page, heading: str) -> None:
    """Wait for the heading, for the script run to end and for the charts to be drawn."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        timeout=LOAD_TIMEOUT_MS
    )
    # Plotly draws charts after the script run ends.
    page.wait_for_timeout(1000)


def _metric_value(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def _screenshot(page, path) -> None:
    """Save the whole page: Streamlit scrolls inside its main block, so grow the viewport."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def _slider_text(page) -> str:
    return _cost_fn_slider(page).get_attribute("aria-valuetext")


def _cost_fn_slider(page):
    # Streamlit 1.67 draws a slider as an <input type="range"> labelled by its label.
    return page.locator('[data-testid="stSidebar"] input[aria-label="Cost of a missed churner"]')


def test_every_page_renders(page, dashboard_url, screenshot_dir):
    for path, heading in PAGES.items():
        page.goto(f"{dashboard_url}/{path}")
        _wait_for_page(page, heading)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        assert page.get_by_text("Traceback").count() == 0, path
        _screenshot(page, screenshot_dir / f"{path or 'overview'}.png")


def test_sidebar_names_data_and_store(page, dashboard_url, trained_store):
    page.goto(dashboard_url)
    _wait_for_page(page, PAGES[""])
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "Data:" in sidebar.inner_text()
    assert trained_store.tracking_uri in sidebar.inner_text()


def test_cost_slider_changes_numbers_and_persists(page, dashboard_url, screenshot_dir):
    page.goto(f"{dashboard_url}/threshold")
    _wait_for_page(page, PAGES["threshold"])
    cost_before = _metric_value(page, "Cost at this threshold")

    slider = _cost_fn_slider(page)
    assert _slider_text(page) == "10"
    slider.focus()
    # The stops after 10 are 15 and 20.
    slider.press("ArrowRight")
    slider.press("ArrowRight")
    page.wait_for_function(
        "() => new URL(window.location.href).searchParams.get('cost_fn') === '20'",
        timeout=LOAD_TIMEOUT_MS,
    )
    _wait_for_page(page, PAGES["threshold"])
    cost_after = _metric_value(page, "Cost at this threshold")
    assert cost_after != cost_before
    _screenshot(page, screenshot_dir / "threshold_cost_fn_20.png")

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Leaderboard").click()
    _wait_for_page(page, PAGES["leaderboard"])
    assert _slider_text(page) == "20"
    assert re.search(r"cost_fn=20", page.url)

    page.reload()
    _wait_for_page(page, PAGES["leaderboard"])
    assert _slider_text(page) == "20"


def test_deep_link_is_first_request_of_new_server(page, fresh_dashboard):
    # A page URL as the very first request of a fresh server is the case that once showed
    # "Page not found", when the page scripts lived in Streamlit's automatic pages/ folder.
    with fresh_dashboard() as url:
        page.goto(f"{url}/leaderboard?cost_fn=20")
        _wait_for_page(page, PAGES["leaderboard"])
        assert _slider_text(page) == "20"
        assert page.get_by_text("Page not found").count() == 0
