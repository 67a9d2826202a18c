'use strict';
// `npm run golden`: regenerates test/golden/ with PyTorch (`npm run oracle`: only finds or makes
// the Python, which the PyTorch round-trip tests also use). Uses $PYTHON if it has torch and numpy,
// else a virtual environment at .oracle-venv/ that it creates with pip (torch, numpy, safetensors,
// tensorboard, pillow). Python is the test oracle only; skipnorm never needs it at run time.

const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { findOracle, runScripts, venv, venvPython } = require('./oracle');

function oraclePython() {
  const found = findOracle();
  if (found) return found;
  console.error(`golden: creating ${venv} with torch, numpy, safetensors, tensorboard and pillow`);
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`golden: ${cmd} ${args.join(' ')} failed`);
  };
  run('python3', ['-m', 'venv', venv]);
  // The oracle's torch is the release skipnorm's LibTorch is tested with (and its CPU build).
  const { TESTED_TORCH } = require('../libtorch/find');
  run(venvPython, ['-m', 'pip', 'install', '--retries', '1', `torch==${TESTED_TORCH}+cpu`, 'numpy', 'safetensors', 'tensorboard', 'pillow']);
  return venvPython;
}

const python = oraclePython();
if (process.argv.includes('--setup-only')) {
  console.error(`golden: the oracle is ${python}`);
  process.exit(0);
}
const scripts = fs.readdirSync(__dirname).filter((f) => f.endsWith('.py')).sort();
if (!runScripts(python, scripts, null)) process.exit(1);
