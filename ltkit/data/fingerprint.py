"""Which data a run trained on, named by content: the ``data`` block of ``run.json``.

A folder name says little: ``data/cifar10`` is the official release for a user who ran
``--download`` and the team's JPEG copy on a machine that made it from the shared zip. So every
loader hashes what it decoded, and the run writes that hash into its record:

* ``fingerprint``: SHA-256 over the decoded arrays in file order (for each: a name, the dtype,
  the shape, then the bytes). The same pixels and labels give the same fingerprint whatever files
  carried them (other pickle keys, other batch sizes: tests/test_data_identity.py), so the
  release read from the python version and from ``tools/data/cifar10_binary_to_batches.py``'s pickles
  of the binary version is meant to be one content. Another order of the same images is another
  fingerprint (the seed draws another subset from it).
  List-file datasets (ImageNet-LT, Places-LT) hash their list files' lines, not the images.
* ``content``: the name of a known content (``KNOWN_CONTENT``), or ``"unknown copy"``;
  ``known_release`` says whether it is a published release. The synthetic set's fingerprint is
  that of its generator's settings (each seed draws its own images, as each seed draws its own
  CIFAR subset; their hash is ``subset.images_sha256``).
* ``subset``: the long-tailed training subset the seed drew: per-class counts and a SHA-256 of
  the sorted training indices into the full training split.

Tables pool only runs whose data has the same :func:`label` (``ltkit.report.tables.compare_table``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterable, Mapping, Sequence, Tuple

import numpy as np

from .datasets import DATASETS

#: fingerprint -> (name shown in tables, whether it is a published release). Each was computed
#: once from the data named (tools/records/data_block.py --fingerprint prints a folder's); the releases'
#: are dataset traits (``ltkit.data.datasets``).
KNOWN_CONTENT: Dict[str, Tuple[str, bool]] = {
    # the published releases, from the dataset registry
    **{fp: (name, True) for d in DATASETS.values() for fp, name in d.releases.items()},
    # the team's copy: ../shared/data/cifar10-jpeg.zip through ../shared/tools/cifar10_jpeg_to_batches.py
    "sha256:6c933e12b0a3587180b7f9db0fa0f3bbc461ec2858489932df3b133ea125423c": ("CIFAR-10 JPEG copy q75", False),
    # the gap analysis: the release's pixels in the JPEG copy's order (--order-like), and the JPEG
    # copy re-encoded at quality 50 (tools/data/reencode_cifar.py --quality 50)
    "sha256:7347f3bc46eca61dd2115b42ab9d67a8b81bf48ebfe7ea78adeb7a09036ea696":
        ("CIFAR-10 official release, JPEG copy's order", False),
    "sha256:ae093bcb4517895ee0d12079d325a4de25b93f0428b5ebf44daa1292d0af6ef8": ("CIFAR-10 JPEG copy q50", False),
}

UNKNOWN = "unknown copy"
#: the label of a record written before runs named their data
NO_BLOCK = "data unknown"


def fingerprint(arrays: Iterable[Tuple[str, np.ndarray]]) -> str:
    """``"sha256:<hex>"`` over named arrays in order: each name, dtype, shape and C-order bytes."""
    h = hashlib.sha256()
    for name, a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{name}|{a.dtype.str}|{','.join(map(str, a.shape))}|".encode())
        h.update(memoryview(a).cast("B"))
    return "sha256:" + h.hexdigest()


def lines_fingerprint(named_lines: Iterable[Tuple[str, Sequence[str]]]) -> str:
    """``"sha256:<hex>"`` over named lists of text lines (a list-file dataset's split lists)."""
    h = hashlib.sha256()
    for name, lines in named_lines:
        h.update(f"{name}|{len(lines)}|".encode())
        for line in lines:
            h.update(line.rstrip("\r\n").encode() + b"\n")
    return "sha256:" + h.hexdigest()


def indices_sha256(indices: Sequence[int]) -> str:
    """SHA-256 of training indices, sorted, as little-endian int64."""
    return hashlib.sha256(np.sort(np.asarray(indices, dtype="<i8")).tobytes()).hexdigest()


def data_block(dataset: str, root: str, fp: str, train_counts: Sequence[int], indices: Sequence[int] | None,
               content: str = UNKNOWN) -> Dict[str, Any]:
    """The ``data`` block of a run record (module docstring). ``indices``: the subset's indices into
    the full training split, or None where the training split is the whole of it. ``content``:
    what to call data that no ``KNOWN_CONTENT`` entry names (default "unknown copy")."""
    name, release = KNOWN_CONTENT.get(fp, (content, False))
    subset: Dict[str, Any] = {"counts": [int(c) for c in train_counts]}
    subset["indices_sha256"] = indices_sha256(indices) if indices is not None else None
    return {"dataset": dataset, "root": str(root), "fingerprint": fp, "content": name, "known_release": release,
            "subset": subset}


def label(block: Mapping[str, Any] | None) -> str:
    """How a table names the data of a record's ``data`` block: the known content's name (looked
    up now, so a record written before its content was registered gets the name), else its own
    ``content`` with the first 12 hex digits of the fingerprint (``unknown copy 1a2b...``: two
    unknown copies stay apart), or ``data unknown`` for a record without a block."""
    if not block or not block.get("fingerprint"):
        return NO_BLOCK
    fp = block["fingerprint"]
    if fp in KNOWN_CONTENT:
        return KNOWN_CONTENT[fp][0]
    return f"{block.get('content') or UNKNOWN} {fp.split(':')[-1][:12]}"
