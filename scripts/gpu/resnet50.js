'use strict';
// skipnorm side of the GPU training benchmark (as resnet50.py): the same steps through fit, whole
// loop in C++. Usage: node resnet50.js DEVICE BATCH SIZE STEPS   (prints one JSON line)
// Environment: DEPTH (50; 18 for the CIFAR case), INPUT (imagenet | cifar), FUSED (auto | off:
// sn.cuda.fusedBatchNorm), GRAPH=1 (cudaGraph: the whole step captured and replayed).
// The rate is measured between a run of WARMUP steps and one of WARMUP + STEPS: the difference
// leaves out start-up, cuDNN autotuning and the CUDA graph's capture alike.
const sn = require('../..');

const [device, batch, size, steps] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)];
const depth = Number(process.env.DEPTH ?? 50);
const input = process.env.INPUT ?? 'imagenet';
const fused = process.env.FUSED ?? 'auto';
const graph = process.env.GRAPH === '1';
const warmup = 5;
(async () => {
  sn.cuda.fusedBatchNorm(fused);
  sn.cuda.cudnnBenchmark(true);
  const classes = input === 'imagenet' ? 1000 : 10;
  const run = async (count) => {
    sn.manualSeed(0);
    const model = sn.models.preactResNet({ depth, shortcut: 'mod', classes, input }).to(device);
    const optimizer = new sn.optim.SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    const x = sn.randn([batch, 3, size, size], { device });
    const y = sn.randint(0, classes, [batch], { device });
    const before = sn.cuda.fusedBatchNormCalls();
    if (device.startsWith('cuda')) sn.cuda.synchronize();
    const start = process.hrtime.bigint();
    await sn.fit(model, { input: x, labels: y }, { optimizer, batchSize: batch, shuffle: false, autocast: 'bfloat16', channelsLast: true, cudaGraph: graph, progressEvery: 1000000, steps: count });
    if (device.startsWith('cuda')) sn.cuda.synchronize();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const calls = sn.cuda.fusedBatchNormCalls() - before;
    for (const t of [x, y]) t.dispose();
    optimizer.dispose();
    model.dispose();
    return { seconds, calls };
  };
  await run(2);  // cuDNN's autotuning for these shapes, once per process
  const short = await run(warmup);
  const long = await run(warmup + steps);
  const imagesPerSecond = (batch * steps) / (long.seconds - short.seconds);
  process.stdout.write(`${JSON.stringify({ imagesPerSecond, depth, input, batch, fused, graph, fusedCalls: long.calls })}\n`);
})();
