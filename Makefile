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

# Three test files at a time (each keeps its own fixtures: --dist loadfile); most of a test's
# time is spent waiting for the upstream's windows, not on the CPU. About 4 minutes on 2 cores.
test: $(INSTALLED) redis-server chromium nginx
	$(BIN)/python -m pytest -n 3 --dist loadfile

# Debian's packages for what the tests start themselves: $(1) the check that it is here, $(2)
# the packages, $(3) what is skipped without them. Installed when root with apt-get; else a warning
# (and CI=true makes the skipped tests fail).
define debian
	@$(1) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's $(2) for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $(2) >/dev/null; \
	  else \
	    echo "WARNING: $(2) missing and cannot be installed here; $(3) will be skipped" \
	      "(CI=true makes them fail)"; \
	  fi; }
endef

# Private redis-servers (a cluster made with redis-cli, TLS with a certificate openssl makes).
redis-server:
	$(call debian,command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
	  && command -v openssl >/dev/null,redis-server redis-tools openssl,the Redis tests)

# The page's tests drive a real browser: Debian's chromium, through Playwright (no download).
chromium:
	$(call debian,command -v chromium >/dev/null,chromium,the browser tests)

# The front for the internet (deploy/nginx/catfacts.conf): its tests start a private nginx, in
# front of a real gunicorn, with a configuration of their own in a temporary folder. Debian's
# package provides /usr/sbin/nginx (and starts no daemon where policy-rc.d forbids it).
nginx:
	$(call debian,command -v nginx >/dev/null || test -x /usr/sbin/nginx,nginx,the nginx tests)

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
