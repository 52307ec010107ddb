# `make demo`, `make test` and `make bench` build .venv when it is missing and install dunning into it as a user does:
# `pip install .`, not editable, with the tested dependency versions (constraints.txt). They install it again when a
# source file changes, so the tests always run against the installed package (the src/ layout keeps the tree's copy
# out of their way).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := pyproject.toml constraints.txt $(shell find src -type f -not -path '*/__pycache__/*')

.PHONY: demo test bench clean

$(STAMP): $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt '.[test,bench,postgres]'
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
	rm -rf $(VENV) .pytest_cache .hypothesis build
