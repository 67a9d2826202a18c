'use strict';
// skipnorm side of the training benchmark: the same models, data and steps as train.py, through
// `fit` (the whole loop in C++ on a worker thread, with its metrics and progress events).
const sn = require('../..');

sn.setNumThreads(Number(process.argv[2]));
sn.manualSeed(0);

function mlp() {
  const layers = [new sn.nn.Flatten(), new sn.nn.Linear(784, 256), new sn.nn.ReLU()];
  for (let i = 0; i < 6; i++) layers.push(new sn.nn.Linear(256, 256), new sn.nn.ReLU());
  return new sn.nn.Sequential(...layers, new sn.nn.Linear(256, 10));
}

const CASES = {
  'full-batch BNNet (c), 32 images': [() => sn.models.bnnet({ variant: 'c' }), [32, 1, 28, 28], 300],
  'MLP 784-256x7-10, batch 128': [mlp, [128, 1, 28, 28], 300],
  'pre-act ResNet-18 (mod), batch 128, 32x32': [() => sn.models.preactResNet({ depth: 18, shortcut: 'mod' }), [128, 3, 32, 32], 4],
};

(async () => {
  const out = {};
  for (const [name, [build, shape, steps]] of Object.entries(CASES)) {
    const model = build().train();
    const optimizer = new sn.optim.SGD(model, { lr: 0.01, momentum: 0.9 });
    const data = { input: sn.randn(shape), labels: sn.randint(0, 10, [shape[0]]) };
    const run = (n) => sn.fit(model, data, { optimizer, steps: n });
    await run(Math.max(1, Math.floor(steps / 10)));
    let best = Infinity;
    for (let r = 0; r < 2; r++) {
      const start = process.hrtime.bigint();
      await run(steps);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6 / steps);
    }
    out[name] = best;
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
})();
