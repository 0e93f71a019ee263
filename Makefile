# The two commands the README promises: `make run` and `make test`.
# Both create .venv when missing and install the project into it, so a new
# machine needs nothing but Python 3.11+ and this repository.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres test-stock lint typecheck install clean schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/perfloop dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test-sqlite: $(STAMP)
	PERFLOOP_DATABASE_URL= $(BIN)/pytest -q

test-postgres: $(STAMP)
	# Again on PostgreSQL, every test that touches the store.
	PERFLOOP_DATABASE_URL=$(PG_URL) PERFLOOP_STORE_TESTS_ONLY=1 $(BIN)/pytest -q

test: lint typecheck test-sqlite test-postgres

# Whole stock cycles under time skipping; with PERFLOOP_SAVE_HISTORIES=<tag> they save the
# histories the replay test proves (tests/histories/).
test-stock: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -q -m stock_runs tests/workflows/test_stock_cycles.py -s

schema: $(STAMP)
	$(BIN)/perfloop definitions schema --write

clean:
	rm -rf $(VENV) .perfloop .pytest_cache .mypy_cache .ruff_cache
