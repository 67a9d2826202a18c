/**
 * The out-of-the-box data set: 10,000 real MNIST digits (1,000 per class), shipped with skipnorm
 * in data/digits.bin.gz (about 1.6 MB; data/digits.LICENSE says where they come from), so that
 * nothing needs downloading. The train/test split is a seeded permutation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PACKAGE_ROOT } from '../core/native';
import { Generator } from '../tensor/random';
import { fromTypedArray, randperm } from '../tensor/creation';
import { scope } from '../core/memory';
import { tensorDataset, type Dataset, type Split } from './dataset';

// The layout scripts/data/pack-digits.js writes (gzipped): 'SNDG', count, rows and cols as uint32
// little-endian, then the pixels of each image in turn (uint8, row-major), then one uint8 label each.
const FILE = path.join(PACKAGE_ROOT, 'data', 'digits.bin.gz');
const HEADER = 16;

let cache: { pixels: Uint8Array; labels: Uint8Array } | undefined;

function load(): { pixels: Uint8Array; labels: Uint8Array } {
  if (cache) return cache;
  let bytes: Buffer;
  try {
    bytes = zlib.gunzipSync(fs.readFileSync(FILE));
  } catch (e) {
    throw new Error(`digits: cannot read the bundled digits at ${FILE} (${(e as Error).message}); reinstall skipnorm`);
  }
  const count = bytes.length >= HEADER ? bytes.readUInt32LE(4) : 0;
  const ok = bytes.length >= HEADER && bytes.toString('latin1', 0, 4) === 'SNDG' && bytes.readUInt32LE(8) === 28 && bytes.readUInt32LE(12) === 28 && bytes.length === HEADER + count * 785;
  if (!ok) throw new Error(`digits: ${FILE} is not a file of 28x28 digits (damaged?); reinstall skipnorm`);
  const pixels = new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER, count * 784);
  const labels = new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER + count * 784, count);
  cache = { pixels, labels };
  return cache;
}

export interface DigitsOptions {
  split?: Split;
  /** Examples held out for the test split (default 2000 of the 10,000). */
  testSize?: number;
  /** Seeds the split's permutation (default 0). */
  seed?: number;
}

/** The bundled real MNIST digits as a dataset (uint8 28x28x1, labels 0..9). */
export function digits(options: DigitsOptions = {}): Dataset {
  const op = 'digits';
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new TypeError(`${op}: split must be 'train' or 'test'`);
  const testSize = options.testSize ?? 2000;
  const { pixels, labels } = load();
  if (!Number.isInteger(testSize) || testSize < 1 || testSize >= labels.length) throw new TypeError(`${op}: testSize must be an integer in 1..${labels.length - 1}`);
  return scope(() => {
    const gen = new Generator(options.seed ?? 0);
    const order = randperm(labels.length, { generator: gen });
    gen.dispose();
    const chosen = split === 'test' ? order.narrow(0, 0, testSize) : order.narrow(0, testSize, labels.length - testSize);
    const images = fromTypedArray(pixels, [labels.length, 28, 28, 1]).indexSelect(0, chosen);
    const y = fromTypedArray(Int32Array.from(labels), [labels.length]).indexSelect(0, chosen);
    return tensorDataset(op, images, y, 10, 'digits');
  });
}
