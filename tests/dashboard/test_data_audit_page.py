"""AppTest checks of the Data audit page, with the default data and with uploads."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from page_helpers import metric_value, open_page, plotly_specs, plotted, texts

from core.synthetic import generate_telco

PAGE = "data_audit.py"

pytestmark = pytest.mark.slow


def test_audit_of_real_data(real_store_env, trained_store):
    if trained_store.data_path is None:
        pytest.skip("real data not present")
    app = open_page(PAGE)
    assert not app.exception
    assert metric_value(app, "Customers (rows)") == "7,043"
    assert metric_value(app, "Duplicates (no id)") == "22"
    assert metric_value(app, "Hidden blanks") == "11"
    missing, balance = plotly_specs(app)[:2]
    blanks = dict(
        zip(plotted(missing["data"][1]["x"]), plotted(missing["data"][1]["y"]), strict=True)
    )
    assert blanks["TotalCharges"] == 11
    assert plotted(balance["data"][0]["y"]) == [5174, 1869]
    assert "TotalCharges (11)" in texts(app)


def test_audit_selectors_change_charts(real_store_env):
    app = open_page(PAGE)
    app.selectbox(key="audit.numeric").set_value("MonthlyCharges").run()
    app.selectbox(key="audit.category").set_value("PaymentMethod").run()
    specs = plotly_specs(app)
    assert specs[2]["layout"]["xaxis"]["title"]["text"] == "MonthlyCharges (money per month)"
    assert "Electronic check" in plotted(specs[3]["data"][0]["x"])


def test_audit_of_generated_data(generated_env):
    app = open_page(PAGE)
    assert not app.exception
    assert metric_value(app, "Customers (rows)") == "7,043"
    assert "generated demo data" in texts(app)


def test_valid_upload_is_audited(real_store_env):
    content = generate_telco(n_rows=300, seed=5).to_csv(index=False).encode()
    app = open_page(PAGE)
    app.file_uploader(key="audit.upload").upload("sample.csv", content, "text/csv").run()
    assert not app.exception
    assert not app.error
    assert metric_value(app, "Customers (rows)") == "300"
    assert "uploaded file sample.csv" in texts(app)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"customerID;gender;tenure\n1;Male;3\n", "separated by semicolons"),
        (b"PK\x03\x04binary", "not a CSV file"),
        (b"customerID,gender\nA1,Male\n", "Missing columns"),
        (b"", "is empty"),
    ],
)
def test_invalid_upload_shows_error(real_store_env, content, message):
    app = open_page(PAGE)
    app.file_uploader(key="audit.upload").upload("bad.csv", content, "text/csv").run()
    assert not app.exception
    assert len(app.error) == 1
    assert message in app.error[0].value
    assert "bad.csv cannot be audited" in app.error[0].value


def test_headline_labels_fit(real_store_env):
    app = open_page(PAGE)
    long_labels = [metric.label for metric in app.metric[:5] if len(metric.label) > 20]
    duplicates = [metric for metric in app.metric if metric.label == "Duplicates (no id)"]

    assert long_labels == []
    assert len(duplicates) == 1
    assert "customerID is dropped" in duplicates[0].help


def styled_cells(element) -> pd.DataFrame:
    """Return the text a styled st.dataframe shows, one string per cell."""
    raw = element.proto.arrow_data.styler.display_values
    return pa.ipc.open_stream(raw).read_pandas()


def find_table(app, column: str):
    """Return the first st.dataframe on the page that has this column."""
    for element in app.dataframe:
        if column in element.value.columns:
            return element
    raise AssertionError(f"no table with column {column!r}")


def test_column_types_in_plain_words(real_store_env):
    app = open_page(PAGE)
    types = find_table(app, "stored as").value

    assert len(types) == 21
    assert set(types["stored as"]) <= {"text", "whole number", "decimal"}
    assert types.set_index("column").loc["tenure", "stored as"] == "whole number"
    assert types.set_index("column").loc["SeniorCitizen", "used as"] == "category"


def test_numeric_summary_plain_labels(real_store_env):
    app = open_page(PAGE)
    table = find_table(app, "MonthlyCharges")
    cells = styled_cells(table)

    assert "std" not in table.value.index
    assert "25%" not in table.value.index
    first = ["Customers with a value", "Mean", "Standard deviation"]
    assert list(table.value.index[:3]) == first
    assert list(cells.loc["Customers with a value"]) == ["7,043", "7,043", "7,032"]
    assert cells.loc["Mean", "tenure"] == "32.37"


def test_real_data_has_no_unknown_category(real_store_env, trained_store):
    if trained_store.data_path is None:
        pytest.skip("real data not present")
    app = open_page(PAGE)

    assert not app.warning
    assert "Every category value is one the published Telco data contains." in texts(app)


def test_unknown_category_is_flagged(real_store_env):
    frame = generate_telco(n_rows=300, seed=5)
    frame.loc[:2, "Contract"] = "Three year"
    frame.loc[3, "PaymentMethod"] = " Mailed check "  # padding alone is not a new category
    app = open_page(PAGE)
    upload = frame.to_csv(index=False).encode()
    app.file_uploader(key="audit.upload").upload("new.csv", upload, "text/csv").run()

    assert not app.exception
    assert len(app.warning) == 1
    assert "Contract 'Three year' (3 rows)" in app.warning[0].value
    flagged = find_table(app, "value").value
    assert flagged.to_dict("records") == [{"column": "Contract", "value": "Three year", "rows": 3}]
