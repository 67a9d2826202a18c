'use strict';
// A network written by subclassing (traced into a native graph) against the same network from the
// zoo (native layers): the pre-activation ResNet-18 of examples/own-networks.js and the zoo's, with
// the same weights, trained by fit for STEPS steps (default 30) at batch 64 on 32x32 inputs, each
// timed three times in turns after a warm-up. `npm run bench:traced [-- THREADS]`.
const sn = require('../..');
const { networks } = require('../../examples/own-networks.js');

sn.setNumThreads(Number(process.argv[2] || 2));
const steps = Number(process.env.BENCH_TRACED_STEPS || 30);
const { PreActResNet18 } = networks(sn);

async function msPerStep(build, data, n) {
  sn.manualSeed(1);
  const model = build();
  const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
  await sn.fit(model, data, { optimizer, steps: 2, batchSize: 64 });  // warm-up (and the trace)
  const start = process.hrtime.bigint();
  await sn.fit(model, data, { optimizer, steps: n, batchSize: 64 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / n;
  optimizer.dispose();
  model.dispose();
  return ms;
}

(async () => {
  const g = new sn.Generator(0);
  const data = { input: sn.randn([256, 3, 32, 32], { generator: g }), labels: sn.randint(0, 10, [256], { generator: g }) };
  const zoo = () => sn.models.preactResNet({ depth: 18, shortcut: 'mod' });
  const traced = () => new PreActResNet18({ shortcut: 'mod' });
  const times = { zoo: [], traced: [] };
  for (let round = 0; round < 3; round++) {
    times.zoo.push(await msPerStep(zoo, data, steps));
    times.traced.push(await msPerStep(traced, data, steps));
  }
  const best = (list) => Math.min(...list);
  console.log(`pre-activation ResNet-18, batch 64, 32x32, ${steps} steps, ${sn.getNumThreads()} threads`);
  console.log(`zoo (native layers):      ${times.zoo.map((t) => t.toFixed(0)).join(', ')} ms/step (best ${best(times.zoo).toFixed(0)})`);
  console.log(`traced subclass (graph):  ${times.traced.map((t) => t.toFixed(0)).join(', ')} ms/step (best ${best(times.traced).toFixed(0)})`);
  console.log(`traced / zoo: ${(best(times.traced) / best(times.zoo)).toFixed(3)}`);
  sn.dispose(data);
  g.dispose();
})();
