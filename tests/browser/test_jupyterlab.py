"""The quickstart notebook in JupyterLab, driven by headless Chromium the way a person uses it.

Run by ``make test-browser`` (tools/install/install_browser.sh installs Debian's chromium and the
Playwright package; no browser build is downloaded); ``make test`` leaves this folder out.
JupyterLab serves a copy of ``notebooks/`` from a temp folder (so autosave cannot write outputs
into the committed notebooks), on 127.0.0.1 with a token. The test opens quickstart.ipynb, checks
the kernel is "Python (ltkit)", sets a 2-epoch run in the parameters cell, runs the first cells,
checks the table and the figures they put on the page, and saves a screenshot
(``$LTKIT_BROWSER_OUT``, default ``build/browser``).
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import playwright.sync_api as playwright  # the `browser` extra; make test-browser installs it
import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("LTKIT_BROWSER_OUT", REPO / "build" / "browser"))
CHROMIUM = os.environ.get("LTKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
START_S, RUN_S = 120, 600  # JupyterLab start; the quickstart cell (two 2-epoch trainings)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url, token, root) of a JupyterLab serving root / a copy of notebooks/; stopped afterwards."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=",
        "--LabServerApp.open_browser=False",
    ]
    if os.getuid() == 0:
        cmd.append("--allow-root")  # CI machines and containers run as root
    log = open(root / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
            break
        except OSError:
            assert proc.poll() is None, (root / "jupyterlab.log").read_text()
            assert time.monotonic() < deadline, f"JupyterLab did not answer in {START_S} s"
            time.sleep(0.5)
    yield base, token, root
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def page(lab):
    assert CHROMIUM, "no chromium on PATH: tools/install/install_browser.sh installs Debian's package"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield pg
        browser.close()


def _cell(page, i):
    return page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell").nth(i)


def _run_cell(page, i, count, timeout_s):
    """Select cell ``i``, Shift+Enter it and wait for its prompt to read ``[count]:`` (the
    kernel's execution count: it has finished); its output area."""
    cell = _cell(page, i)
    cell.locator(".jp-InputPrompt").click()  # command mode on this cell, without editing it
    page.keyboard.press("Shift+Enter")
    playwright.expect(cell.locator(".jp-InputPrompt")).to_have_text(f"[{count}]:", timeout=timeout_s * 1000)
    return cell.locator(".jp-OutputArea")


def test_quickstart_runs_in_jupyterlab(lab, page):
    base, token, root = lab
    OUT.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base}/lab/tree/notebooks/quickstart.ipynb?token={token}", timeout=START_S * 1000)
    panel = page.locator(".jp-NotebookPanel:visible")
    playwright.expect(panel.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=START_S * 1000)
    # the kernel the notebook asks for, registered by `make install`, started and idle
    playwright.expect(panel.locator(".jp-KernelName")).to_have_text("Python (ltkit)", timeout=60_000)
    playwright.expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
        "data-status", "idle", timeout=START_S * 1000
    )

    # the parameters cell, as a person would set it: 2 epochs instead of the presets' 40
    params = _cell(page, 1)
    assert "parameters" in (params.get_attribute("class") or "") or "output_dir" in params.inner_text()
    params.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text('output_dir = "results/quickstart"\nepochs = 2\nseed = 0\ndevice = "cpu"')
    page.keyboard.press("Escape")
    _run_cell(page, 1, 1, 60)
    out = _run_cell(page, 2, 2, RUN_S)
    assert "Traceback" not in out.inner_text(), out.inner_text()
    table = out.locator("table")
    playwright.expect(table).to_be_visible()
    header, *rows = [line.split("\t") for line in table.inner_text().strip("\n").splitlines()]
    assert header[1:6] == ["method", "many", "medium", "few", "overall"], header
    assert [r[1] for r in rows] == ["Baseline (linear)", "De-confound", "De-confound-TDE"], rows
    # the page shows what the run wrote: summary.csv in the output_dir, rounded as the cell rounds it
    import pandas as pd

    written = pd.read_csv(root / "notebooks" / "results" / "quickstart" / "summary.csv")
    for r, (_, w) in zip(rows, written.iterrows()):
        shown, saved = [float(x) for x in r[2:6]], [float(w[k]) for k in ("many", "medium", "few", "overall")]
        assert all(abs(a - b) <= 0.051 for a, b in zip(shown, saved)), (shown, saved)  # one decimal on the page
    # the figures cell: two PNGs on the page
    figures = _run_cell(page, 4, 3, 60)
    playwright.expect(figures.locator("img")).to_have_count(2)
    assert all(figures.locator("img").nth(k).evaluate("img => img.naturalWidth") > 100 for k in range(2))
    news = page.get_by_role("button", name="No")  # JupyterLab's "notified about news?" toast
    if news.count():
        news.first.click()
    page.screenshot(path=str(OUT / "quickstart.png"), full_page=True)
    assert (OUT / "quickstart.png").stat().st_size > 10_000
