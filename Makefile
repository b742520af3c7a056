# reconnect-pbx developer commands. `make test` is what CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest
STAMP := $(VENV)/.installed

.PHONY: setup system-packages test test-unit test-integration test-web test-e2e coverage demo demo-stop sandbox-up sandbox-down check-migrations clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: system-packages $(STAMP)

# Debian packages the sandbox and the tests use (Asterisk itself comes in a cached chroot).
system-packages:
	@scripts/install-system-packages

# The suite runs in TEST_WORKERS processes (pytest-xdist), each with its own Asterisk sandbox,
# database, `serve`, web server and browser; a test module runs whole in one of them, in order.
# Modules go out in the order given: the end-to-end ones (the slowest: real-time calls) first,
# the quick ones fill the end. `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 3
PARALLEL = -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

test: setup
	$(PYTEST) -q $(PARALLEL) tests/e2e tests/web tests/integration tests/unit

test-unit: $(STAMP)
	$(PYTEST) -q tests/unit

test-integration: $(STAMP)
	$(PYTEST) -q tests/integration

# The staff web application: route x role table, and a real Chromium against `reconnect-pbx web`.
test-web: setup
	$(PYTEST) -q tests/web

test-e2e: setup
	$(PYTEST) -q $(PARALLEL) tests/e2e

# Line coverage of reconnect_pbx, per package, over unit + integration + e2e (every `serve` and CLI
# process the tests start measures itself: tests/coverage/sitecustomize.py). No threshold.
# A subset: `make coverage COVERAGE_TESTS="tests/unit tests/integration"`.
COVERAGE_TESTS ?= tests/e2e tests/web tests/integration tests/unit
COVERAGE_DATA := $(CURDIR)/.coverage-data
coverage: setup
	rm -rf $(COVERAGE_DATA) && mkdir -p $(COVERAGE_DATA)/saved
	-COVERAGE_PROCESS_START=$(CURDIR)/setup.cfg COVERAGE_FILE=$(COVERAGE_DATA)/coverage \
	COVERAGE_SAVED_DIR=$(COVERAGE_DATA)/saved PYTHONPATH=$(CURDIR)/tests/coverage \
		$(PYTEST) -q $(PARALLEL) $(COVERAGE_TESTS)
	COVERAGE_FILE=$(COVERAGE_DATA)/coverage $(BIN)/coverage combine -q $(COVERAGE_DATA)
	COVERAGE_FILE=$(COVERAGE_DATA)/coverage $(BIN)/coverage json -q -o $(COVERAGE_DATA)/coverage.json
	$(BIN)/python scripts/coverage-by-package $(COVERAGE_DATA)/coverage.json

# Fails when the models and the migrations disagree (run on a throwaway database).
check-migrations: $(STAMP)
	$(BIN)/python tests/pg.py check-migrations

# PostgreSQL, the Asterisk sandbox (carrier simulator + pbx), `serve`, and a demo person.
demo: setup
	$(BIN)/reconnect-pbx demo up

demo-stop: $(STAMP)
	$(BIN)/reconnect-pbx demo down

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .coverage-data
