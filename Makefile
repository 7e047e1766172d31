# The README's commands: `make install`, `make quickstart`, `make test` (each installs first),
# `make lint` and `make docs`.
# `make lab` opens JupyterLab on notebooks/; `make smoke` runs the smoke batch with its report.
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: install install-lvis quickstart test test-fast test-browser lint docs tables lab smoke

# installs the package with its pinned torch, and registers the `ltkit` Jupyter kernel the
# notebooks (and papermill) use
install:
	$(PIP_INSTALL) -e ".[dev]"
	$(PYTHON) -m ipykernel install --user --name ltkit --display-name "Python (ltkit)" >/dev/null

# the LVIS side (ltkit.detection): builds mmcv-full 1.7.2 from its sdist once (about 10-13 min on
# 2 cores, C++20 for torch's headers) into ~/.cache/ltkit/wheels, then installs that wheel with
# the `lvis` extra; later runs reuse the cached wheel and take seconds
install-lvis: install
	wheel=$$(PYTHON=$(PYTHON) tools/install/build_mmcv_full.sh) && $(PIP_INSTALL) "$$wheel" -e ".[dev,lvis]"

# executes notebooks/quickstart.ipynb headlessly; the executed copy lands beside its results
quickstart: install
	mkdir -p results/quickstart
	$(PYTHON) -m papermill notebooks/quickstart.ipynb results/quickstart/quickstart.ipynb -k ltkit --log-output

# everything, the LVIS tests included (LTKIT_REQUIRE_DETECTION makes a missing mmdet an error)
test: install-lvis
	LTKIT_REQUIRE_DETECTION=1 $(PYTHON) -m pytest

# JupyterLab as people use it: headless Chromium opens notebooks/quickstart.ipynb, checks the
# kernel is "Python (ltkit)", runs the first cells and checks the page; screenshot in build/browser/
test-browser: install
	$(PIP_INSTALL) -e ".[dev,browser]"
	tools/install/install_browser.sh
	LTKIT_BROWSER_TESTS=1 $(PYTHON) -m pytest tests/browser

# ruff: the lint rules and the formatting of pyproject.toml's [tool.ruff]; `ruff format .` fixes the latter
lint: install
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

# the documentation site (MkDocs, mkdocs.yml) into build/site; --strict: a warning or a broken link fails
docs: install
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict

# after a record is kept: the tables from the committed records, the gap analysis's tables, the
# reproduce table, then every generated block of the README and docs/ (tools/docs/blocks.py)
tables:
	$(PYTHON) -c "from ltkit.report import write_tables; write_tables('results/reproductions', 'results/tables'); write_tables('results/analysis/cifar10_lt_jpeg', 'results/tables/jpeg_copy')"
	$(PYTHON) tools/analysis/gap_tables.py
	$(PYTHON) tools/docs/reproduce_table.py
	$(PYTHON) tools/docs/blocks.py

test-fast: install
	$(PYTHON) -m pytest -m "not slow"

# JupyterLab refuses to run as root unless told to (containers, this project's CI machines)
lab: install
	$(PYTHON) -m jupyterlab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

smoke: install
	$(PYTHON) -m ltkit.batch notebooks/recipes/smoke.yaml --report
