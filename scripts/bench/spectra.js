'use strict';
// skipnorm side of the spectra benchmark: the exact BNNet probe (as spectra.py), plus numbers
// with no PyTorch counterpart printed to stderr: the circular spectra of every convolution of
// pre-activation ResNet-18 at 32x32, and the overhead of tracking the probe every 100 steps of
// full-batch BNNet training.
const sn = require('../..');

sn.setNumThreads(Number(process.argv[2]));
(async () => {
  sn.manualSeed(0);
  const model = sn.models.bnnet({ variant: 'c' });
  const x = sn.rand([32, 1, 28, 28]);
  (await sn.spectra.jacobianSpectrum(model, x)).singularValues.dispose();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 3; i++) (await sn.spectra.jacobianSpectrum(model, x)).singularValues.dispose();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6 / 3);
  }

  const resnet = sn.models.preactResNet({ depth: 18 });
  let start = process.hrtime.bigint();
  const rows = await sn.spectra.weightSpectra(resnet, { inputSize: [3, 32, 32] });
  const circular = Number(process.hrtime.bigint() - start) / 1e9;
  const counts = rows.reduce((acc, r) => ({ ...acc, [r.method]: (acc[r.method] ?? 0) + 1 }), {});
  sn.dispose(rows.map((r) => r.singularValues));

  const labels = sn.randint(0, 10, [32]);
  const timeFit = async (tracked) => {
    sn.manualSeed(1);
    const m = sn.models.bnnet({ variant: 'c' });
    const optimizer = new sn.optim.SGD(m, { lr: 0.05 });
    const t = process.hrtime.bigint();
    await sn.fit(m, { input: x, labels }, { optimizer, steps: 600, trackJacobian: tracked ? { input: x, every: 100 } : undefined });
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  const plain = Math.min(await timeFit(false), await timeFit(false));
  const tracked = Math.min(await timeFit(true), await timeFit(true));
  process.stderr.write(
    `circular spectra of every convolution of pre-act ResNet-18 at 32x32: ${circular.toFixed(1)} s (${JSON.stringify(counts)})\n` +
      `tracking the exact probe every 100 steps of full-batch BNNet: ${plain.toFixed(2)} s -> ${tracked.toFixed(2)} s for 600 steps (+${(100 * (tracked / plain - 1)).toFixed(1)}%)\n`,
  );
  process.stdout.write(`${JSON.stringify({ 'exact BNNet probe at the stem (32 images, 320 values)': best })}\n`);
})();
