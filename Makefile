# The two commands a newcomer needs: `make demo` and `make test`. Both build .venv first
# (again whenever pyproject.toml changes), so a fresh clone needs nothing but Python 3.11+.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DAGSTER_CONFIG ?= dagster.yaml
export DAGSTER_HOME ?= $(CURDIR)/.sync_pipeline/dagster

.PHONY: demo test dev dev-sandbox lint clean

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

## dev: the Dagster UI with every asset, job, sensor and schedule
dev: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

## dev-sandbox: the same UI with every vendor setting pointing at a local GHL sandbox (2,000 contacts),
## so sensors and jobs run without keys; the sandbox stops with the UI
dev-sandbox: $(INSTALLED) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/sync-pipeline sandbox --contacts 2000 -- $(BIN)/dagster dev -w workspace.yaml

lint: $(INSTALLED)
	$(BIN)/ruff check sync_pipeline sync_pipeline_tests bench
	$(BIN)/ruff format --check sync_pipeline sync_pipeline_tests bench

clean:
	rm -rf $(VENV) .sync_pipeline .pytest_cache
