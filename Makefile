# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv first
# (again whenever pyproject.toml changes), so a fresh clone needs nothing but Python 3.11+.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DAGSTER_CONFIG ?= dagster.yaml
export DAGSTER_HOME ?= $(CURDIR)/.sync_pipeline/dagster
# dg checks that the project's venv is the active one
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

.PHONY: demo test bench dev dev-live lint clean

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: $(DAGSTER_CONFIG)
	@mkdir -p $(DAGSTER_HOME)
	cp $(DAGSTER_CONFIG) $@

## demo: run the main job on the embedded default (sandbox vendors, DuckDB) and report
demo: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/sync-pipeline demo

## test: the whole suite, on DuckDB and PostgreSQL (SYNC_PIPELINE_TEST_PG)
test: $(INSTALLED)
	$(BIN)/pytest

## bench: every benchmark against its baseline or peer, in one run (about 15 min on 2 cores; bench_webhooks
## needs wrk: apt-get install -y wrk); writes BENCHMARKS.md
bench: $(INSTALLED)
	$(BIN)/python -m bench.run_all

## dev: the Dagster UI (127.0.0.1:3000) on live sandbox vendors (GHL, Instantly, Clay, RB2B sender) with the
## receiver and MCP server (127.0.0.1:8787); every sensor runs; Ctrl-C stops everything it started
dev: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/sync-pipeline dev

## dev-live: the same UI against the real vendors your environment configures (GHL_API_KEY, ...)
dev-live: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dg dev --host 127.0.0.1 --port 3000

lint: $(INSTALLED)
	$(BIN)/ruff check sync_pipeline sync_pipeline_tests bench
	$(BIN)/ruff format --check sync_pipeline sync_pipeline_tests bench

clean:
	rm -rf $(VENV) .sync_pipeline .pytest_cache
