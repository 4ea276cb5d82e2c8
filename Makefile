# Two entry points: `make run` and `make test`. Both create .venv and install the project first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dataexport demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) lint tools/azurite/node_modules/.installed
	$(BIN)/python -m pytest

# Azurite (Azure Storage emulator) for the Azure Blob failure-store tests; without npm those tests skip.
tools/azurite/node_modules/.installed: tools/azurite/package.json tools/azurite/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tools/azurite --no-audit --no-fund && touch $@; \
	else echo "npm not found: the Azure Blob failure-store tests will be skipped"; fi

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
