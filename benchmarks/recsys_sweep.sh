#!/usr/bin/env bash
# Run several Amazon Beauty next-item configurations side by side on one GPU (the models are small and leave
# it mostly idle), one log and one JSON per configuration in $OUT, then one markdown table of them all.
#
#   bash benchmarks/recsys_sweep.sh DATA_DIR                     # the default set below
#   bash benchmarks/recsys_sweep.sh DATA_DIR "NAME|ARGS" ...      # ARGS: benchmarks/recsys_beauty.py options
#
# Each run stops training after $MINUTES minutes (default 7; early stopping may end it sooner) and tests its
# best validation epoch, so the default set fits one call of about 9 minutes. Throughputs from a shared GPU
# are not solo figures. On the GPU machine: source benchmarks/gpu_env.sh first.
set -u
data=$1; shift
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
MINUTES=${MINUTES:-7}
THREADS=${THREADS:-2}

# SASRec as released (Kang & McAuley 2018, Beauty): d 50, 2 blocks, 1 head, FFN width 50 with ReLU, dropout
# 0.5, item embeddings scaled by sqrt(d), Adam lr 1e-3 held constant, batch 128, max_len 50, binary
# cross-entropy with one sampled negative per position.
sasrec_paper='{"d_model": 50, "n_layers": 2, "n_heads": 1, "d_ff": 50, "dropout": 0.5, "activation": "relu", "scale_embedding": true}'
const='{"min_lr_ratio": 1.0}'
if [ $# -eq 0 ]; then
  set -- \
    "sasrec_bce_paper|--model sasrec --loss bce --options '$sasrec_paper' --batch-size 128 --task '$const' --epochs 1000 --val-every 5 --patience 8" \
    "sasrec_bce_ours|--model sasrec --loss bce --batch-size 128 --task '$const' --epochs 1000 --val-every 5 --patience 8" \
    "m1_do03_p20|--model mamba4rec --options '{\"n_layers\": 1, \"dropout\": 0.3}' --patience 20" \
    "m1_do04_p20|--model mamba4rec --options '{\"n_layers\": 1, \"dropout\": 0.4}' --patience 20" \
    "m2_do02_p20|--model mamba4rec --options '{\"n_layers\": 2, \"dropout\": 0.2}' --patience 20" \
    "m2_do03_p20|--model mamba4rec --options '{\"n_layers\": 2, \"dropout\": 0.3}' --patience 20" \
    "m2_do04_p20|--model mamba4rec --options '{\"n_layers\": 2, \"dropout\": 0.4}' --patience 20" \
    "m1_d128_do04_p20|--model mamba4rec --options '{\"d_model\": 128, \"n_layers\": 1, \"dropout\": 0.4}' --patience 20"
fi
names=()
for spec in "$@"; do
  name=${spec%%|*}; args=${spec#*|}; names+=("$name")
  eval "OMP_NUM_THREADS=$THREADS python benchmarks/recsys_beauty.py --data-dir \"$data\" --tag $name \
    --max-minutes $MINUTES $args --json \"$OUT/$name.json\"" >"$OUT/$name.log" 2>&1 &
done
wait
for name in "${names[@]}"; do
  [ -f "$OUT/$name.json" ] || { echo "== $name failed:"; grep -v -i "warn" "$OUT/$name.log" | tail -5; }
done
python - "$OUT" "${names[@]}" <<'EOF'
import json
import sys
from pathlib import Path

out, names = Path(sys.argv[1]), sys.argv[2:]
keys = ["hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20"]
print("| run | model | loss | options | " + " | ".join(k.upper() for k in keys)
      + " | epochs | ended | train seqs/s (shared GPU) | fit s |")
print("|" + "---|" * (len(keys) + 8))
rows = []
for name in names:
    f = out / f"{name}.json"
    if f.exists():
        r = json.loads(f.read_text())
        rows.append(r)
        print(f"| {name} | {r['model']} | {r['loss']} | `{r['options']}` | "
              + " | ".join(f"{r.get('test/' + k, float('nan')):.4f}" for k in keys)
              + f" | {r['epochs']} | {r['ended']} | {r['train_seqs_per_s']:,} | {r['fit_s']} |")
if rows:
    print("| popularity | | | | " + " | ".join(f"{rows[0].get('test/popularity/' + k, float('nan')):.4f}"
                                           for k in keys) + " | | | | |")
print("| published SASRec | | | | 0.0377 | 0.0241 | | | 0.0894 | 0.0386 | | | | |")
print("| target (DuoRec / ICLRec) | | | | >= 0.056 | >= 0.035 | >= 0.075 | >= 0.041 | >= 0.123 | >= 0.054 | | | | |")
EOF
