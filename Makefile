# `make run` and `make test` are all the set-up a fresh machine needs (Python >= 3.11 with pip).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CONFIG ?= config/pipeline.toml

.PHONY: run test lint sample bench-ingest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/dpt run --config $(CONFIG)

# The suite on every core (pytest-xdist; a test file stays on one worker, so its module fixtures run once).
test: $(STAMP)
	$(PY) -m pytest -n auto --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check dpt_pipeline tests benchmarks
	$(VENV)/bin/mypy dpt_pipeline

# Regenerate the committed sample data (deterministic for a given seed).
sample: $(STAMP)
	$(VENV)/bin/dpt sample --out sample_data --voters 5000 --seed 20261128

bench-ingest: $(STAMP)
	$(PY) benchmarks/bench_ingest.py --voters 1000000

clean:
	rm -rf $(VENV) reports/dpt.duckdb reports/*.json
