# Two entry points that work on a fresh machine with python3 >= 3.11 and make:
#   make demo   -- sets up .venv, builds a demo fiscal year on the embedded SQLite default (unless
#                  built already with the same seed), then serves the web app at
#                  http://127.0.0.1:8000 in demo mode until Ctrl-C; off a terminal, or with
#                  KASDA_DEMO_SERVE=0, it builds and exits
#   make test   -- sets up .venv, runs ruff, mypy and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-web clean

# The C accelerator of the camt.053 reader is built by pip install -e: a change to it reinstalls.
$(STAMP): pyproject.toml reconciliation/readers/_camt053_scan.c
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kasda needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kasda demo --seed 2026

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ledger.py

bench-web: $(STAMP)
	$(BIN)/python benchmarks/bench_web.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache kasda.db kasda.db-wal kasda.db-shm kasda.db.demo.json
