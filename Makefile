# sansfilm: the two commands of the README are `make demo` and `make test`; each installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
INSTALLED := $(VENV)/.installed
# Debian packages the test suite needs (installed when run as root): PostgreSQL for the ledger's production path,
# Chromium for the dashboards' end-to-end tests; Orthanc (+ its DICOMweb plugin) and dcmtk's storescu for the orthanc
# source's tests, nginx for the dashboards behind a TLS proxy; the tests run their own servers on free loopback ports
# (the distributions' services are stopped after installing).
SYSTEM_PACKAGES := postgresql chromium orthanc orthanc-dicomweb dcmtk nginx
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: demo test lint format dev screenshots bench install system-deps lock clean

demo: install  ## Sample corpus -> harvest -> warehouse -> drafts, then the dashboards on http://127.0.0.1:8501 (Ctrl-C)
	$(VENV)/bin/sansfilm demo

test: install system-deps lint  ## Ruff (lint, format check), then the whole test suite
	$(VENV)/bin/python -m pytest -n auto --durations=30  # a worker more than cores (tests/conftest.py); the slowest 30 listed

lint: install  ## Ruff: the lint rules and the format, checked (pyproject.toml [tool.ruff]); `make format` fixes
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install  ## Ruff: sort the imports and format the code in place
	$(VENV)/bin/ruff check --select I --fix .
	$(VENV)/bin/ruff format .

dev: install  ## Dagster UI on http://127.0.0.1:3000 for ./sansfilm.toml
	$(VENV)/bin/sansfilm demo --dagster

screenshots: install system-deps  ## The e2e test (every page of every role, Chromium) -> build/screenshots/ -> docs/screenshots/
	$(VENV)/bin/python -m pytest tests/dashboards/test_e2e.py -p no:xdist -q -k every_page_in_french
	$(VENV)/bin/python -m tests.dashboards.screenshots

bench: install  ## The harvest benchmark; bench/metering.py, orthanc.py, dashboards.py: see docs/benchmarks.md
	$(VENV)/bin/python bench/harvest.py

install: $(INSTALLED)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Bytecode compiled at install: an environment with PYTHONDONTWRITEBYTECODE set (the build machine's is) would otherwise compile
# every library from source in each new process (~10 s of dbt, Great Expectations and Dagster per `sansfilm` command).
$(INSTALLED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

system-deps:
	@if [ -z "$(SYSTEM_PACKAGES)" ]; then exit 0; fi; \
	missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
			&& { service postgresql stop >/dev/null 2>&1 || true; } \
			&& { service orthanc stop >/dev/null 2>&1 || true; } \
			&& { service nginx stop >/dev/null 2>&1 || true; }; \
	else \
		echo "not root: install these Debian packages first: $$missing" >&2; exit 1; \
	fi

lock: | $(UV)  ## Re-resolve uv.lock after changing pyproject.toml
	$(UV) lock --python $(PYTHON)

clean:
	rm -rf $(VENV) $(TOOLS) .dagster data/warehouse data/ledger.sqlite data/samples/warehouse data/lake data/samples/lake
