# Cluster Ledger — everything a fresh machine needs, from the standard library's venv and pip.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/cluster-ledger
STAMP  := $(VENV)/.installed

.PHONY: install run serve test test-unit lint bench bench-quick clean-data help

help:
	@echo "make run    - install, migrate, load demo data (empty store only), serve on 127.0.0.1:8000"
	@echo "make test   - install, lint (ruff + mypy), run the whole test suite"
	@echo "make bench  - benchmarks (bench/results/); make bench-quick for a smoke run"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(CLI) migrate
	$(CLI) demo
	$(CLI) serve

serve: install
	$(CLI) serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: install lint
	$(PY) -m pytest

test-unit: install
	$(PY) -m pytest tests/unit

bench: install
	$(PY) -m bench.run

bench-quick: install
	$(PY) -m bench.run --quick

clean-data:
	rm -rf var/pgdata
