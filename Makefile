# Two commands: `make run` sets up and runs the hub; `make test` sets up and runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint conformance bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hub serve

lint: $(STAMP)
	$(BIN)/ruff check .

# Conformance first, so the run closes on pytest's summary line.
test: $(STAMP) lint
	bash .ci/services.sh
	bash .ci/conformance-hub.sh
	$(BIN)/python -m pytest -q

conformance: $(STAMP)
	bash .ci/conformance-hub.sh

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) .hub
