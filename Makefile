# Mairie 4.0. The two commands of the README:
#   make run    install, migrate SQLite, load the demo commune, start every process (Ctrl-C stops them)
#   make test   install, lint, type-check, run the whole suite on SQLite and then on PostgreSQL
# Other targets: make bench, make lock, make screenshot, make clean.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mairie-installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_WORKERS ?= 2
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# Browser tests need no second database engine: they run in the SQLite pass only.
PG_PYTEST_ARGS ?= -m "not browser"
# pytest-django would prefer a DJANGO_SETTINGS_MODULE from the shell over pyproject.toml: drop it.
PYTEST_ENV := env -u DJANGO_SETTINGS_MODULE
PYTEST_CMD := $(BIN)/python -m pytest -q -r fEs

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck test-sqlite test-postgres bench screenshot lock clean

help:
	@echo "make run     start Mairie 4.0 with demo data on http://localhost:$(PORT)"
	@echo "make test    lint, type-check and run the whole test suite (SQLite, then PostgreSQL)"
	@echo "make bench   measure throughput, page weight and booking under concurrency (docs/performance.md)"

# The virtualenv is (re)installed only when the lock or pyproject.toml changes.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Mairie 4.0 needs Python 3.11 or newer ($(PYTHON) is older)."; exit 1; }
	@PYTHON=$(PYTHON) bin/prepare-machine venv
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

run: $(STAMP)
	@PYTHON=$(BIN)/python bin/prepare-machine run
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py run_platform --demo --host $(HOST) --port $(PORT)

test: $(STAMP)
	@PYTHON=$(BIN)/python bin/prepare-machine test
	@# -k: a lint or type error does not hide the test results; make still fails at the end.
	$(MAKE) --no-print-directory -k lint typecheck test-sqlite test-postgres

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that is a failure here, said out loud.
# Browser tests run in a pytest process of their own: Playwright's sync API leaves an event loop running in
# its worker, and the asyncio tests (Channels consumers) that follow there would fail.
test-sqlite: $(STAMP)
	@echo "== pytest on SQLite =="
	@$(PYTEST_ENV) -u MAIRIE_TEST_DATABASE_URL $(PYTEST_CMD) -n $(PYTEST_WORKERS) -m "not browser" || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest ran no test: failing."; exit $$rc; }
	@echo "== browser tests (Chromium, axe-core) on SQLite =="
	@$(PYTEST_ENV) -u MAIRIE_TEST_DATABASE_URL $(PYTEST_CMD) -n $(PYTEST_WORKERS) -m browser || { rc=$$?; [ $$rc -eq 5 ] && echo "pytest ran no test: failing."; exit $$rc; }

test-postgres: $(STAMP)
	@echo "== pytest on PostgreSQL ($(PG_TEST_URL)) =="
	@if [ -n "$$MAIRIE_SKIP_POSTGRES" ]; then echo "MAIRIE_SKIP_POSTGRES is set: PostgreSQL pass skipped."; exit 0; fi; \
	$(PYTEST_ENV) MAIRIE_TEST_DATABASE_URL=$(PG_TEST_URL) $(PYTEST_CMD) -n $(PYTEST_WORKERS) $(PG_PYTEST_ARGS) \
		|| { rc=$$?; [ $$rc -eq 5 ] && echo "pytest ran no test: failing."; exit $$rc; }

bench: $(STAMP)
	@PYTHON=$(BIN)/python bin/prepare-machine bench
	$(BIN)/python bench/run.py
	$(BIN)/python bench/booking_last_seats.py
	$(BIN)/python bench/homecare_bridge.py
	$(BIN)/python bench/numeripole.py

screenshot: $(STAMP)
	$(BIN)/python bench/screenshot.py

# Regenerates requirements.lock from a fresh virtualenv (after changing dependencies in pyproject.toml).
lock:
	rm -rf /tmp/mairie-lockvenv
	$(PYTHON) -m venv /tmp/mairie-lockvenv
	/tmp/mairie-lockvenv/bin/pip install --quiet -e '.[dev]'
	/tmp/mairie-lockvenv/bin/pip freeze --exclude-editable > requirements.lock
	rm -rf /tmp/mairie-lockvenv

clean:
	rm -rf $(VENV) var/static build *.egg-info src/*.egg-info
