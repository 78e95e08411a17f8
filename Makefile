# Fresh machine: `make test` creates .venv, installs the three distributions editable plus the dev tools,
# then runs lint, the strict type check and the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install lint typecheck test test-matrix test-sdk-oldest bench demo clean

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

# Overhead of the instrumentation vs the bare SDK, a hand-made-span floor and peers (DESIGN §9); ~5 minutes.
# Peers install into their own venv (.venv-bench-peers) on first use; `make test` never touches it.
bench: install
	$(BIN)/python benchmarks/bench.py

demo:
	@echo "make demo arrives with the local collector (fallom-otel serve, issue #8); it is not available yet." >&2
	@exit 1

clean:
	rm -rf $(VENV) .venv-* .mypy_cache .pytest_cache .ruff_cache

# The same checks on the oldest and newest supported Pythons (pyenv interpreters), each in its own venv.
MATRIX_PYTHONS ?= 3.10 3.13
test-matrix:
	@for v in $(MATRIX_PYTHONS); do \
	  py=$$(ls -d $$HOME/.pyenv/versions/$$v*/bin/python$$v 2>/dev/null | tail -n1); \
	  test -n "$$py" || py=$$(command -v python$$v); \
	  test -n "$$py" || { echo "python$$v not found" >&2; exit 1; }; \
	  echo "== Python $$v ($$py)"; \
	  $(MAKE) --no-print-directory test PYTHON=$$py VENV=.venv-$$v || exit 1; \
	done
	$(MAKE) --no-print-directory test-sdk-oldest

# The instrumentor tests against the oldest SDK releases we support (`make test` runs the newest ones).
OLDEST_SDKS ?= openai==1.92.0 anthropic==1.0.0
SDK_TESTS   ?= tests/instrumentors tests/test_three_ways_in.py tests/test_client_proxy.py
test-sdk-oldest:
	test -x .venv-sdk-oldest/bin/python || $(PYTHON) -m venv .venv-sdk-oldest
	.venv-sdk-oldest/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	.venv-sdk-oldest/bin/python -m pip install --quiet -e ./semconv -e ./instrumentors -e . --group dev $(OLDEST_SDKS)
	.venv-sdk-oldest/bin/python -m pytest $(SDK_TESTS) $(PYTEST_ARGS)
