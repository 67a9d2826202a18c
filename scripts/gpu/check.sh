#!/usr/bin/env bash
# The GPU verification of issue 8, in one run on the lent GPU machine (see ENVIRONMENT.md, "GPUs"):
# build the addon against that machine's CUDA torch, run the CUDA checks, and benchmark
# ImageNet-shaped pre-activation ResNet-50 training (batch 256, synthetic data, bfloat16 autocast,
# channels-last) in skipnorm and in the machine's PyTorch, side by side. Writes $OUT/gpu-report.md.
#
# The machine has no network: carry lib/ and a production node_modules (scripts/gpu/stage.sh makes
# .gpu-carry/node_modules, 53 MB; carry ['lib', '.gpu-carry']), and a node binary if it has none.
# SKIPNORM_GPU_SMOKE=1 runs the same plumbing on a CPU (tiny sizes, CUDA checks skipped).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
NODE=${NODE:-node}
PY=${PYTHON:-python3}
SMOKE=${SKIPNORM_GPU_SMOKE:-0}
command -v "$NODE" >/dev/null || { echo "check.sh: no node here: carry one (ENVIRONMENT.md) and set NODE"; exit 2; }
# The staged production node_modules, where the full one did not travel.
[ -d node_modules ] || { [ -d .gpu-carry/node_modules ] && ln -s .gpu-carry/node_modules node_modules; } || { echo "check.sh: no node_modules: run scripts/gpu/stage.sh and carry .gpu-carry"; exit 2; }
report="$OUT/gpu-report.md"
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
echo "# GPU verification ($(date -u +%F), ${card:-no GPU})" > "$report"

echo "== build against $($PY -c 'import torch; print(torch.__version__, torch.version.cuda)')"
if [ "$SMOKE" != 1 ]; then SKIPNORM_BUILD_FROM_SOURCE=1 "$NODE" scripts/install.js; fi
"$NODE" lib/cli/main.js info --json | tee "$OUT/info.json"

echo "== CUDA checks"
set +e
"$NODE" scripts/gpu/cuda-checks.js 2>&1 | tee "$OUT/cuda-checks.txt"
checks=${PIPESTATUS[0]}
set -e
echo "CUDA checks: exit $checks (0 passed, 3 no CUDA)" >> "$report"

if [ "$SMOKE" = 1 ]; then DEVICE=cpu BATCH=2 SIZE=64 STEPS=2; else DEVICE=cuda:0 BATCH=256 SIZE=224 STEPS=30; fi
echo "== ResNet-50 training on $DEVICE, batch $BATCH, ${SIZE}x${SIZE}, $STEPS steps"
py=$($PY scripts/gpu/resnet50.py $DEVICE $BATCH $SIZE $STEPS | tail -1)
js=$("$NODE" scripts/gpu/resnet50.js $DEVICE $BATCH $SIZE $STEPS | tail -1)
"$NODE" -e '
const [py, js, label] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2]), process.argv[3]];
const line = `| pre-act ResNet-50, ${label}, bfloat16, channels-last | ${js.imagesPerSecond.toFixed(0)} | ${py.imagesPerSecond.toFixed(0)} | ${(js.imagesPerSecond / py.imagesPerSecond).toFixed(3)} |`;
console.log(["", "| case | skipnorm (images/s) | PyTorch (images/s) | ratio |", "|---|---:|---:|---:|", line].join("\n"));
' "$py" "$js" "$DEVICE batch $BATCH ${SIZE}x${SIZE}" | tee -a "$report"
echo "report: $report"
[ "$checks" = 0 ] || [ "$SMOKE" = 1 ]
