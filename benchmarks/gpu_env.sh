# Source on the GPU machine (its image has torch/triton but not this package): makes `import ssmkit` work
# from this checkout without pip, and sends logs to $OUT.
set -e
rm -rf /tmp/ssmkit_pkg && mkdir -p /tmp/ssmkit_pkg
cp -r core /tmp/ssmkit_pkg/ssmkit
cp -r kernels /tmp/ssmkit_pkg/ssmkit/kernels
export PYTHONPATH=/tmp/ssmkit_pkg:$PWD
export PYTHONUNBUFFERED=1
export OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,utilization.gpu --format=csv
set +e
