'use strict';
// skipnorm side of the model benchmark: the same models, batches and steps as models.py.
// One step: forward (one native call), cross-entropy, backward, zeroGrad. Prints JSON {name: ms}.
const sn = require('../..');

sn.setMainThreadNumThreads(Number(process.argv[2])); // these steps run on the JavaScript thread
sn.manualSeed(0);

const CASES = {
  'BNNet (c), batch 32, 28x28': [() => sn.models.bnnet({ variant: 'c' }), [32, 1, 28, 28], 10, 200],
  'pre-act ResNet-18 (mod), batch 128, 32x32': [() => sn.models.preactResNet({ depth: 18, shortcut: 'mod' }), [128, 3, 32, 32], 10, 3],
};

const out = {};
for (const [name, [build, shape, classes, steps]] of Object.entries(CASES)) {
  const model = build().train();
  const x = sn.randn(shape);
  const y = sn.randint(0, classes, [shape[0]]);
  const step = () =>
    sn.scope(() => {
      sn.F.crossEntropy(model.forward(x), y).backward();
      model.zeroGrad();
    });
  step();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < steps; i++) step();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6 / steps);
  }
  out[name] = best;
}
process.stdout.write(`${JSON.stringify(out)}\n`);
