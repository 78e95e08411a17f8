# Fresh machine: `make test` creates .venv, installs the three distributions editable plus the dev tools,
# then runs lint, the strict type check and the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install lint typecheck test test-matrix test-sdk-oldest bench demo browser clean
.PHONY: test-peers test-single-sdk

$(STAMP): pyproject.toml instrumentors/pyproject.toml semconv/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ./semconv -e ./instrumentors -e '.[collector]' --group dev
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The collector's browser test drives Debian's chromium through Playwright (never a downloaded browser). Installed
# here when missing and we are root with apt (CI); otherwise that one test is skipped and says why.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser test"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "note: $(CHROMIUM) is missing and cannot be installed here (not root with apt): the browser test will skip" >&2; fi; }

# Overhead of the instrumentation vs the bare SDK, a hand-made-span floor and peers (DESIGN §9); ~5 minutes.
# Peers install into their own venv (.venv-bench-peers) on first use; `make test` never touches it.
bench: install
	$(BIN)/python benchmarks/bench.py

# Starts the local collector, runs a short traced app (simulated providers unless OPENAI_API_KEY / ANTHROPIC_API_KEY
# are set), prints the calls table and the viewer URL; keeps serving the viewer when run from a terminal
# (DEMO_ARGS=--no-wait exits right away, DEMO_ARGS=--wait always serves).
DEMO_ARGS ?=
demo: install
	$(BIN)/fallom-otel demo $(DEMO_ARGS)

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
	$(MAKE) --no-print-directory test-single-sdk
	$(MAKE) --no-print-directory test-peers

# The instrumentor tests against the oldest SDK releases we support (`make test` runs the newest ones).
OLDEST_SDKS ?= openai==1.92.0 anthropic==1.0.0
SDK_TESTS   ?= tests/instrumentors tests/test_three_ways_in.py tests/test_client_proxy.py
test-sdk-oldest:
	test -x .venv-sdk-oldest/bin/python || $(PYTHON) -m venv .venv-sdk-oldest
	.venv-sdk-oldest/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	.venv-sdk-oldest/bin/python -m pip install --quiet -e ./semconv -e ./instrumentors -e . --group dev $(OLDEST_SDKS)
	.venv-sdk-oldest/bin/python -m pytest $(SDK_TESTS) $(PYTEST_ARGS)

# Zero code with only one provider SDK installed (anthropic, no openai): fallom_anthropic loads, fallom_openai is
# skipped quietly. A venv of its own (no dev group: it would bring openai), reused through its stamp.
SINGLE_SDK_VENV ?= .venv-single-sdk
$(SINGLE_SDK_VENV)/.installed-stamp: pyproject.toml instrumentors/pyproject.toml semconv/pyproject.toml
	test -x $(SINGLE_SDK_VENV)/bin/python || $(PYTHON) -m venv $(SINGLE_SDK_VENV)
	$(SINGLE_SDK_VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(SINGLE_SDK_VENV)/bin/python -m pip install --quiet -e ./semconv -e ./instrumentors -e . \
	  "anthropic>=1.0" pytest pytest-asyncio pytest-timeout opentelemetry-proto
	touch $@
test-single-sdk: $(SINGLE_SDK_VENV)/.installed-stamp
	FALLOM_REQUIRE_SINGLE_SDK=1 $(SINGLE_SDK_VENV)/bin/python -m pytest -p no:cacheprovider \
	  tests/zero_code/test_single_sdk.py $(PYTEST_ARGS)

# Coexistence with the other OpenAI instrumentors (OpenTelemetry's official ones, OpenLLMetry's, OpenInference's),
# with opentelemetry-distro, and with the httpx instrumentor on an openai release that still sends through httpx
# (2.x; 3.x uses httpx2). Test-only packages, in a venv of their own reused through its stamp; FALLOM_REQUIRE_PEERS=1
# turns a missing peer into a failure instead of a skip.
PEERS_VENV ?= .venv-peers
# (opentelemetry-instrumentation-openai-v2 is left out: its latest release fails to import next to the util-genai
# that opentelemetry-instrumentation-genai-openai requires; the distro test covers its entry point.)
PEER_PACKAGES ?= "openai>=2,<3" opentelemetry-distro opentelemetry-instrumentation-httpx \
  opentelemetry-instrumentation-genai-openai opentelemetry-instrumentation-openai openinference-instrumentation-openai
$(PEERS_VENV)/.installed-stamp: pyproject.toml instrumentors/pyproject.toml semconv/pyproject.toml
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(PEERS_VENV)/bin/python -m pip install --quiet -e ./semconv -e ./instrumentors -e . --group dev $(PEER_PACKAGES)
	touch $@
test-peers: $(PEERS_VENV)/.installed-stamp
	FALLOM_REQUIRE_PEERS=1 $(PEERS_VENV)/bin/python -m pytest -p no:cacheprovider tests/peers $(PYTEST_ARGS)
