'use strict';
// `npm install` entry: find (or install) LibTorch, then build the addon. When a prebuilt addon for
// this platform exists and its LibTorch is in place, nothing is compiled.

const fs = require('node:fs');
const path = require('node:path');
const { findOrInstallLibTorch, PACKAGE_ROOT } = require('./libtorch/find');
const { buildNative } = require('./build-native');

function prebuildUsable(libtorch) {
  const dir = path.join(PACKAGE_ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const meta = path.join(dir, 'skipnorm-build.json');
  if (!fs.existsSync(meta)) return false;
  const record = JSON.parse(fs.readFileSync(meta, 'utf8'));
  return record.libtorchVersion === libtorch.version && record.cuda === libtorch.cuda;
}

function main() {
  if (process.env.SKIPNORM_SKIP_INSTALL === '1') {
    console.error('skipnorm: SKIPNORM_SKIP_INSTALL=1, not building the addon');
    return;
  }
  const libtorch = findOrInstallLibTorch();
  if (process.env.SKIPNORM_BUILD_FROM_SOURCE !== '1' && prebuildUsable(libtorch)) {
    console.error(`skipnorm: using the prebuilt addon (LibTorch ${libtorch.version})`);
    return;
  }
  buildNative({ libtorch });
}

try {
  main();
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
