"""The package as a user installs it: a wheel, installed non-editable in a fresh virtualenv,
carries the paper's numbers and regenerates the tables from a results folder."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


@pytest.mark.slow
def test_an_installed_wheel_builds_the_tables_from_a_results_folder(tmp_path):
    dist, venv, out = tmp_path / "dist", tmp_path / "venv", tmp_path / "tables"
    # --no-isolation: the setuptools already installed, no download; the build folder is git-ignored
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = dist.glob("ltkit-*.whl")
    # the dependencies come from this environment; ltkit itself only from the wheel (the editable
    # install's finder comes after the venv's own site-packages on the import path)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import sys, ltkit; from ltkit.report.writers import write_tables; "
        "print(ltkit.__file__); write_tables(sys.argv[1], sys.argv[2])"
    )
    done = subprocess.run(
        [str(python), "-c", code, str(REPO / "results" / "reproductions"), str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.split()[0]).is_relative_to(venv), done.stdout  # the installed copy, not the checkout
    for name in ("table3.md", "table3_cifar10.md", "table2.md"):
        assert (out / name).read_text() == (REPO / "results" / "tables" / name).read_text(), name


def test_license_and_citation_agree_with_the_package():
    import tomllib
    import yaml

    import ltkit

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["version"] == ltkit.__version__ and cff["license"] == "MIT"
    paper = cff["preferred-citation"]
    assert [a["family-names"] for a in paper["authors"]] == ["Tang", "Huang", "Zhang"] and paper["year"] == 2020
