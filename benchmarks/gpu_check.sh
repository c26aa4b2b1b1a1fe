#!/usr/bin/env bash
# The GPU device check, one command on the lent GPU machine, run from the repository root:
#
#     OUT=/some/folder bash benchmarks/gpu_check.sh
#
# Runs the GPU tests (every test body parametrized over the `xp` fixture, on CuPy, plus tests/test_gpu.py),
# one epoch of `python -m scratchnet.train --device cuda`, and `python -m benchmarks.run --device cuda`
# (scratchnet on CuPy vs torch CUDA eager vs torch CUDA graphs, batch 64 … 8192), writing everything to
# $OUT (8 files at most). Needs python3 with torch, CuPy, numpy, pytest and hypothesis, and MNIST under
# data/MNIST/raw (the GPU machine reaches nothing outside: carry data/ there). About 8 minutes at most.
set -uo pipefail
OUT="${OUT:-runs/gpu_check}"
mkdir -p "$OUT/bench"
export PYTHONPATH=. HYPOTHESIS_PROFILE=ci

{ nvidia-smi
  python3 -c "import cupy, torch; print('cupy', cupy.__version__, '| torch', torch.__version__,
              '| CUDA', torch.version.cuda, '|', torch.cuda.get_device_name())"
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

timeout 210 python3 -m pytest -q -p no:cacheprovider -m gpu tests/ > "$OUT/tests.txt" 2>&1
tests=$?
tail -5 "$OUT/tests.txt"

timeout 120 python3 -m scratchnet.train --device cuda --epochs 1 > "$OUT/train.txt" 2>&1
train=$?
tail -4 "$OUT/train.txt"

timeout 240 python3 -m benchmarks.run --device cuda --repeats 3 --out "$OUT/bench" > /dev/null 2> "$OUT/bench.log"
bench=$?
cat "$OUT/bench/results.md" 2>/dev/null || tail -5 "$OUT/bench.log"

echo "gpu_check: tests exit $tests, train exit $train, benchmark exit $bench" | tee "$OUT/summary.txt"
[ "$tests" -eq 0 ] && [ "$train" -eq 0 ] && [ "$bench" -eq 0 ]
