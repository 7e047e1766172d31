"""MkDocs hooks: the documentation links to the repository's records, and the site carries them.

A page may link to any file of the repository with a relative path (``../results/...`` from
docs/), which also works when the page is read on a forge. At build time each such file is
added to the site under its repository path and the link is rewritten to it, so the site is
self-contained and every link is checked: a link to a file that does not exist fails the build
(``make docs`` builds with --strict). A link to a folder goes to its README.md, or becomes plain
text when it has none.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s#]+)(#[^)\s]*)?(\))")


def _root(config) -> Path:
    return Path(config["docs_dir"]).resolve().parent


def _repo_path(file, root: Path) -> str:
    """Where a site file lives in the repository (docs pages under docs/)."""
    return Path(file.abs_src_path).resolve().relative_to(root).as_posix()


def _target(page_repo_path: str, target: str):
    """The repository path a relative link points to (None: an external or absolute link)."""
    if "://" in target or target.startswith(("/", "mailto:")):
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(page_repo_path), target))


def _site_uri(repo_path: str) -> str:
    return repo_path[len("docs/") :] if repo_path.startswith("docs/") else repo_path


def _resolve(root: Path, repo_path: str):
    """(repo path, is a file) after a folder link is sent to its README.md."""
    path = root / repo_path
    if path.is_dir() and (path / "README.md").is_file():
        return f"{repo_path}/README.md", True
    return repo_path, path.is_file()


def on_files(files, config):
    root = _root(config)
    todo = list(files.documentation_pages())
    while todo:  # a page added from the repository may link to further files
        page = todo.pop()
        here = _repo_path(page, root)
        for m in LINK.finditer(Path(page.abs_src_path).read_text()):
            target = _target(here, m.group(2))
            if target is None or target.startswith("docs/") or target.startswith(".."):
                continue
            target, is_file = _resolve(root, target)
            if is_file and files.get_file_from_path(target) is None:
                added = File(target, str(root), config["site_dir"], config["use_directory_urls"])
                files.append(added)
                if added.is_documentation_page():
                    todo.append(added)
    return files


def on_page_markdown(markdown, page, config, files):
    root = _root(config)
    here = _repo_path(page.file, root)

    def fix(m):
        target = _target(here, m.group(2))
        if target is None:
            return m.group(0)
        if target.startswith(".."):
            raise PluginError(f"{here}: link to {m.group(2)} leaves the repository")
        target, is_file = _resolve(root, target)
        if not is_file:
            if (root / target).is_dir() and not m.group(1).startswith("!"):
                return m.group(1)[1:-2]  # a folder without README.md: keep the text, drop the link
            raise PluginError(f"{here}: link to {m.group(2)}: {target} does not exist in the repository")
        link = posixpath.relpath(_site_uri(target), posixpath.dirname(_site_uri(here)) or ".")
        return m.group(1) + link + (m.group(3) or "") + m.group(4)

    return LINK.sub(fix, markdown)
