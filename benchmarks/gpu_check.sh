#!/usr/bin/env bash
# The prepared GPU check: CUDA tests, then the training-throughput benchmark (bf16,
# channels_last, compiled or not, data on the device, with and without LRN, batch 128-512), then a whole trainer run with
# GPU-resident data. About 5 minutes on one H100. Writes everything under $OUT
# (default benchmarks/results/gpu) for committing.
#   make gpu-check              # on a machine with a CUDA GPU
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu}
# where the tree has no .git, pass ALEXNET_COMMIT=<sha> ALEXNET_DIRTY=0 so results name their code
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ALEXNET_CACHE=${ALEXNET_CACHE:-/tmp/alexnet-cache}
status=0
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > "$OUT/nvidia-smi.csv" || status=1
$PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name())" | tee "$OUT/versions.txt"
echo "== CUDA tests"
timeout 240 $PY -m pytest -q -m cuda tests/test_cuda.py -p no:cacheprovider 2>&1 | tail -n 25 | tee "$OUT/cuda-tests.log" || status=1
echo "== throughput benchmark"
# batch 128 is the paper's; 256/512 and CUDA graphs (reduce-overhead) ask what the card can do
timeout 360 $PY benchmarks/train_throughput.py --device cuda --compile --batch 128 --steps 100 \
  --no-lrn --sweep-batches 256,512 --compile-modes default,reduce-overhead \
  --out "$OUT/gpu-throughput.json" 2>&1 | tail -n 25 | tee "$OUT/gpu-throughput.log" || status=1
echo "== trainer epochs with GPU-resident data (synthetic 256x256, AlexNet-224, bf16)"
timeout 180 $PY -m alexnet_core train --dataset synthetic --model alexnet --limit-train 12800 --limit-val 2048 \
  --epochs 3 --device cuda --precision bf16 --no-progress --no-ten-crop --out /tmp/gpu-trainer-run 2>&1 \
  | tail -n 8 | tee "$OUT/trainer-epochs.log" || status=1
exit $status
