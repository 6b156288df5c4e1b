# Two commands on a fresh machine: `make run` (dashboard) and `make test` (ruff, then pytest).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_CSV := data/WA_Fn-UseC_-Telco-Customer-Churn.csv
# The real data set, when this checkout sits beside the team's shared folder.
SHARED_CSV ?= ../shared/data/telco-customer-churn.csv
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test lint train data bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

data:
	@mkdir -p data
	@if [ ! -f $(DATA_CSV) ] && [ -f $(SHARED_CSV) ]; then \
		cp $(SHARED_CSV) $(DATA_CSV) && echo "copied $(SHARED_CSV) to $(DATA_CSV)"; fi
	@if [ ! -f $(DATA_CSV) ]; then \
		echo "no $(DATA_CSV): the dashboard will use generated demo data"; fi

run: $(STAMP) data
	$(PY) -m core bootstrap
	$(PY) -m streamlit run dashboard/app.py --server.address $(HOST) --server.port $(PORT)

train: $(STAMP) data
	$(PY) -m core train

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(STAMP) data lint
	$(VENV)/bin/pytest -q

# Every benchmark in turn; each ends with one JSON line. Tens of minutes on 2 cores.
BENCHES := cost_curve train dashboard explain treeshap value serve tune

bench: $(STAMP) data
	@for name in $(BENCHES); do echo "== bench/$$name.py"; $(PY) bench/$$name.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
