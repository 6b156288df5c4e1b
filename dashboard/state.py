"""Session state shared by every page: the costs, the selected run and the threshold.

The values live under non-widget keys in `st.session_state`, which survive page switches,
and are mirrored into `st.query_params`, which survive a browser refresh. Widgets use their
own keys: Streamlit drops a widget's key on a run where the widget is not drawn, so each
widget is seeded from the stored value before it is drawn and writes back on change.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.config import DEFAULT_COST_FN, DEFAULT_COST_FP

logger = logging.getLogger(__name__)

# Stored values (never widget keys), so they persist across pages.
COST_FN_KEY = "churnlab.cost_fn"
COST_FP_KEY = "churnlab.cost_fp"
RUN_ID_KEY = "churnlab.run_id"
THRESHOLD_KEY = "churnlab.threshold"
# Problems found in the page link, shown once by `show_link_notices`.
LINK_NOTICES_KEY = "churnlab.link_notices"
# Set once the run named in the page link has been looked for among the runs.
LINKED_RUN_CHECKED_KEY = "churnlab.linked_run_checked"

# Query parameter names, as they appear in the browser's address bar.
QUERY_COST_FN = "cost_fn"
QUERY_COST_FP = "cost_fp"
QUERY_RUN = "run"
QUERY_THRESHOLD = "threshold"

# Widget keys. Streamlit raises on two widgets with one key in a run, so a page draws each once.
COST_FN_WIDGET = "costs.cost_fn"
COST_FP_WIDGET = "costs.cost_fp"
RUN_WIDGET = "run.select"

NO_RUNS_MESSAGE = (
    "The tracking store has no model runs yet. Start the dashboard with `make run`, which "
    "trains the default models on its first start, or train them with `python -m core train`, "
    "then reload this page."
)

# Slider stops, in money per customer, spaced roughly evenly on a log scale so that both
# 1 and 500 are easy to reach. A value from a link that is not a stop is added as a stop.
COST_STOPS = (
    0.0,
    0.5,
    1.0,
    1.5,
    2.0,
    3.0,
    4.0,
    5.0,
    7.5,
    10.0,
    15.0,
    20.0,
    25.0,
    30.0,
    40.0,
    50.0,
    75.0,
    100.0,
    150.0,
    200.0,
    250.0,
    300.0,
    400.0,
    500.0,
    750.0,
    1000.0,
)
COST_MAX = COST_STOPS[-1]


def init_state() -> None:
    """Fill the stored values from the query string once, then mirror them back into it.

    Call it at the top of every page; `dashboard/app.py` calls it too. Invalid query values
    (text, negative or non-finite numbers) are ignored, logged and named on the page by
    `show_link_notices`, so a pasted link with a typo falls back to the defaults openly.
    """
    params = st.query_params
    if COST_FN_KEY not in st.session_state:
        st.session_state[COST_FN_KEY] = _query_number(params, QUERY_COST_FN, 0.0, COST_MAX)
    if st.session_state[COST_FN_KEY] is None:
        st.session_state[COST_FN_KEY] = DEFAULT_COST_FN
    if COST_FP_KEY not in st.session_state:
        st.session_state[COST_FP_KEY] = _query_number(params, QUERY_COST_FP, 0.0, COST_MAX)
    if st.session_state[COST_FP_KEY] is None:
        st.session_state[COST_FP_KEY] = DEFAULT_COST_FP
    if RUN_ID_KEY not in st.session_state:
        st.session_state[RUN_ID_KEY] = params.get(QUERY_RUN) or None
    if THRESHOLD_KEY not in st.session_state:
        st.session_state[THRESHOLD_KEY] = _query_number(params, QUERY_THRESHOLD, 0.0, 1.0)
    _sync_query_params()


def get_costs() -> tuple[float, float]:
    """Return the current costs `(cost_fn, cost_fp)`: a missed churner and an unneeded offer."""
    init_state()
    return float(st.session_state[COST_FN_KEY]), float(st.session_state[COST_FP_KEY])


def set_costs(cost_fn: float, cost_fp: float) -> None:
    """Store new costs per customer and mirror them into the query string."""
    st.session_state[COST_FN_KEY] = float(cost_fn)
    st.session_state[COST_FP_KEY] = float(cost_fp)
    _sync_query_params()


def get_selected_run_id() -> str | None:
    """Return the run chosen on any page, or None when no run has been chosen yet."""
    init_state()
    return st.session_state[RUN_ID_KEY]


def set_selected_run_id(run_id: str | None) -> None:
    """Store the selected run and mirror it into the query string."""
    st.session_state[RUN_ID_KEY] = run_id or None
    _sync_query_params()


def get_threshold() -> float | None:
    """Return the threshold set by hand, or None to use the selected run's optimal threshold."""
    init_state()
    return st.session_state[THRESHOLD_KEY]


