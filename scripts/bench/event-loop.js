'use strict';
// `npm run bench:event-loop`: how late a 10 ms timer fires while skipnorm works on its worker
// threads: with nothing running (the machine's own noise), during a 5-second native job (power
// iteration on a 1500 x 1500 matrix) and during `fit` (pre-activation ResNet-18, 12 steps of batch 8).
// Lag is how much later than due each tick came. Reports the numbers; a benchmark, not a test: it
// asserts nothing (the tests check that timers fire while jobs run, not how promptly).
const sn = require('../..');

// Runs `work` while a 10 ms timer ticks; the lag of every tick (ms).
async function lagDuring(work) {
  const lags = [];
  let due = performance.now() + 10;
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - due));
    due = now + 10;
  }, 10);
  const started = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { lags, seconds: (performance.now() - started) / 1000 };
}

function report(name, { lags, seconds }) {
  const sorted = [...lags].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const mean = lags.reduce((s, x) => s + x, 0) / lags.length;
  console.log(`| ${name} | ${seconds.toFixed(1)} | ${lags.length} | ${mean.toFixed(2)} | ${at(0.5).toFixed(2)} | ${at(0.99).toFixed(2)} | ${sorted[sorted.length - 1].toFixed(2)} |`);
}

(async () => {
  console.log(`skipnorm ${sn.version()} (LibTorch ${sn.info().libtorch}, Node ${process.version}), ${sn.getNumThreads()} intra-op thread(s) in jobs\n`);
  console.log('| while | seconds | ticks | mean lag (ms) | median (ms) | p99 (ms) | worst (ms) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  report('nothing runs', await lagDuring(() => new Promise((resolve) => setTimeout(resolve, 2000))));

  const a = sn.randn([1500, 1500]);
  report('power iteration, 1500 x 1500, 5 s', await lagDuring(() => sn.linalg.powerIteration(a, { iterations: 1_000_000_000, tol: 0, signal: AbortSignal.timeout(5000) }).catch((e) => {
    if (!(e instanceof sn.AbortError)) throw e;
  })));
  a.dispose();

  sn.manualSeed(0);
  const model = sn.models.preactResNet({ depth: 18 });
  const optimizer = new sn.optim.SGD(model, { lr: 0.01 });
  const data = { input: sn.randn([16, 3, 32, 32]), labels: sn.randint(0, 10, [16]) };
  report('fit, pre-act ResNet-18, 12 steps of batch 8', await lagDuring(() => sn.fit(model, data, { optimizer, steps: 12, batchSize: 8 })));
  sn.dispose(data);
  optimizer.dispose();
  model.dispose();
})();
