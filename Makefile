# `make demo`, `make test` and `make bench` build .venv when it is missing (or pyproject.toml changed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/overdue.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/campaign.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/summary.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
