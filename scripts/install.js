'use strict';
// `npm install` entry: find (or install) LibTorch, then build the addon, unless build/ already
// holds one built from the same sources against the same LibTorch, or a usable prebuild exists.

const fs = require('node:fs');
const path = require('node:path');
const { findOrInstallLibTorch, PACKAGE_ROOT, OWN_DIR } = require('./libtorch/find');
const { buildNative, upToDate } = require('./build-native');
const { ensureSystemDeps } = require('./system-deps');

// A prebuild links LibTorch through the run path $ORIGIN/../../.libtorch/torch/lib, so it is only
// usable with skipnorm's own copy of the same version.
function prebuildUsable(libtorch) {
  const dir = path.join(PACKAGE_ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  const meta = path.join(dir, 'skipnorm-build.json');
  if (!fs.existsSync(meta) || libtorch.dir !== path.join(OWN_DIR, 'torch')) return false;
  const record = JSON.parse(fs.readFileSync(meta, 'utf8'));
  return record.libtorchVersion === libtorch.version && record.cuda === libtorch.cuda;
}

function main() {
  if (process.env.SKIPNORM_SKIP_INSTALL === '1') {
    console.error('skipnorm: SKIPNORM_SKIP_INSTALL=1, not building the addon');
    return;
  }
  const libtorch = findOrInstallLibTorch();
  if (process.env.SKIPNORM_BUILD_FROM_SOURCE !== '1') {
    if (prebuildUsable(libtorch)) {
      console.error(`skipnorm: using the prebuilt addon (LibTorch ${libtorch.version})`);
      return;
    }
    if (upToDate(libtorch)) {
      console.error(`skipnorm: the addon in build/ is up to date (LibTorch ${libtorch.version}, ${libtorch.source})`);
      return;
    }
  }
  ensureSystemDeps();
  buildNative({ libtorch });
}

try {
  main();
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
