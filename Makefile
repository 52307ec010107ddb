# `make demo`, `make test` and `make bench` build .venv when it is missing and install dunning into it as a user does:
# `pip install .`, not editable, with the tested dependency versions (constraints.txt). They install it again when a
# source file changes, so the tests always run against the installed package (the src/ layout keeps the tree's copy
# out of their way). `make test-lowest` runs the same tests in .venv-lowest, against the lowest versions
# pyproject.toml allows (constraints-lowest.txt), so the lower bounds are tested too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := pyproject.toml constraints.txt $(shell find src -type f -not -path '*/__pycache__/*')

LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed

.PHONY: demo test test-lowest bench clean

$(STAMP): $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt '.[test,bench,postgres,letters]'
	touch $(STAMP)

$(LOWEST_STAMP): $(SOURCES) constraints-lowest.txt
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/pip install --quiet --upgrade pip
	$(LOWEST)/bin/pip install --quiet --constraint constraints-lowest.txt '.[test,postgres,letters]'
	touch $(LOWEST_STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest

test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/overdue.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/campaign.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/letters.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/web.py --workers 1
	$(BIN)/python bench/summary.py

clean:
	rm -rf $(VENV) $(LOWEST) .pytest_cache .hypothesis build
