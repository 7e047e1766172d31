"""The documentation: the generated configuration page is current, the site builds with no
warning, a broken link fails the build, and the README's code runs."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_page_is_generated_from_the_schemas():
    done = subprocess.run(
        [sys.executable, "tools/docs/config_page.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _mkdocs(cwd, site):
    pytest.importorskip("mkdocs")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_site_builds_with_no_warning(tmp_path):
    done = _mkdocs(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        tmp_path / "site" / "results" / "reference" / "quickstart" / "shot_accuracy.png"
    ).is_file()  # linked records ship
    assert "causal_norm_logits" in (tmp_path / "site" / "api" / "index.html").read_text()  # the API from docstrings


@pytest.mark.parametrize("link", ["nope.md", "../results/nope.csv"])
def test_a_broken_link_fails_the_build(tmp_path, link):
    (tmp_path / "docs").mkdir()
    shutil.copytree(ROOT / "tools" / "docs", tmp_path / "tools" / "docs")
    (tmp_path / "docs" / "index.md").write_text(f"# x\n\n[a link]({link})\n")
    config = (ROOT / "mkdocs.yml").read_text()
    config = re.sub(r"nav:\n(  - .*\n)+", "nav:\n  - Home: index.md\n", config)
    config = re.sub(r"  - mkdocstrings:\n(      .*\n|          .*\n|        .*\n)+", "", config)
    (tmp_path / "mkdocs.yml").write_text(config)
    done = _mkdocs(tmp_path, tmp_path / "site")
    assert done.returncode != 0 and "nope" in done.stderr


def test_the_readme_s_tde_example_runs():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Use TDE in your own model") :]
    code = section[section.index("```python") + len("```python") : section.index("```", section.index("```python") + 9)]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["logits"].shape == (8, 10) and scope["loss"].item() > 0
    assert scope["moving_average"].mean.abs().sum() > 0  # the update moved it
