# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint typecheck pytest docs chromium bench bench-sqlite bench-redis bench-postgres \
	bench-observability bench-sealing bench-dashboard bench-history bench-queues bench-cluster clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.runtime $(VENV)/.docs

$(VENV)/.docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@ $(VENV)/.runtime

$(VENV)/.fastapi: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[fastapi,prometheus,dashboard]'
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.runtime

## Run the demo: the example FastAPI app, a worker and the dashboard on SQLite, driven over
## HTTP, then serving until Ctrl-C. `make demo DEMO_ARGS="--serve-for 10"` stops by itself.
demo: $(VENV)/.fastapi
	$(BIN)/python examples/demo.py $(DEMO_ARGS)

## Lint, type-check, build the documentation and run the whole test suite (the dashboard's
## browser tests drive Debian's Chromium: installed here when missing and we may).
test: $(VENV)/.dev chromium lint typecheck docs pytest

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing: the browser tests skip (install it: apt-get install chromium)"; \
		fi; }

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev
	$(BIN)/pytest

## The documentation site, into site/: --strict, so a broken link or API reference fails it.
docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

## Benchmark conveyor against its peers on this machine: on SQLite, Redis and PostgreSQL.
bench: bench-sqlite bench-redis bench-postgres bench-observability bench-sealing

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

## What signing and encrypting jobs cost an enqueue and a drain, per job and as ratios to no
## keys (SQLite, and Redis and PostgreSQL when their servers are installed).
bench-sealing: $(VENV)/.dev
	$(BIN)/python -m benchmarks sealing

## Every page and API call of the dashboard, p50/p95/max, against a million finished jobs and
## ten thousand failed ones on SQLite, Redis and PostgreSQL (about 5 minutes on 2 cores, so
## not part of `make bench`; `make bench-dashboard DASHBOARD_ARGS=--quick`: about a minute).
bench-dashboard: $(VENV)/.dev
	$(BIN)/python -m benchmarks dashboard $(DASHBOARD_ARGS)

## Drain, single and bulk enqueue, stats and listing with 0, 100k and 1M finished jobs in the
## store, as ratios to the empty store, on SQLite, Redis and PostgreSQL (long: not part of
## `make bench`; `make bench-history HISTORY_ARGS=--quick` stops at 100k finished jobs).
bench-history: $(VENV)/.dev
	$(BIN)/python -m benchmarks history $(HISTORY_ARGS)

## A drain of 20k jobs spread over 1, 100 and 1,000 queues, as ratios to one queue, on SQLite,
## Redis and PostgreSQL (`make bench-queues QUEUES_ARGS=--quick`: 10k jobs, one repetition).
bench-queues: $(VENV)/.dev
	$(BIN)/python -m benchmarks queues $(QUEUES_ARGS)

## A Redis Cluster of 3 masters beside a single Redis: a drain by one worker, single and bulk
## enqueue, and 3 stores on 3 masters drained at once, as ratios cluster/single (about 5
## minutes; `make bench-cluster CLUSTER_ARGS=--quick`: under a minute).
bench-cluster: $(VENV)/.dev
	$(BIN)/python -m benchmarks cluster $(CLUSTER_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
