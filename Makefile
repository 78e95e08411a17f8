# Fresh machine: `make test` creates .venv, installs the three distributions editable plus the dev tools,
# then runs lint, the strict type check and the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install lint typecheck test check demo clean

$(STAMP): pyproject.toml instrumentors/pyproject.toml semconv/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ./semconv -e ./instrumentors -e . --group dev
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo:
	@echo "make demo arrives with the local collector (fallom-otel serve, issue #8); it is not available yet." >&2
	@exit 1

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
