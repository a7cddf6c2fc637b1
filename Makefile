# Quick start: `make demo` (set up .venv, run the demo) and `make test` (set up .venv, run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(if $(wildcard ../shared/data),../shared/data,)
DOMAINS := $(wildcard domains/*/pyproject.toml)
EXTRAS_graphs := [molecules]# RDKit: SMILES input and ESOL

.PHONY: setup demo test test-all lint bench clean

$(BIN)/ssmkit: Makefile pyproject.toml $(DOMAINS) plugins/template/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e plugins/template $(foreach d,$(DOMAINS),-e "$(dir $(d))$(EXTRAS_$(notdir $(patsubst %/,%,$(dir $(d)))))")
	touch $(BIN)/ssmkit

setup: $(BIN)/ssmkit

demo: setup
	$(BIN)/ssmkit demo $(if $(DATA_DIR),--data-dir $(DATA_DIR),)

# the tests spread over up to 4 processes (pytest-xdist; worksteal balances the long console-script tests):
# on 2 CPU cores 15 minutes instead of 23 in one process
test: setup
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist worksteal

test-all: setup
	$(BIN)/python -m pytest -q -m "not gpu"

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python benchmarks/cpu_selective_scan.py

clean:
	rm -rf $(VENV) build dist *.egg-info runs
