# One obvious way to do each thing. Every target installs what it needs into ./.venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint bench pictures clean redis-server chromium nginx

install: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@# The project itself, editable: the `catfacts` command (serve, and fetch N).
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

run: $(INSTALLED)
	$(BIN)/python -m catfacts

test: $(INSTALLED) redis-server chromium nginx
	$(BIN)/python -m pytest

# The tests start private redis-servers of their own (a cluster made with redis-cli, TLS with a
# certificate openssl makes); Debian's packages provide the binaries.
redis-server:
	@command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
	  && command -v openssl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's redis-server package for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends redis-server redis-tools openssl >/dev/null; \
	  else \
	    echo "WARNING: redis-server is missing and cannot be installed here;" \
	      "the Redis tests will be skipped (CI=true makes them fail)"; \
	  fi; }

# The page's tests drive a real browser: Debian's chromium, through Playwright (no download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium package for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "WARNING: chromium is missing and cannot be installed here;" \
	      "the browser tests will be skipped (CI=true makes them fail)"; \
	  fi; }

# The front for the internet (deploy/nginx/catfacts.conf): its tests start a private nginx, in
# front of a real gunicorn, with a configuration of their own in a temporary folder. Debian's
# package provides /usr/sbin/nginx (and starts no daemon where policy-rc.d forbids it).
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's nginx package for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends nginx >/dev/null; \
	  else \
	    echo "WARNING: nginx is missing and cannot be installed here;" \
	      "the tests of the front for the internet will be skipped (CI=true makes them fail)"; \
	  fi; }

# Spectral (the npm registry's @stoplight/spectral-cli, pinned; the machine's Node.js runs it)
# lints /openapi.json as served without and with API keys: any error or warning fails.
SPECTRAL := @stoplight/spectral-cli@6.16.3

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	mkdir -p build
	$(BIN)/python -c 'import json; from catfacts.settings import Settings; \
	  from catfacts.web.openapi import describe; \
	  json.dump(describe(Settings()), open("build/openapi.json", "w"), indent=1); \
	  json.dump(describe(Settings(api_keys=frozenset({"k"}))), \
	    open("build/openapi-keys.json", "w"), indent=1)'
	npx --yes $(SPECTRAL) lint --ruleset .spectral.yaml --fail-severity warn \
	  build/openapi.json build/openapi-keys.json

bench: $(INSTALLED) redis-server chromium nginx
	$(BIN)/python -m bench

# The README's pictures of the page (docs/*.png), taken by its test after "all three" for 30.
pictures: $(INSTALLED) chromium
	CATFACTS_PICTURES=docs $(BIN)/python -m pytest tests/test_page.py -q -k all_three_for_30

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
