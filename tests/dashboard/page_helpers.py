"""AppTest helpers shared by the dashboard page tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

PAGES_DIR = Path(__file__).resolve().parents[2] / "dashboard" / "views"
APP_PATH = PAGES_DIR.parent / "app.py"
PAGE_TIMEOUT_S = 60


def open_page(name: str, **query: str) -> AppTest:
    """Run one page file with AppTest, with optional query parameters in the address."""
    app = AppTest.from_file(str(PAGES_DIR / name), default_timeout=PAGE_TIMEOUT_S)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def metric_value(app: AppTest, label: str) -> str:
    """Return the shown value of the metric with this label."""
    for metric in app.metric:
        if metric.label == label:
            return metric.value
    raise AssertionError(f"no metric labelled {label!r}; found {[m.label for m in app.metric]}")


def plotly_specs(app: AppTest) -> list[dict]:
    """Return the figure JSON of every Plotly chart on the page, in page order."""
    return [json.loads(element.proto.spec) for element in app.get("plotly_chart")]


def texts(app: AppTest) -> str:
    """Join the page's markdown, captions, info, warning and error texts into one string."""
    parts = [element.value for element in app.markdown]
    parts += [element.value for element in app.caption]
    parts += [element.value for element in app.info]
    parts += [element.value for element in app.warning]
    parts += [element.value for element in app.error]
    return "\n".join(str(part) for part in parts)


def plotted(values) -> list:
    """Decode a Plotly trace array, which Plotly 6 may store as base64 typed data."""
    if isinstance(values, dict) and "bdata" in values:
        raw = base64.b64decode(values["bdata"])
        array = np.frombuffer(raw, dtype=np.dtype(values["dtype"]))
        if "shape" in values:
            shape = [int(size) for size in str(values["shape"]).split(",")]
            array = array.reshape(shape)
        return array.tolist()
    return list(values)
