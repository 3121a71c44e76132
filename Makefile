# opi: the two set-up commands are `make install` and `make test` (see README.md).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
# One pytest worker per core plus one: many tests wait on a child process or a terminal,
# and the extra worker fills those waits (2 cores: 3 workers, ~160 s; 2 workers took ~200 s).
TEST_WORKERS ?= $(shell expr $$(nproc 2>/dev/null || echo 1) + 1)

.PHONY: install test lint typecheck check bench demo clean

install:
	$(PIP) install --upgrade pip >/dev/null
	$(PIP) install -e ".[dev]"

test:
	lint-imports
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

lint:
	$(PYTHON) -m ruff check opi_cli tests benchmarks examples
	lint-imports

typecheck:
	$(PYTHON) -m mypy

check: lint typecheck test

bench:
	$(PYTHON) benchmarks/run_all.py

demo:
	$(PYTHON) -m tests.demo

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache
