"""environment.yml (conda) names the packages and pins of pyproject.toml and constraints.txt.

There is no conda on the machines that run the tests, so the file is compared, not built."""

import re
from pathlib import Path

import tomllib
import yaml

REPO = Path(__file__).resolve().parents[1]


def _requirement(text: str):
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", text)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_mirrors_pyproject_and_constraints():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = dict(_requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    pins = dict(
        _requirement(line)
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    wanted.update(pins)  # torch / torchvision: the exact pins CI installs

    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    conda = dict(_requirement(d) for d in deps if isinstance(d, str) and not d.startswith(("python", "pip")))
    pip = [d for d in deps if isinstance(d, dict)]
    assert len(pip) == 1
    pip_lines = pip[0]["pip"]
    assert "-e ." in pip_lines  # the kit itself
    pip_reqs = dict(_requirement(d) for d in pip_lines if d != "-e .")
    listed = {**conda, **pip_reqs}
    assert set(conda) & set(pip_reqs) == set(), "a package listed twice"
    assert listed == wanted, {
        "only in environment.yml": {k: v for k, v in listed.items() if wanted.get(k) != v},
        "missing or different there": {k: v for k, v in wanted.items() if listed.get(k) != v},
    }
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    low = tuple(int(x) for x in re.search(r">=\s*([\d.]+)", project["requires-python"]).group(1).split("."))
    assert tuple(int(x) for x in python.split("=")[1].split(".")) >= low
