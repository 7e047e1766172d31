"""The documentation: the generated configuration page is current, every generated block of the
README and docs is the file it names, the site builds with no warning, a broken link fails the
build, and the README's code runs."""

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


def _blocks_tool():
    from conftest import load_script

    return load_script("tools/docs/blocks.py", "docs_blocks")


def test_every_generated_block_is_the_file_it_names():
    tool = _blocks_tool()
    assert tool.stale() == [], "run: python tools/docs/blocks.py (make tables)"


#: the generated files each page must show: the numbers people read there
SHOWN = {
    "README.md": [
        "results/tables/table3_cifar10.md",
        "results/tables/reproduce.md",
        "results/reference/quickstart/summary.md",
    ],
    "docs/reproduce.md": [
        "results/tables/reproduce.md",
        "results/tables/table3_cifar10.md",
        "results/tables/table3_cifar10_runs.md",
    ],
    "docs/performance.md": [
        "results/benchmarks/cifar_pipeline_cpu_amd_epyc.txt",
        "results/benchmarks/cifar_pipeline_cpu.txt",
        "results/benchmarks/posthoc_sweep_cpu.txt",
        "results/benchmarks/imagenet_pipeline_cpu.txt",
        "results/benchmarks/lvis_eval_cpu.txt",
    ],
    "docs/cifar10_lt_gap.md": [
        "results/tables/jpeg_copy/table3_cifar10.md",
        "results/tables/jpeg_copy/table3_cifar10_runs.md",
        "results/analysis/cifar10_lt_gap/comparisons.md",
        "results/analysis/cifar10_lt_gap/by_data.md",
        "results/analysis/cifar10_lt_gap/per_class.md",
        "results/analysis/cifar10_lt_gap/tde_effect.md",
        "results/analysis/cifar10_lt_gap/best_epoch.md",
    ],
}


@pytest.mark.parametrize("page", sorted(SHOWN))
def test_pages_show_their_numbers_as_generated_blocks(page):
    tool = _blocks_tool()
    shown = [path for path, _ in tool.blocks(ROOT / page)]
    assert set(SHOWN[page]) <= set(shown), (page, shown)


def test_a_stale_or_dangling_block_is_found_and_rewritten(tmp_path):
    tool = _blocks_tool()
    (tmp_path / "docs").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "t.md").write_text("| a |\n|---|\n| 1 |\n")
    (tmp_path / "results" / "r.txt").write_text("# command: x\nrow 1\n")
    page = tmp_path / "README.md"
    page.write_text(
        "# x\n\n<!-- generated from results/t.md -->\n| a |\n|---|\n| 2 |\n<!-- end generated -->\n"
        "hand-written\n<!-- generated from results/r.txt -->\n<!-- end generated -->\n"
    )
    assert tool.stale(tmp_path) == ["README.md: results/t.md", "README.md: results/r.txt"]
    assert tool.sync(page, tmp_path) is True and tool.stale(tmp_path) == []
    text = page.read_text()
    assert "| 1 |" in text and "| 2 |" not in text and "```text\n# command: x\nrow 1\n```\n" in text
    assert tool.without_blocks(text) == "# x\n\n\nhand-written\n\n"
    page.write_text("<!-- generated from results/gone.md -->\n<!-- end generated -->\n")
    with pytest.raises(FileNotFoundError, match="results/gone.md"):
        tool.stale(tmp_path)


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


def test_the_method_notes_print_the_paper_s_numbers_as_the_package_ships_them():
    """docs/method.md 4b transcribes the paper's Tables 2-5; ltkit/paper/numbers.csv is what the
    tables compare with. Each table's numbers must be the same (as multisets: the two name rows
    differently)."""
    from ltkit.report.tables import paper_numbers

    text = (ROOT / "docs" / "method.md").read_text()
    section = text[text.index("### 4b.") : text.index("## 5.")]
    paper = paper_numbers()
    for table in ("table2", "table3", "table4", "table5"):
        n = table[-1]
        title = f"**Table {n}" if n != "5" else "**Table 5 (supplementary)"
        part = section[section.index(title) :]
        rows = [line for line in part.split("\n\n")[1].splitlines() if line.startswith("| ") and "---" not in line][1:]
        shown = sorted(float(c) for r in rows for c in r.strip("| ").split(" | ") if re.fullmatch(r"\d+\.\d", c))
        assert shown == sorted(paper[paper.table == table].value.round(1).tolist()), table
