# Two commands matter: `make run` and `make test`. Everything else is a convenience.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
TS     := clients/typescript
EXECUTABLE := dist/kata-providers/kata-providers
SOURCES := $(shell git ls-files service adapters contracts packaging 2>/dev/null) pyproject.toml

.PHONY: run test test-ts startup-check overhead-check chaos chaos-short dist demo bench bench-peers soak fuzz fmt openapi lock clean

# Installs come from the lock files (exact versions, hashes checked); `make lock` refreshes them
# from pyproject.toml's ranges.
$(BIN)/python:
	@echo "==> creating $(VENV) (a virtual environment for the daemon)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	@echo "==> installing the pinned dependencies (the first time takes a minute or two)"
	$(BIN)/python -m pip install --progress-bar off --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	@echo "==> installing the pinned dependencies and the test tools (a few minutes the first time)"
	$(BIN)/python -m pip install --progress-bar off --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed  ## start the daemon in the foreground (ARGS="--port 8765" to pass flags)
	$(BIN)/kata-providers serve $(ARGS)

demo: $(VENV)/.installed  ## the daemon against built-in fake providers: no account needed
	$(BIN)/kata-providers serve --demo $(ARGS)

test: $(VENV)/.installed-dev  ## lint, format check, types, the whole suite, then the TypeScript client's
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest
	$(MAKE) test-ts
	$(MAKE) startup-check
	$(MAKE) overhead-check
	$(MAKE) chaos-short

# The shell's TypeScript client (clients/typescript, its own lock), built with tsc and tested with
# Node's test runner against the real daemon: from source, in front of the fakes, and as built
# by `make dist`.
$(TS)/node_modules/.installed: $(TS)/package-lock.json
	@echo "==> installing the TypeScript client's pinned tools (npm ci)"
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-ts: $(VENV)/.installed-dev $(TS)/node_modules/.installed $(EXECUTABLE)  ## the TypeScript client's tests
	cd $(TS) && KATA_TEST_PYTHON=$(abspath $(BIN)/python) KATA_DIST_EXECUTABLE=$(abspath $(EXECUTABLE)) npm test

# The chaos run (tests/chaos): the daemon, supervised by the TypeScript client, in front of fakes
# that inject faults, under waves of executions, SDK clients and event subscribers, with limits
# changed, keys deleted, budgets crossed and the daemon killed (-9); it checks the invariants
# and exits non-zero on any violation. `make chaos SECONDS=3600 SEED=7` reproduces any run; it
# runs from source, then as built by `make dist`. `make test` runs 60 s from source, seed 1.
SECONDS ?= 600
SEED ?= 1
chaos: $(VENV)/.installed-dev $(TS)/node_modules/.installed $(EXECUTABLE)  ## the long chaos run (SECONDS, SEED)
	cd $(TS) && npm run build --silent
	$(BIN)/python -m tests.chaos.run --seconds $(SECONDS) --seed $(SEED) --daemon source --report artifacts/chaos-source.json
	$(BIN)/python -m tests.chaos.run --seconds $(SECONDS) --seed $(SEED) --daemon dist --report artifacts/chaos-dist.json

chaos-short: $(VENV)/.installed-dev $(TS)/node_modules/.installed
	cd $(TS) && npm run build --silent
	$(BIN)/python -m tests.chaos.run --seconds 60 --seed 1 --daemon source --report artifacts/chaos-short.json

# Start-up as the shell sees it (tests/bench/startup.py): spawn -> first answer from source and as
# built, in every mode, as a ratio to a bare `python -c pass` in the same run; fails when a ratio
# grows by more than 50 % over the one recorded in tests/bench/startup.json.
startup-check: $(VENV)/.installed-dev $(EXECUTABLE)  ## the start-up regression check (make test runs it)
	$(BIN)/python -m tests.bench.startup --check --json artifacts/startup.json

# The hot path's cost (tests/bench/overhead_check.py): the added p50 of /v1/executions and the
# compatible routes, both providers, as a ratio to the naive wrapper's in the same run; fails
# when a ratio grows by more than 15 % over the one recorded in tests/bench/overhead.json.
overhead-check: $(VENV)/.installed-dev  ## the hot path's regression check (make test runs it)
	$(BIN)/python -m tests.bench.overhead_check --check --json artifacts/overhead.json

# A wheel, and a folder that runs the daemon with no Python installed (PyInstaller; rebuilt when
# the code changes). Ship the folder with the desktop app and spawn dist/kata-providers/kata-providers.
$(EXECUTABLE): $(VENV)/.installed-dev $(SOURCES)
	@echo "==> building the self-contained daemon (PyInstaller, about a minute and a half)"
	rm -rf dist/kata-providers
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller packaging/kata-providers.spec
	touch $@

dist: $(EXECUTABLE)  ## dist/: a wheel and the self-contained executable folder
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w dist .
	@du -sh dist/kata-providers dist/*.whl

bench: $(VENV)/.installed-dev $(EXECUTABLE)  ## the benchmark: daemon vs raw HTTP, the SDK and a naive wrapper, start-up and memory from source and as built, and what prompt caching saves an agent loop
	$(BIN)/python -m tests.bench.run --dist
	$(BIN)/python -m tests.bench.startup --soak 10000 --json artifacts/startup.json
	$(BIN)/python -m tests.bench.cache_loop --json artifacts/cache_loop.json

bench-peers: $(VENV)/.installed-dev $(EXECUTABLE)  ## the same, plus the Portkey gateway (npm) and LiteLLM proxy (pip) in artifacts/peers
	$(BIN)/python -m tests.bench.run --peers --dist

soak: $(VENV)/.installed-dev  ## 100 concurrent streamed executions for 60 s
	$(BIN)/python -m tests.bench.soak --concurrency 100 --seconds 60

# Schemathesis (every check, every route) and the hostile-input fuzzing, seed after seed from
# SEED with 200 examples each, until SECONDS are up; a failure stops it (the seed reproduces it).
fuzz: $(VENV)/.installed-dev  ## the long fuzzing run (SECONDS, SEED)
	$(BIN)/python -m tests.fuzz_run --seconds $(SECONDS) --seed $(SEED)

fmt: $(VENV)/.installed-dev  ## format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: | $(BIN)/python  ## refresh requirements.lock and requirements-dev.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal --python-version 3.11 -q -o requirements-dev.lock

openapi: $(VENV)/.installed $(TS)/node_modules/.installed  ## regenerate the OpenAPI document and the TypeScript types
	$(BIN)/kata-providers openapi > openapi/openapi.json
	cd $(TS) && npm run generate --silent

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
