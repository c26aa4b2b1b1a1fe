#!/usr/bin/env bash
# The GPU device check, one command on the lent GPU machine, run from the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh
#
# 1. the GPU tests: every test parametrized over the `xp` fixture runs on CuPy (the fused step's CUDA kernels
#    and cuBLAS calls against the reference engine among them), plus tests/test_gpu.py (CuPy = NumPy to
#    1e-10, 200 float32 steps against torch CUDA, the CLI on cuda, fused steps that never wait for the GPU);
# 2. one epoch of `python -m scratchnet.train --device cuda`, with the reference step and the fused one;
# 3. `python -m benchmarks.run --device cuda`: scratchnet (reference, fused, fused in a CUDA graph) against
#    torch CUDA eager and torch CUDA graphs, batch 64 … 8192 and width 512 … 8192, in one run.
# Everything goes to $OUT (8 files). Needs python3 with torch, CuPy, numpy, pytest, hypothesis and
# matplotlib, and MNIST under data/MNIST/raw (the GPU machine reaches nothing outside: carry data/ there).
# About 7 minutes at most: each part has its own time limit, and a part that fails does not stop the next.
set -uo pipefail
OUT="${OUT:-runs/gpu_check}"
mkdir -p "$OUT/bench"
export PYTHONPATH=. PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-dev}"

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c "import cupy, torch, numpy; print('cupy', cupy.__version__, '| torch', torch.__version__,
              '| CUDA', torch.version.cuda, '| numpy', numpy.__version__, '|', torch.cuda.get_device_name())"
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

timeout 170 python3 -m pytest -q -p no:cacheprovider -m gpu -rfE tests/ > "$OUT/tests.txt" 2>&1
tests=$?
tail -15 "$OUT/tests.txt"

train=0
for step in reference fused; do
  echo "### --device cuda --step $step" >> "$OUT/train.txt"
  timeout 60 python3 -m scratchnet.train --device cuda --step "$step" --epochs 1 >> "$OUT/train.txt" 2>&1 || train=$?
done
grep -E "^###|Accuracy|error" "$OUT/train.txt"

timeout 200 python3 -m benchmarks.run --device cuda --repeats 3 --out "$OUT/bench" > /dev/null 2> "$OUT/bench.log"
bench=$?
cat "$OUT/bench/results.md" 2>/dev/null || tail -15 "$OUT/bench.log"

echo "gpu_check: tests exit $tests, train exit $train, benchmark exit $bench" | tee "$OUT/summary.txt"
[ "$tests" -eq 0 ] && [ "$train" -eq 0 ] && [ "$bench" -eq 0 ]
