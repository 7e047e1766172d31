"""How far the quickstart's table moves when only the float rounding of training changes.

Runs the quickstart (seed 0, CPU) three times in one process: as it is, with the other thread
count (1 <-> 2), and with every initial weight perturbed by ``--scale`` (1e-6) noise; then prints
the three tables, the TDE alpha each chose on the validation split, and the largest absolute
difference of each cell from the first run. A machine of another kind (other CPU kernels)
perturbs training the same way, so this is the spread to expect from ``make quickstart``
elsewhere. About 4 minutes on 2 cores.

    python benchmarks/quickstart_spread.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from ltkit.quickstart import cell_differences, other_thread_count, perturbed_initial_weights, quickstart
from ltkit.records import Report

RESULTS = Path(__file__).resolve().parents[1] / "results" / "benchmarks"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1e-6, help="std of the initial-weight perturbation")
    ap.add_argument("--output", default=str(RESULTS / "quickstart_spread_cpu.txt"),
                    help="the record to write (default results/benchmarks/quickstart_spread_cpu.txt; '-': print only)")
    args = ap.parse_args()

    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        def once(name):
            print(f"quickstart: {name} ({torch.get_num_threads()} threads)", flush=True)
            tables[f"{name} ({torch.get_num_threads()} threads)"] = quickstart(
                output_dir=str(Path(tmp) / name), device="cpu", progress=False, log=lambda *_: None)

        once("as is")
        with other_thread_count():
            once("other thread count")
        with perturbed_initial_weights(args.scale):
            once(f"initial weights + {args.scale:g} noise")

    out = Report()
    out("# the quickstart (seed 0, CPU) three times in one process; accuracy (%), alpha chosen on the validation split")
    for name, t in tables.items():
        out(f"\n{name}:")
        out(t[["method", "many", "medium", "few", "overall", "alpha"]].round(2).to_string(index=False))
    base_name, base = next(iter(tables.items()))
    for name, t in list(tables.items())[1:]:
        out(f"\n|cell difference| from '{base_name}', '{name}':")
        out(cell_differences(base, t).round(2).to_string())
    worst = max(float(cell_differences(base, t).max().max()) for t in list(tables.values())[1:])
    out(f"\nlargest cell difference: {worst:.2f} points")
    out.write(args.output)


if __name__ == "__main__":
    main()
