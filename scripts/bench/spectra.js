'use strict';
// skipnorm side of the spectra benchmark: the exact BNNet probe (as spectra.py), plus numbers
// with no PyTorch counterpart printed to stderr: the circular spectra of every convolution of
// pre-activation ResNet-18 at 32x32. Tracking costs are in tracking.js.
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

  process.stderr.write(
    `circular spectra of every convolution of pre-act ResNet-18 at 32x32: ${circular.toFixed(1)} s (${JSON.stringify(counts)})\n`,
  );
  process.stdout.write(`${JSON.stringify({ 'exact BNNet probe at the stem (32 images, 320 values)': best })}\n`);
})();
