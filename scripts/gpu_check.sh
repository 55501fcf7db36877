#!/usr/bin/env bash
# GPU check: on a CUDA machine, one short run at full width and CIFAR-10 image size (32x32x3;
# 20,000 embedded digits32 images, repeated), every architecture, both frameworks, harness
# against the bare loop; prints images per second, the ratio and peak GPU memory, and writes
# gpu_check.json (into $OUT when set). Not yet run on a GPU: no timing is promised here.
#
#   bash scripts/gpu_check.sh             # on the GPU machine
#   bash scripts/gpu_check.sh --dry-run   # on a CPU: the same code path, tiny sizes (CI runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--dry-run" ]; then
  exec python benchmarks/overhead.py --device cpu --images 32 --batch-size 16 --repeats 1 \
    --extra-epochs 1 --arch vgg16
fi

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python - <<'PY'
import torch, tensorflow as tf
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
print("tensorflow", tf.__version__, "GPUs", tf.config.list_physical_devices("GPU"))
PY
python benchmarks/overhead.py --device cuda --images 20000 --batch-size 256 --repeats 1 \
  --extra-epochs 1 --threads 4 --json "${OUT:-.}/gpu_check.json"
