# The two commands of the quick start: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck browser sandbox js bench clean i18n

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: install sandbox
	$(BIN)/earnest demo

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

# mypy --strict over all of src/earnest (settings: [tool.mypy] in pyproject.toml).
typecheck: install
	$(BIN)/mypy

# The browser tests drive Debian's chromium, never a downloaded browser. Install it where
# we may (root with apt-get); elsewhere they skip, and in CI (CI=true) they fail instead.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
		|| echo "chromium could not be installed: the browser tests will skip (and fail in CI)"; \
	fi

# Bug-bounty reproducers run only inside Debian's bubblewrap (docs/security.md). Install it
# where we may (root with apt-get); elsewhere bug bounties refuse to start, and the sandbox
# tests skip (and fail in CI).
sandbox:
	@if [ ! -x /usr/bin/bwrap ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's bubblewrap for the bug-bounty sandbox"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends bubblewrap >/dev/null; } \
		|| echo "bubblewrap could not be installed: bug bounties will refuse to start"; \
	fi

# Stock Solana JavaScript clients (web3.js 1.x, spl-token, kit) for tests/e2e/test_chain_js.py,
# pinned by tests/js/package-lock.json. Without npm they skip (and fail in CI).
JS := tests/js
js: $(JS)/node_modules/.package-lock.json

$(JS)/node_modules/.package-lock.json: $(JS)/package.json $(JS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd $(JS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the JavaScript client tests will skip (and fail in CI)"; \
	fi

# The pages' languages (docs/web.md, "Languages"): extract every marked string of the
# templates, the pages' Python and the scripts' t("...") into messages.pot, and merge it
# into each catalog (new strings arrive empty, to be translated). The catalogs are read
# from their .po files at run time: there is nothing to compile.
LOCALE_DIR := src/earnest/web/locale
i18n: install
	$(BIN)/pybabel extract -F babel.cfg -k t -k gettext:2 --sort-by-file --no-wrap \
		-o $(LOCALE_DIR)/messages.pot . >/dev/null
	for locale in es pt_BR hi id sw ar; do \
		if [ -f $(LOCALE_DIR)/$$locale/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -l $$locale --no-fuzzy-matching >/dev/null; \
		else \
			$(BIN)/pybabel init -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -l $$locale >/dev/null; \
		fi; \
	done

test: install lint typecheck browser sandbox js
	$(BIN)/python -m pytest -q

# Earnest's online Dawid-Skene against crowd-kit on a synthetic crowd (docs/quality-bench.md).
bench: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	$(BIN)/python bench/aggregation.py

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache $(JS)/node_modules
