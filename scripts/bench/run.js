'use strict';
// `npm run bench`: per-call overhead of small ops and a 512x512 matmul, skipnorm against Python
// PyTorch on this machine, in one run. Both sides run twice, alternately, and keep their best,
// since these machines are shared and noisy. Reported as ratios (skipnorm time / PyTorch time:
// below 1 means skipnorm is faster). A benchmark, not a test: it asserts nothing.

const path = require('node:path');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
const python = process.env.PYTHON || (fs.existsSync(path.join(root, '.oracle-venv', 'bin', 'python')) ? path.join(root, '.oracle-venv', 'bin', 'python') : 'python3');
const threads = process.env.BENCH_THREADS || '1';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const best = (x, y) => Object.fromEntries(Object.keys(x).map((k) => [k, Math.min(x[k], y[k])]));
const torchVersion = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
if (!torchVersion) {
  console.error(`bench: ${python} has no torch; run \`npm run golden\` once (it makes .oracle-venv) or set PYTHON`);
  process.exit(1);
}
let py = run(python, [path.join(__dirname, 'core.py'), threads]);
let js = run(process.execPath, [path.join(__dirname, 'core.js'), threads]);
py = best(py, run(python, [path.join(__dirname, 'core.py'), threads]));
js = best(js, run(process.execPath, [path.join(__dirname, 'core.js'), threads]));

const sn = require(root);
console.log(`skipnorm ${sn.version()} (LibTorch ${sn.info().libtorch}, Node ${process.version}) vs PyTorch ${torchVersion}; ${threads} intra-op thread(s)\n`);
console.log('| operation | skipnorm (µs/call) | PyTorch (µs/call) | ratio |');
console.log('|---|---:|---:|---:|');
for (const name of Object.keys(py)) {
  console.log(`| ${name} | ${js[name].toFixed(2)} | ${py[name].toFixed(2)} | ${(js[name] / py[name]).toFixed(2)} |`);
}
