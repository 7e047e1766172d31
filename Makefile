# The two commands of the README: `make quickstart` and `make test`. Both install first.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: install quickstart test test-fast lab smoke

# installs the package with its pinned torch, and registers the `ltkit` Jupyter kernel the
# notebooks (and papermill) use
install:
	$(PIP_INSTALL) -e ".[dev]"
	$(PYTHON) -m ipykernel install --user --name ltkit --display-name "Python (ltkit)" >/dev/null

quickstart: install
	$(PYTHON) -m ltkit quickstart --output-dir results/quickstart

test: install
	$(PYTHON) -m pytest

test-fast: install
	$(PYTHON) -m pytest -m "not slow"

lab: install
	$(PYTHON) -m jupyterlab notebooks/

smoke: install
	$(PYTHON) -m ltkit.batch notebooks/recipes/smoke.yaml --report
