# sadari — one-command dev tasks. Quick start: `make run`, `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# People's servers on the embedded default run this environment's Python under their own unix
# accounts, so it must be a Python every user can reach: Debian's (a pyenv build under /root is not)
PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
export SADARI_PROJECT_DIR := $(CURDIR)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help install system-deps run seed test test-serial test-unit test-service test-hub \
        test-postgresql test-sandbox test-labs test-docker test-helm test-browser images lint format \
        bench-spawn bench-exchange bench-autograde bench-select bench-pages clean

help:
	@echo "make run          install, seed the demo cohort, start on http://127.0.0.1:8000"
	@echo "make test         install, lint, types, then every test tier (four lanes side by side)"
	@echo "                  and a table of the tiers: tests, passed/failed/skipped, seconds"
	@echo "make test-unit    the pure core only (seconds)"
	@echo "make test-hub     tests against a real JupyterHub (SQLite and PostgreSQL)"
	@echo "make test-sandbox / test-docker   the grading sandboxes (local; a real Docker engine)"
	@echo "make images       build the container images on the local Docker engine"
	@echo "make bench-spawn  benchmarks/spawn.py: stock JupyterHub vs sadari, 20 spawns each"
	@echo "make bench-exchange  benchmarks/exchange.py: 300 submissions in 30 s vs nbgrader's exchange"

# Debian packages the platform needs: Node.js + npm for the proxy, bubblewrap for the grading
# sandbox, a Docker engine and debootstrap for the container images and the docker grader,
# Chromium and a CJK font for the browser tests (tests/browser: Hangul in the screenshots)
# (PostgreSQL is installed by the test setup when a test needs it; tests start dockerd).
system-deps:
	@command -v npm >/dev/null || { apt-get update -q && apt-get install -y -q nodejs npm; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -q && apt-get install -y -q python3-venv; }
	@command -v bwrap >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -q && apt-get install -y -q bubblewrap; }
	@{ command -v dockerd >/dev/null && command -v debootstrap >/dev/null; } || \
		[ "$$(id -u)" != 0 ] || \
		{ apt-get update -q && apt-get install -y -q docker.io debootstrap; }
	@{ command -v chromium >/dev/null && dpkg -s fonts-noto-cjk >/dev/null 2>&1; } || \
		[ "$$(id -u)" != 0 ] || \
		{ apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk; }

$(BIN)/activate: | system-deps
	$(PYTHON) -m venv $(VENV)

# rfc3987-syntax, uninstalled after the install: jsonschema's optional IRI-format checker (its
# format-nongpl extra, which jupyter-events asks for) compiles a grammar each time jsonschema is
# imported, about 1 s of CPU in every trainee server, hub, service and `sadari` command. Without it
# jsonschema leaves "iri" formats unchecked (no schema sadari or Jupyter validates here uses one).
$(VENV)/.installed: $(BIN)/activate pyproject.toml labs/requirements.txt $(wildcard labs/requirements/*.txt) \
		hub/singleuser/lab-overrides.json
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,postgresql,auth,docker,singleuser,culler]' -r labs/requirements.txt
	$(BIN)/python -m pip uninstall -q -y rfc3987-syntax
	install -D -m 644 hub/singleuser/lab-overrides.json \
		$(VENV)/share/jupyter/lab/settings/overrides.d/sadari.json
	touch $@

node_modules/.installed: package.json package-lock.json | system-deps
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed system-deps

seed: install
	$(BIN)/sadari db upgrade
	$(BIN)/sadari demo seed --week

# the demo `instructor` teaches both demo cohorts (settings: instructor_cohorts)
run: seed
	SADARI_INSTRUCTOR_COHORTS=$${SADARI_INSTRUCTOR_COHORTS-instructor:2026-seoul-1,instructor:2026-busan-1} \
		$(BIN)/sadari run

lint: install
	$(BIN)/ruff check hub graders tests benchmarks images helm
	$(BIN)/ruff format --check hub graders tests benchmarks images helm
	$(BIN)/mypy

# Every tier of tests/support/tiers.py (each test in exactly one), in four lanes side by side; each
# tier's output whole, then the table of tiers and `N passed, N failed, N skipped`. Fails when a
# tier fails. TEST_ARGS go to every pytest run (e.g. TEST_ARGS='-x'); TEST_LOGS keeps each tier's
# log and junit XML in a folder of your choice (default: a new folder under /tmp, printed).
TEST_ARGS ?=
TEST_LOGS ?=
test: install lint
	$(BIN)/python -m tests.support.tiers $(if $(TEST_LOGS),--logs $(TEST_LOGS)) $(TEST_ARGS)

# the same tiers one at a time (slower: to time each tier alone)
test-serial: install
	$(BIN)/python -m tests.support.tiers --serial $(if $(TEST_LOGS),--logs $(TEST_LOGS)) $(TEST_ARGS)

test-unit: install
	$(BIN)/pytest tests/unit

test-service: install
	$(BIN)/pytest tests/service

test-hub: install
	$(BIN)/pytest -m hub

test-postgresql: install
	$(BIN)/pytest -m postgresql

test-sandbox: install
	$(BIN)/pytest -m sandbox

test-labs: install
	$(BIN)/pytest tests/labs

test-helm: install
	$(BIN)/pytest tests/helm

test-browser: install
	$(BIN)/pytest -m browser

test-docker: install
	$(BIN)/pytest -m docker

images: install
	$(BIN)/python images/build.py grader hub lab-data-analysis lab-product-manager lab-azure-ai lab-vision-ai

bench-spawn: install
	$(BIN)/python benchmarks/spawn.py

bench-exchange: install
	$(BIN)/python benchmarks/exchange.py

bench-autograde: install
	$(BIN)/python benchmarks/autograde.py

bench-select: install
	$(BIN)/python benchmarks/selection.py

bench-pages: install
	$(BIN)/python benchmarks/pages.py

format: install
	$(BIN)/ruff format hub graders tests benchmarks images helm
	$(BIN)/ruff check --fix hub graders tests benchmarks images helm

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
