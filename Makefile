# The two commands of the README: `make quickstart` and `make test`. Both install first.
# `make lab` opens JupyterLab on notebooks/; `make smoke` runs the smoke batch with its report.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: install quickstart test test-fast lab smoke

# installs the package with its pinned torch, and registers the `ltkit` Jupyter kernel the
# notebooks (and papermill) use
install:
	$(PIP_INSTALL) -e ".[dev]"
	$(PYTHON) -m ipykernel install --user --name ltkit --display-name "Python (ltkit)" >/dev/null

# executes notebooks/quickstart.ipynb headlessly; the executed copy lands beside its results
quickstart: install
	mkdir -p results/quickstart
	$(PYTHON) -m papermill notebooks/quickstart.ipynb results/quickstart/quickstart.ipynb -k ltkit --log-output

test: install
	$(PYTHON) -m pytest

test-fast: install
	$(PYTHON) -m pytest -m "not slow"

# JupyterLab refuses to run as root unless told to (containers, this project's CI machines)
lab: install
	$(PYTHON) -m jupyterlab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

smoke: install
	$(PYTHON) -m ltkit.batch notebooks/recipes/smoke.yaml --report
