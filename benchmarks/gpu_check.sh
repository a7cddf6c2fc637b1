#!/usr/bin/env bash
# One call on the GPU machine: every `gpu` test at real sizes, then the kernel benchmark table.
# Usage (repo root, on the GPU machine): bash benchmarks/gpu_check.sh
source benchmarks/gpu_env.sh
python -m pytest -q -p no:cacheprovider -m gpu tests/kernels > "$OUT/gpu_tests.log" 2>&1; tail -15 "$OUT/gpu_tests.log"
python benchmarks/kernels.py --json "$OUT/kernels.json" "$@" 2>&1 | tee "$OUT/bench.log"
