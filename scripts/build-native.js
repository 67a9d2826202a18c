'use strict';
// Builds the addon with cmake-js against the LibTorch that scripts/libtorch/find.js chose, offline
// (package.json's `binary.napi_versions` makes cmake-js use node-api-headers, not a download),
// then records what it was built against in build/skipnorm-build.json for the loader's checks.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { findOrInstallLibTorch, PACKAGE_ROOT } = require('./libtorch/find');

// incremental: `cmake-js build` (reuse objects) instead of a clean rebuild, for development.
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
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(outDir, 'skipnorm-build.json'), JSON.stringify(record, null, 2) + '\n');
  return record;
}

module.exports = { buildNative };

if (require.main === module) {
  try {
    buildNative({ incremental: process.argv.includes('--incremental') });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
