# salesml — what the README names. Everything lives under SALESML_HOME (default ./.salesml).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export SALESML_HOME ?= $(CURDIR)/.salesml
export DAGSTER_HOME ?= $(SALESML_HOME)/dagster

.PHONY: setup demo ui test lint format bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed  ## create the virtual environment and install salesml

demo: setup  ## generate the demo worlds and materialize every asset of the three locations
	$(BIN)/python scripts/demo.py

ui: setup  ## Dagster UI on 127.0.0.1:3000 over the workspace, same home as the demo
	mkdir -p $(DAGSTER_HOME) && cp -n scripts/dagster.yaml $(DAGSTER_HOME)/dagster.yaml || true
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

test: setup  ## the test suite (starts the PostgreSQL test server first)
	bash scripts/pg.sh start >&2
	set -a; eval "$$(bash scripts/pg.sh env)"; set +a; $(BIN)/python -m pytest -n 2 --dist loadfile

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup  ## benchmarks (not part of the tests); figures go to bench/RESULTS.md
	$(BIN)/python bench/bench_gosales_features.py
	$(BIN)/python bench/bench_pricing.py

clean:
	rm -rf $(SALESML_HOME)
