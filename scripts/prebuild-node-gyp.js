#!/usr/bin/env node
'use strict';
// Stands in for node-gyp when prebuildify calls it (`prebuildify --node-gyp <this>`): prebuildify
// always runs node-gyp, but skipnorm builds with cmake-js, so this runs cmake-js against
// skipnorm's own LibTorch and leaves build/Release/skipnorm.node where prebuildify looks.
const path = require('node:path');
const { describe, OWN_DIR } = require('./libtorch/find');
const { buildNative } = require('./build-native');

const libtorch = describe(path.join(OWN_DIR, 'torch'), 'skipnorm (.libtorch)');
if (!libtorch) {
  console.error(`prebuild: no LibTorch in ${OWN_DIR}; run \`npm install\` without LIBTORCH and without torch in Python first`);
  process.exit(1);
}
buildNative({ libtorch });
