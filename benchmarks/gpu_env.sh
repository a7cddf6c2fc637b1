# Source on the GPU machine (its image has torch/triton but not this package): makes `import ssmkit` and
# every domain plug-in importable from this checkout without pip (which cannot build offline there), with
# dist-info folders so the plug-ins' entry points are found; sends logs to $OUT.
set -e
site=/tmp/ssmkit_pkg
rm -rf $site && mkdir -p $site
cp -r core $site/ssmkit
cp -r kernels $site/ssmkit/kernels
dist_info() {  # name version "entry = target" -> a minimal installed-distribution record
  mkdir -p "$site/$1-$2.dist-info"
  printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "$1" "$2" >"$site/$1-$2.dist-info/METADATA"
  printf '[ssmkit.plugins]\n%s\n' "$3" >"$site/$1-$2.dist-info/entry_points.txt"
}
dist_info ssmkit 0.1.0 "core = ssmkit.builtin:plugin"
for d in domains/*/; do
  name=$(basename "$d")
  [ -d "$d/ssmkit_$name" ] || continue
  cp -r "$d/ssmkit_$name" "$site/"
  dist_info "ssmkit_$name" 0.1.0 "$name = ssmkit_$name:plugin"
done
export PYTHONPATH=$site:$PWD
export PYTHONUNBUFFERED=1
export OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,utilization.gpu --format=csv || true
set +e
