'use strict';
// skipnorm side of scripts/bench/run.js: the same cases as core.py. Each call's result is
// disposed, as Python's reference counting frees it. Prints JSON {name: microseconds per call}.
const sn = require('../..');

const threads = Number(process.argv[2] || 1);
sn.setMainThreadNumThreads(threads); // these calls run on the JavaScript thread
sn.manualSeed(0);
const a = sn.randn([4, 4]);
const b = sn.randn([4, 4]);
const x = sn.randn([16]);
const m1 = sn.randn([512, 512]);
const m2 = sn.randn([512, 512]);

const CASES = {
  'add (4x4 + 4x4)': [() => a.add(b), 20000],
  'mul by scalar (4x4 * 2.5)': [() => a.mul(2.5), 20000],
  'relu (16)': [() => x.relu(), 20000],
  'sum (4x4)': [() => a.sum(), 20000],
  'reshape (4x4 -> 16)': [() => a.reshape(16), 20000],
  'slice (x[2:10])': [() => x.slice(0, 2, 10), 20000],
  'matmul (4x4 @ 4x4)': [() => a.matmul(b), 20000],
  'matmul (512x512 @ 512x512)': [() => m1.matmul(m2), 50],
};

function bench(fn, n) {
  for (let i = 0; i < Math.min(n, 1000); i++) fn().dispose();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn().dispose();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e3 / n);
  }
  return best;
}

const out = {};
for (const [name, [fn, n]] of Object.entries(CASES)) out[name] = bench(fn, n);
process.stdout.write(`${JSON.stringify(out)}\n`);
