'use strict';
// `npm run bench`: skipnorm against Python PyTorch on this machine, in one run: per-call overhead
// of small ops and a 512x512 matmul (core.*), forward + backward steps of the paper's models
// (models.*), and whole training loops through `fit` (train.*). Both sides run twice, alternately, and keep their best,
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
  if (r.stderr.trim() && cmd === process.execPath) console.log(r.stderr.trim());
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const best = (x, y) => Object.fromEntries(Object.keys(x).map((k) => [k, Math.min(x[k], y[k])]));
const torchVersion = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
if (!torchVersion) {
  console.error(`bench: ${python} has no torch; run \`npm run golden\` once (it makes .oracle-venv) or set PYTHON`);
  process.exit(1);
}
function compare(suite, threadCount) {
  let py = run(python, [path.join(__dirname, `${suite}.py`), threadCount]);
  let js = run(process.execPath, [path.join(__dirname, `${suite}.js`), threadCount]);
  py = best(py, run(python, [path.join(__dirname, `${suite}.py`), threadCount]));
  js = best(js, run(process.execPath, [path.join(__dirname, `${suite}.js`), threadCount]));
  return { py, js };
}

function table(title, unit, { py, js }) {
  console.log(`\n${title}\n`);
  console.log(`| case | skipnorm (${unit}) | PyTorch (${unit}) | ratio |`);
  console.log('|---|---:|---:|---:|');
  for (const name of Object.keys(py)) {
    console.log(`| ${name} | ${js[name].toFixed(2)} | ${py[name].toFixed(2)} | ${(js[name] / py[name]).toFixed(2)} |`);
  }
}

const sn = require(root);
const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['core', 'models', 'train', 'spectra', 'data', 'tracking'];
const modelThreads = process.env.BENCH_MODEL_THREADS || String(require('node:os').availableParallelism());
console.log(`skipnorm ${sn.version()} (LibTorch ${sn.info().libtorch}, Node ${process.version}) vs PyTorch ${torchVersion}, ratio = skipnorm / PyTorch`);
if (suites.includes('core')) table(`Per call, ${threads} intra-op thread(s)`, 'µs/call', compare('core', threads));
if (suites.includes('train')) table(`Training with fit (the whole loop in C++) vs a PyTorch loop, SGD momentum, ${modelThreads} intra-op thread(s)`, 'ms/step', compare('train', modelThreads));
if (suites.includes('spectra')) table(`The paper's probe: skipnorm's job vs torch.autograd.functional.jacobian + svdvals, ${modelThreads} intra-op thread(s)`, 'ms', compare('spectra', modelThreads));
if (suites.includes('data')) {
  // Both sides read the same files: JPEGs that data.py writes, packed by skipnorm.
  run(python, [path.join(__dirname, 'data.py'), '--prepare']);
  run(process.execPath, [path.join(__dirname, 'data.js'), '--prepare']);
}
if (suites.includes('data')) table(`Data loading: skipnorm's native loader vs torchvision's PIL pipeline (worker processes for several threads)`, 'µs/image', compare('data', modelThreads));
if (suites.includes('tracking')) {
  // No PyTorch counterpart: run once (minutes: ResNet-18 training three times).
  console.log(`\nTracking during fit, ${modelThreads} intra-op thread(s)\n`);
  const r = spawnSync(process.execPath, [path.join(__dirname, 'tracking.js'), modelThreads], { encoding: 'utf8', cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('tracking benchmark failed');
  console.log(r.stdout.trim());
}
if (suites.includes('models')) table(`Training step (forward, cross-entropy, backward, zero_grad), ${modelThreads} intra-op thread(s)`, 'ms/step', compare('models', modelThreads));
