"""Write the CIFAR-10-LT gap analysis's tables from its committed records.

docs/cifar10_lt_gap.md shows each file as a generated block (tools/docs/blocks.py); a test checks
that the files are what this script writes from the records now, so the page's numbers are the
records'. Every comparison is Table 3's r100 seed-0 run with one thing changed; which thing, the
records say (``ltkit.report.compare.differences``).

    python tools/analysis/gap_tables.py [OUT]   # default results/analysis/cifar10_lt_gap
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ltkit.data.fingerprint import NO_BLOCK  # noqa: E402
from ltkit.data.fingerprint import label as data_label  # noqa: E402
from ltkit.report.compare import (  # noqa: E402
    best_epochs,
    best_epochs_markdown,
    compare_markdown,
    compare_runs,
    numbers,
    tde_effect,
    tde_effect_markdown,
)
from ltkit.report.tables import paper_numbers  # noqa: E402
from ltkit.utils import write_text  # noqa: E402

GAP = ROOT / "results" / "analysis" / "cifar10_lt_gap"
JPEG = ROOT / "results" / "analysis" / "cifar10_lt_jpeg"
RELEASE = ROOT / "results" / "reproductions" / "cifar10_lt"
#: the gap runs: Table 3's r100 seed 0 with one setting or the data changed
RUN = "cifar10_lt-r100-causal_norm-{}-s0"
#: the JPEG-copy run every one-change run is compared with: same seed, same machine (AMD EPYC)
BASE = GAP / RUN.format("test_every")
ANCHOR = GAP / "authors_code-cifar10-r100-s1" / "record.txt"
FIDELITY = GAP / "data_fidelity.txt"
#: authors_anchor.py's hash of the batch files -> the content fingerprint of what they hold, for a
#: record written before the tool named the content: the team's JPEG copy, as
#: ../shared/tools/cifar10_jpeg_to_batches.py writes it (tests/test_authors_anchor.py checks both)
FILE_HASHES = {"030742a876951f65": "sha256:6c933e12b0a3587180b7f9db0fa0f3bbc461ec2858489932df3b133ea125423c"}
DEFAULT_OUT = GAP
NOTE = "Cells: run vs against [run - against, from the unrounded numbers]; overall test accuracy, %."


def seeds(folder: Path, ratio: int):
    return sorted(folder.glob(f"cifar10_lt-r{ratio}-causal_norm-s*"))


def anchor_data(text: str) -> str:
    """The name tables give the data of an authors_anchor.py record: from the content fingerprint
    it names, else from its batch files' hash (``FILE_HASHES``), else "data unknown"."""
    line = next((ln for ln in text.splitlines() if ln.startswith("# data: ")), "")
    content = re.search(r"content (sha256:[0-9a-f]{64})", line)
    if content:
        return data_label({"fingerprint": content.group(1)})
    files = re.search(r" sha256 ([0-9a-f]{16})", line)
    if files and files.group(1) in FILE_HASHES:
        return data_label({"fingerprint": FILE_HASHES[files.group(1)]})
    return NO_BLOCK


def anchor_numbers(path: Path = ANCHOR) -> dict:
    """The authors' code's run (tools/analysis/authors_anchor.py's record) as one side of a comparison."""
    text = path.read_text()
    head = text.split("per-class accuracy")[0]
    rows = {}
    for line in head.splitlines():
        parts = line.split()
        if parts and parts[0] in ("De-confound", "De-confound-TDE"):
            rows[parts[0]] = [float(v) for v in parts[1:]]  # many, medium, overall
    code = re.search(r"# authors' code: ([^;\s]+)", text).group(1)
    cpu = re.search(r"# cpu: ([^,]+), (\d+) cores", text)
    commit = re.search(r"# git commit: ([0-9a-f]{7})", text).group(1)
    return {
        "name": path.parent.name,
        "n": 1,
        "plain": rows["De-confound"][2],
        "tde": rows["De-confound-TDE"][2],
        "medium_plain": rows["De-confound"][1],
        "medium_tde": rows["De-confound-TDE"][1],
        "code": f"the authors' ({code.split('@')[-1]})",
        "data": anchor_data(text),
        "machine": f"{cpu.group(1)} ({cpu.group(2)} cores)",
        "precision": "fp32" if "fp32" in text else "unknown",
        "commit": commit,
        "params": {},
    }