def set_threshold(threshold: float | None) -> None:
    """Store a threshold set by hand (None returns to the optimal one) and mirror it."""
    st.session_state[THRESHOLD_KEY] = None if threshold is None else float(threshold)
    _sync_query_params()


def cost_widgets(container: DeltaGenerator | None = None) -> tuple[float, float]:
    """Draw the two cost sliders and return the current `(cost_fn, cost_fp)`.

    Args:
        container: Where to draw them; the sidebar when None. Draw them once per page run,
            because two sliders with the same key raise `StreamlitDuplicateElementKey`.
    """
    init_state()
    target = container if container is not None else st.sidebar
    target.markdown("**Business costs** (money per customer)")
    _seeded_slider(
        target,
        "Cost of a missed churner",
        widget_key=COST_FN_WIDGET,
        stored_key=COST_FN_KEY,
        help="Revenue lost when a customer who leaves was not contacted (a false negative).",
    )
    _seeded_slider(
        target,
        "Cost of an unneeded offer",
        widget_key=COST_FP_WIDGET,
        stored_key=COST_FP_KEY,
        help="Cost of a retention offer sent to a customer who would have stayed "
        "(a false positive).",
    )
    return get_costs()


def costs_are_valid(cost_fn: float, cost_fp: float) -> bool:
    """Return False when both costs are zero, where every threshold costs nothing."""
    return cost_fn > 0 or cost_fp > 0


def warn_if_costs_zero(cost_fn: float, cost_fp: float, subject: str) -> bool:
    """Show the warning for two zero costs and return True, or return False when one is set.

    Args:
        cost_fn: Cost of a missed churner.
        cost_fp: Cost of an unneeded offer.
        subject: What the page compares, in the singular, such as "threshold" or "run".
    """
    if costs_are_valid(cost_fn, cost_fp):
        return False
    st.warning(f"Both costs are 0, so every {subject} costs nothing. Raise one of them.")
    return True


def show_no_runs() -> None:
    """Tell the user that the store has no runs and how to create them."""
    st.info(NO_RUNS_MESSAGE, icon=":material/info:")


def run_labels(runs: pd.DataFrame) -> dict[str, str]:
    """Name each run for people, by run id: model, imbalance strategy, start time, short id."""
    labels = {}
    names = _column(runs, "tags.mlflow.runName").fillna(_column(runs, "params.model"))
    imbalances = _column(runs, "tags.imbalance")
    starts = _column(runs, "start_time")
    for run_id, name, imbalance, started in zip(
        runs["run_id"], names, imbalances, starts, strict=True
    ):
        parts = [model_display_name(name) if isinstance(name, str) and name else "run"]
        if isinstance(imbalance, str) and imbalance:
            parts.append(imbalance_display_name(imbalance))
        if isinstance(started, pd.Timestamp) and not pd.isna(started):
            parts.append(started.strftime("%d %b %H:%M"))
        parts.append(str(run_id)[:8])
        labels[run_id] = " · ".join(parts)
    return labels


def run_label(run: pd.Series) -> str:
    """Name one run (a row of `load_runs()`) as `run_labels` does."""
    return run_labels(run.to_frame().T)[run["run_id"]]


def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    if name in runs.columns:
        return runs[name]
    return pd.Series(None, index=runs.index, dtype=object)


def short_run_label(run: pd.Series) -> str:
    """Name a run in a few characters, for legends and column headings: model and short id."""
    name = run.get("tags.mlflow.runName") or run.get("params.model")
    name = model_display_name(name) if isinstance(name, str) and name else "run"
    return f"{name} · {str(run['run_id'])[:8]}"


def run_picker(
    runs: pd.DataFrame, *, label: str = "Model run", container: DeltaGenerator | None = None
) -> str | None:
    """Draw a run selector and return the chosen run id, or None when `runs` is empty.

    Until the user picks a run, the first row of `runs` is shown, so passing runs ranked
    by current cost makes the default follow the cost sliders. A pick is stored with
    `set_selected_run_id` and kept on every page and after a refresh.
    """
    if runs.empty:
        return None
    target = container if container is not None else st
    labels = run_labels(runs)
    stored = get_selected_run_id()
    if stored not in labels:
        if stored is not None and st.session_state.get(LINKED_RUN_CHECKED_KEY) is None:
            _add_link_notice(f"run={stored} is not among the runs this page lists")
            show_link_notices()
            set_selected_run_id(None)
        stored = None
    st.session_state[LINKED_RUN_CHECKED_KEY] = True
    # Seeded on every run, as the cost sliders are; a pick is stored by the callback first.
    st.session_state[RUN_WIDGET] = stored or next(iter(labels))
    return target.selectbox(
        label,
        options=list(labels),
        format_func=labels.get,
        key=RUN_WIDGET,
        on_change=lambda: set_selected_run_id(st.session_state[RUN_WIDGET]),
    )


