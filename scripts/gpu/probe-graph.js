'use strict';
// skipnorm side of the probe benchmark (PyTorch's: scripts/bench/spectra.py THREADS DEVICE): the
// exact Jacobian spectrum after the stem of BNNet (c) for 32 images (320 values, float64), one row
// per backward pass (eager, and replayed from a CUDA graph) and batched rows (the GPU default:
// stacked copies of the batch, one backward pass for many rows); best of 3 x 3, and the largest
// difference of each from the eager rows, relative to the largest singular value.
// Usage: node probe-graph.js DEVICE   (prints one JSON line, ms)
const sn = require('../..');

const device = process.argv[2];
const onGpu = device.startsWith('cuda');

(async () => {
  sn.manualSeed(0);
  const model = sn.models.bnnet({ variant: 'c' }).to(device);
  const x = sn.rand([32, 1, 28, 28], { device });
  const time = async (options) => {
    let best = Infinity;
    let values;
    for (let round = 0; round < 3; ++round) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < 3; ++i) values = (await sn.spectra.jacobianSpectrum(model, x, options)).singularValues;
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 3e6);
    }
    return { ms: best, values: Array.from(values.dataSync()) };
  };
  const rowsOnly = { rowsPerPass: 1 };
  await time(rowsOnly);
  const rows = await time(rowsOnly);
  const graph = onGpu ? await time({ cudaGraph: true }) : null;
  const batched = await time({ rowsPerPass: onGpu ? undefined : 32 });
  const diff = (other) => (other ? Math.max(...rows.values.map((v, i) => Math.abs(v - other.values[i]) / rows.values[0])) : null);
  process.stdout.write(
    `${JSON.stringify({ eagerMs: rows.ms, graphMs: graph ? graph.ms : null, batchedMs: batched.ms, maxRelDiff: diff(graph), batchedRelDiff: diff(batched), smallest: rows.values.at(-1) })}\n`,
  );
})().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
