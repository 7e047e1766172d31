# The two commands of the README: `make quickstart` and `make test`. Both install first.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: install quickstart test test-fast

install:
	$(PIP_INSTALL) -e ".[dev]"

quickstart: install
	$(PYTHON) -m ltkit quickstart --output-dir results/quickstart

test: install
	$(PYTHON) -m pytest

test-fast: install
	$(PYTHON) -m pytest -m "not slow"
