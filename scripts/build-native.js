'use strict';
// Builds the addon with cmake-js against the LibTorch that scripts/libtorch/find.js chose, offline
// (package.json's `binary.napi_versions` makes cmake-js use node-api-headers, not a download),
// then records what it was built against in build/skipnorm-build.json for the loader's checks.

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { findOrInstallLibTorch, PACKAGE_ROOT } = require('./libtorch/find');

// The CUDA toolkit a CUDA LibTorch's CMake files need (its legacy FindCUDA cannot see through an
// `nvcc` wrapper on PATH): $CUDA_HOME or $CUDA_PATH, else the folder above the real nvcc, else
// /usr/local/cuda.
function cudaToolkitRoot(env = process.env) {
  const candidates = [env.CUDA_HOME, env.CUDA_PATH];
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) candidates.push(path.dirname(path.dirname(fs.realpathSync(which.stdout.trim()))));
  candidates.push('/usr/local/cuda');
  return candidates.filter(Boolean).find((dir) => fs.existsSync(path.join(dir, 'include', 'cuda_runtime_api.h'))) || null;
}

// incremental: `cmake-js build` (reuse objects) instead of a clean rebuild, for development.
// What the addon is built from: the C++ sources, the CMake file and the chosen LibTorch.
function sourceHash(libtorch) {
  const hash = crypto.createHash('sha256');
  hash.update(`${libtorch.dir}\n${libtorch.version}\n${process.versions.napi}\n`);
  const files = [path.join(PACKAGE_ROOT, 'CMakeLists.txt')];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(full);
    }
  };
  walk(path.join(PACKAGE_ROOT, 'native'));
  for (const file of files) hash.update(`${path.relative(PACKAGE_ROOT, file)}\n`).update(fs.readFileSync(file));
  return hash.digest('hex');
}

// True when build/ already holds an addon built from these sources against this LibTorch.
function upToDate(libtorch, outDir = path.join(PACKAGE_ROOT, 'build')) {
  const recordFile = path.join(outDir, 'skipnorm-build.json');
  if (!fs.existsSync(recordFile) || !fs.existsSync(path.join(outDir, 'Release', 'skipnorm.node'))) return false;
  const record = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
  return record.sourceHash === sourceHash(libtorch);
}

function buildNative({ libtorch = findOrInstallLibTorch(), outDir = path.join(PACKAGE_ROOT, 'build'), extraArgs = [], incremental = false } = {}) {
  console.error(`skipnorm: building the addon against LibTorch ${libtorch.version} (${libtorch.source}: ${libtorch.dir})`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [
    cmakeJs,
    incremental ? 'build' : 'rebuild',
    '--out', outDir,
    '--parallel', String(Math.max(1, os.availableParallelism())),
    `--CDCMAKE_PREFIX_PATH=${libtorch.cmakePrefix}`,
    `--CDSKIPNORM_LIBTORCH_LIB=${libtorch.lib}`,
    ...extraArgs,
  ];
  if (libtorch.cuda) {
    const cuda = cudaToolkitRoot();
    if (!cuda) throw new Error('skipnorm: this LibTorch is a CUDA build, and building against it needs the CUDA toolkit (nvcc and cuda_runtime_api.h): set CUDA_HOME to it.');
    console.error(`skipnorm: CUDA toolkit ${cuda}`);
    args.push(`--CDCUDA_TOOLKIT_ROOT_DIR=${cuda}`, `--CDCUDAToolkit_ROOT=${cuda}`);
    // skipnorm compiles no CUDA kernels of its own; naming the architectures spares LibTorch's CMake
    // its GPU detection, which compiles and runs a CUDA program (and fails without a GPU).
    if (!process.env.TORCH_CUDA_ARCH_LIST) args.push('--CDTORCH_CUDA_ARCH_LIST=8.0;9.0');
  }
  const r = spawnSync(process.execPath, args, { cwd: PACKAGE_ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    throw new Error(`skipnorm: building the native addon failed (cmake-js exited with ${r.status}). The compiler's messages are above.`);
  }
  const record = {
    libtorchVersion: libtorch.version,
    libtorchDir: libtorch.dir,
    libtorchLib: libtorch.lib,
    libtorchSource: libtorch.source,
    cuda: libtorch.cuda,
    sourceHash: sourceHash(libtorch),
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(outDir, 'skipnorm-build.json'), JSON.stringify(record, null, 2) + '\n');
  return record;
}

module.exports = { buildNative, upToDate };

if (require.main === module) {
  try {
    const outAt = process.argv.indexOf('--out');
    const outDir = outAt > 0 ? path.resolve(process.argv[outAt + 1]) : undefined;
    buildNative({ incremental: process.argv.includes('--incremental'), ...(outDir ? { outDir } : {}) });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
