'use strict';
// The cost of tracking during training (no PyTorch counterpart; printed once by `npm run bench --
// tracking`): pre-activation ResNet-18 at batch 128 on 32x32 inputs, trained with fit for
// STEPS steps (default 100), plain and then measuring every 100 steps (so once per 100 steps):
// the exact later-layer Jacobian spectrum at the stem of a probe of 8 images (80 values), and the
// diagnostics (loss, PL ratio, gradient norms) of a training-sized batch. Also the full-batch
// BNNet case, whose 3.5 ms steps make any probe expensive by comparison.
const sn = require('../..');

sn.setNumThreads(Number(process.argv[2]));
const steps = Number(process.env.BENCH_TRACKING_STEPS || 100);

async function timeFit(build, data, options) {
  sn.manualSeed(1);
  const model = build();
  const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
  const start = process.hrtime.bigint();
  await sn.fit(model, data, { optimizer, ...options });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  optimizer.dispose();
  model.dispose();
  return seconds;
}

const overhead = (plain, tracked) => `${plain.toFixed(1)} s -> ${tracked.toFixed(1)} s (${tracked >= plain ? '+' : ''}${(100 * (tracked / plain - 1)).toFixed(1)}%)`;

(async () => {
  const lines = [];
  {
    const x = sn.rand([32, 1, 28, 28]);
    const labels = sn.randint(0, 10, [32]);
    const build = () => sn.models.bnnet({ variant: 'c' });
    const plain = Math.min(await timeFit(build, { input: x, labels }, { steps: 600 }), await timeFit(build, { input: x, labels }, { steps: 600 }));
    const track = { trackJacobian: { input: x, every: 100 } };
    const tracked = Math.min(await timeFit(build, { input: x, labels }, { steps: 600, ...track }), await timeFit(build, { input: x, labels }, { steps: 600, ...track }));
    lines.push(`| BNNet c, full batch of 32, 600 steps | exact spectrum at the stem, 32 probe images (320 values) | ${overhead(plain, tracked)} |`);
  }
  {
    const x = sn.rand([1024, 3, 32, 32]);
    const labels = sn.randint(0, 10, [1024]);
    const probe = sn.rand([8, 3, 32, 32]);
    const batch = { input: x.narrow(0, 0, 128), labels: labels.narrow(0, 0, 128) };
    const build = () => sn.models.preactResNet({ depth: 18 });
    const options = { steps, batchSize: 128 };
    const plain = await timeFit(build, { input: x, labels }, options);
    const spectrum = await timeFit(build, { input: x, labels }, { ...options, trackJacobian: { input: probe, every: 100 } });
    const diagnostics = await timeFit(build, { input: x, labels }, { ...options, trackDiagnostics: { ...batch, every: 100 } });
    lines.push(`| pre-act ResNet-18, batch 128, ${steps} steps | exact spectrum at the stem, 8 probe images (80 values) | ${overhead(plain, spectrum)} |`);
    lines.push(`| pre-act ResNet-18, batch 128, ${steps} steps | diagnostics of a batch of 128 (loss, PL ratio, gradient norms) | ${overhead(plain, diagnostics)} |`);
  }
  console.log('| training | tracked every 100 steps | time, plain -> tracked |\n|---|---|---|');
  console.log(lines.join('\n'));
})();
