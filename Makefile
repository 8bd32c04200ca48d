# Each target installs what it needs: a fresh machine runs `make demo` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint bench clean

# pytest-xdist workers for `make test` (auto: one per core). Each worker keeps
# torch to one thread, so that two workers do not fight over two cores.
TEST_WORKERS ?= auto

DOCCANO := .doccano/venv/bin/doccano

setup: $(STAMP) $(DOCCANO)

# Reinstall when the dependencies change. torch==2.13.0 resolves to the CPU
# wheel these machines keep on disk (pip's find-links). pip warns once per
# package about a missing local index folder: noise, filtered.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/pip install --disable-pip-version-check -q -e ".[dev]" 2>&1 \
	  | { grep -v "^WARNING: Location '.*' is ignored" || true; }
	touch $@

# doccano runs from a venv of its own (its pins clash with ours); built once,
# here, so that `doccano up` in the demo and the tests only starts the server.
$(DOCCANO): | $(STAMP)
	$(BIN)/conflict-ner doccano install

# The whole job, as project.yml's `all` workflow; doccano is stopped even when a step fails.
demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m weasel run all; \
	status=$$?; $(BIN)/conflict-ner doccano down >/dev/null 2>&1; exit $$status

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -ra -n $(TEST_WORKERS) --dist loadgroup

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# Benchmarks (figures and reading in docs/benchmarks.md); the full sizes take
# about an hour on 2 cores. `make bench BENCH_QUICK=1` runs small sizes.
bench: setup
	$(BIN)/python benchmarks/inference.py $(if $(BENCH_QUICK),--words 2000 --repeats 1)
	$(BIN)/python benchmarks/doccano_io.py $(if $(BENCH_QUICK),--sizes 20 100)
	$(BIN)/python benchmarks/training.py \
	  $(if $(BENCH_QUICK),--steps 6 --eval-frequency 3 --dev-limit 20)

clean:
	rm -rf $(VENV) training/model-* evaluate/*/ corpus/*.spacy corpus/folds
