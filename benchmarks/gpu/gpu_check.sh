#!/usr/bin/env bash
# The prepared GPU check (issue 4): on a machine with one GPU and no network, from the repo root,
#   1. the training-throughput benchmark (ltkit pipeline, eager and torch.compile, vs DataLoader + PIL) on CIFAR-10-LT r100,
#   2. real 200-epoch CIFAR-10-LT ratio-100 runs, plain (linear) and causal-norm (De-confound[-TDE]),
# leaving the benchmark table, the GPU's name and the run records in one folder.
#
# Here, once (needs ../shared):   python benchmarks/gpu/gpu_bundle.py make .gpu/cifar10_lt_r100.zip
# With the device tool (carry .gpu, and .whl if it holds a torchvision wheel for the machine's torch):
#   bash benchmarks/gpu/gpu_check.sh .gpu/cifar10_lt_r100.zip "$OUT"
# Knobs: EPOCHS (200), DEVICE (cuda), SEED (0), PRESETS ("cifar10_lt_baseline cifar10_lt_tde"),
#   PIPELINES ("batched"; "batched torchvision" adds each run through the authors' DataLoader + PIL
#   pipeline with WORKERS (8) workers, for the accuracy comparison; needs torchvision).
# On a CPU, `EPOCHS=1 DEVICE=cpu bash benchmarks/gpu/gpu_check.sh ...` checks the script itself.
set -euo pipefail
BUNDLE=${1:?usage: gpu_check.sh BUNDLE.zip [OUT_DIR]}
OUT=${2:-results/gpu_check}
EPOCHS=${EPOCHS:-200}
DEVICE=${DEVICE:-cuda}
SEED=${SEED:-0}
PRESETS=${PRESETS:-"cifar10_lt_baseline cifar10_lt_tde"}
PIPELINES=${PIPELINES:-batched}
WORKERS=${WORKERS:-8}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then  # packages the machine lacks (torchvision for the benchmark)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
DATA=$(mktemp -d)
python3 benchmarks/gpu/gpu_bundle.py decode "$BUNDLE" "$DATA"
{
  echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  python3 -c "import torch; print('torch', torch.__version__, '| device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
} | tee "$OUT/machine.txt"
if python3 -c "import torchvision" 2>/dev/null; then
  python3 benchmarks/speed/cifar_pipeline.py --data-root "$DATA" --device "$DEVICE" --rounds 3 --steps 20 --compile \
    --output "$OUT/cifar_pipeline_$DEVICE.txt"
else
  echo "benchmark skipped: torchvision is missing here (carry its wheel in .whl/)" | tee "$OUT/cifar_pipeline_$DEVICE.txt"
fi
for pipeline in $PIPELINES; do
  workers=0; [ "$pipeline" = batched ] || workers=$WORKERS
  for preset in $PRESETS; do
    start=$(date +%s)
    python3 -m ltkit run --preset "$preset" --data-root "$DATA" --device "$DEVICE" --epochs "$EPOCHS" \
      --seed "$SEED" --pipeline "$pipeline" --num-workers "$workers" --no-progress --output-dir "$OUT/$preset-$pipeline-s$SEED"
    echo "$preset ($pipeline pipeline): $(( $(date +%s) - start )) s wall, process start to record" | tee -a "$OUT/wall_times.txt"
  done
done
# the device tool returns at most 8 files: pack everything but the checkpoints into one archive
# (unpack here with: tar xzf gpu_check.tar.gz -C results/gpu_check)
rm -f "$OUT"/*/checkpoint.pt
tar czf "$DATA/gpu_check.tar.gz" -C "$OUT" . && rm -rf "${OUT:?}"/* && mv "$DATA/gpu_check.tar.gz" "$OUT/"
ls -la "$OUT"
