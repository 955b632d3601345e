# Two commands for a newcomer: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_VERSION_CHECK := false
export RUNTIME__DLTHUB_TELEMETRY := false

.PHONY: install system-deps lock demo test lint format clean web-vendor

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv>=0.4,<1"

install: $(BIN)/uv  ## create .venv and install the project with dev extras from the lock file
	$(BIN)/uv pip sync --quiet --python $(BIN)/python $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .

lock: $(BIN)/uv  ## re-resolve the lock file from pyproject.toml's ranges
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev -o $(LOCK)

demo: install  ## embedded warehouse + local TMDB server (without credentials) + ingestion
	$(BIN)/python -m cli.demo

web-vendor:  ## refresh the page's chart libraries (vega, vega-lite, vega-embed) from npm into api/web/vendor/
	cd api/web/vendor-src && npm ci --no-audit --no-fund --ignore-scripts
	node api/web/vendor-src/vendor.mjs

system-deps:  ## what the tests need beyond the venv (headless Chromium); installs it as root on Debian
	@bash tests/ensure_system_deps.sh

test: install system-deps  ## every linter and test; .ci/run calls exactly this
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix dbt_project

clean:  ## stop the embedded warehouse and remove local state (lake, warehouse data, venv kept)
	-$(BIN)/tmdb db stop
	rm -rf .tmdb data
