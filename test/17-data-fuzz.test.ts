/**
 * Malformed data files: 500 mutations (flipped bytes, truncations, insertions, overwritten header
 * fields) of MNIST idx (plain and gzip), CIFAR binaries, PNG, JPEG and packed files. Each must
 * open and read, or fail with a TorchError, or be a counted skip: never a crash or a hang.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const goldenDir = path.join(__dirname, 'golden', 'data');

// mulberry32: a seeded generator, so a failure can be replayed.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(bytes: Buffer, random: () => number, headerBytes: number): Buffer {
  const out = Buffer.from(bytes);
  const kind = Math.floor(random() * 4);
  const at = (limit = out.length) => Math.floor(random() * Math.max(1, limit));
  if (kind === 0) {
    for (let i = 0, n = 1 + at(20); i < n; i++) out[at()] = Math.floor(random() * 256);
    return out;
  }
  if (kind === 1) return out.subarray(0, at());
  if (kind === 2) {
    const p = at();
    return Buffer.concat([out.subarray(0, p), Buffer.from(Array.from({ length: 1 + at(64) }, () => Math.floor(random() * 256))), out.subarray(p)]);
  }
  // A header field overwritten with an extreme or random value.
  const p = at(Math.min(out.length, headerBytes)) & ~3;
  const values = [0, 0xffffffff, 0x7fffffff, 1, Math.floor(random() * 2 ** 32)];
  if (p + 4 <= out.length) out.writeUInt32BE(values[at(values.length)] >>> 0, p);
  return out;
}

function idx(magic: number, dims: number[], body: Buffer): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, body]);
}

type Outcome = 'read' | 'error' | 'skipped';

async function readAll(open: () => Promise<sn.data.Dataset>, transforms: sn.data.Transform[]): Promise<Outcome> {
  let ds: sn.data.Dataset;
  try {
    ds = await open();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(sn.TorchError);
    return 'error';
  }
  try {
    const loader = new sn.data.DataLoader(ds, { batchSize: 64, shuffle: false, threads: 2, transforms });
    let skipped = 0;
    try {
      for await (const b of loader.epoch(0)) {
        skipped += b.skipped;
        sn.dispose([b.input, b.labels]);
      }
    } finally {
      loader.dispose();
    }
    return skipped ? 'skipped' : 'read';
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(sn.TorchError);
    return 'error';
  } finally {
    ds.dispose();
  }
}

describe('fuzz: 500 mutated data files', () => {
  it('each is read, a TorchError or a counted skip', async () => {
    const random = rng(20231127);
    const images = Buffer.from(Array.from({ length: 5 * 28 * 28 }, (_, i) => (i * 37) % 256));
    const mnistImages = idx(0x803, [5, 28, 28], images);
    const mnistLabels = idx(0x801, [5], Buffer.from([0, 1, 2, 3, 4]));
    const cifar = Buffer.concat(Array.from({ length: 3 }, (_, r) => Buffer.concat([Buffer.from([r]), images.subarray(0, 3072)])));
    const png = fs.readFileSync(path.join(goldenDir, 'wide.png'));
    const jpeg = fs.readFileSync(path.join(goldenDir, 'photo.jpg'));
    // A packed file to mutate.
    const source = sn.data.fromTensors(sn.randint(0, 256, [4, 8, 8, 3], { dtype: 'uint8' }), sn.tensor([0, 1, 0, 1], { dtype: 'int64' }));
    const packedFile = path.join(tmp, 'source.snpack');
    await source.pack(packedFile, { size: 8 });
    source.dispose();
    const packedBytes = fs.readFileSync(packedFile);

    const outcomes: Record<string, Record<Outcome, number>> = {};
    const record = (kind: string, o: Outcome) => {
      outcomes[kind] ??= { read: 0, error: 0, skipped: 0 };
      outcomes[kind][o]++;
    };
    for (let i = 0; i < 500; i++) {
      const dir = path.join(tmp, `case-${i}`);
      fs.mkdirSync(dir);
      const kind = ['mnist', 'mnist-gz', 'cifar', 'png', 'jpeg', 'packed'][i % 6];
      let outcome: Outcome;
      if (kind === 'mnist' || kind === 'mnist-gz') {
        const gz = kind === 'mnist-gz';
        const which = random() < 0.7;
        const img = which ? mutate(gz ? zlib.gzipSync(mnistImages) : mnistImages, random, 16) : gz ? zlib.gzipSync(mnistImages) : mnistImages;
        const lab = which ? (gz ? zlib.gzipSync(mnistLabels) : mnistLabels) : mutate(gz ? zlib.gzipSync(mnistLabels) : mnistLabels, random, 8);
        fs.writeFileSync(path.join(dir, `train-images-idx3-ubyte${gz ? '.gz' : ''}`), img);
        fs.writeFileSync(path.join(dir, `train-labels-idx1-ubyte${gz ? '.gz' : ''}`), lab);
        outcome = await readAll(() => sn.data.mnist({ root: dir }), []);
      } else if (kind === 'cifar') {
        fs.writeFileSync(path.join(dir, 'test_batch.bin'), mutate(cifar, random, 3073));
        outcome = await readAll(() => sn.data.cifar10({ root: dir, split: 'test' }), [sn.data.transforms.randomCrop(32, { padding: 4 })]);
      } else if (kind === 'png' || kind === 'jpeg') {
        fs.mkdirSync(path.join(dir, 'a'));
        fs.writeFileSync(path.join(dir, 'a', kind === 'png' ? 'x.png' : 'x.jpg'), mutate(kind === 'png' ? png : jpeg, random, 64));
        fs.writeFileSync(path.join(dir, 'a', 'ok.png'), png);
        const transforms = [sn.data.transforms.randomResizedCrop(16)];
        outcome = await readAll(() => sn.data.imageFolder({ root: dir, onCorrupt: random() < 0.5 ? 'skip' : 'fail' }), transforms);
      } else {
        fs.writeFileSync(path.join(dir, 'x.snpack'), mutate(packedBytes, random, 128));
        outcome = await readAll(() => sn.data.packed(path.join(dir, 'x.snpack')), []);
      }
      record(kind, outcome);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const total = Object.values(outcomes).reduce((s, o) => s + o.read + o.error + o.skipped, 0);
    expect(total).toBe(500);
    // The mutations did reach the checks: every kind saw errors (or skips).
    for (const [kind, o] of Object.entries(outcomes)) expect(o.error + o.skipped, kind).toBeGreaterThan(10);
  }, 300_000);
});
