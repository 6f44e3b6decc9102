# The two commands a new user needs:
#   make demo   generate the demo city and run the pipeline end to end
#   make test   run the test suite
# Both bootstrap uv (through pip) when it is missing and install the locked environment first.

PYTHON ?= python3
UV := $(PYTHON) -m uv
export DAGSTER_HOME := $(CURDIR)/.dagster
export ASSESSMENT_DATA_DIR ?= $(CURDIR)/data
DEMO_QUARTERS ?= 2025Q1..2025Q4
DEMO_SEED ?= 7
# The dbt manifest the Dagster assets load (importing them never runs dbt): dbt parses at install time,
# again whenever a file of the dbt project changed. The same parse is left in the runs' parse cache, so
# the first run of a fresh clone does not parse (pipelines/defs/dbt/project.py).
DBT_MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f) \
	dbt_project/dbt_project.yml dbt_project/profiles.yml

.PHONY: demo test env lint format dagster-home dev clean-data bench

env: .venv/.synced dagster-home $(DBT_MANIFEST)

# Re-sync only when the lock or the project metadata changed. Bytecode is compiled here, once (see
# [tool.uv] in pyproject.toml for why not on every `uv run`).
.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked --compile-bytecode
	@touch $@

$(DBT_MANIFEST): .venv/.synced $(DBT_SOURCES)
	$(UV) run python -m pipelines.defs.dbt.project

dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: env
	$(UV) run assessment demo --quarters $(DEMO_QUARTERS) --seed $(DEMO_SEED)

# Two workers (one per core here): the whole-pipeline tests wait on dbt and subprocesses a good part
# of the time. The published city they share is built once, under a file lock (tests/conftest.py).
test: env
	$(UV) run pytest -n 2 --dist loadgroup

# Benchmark (docs/benchmark.md): city, 4- and 16-city provinces; generated data cached in data/bench/.
bench: env
	$(UV) run python -m pipelines.bench

# SQL: every model; the macros are Jinja that the templater stubs (dbt_project/.sqlfluff, and
# models/results_use/.sqlfluff for the review register) or, for models/quality, loads as they are
# (dbt_project/models/quality/.sqlfluff), not SQL to lint on their own.
SQL_LINT_PATHS := dbt_project/models/staging dbt_project/models/intermediate dbt_project/models/marts \
	dbt_project/models/quality dbt_project/models/results_use

lint: env
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run sqlfluff lint --processes 2 $(SQL_LINT_PATHS)

format: env
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

dev: env
	$(UV) run dagster dev

clean-data:
	rm -rf data/landing data/ground_truth data/archive data/warehouse data/registry data/raw data/restricted \
		data/receipts data/ingest_cache data/bench data/quality data/logs data/reports
