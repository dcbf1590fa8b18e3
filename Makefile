# resocket: `make test` and `make demo` set up everything they need on a fresh Debian 12 machine.
# Installs (apt, pip) run outside the network namespace; tests and the demo run inside a private one
# where only loopback exists (tests/netns.sh).

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
NETNS  := tests/netns.sh
JS     := $(shell find extension examples tests/e2e/scenarios host/resocket/data -name '*.js' 2>/dev/null)
PYTEST_ARGS ?=

.PHONY: all deps system-deps test test-js test-py demo bench lint dist fuzz load clean

all: test

WHEELHOUSE := $(VENV)/wheelhouse

deps: system-deps $(STAMP) $(WHEELHOUSE)/.filled

system-deps:
	@tests/system-deps.sh

# Reinstall only when pyproject.toml changes; the package itself is installed editable.
$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test,dist,bench,fast]'
	@touch $@

# resocket's runtime dependencies as wheels (pyproject's list, resolved for this Python): the tests install
# the built wheel into a fresh venv inside the network namespace, where pip resolves the real dependency
# list offline from here (tests/support/packages.py).
$(WHEELHOUSE)/.filled: pyproject.toml | $(STAMP)
	$(VENV)/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' >$(VENV)/runtime-requirements.txt
	$(VENV)/bin/pip download -q --disable-pip-version-check --only-binary=:all: -d $(WHEELHOUSE) -r $(VENV)/runtime-requirements.txt
	@touch $@

# RESOCKET_NO_SKIP: everything the suite needs is installed above, so a skipped test is a failure.
test: deps
	RESOCKET_NO_SKIP=1 $(NETNS) sh -c 'set -e; \
	  if [ -d tests/extension ]; then node --test tests/extension/; fi; \
	  exec $(VENV)/bin/pytest $(PYTEST_ARGS)'

test-py: deps
	$(NETNS) $(VENV)/bin/pytest $(PYTEST_ARGS)

test-js:
	$(NETNS) node --test tests/extension/

demo: deps
	$(NETNS) $(VENV)/bin/python demo/run_demo.py

# Benchmarks: a table on screen and JSON in bench/runs/ (git-ignored), every figure next to a same-run baseline.
# `make bench BENCH_ARGS=--smoke` is the short version CI runs (tests/test_bench_smoke.py).
# The start-up section also times the packaged host: the PyInstaller bundle is built first when missing (~15 s).
bench: deps
	@test -x build/pyinstaller/dist/resocket/resocket-host || $(VENV)/bin/python installer/build.py binaries
	$(NETNS) $(VENV)/bin/python bench/run.py $(BENCH_ARGS)

# The long runs (not in CI): >= 1M fuzz cases per harness (atheris), then the property tests' long profile;
# and the full load test, 1,000 connections each echoing 1 MiB through one host.
fuzz: deps
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[fuzz]'
	$(VENV)/bin/python fuzz/fuzz_framing.py -runs=1000000 -max_len=16384
	$(VENV)/bin/python fuzz/fuzz_protocol.py -runs=1000000 -max_len=16384 fuzz/corpus/protocol
	$(VENV)/bin/python fuzz/fuzz_data_split.py -runs=1000000 -max_len=4096 -dict=fuzz/data_split.dict fuzz/corpus/data_split
	RESOCKET_FUZZ=long $(NETNS) $(VENV)/bin/pytest -q tests/fuzz

load: deps
	RESOCKET_LOAD=full $(NETNS) $(VENV)/bin/pytest -q -s tests/load

dist: deps
	$(VENV)/bin/python installer/build.py all

lint: deps
	$(VENV)/bin/ruff check host tests demo
	@for f in $(JS); do node --check "$$f" || exit 1; done

clean:
	rm -rf $(VENV) build dist test-artifacts .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name '*.egg-info' -type d -prune -exec rm -rf {} +
