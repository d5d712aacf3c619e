# salesml — what the README names. Everything lives under SALESML_HOME (default ./.salesml).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export SALESML_HOME ?= $(CURDIR)/.salesml
export DAGSTER_HOME ?= $(SALESML_HOME)/dagster

.PHONY: setup lock demo ui test lint format bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The locked set first (requirements.lock), then salesml itself without resolving anything:
# a fresh machine gets exactly the versions the figures in docs/ were measured with.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e '.[dev]'
	$(BIN)/pip check
	touch $@

lock:  ## re-resolve pyproject.toml in a throwaway venv and rewrite requirements.lock
	rm -rf build/lockenv && $(PY) -m venv build/lockenv
	build/lockenv/bin/pip install -q --upgrade pip
	build/lockenv/bin/pip install -q -e '.[dev]'
	{ sed -n '1,/^# re-measured/p' requirements.lock; build/lockenv/bin/pip freeze --exclude-editable | grep -v '^-e'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf build/lockenv
	@echo "requirements.lock rewritten: run make test and re-measure docs/results.md before committing"

setup: $(VENV)/.installed  ## create the virtual environment and install salesml

demo: setup  ## generate the demo worlds and materialize every asset of the three locations
	$(BIN)/python scripts/demo.py

ui: setup  ## Dagster UI on 127.0.0.1:3000 and the MLflow UI on 127.0.0.1:5000, same home as the demo
	BIN=$(BIN) bash scripts/ui.sh

test: setup  ## the test suite (starts the PostgreSQL and Redis test servers and installs Chromium first)
	bash scripts/pg.sh start >&2
	bash scripts/redis.sh start >&2
	bash scripts/chromium.sh install >&2
	set -a; eval "$$(bash scripts/pg.sh env)"; eval "$$(bash scripts/redis.sh env)"; eval "$$(bash scripts/chromium.sh env)"; set +a; \
	  $(BIN)/python -m pytest -n 2 --dist loadfile

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
