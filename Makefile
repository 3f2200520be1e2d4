# syncsafe — every target creates .venv and installs what it needs on first use.
# Needs only Python 3.10+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HYPOTHESIS_PROFILE ?= ci

.DEFAULT_GOAL := help
.PHONY: help demo test lint typecheck unit bench bench-quick docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
	  || { echo "syncsafe needs Python 3.10 or newer as $(PYTHON)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# One stamp per set of extras; re-installs when pyproject.toml changes.
$(VENV)/.stamp-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@
$(VENV)/.stamp-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,lint]'
	@touch $@
$(VENV)/.stamp-demo: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	@touch $@
$(VENV)/.stamp-docs: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[docs]'
	@touch $@

demo: $(VENV)/.stamp-demo  ## replay every incident, buggy vs fixed, on embedded data (and a real etcd)
	$(BIN)/syncsafe demo

lint: $(VENV)/.stamp-test  ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.stamp-test  ## mypy --strict over src, tests and benchmarks
	$(BIN)/mypy

unit: $(VENV)/.stamp-test  ## the test suite with branch coverage, gated
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest --hypothesis-profile=$(HYPOTHESIS_PROFILE) $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: lint typecheck unit bench-quick  ## lint, type-check, run the tests and every benchmark once

bench: $(VENV)/.stamp-test  ## every benchmark suite against its peer; JSON in .benchmarks/
	SYNCSAFE_BENCH_FULL=1 $(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-only \
	  --benchmark-autosave --benchmark-columns=min,median,mean,ops,rounds
	$(PY) -m benchmarks.summary .benchmarks

bench-quick: $(VENV)/.stamp-test  ## run every benchmark once, untimed, so none can rot
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-disable -q

docs: $(VENV)/.stamp-docs  ## build the docs site strictly into site/
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:  ## remove the virtualenv and build products
	rm -rf $(VENV) site .coverage .coverage.* .pytest_cache .mypy_cache .ruff_cache .benchmarks
