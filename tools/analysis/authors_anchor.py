#!/usr/bin/env python3
"""Train the authors' own CIFAR-LT code on this machine's CPU and record what it reaches.

Issue 11, part 5: ltkit's Table 3 runs sit 5-6 points under the paper. The decisive anchor is
the authors' code (KaihuaTang/Long-Tailed-Recognition.pytorch, ``classification/``) trained on
the same images: if it lands where ltkit does, the gap lies in the data or the machine, not in
ltkit. This script runs their ``main.py`` unchanged, in a child process, with only the shims a
CUDA-only script needs on a CPU, each of which changes no arithmetic:

* ``Tensor.cuda`` / ``Module.cuda`` return the object itself (no GPU here; ``nn.DataParallel``
  with no devices calls its module directly);
* ``yaml.load`` without a ``Loader`` (PyYAML >= 6 requires one) uses ``FullLoader``, and
  ``torch.load`` reads their own checkpoint with ``weights_only=False`` (it holds a NumPy array);
* the CIFAR data root hard-coded in their ``main.py`` is replaced by ``--data``, and
  torchvision's MD5 check of the batch files is replaced by a check that they exist (the
  team's CIFAR-10 was rebuilt from JPEGs, so its files differ from the download's);
* NumPy and ``random`` are seeded with ``--seed`` (their script seeds only torch, and only for a
  non-zero seed, so their subset draw differs per run; seeding makes this one repeatable);
* with ``--skip-val`` their per-epoch pass over the test set is skipped (it only prints and picks
  the "best" epoch, and it adds about half to every epoch on 2 cores: 49 s instead of 33 s in
  a 2-3 epoch check on the AMD EPYC, an ad-hoc timing with no record; 12 DataLoader workers
  started for 10,000 images every epoch). Their
  training then ends by testing its never-updated "best" weights, the initial ones (about 10 %
  in ``console.log``); the record does not use that pass.

Their config (``config/<DATASET>_LT/causal_norm_32.yaml``) is copied with only ``log_dir``,
``cifar_imb_ratio``, ``num_workers`` and (for smoke runs) ``num_epochs`` changed. After
training, their ``--test`` path (which for CIFAR loads the last epoch) runs twice, with
``use_effect`` false (De-confound) and true (De-confound-TDE). ``OUT/record.txt`` gets the
provenance header (this checkout's commit, date, machine), the authors' code and data
fingerprints (the data's both as file bytes and as the content ltkit's records name), and the
accuracies; their own logs stay in ``OUT/authors_log/``.

    python tools/analysis/authors_anchor.py --code ../Long-Tailed-Recognition.pytorch/classification \\
        --data data/cifar10 --ratio 100 --seed 1 --out results/runs/authors_anchor/cifar10-r100-s1

Their code also needs scikit-learn and h5py (imported, not used on this path):
``pip install scikit-learn h5py``. A killed run starts again from epoch 1 (their code does not
resume); two processes never write one ``OUT`` (a lock, as for ltkit's runs).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATASETS = {"cifar10": ("CIFAR10_LT", "cifar-10-batches-py"), "cifar100": ("CIFAR100_LT", "cifar-100-python")}
REQUIRED = (
    "main.py",
    "run_networks.py",
    "utils.py",
    "data/dataloader.py",
    "data/ImbalanceCIFAR.py",
    "models/ResNet32Feature.py",
    "models/CausalNormClassifier.py",
    "loss/SoftmaxLoss.py",
)


def fingerprint(paths) -> str:
    """sha256 (first 16 hex digits) over the bytes of ``paths``, in the order given."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def data_content(data: Path, dataset: str) -> str:
    """The content fingerprint of the images and labels at ``data`` (``ltkit.data.fingerprint``,
    the one ltkit's own records carry) and the name tables give it: ``sha256:<hex> (<name>)``."""
    from ltkit.data.cifar import load_cifar_lt
    from ltkit.data.fingerprint import label

    block = load_cifar_lt(data, 10 if dataset == "cifar10" else 100).info["data"]
    return f"{block['fingerprint']} ({label(block)})"


