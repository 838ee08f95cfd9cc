# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench bench-sqlite bench-redis bench-postgres \
	bench-observability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.runtime

$(VENV)/.fastapi: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[fastapi,prometheus]'
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.runtime

## Run the demo: the example FastAPI app and a worker on SQLite, driven over HTTP, then
## serving until Ctrl-C. `make demo DEMO_ARGS="--serve-for 10"` stops by itself.
demo: $(VENV)/.fastapi
	$(BIN)/python examples/demo.py $(DEMO_ARGS)

## Lint, type-check and run the whole test suite.
test: $(VENV)/.dev lint typecheck pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev
	$(BIN)/pytest

## Benchmark conveyor against its peers on this machine: on SQLite, Redis and PostgreSQL.
bench: bench-sqlite bench-redis bench-postgres bench-observability

## conveyor beside Huey's SQLite storage.
bench-sqlite: $(VENV)/.bench
	$(BIN)/python -m benchmarks sqlite

## conveyor beside arq, saq, dramatiq, taskiq, streaq, rq and celery on a private Redis
## (each peer in its own virtualenv under benchmarks/.venvs/, made on first use).
bench-redis: $(VENV)/.bench
	$(BIN)/python -m benchmarks redis

## conveyor beside procrastinate and pgqueuer on a private PostgreSQL cluster (initdb'd for
## the run; each peer in its own virtualenv under benchmarks/.venvs/, made on first use).
bench-postgres: $(VENV)/.bench
	$(BIN)/python -m benchmarks postgres

## What Prometheus metrics and OpenTelemetry tracing cost a worker's drain, as ratios to no
## middleware (SQLite, and Redis when redis-server is installed).
bench-observability: $(VENV)/.dev
	$(BIN)/python -m benchmarks observability

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
