# Amaan. `make help` lists the targets; CI runs `make test` through .ci/run.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
TRAINING_DATA := data/nlu/en data/nlu/ar data/rules data/stories
export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
# TensorFlow's numerics: repeatable trainings on one machine (bot/numerics.py says what they do and do not do).
export ONEDNN_MAX_CPU_ISA := AVX2
export TF_ENABLE_ONEDNN_OPTS := 0
export TF_NUM_INTRAOP_THREADS := 2
export TF_NUM_INTEROP_THREADS := 2

# Read deployment settings (channel tokens, keys) from .env when present; the environment wins.
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' .env)
endif

.PHONY: help setup train run cluster test eval bench bench-scale lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

CHROMIUM := /usr/bin/chromium

setup: $(VENV)/.installed node_modules/.installed ## create .venv with Python 3.10 and the pinned dependencies; npm ci

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@PY310=$$(scripts/find-python310.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	  rm -rf $(VENV); echo "Creating $(VENV) with $$PY310"; $$PY310 -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade "pip<25" wheel
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip check
	@touch $@

# The web widget's socket.io-client and the browser tests' axe-core, exactly as package-lock.json says.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The browser tests drive Debian's Chromium (Playwright cannot download its own browsers here).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

train: setup ## train a model unless one is cached for this config, domain and data
	$(PY) -m bot train

run: train ## start the assistant: REST on http://localhost:$${PORT:-5005}/webhooks/rest/webhook
	$(PY) -m bot run

INSTANCES ?= 2
cluster: train ## INSTANCES=N Rasa and action servers, the console, HAProxy in front (docs/SCALING.md)
	$(PY) -m bot cluster --instances $(INSTANCES)

test: train $(CHROMIUM) ## validate data, run the pytest suite (browser tests too) and the test stories; starts Redis/PostgreSQL if none answers
	$(PY) -m rasa data validate --config config.yml --domain domain.yml --data $(TRAINING_DATA)
	$(PY) -m bot check-content
	$(PY) -m pytest
	$(PY) -m rasa test core --stories tests/stories --model "$$($(PY) -m bot model-path)" \
	  --fail-on-prediction-errors --out .run/story-results

eval: train ## figures and gates on the evaluation sets (tests/nlu); fails when a gate does not hold
	$(PY) -m bot eval --quiet --json docs/figures/eval.json

bench: train ## load test over REST against a `rasa init` baseline bot, with ratios
	$(PY) bench/run.py

bench-scale: train ## 1 and 2 Rasa servers behind HAProxy, one core each: throughput, p50/p95, efficiency, bursts, lock waits; README figures
	$(PY) bench/scale.py

lint: setup ## ruff (lint and format) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean: ## remove the virtualenv and run files (cached models stay in ~/.cache/amaan)
	rm -rf $(VENV) node_modules .run .pytest_cache .mypy_cache