def _seeded_slider(
    container: DeltaGenerator,
    label: str,
    *,
    widget_key: str,
    stored_key: str,
    help: str,
) -> None:
    stored = float(st.session_state[stored_key])
    stops = sorted({*COST_STOPS, stored})
    # Seed the widget on every run: after a page switch Streamlit may keep the old key but
    # draw the widget at its first option. The change callback has already copied a user's
    # move into the stored value, so this never undoes a move.
    st.session_state[widget_key] = stored
    container.select_slider(
        label,
        options=stops,
        format_func=_format_cost,
        key=widget_key,
        help=help,
        on_change=_copy_widget(widget_key, stored_key),
    )


def _format_cost(value: float) -> str:
    return f"{value:,.1f}" if value % 1 else f"{value:,.0f}"


def _copy_widget(widget_key: str, stored_key: str) -> Callable[[], None]:
    def copy() -> None:
        st.session_state[stored_key] = float(st.session_state[widget_key])
        _sync_query_params()

    return copy


def _sync_query_params() -> None:
    """Write the stored values into the query string, removing the ones that are unset."""
    values = {
        QUERY_COST_FN: _format_number(st.session_state.get(COST_FN_KEY)),
        QUERY_COST_FP: _format_number(st.session_state.get(COST_FP_KEY)),
        QUERY_RUN: st.session_state.get(RUN_ID_KEY),
        QUERY_THRESHOLD: _format_number(st.session_state.get(THRESHOLD_KEY)),
    }
    params = st.query_params
    for name, value in values.items():
        if value is None:
            if name in params:
                del params[name]
        elif params.get(name) != value:
            params[name] = value


def _format_number(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{float(value):g}" if float(value) == round(float(value), 6) else repr(float(value))


def _query_number(params, name: str, low: float, high: float) -> float | None:
    """Read a number from the query string, or None when absent or outside [low, high]."""
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        logger.warning("Ignoring query parameter %s=%r: it is not a number", name, raw)
        _add_link_notice(f"{name}={raw} is not a number")
        return None
    if not math.isfinite(value) or not low <= value <= high:
        logger.warning("Ignoring query parameter %s=%r: outside [%g, %g]", name, raw, low, high)
        _add_link_notice(f"{name}={raw} is outside {low:g} to {high:g}")
        return None
    return value


def _add_link_notice(problem: str) -> None:
    st.session_state.setdefault(LINK_NOTICES_KEY, []).append(problem)


def show_link_notices() -> None:
    """Say once which values of the page link were ignored, so numbers do not change silently.

    `init_state` and `run_picker` collect them. `dashboard/app.py` calls this on every run,
    and each notice is shown only on the run that found it.
    """
    problems = st.session_state.pop(LINK_NOTICES_KEY, [])
    if problems:
        st.warning(
            "Part of this page's link was ignored: "
            + "; ".join(problems)
            + ". The page shows the default values instead. Fix: set them with the sidebar "
            "and the run selector, then copy the new link from the address bar."
        )


MODEL_DISPLAY_NAMES = {
    "logistic_regression": "Logistic regression",
    "random_forest": "Random forest",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
    "mlp": "MLP",
    "mlp_relu": "MLP (relu)",
    "mlp_tanh": "MLP (tanh)",
    "mlp_logistic": "MLP (logistic)",
}


IMBALANCE_DISPLAY_NAMES = {"class_weight": "class weights", "smote": "SMOTE", "none": "none"}


def imbalance_display_name(name: str) -> str:
    """Return the name people read for an imbalance strategy, e.g. "SMOTE" for "smote"."""
    return IMBALANCE_DISPLAY_NAMES.get(name, name)


def model_display_name(name: str) -> str:
    """Return the name people read for a core model name, e.g. "XGBoost" for "xgboost".

    Names that are not core model names, such as custom run names, are returned unchanged.
    """
    return MODEL_DISPLAY_NAMES.get(name, name)


RANKED_RUN_LABEL = "Model run (default: the lowest training-data cost at these costs)"


def ranked_run_picker(ranked: pd.DataFrame) -> str | None:
    """Draw the run selector over runs ranked at the current costs, or the no-runs notice.

    Every page that picks a run calls this with `data_access.ranked_runs`, so all of them
    open on the same default run. Returns None when there is no run.
    """
    if ranked.empty:
        show_no_runs()
        return None
    return run_picker(ranked, label=RANKED_RUN_LABEL)
