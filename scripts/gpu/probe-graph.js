'use strict';
// skipnorm side of the graphed-probe benchmark (PyTorch's: scripts/bench/spectra.py THREADS DEVICE): the exact Jacobian spectrum
// after the stem of BNNet (c) for 32 images (320 values, float64), eager rows and CUDA-graph
// rows, best of 3 x 3, and the largest relative difference between the two spectra.
// Usage: node probe-graph.js DEVICE   (prints one JSON line, ms)
const sn = require('../..');

const device = process.argv[2];
const graphed = device.startsWith('cuda');

(async () => {
  sn.manualSeed(0);
  const model = sn.models.bnnet({ variant: 'c' }).to(device);
  const x = sn.rand([32, 1, 28, 28], { device });
  const time = async (cudaGraph) => {
    let best = Infinity;
    let values;
    for (let round = 0; round < 3; ++round) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 3; ++i) values = (await sn.spectra.jacobianSpectrum(model, x, { cudaGraph })).singularValues;
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 3e6);
    }
    return { ms: best, values: Array.from(values.dataSync()) };
  };
  await time(false);
  const eager = await time(false);
  const graph = graphed ? await time(true) : null;
  const maxRelDiff = graph ? Math.max(...eager.values.map((v, i) => Math.abs(v - graph.values[i]) / eager.values[0])) : null;
  process.stdout.write(`${JSON.stringify({ eagerMs: eager.ms, graphMs: graph ? graph.ms : null, maxRelDiff, smallest: eager.values.at(-1) })}\n`);
})().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
