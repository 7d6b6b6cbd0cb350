# Two commands on a fresh machine (Python 3.11+ and git): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
# Test processes: most tests wait on gunicorn, Redis and the simulator rather than compute, so
# twice this machine's cores keeps both busy (pytest-xdist; override with PYTEST_WORKERS=n).
PYTEST_WORKERS ?= $(shell echo $$(( $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) * 2 )))

.PHONY: run test static-checks all-tests coverage test-fast lint typecheck check bench drill drill-short clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

RUN_STAMP := $(VENV)/.installed-run

# `make run` installs only what serving needs; `make test` adds the test extras.
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	PORT=$(PORT) $(BIN)/bcapp dev wsgi:app

# Lint and types run beside the tests (two jobs): either failing fails `make test`.
test: $(STAMP)
	@$(MAKE) --no-print-directory -j2 static-checks all-tests

static-checks: $(STAMP)
	$(BIN)/ruff check bcapp tests benchmarks examples wsgi.py gunicorn.conf.py
	$(BIN)/mypy bcapp benchmarks
	$(BIN)/lint-imports --no-cache

# worksteal: an idle process takes queued tests from a busy one, so the few long tests
# (make run cycles, browsers, gunicorn) do not leave the others waiting at the end.
all-tests: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

# The same suite with branch coverage of bcapp (about a fifth slower: kept out of `make test`).
coverage: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --cov --cov-report=term-missing:skip-covered

# The quick lane while working: no lint, no coverage, no test marked `slow` (real servers,
# gunicorn, Sentinel, Cluster, browsers). `make test` runs everything and is what CI runs.
test-fast: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check bcapp tests benchmarks examples wsgi.py gunicorn.conf.py
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy bcapp benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Failure drills under steady load (docs/operations.md): the Sentinel master killed, the broker
# stopped (Redis, then RabbitMQ when 127.0.0.1:5672 answers), a task worker killed mid-handler.
# `drill` prints the table (a few minutes); `drill-short` is CI's form (.ci/run), seconds per fault.
drill: $(STAMP)
	$(BIN)/python -m benchmarks.drills

drill-short: $(STAMP)
	$(BIN)/python -m benchmarks.drills --short

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
