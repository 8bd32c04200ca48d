# Each target installs what it needs: a fresh machine runs `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# Reinstall when the dependencies change. torch==2.13.0 resolves to the CPU
# wheel these machines keep on disk (pip's find-links).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/conflict-ner ingest seeds/ --out corpus/articles.jsonl --splits corpus/splits.json
	$(BIN)/conflict-ner validate corpus/gold.jsonl

test: setup
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -ra

lint: setup
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) training/model-* evaluate/*/ corpus/*.spacy corpus/folds