# --------------------------------------------------------------------------- child process
def child(spec_path: str) -> None:
    """Run the authors' main.py with the CPU shims (in a fresh process, from their folder)."""
    spec = json.loads(Path(spec_path).read_text())
    code = spec["code"]
    os.chdir(code)
    sys.path.insert(0, code)

    import random
    import runpy

    import numpy as np
    import torch
    import torchvision
    import yaml

    random.seed(spec["seed"])
    np.random.seed(spec["seed"])
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    yaml_load = yaml.load
    yaml.load = lambda stream, Loader=yaml.FullLoader: yaml_load(stream, Loader=Loader)
    torch_load = torch.load
    torch.load = lambda f, *a, **k: torch_load(f, *a, **{"weights_only": False, **k})
    torchvision.datasets.cifar.check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)

    import run_networks

    from data import dataloader  # theirs (cwd = their classification/ folder)

    load_data = dataloader.load_data
    dataloader.load_data = lambda *a, **k: load_data(*a, **{**k, "data_root": spec["data"]})
    if spec.get("skip_val"):
        evaluate = run_networks.model.eval

        def eval_without_val(self, phase="val", save_feat=False):
            if phase == "val":  # the per-epoch pass over the test set: skipped, nothing selects on it
                self.eval_acc_mic_top1 = 0.0
                return {"val_all": float("nan")}
            return evaluate(self, phase, save_feat)

        run_networks.model.eval = eval_without_val

    sys.argv = ["main.py", *spec["argv"]]
    ns = runpy.run_path("main.py", run_name="__main__")
    if spec.get("result"):
        m = ns["training_model"]
        out = {
            "overall": float(m.eval_acc_mic_top1),
            "many": float(m.many_acc_top1),
            "medium": float(m.median_acc_top1),
            "few": float(m.low_acc_top1),
            "per_class": [float(a) for a in m.cls_accs],
        }
        Path(spec["result"]).write_text(json.dumps(out))


# --------------------------------------------------------------------------- driver
def run_child(spec: dict, spec_path: Path, log_path: Path) -> None:
    """Run one child (train or test), its output shown and appended to ``log_path``."""
    spec_path.write_text(json.dumps(spec, indent=1))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (
        open(log_path, "a") as log,
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc,
    ):
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if spec.get("echo", True):
                sys.stdout.write(line)
        rc = proc.wait()
    if rc != 0:
        raise SystemExit(f"the authors' main.py failed (exit {rc}); its output is in {log_path}")


def write_config(src: Path, dst: Path, **changes) -> dict:
    import yaml

    cfg = yaml.safe_load(src.read_text())
    opt = cfg["training_opt"]
    for key in ("log_dir", "cifar_imb_ratio", "num_workers", "num_epochs"):
        if changes.get(key) is not None:
            opt[key] = changes[key]
    if changes.get("use_effect") is not None:
        cfg["networks"]["classifier"]["params"]["use_effect"] = changes["use_effect"]
    dst.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return cfg


