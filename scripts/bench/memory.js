'use strict';
// `npm run bench:memory`: resident memory (RSS) over long runs, which the tests leave alone (it
// moves with the allocator, V8's heap and the machine); they check live tensors and their bytes.
// 1. 100,000 create/dispose cycles of small tensors, after 20,000 to warm up: RSS before and after.
// 2. 5,000 full-batch BNNet steps through `fit`, sampling RSS and live tensors from the step events:
//    flat after warm-up means within 5% from step 500 on, and the same live tensors.
// Reports the numbers; a benchmark, not a test: it asserts nothing.
const v8 = require('node:v8');
const vm = require('node:vm');
const sn = require('../..');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const mb = (b) => (b / 1048576).toFixed(1);

function cycles() {
  const cycle = (n) => {
    for (let i = 0; i < n; i++) {
      const t = sn.ones([64]);
      const u = t.add(1);
      t.dispose();
      u.dispose();
    }
  };
  const tensors = sn.memory().tensors;
  cycle(20_000); // warm up allocators and JIT
  gc();
  const before = process.memoryUsage().rss;
  cycle(100_000);
  gc();
  const after = process.memoryUsage().rss;
  console.log(`100,000 create/dispose cycles: RSS ${mb(before)} -> ${mb(after)} MB (${after >= before ? '+' : ''}${mb(after - before)} MB); live tensors ${tensors} -> ${sn.memory().tensors}`);
}

async function training() {
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
  for (const s of samples) console.log(`step ${String(s.step).padStart(5)}  rss ${mb(s.rss)} MB  live tensors ${s.tensors}`);
  const growth = (last.rss - warm.rss) / warm.rss;
  console.log(`RSS from step 500 to 5000: ${mb(warm.rss)} -> ${mb(last.rss)} MB (${(100 * growth).toFixed(2)}%); live tensors ${warm.tensors} -> ${last.tensors}`);
  console.log(`flat: ${Math.abs(growth) <= 0.05 && last.tensors === warm.tensors ? 'yes' : 'NO'}`);
  sn.dispose(data);
  optimizer.dispose();
  model.dispose();
}

(async () => {
  cycles();
  await training();
})();
