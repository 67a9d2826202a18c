'use strict';
// `npm run bench:memory`: 5,000 full-batch BNNet steps through `fit`, sampling RSS and live tensors
// from the step events; memory must stay flat after warm-up (within 5%). Reports the numbers.
const sn = require('../..');

(async () => {
  sn.manualSeed(0);
  const model = sn.models.bnnet({ variant: 'c' });
  const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
  const data = { input: sn.rand([32, 1, 28, 28]), labels: sn.randint(0, 10, [32]) };
  const samples = [];
  await sn.fit(model, data, {
    optimizer,
    steps: 5000,
    progressEvery: 250,
    onStep: (e) => samples.push({ step: e.step, rss: process.memoryUsage().rss, tensors: sn.memory().tensors }),
  });
  const warm = samples.find((s) => s.step === 500);
  const last = samples[samples.length - 1];
  const mb = (b) => (b / 1048576).toFixed(1);
  for (const s of samples) console.log(`step ${String(s.step).padStart(5)}  rss ${mb(s.rss)} MB  live tensors ${s.tensors}`);
  const growth = (last.rss - warm.rss) / warm.rss;
  console.log(`RSS from step 500 to 5000: ${mb(warm.rss)} -> ${mb(last.rss)} MB (${(100 * growth).toFixed(2)}%); live tensors ${warm.tensors} -> ${last.tensors}`);
  const flat = Math.abs(growth) <= 0.05 && last.tensors === warm.tensors;
  console.log(flat ? 'flat: yes' : 'flat: NO');
  process.exitCode = flat ? 0 : 1;
})();
