'use strict';
// The Python oracle (PyTorch, numpy, PIL) that writes the golden files: $PYTHON if it has them,
// else the virtual environment .oracle-venv/ (scripts/golden/run.js makes it). Python is the test
// oracle only; skipnorm never needs it at run time.

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
const venv = path.join(root, '.oracle-venv');
const venvPython = path.join(venv, 'bin', 'python');

function hasOracle(python) {
  return spawnSync(python, ['-c', 'import torch, numpy, PIL'], { stdio: 'ignore' }).status === 0;
}

/** The oracle's python, or null when there is none yet. */
function findOracle() {
  if (process.env.PYTHON && hasOracle(process.env.PYTHON)) return process.env.PYTHON;
  if (fs.existsSync(venvPython) && hasOracle(venvPython)) return venvPython;
  return null;
}

// The golden files whose float32 numbers depend on the processor (its vector width, its BLAS):
// computed again on the machine that runs the tests when the oracle is there.
const MACHINE_DEPENDENT = ['core.py', 'models.py', 'train.py'];

/**
 * What the machine-dependent golden files depend on: the scripts, the oracle's torch, this
 * processor and the kernels LibTorch picks on it. Equal keys give equal files.
 */
function machineKey(python) {
  const h = crypto.createHash('sha256');
  for (const script of fs.readdirSync(__dirname).filter((f) => f.endsWith('.py')).sort()) h.update(fs.readFileSync(path.join(__dirname, script)));
  h.update(spawnSync(python, ['-c', 'import torch; print(torch.__version__, torch.backends.cpu.get_cpu_capability())'], { encoding: 'utf8' }).stdout ?? '');
  const cpu = os.cpus()[0];
  h.update(`${cpu ? cpu.model : ''} ${os.cpus().length} ${process.arch}`);
  try {
    h.update(fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '');
  } catch {
    // not Linux: the model name stands for the processor
  }
  h.update(String(process.env.ATEN_CPU_CAPABILITY ?? ''));
  return h.digest('hex').slice(0, 16);
}

/** Runs golden scripts with `python`, writing into `outDir` (test/golden/ when null). */
function runScripts(python, scripts, outDir, stdio = 'inherit') {
  for (const script of scripts) {
    const env = outDir ? { ...process.env, SKIPNORM_GOLDEN_DIR: outDir } : process.env;
    const r = spawnSync(python, [path.join(__dirname, script)], { stdio, cwd: root, env });
    if (r.status !== 0) return false;
  }
  return true;
}

module.exports = { root, venv, venvPython, findOracle, machineKey, runScripts, MACHINE_DEPENDENT };
