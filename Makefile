# Everything a new machine needs is installed by these targets into virtualenvs of the repo.
PYTHON ?= python3
# The newest Airflow: `make test`, `make demo` and lint run on it, in .venv.
NEWEST_AIRFLOW := 3.3.2
# `make test-matrix` runs the suite on each, in its own virtualenv: the oldest supported
# 2.x and 3.x lines (at their newest patch) and the newest Airflow.
MATRIX_AIRFLOW_VERSIONS ?= 2.11.2 3.0.6 $(NEWEST_AIRFLOW)
AIRFLOW_VERSION ?= $(NEWEST_AIRFLOW)

minor_of = $(word 1,$(subst ., ,$(1))).$(word 2,$(subst ., ,$(1)))
AIRFLOW_MINOR := $(call minor_of,$(AIRFLOW_VERSION))
# .venv for the newest Airflow, .venv-<major.minor> for the others.
VENV ?= $(if $(filter $(NEWEST_AIRFLOW),$(AIRFLOW_VERSION)),.venv,.venv-$(AIRFLOW_MINOR))
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)
# Pins for what an older Airflow breaks on when pip resolves it without Airflow's constraints.
PINS := $(wildcard constraints/airflow-$(AIRFLOW_MINOR).txt)
BENCH_STAMP := $(VENV)/.installed-bench-$(AIRFLOW_VERSION)
DOCS_STAMP := $(VENV)/.installed-docs-$(AIRFLOW_VERSION)

.PHONY: install test test-older test-matrix pytest lint format docs dist demo bench emulator airflow clean

install: $(STAMP)

$(STAMP): pyproject.toml $(PINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]" \
		$(if $(PINS),--constraint $(PINS))
	rm -f $(VENV)/.installed-*
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Tests that only the newest Airflow runs: the browser test of its UI, and the release tests
# (the built wheel installed with the newest Airflow, the README's examples).
NEWEST_ONLY := $(if $(filter $(NEWEST_AIRFLOW),$(AIRFLOW_VERSION)),,-m "not browser and not release")

# The suite on AIRFLOW_VERSION (default: the newest), without lint.
pytest: install
	$(BIN)/python -m pytest $(NEWEST_ONLY) $(PYTEST_ARGS)

test: lint docs pytest

# The suite on the older versions of the matrix; fails if it failed on any of them.
test-older:
	@failed=""; \
	for version in $(filter-out $(NEWEST_AIRFLOW),$(MATRIX_AIRFLOW_VERSIONS)); do \
		echo "=== the suite on Airflow $$version"; \
		$(MAKE) --no-print-directory pytest AIRFLOW_VERSION=$$version || failed="$$failed $$version"; \
	done; \
	if [ -n "$$failed" ]; then echo "the suite failed on Airflow:$$failed"; exit 1; fi

# Lint and the suite on the newest Airflow, then the suite on the older ones.
test-matrix: test test-older

demo: install
	$(BIN)/python scripts/demo.py

# The baselines (the official SDK, the dbt Cloud and Airbyte providers) and the plotting
# come with the bench extra; Airflow stays pinned.
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[bench]"
	touch $@

# Rewrites docs/benchmarks.md and docs/benchmarks.png (BENCH_ARGS=--quick for a smoke run).
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Sphinx and its theme come with the docs extra; Airflow stays pinned.
$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[docs]"
	touch $@

# The documentation site in docs/_build/html, built afresh; any warning fails it.
docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -b html -E -W --keep-going docs docs/_build/html

# The sdist and the wheel in dist/, checked as PyPI would check them.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

emulator: install
	$(BIN)/schedulerx-emulator --port 8866 --jobs example_dags/emulator_jobs.json

# The provider in a real Airflow deployment: the UI on http://localhost:8080 with the
# emulator, its connection and the example DAGs; Ctrl-C stops everything.
airflow: install
	bash scripts/install-postgresql.sh
	$(BIN)/python scripts/airflow_deployment.py

.PHONY: screenshots
# Refreshes the README's pictures of the connection form (needs /usr/bin/chromium).
screenshots: install
	SCHEDULERX_SCREENSHOT_DIR=docs/img SCHEDULERX_BROWSER_REQUIRED=1 $(BIN)/python -m pytest -q tests/browser

clean:
	rm -rf .venv .venv-* build dist docs/_build *.egg-info .pytest_cache .mypy_cache .ruff_cache
