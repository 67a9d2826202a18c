'use strict';
// `npm run prebuild`: makes prebuilds/<platform>-<arch>/ with prebuildify, compiling through
// cmake-js (scripts/prebuild-node-gyp.js). The prebuild finds LibTorch through the run path
// $ORIGIN/../../.libtorch/torch/lib: skipnorm's own copy, which `npm install` puts there
// (scripts/install.js uses a prebuild only when that copy has the same version).
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const prebuildify = require.resolve('prebuildify/bin.js');
const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--node-gyp', path.join(__dirname, 'prebuild-node-gyp.js')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
fs.copyFileSync(path.join(root, 'build', 'skipnorm-build.json'), path.join(dir, 'skipnorm-build.json'));
console.error(`prebuild: wrote ${fs.readdirSync(dir).join(', ')} to ${path.relative(root, dir)}`);
