'use strict';
// `npm test` runs this before the tests: it builds what they run, and only what changed, so that
// nothing is tested stale and an unchanged tree costs a few milliseconds.
// - lib/ (the CLI and child processes run it): `npm run build:ts` when a file under src/, or
//   tsconfig.json, is newer than what tsc made from it.
// - the addon: rebuilt (incrementally) when native/ or CMakeLists.txt differ from what
//   build/Release/skipnorm.node was built from (the hash scripts/build-native.js records); with no
//   local build at all, scripts/install.js (a usable prebuild, else a build).
//
// node scripts/build-if-stale.js           build what is stale
// node scripts/build-if-stale.js --check   only say what is stale (exit 1 if anything is)

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');

/** The files under src/ (and tsconfig.json) newer than their output in lib/, or without one. */
function staleTypeScript(root = ROOT) {
  const src = path.join(root, 'src');
  const lib = path.join(root, 'lib');
  const config = fs.statSync(path.join(root, 'tsconfig.json')).mtimeMs;
  const built = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : -Infinity);
  const stale = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const output = path.join(lib, path.relative(src, full)).replace(/\.ts$/, '.js');
        if (built(output) < Math.max(fs.statSync(full).mtimeMs, config)) stale.push(path.relative(root, full));
      }
    }
  };
  walk(src);
  // The ESM entry is written after tsc, from lib/index.js (scripts/finish-ts-build.js).
  if (built(path.join(lib, 'index.mjs')) < built(path.join(lib, 'index.js'))) stale.push('lib/index.mjs');
  return stale;
}

/** Why the addon needs building, or null when build/ holds one built from the current sources. */
function staleAddon(root = ROOT) {
  const recordFile = path.join(root, 'build', 'skipnorm-build.json');
  if (!fs.existsSync(path.join(root, 'build', 'Release', 'skipnorm.node')) || !fs.existsSync(recordFile)) return 'there is no local build';
  const record = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
  // The hash covers the sources and the LibTorch the build recorded (the loader checks that LibTorch's version).
  const { upToDate } = require('./build-native');
  if (!upToDate({ dir: record.libtorchDir, version: record.libtorchVersion }, path.join(root, 'build'))) return 'native/ or CMakeLists.txt changed since it was built';
  return null;
}

function run(args, what) {
  console.error(`build-if-stale: ${what}`);
  const r = spawnSync(args[0], args.slice(1), { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-if-stale: ${args.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}

module.exports = { staleTypeScript, staleAddon };

if (require.main === module) {
  const check = process.argv.includes('--check');
  const ts = staleTypeScript();
  const addon = staleAddon();
  if (check) {
    console.log(ts.length ? `lib/ is stale: ${ts.join(', ')}` : 'lib/ is up to date');
    console.log(addon ? `the addon is stale: ${addon}` : 'the addon is up to date');
    process.exit(ts.length || addon ? 1 : 0);
  }
  if (addon === 'there is no local build') run([process.execPath, path.join(__dirname, 'install.js')], 'no addon in build/: installing it (scripts/install.js)');
  else if (addon) run([process.execPath, path.join(__dirname, 'build-native.js'), '--incremental'], `rebuilding the addon: ${addon}`);
  if (ts.length) run(['npm', 'run', 'build:ts'], `building lib/ (${ts.length} source file(s) newer than their output, e.g. ${ts[0]})`);
}
