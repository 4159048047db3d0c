# Two commands do everything on a machine that has only Python 3.11+:
#   make run   - start the whole system with a demo neighbourhood
#   make test  - run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test unit integration e2e browser screenshots lint bench bench-dispatch bench-dispatch-day bench-search chaos soak docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/linli up $(ARGS)

# The end-to-end and browser tests mostly wait (for events, browsers, restarts) while unit and
# integration tests mostly compute, so three parts run side by side, each on an embedded stack of
# its own: the end-to-end tests over HTTP and Kafka here; the browser tests with the API fuzzing, and
# the unit and integration tests, in the background (parts of about equal length), their reports
# printed after; any part failing fails the run.
test: install lint
	@dir=$$(mktemp -d); \
	( $(PY) -m pytest tests/unit tests/integration -p no:cacheprovider $(PYTEST_ARGS) > $$dir/unit-and-integration 2>&1; echo $$? > $$dir/unit-and-integration.rc ) & \
	( $(PY) -m pytest tests/e2e/browser tests/e2e/test_fuzz.py -p no:cacheprovider $(PYTEST_ARGS) > $$dir/browser-and-fuzz 2>&1; echo $$? > $$dir/browser-and-fuzz.rc ) & \
	$(PY) -m pytest tests/e2e --ignore=tests/e2e/browser --ignore=tests/e2e/test_fuzz.py $(PYTEST_ARGS); echo $$? > $$dir/e2e.rc; wait; \
	failed=0; for part in browser-and-fuzz unit-and-integration; do echo "--- $$part ---"; cat $$dir/$$part; done; \
	for part in e2e browser-and-fuzz unit-and-integration; do [ "$$(cat $$dir/$$part.rc)" = 0 ] || { echo "make test: the $$part tests failed"; failed=1; }; done; \
	rm -rf $$dir; exit $$failed

unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: install
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

e2e: install
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

browser: install
	$(PY) -m pytest tests/e2e/browser $(PYTEST_ARGS)

# Refresh docs/screenshots/ from a real run of the browser tests.
screenshots: install
	LINLI_SCREENSHOTS=1 $(PY) -m pytest tests/e2e/browser $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check shared services bench tests
	$(VENV)/bin/ruff format --check shared services bench tests
	$(VENV)/bin/mypy shared services bench

bench: install  # no ARGS: the sweep (demo off and on); ARGS="--start --orders N --rate R": one fixed run
	$(PY) -m bench.place_orders $(ARGS)

bench-dispatch: install  # every scenario x 10 seeds, both policies; JSON + PNG in bench/results
	$(PY) -m bench.dispatch_scenarios $(ARGS)

bench-dispatch-day: install  # one simulated day, both policies (ARGS="--riders 6 --seed 7")
	$(PY) -m bench.dispatch_day $(ARGS)

bench-search: install
	$(PY) -m bench.search $(ARGS)

# Not part of `make test`: a fault drill (under 10 min) and a soak (default 30 min) on stacks of their own.
chaos: install  # ARGS="--rate 20 --write-docs docs/operations.md"
	$(PY) -m bench.chaos $(ARGS)

soak: install  # ARGS="--minutes 30 --rate 50"
	$(PY) -m bench.soak $(ARGS)

docs: install
	$(VENV)/bin/linli docs asyncapi

clean:
	rm -rf $(VENV) .linli .pytest_cache .mypy_cache .ruff_cache
