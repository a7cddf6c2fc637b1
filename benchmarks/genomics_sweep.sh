#!/usr/bin/env bash
# Run several promoter-benchmark configurations side by side on one GPU (small models leave it mostly idle),
# one log per configuration in $OUT. Usage: bash benchmarks/genomics_sweep.sh DATA_DIR "NAME|ARGS" ...
# e.g. "stem15|--model-json '{\"stem\": 15}' --epochs 30". Throughput from a shared GPU is not a solo figure.
set -u
data=$1; shift
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
for spec in "$@"; do
  name=${spec%%|*}; args=${spec#*|}
  eval "OMP_NUM_THREADS=2 python benchmarks/genomics_promoters.py --data-dir \"$data\" --tag $name $args \
    --json \"$OUT/$name.json\"" >"$OUT/$name.log" 2>&1 &
done
wait
for spec in "$@"; do name=${spec%%|*}; echo "== $name"; grep -E "^\| $name|Error|error" "$OUT/$name.log"; done
