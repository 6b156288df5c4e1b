"""Dashboard entry point: `streamlit run dashboard/app.py` routes between the pages.

The sidebar names the data and the tracking store that every page uses. To add a page, add
one `st.Page(...)` line to `PAGES`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project root, so the
# `core` and `dashboard` packages are importable only after this line.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import streamlit as st  # noqa: E402

from dashboard import data_access, state  # noqa: E402

# Not `pages/`: Streamlit lists a `pages/` folder beside the entry script on its own, and a
# first request to a page's URL after a restart then gets that list instead of `PAGES`.
PAGES_DIR = Path(__file__).resolve().parent / "views"
# A local file, because a Material icon makes the browser fetch a font from Google.
PAGE_ICON = Path(__file__).resolve().parent / "assets" / "icon.png"

PAGES = [
    st.Page(PAGES_DIR / "overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page(PAGES_DIR / "data_audit.py", title="Data audit", icon=":material/table_view:"),
    st.Page(PAGES_DIR / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
    st.Page(PAGES_DIR / "threshold.py", title="Threshold & cost", icon=":material/tune:"),
    st.Page(PAGES_DIR / "tuning.py", title="Tuning", icon=":material/science:"),
    st.Page(PAGES_DIR / "explain.py", title="Explain", icon=":material/psychology:"),
    st.Page(PAGES_DIR / "promotion.py", title="Promotion", icon=":material/verified:"),
    st.Page(PAGES_DIR / "business_value.py", title="Business value", icon=":material/payments:"),
    st.Page(PAGES_DIR / "decisions.py", title="Decisions", icon=":material/gavel:"),
]


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def _sidebar_sources() -> None:
    st.sidebar.markdown(f"**Data:** {data_access.data_source_label()}")
    st.sidebar.caption(f"Tracking store: `{data_access.tracking_uri()}`")


def main() -> None:
    """Configure the page, draw the shared sidebar and run the selected page."""
    _configure_logging()
    st.set_page_config(page_title="ChurnLab", page_icon=str(PAGE_ICON), layout="wide")
    state.init_state()
    page = st.navigation(PAGES)
    _sidebar_sources()
    state.show_link_notices()
    page.run()


main()
