# madoguchi — `make run` starts the service on the sample city, `make test` runs the tests.
# Both do all set-up first; every step is skipped when already done.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := run

PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
PY311 ?= $(or $(wildcard $(PYENV_ROOT)/versions/3.11*/bin/python3.11),$(shell command -v python3.11))
PY310 ?= $(or $(lastword $(wildcard $(PYENV_ROOT)/versions/3.10*/bin/python3.10)),$(shell command -v python3.10))
VENV := .venv
RASA_VENV := .venv-rasa
APP := $(VENV)/bin/madoguchi
# No telemetry, no hub downloads, ever.
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export KOKORO_JA_CACHE := $(CURDIR)/var/cache/kokoro
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# PyTorch's CPU build lies on these machines' disk (see requirements/app.lock: torch==…+cpu).
PIP_FIND := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
PIP_QUIET := 2>&1 | { grep -v -E "^WARNING: Location|^$$" || true; }

.PHONY: run test bench lint setup envs models index bot browser browser-apt services-apt clean

run: setup
	$(APP) serve

test: setup browser services-apt
	@set +e; $(VENV)/bin/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

bench: setup
	$(VENV)/bin/python -m bench.run_all

lint: $(VENV)/.installed
	$(VENV)/bin/python -m ruff check retrieval speech adapters tests || true

setup: envs models index bot

envs: $(VENV)/.installed $(RASA_VENV)/.installed

$(VENV)/.installed: requirements/app.lock pyproject.toml
	@test -n "$(PY311)" || { echo "error: Python 3.11 not found (pyenv install 3.11)"; exit 1; }
	$(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install -q --no-deps $(PIP_FIND) -r requirements/app.lock $(PIP_QUIET)
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e . $(PIP_QUIET)
	$(VENV)/bin/pip check
	touch $@

$(RASA_VENV)/.installed: requirements/rasa.lock
	@test -n "$(PY310)" || { echo "error: Python 3.10 not found (pyenv install 3.10)"; exit 1; }
	$(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q --no-deps -r requirements/rasa.lock $(PIP_QUIET)
	$(RASA_VENV)/bin/pip check
	$(RASA_VENV)/bin/rasa telemetry disable >/dev/null 2>&1 || true
	touch $@

models: $(VENV)/.installed
	$(APP) models install

index: $(VENV)/.installed
	$(APP) kb build

bot: envs
	$(APP) bot train

# What the web widget's browser tests need (`make test` only; `make run` does not): Debian's
# Chromium, driven by Playwright from the app lock (never `playwright install`, which
# downloads browsers), a Japanese font so screenshots are readable, and axe-core from npm.
WIDGET_TESTS := tests/adapters/widget
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser: browser-apt $(WIDGET_TESTS)/node_modules/.installed

browser-apt:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	fc-list :lang=ja 2>/dev/null | grep -q . || missing="$$missing fonts-ipafont-gothic"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install$$missing"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(WIDGET_TESTS)/node_modules/.installed: $(WIDGET_TESTS)/package.json $(WIDGET_TESTS)/package-lock.json | browser-apt
	cd $(WIDGET_TESTS) && npm ci --no-audit --no-fund --silent
	touch $@

# What the scale-out tests (tests/scale) start themselves: their own PostgreSQL cluster and
# Redis server on free loopback ports (Debian's packages; no system service is used).
services-apt:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install$$missing"; \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

clean:
	rm -rf var bot/models
