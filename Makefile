# Set-up on a fresh machine needs Python 3.11 and nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test evaluate benchmark clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/drywallqa predict examples --prompt "segment crack" --prompt "segment taping area" --out out/demo --overlay

test: $(STAMP)
	$(BIN)/python -m pytest

# Accuracy and speed of the shipped model on the full published valid and group-clean test splits
# (needs ../shared/datasets); writes out/benchmark/report.{json,md}, examples.png and bar.md.
benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py --out out/benchmark

clean:
	rm -rf out .cache .pytest_cache
