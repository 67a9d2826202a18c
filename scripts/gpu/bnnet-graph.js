'use strict';
// skipnorm side of the CUDA-graph benchmark (as bnnet-graph.py): full-batch BNNet (c) training
// steps, SGD lr 0.1 on a fixed batch, eager and with cudaGraph, per-step time as the difference
// between a long and a short fit (so the warm-up and the capture are not counted). Also checks
// that the graphed steps give the eager steps' results (cuDNN deterministic, same initial weights).
// Usage: node bnnet-graph.js DEVICE BATCH STEPS   (prints one JSON line)
const sn = require('../..');

const [device, batch, steps] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const sync = () => device.startsWith('cuda') && sn.cuda.synchronize();

function setup(initial) {
  const model = sn.models.bnnet({ variant: 'c' });
  if (initial) model.loadStateDict(initial);
  model.to(device);
  return { model, optimizer: new sn.optim.SGD(model, { lr: 0.1 }) };
}

async function secondsPerStep(cudaGraph, input, labels) {
  const { model, optimizer } = setup();
  const time = async (n) => {
    sync();
    const start = process.hrtime.bigint();
    await sn.fit(model, { input, labels }, { optimizer, steps: n, cudaGraph, progressEvery: 1e9 });
    sync();
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  await time(20);
  const short = await time(steps / 5);
  const long = await time(steps + steps / 5);
  model.dispose();
  optimizer.dispose();
  return (long - short) / steps;
}

// Per-step losses and final parameters of `steps` eager and graphed steps from the same weights.
async function sameResults(input, labels, n) {
  const before = sn.cuda.cudnnDeterministic();
  sn.cuda.cudnnDeterministic(true);
  sn.manualSeed(7);
  const initial = sn.models.bnnet({ variant: 'c' }).stateDict();
  const runs = [];
  for (const cudaGraph of [false, true]) {
    const { model, optimizer } = setup(initial);
    const losses = [];
    await sn.fit(model, { input, labels }, { optimizer, steps: n, cudaGraph, onStep: (e) => losses.push(e.loss) });
    runs.push({ losses, params: model.parameters().map((p) => Array.from(p.to('cpu').dataSync())) });
    model.dispose();
    optimizer.dispose();
  }
  sn.cuda.cudnnDeterministic(before);
  let maxParamDiff = 0;
  runs[0].params.forEach((p, i) => p.forEach((v, j) => (maxParamDiff = Math.max(maxParamDiff, Math.abs(v - runs[1].params[i][j])))));
  const maxLossDiff = Math.max(...runs[0].losses.map((l, i) => Math.abs(l - runs[1].losses[i])));
  return { identical: maxParamDiff === 0 && maxLossDiff === 0, maxParamDiff, maxLossDiff, lossFirst: runs[0].losses[0], lossLast: runs[0].losses.at(-1) };
}

(async () => {
  sn.manualSeed(0);
  const input = sn.rand([batch, 1, 28, 28], { device });
  const labels = sn.randint(0, 10, [batch], { device });
  const check = device.startsWith('cuda') ? await sameResults(input, labels, 50) : null;
  const eager = await secondsPerStep(false, input, labels);
  const graph = device.startsWith('cuda') ? await secondsPerStep(true, input, labels) : null;
  process.stdout.write(`${JSON.stringify({ eagerUs: eager * 1e6, graphUs: graph === null ? null : graph * 1e6, check })}\n`);
})().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
