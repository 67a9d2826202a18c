'use strict';
// skipnorm side of the end-to-end ImageNet input-pipeline benchmark (as pipeline.py), in images/s:
// the native loader alone over an image folder of JPEGs (make-jpegs.py) with randomResizedCrop 224
// + horizontalFlip + normalize, channels-last batches on THREADS threads; pre-activation ResNet-50
// trained by fit from that loader (the model, optimiser and options of resnet50.js); the same two
// from the folder packed at 256x256 (ROOT.snpack, packed once, not timed); and, as the reference
// the others are a fraction of, the same fit on random tensors already on the device.
// Each rate is over STEPS batches after WARMUP (default 14) that fill the pipeline and run cuDNN's
// autotuning; fit's rates come from its own clock at step events (each waits for the device).
// On a GPU, also from the packed file: the step under a CUDA graph, and both with fused batch norm
// off (sn.cuda.fusedBatchNorm), which is on by default there.
// The data API decodes on the CPU only: with no GPU-decoding option, the line says so (gpuDecode).
// Usage: node pipeline.js DEVICE ROOT BATCH STEPS THREADS   (prints one JSON line)
// SIZE=64 WARMUP=1 shrink the crops and the warm-up for a run on a CPU.
const fs = require('node:fs');
const os = require('node:os');
const sn = require('../..');

const [device, root] = process.argv.slice(2, 4);
const [batch, steps, threads] = process.argv.slice(4, 7).map(Number);
const size = Number(process.env.SIZE || 224);
const warmup = Number(process.env.WARMUP || 14);
if (!root || ![batch, steps, threads, size, warmup].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: node pipeline.js DEVICE ROOT BATCH STEPS THREADS   (SIZE, WARMUP: positive integers)');
  process.exit(2);
}
const PACKED_SIZE = 256;
const PREFETCH = 2; // the loader's default, stated
const T = sn.data.transforms;
const transforms = [T.randomResizedCrop(size), T.horizontalFlip(), T.normalize(T.IMAGENET_MEAN, T.IMAGENET_STD)];
// dropLast: every step a full batch (one shape for cuDNN), as PyTorch's drop_last=True.
// On a GPU, the batches fit asks for by itself: uint8 in pinned memory, normalised on the device.
const gpu = device.startsWith('cuda');
const loaderOptions = { batchSize: batch, threads, transforms, channelsLast: true, dropLast: true, prefetch: PREFETCH, seed: 0, ...(gpu ? { output: 'uint8', pinMemory: true } : {}) };

// The loader alone: batches handed over on the host (no copy to the device), across epochs.
async function loaderRate(ds) {
  const loader = new sn.data.DataLoader(ds, loaderOptions);
  const perEpoch = loader.batchesPerEpoch;
  let start = 0n;
  for (let k = 0; k < warmup + steps; k++) {
    if (k === warmup) start = process.hrtime.bigint();
    const b = await loader.batch(Math.floor(k / perEpoch), k % perEpoch);
    sn.dispose([b.input, b.labels]);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const skipped = loader.skipped;
  loader.dispose();
  return { rate: (batch * steps) / seconds, skipped };
}

(async () => {
  sn.manualSeed(0);
  sn.cuda.cudnnBenchmark(true);
  const model = sn.models.preactResNet({ depth: 50, shortcut: 'mod', classes: 1000, input: 'imagenet' }).to(device);
  const optimizer = new sn.optim.SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const trainOptions = { optimizer, autocast: 'bfloat16', channelsLast: true };

  // One fit of WARMUP + STEPS steps; the rate between the step events at WARMUP and at the end.
  async function fitRate(data, extra = {}) {
    const events = [];
    await sn.fit(model, data, { ...trainOptions, ...extra, steps: warmup + steps, progressEvery: warmup, onStep: (e) => events.push(e) });
    const first = events.find((e) => e.step === warmup);
    const last = events[events.length - 1];
    return (batch * (last.step - first.step)) / (last.elapsed - first.elapsed);
  }

  // Synthetic first: it also runs cuDNN's autotuning for the loaders' batches (the same shapes).
  const input = sn.randn([batch, 3, size, size], { device });
  const labels = sn.randint(0, 1000, [batch], { device });
  const syntheticFit = await fitRate({ input, labels }, { batchSize: batch, shuffle: false });
  sn.dispose([input, labels]);

  const folder = await sn.data.imageFolder({ root });
  const packedFile = `${root.replace(/\/+$/, '')}.snpack`;
  let packed = fs.existsSync(packedFile) ? await sn.data.packed(packedFile) : null;
  if (!packed || packed.length !== folder.length) {
    packed?.dispose();
    await folder.pack(packedFile, { size: PACKED_SIZE, threads: os.availableParallelism() });
    packed = await sn.data.packed(packedFile);
  }

  const result = { device, batch, size, steps, warmup, threads, prefetch: PREFETCH, output: loaderOptions.output ?? 'float', images: folder.length, packedSize: PACKED_SIZE, syntheticFit };
  let skipped = 0;
  for (const [name, ds] of [['folder', folder], ['packed', packed]]) {
    const alone = await loaderRate(ds);
    const loader = new sn.data.DataLoader(ds, loaderOptions);
    result[`${name}Loader`] = alone.rate;
    result[`${name}Fit`] = await fitRate(loader);
    skipped += alone.skipped + loader.skipped;
    loader.dispose();
  }
  // On a GPU: whole-step CUDA graphs fed by the loader (each batch copied into the graph's static
  // input), and both without fused batch norm, from the packed file (the faster source).
  if (gpu) {
    for (const [key, fused, cudaGraph] of [['packedFitGraph', 'auto', true], ['packedFitUnfused', 'off', false], ['packedFitGraphUnfused', 'off', true]]) {
      sn.cuda.fusedBatchNorm(fused);
      const loader = new sn.data.DataLoader(packed, loaderOptions);
      // A failure here becomes its row's message: the rows above are kept.
      result[key] = await fitRate(loader, { cudaGraph }).catch((e) => String(e.message ?? e).split('\n')[0]);
      loader.dispose();
    }
    sn.cuda.fusedBatchNorm('auto');
  }
  result.skipped = skipped;
  result.gpuDecode = 'not available in this build';
  process.stdout.write(`${JSON.stringify(result)}\n`);
  folder.dispose();
  packed.dispose();
  optimizer.dispose();
  model.dispose();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
