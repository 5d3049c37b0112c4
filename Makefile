# Everything a new machine needs is installed by these targets into .venv.
PYTHON ?= python3
VENV ?= .venv
AIRFLOW_VERSION ?= 3.3.2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)

.PHONY: install test lint format demo bench emulator clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]"
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: install
	$(BIN)/python scripts/demo.py

emulator: install
	$(BIN)/schedulerx-emulator --port 8866 --jobs example_dags/emulator_jobs.json

.PHONY: screenshots
# Refreshes the README's pictures of the connection form (needs /usr/bin/chromium).
screenshots: install
	SCHEDULERX_SCREENSHOT_DIR=docs/img SCHEDULERX_BROWSER_REQUIRED=1 $(BIN)/python -m pytest -q tests/browser

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
