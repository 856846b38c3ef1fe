# Two entry points, both doing the whole set-up on a fresh clone:
#   make demo   create .venv, install, run the offline demo
#   make test   create .venv, install, lint, type-check and run the tests
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.anypix-installed

.PHONY: setup demo test lint pytest bench clean

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/anypix demo

lint: setup
	$(PY) -m ruff check anypix tests benchmarks
	$(PY) -m mypy

# pytest exits 5 when it collects no tests; that is not a failure of the suite.
pytest: setup
	@$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; rc=0; fi; exit $$rc

test: lint pytest

bench: setup
	for b in startup memory engine binding planner fidelity; do \
	  [ -f benchmarks/$$b.py ] && $(PY) benchmarks/$$b.py; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
