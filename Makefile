# `make run` and `make test` each bootstrap .venv from a fresh clone (python3, make and apt only).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-tools lint typecheck unit bench clean

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
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# tests/e2e drives the real program in tmux: install it with apt when missing (as root, or
# through sudo). `make run` does not need it.
test-tools:
	@command -v tmux >/dev/null 2>&1 || { \
	  echo "tmux not found (tests/e2e need it): installing it with apt-get"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=; \
	  elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else echo "make: tmux is missing and this is not root and there is no sudo:" \
	    "install tmux (apt-get install tmux), then run make test again" >&2; exit 1; fi; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; \
	  command -v tmux >/dev/null 2>&1 || { echo "make: could not install tmux" \
	    "(apt-get install tmux failed, see above); tests/e2e need it" >&2; exit 1; }; }

test: lint typecheck test-tools
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/sampler.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
