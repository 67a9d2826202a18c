'use strict';
// The system libraries the addon builds with: libjpeg-turbo (SIMD decoding, DCT-domain scaling and
// partial decoding: jpeg_crop_scanline/jpeg_skip_scanlines), libpng and zlib for images and gzip,
// and Gloo's headers for c10d's Gloo process group (LibTorch exports it without them). They are
// Debian packages (libjpeg62-turbo-dev libpng-dev zlib1g-dev libgloo-dev); when their headers
// are missing, the install brings them with apt-get where it may (root, apt-get present,
// SKIPNORM_NO_APT unset), and otherwise stops with the command to run.

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PACKAGES = ['libjpeg62-turbo-dev', 'libpng-dev', 'zlib1g-dev', 'libgloo-dev'];
const INCLUDE_DIRS = [...(process.env.CPATH || '').split(':').filter(Boolean), '/usr/local/include', '/usr/include', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu'];

function findHeader(name) {
  return INCLUDE_DIRS.map((d) => path.join(d, name)).find((p) => fs.existsSync(p));
}

// What is missing, as readable names.
function missing() {
  const out = [];
  const jpeg = findHeader('jpeglib.h');
  if (!jpeg) out.push('libjpeg-turbo (jpeglib.h)');
  else if (!fs.readFileSync(jpeg, 'utf8').includes('jpeg_crop_scanline')) out.push('libjpeg-turbo >= 1.5 (the jpeglib.h found has no jpeg_crop_scanline)');
  if (!findHeader('png.h')) out.push('libpng (png.h)');
  if (!findHeader('zlib.h')) out.push('zlib (zlib.h)');
  if (!findHeader('gloo/algorithm.h')) out.push('Gloo headers (gloo/algorithm.h)');
  return out;
}

function ensureSystemDeps() {
  let lacking = missing();
  if (!lacking.length) return;
  const command = `apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}`;
  const canApt = process.env.SKIPNORM_NO_APT !== '1' && typeof process.getuid === 'function' && process.getuid() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (canApt) {
    console.error(`skipnorm: ${lacking.join(', ')} missing; installing ${PACKAGES.join(' ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', command.split(' ').slice(1), { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
      r = spawnSync('apt-get', command.split(' ').slice(1), { stdio: 'inherit', env });
    }
    lacking = missing();
  }
  if (lacking.length) {
    throw new Error(
      `skipnorm: the addon needs ${lacking.join(', ')} to build.\n` +
        `  On Debian or Ubuntu: sudo ${command}\n` +
        '  Elsewhere: install libjpeg-turbo, libpng, zlib and Gloo with their headers (CPATH may point at them).',
    );
  }
}

module.exports = { ensureSystemDeps, missing };