def best_epoch(acc_csv: Path):
    """(epoch, accuracy) of the best per-epoch test pass in their acc.csv, or None when skipped."""
    if not acc_csv.is_file():
        return None
    rows = [r for r in csv.DictReader(acc_csv.open()) if r.get("val_all") not in (None, "", "nan")]
    if not rows:
        return None
    best = max(rows, key=lambda r: float(r["val_all"]))  # max() keeps the first maximum, as their loop does
    return int(best["epoch"]), float(best["val_all"]), int(rows[-1]["epoch"]), float(rows[-1]["val_all"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", required=True, help="the authors' classification/ folder")
    ap.add_argument(
        "--data", required=True, help="the CIFAR data root (holding cifar-10-batches-py/ or cifar-100-python/)"
    )
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="cifar10")
    ap.add_argument("--ratio", type=float, choices=[100, 50, 10], default=100, help="imbalance ratio")
    ap.add_argument("--seed", type=int, default=1, help=">= 1: passed to their --seed, and seeds NumPy")
    ap.add_argument("--out", required=True, help="output folder (record.txt, their logs and checkpoints)")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: their config's)")
    ap.add_argument(
        "--epochs", type=int, default=None, help="epochs (default: their config's 200; fewer for a smoke run)"
    )
    ap.add_argument("--skip-val", action="store_true", help="skip their per-epoch pass over the test set")
    ap.add_argument(
        "--code-label", default="", help="where the code came from, e.g. owner/repo@commit (recorded as given)"
    )
    ap.add_argument("--record", default=None, help="record path (default OUT/record.txt)")
    args = ap.parse_args(argv)

    code, data, out = Path(args.code).resolve(), Path(args.data).resolve(), Path(args.out).resolve()
    missing = [f for f in REQUIRED if not (code / f).is_file()]
    if missing:
        ap.error(
            f"{code} is not the authors' classification/ folder (missing {', '.join(missing)}); get it with "
            "git clone https://github.com/KaihuaTang/Long-Tailed-Recognition.pytorch"
        )
    dataset, folder = DATASETS[args.dataset]
    if not (data / folder).is_dir():
        ap.error(f"{data} holds no {folder}/; see data/README.md")
    if args.seed < 1:
        ap.error("--seed must be >= 1 (their main.py seeds torch only for a non-zero seed)")
    for module in ("sklearn", "h5py"):
        try:
            __import__(module)
        except ImportError:
            ap.error(f"the authors' code imports {module}: pip install scikit-learn h5py")
    cfg_src = code / "config" / dataset / "causal_norm_32.yaml"
    if not cfg_src.is_file():
        ap.error(f"no {cfg_src}")

    from ltkit.runs.folder import hold
    from ltkit.runs.provenance import Report

    report = Report()  # provenance taken before anything runs
    content = data_content(data, args.dataset)
    with hold(out):
        if (out / "record.txt").exists() or (out / "authors_log").exists():
            ap.error(f"{out} already holds a run; their code cannot resume: choose a new --out")
        log_dir, log = out / "authors_log", out / "console.log"
        log_dir.mkdir(parents=True)
        cfg = write_config(
            cfg_src,
            out / "cfg_train.yaml",
            log_dir=str(log_dir),
            cifar_imb_ratio=1.0 / args.ratio,
            num_workers=args.workers,
            num_epochs=args.epochs,
        )
        base = {"code": str(code), "data": str(data), "seed": args.seed}
        t0 = time.time()
        run_child(
            {
                **base,
                "skip_val": args.skip_val,
                "argv": ["--cfg", str(out / "cfg_train.yaml"), "--seed", str(args.seed)],
            },
            out / "spec_train.json",
            log,
        )
        train_s = time.time() - t0
        results = {}
        for name, effect in (("De-confound", False), ("De-confound-TDE", True)):
            tag = "tde" if effect else "plain"
            write_config(out / "cfg_train.yaml", out / f"cfg_test_{tag}.yaml", use_effect=effect)
            run_child(
                {
                    **base,
                    "echo": False,
                    "result": str(out / f"test_{tag}.json"),
                    "argv": ["--cfg", str(out / f"cfg_test_{tag}.yaml"), "--test", "--model_dir", str(log_dir)],
                },
                out / f"spec_test_{tag}.json",
                log,
            )
            results[name] = json.loads((out / f"test_{tag}.json").read_text())

        files = sorted(p for p in code.rglob("*.py")) + [cfg_src]
        batches = sorted((data / folder).iterdir())
        opt = cfg["training_opt"]
        report(
            f"# authors' code: {args.code_label or 'not labelled'}; {code.name}/ files *.py + "
            f"{cfg_src.relative_to(code)} sha256 {fingerprint(files)}"
        )
        report(
            f"# config: their {cfg_src.relative_to(code)} with log_dir, cifar_imb_ratio={opt['cifar_imb_ratio']:g}, "
            f"num_workers={opt['num_workers']}, num_epochs={opt['num_epochs']} (cfg_train.yaml)"
        )
        report(
            f"# data: {data / folder} sha256 {fingerprint(batches)}; content {content}; seed {args.seed} "
            f"(torch by their main.py, NumPy and random by this script); "
            f"per-epoch test pass {'skipped' if args.skip_val else 'run'}"
        )
        report(f"# train time: {train_s / 60:.1f} min ({opt['num_epochs']} epochs, fp32, eager, their DataLoader)")
        report()
        few = args.dataset == "cifar100"  # CIFAR-10-LT has no class under 20 images: their "few" prints 0
        report("evaluation (their --test path: last epoch)   many  medium" + ("   few" if few else "") + "  overall")
        for name, r in results.items():
            report(
                f"{name:<44} {100 * r['many']:5.1f} {100 * r['medium']:7.1f}"
                + (f" {100 * r['few']:5.1f}" if few else "")
                + f" {100 * r['overall']:8.1f}"
            )
        report("per-class accuracy (classes 0-9, head to tail):")
        for name, r in results.items():
            report(f"  {name:<16} " + " ".join(f"{100 * a:5.1f}" for a in r["per_class"]))
        best = best_epoch(log_dir / "acc.csv")
        if best:
            report(
                f"their per-epoch test pass (TDE): best epoch {best[0]} at {100 * best[1]:.1f}, "
                f"last epoch {best[2]} at {100 * best[3]:.1f} (the epoch their training loop keeps as 'best')"
            )
        report.write(args.record or out / "record.txt")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        sys.path.insert(0, str(ROOT))
        sys.exit(main())
