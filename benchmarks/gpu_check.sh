#!/usr/bin/env bash
# The GPU check of the speed work, in one call of about 7 minutes on one H100-class GPU:
# a short paper-preset training run (VGG16, 224 px, the authors' stopping rule), the speed
# benchmark at both presets, and float32 vs bf16 on the science check. Each step writes its
# output under $OUT as it goes, and a failing step does not stop the next one.
# Python's torch, torchvision, timm, pandas and scipy must be there.
#
# With the device tool, from the repository root (MNIST travels in an ignored folder):
#   mkdir -p .gpu-data/MNIST && cp -r ../shared/data/MNIST/raw .gpu-data/MNIST/
#   echo /.gpu-data/ >> .git/info/exclude
#   run(command="bash benchmarks/gpu_check.sh", carry=[".gpu-data"], timeout_s=540)
set -uo pipefail
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 TRANSINV_CACHE=/tmp/transinv-cache
export TRANSINV_DATA="${TRANSINV_DATA:-$PWD/.gpu-data}"
OUT="${OUT:-benchmarks/out}"
SECONDS_PER_MEASUREMENT="${SECONDS_PER_MEASUREMENT:-8}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" \
  | tee -a "$OUT/gpu.txt"

# A paper-preset run: VGG16 at 224 px, MNIST 0-4 fully translated; how many iterations it really takes.
timeout 150 python3 - <<'PY' 2>&1 | tee "$OUT/paper_run.txt" || echo "paper run FAILED or timed out"
import json
import transinv as ti
run = ti.run(ti.RunConfig("mnist", "translated", preset="paper", classes=(0, 1, 2, 3, 4)), "/tmp/results")
grid = run.grid
print(json.dumps(run.result, indent=1))
print(f"accuracy over the 19x19 grid: {grid['correct'].sum() / grid['n'].sum():.3f}")
PY

# Iterations per run for the protocol estimate: the committed small-preset runs, rescaled to the paper's rule.
timeout 240 python3 benchmarks/speed.py --seconds "$SECONDS_PER_MEASUREMENT" --processes 1 4 8 \
  --iterations-from results/small --json "$OUT/speed.json" 2>&1 | tee "$OUT/speed.txt" || echo "speed FAILED or timed out"
timeout 150 python3 benchmarks/precision.py --seeds 0 1 --results /tmp/precision 2>&1 | tee "$OUT/precision.txt" \
  || echo "precision FAILED or timed out"
