#!/usr/bin/env bash
# Run several ETTh1 benchmark configurations side by side on one GPU (small models leave it mostly idle),
# one log per configuration in $OUT. Usage: bash benchmarks/timeseries_sweep.sh DATA_DIR "NAME|ARGS" ...
# e.g. "patch96|--models patch_mamba --horizons 96". Throughput figures from a shared GPU are not solo figures.
set -u
data=$1; shift
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
for spec in "$@"; do
  name=${spec%%|*}; args=${spec#*|}
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=2 python benchmarks/timeseries_etth1.py --data-dir "$data" $args --json "$OUT/$name.json" \
    >"$OUT/$name.log" 2>&1 &
done
wait
for spec in "$@"; do name=${spec%%|*}; echo "== $name"; grep -E "^\||average|Error|error" "$OUT/$name.log" | grep -v "^|---\|^| model"; done
