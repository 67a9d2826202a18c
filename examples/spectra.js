// Record spectra while training BNNet (variant c) on 32 bundled digits, full batch, as the paper
// does: the Jacobian spectrum at the stem every 5 steps (streamed to a JSON-lines file), then each
// layer's weight spectrum and the curvature and regularity at the end.
// Run: node examples/spectra.js
const os = require('node:os');
const path = require('node:path');
const sn = require('skipnorm');

(async () => {
  const digits = sn.data.digits();
  const loader = new sn.data.DataLoader(digits, { batchSize: 32, seed: 1 });
  const { input, labels } = await loader.batch(0, 0); // 32 images in [0, 1]
  loader.dispose();
  sn.manualSeed(0);
  const model = sn.models.bnnet({ variant: 'c' });
  const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
  const trackFile = path.join(os.tmpdir(), `skipnorm-example-spectra-${process.pid}.jsonl`);
  await sn.fit(model, { input, labels }, {
    optimizer,
    steps: 20,
    trackJacobian: { input, every: 5 },
    trackFile,
    onHook: (e) => {
      if (e.name === 'jacobianSpectrum') console.log(`step ${e.step}: ${e.values.length} singular values in [${e.values[e.values.length - 1].toFixed(3)}, ${e.values[0].toFixed(3)}]`);
    },
  });
  console.log(`spectra written to ${trackFile}`);
  for (const row of await sn.spectra.weightSpectra(model, { inputSize: [1, 28, 28] })) {
    const v = row.singularValues.dataSync();
    console.log(`${row.name.padEnd(14)} ${row.kind.padEnd(12)} ${row.method.padEnd(15)} largest ${v[0].toFixed(3)}`);
    row.singularValues.dispose();
  }
  const d = await sn.spectra.diagnostics(model, { input, labels }, { hessianIterations: 20 });
  console.log(`loss ${d.loss.toFixed(4)}, PL ratio ${d.plRatio.toFixed(4)}, top Hessian eigenvalue ${d.topHessianEigenvalue.toFixed(4)}`);
  sn.dispose([input, labels]);
  optimizer.dispose();
  model.dispose();
  digits.dispose();
})();