def comparisons() -> str:
    jpeg_r100 = seeds(JPEG, 100)
    table = compare_runs(
        [
            ("the release's pixels", GAP / RUN.format("lossless"), BASE),
            ("one more JPEG step", GAP / RUN.format("jpeg_q50"), BASE),
            ("fp32 throughout", GAP / RUN.format("fp32"), BASE),
            ("BatchNorm over slices of 64", GAP / RUN.format("bn_batch64"), BASE),
            ("another machine", JPEG / "cifar10_lt-r100-causal_norm-s0", BASE),
            ("the authors' code", anchor_numbers(), jpeg_r100),
            ("another subset of the release", RELEASE / "cifar10_lt-r100-causal_norm-s0", GAP / RUN.format("lossless")),
        ]
    )
    return compare_markdown(table) + "\n\n" + NOTE + "\n"


def by_data() -> str:
    """The three copies of the same images: how far each is from the release, and what the same run reached."""
    fidelity = {}
    for line in FIDELITY.read_text().splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[1] == "train":
            fidelity[parts[0]] = (float(parts[2]), float(parts[3]))
    lines = [
        "| data | PSNR to the release | mean abs. error | De-confound | De-confound-TDE |",
        "|---|---|---|---|---|",
    ]
    for label, run in (
        ("the release (in the copy's order)", RUN.format("lossless")),
        ("team's JPEG copy (q75, 4:2:0)", RUN.format("test_every")),
        ("that copy re-encoded at q50", RUN.format("jpeg_q50")),
    ):
        n = numbers(GAP / run)
        root = pd.read_json(GAP / run / "run.json", typ="series")["params"]["data_root"]
        psnr, mae = (
            (f"{fidelity[root][0]:.1f} dB", f"{fidelity[root][1]:.1f} grey levels") if root in fidelity else ("-", "0")
        )
        lines.append(f"| {label} | {psnr} | {mae} | {n['plain']:.1f} | {n['tde']:.1f} |")
    paper = paper_numbers()
    paper = paper[(paper.table == "table3") & (paper.benchmark == "cifar10_lt-r100")].set_index("method").value
    lines.append(f"| the paper (mean of 2 runs) | | | {paper['De-confound']:.1f} | {paper['De-confound-TDE']:.1f} |")
    return (
        "\n".join(lines)
        + "\n\nr100, seed 0, the same subset of the same images, on the AMD EPYC. Fidelity: the train split, from "
        "`data_fidelity.txt` (`tools/analysis/data_fidelity.py`).\n"
    )


def per_class() -> str:
    """Class by class, the release against the JPEG copy (the same subset, the same machine)."""
    a = pd.read_csv(GAP / RUN.format("lossless") / "per_class.csv")
    b = pd.read_csv(BASE / "per_class.csv").set_index("class").loc[a["class"]].reset_index()
    lines = [
        "| class | training images | De-confound: release vs JPEG copy | De-confound-TDE: release vs JPEG copy |",
        "|---|---|---|---|",
    ]
    for (_, x), (_, y) in zip(a.iterrows(), b.iterrows()):
        cells = [f"{x[c]:.1f} vs {y[c]:.1f} [{x[c] - y[c]:+.1f}]" for c in ("acc_plain", "acc_tde")]
        lines.append(f"| {x['name']} | {int(x['train_count'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tde() -> str:
    paper = paper_numbers()
    paper = paper[paper.table == "table3"]

    def gain(ratio):
        p = paper[paper.benchmark == f"cifar10_lt-r{ratio}"].set_index("method").value
        return float(p["De-confound-TDE"] - p["De-confound"])

    rows = [("JPEG copy, r100", seeds(JPEG, 100), gain(100)), ("JPEG copy, r50", seeds(JPEG, 50), gain(50))]
    rows.append(("the release in the copy's order, r100 seed 0", GAP / RUN.format("lossless"), gain(100)))
    for ratio in (100, 50, 10):
        if seeds(RELEASE, ratio):
            rows.append((f"the release, r{ratio}", seeds(RELEASE, ratio), gain(ratio)))
    return tde_effect_markdown(tde_effect(rows)) + "\n\nMeans over the runs' `run.json`; [TDE - De-confound].\n"


def best_epoch() -> str:
    return (
        best_epochs_markdown(best_epochs(BASE))
        + f"\n\n`{BASE.name}`: test accuracy after every epoch, from its `history.csv`.\n"
    )


FILES = {
    "comparisons.md": comparisons,
    "by_data.md": by_data,
    "per_class.md": per_class,
    "tde_effect.md": tde,
    "best_epoch.md": best_epoch,
}


def write(out: Path = DEFAULT_OUT) -> dict:
    return {name: write_text(Path(out) / name, make()) for name, make in FILES.items()}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for path in write(Path(argv[0]) if argv else DEFAULT_OUT).values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
