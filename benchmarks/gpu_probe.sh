#!/usr/bin/env bash
# Probe: does AlexNet learn on Imagenette with the paper's recipe (section 5), and which
# setting decides it? Short full-resolution runs on one GPU, data resident on the device.
# Usage (on a GPU machine, Imagenette under $ALEXNET_DATA): OUT=dir bash benchmarks/gpu_probe.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu/probe}
PY=${PYTHON:-python3}
EPOCHS=${EPOCHS:-20}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ALEXNET_CACHE=${ALEXNET_CACHE:-/tmp/alexnet-cache}
common="--dataset imagenette --device cuda --precision bf16 --epochs $EPOCHS --patience 3 --no-progress --no-ten-crop"
run() {  # name, extra flags
  local name=$1; shift
  echo "== $name: $*"
  timeout 200 $PY -m alexnet_core train $common "$@" --out "/tmp/probe/$name" 2>&1 | grep -E "^epoch|error" | tail -n 25
  cp "/tmp/probe/$name/result.json" "$OUT/$name.json" 2>/dev/null || echo "$name left no result"
}
run paper
run paper-bias-zero --no-bias-one
run paper-lr-0.003 --lr 0.003
run kaiming-lr-0.001 --init kaiming --lr 0.001
run paper-no-pca-no-lrn --no-pca-colour --no-lrn
