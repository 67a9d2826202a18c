#!/usr/bin/env bash
# The GPU verification, in one run on the lent GPU machine (see ENVIRONMENT.md, "GPUs"):
# build the addon against that machine's CUDA torch, run the CUDA checks, and benchmark, side by
# side with the machine's PyTorch: ImageNet-shaped pre-activation ResNet-50 training (batch 256,
# synthetic data, bfloat16 autocast, channels-last), full-batch BNNet steps with CUDA graphs
# against PyTorch eager, and the same ResNet-50 training fed by the input pipeline from generated
# ImageNet-like JPEGs (skipnorm's loader, plain and packed, against torchvision's). Writes
# $OUT/gpu-report.md (scripts/gpu/record.js puts it into docs/benchmarks.md) and the logs.
#
# The machine has no network: run scripts/gpu/stage.sh here first and carry ['lib', '.gpu-carry']
# (node, a production node_modules, the Debian packages of the image libraries and Gloo's headers).
# SKIPNORM_GPU_SMOKE=1 runs the same plumbing on a CPU machine (tiny sizes, no build, no CUDA);
# SKIPNORM_GPU_BENCH=0 stops after the CUDA checks; SKIPNORM_GPU_STAGES picks stages (a comma list
# of checks, baseline (ResNet-50, BNNet graphs, the probe), pipeline, fusion; default all) to fit a short device lease;
# SKIPNORM_GPU_COMPILE=0 leaves torch.compile out of the fusion stage (about a minute per model).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
SMOKE=${SKIPNORM_GPU_SMOKE:-0}
carry=.gpu-carry
started=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - started )) s] $*"; }
STAGES=${SKIPNORM_GPU_STAGES:-checks,baseline,pipeline,fusion}
stage() { [[ ",$STAGES," == *",$1,"* ]]; }
# One JSON line from a benchmark; a failed one becomes a row saying so instead of ending the run.
json_of() {
  local line what="$*"
  line=$("$@" | tail -1) && case "$line" in "{"*|"["*) echo "$line"; return ;; esac
  echo "{\"failed\": \"${what//[\"\\]/}\"}"
}

# What the machine lacks, from the carried stage.
if ! command -v node >/dev/null; then
  [ -f $carry/node.xz ] || { echo "check.sh: no node here and no $carry/node.xz: run scripts/gpu/stage.sh"; exit 2; }
  mkdir -p /tmp/skipnorm-node/bin && xz -dc $carry/node.xz > /tmp/skipnorm-node/bin/node && chmod +x /tmp/skipnorm-node/bin/node
  export PATH=/tmp/skipnorm-node/bin:$PATH
fi
if [ ! -d node_modules ]; then
  [ -f $carry/node_modules.tar.xz ] || { echo "check.sh: no node_modules: run scripts/gpu/stage.sh"; exit 2; }
  tar -xJf $carry/node_modules.tar.xz
