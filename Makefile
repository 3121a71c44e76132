# opi: the two set-up commands are `make install` and `make test` (see README.md).
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install test lint typecheck check bench demo clean

install:
	$(PIP) install --upgrade pip >/dev/null
	$(PIP) install -e ".[dev]"

test:
	lint-imports
	$(PYTHON) -m pytest -q -n 2 --dist loadgroup

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
