"""Keep the generated blocks of the README and the docs equal to the files they come from.

A page shows a generated file between two markers::

    <!-- generated from results/tables/table3_cifar10.md -->
    ...the file's text, as it is (a .txt file inside a ```text fence)...
    <!-- end generated -->

The path is relative to the repository root. The tables, records and benchmark files are written by
code (``write_tables``, the benchmark scripts, the tools under ``tools/``), so a page that shows
them this way shows numbers that a test can tie to their records.

    python tools/docs/blocks.py           # rewrite every stale block
    python tools/docs/blocks.py --check   # list the stale blocks and exit 1 if there are any
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
#: the pages that may hold generated blocks
PAGES = ("README.md", "docs/*.md")
#: a block: the two markers, each at the start of a line
BLOCK = re.compile(
    r"^(?P<open><!-- generated from (?P<path>\S+) -->\n)(?P<body>.*?)^(?P<close><!-- end generated -->)",
    re.DOTALL | re.MULTILINE,
)


def pages(root: Path = ROOT) -> List[Path]:
    return sorted(p for pattern in PAGES for p in root.glob(pattern))


def rendered(path: str, root: Path = ROOT) -> str:
    """What a block showing ``path`` holds: the file's text, fenced when it is plain text."""
    source = root / path
    if not source.is_file():
        raise FileNotFoundError(f"a generated block names {path}, which does not exist under {root}")
    text = source.read_text().rstrip("\n") + "\n"
    return f"```text\n{text}```\n" if source.suffix == ".txt" else text


def blocks(page: Path) -> Iterator[Tuple[str, str]]:
    """(path, shown text) of each generated block of a page."""
    for m in BLOCK.finditer(page.read_text()):
        yield m.group("path"), m.group("body")


def without_blocks(text: str) -> str:
    """A page's text with its generated blocks taken out: what people wrote by hand."""
    return BLOCK.sub("", text)


def sync(page: Path, root: Path = ROOT) -> bool:
    """Rewrite a page's stale blocks; whether anything changed."""
    text = page.read_text()
    new = BLOCK.sub(lambda m: m.group("open") + rendered(m.group("path"), root) + m.group("close"), text)
    if new != text:
        page.write_text(new)
    return new != text


def stale(root: Path = ROOT) -> List[str]:
    """``page: path`` for every block that differs from its file."""
    return [
        f"{page.relative_to(root)}: {path}"
        for page in pages(root)
        for path, body in blocks(page)
        if body != rendered(path, root)
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only list the stale blocks (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for line in found:
            print(f"stale generated block: {line}", file=sys.stderr)
        if found:
            print("run: python tools/docs/blocks.py", file=sys.stderr)
        return 1 if found else 0
    for page in pages():
        if sync(page):
            print(f"updated {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
