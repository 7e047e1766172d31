"""How far the quickstart's table moves when only the float rounding of training changes.

Runs the quickstart (seed 0, CPU) three times: as it is, with the other thread count (1 <-> 2),
and with every initial weight perturbed by ``--scale`` (1e-6) noise; then prints the three
tables, the TDE alpha each chose on the validation split, and the largest absolute difference of
each cell from the first run. A machine of another kind (other CPU kernels) perturbs training the
same way, so this is the spread to expect from ``make quickstart`` elsewhere.

It does so for each ``--activations`` entry in one process, side by side: ``silu`` (the
quickstart's recipe) and ``relu`` (the same recipe with the paper's ReLU, which the quickstart
used before: its kink makes training chaotic, see ``ltkit.models.backbones``). About 8 minutes
on 2 cores for both.

    python benchmarks/experiments/quickstart_spread.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from ltkit.quickstart import cell_differences, other_thread_count, perturbed_initial_weights, quickstart
from ltkit.runs.provenance import Report

RESULTS = Path(__file__).resolve().parents[2] / "results" / "benchmarks"


def spread(activation: str, scale: float) -> dict:
    """name -> summary table of the three quickstart runs with ``activation``."""
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:

        def once(name):
            label = f"{name} ({torch.get_num_threads()} threads)"
            print(f"quickstart, {activation}: {label}", flush=True)
            tables[label] = quickstart(
                output_dir=str(Path(tmp) / name),
                device="cpu",
                progress=False,
                activation=activation,
                log=lambda *_: None,
            )

        once("as is")
        with other_thread_count():
            once("other thread count")
        with perturbed_initial_weights(scale):
            once(f"initial weights + {scale:g} noise")
    return tables


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1e-6, help="std of the initial-weight perturbation")
    ap.add_argument(
        "--activations",
        nargs="+",
        default=["silu", "relu"],
        choices=["silu", "relu", "softplus"],
        help="backbone activations to measure (default: the quickstart's silu, then relu)",
    )
    ap.add_argument(
        "--output",
        default=str(RESULTS / "quickstart_spread_cpu.txt"),
        help="the record to write (default results/benchmarks/quickstart_spread_cpu.txt; '-': print only)",
    )
    args = ap.parse_args()

    out = Report()
    out("# the quickstart (seed 0, CPU) three times per activation; accuracy (%), alpha chosen on the validation split")
    worst = {}
    for activation in args.activations:
        tables = spread(activation, args.scale)
        out(f"\n## activation={activation}" + (" (the quickstart's recipe)" if activation == "silu" else ""))
        for name, t in tables.items():
            out(f"\n{name}:")
            out(t[["method", "many", "medium", "few", "overall", "alpha"]].round(2).to_string(index=False))
        base_name, base = next(iter(tables.items()))
        for name, t in list(tables.items())[1:]:
            out(f"\n|cell difference| from '{base_name}', '{name}':")
            out(cell_differences(base, t).round(2).to_string())
        worst[activation] = max(float(cell_differences(base, t).max().max()) for t in list(tables.values())[1:])
    out("")
    for activation, w in worst.items():
        out(f"largest cell difference, activation={activation}: {w:.2f} points")
    out.write(args.output)


if __name__ == "__main__":
    main()
