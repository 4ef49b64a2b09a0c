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

# Tests drive real programs: tmux (tests/e2e), and whatever else a line below names. Each
# word is COMMAND:DEBIAN-PACKAGE; a missing command is installed with apt (as root, or through
# sudo). `make run` needs none of them.
TEST_TOOLS := \
	tmux:tmux \
	promtool:prometheus \
	sshd:openssh-server \
	ssh:openssh-client \
	chromium:chromium

test-tools:
	@missing=; for pair in $(TEST_TOOLS); do \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v "$${pair%%:*}" >/dev/null 2>&1 || \
	    missing="$$missing $${pair#*:}"; done; \
	[ -z "$$missing" ] && exit 0; \
	echo "installing with apt-get (the tests need them):$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	else echo "make: missing$$missing, this is not root and there is no sudo:" \
	  "install them (apt-get install$$missing), then run make test again" >&2; exit 1; fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  $$missing >/dev/null || { echo "make: apt-get install$$missing failed (see above)" >&2; \
	  exit 1; }

test: lint typecheck test-tools
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/sampler.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
