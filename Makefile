# Cluster Ledger — everything a fresh machine needs, from the standard library's venv and pip.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/cluster-ledger
STAMP  := $(VENV)/.installed

.PHONY: install system-deps run serve test test-unit test-browser lint bench bench-quick clean-data help

help:
	@echo "make run    - install, migrate, load demo data (empty store only), serve on 127.0.0.1:8000"
	@echo "make test   - install, lint (ruff + mypy), run the whole test suite"
	@echo "make test-browser - only the browser tests (headless chromium)"
	@echo "make system-deps  - Debian's chromium and a CJK font for the browser tests (as root)"
	@echo "make bench  - benchmarks (bench/results/); make bench-quick for a smoke run"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's chromium (Playwright's own browser download does not work
# offline) and need a CJK font, or Chinese renders as empty boxes in screenshots.
SYSTEM_PACKAGES := chromium fonts-wqy-microhei
CHROMIUM        := /usr/bin/chromium
CJK_FONT        := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
APT_INSTALL     := apt-get install -y --no-install-recommends $(SYSTEM_PACKAGES)

system-deps:
	@if [ -x $(CHROMIUM) ] && { [ -f $(CJK_FONT) ] || fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei"; }; then \
		exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "The browser tests need Debian's chromium and the WenQuanYi Micro Hei font."; \
		echo "Install them as root, then run make again:"; \
		echo "    sudo apt-get update && sudo $(APT_INSTALL)"; \
		exit 1; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-cache show $(SYSTEM_PACKAGES) >/dev/null 2>&1 || apt-get update -q; \
	$(APT_INSTALL)

run: install
	$(CLI) migrate
	$(CLI) demo
	$(CLI) serve

serve: install
	$(CLI) serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: install system-deps lint
	$(PY) -m pytest

test-browser: install system-deps
	$(PY) -m pytest tests/browser

test-unit: install
	$(PY) -m pytest tests/unit

bench: install
	$(PY) -m bench.run

bench-quick: install
	$(PY) -m bench.run --quick

clean-data:
	rm -rf var/pgdata
