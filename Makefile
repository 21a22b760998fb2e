# The two quickstart commands, `make run` and `make test`, set up their own environment.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NPM_STAMP := tests/npm/node_modules/.installed

.PHONY: run test lint typecheck generated-check pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

# The npm reference MCP servers the suite runs; no lock file is kept (versions are pinned exactly).
$(NPM_STAMP): tests/npm/package.json
	npm install --prefix tests/npm --no-audit --no-fund --no-package-lock --loglevel=error
	touch $(NPM_STAMP)

run: $(STAMP)
	$(BIN)/mcp-bridge serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy
	cd generated/python && ../../$(BIN)/mypy --strict mcp_bridge_client
	cd generated/server && ../../$(BIN)/mypy --strict mcp_bridge_server

# The checked-in generated/ tree must be exactly what the spec generates.
generated-check: $(STAMP)
	$(BIN)/mcp-bridge generate --check

# Two workers, one per core of the machines we run on; each test file goes whole to one worker
# (--dist loadfile), so a module's fixtures (servers, bridges, clusters) are made once. Files are
# handed out in collection order (not xdist's largest-first), so the tracing tests, collected
# last (tests/conftest.py), run last on their worker.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder
pytest: $(STAMP) $(NPM_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck generated-check pytest

# Bridge vs direct SDK session vs mcpo, one table plus extras (over half an hour, see README; BENCH_ARGS=--quick for ~2 min).
# It installs mcpo into bench/.venv-mcpo itself; see bench/README.md.
.PHONY: bench
bench: $(STAMP) $(NPM_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