fi
if [ "$SMOKE" != 1 ] && [ -d $carry/debs ]; then
  # Unpacked into a private root, never into /; CPATH for the install's header check, the CMake
  # prefix for find_package, the loader path for libjpeg.so.62 at run time.
  root=/tmp/skipnorm-sysroot
  for f in $carry/debs/*.deb; do dpkg -x "$f" $root; done
  # Absolute links (zlib's libz.so -> /lib/...) would point outside the private root.
  for link in $(find $root -type l); do
    target=$(readlink "$link")
    case "$target" in /*) ln -sfn "$root$target" "$link" ;; esac
  done
  export CPATH=$root/usr/include:$root/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}
  export CMAKE_PREFIX_PATH=$root/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

report="$OUT/gpu-report.md"
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
torch=$($PY -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')
echo "GPU verification, $(date -u +%F): ${card:-no GPU}, PyTorch $torch, node $(node --version), $(nproc) cores" | tee "$report"

stamp "build against PyTorch $torch"
if [ "$SMOKE" != 1 ]; then
  if ! SKIPNORM_BUILD_FROM_SOURCE=1 node scripts/install.js > "$OUT/build.log" 2>&1; then
    tail -30 "$OUT/build.log"
    # Every compiler error at once, for a single fix-and-rerun.
    [ -f build/build.ninja ] && (cd build && ninja -k 0 2>&1 | grep -E 'error|Error' | head -60)
    exit 1
  fi
  grep -E 'CUDA toolkit|building the addon' "$OUT/build.log" || true
fi
node lib/cli/main.js info --json > "$OUT/info.json"
node lib/cli/main.js info

checks=0
if stage checks; then
  stamp "CUDA checks"
  set +e
  node scripts/gpu/cuda-checks.js 2>&1 | tee "$OUT/cuda-checks.txt"
  checks=${PIPESTATUS[0]}
  set -e
  echo "CUDA checks (scripts/gpu/cuda-checks.js): exit $checks ($( [ "$checks" = 0 ] && echo all passed || echo FAILED))" >> "$report"
fi

if [ "${SKIPNORM_GPU_BENCH:-1}" = 0 ]; then stamp "benchmarks skipped (SKIPNORM_GPU_BENCH=0)"; [ "$checks" = 0 ]; exit; fi
if [ "$SMOKE" = 1 ]; then DEVICE=cpu BATCH=2 SIZE=64 STEPS=2 GSTEPS=50; else DEVICE=cuda:0 BATCH=256 SIZE=224 STEPS=30 GSTEPS=2000; fi
if stage baseline; then
stamp "ResNet-50 training on $DEVICE, batch $BATCH, ${SIZE}x${SIZE}, $STEPS steps, twice each, alternately"
py1=$($PY scripts/gpu/resnet50.py $DEVICE $BATCH $SIZE $STEPS | tail -1)
js1=$(node scripts/gpu/resnet50.js $DEVICE $BATCH $SIZE $STEPS | tail -1)
py2=$($PY scripts/gpu/resnet50.py $DEVICE $BATCH $SIZE $STEPS | tail -1)
js2=$(node scripts/gpu/resnet50.js $DEVICE $BATCH $SIZE $STEPS | tail -1)

stamp "BNNet full batch of 32: PyTorch eager, skipnorm eager and cudaGraph"
pyg=$($PY scripts/gpu/bnnet-graph.py $DEVICE 32 $GSTEPS | tail -1)
jsg=$(node scripts/gpu/bnnet-graph.js $DEVICE 32 $GSTEPS | tail -1)

stamp "exact BNNet probe at the stem, 32 images: PyTorch reference, skipnorm eager and cudaGraph"
pyp=$($PY scripts/bench/spectra.py "$(nproc)" $DEVICE | tail -1)
jsp=$(node scripts/gpu/probe-graph.js $DEVICE | tail -1)

node -e '
const [py1, js1, py2, js2, pyg, jsg, pyp, jsp] = process.argv.slice(1, 9).map((s) => JSON.parse(s));
const referenceMs = Object.values(pyp)[0];
const label = process.argv[9];
const py = Math.max(py1.imagesPerSecond, py2.imagesPerSecond), js = Math.max(js1.imagesPerSecond, js2.imagesPerSecond);
const lines = [
  "",
  "| case | skipnorm | PyTorch | ratio |",
  "|---|---:|---:|---:|",
  `| pre-act ResNet-50 training, ${label}, bfloat16, channels-last, cuDNN benchmark (images/s, best of 2) | ${js.toFixed(0)} | ${py.toFixed(0)} | ${(js / py).toFixed(3)} |`,
  `| BNNet (c) full-batch step, 32 images, eager (µs/step) | ${jsg.eagerUs.toFixed(1)} | ${pyg.eagerUs.toFixed(1)} | ${(jsg.eagerUs / pyg.eagerUs).toFixed(3)} |`,
];
if (jsg.graphUs !== null) lines.push(`| BNNet (c) full-batch step, 32 images, skipnorm cudaGraph vs PyTorch eager (µs/step) | ${jsg.graphUs.toFixed(1)} | ${pyg.eagerUs.toFixed(1)} | ${(jsg.graphUs / pyg.eagerUs).toFixed(3)} |`);
lines.push(`| exact BNNet probe at the stem, 32 images (320 values), skipnorm one row per pass, float64, vs PyTorch jacobian + svdvals float32 (ms) | ${jsp.eagerMs.toFixed(1)} | ${referenceMs.toFixed(1)} | ${(jsp.eagerMs / referenceMs).toFixed(3)} |`);
if (jsp.graphMs !== null) lines.push(`| the same probe, skipnorm cudaGraph rows (ms) | ${jsp.graphMs.toFixed(1)} | ${referenceMs.toFixed(1)} | ${(jsp.graphMs / referenceMs).toFixed(3)} |`);
lines.push(`| the same probe, skipnorm batched rows (${label.startsWith("cuda") ? "the GPU default" : "rowsPerPass 32"}) (ms) | ${jsp.batchedMs.toFixed(1)} | ${referenceMs.toFixed(1)} | ${(jsp.batchedMs / referenceMs).toFixed(3)} |`);
lines.push("", `Against one row per pass, the largest difference, relative to the largest singular value: batched rows ${jsp.batchedRelDiff.toExponential(1)}${jsp.maxRelDiff !== null ? `, cudaGraph rows ${jsp.maxRelDiff.toExponential(1)}` : ""}.`);
if (jsg.check) lines.push("", `cudaGraph vs eager, 50 steps from the same weights (cuDNN deterministic): ${jsg.check.identical ? "identical" : "NOT identical"} (largest loss difference ${jsg.check.maxLossDiff}, largest parameter difference ${jsg.check.maxParamDiff}; loss ${jsg.check.lossFirst.toFixed(4)} -> ${jsg.check.lossLast.toFixed(4)})`);
console.log(lines.join("\n"));
 ' "$py1" "$js1" "$py2" "$js2" "$pyg" "$jsg" "$pyp" "$jsp" "$DEVICE batch $BATCH ${SIZE}x${SIZE}" | tee -a "$report"
fi

# End-to-end input pipeline: ImageNet-like JPEGs (make-jpegs.py) decoded and augmented on the CPU,
# feeding the same ResNet-50 training, beside the synthetic-data rate (pipeline.js, pipeline.py).
# Expected on the GPU machine: about 3 minutes in all, well under 4 (the packed file's CUDA-graph and
# unfused runs add about 15 s per thread count). Writing the 5,200 JPEGs
# takes ~20 s; each run ~15 s of start-up and cuDNN autotuning, then per case 14 warm-up and 42
# timed batches of 256 (42: three rounds of a 14-worker PyTorch loader, whose workers each
# deliver whole batches); skipnorm with 4 loader threads ~45 s (packing the folder included),
# with 14 ~30 s; PyTorch with 14 workers ~40 s.
if stage pipeline; then
if [ "$SMOKE" = 1 ]; then PCOUNT=64 PBATCH=4 PSTEPS=2 PWARM=2 PTHREADS=2 PWORKERS=2; else PCOUNT=5200 PBATCH=256 PSTEPS=42 PWARM=14 PTHREADS="4 14" PWORKERS=14; fi
jpegs=/tmp/skipnorm-imagenet-like
stamp "input pipeline: $PCOUNT ImageNet-like JPEGs in $jpegs"
$PY scripts/gpu/make-jpegs.py $jpegs $PCOUNT | tail -1
pipe=()
for t in $PTHREADS; do
  stamp "input pipeline, skipnorm, $t loader threads, batch $PBATCH, $PSTEPS steps after $PWARM"
  pipe+=("$(json_of env SIZE=$SIZE WARMUP=$PWARM node scripts/gpu/pipeline.js $DEVICE $jpegs $PBATCH $PSTEPS $t)")
  echo "${pipe[-1]}" | tee -a "$OUT/pipeline.jsonl"
done
stamp "input pipeline, PyTorch, $PWORKERS workers"
pypipe=$(json_of env SIZE=$SIZE WARMUP=$PWARM $PY scripts/gpu/pipeline.py $DEVICE $jpegs $PBATCH $PSTEPS $PWORKERS)
echo "$pypipe" | tee -a "$OUT/pipeline.jsonl"
node -e '
const [label, pyLine, ...jsLines] = process.argv.slice(1);
const py = JSON.parse(pyLine), js = jsLines.map((s) => JSON.parse(s));
const ok = js.filter((r) => !r.failed);
const first = ok[0] ?? {};
const lines = [
  "",
  `End-to-end input pipeline, ${label}: ${first.images ?? "?"} generated ImageNet-like JPEGs (about 500x375, quality 90, a few CMYK, greyscale and PNG), random resized crop + flip + normalise into channels-last batches, pre-activation ResNet-50 trained from them (bfloat16, channels-last, SGD momentum); images/s over the timed steps, each run against its own synthetic-data rate (PyTorch against that of the skipnorm run with the most loader threads).`,
  "",
  "| case | images/s | ratio to skipnorm synthetic | loader threads |",
  "|---|---:|---:|---:|",
];
const row = (name, v, reference, threads) =>
  lines.push(typeof v === "string" ? `| ${name}: FAILED (${v.replace(/\|/g, "/")}) | | | ${threads} |` : `| ${name} | ${v.toFixed(0)} | ${(v / reference).toFixed(3)} | ${threads} |`);
for (const r of js) {
  if (r.failed) {
    lines.push(`| skipnorm run FAILED: ${r.failed} | | | |`);
    continue;
  }
  row("skipnorm: training on random tensors on the device (synthetic)", r.syntheticFit, r.syntheticFit, "–");
  row("skipnorm: loader alone, JPEG folder", r.folderLoader, r.syntheticFit, r.threads);
  row("skipnorm: training from the JPEG folder", r.folderFit, r.syntheticFit, r.threads);
  row(`skipnorm: loader alone, packed ${r.packedSize}x${r.packedSize}`, r.packedLoader, r.syntheticFit, r.threads);
  row(`skipnorm: training from the packed ${r.packedSize}x${r.packedSize} file`, r.packedFit, r.syntheticFit, r.threads);
  if (r.packedFitGraph !== undefined) {
    row("skipnorm: the same, the step under a CUDA graph", r.packedFitGraph, r.syntheticFit, r.threads);
    row("skipnorm: the same without fused batch norm", r.packedFitUnfused, r.syntheticFit, r.threads);
    row("skipnorm: the same without fused batch norm, under a CUDA graph", r.packedFitGraphUnfused, r.syntheticFit, r.threads);
  }
}
const reference = ok.length ? ok[ok.length - 1].syntheticFit : NaN;
if (py.failed) lines.push(`| PyTorch run FAILED: ${py.failed} | | | |`);
else if (py.skipped) lines.push(`| PyTorch: not run (${py.skipped}) | | | |`);
else {
  row("PyTorch: training on random tensors on the device (synthetic)", py.syntheticFit, reference, "–");
  row(`PyTorch: DataLoader alone (ImageFolder, PIL transforms${py.pinMemory ? ", pinned" : ""})`, py.folderLoader, reference, `${py.workers} workers`);
  row("PyTorch: training from that DataLoader", py.folderFit, reference, `${py.workers} workers`);
}
const skipped = ok.reduce((n, r) => n + r.skipped, 0);
const prefetch = `Loader prefetch: skipnorm ${first.prefetch ?? "?"} batches${py.prefetchFactor ? `, PyTorch ${py.prefetchFactor} per worker` : ""}.`;
lines.push("", `GPU decoding in skipnorm: ${first.gpuDecode ?? "?"}. Corrupt files skipped by skipnorm: ${skipped}. ${prefetch}`);
console.log(lines.join("\n"));
 ' "$DEVICE batch $PBATCH ${SIZE}x${SIZE}, $PSTEPS timed steps after $PWARM" "$pypipe" "${pipe[@]}" | tee -a "$report"
fi
# Fused batch norm + ReLU (sn.cuda.fusedBatchNorm) and whole-step CUDA graphs, in one run on this
# card: PyTorch eager and torch.compile; skipnorm unfused, fused, and each under a CUDA graph.
# Pre-activation ResNet-50 (ImageNet shape, batch 256) and ResNet-18 (CIFAR shape, batch 512),
# bfloat16 autocast, channels-last, synthetic data on the device. Expected: about 20 s per
# skipnorm run, 30 s per eager PyTorch run, 60-90 s per torch.compile run.
if stage fusion; then
  if [ "$SMOKE" = 1 ]; then FCASES="50:imagenet:2:64 18:cifar:4:32" FSTEPS=2; else FCASES="50:imagenet:256:224 18:cifar:512:32" FSTEPS=30; fi
  rows=()
  for c in $FCASES; do
    IFS=: read -r depth input fbatch fsize <<<"$c"
    stamp "fusion: pre-activation ResNet-$depth, $input shape, batch $fbatch, $FSTEPS steps"
    envs="DEPTH=$depth INPUT=$input"
    rows+=("$(json_of env $envs $PY scripts/gpu/resnet50.py $DEVICE $fbatch $fsize $FSTEPS)")
    if [ "${SKIPNORM_GPU_COMPILE:-1}" = 1 ] && [ "$SMOKE" != 1 ]; then
      rows+=("$(json_of env $envs COMPILE=1 $PY scripts/gpu/resnet50.py $DEVICE $fbatch $fsize $FSTEPS)")
    else
      rows+=('{"skipped": "torch.compile"}')
    fi
    for variant in "FUSED=off" "FUSED=auto" "FUSED=off GRAPH=1" "FUSED=auto GRAPH=1"; do
      rows+=("$(json_of env $envs $variant node scripts/gpu/resnet50.js $DEVICE $fbatch $fsize $FSTEPS)")
    done
  done
  printf '%s\n' "${rows[@]}" > "$OUT/fusion.jsonl"
  node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const lines = ["", "Fused batch norm + ReLU and CUDA graphs, pre-activation ResNets, bfloat16 autocast, channels-last, synthetic data (images/s; ratio to PyTorch eager in the same run):", "", "| model | PyTorch eager | torch.compile | skipnorm unfused | fused | unfused + CUDA graph | fused + CUDA graph |", "|---|---:|---:|---:|---:|---:|---:|"];
for (let i = 0; i < rows.length; i += 6) {
  const [eager, compiled, ...js] = rows.slice(i, i + 6);
  const base = eager.imagesPerSecond;
  const cell = (r) => (r.failed ? "FAILED" : r.skipped ? "not run" : `${r.imagesPerSecond.toFixed(0)} (${(r.imagesPerSecond / base).toFixed(2)})`);
  const first = js.find((r) => !r.failed) ?? {};
  lines.push(`| ResNet-${first.depth ?? "?"}, ${first.input ?? "?"}, batch ${first.batch ?? "?"} | ${cell(eager)} | ${cell(compiled)}${compiled.warmupSeconds ? `, ${compiled.warmupSeconds.toFixed(0)} s to compile` : ""} | ${js.map(cell).join(" | ")} |`);
}
console.log(lines.join("\n"));
' "$OUT/fusion.jsonl" | tee -a "$report"
  stamp "fusion: the operation alone, forward + backward, bfloat16 channels-last"
  op=$(json_of node scripts/gpu/fused-op.js $DEVICE)
  echo "$op" > "$OUT/fused-op.json"
  node -e '
const r = JSON.parse(process.argv[1]);
if (!Array.isArray(r)) { console.log(`\nfused-op.js FAILED: ${r.failed}`); process.exit(0); }
const lines = ["", "The operation alone (scripts/gpu/fused-op.js), forward + backward, bfloat16, channels-last: LibTorch batch norm and ReLU (cuDNN) against the fused kernels; GB/s counts the least traffic of the fused pass.", "", "| shape | residual | unfused (ms) | fused (ms) | speed-up | fused GB/s |", "|---|---|---:|---:|---:|---:|"];
for (const x of r) lines.push(`| ${JSON.stringify(x.shape)} | ${x.residual ? "relu(bn + z)" : "relu(bn)"} | ${x.unfusedMs.toFixed(3)} | ${x.fusedMs.toFixed(3)} | ${(x.unfusedMs / x.fusedMs).toFixed(2)} | ${x.fusedGBs.toFixed(0)} |`);
console.log(lines.join("\n"));
' "$op" | tee -a "$report"
fi
stamp "done: $report"
[ "$checks" = 0 ] || [ "$SMOKE" = 1 ]
