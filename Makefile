# Two entry points: `make test` and `make demo`. Both bootstrap .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit contract bench lock clean prometheus wheels

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

# tests/prometheus run a real Prometheus: install the Debian package when root, else say how.
prometheus:
	@if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing prometheus (Debian package) for tests/prometheus"; \
		(apt-get update -q && apt-get install -y -q --no-install-recommends prometheus) \
			|| echo "WARNING: could not install prometheus; tests/prometheus will fail" >&2; \
	else \
		echo "WARNING: prometheus/promtool not found; tests/prometheus will fail. Install with:" >&2; \
		echo "  sudo apt-get install -y --no-install-recommends prometheus" >&2; \
	fi

unit: $(STAMP) prometheus
	$(BIN)/pytest -q -p no:cacheprovider -n 3 --dist worksteal

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/ensign demo

bench: $(STAMP)
	$(BIN)/python bench/localcluster.py

# dist/: the operator wheel (what the Dockerfile installs: no local cluster, no test kits) and
# ensign-local (the local cluster, test kits, demo, sandbox; `pip install 'ensign[local]'`).
wheels: $(STAMP)
	$(BIN)/hatchling build -t wheel -d dist
	cd packaging/local && ../../$(BIN)/hatchling build -t wheel -d ../../dist

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra aws -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
