#!/usr/bin/env bash
# The GPU check of the speed work, in one call of about 6 minutes on one H100-class GPU:
# the speed benchmark at both presets, float32 vs bf16 on the science check, and a short
# paper-preset training run. Python's torch, torchvision, timm, pandas and scipy must be there.
#
# With the device tool, from the repository root (MNIST travels in an ignored folder):
#   mkdir -p .gpu-data/MNIST && cp -r ../shared/data/MNIST/raw .gpu-data/MNIST/
#   echo /.gpu-data/ >> .git/info/exclude
#   run(command="bash benchmarks/gpu_check.sh", carry=[".gpu-data"], timeout_s=540)
set -euo pipefail
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 TRANSINV_CACHE=/tmp/transinv-cache
export TRANSINV_DATA="${TRANSINV_DATA:-$PWD/.gpu-data}"
OUT="${OUT:-benchmarks/out}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"

python3 benchmarks/speed.py --seconds 15 --processes 1 2 4 8 --json "$OUT/speed.json" 2>&1 | tee "$OUT/speed.txt"
python3 benchmarks/precision.py --seeds 0 1 --results /tmp/precision 2>&1 | tee "$OUT/precision.txt"

# A short paper-preset run: VGG16 at 224 px, MNIST 0-4 fully translated, the authors' stopping rule.
python3 - <<'PY' 2>&1 | tee "$OUT/paper_run.txt"
import json
import transinv as ti
run = ti.run(ti.RunConfig("mnist", "translated", preset="paper", classes=(0, 1, 2, 3, 4)), "/tmp/results")
grid = run.grid
print(json.dumps(run.result, indent=1))
print(f"accuracy over the 19x19 grid: {grid['correct'].sum() / grid['n'].sum():.3f}")
PY
