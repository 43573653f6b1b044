#!/usr/bin/env bash
# Records the gpu profile on one lent GPU: every distinct AlexNet-on-Imagenette run, four
# side by side (python -m alexnet_core record), then packs results/gpu into one tar under
# $OUT for committing. About 6 minutes on one H100. Imagenette must be under $ALEXNET_DATA.
#   ALEXNET_DATA=/data ALEXNET_COMMIT=<sha> ALEXNET_DIRTY=0 OUT=dir bash benchmarks/gpu_profile.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-profile}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ALEXNET_CACHE=${ALEXNET_CACHE:-/tmp/alexnet-cache}
status=0
timeout "${RECORD_TIMEOUT:-450}" $PY -m alexnet_core record --profile gpu --parallel "${PARALLEL:-4}" \
  --threads-per-run 3 --device cuda --data-root "$ALEXNET_DATA" 2>&1 | tee "$OUT/record-gpu.log" || status=1
tar cf "$OUT/results-gpu.tar" results/gpu runs/gpu/logs 2>/dev/null || status=1
exit $status
