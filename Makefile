# `make run` and `make test` each bootstrap .venv from a fresh clone (python3, make and apt only).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tui-monitor

lint: $(STAMP)
	$(BIN)/ruff format --check tui_monitor tests bench
	$(BIN)/ruff check tui_monitor tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/sampler.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
