'use strict';
// Finds a LibTorch to build against, in the order mature bindings use (tch-rs, TorchSharp):
//   1. $LIBTORCH: a LibTorch folder (include/, lib/, share/cmake/Torch) or a Python `torch` package folder
//   2. the active Python's `torch` ($PYTHON, else python3)
//   3. a system LibTorch (/usr/local/libtorch, /opt/libtorch, Debian's libtorch-dev)
//   4. skipnorm's own copy: the CPU wheel of torch installed by pip into <package>/.libtorch,
//      never into the user's Python environment.
// Every candidate is described by the same record: { dir, include, lib, cmakePrefix, version, cuda, source }.

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const OWN_DIR = path.join(PACKAGE_ROOT, '.libtorch');
const MIN_VERSION = [2, 1];

function readVersion(includeDir) {
  const candidates = [
    path.join(includeDir, 'torch', 'headeronly', 'version.h'),
    path.join(includeDir, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'),
  ];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const m = /#define\s+TORCH_VERSION\s*\\?\s*"([^"]+)"/.exec(fs.readFileSync(file, 'utf8'));
    if (m) return m[1];
  }
  return null;
}

function isCudaBuild(libDir) {
  try {
    return fs.readdirSync(libDir).some((f) => /^libtorch_cuda\.so/.test(f));
  } catch {
    return false;
  }
}

// Describe a folder laid out like LibTorch (a torch wheel's package folder is one too).
function describe(dir, source) {
  const include = path.join(dir, 'include');
  const lib = path.join(dir, 'lib');
  const cmakeDir = path.join(dir, 'share', 'cmake', 'Torch');
  if (!fs.existsSync(path.join(cmakeDir, 'TorchConfig.cmake'))) return null;
  if (!fs.existsSync(path.join(lib, 'libtorch_cpu.so')) && !fs.existsSync(path.join(lib, 'libtorch.so'))) return null;
  const version = readVersion(include);
  return {
    dir,
    include,
    lib,
    cmakePrefix: path.join(dir, 'share', 'cmake'),
    version,
    cuda: isCudaBuild(lib),
    source,
  };
}

function versionOk(version) {
  if (!version) return false;
  const [major, minor] = version.split('.').map(Number);
  return major > MIN_VERSION[0] || (major === MIN_VERSION[0] && minor >= MIN_VERSION[1]);
}

function fromEnv(env) {
  if (!env.LIBTORCH) return null;
  const found = describe(path.resolve(env.LIBTORCH), 'LIBTORCH');
  if (!found) {
    throw new Error(
      `LIBTORCH=${env.LIBTORCH} is not a LibTorch folder: expected share/cmake/Torch/TorchConfig.cmake and lib/libtorch_cpu.so under it.`,
    );
  }
  return found;
}

function pythonTorchDir(python) {
  const r = spawnSync(python, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) return null;
  return r.stdout.trim().split('\n').pop();
}

function fromPython(env) {
  const python = env.PYTHON || 'python3';
  const dir = pythonTorchDir(python);
  return dir ? describe(dir, `python (${python})`) : null;
}

function fromSystem() {
  const dirs = ['/usr/local/libtorch', '/opt/libtorch', '/usr'];
  for (const dir of dirs) {
    const found = describe(dir, 'system');
    if (found && versionOk(found.version)) return found;
  }
  // Debian's libtorch-dev puts its CMake files under the multiarch lib folder.
  const debian = '/usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake';
  if (fs.existsSync(debian)) {
    const version = readVersion('/usr/include');
    if (versionOk(version)) {
      return {
        dir: '/usr',
        include: '/usr/include',
        lib: '/usr/lib/x86_64-linux-gnu',
        cmakePrefix: '/usr/lib/x86_64-linux-gnu/cmake',
        version,
        cuda: isCudaBuild('/usr/lib/x86_64-linux-gnu'),
        source: 'system (Debian)',
      };
    }
  }
  return null;
}

function ownTorchDir() {
  return path.join(OWN_DIR, 'torch');
}

function fromOwn() {
  return describe(ownTorchDir(), 'skipnorm (.libtorch)');
}

// The torch release skipnorm is tested with; its CPU build carries the `+cpu` local version.
const TESTED_TORCH = '2.13.0';
const PYTORCH_CPU_INDEX = 'https://download.pytorch.org/whl/cpu';

// Install the CPU build of torch with pip into skipnorm's own folder (never the user's
// environment): first through pip's own configuration (a mirror, find-links), then from
// PyTorch's CPU index. A plain `torch` from PyPI would be the much larger CUDA build.
function installOwn(env, log) {
  const python = env.PYTHON || 'python3';
  const spec = env.SKIPNORM_TORCH_SPEC || `torch==${TESTED_TORCH}+cpu`;
  const extra = (env.SKIPNORM_PIP_ARGS || '').split(/\s+/).filter(Boolean);
  const attempts = [[], ['--index-url', PYTORCH_CPU_INDEX]];
  fs.mkdirSync(OWN_DIR, { recursive: true });
  for (const indexArgs of attempts) {
    const args = ['-m', 'pip', 'install', '--no-deps', '--upgrade', '--target', OWN_DIR, '--retries', '1', '--timeout', '15', ...indexArgs, ...extra, spec];
    log(`skipnorm: installing LibTorch with pip (${spec}${indexArgs.length ? ` from ${indexArgs[1]}` : ''}) into ${OWN_DIR}`);
    const r = spawnSync(python, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
    if (r.status === 0) return fromOwn();
  }
  return null;
}

const FIXES = [
  'set LIBTORCH to a LibTorch folder (one with include/, lib/ and share/cmake/Torch)',
  'or install torch into the active Python (`python3 -m pip install torch`), or point PYTHON at a Python that has it',
  'or install a system LibTorch under /usr/local/libtorch or /opt/libtorch',
  'or make `python3 -m pip install torch` work (skipnorm then installs its own copy into .libtorch/)',
];

/** Find LibTorch without installing anything. Returns null when none is found. */
function findLibTorch(env = process.env) {
  return fromEnv(env) || fromPython(env) || fromSystem() || fromOwn();
}

/** Find LibTorch, installing skipnorm's own CPU copy with pip as the last resort. */
function findOrInstallLibTorch(env = process.env, log = console.error) {
  const found = findLibTorch(env);
  if (found) return found;
  const own = installOwn(env, log);
  if (own) return own;
  throw new Error(`skipnorm: no LibTorch found, and installing one with pip failed. Fixes:\n${FIXES.map((f) => `  - ${f}`).join('\n')}`);
}

module.exports = { TESTED_TORCH, findLibTorch, findOrInstallLibTorch, describe, readVersion, versionOk, FIXES, PACKAGE_ROOT, OWN_DIR };
