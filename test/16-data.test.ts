/**
 * The data layer: readers on files written here (MNIST idx plain and gzip, CIFAR-10/100 binaries,
 * image folders, packed files), decoding and deterministic transforms against PIL/torchvision
 * (golden files), the native loader (order, sharding, drop-last, skipping), fit on a Dataset, the
 * bundled digits, statistics, and malformed files.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { readGolden } from './helpers';

const T = sn.data.transforms;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-data-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const goldenDir = path.join(__dirname, 'golden', 'data');

let counter = 0;
const freshDir = (name: string) => {
  const dir = path.join(tmp, `${name}-${counter++}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
};

// idx files as MNIST's: big-endian magic, dimensions, then bytes.
function idxImages(n: number, h: number, w: number, pixel: (i: number, k: number) => number): Buffer {
  const b = Buffer.alloc(16 + n * h * w);
  b.writeUInt32BE(0x803, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(h, 8);
  b.writeUInt32BE(w, 12);
  for (let i = 0; i < n; i++) for (let k = 0; k < h * w; k++) b[16 + i * h * w + k] = pixel(i, k);
  return b;
}
function idxLabels(labels: number[]): Buffer {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(0x801, 0);
  b.writeUInt32BE(labels.length, 4);
  labels.forEach((l, i) => (b[8 + i] = l));
  return b;
}
const mnistPixel = (i: number, k: number) => (i * 31 + k * 7) % 256;

function writeMnist(dir: string, gzip: boolean, n = 6, labels = [3, 1, 4, 1, 5, 9]): void {
  const z = (b: Buffer) => (gzip ? zlib.gzipSync(b) : b);
  const suffix = gzip ? '.gz' : '';
  fs.writeFileSync(path.join(dir, `train-images-idx3-ubyte${suffix}`), z(idxImages(n, 4, 3, mnistPixel)));
  fs.writeFileSync(path.join(dir, `train-labels-idx1-ubyte${suffix}`), z(idxLabels(labels.slice(0, n))));
}

// CIFAR records: label byte(s), then 1024 R, 1024 G, 1024 B.
const cifarPixel = (r: number, c: number, p: number) => (r * 13 + c * 101 + p * 3) % 256;
function cifarRecords(labels: number[][]): Buffer {
  const size = labels[0].length + 3072;
  const b = Buffer.alloc(labels.length * size);
  labels.forEach((ls, r) => {
    ls.forEach((l, j) => (b[r * size + j] = l));
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) b[r * size + ls.length + c * 1024 + p] = cifarPixel(r, c, p);
  });
  return b;
}

function imageFolder(spec: Record<string, string[]>): string {
  const root = freshDir('folder');
  for (const [cls, files] of Object.entries(spec)) {
    fs.mkdirSync(path.join(root, cls), { recursive: true });
    files.forEach((f, i) => fs.copyFileSync(path.join(goldenDir, f), path.join(root, cls, `${i}-${f}`)));
  }
  return root;
}

const bytesOf = (t: sn.Tensor) => Array.from(t.dataSync() as Uint8Array);

interface GoldenCase {
  shape: number[];
  decoded: number[];
  resize24: { shape: number[]; pixels: number[] };
  resize17x29: { shape: number[]; pixels: number[] };
  resize24_centerCrop20: number[];
  centerCropPadded: { size: [number, number]; pixels: number[] };
  flipCenterCropPadded: number[];
  centerCrop15x20_resize26x33: number[];
  centerCrop15x20_resize40x9: number[];
  normalized: number[];
}
const golden = readGolden<{ pillow: string; mean: number[]; std: number[]; cases: Record<string, GoldenCase> }>('data.json');
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('readers', () => {
  it('MNIST idx, plain and gzip: exact pixels and labels; also under MNIST/raw', async () => {
    for (const gzip of [false, true]) {
      const dir = freshDir('mnist');
      writeMnist(dir, gzip);
      const ds = await sn.data.mnist({ root: dir });
      expect([ds.length, ds.classes, ds.format]).toEqual([6, 10, 'mnist']);
      for (let i = 0; i < 6; i++) {
        const { image, label } = ds.get(i);
        expect(image.shape).toEqual([4, 3, 1]);
        expect(bytesOf(image)).toEqual(Array.from({ length: 12 }, (_, k) => mnistPixel(i, k)));
        expect(label).toBe([3, 1, 4, 1, 5, 9][i]);
        image.dispose();
      }
      ds.dispose();
    }
    const root = freshDir('mnist-raw');
    fs.mkdirSync(path.join(root, 'MNIST', 'raw'), { recursive: true });
    writeMnist(path.join(root, 'MNIST', 'raw'), true);
    const ds = await sn.data.mnist({ root });
    expect(ds.length).toBe(6);
    ds.dispose();
  });

  it('MNIST errors: missing folder or file, wrong magic, truncated data, labels out of range, count mismatch', async () => {
    await expect(sn.data.mnist({ root: path.join(tmp, 'nope') })).rejects.toThrow(/no such folder/);
    const empty = freshDir('mnist-empty');
    await expect(sn.data.mnist({ root: empty })).rejects.toThrow(/no MNIST images file/);
    await expect(sn.data.mnist({ root: empty, split: 'test' })).rejects.toThrow(/t10k-images-idx3-ubyte/);
    const bad = (mutate: (dir: string) => void) => {
      const dir = freshDir('mnist-bad');
      writeMnist(dir, false);
      mutate(dir);
      return sn.data.mnist({ root: dir });
    };
    await expect(bad((d) => fs.writeFileSync(path.join(d, 'train-images-idx3-ubyte'), Buffer.concat([Buffer.from([0, 0, 8, 1]), idxImages(6, 4, 3, mnistPixel).subarray(4)])))).rejects.toThrow(
      /not an idx3 image file \(magic number 2049, expected 2051\)/,
    );
    await expect(bad((d) => fs.truncateSync(path.join(d, 'train-images-idx3-ubyte'), 40))).rejects.toThrow(/holds 24 bytes of data, the header declares 6 x 4 x 3 \(72 bytes\)/);
    await expect(bad((d) => fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte'), idxLabels([3, 1, 4, 1, 5, 12])))).rejects.toThrow(/label 12 of example 5 is out of range 0..9/);
    await expect(bad((d) => fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte'), idxLabels([3, 1, 4])))).rejects.toThrow(/6 images but 3 labels/);
    await expect(bad((d) => fs.writeFileSync(path.join(d, 'train-images-idx3-ubyte.gz'), Buffer.from('junk')))).resolves.toBeDefined(); // the plain file wins
    const gz = freshDir('mnist-badgz');
    writeMnist(gz, true);
    const data = fs.readFileSync(path.join(gz, 'train-images-idx3-ubyte.gz'));
    fs.writeFileSync(path.join(gz, 'train-images-idx3-ubyte.gz'), data.subarray(0, data.length - 12));
    await expect(sn.data.mnist({ root: gz })).rejects.toThrow(/train-images-idx3-ubyte.gz: (corrupt gzip data|holds)/);
    await expect(sn.data.mnist({ root: gz, split: 'validation' as 'test' })).rejects.toThrow(/split must be 'train' or 'test'/);
  });

  it('CIFAR-10 and CIFAR-100 binaries: [H, W, C] pixels from the planes, fine and coarse labels', async () => {
    const root = freshDir('cifar10');
    const dir = path.join(root, 'cifar-10-batches-bin');
    fs.mkdirSync(dir);
    for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(dir, `data_batch_${b}.bin`), cifarRecords([[b], [9 - b]]));
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarRecords([[7], [2], [0]]));
    const train = await sn.data.cifar10({ root });
    const test = await sn.data.cifar10({ root, split: 'test' });
    expect([train.length, test.length, train.classes]).toEqual([10, 3, 10]);
    expect(Array.from(train.labels().dataSync() as BigInt64Array, Number)).toEqual([1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    const { image } = test.get(1);
    expect(image.shape).toEqual([32, 32, 3]);
    const px = image.dataSync() as Uint8Array;
    for (const [y, x, c] of [[0, 0, 0], [5, 17, 2], [31, 31, 1]]) expect(px[(y * 32 + x) * 3 + c]).toBe(cifarPixel(1, c, y * 32 + x));
    image.dispose();

    const root100 = freshDir('cifar100');
    fs.writeFileSync(path.join(root100, 'train.bin'), cifarRecords([[3, 77], [19, 4]]));
    const fine = await sn.data.cifar100({ root: root100 });
    const coarse = await sn.data.cifar100({ root: root100, labels: 'coarse' });
    expect(Array.from(fine.labels().dataSync() as BigInt64Array, Number)).toEqual([77, 4]);
    expect(Array.from(coarse.labels().dataSync() as BigInt64Array, Number)).toEqual([3, 19]);
    expect([fine.classes, coarse.classes]).toEqual([100, 20]);

    fs.writeFileSync(path.join(dir, 'test_batch.bin'), Buffer.concat([cifarRecords([[7]]), Buffer.alloc(100)]));
    await expect(sn.data.cifar10({ root, split: 'test' })).rejects.toThrow(/is not a whole number of 3073-byte records/);
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), cifarRecords([[10]]));
    await expect(sn.data.cifar10({ root, split: 'test' })).rejects.toThrow(/label 10 of record 0 is out of range for 10 classes/);
    fs.writeFileSync(path.join(root100, 'test.bin'), cifarRecords([[20, 5]]));
    await expect(sn.data.cifar100({ root: root100, split: 'test', labels: 'coarse' })).rejects.toThrow(/label 20 .* 20 classes/);
    sn.dispose([train, test, fine, coarse] as never);
  });

  it('image folders: sorted classes, RGB pixels as PIL decodes them, errors for missing and empty classes', async () => {
    const root = imageFolder({ zebra: ['wide.png'], apple: ['tall.png', 'gray.png'], mango: ['photo.jpg'] });
    fs.writeFileSync(path.join(root, 'apple', 'notes.txt'), 'not an image');
    const ds = await sn.data.imageFolder({ root });
    expect([ds.length, ds.classes, ds.classNames]).toEqual([4, 3, ['apple', 'mango', 'zebra']]);
    expect(Array.from(ds.labels().dataSync() as BigInt64Array, Number)).toEqual([0, 0, 1, 2]);
    const byFile = ['tall.png', 'gray.png', 'photo.jpg', 'wide.png'];
    byFile.forEach((file, i) => {
      const { image } = ds.get(i);
      const g = golden.cases[file];
      expect(image.shape).toEqual(g.shape);
      // PNG is lossless: exact. JPEG: PIL's libjpeg-turbo and Debian's may differ by one level.
      expect(maxDiff(image.dataSync() as Uint8Array, g.decoded), file).toBeLessThanOrEqual(file.endsWith('.png') ? 0 : 1);
      image.dispose();
    });
    ds.dispose();
    await expect(sn.data.imageFolder({ root: path.join(root, 'nope') })).rejects.toThrow(/no such folder/);
    fs.mkdirSync(path.join(root, 'empty-class'));
    await expect(sn.data.imageFolder({ root })).rejects.toThrow(/1 class folder\(s\) hold no .jpg, .jpeg or .png file: empty-class/);
    await expect(sn.data.imageFolder({ root: freshDir('no-classes') })).rejects.toThrow(/no class folders/);
  });
});

describe('transforms match torchvision (PIL): exactly on lossless files, within one uint8 level on JPEGs', () => {
  it('resize (shorter side and exact), center crop (with padding), normalize', async () => {
    const root = imageFolder({ a: ['wide.png', 'tall.png', 'gray.png', 'photo.jpg'] });
    const ds = await sn.data.imageFolder({ root });
    const files = ['wide.png', 'tall.png', 'gray.png', 'photo.jpg']; // as copied: 0-wide.png, 1-tall.png, ...
    for (let i = 0; i < files.length; i++) {
      const g = golden.cases[files[i]];
      const check = (transforms: sn.data.Transform[], expected: { shape: number[]; pixels: number[] }, what: string) => {
        const { image } = ds.get(i, { transforms });
        expect(image.shape, `${files[i]} ${what}`).toEqual(expected.shape);
        expect(maxDiff(image.dataSync() as Uint8Array, expected.pixels), `${files[i]} ${what}`).toBeLessThanOrEqual(files[i].endsWith('.png') ? 0 : 1);
        image.dispose();
      };
      check([T.resize(24)], g.resize24, 'resize 24');
      check([T.resize([17, 29])], g.resize17x29, 'resize [17, 29]');
      check([T.resize(24), T.centerCrop(20)], { shape: [20, 20, 3], pixels: g.resize24_centerCrop20 }, 'resize + center crop');
      check([T.centerCrop(g.centerCropPadded.size)], { shape: [...g.centerCropPadded.size, 3], pixels: g.centerCropPadded.pixels }, 'padded center crop');
      check([T.horizontalFlip(1), T.centerCrop(g.centerCropPadded.size)], { shape: [...g.centerCropPadded.size, 3], pixels: g.flipCenterCropPadded }, 'flip + padded center crop');
      // Resampling is PIL's, bit for bit: exact on lossless files, up and down.
      for (const [h, w, pixels] of [[26, 33, g.centerCrop15x20_resize26x33], [40, 9, g.centerCrop15x20_resize40x9]] as const) {
        const { image } = ds.get(i, { transforms: [T.centerCrop([15, 20]), T.resize([h, w])] });
        expect(maxDiff(image.dataSync() as Uint8Array, pixels), `${files[i]} crop + resize ${h} x ${w}`).toBeLessThanOrEqual(files[i].endsWith('.png') ? 0 : 1);
        image.dispose();
      }
    }
    // Normalize runs in the loader (float output): one batch of all four, in order.
    const loader = new sn.data.DataLoader(ds, { batchSize: 4, shuffle: false, threads: 2, transforms: [T.resize(24), T.centerCrop(20), T.normalize(golden.mean, golden.std)] });
    const { input, labels } = await loader.batch(0, 0);
    expect(input.shape).toEqual([4, 3, 20, 20]);
    expect(input.dtype).toBe('float32');
    const values = input.dataSync() as Float32Array;
    files.forEach((f, i) => {
      // One uint8 level is 1/255/std in normalised units.
      expect(maxDiff(values.subarray(i * 1200, (i + 1) * 1200), golden.cases[f].normalized), f).toBeLessThanOrEqual(1 / 255 / 0.224 + 1e-5);
    });
    sn.dispose([input, labels]);
    loader.dispose();
    ds.dispose();
  });

  it('random transforms are reproducible from (seed, epoch, index) and vary with them', async () => {
    const images = sn.randint(0, 256, [8, 32, 32, 3], { dtype: 'uint8', generator: new sn.Generator(1) });
    const ds = sn.data.fromTensors(images, sn.arange(0, 8, 1, { dtype: 'int64' }));
    const aug = [T.randomCrop(32, { padding: 4 }), T.horizontalFlip(), T.randomResizedCrop(24)];
    const a = ds.get(3, { transforms: aug, seed: 5, epoch: 2 }).image;
    const b = ds.get(3, { transforms: aug, seed: 5, epoch: 2 }).image;
    const c = ds.get(3, { transforms: aug, seed: 5, epoch: 3 }).image;
    expect(a.shape).toEqual([24, 24, 3]);
    expect(bytesOf(a)).toEqual(bytesOf(b));
    expect(bytesOf(a)).not.toEqual(bytesOf(c));
    // A flip with p = 1 mirrors the columns exactly.
    const flipped = ds.get(0, { transforms: [T.horizontalFlip(1)] }).image;
    expect(flipped.flip([1]).equal(images.index(0))).toBe(true);
    expect(() => ds.get(0, { transforms: [T.normalize([0.5], [0.5]), T.resize(3)] })).toThrow(/normalize must be the last transform/);
    expect(() => ds.get(0, { transforms: [{ kind: 'rotate' } as never] })).toThrow(/not a transform/);
    expect(() => ds.get(8)).toThrow(RangeError);
    sn.dispose([a, b, c, flipped, images]);
    ds.dispose();
  });
});

describe('the native loader', () => {
  const makeDataset = (n: number) => {
    const images = sn.arange(0, n, 1, { dtype: 'uint8' }).reshape([n, 1, 1, 1]).expand([n, 2, 2, 1]).contiguous();
    const labels = sn.arange(0, n, 1, { dtype: 'int64' }).remainder(10);
    const ds = sn.data.fromTensors(images, labels);
    sn.dispose([images, labels]);
    return ds;
  };
  const firstPixels = (t: sn.Tensor) => Array.from(t.select(1, 0).select(1, 0).select(1, 0).mul(255).round().dataSync() as Float32Array);

  it('seeded shuffle: each epoch a permutation, the same for the same seed; drop-last; no shuffle keeps order', async () => {
    const ds = makeDataset(10);
    const loader = new sn.data.DataLoader(ds, { batchSize: 4, seed: 3, threads: 3 });
    expect(loader.batchesPerEpoch).toBe(3);
    const epoch = async (l: sn.data.DataLoader, e: number) => {
      const seen: number[] = [];
      for await (const { input, labels } of l.epoch(e)) {
        const px = firstPixels(input);
        expect(Array.from(labels.dataSync() as BigInt64Array, Number)).toEqual(px.map((v) => v % 10));
        seen.push(...px);
        sn.dispose([input, labels]);
      }
      return seen;
    };
    const e0 = await epoch(loader, 0);
    expect([...e0].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e0).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const e1 = await epoch(loader, 1);
    expect(e1).not.toEqual(e0);
    const again = new sn.data.DataLoader(ds, { batchSize: 4, seed: 3, threads: 1 });
    expect(await epoch(again, 1)).toEqual(e1);
    const rgb = sn.data.fromTensors(sn.randint(0, 256, [4, 2, 2, 3], { dtype: 'uint8' }), sn.zeros([4], { dtype: 'int64' }));
    const channelsLast = new sn.data.DataLoader(rgb, { batchSize: 4, channelsLast: true });
    const cl = await channelsLast.batch(0, 0);
    expect(cl.input.shape).toEqual([4, 3, 2, 2]);
    expect(cl.input.stride()).toEqual([12, 1, 6, 3]); // N, H, W, C in memory
    sn.dispose([cl.input, cl.labels]);
    channelsLast.dispose();
    rgb.dispose();
    const ordered = new sn.data.DataLoader(ds, { batchSize: 4, shuffle: false, dropLast: true });
    expect(ordered.batchesPerEpoch).toBe(2);
    expect(await epoch(ordered, 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const l of [loader, again, ordered]) l.dispose();
    await expect(loader.batch(0, 0)).rejects.toThrow(/disposed/);
    ds.dispose();
  });

  it('concurrent batch requests all settle, each with its own batch; an AbortSignal ends a wait', async () => {
    // Slow batches (each photo upsampled to 512x512 on one thread), so that requests overlap.
    const root = imageFolder({ a: Array(12).fill('photo.jpg'), b: Array(12).fill('wide.png') });
    const ds = await sn.data.imageFolder({ root });
    const transforms = [T.resize([512, 512])];
    const loader = new sn.data.DataLoader(ds, { batchSize: 4, shuffle: false, threads: 1, prefetch: 0, transforms });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the batches never settled')), 30_000));
    const requests = [loader.batch(0, 0), loader.batch(0, 1), loader.batch(0, 2), loader.batch(0, 1), loader.batch(0, 5)];
    const batches = await Promise.race([Promise.all(requests), timeout]);
    expect(batches.map((b) => Array.from(b.labels.dataSync() as BigInt64Array, Number))).toEqual([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]);
    // The two requests for batch 1 got the same batch; the others are different batches.
    expect(batches[1].input.equal(batches[3].input)).toBe(true);
    expect(batches[0].input.equal(batches[1].input)).toBe(true); // the same photo, the same resize
    for (const b of batches) sn.dispose([b.input, b.labels]);
    loader.dispose();
    // A wait for a batch that is far from ready (12 images, about 25 ms each on one thread) ends
    // when aborted.
    const slow = new sn.data.DataLoader(ds, { batchSize: 12, shuffle: false, threads: 1, prefetch: 0, transforms });
    const controller = new AbortController();
    const waiting = slow.batch(1, 1, { signal: controller.signal });
    setTimeout(() => controller.abort(), 5);
    await expect(waiting).rejects.toBeInstanceOf(sn.AbortError);
    // The loader goes on serving.
    const next = await slow.batch(1, 1);
    expect(next.input.shape).toEqual([12, 3, 512, 512]);
    sn.dispose([next.input, next.labels]);
    slow.dispose();
    ds.dispose();
  });

  it('sharding by rank: disjoint shares that cover the epoch, padded as DistributedSampler', async () => {
    const ds = makeDataset(10);
    const shares: number[][] = [];
    for (let rank = 0; rank < 3; rank++) {
      const loader = new sn.data.DataLoader(ds, { batchSize: 2, seed: 9, rank, worldSize: 3 });
      expect(loader.examplesPerEpoch).toBe(4);
      const seen: number[] = [];
      for await (const { input, labels } of loader.epoch(0)) {
        seen.push(...firstPixels(input));
        sn.dispose([input, labels]);
      }
      shares.push(seen);
      loader.dispose();
    }
    const all = shares.flat();
    expect(all.length).toBe(12);
    expect(new Set(all).size).toBe(10); // two examples repeat to pad 10 to 12
    expect(() => new sn.data.DataLoader(ds, { batchSize: 2, rank: 3, worldSize: 3 })).toThrow(/rank 3 must be below worldSize 3/);
    ds.dispose();
  });

  it('each example is written straight into the batch: the same values in plain and channels-last batches, as get() gives them, with skips', async () => {
    const root = imageFolder({ a: ['photo.jpg', 'wide.png', 'tall.png'], b: ['gray.png', 'photo.jpg', 'wide.png'] });
    fs.writeFileSync(path.join(root, 'b', '1-photo.jpg'), fs.readFileSync(path.join(goldenDir, 'photo.jpg')).subarray(0, 700)); // truncated: skipped
    const ds = await sn.data.imageFolder({ root, onCorrupt: 'skip' });
    const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
    const pipelines: sn.data.Transform[][] = [
      [T.randomResizedCrop([12, 10]), T.horizontalFlip(), T.normalize(mean, std)],
      [T.resize(20), T.horizontalFlip(), T.randomCrop(16, { padding: 3 }), T.normalize(mean, std)],
      [T.horizontalFlip(), T.centerCrop([40, 70]), T.resize([9, 13])],
    ];
    for (const transforms of pipelines) {
      const batches = [];
      for (const channelsLast of [false, true]) {
        const loader = new sn.data.DataLoader(ds, { batchSize: 6, shuffle: false, seed: 7, transforms, channelsLast });
        batches.push(await loader.batch(2, 0));
        loader.dispose();
      }
      const [plain, last] = batches;
      expect(plain.skipped).toBe(1);
      const [n, c, h, w] = plain.input.shape;
      expect(n).toBe(5);
      expect(last.input.stride()).toEqual([h * w * c, 1, w * c, c]);
      const a = plain.input.dataSync() as Float32Array;
      expect(Array.from(last.input.contiguous().dataSync() as Float32Array)).toEqual(Array.from(a));
      // Each slot is the example get() gives (same seed and epoch), scaled and normalised.
      const norm = transforms[transforms.length - 1].kind === 'normalize';
      [0, 1, 2, 3, 5].forEach((index, slot) => {
        const { image } = ds.get(index, { transforms: transforms.filter((t) => t.kind !== 'normalize'), seed: 7, epoch: 2 });
        const px = image.dataSync() as Uint8Array;
        let worst = 0;
        for (let ch = 0; ch < c; ch++) {
          for (let p = 0; p < h * w; p++) {
            const expected = norm ? (px[p * c + ch] / 255 - mean[ch]) / std[ch] : px[p * c + ch] / 255;
            worst = Math.max(worst, Math.abs(a[slot * c * h * w + ch * h * w + p] - expected));
          }
        }
        expect(worst, `slot ${slot}`).toBeLessThan(1e-5);
        image.dispose();
      });
      for (const b of batches) sn.dispose([b.input, b.labels]);
    }
    ds.dispose();
  });

  it("output: 'uint8' hands over the transformed pixels [n, H, W, C]; fit and evaluate normalise them on the device to the same batches", async () => {
    const images = sn.randint(0, 256, [24, 12, 10, 3], { dtype: 'uint8', generator: new sn.Generator(8) });
    const labels = sn.randint(0, 4, [24], { generator: new sn.Generator(9) });
    const ds = sn.data.fromTensors(images, labels);
    const mean = [0.4, 0.5, 0.6], std = [0.2, 0.25, 0.3];
    const transforms = [T.randomResizedCrop([8, 8]), T.horizontalFlip(), T.normalize(mean, std)];
    const float = new sn.data.DataLoader(ds, { batchSize: 6, seed: 3, transforms, channelsLast: true });
    const bytes = new sn.data.DataLoader(ds, { batchSize: 6, seed: 3, transforms, channelsLast: true, output: 'uint8', pinMemory: true });
    const a = await float.batch(1, 2);
    const b = await bytes.batch(1, 2);
    expect([b.input.dtype, b.input.shape]).toEqual(['uint8', [6, 8, 8, 3]]);
    const fa = a.input.contiguous().dataSync() as Float32Array, pb = b.input.dataSync() as Uint8Array;
    let worst = 0;
    for (let n = 0; n < 6; n++) for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) worst = Math.max(worst, Math.abs(fa[(n * 3 + c) * 64 + p] - (pb[(n * 64 + p) * 3 + c] / 255 - mean[c]) / std[c]));
    expect(worst).toBeLessThan(1e-5);
    sn.dispose([a.input, a.labels, b.input, b.labels]);
    // Training from either gives the same steps.
    const losses: number[][] = [];
    for (const loader of [float, bytes]) {
      sn.manualSeed(5);
      const model = new sn.nn.Sequential(new sn.nn.Conv2d(3, 4, 3), new sn.nn.ReLU(), new sn.nn.Flatten(), new sn.nn.Linear(4 * 6 * 6, 4));
      const seen: number[] = [];
      await sn.fit(model, loader, { optimizer: new sn.optim.SGD(model, { lr: 0.05 }), epochs: 2, onStep: (e) => seen.push(e.loss) });
      const evaluated = await sn.evaluate(model, loader);
      losses.push([...seen, evaluated.loss]);
      model.dispose();
    }
    expect(losses[1].length).toBe(9);
    losses[1].forEach((l, i) => expect(l, `step ${i}`).toBeCloseTo(losses[0][i], 5));
    expect(() => new sn.data.DataLoader(ds, { batchSize: 2, output: 'int8' as never })).toThrow(/output must be 'float' or 'uint8'/);
    float.dispose();
    bytes.dispose();
    ds.dispose();
  });

  it('batch buffers are reused only once nothing holds them: a batch kept, or a view of one, never changes', async () => {
    const images = sn.randint(0, 256, [64, 8, 8, 3], { dtype: 'uint8', generator: new sn.Generator(4) });
    const ds = sn.data.fromTensors(images, sn.zeros([64], { dtype: 'int64' }));
    const loader = new sn.data.DataLoader(ds, { batchSize: 8, seed: 1, transforms: [T.randomCrop(8, { padding: 2 }), T.horizontalFlip()] });
    const kept = await loader.batch(0, 0);
    const keptValues = Array.from(kept.input.dataSync() as Float32Array);
    const second = await loader.batch(0, 1);
    const view = second.input.narrow(0, 2, 3);
    const viewValues = Array.from(view.dataSync() as Float32Array);
    sn.dispose([second.input, second.labels]);
    for (let e = 0; e < 3; e++) {
      for await (const b of loader.epoch(e + 1)) sn.dispose([b.input, b.labels]);
    }
    expect(Array.from(kept.input.dataSync() as Float32Array)).toEqual(keptValues);
    expect(Array.from(view.dataSync() as Float32Array)).toEqual(viewValues);
    // Disposed batches are reused: a batch asked for again is the same as the first time.
    const again = await loader.batch(0, 0);
    expect(Array.from(again.input.dataSync() as Float32Array)).toEqual(keptValues);
    sn.dispose([kept.input, kept.labels, view, again.input, again.labels]);
    loader.dispose();
    ds.dispose();
  });

  it('corrupt images: an error naming the file by default, a counted skip with onCorrupt: skip', async () => {
    const root = imageFolder({ a: ['wide.png', 'photo.jpg'], b: ['wide.png', 'photo.jpg'] });
    const bad = path.join(root, 'b', '0-wide.png');
    fs.writeFileSync(bad, fs.readFileSync(bad).subarray(0, 300)); // truncated
    const truncatedJpeg = path.join(root, 'a', '1-photo.jpg');
    fs.writeFileSync(truncatedJpeg, fs.readFileSync(truncatedJpeg).subarray(0, 900));
    const transforms = [T.resize([16, 16])];
    const strict = new sn.data.DataLoader(await sn.data.imageFolder({ root }), { batchSize: 4, shuffle: false, transforms });
    await expect(strict.batch(0, 0)).rejects.toThrow(/corrupt (PNG|JPEG)/);
    const lenientSet = await sn.data.imageFolder({ root, onCorrupt: 'skip' });
    const lenient = new sn.data.DataLoader(lenientSet, { batchSize: 4, shuffle: false, transforms });
    const { input, labels, skipped } = await lenient.batch(0, 0);
    expect(skipped).toBe(2);
    expect(lenient.skipped).toBe(2);
    expect(input.shape).toEqual([2, 3, 16, 16]);
    expect(Array.from(labels.dataSync() as BigInt64Array, Number)).toEqual([0, 1]);
    // Different sizes in one batch without a resize: a clear error.
    const mixed = new sn.data.DataLoader(lenientSet, { batchSize: 4, shuffle: false });
    await expect(mixed.batch(0, 0)).rejects.toThrow(/examples of different sizes in one batch/);
    sn.dispose([input, labels]);
    for (const l of [strict, lenient, mixed]) l.dispose();
  });
});

describe('every kind of file ImageNet holds', () => {
  const formatsDir = path.join(__dirname, 'golden', 'formats');
  const formats = readGolden<{ files: Record<string, { mode: string; shape: number[]; pixels: number[] }> }>('formats.json');

  it('CMYK and YCCK JPEGs, grey, progressive, palette, alpha, interlaced, 16-bit and a PNG named .JPEG: each within 2 levels of PIL', async () => {
    const names = Object.keys(formats.files).sort();
    expect(names.length).toBe(11);
    const root = freshDir('formats');
    fs.mkdirSync(path.join(root, 'all'));
    for (const f of names) fs.copyFileSync(path.join(formatsDir, f), path.join(root, 'all', f));
    const ds = await sn.data.imageFolder({ root });
    expect(ds.length).toBe(names.length);
    names.forEach((name, i) => {
      const { image } = ds.get(i);
      const g = formats.files[name];
      expect(image.shape, name).toEqual(g.shape);
      expect(maxDiff(image.dataSync() as Uint8Array, g.pixels), `${name} (PIL mode ${g.mode})`).toBeLessThanOrEqual(2);
      image.dispose();
    });
    // Through the loader too, with a random resized crop (the region decoding path).
    const loader = new sn.data.DataLoader(ds, { batchSize: names.length, shuffle: false, transforms: [T.randomResizedCrop(16), T.normalize([0.5], [0.5])] });
    const { input, skipped } = await loader.batch(0, 0);
    expect([input.shape, skipped]).toEqual([[names.length, 3, 16, 16], 0]);
    sn.dispose([input]);
    loader.dispose();
    ds.dispose();
  });

  it('a 1 x 1,000,000 PNG is refused as corrupt before the resize allocates, and skipped under onCorrupt: skip, in little memory', async () => {
    const root = freshDir('extreme');
    fs.mkdirSync(path.join(root, 'a'));
    fs.copyFileSync(path.join(formatsDir, 'extreme.png'), path.join(root, 'a', 'strip.png'));
    fs.copyFileSync(path.join(goldenDir, 'wide.png'), path.join(root, 'a', 'wide.png'));
    const strict = await sn.data.imageFolder({ root });
    await expect(strict.pack(path.join(tmp, 'strict.snpack'), { size: 256 })).rejects.toThrow(/strip\.png: an image of 1 x 1000000 pixels would be resized to 256 x 256000000 \(an extreme shape\)/);
    expect(fs.existsSync(path.join(tmp, 'strict.snpack'))).toBe(false);
    strict.dispose();
    // In a process of its own, whose peak resident memory is compared with its memory before.
    const out = path.join(tmp, 'skipped.snpack');
    const script = `
      const sn = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      (async () => {
        sn.ones([1]).dispose();
        const before = process.memoryUsage().rss;
        const ds = await sn.data.imageFolder({ root: ${JSON.stringify(root)}, onCorrupt: 'skip' });
        const r = await ds.pack(${JSON.stringify(out)}, { size: 256 });
        const loader = new sn.data.DataLoader(ds, { batchSize: 2, transforms: [sn.data.transforms.resize(64), sn.data.transforms.centerCrop(64)] });
        const b = await loader.batch(0, 0);
        console.log(JSON.stringify({ ...r, batch: b.input.shape, skippedInBatch: b.skipped, delta: process.resourceUsage().maxRSS * 1024 - before }));
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result).toMatchObject({ count: 1, skipped: 1, batch: [1, 3, 64, 64], skippedInBatch: 1 });
    expect(result.delta).toBeLessThan(100 * 2 ** 20);
  });
});

describe('packed files, statistics and the bundled digits', () => {
  it('pack: resize + center crop into one memory-mapped file that reads back the same pixels', async () => {
    const root = imageFolder({ cat: ['wide.png', 'photo.jpg'], dog: ['tall.png'] });
    const ds = await sn.data.imageFolder({ root });
    const file = path.join(tmp, 'set.snpack');
    const progress: number[] = [];
    const r = await ds.pack(file, { size: 16, onProgress: (p) => progress.push(p.done) });
    expect(r).toEqual({ count: 3, skipped: 0 });
    const packedSet = await sn.data.packed(file);
    expect([packedSet.length, packedSet.classes, packedSet.classNames, packedSet.format]).toEqual([3, 2, ['cat', 'dog'], 'packed']);
    for (let i = 0; i < 3; i++) {
      const a = packedSet.get(i);
      const b = ds.get(i, { transforms: [T.resize(16), T.centerCrop(16)] });
      expect(a.image.shape).toEqual([16, 16, 3]);
      expect(bytesOf(a.image)).toEqual(bytesOf(b.image));
      expect(a.label).toBe(b.label);
      sn.dispose([a.image, b.image]);
    }
    packedSet.dispose();
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(path.join(tmp, 'cut.snpack'), bytes.subarray(0, bytes.length - 10));
    await expect(sn.data.packed(path.join(tmp, 'cut.snpack'))).rejects.toThrow(/truncated or not a packed file/);
    await expect(sn.data.packed(path.join(goldenDir, 'wide.png'))).rejects.toThrow(/wrong magic bytes/);
    // A pack into a missing folder fails and leaves nothing behind.
    await expect(ds.pack(path.join(tmp, 'missing', 'x.snpack'), { size: 8 })).rejects.toThrow(/cannot write/);
    expect(fs.existsSync(path.join(tmp, 'missing'))).toBe(false);
    // Cancelled at its first progress report: an AbortError, and no file.
    const digits = sn.data.digits();
    const controller = new AbortController();
    const aborted = path.join(tmp, 'aborted.snpack');
    await expect(digits.pack(aborted, { size: 28, signal: controller.signal, onProgress: () => controller.abort() })).rejects.toThrow(sn.AbortError);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('aborted'))).toEqual([]);
    digits.dispose();
    ds.dispose();
  });

  it('pack streams large sets piece by piece: 400 images at 256 x 256 (two pieces), skipped ones left out in order', async () => {
    const root = freshDir('many');
    for (const cls of ['a', 'b']) fs.mkdirSync(path.join(root, cls));
    const corrupt = new Set([5, 340, 350]);
    for (let i = 0; i < 400; i++) {
      const target = path.join(root, i < 200 ? 'a' : 'b', `${String(i).padStart(3, '0')}.png`);
      if (corrupt.has(i)) fs.writeFileSync(target, fs.readFileSync(path.join(goldenDir, 'wide.png')).subarray(0, 200));
      else fs.copyFileSync(path.join(goldenDir, i % 2 ? 'wide.png' : 'tall.png'), target);
    }
    const ds = await sn.data.imageFolder({ root, onCorrupt: 'skip' });
    const file = path.join(tmp, 'many.snpack');
    expect(await ds.pack(file, { size: 256 })).toEqual({ count: 397, skipped: 3 });
    const packedSet = await sn.data.packed(file);
    expect(packedSet.length).toBe(397);
    const kept = Array.from({ length: 400 }, (_, i) => i).filter((i) => !corrupt.has(i));
    expect(Array.from(packedSet.labels().dataSync() as BigInt64Array, Number)).toEqual(kept.map((i) => (i < 200 ? 0 : 1)));
    for (const k of [0, 5, 338, 339, 396]) {
      const a = packedSet.get(k);
      const b = ds.get(kept[k], { transforms: [T.resize(256), T.centerCrop(256)] });
      expect(bytesOf(a.image), `packed ${k}`).toEqual(bytesOf(b.image));
      sn.dispose([a.image, b.image]);
    }
    packedSet.dispose();
    ds.dispose();
    fs.rmSync(file);
  });

  it('stats: count, per-class counts, per-channel mean and std of pixels in [0, 1]', async () => {
    const images = sn.randint(0, 256, [20, 5, 4, 3], { dtype: 'uint8', generator: new sn.Generator(2) });
    const labels = sn.tensor([0, 1, 1, 2, 2, 2, 0, 1, 1, 2, 2, 2, 0, 1, 1, 2, 2, 2, 0, 0], { dtype: 'int64' });
    const ds = sn.data.fromTensors(images, labels, { classes: 4 });
    const s = await ds.stats({ threads: 3 });
    expect(s.count).toBe(20);
    expect(s.perClass).toEqual([5, 6, 9, 0]);
    const x = images.to('float64').div(255).reshape([-1, 3]);
    const mean = Array.from(x.mean([0]).dataSync() as Float64Array);
    const std = Array.from(x.std([0], { correction: 0 }).dataSync() as Float64Array);
    s.mean.forEach((m, c) => expect(m).toBeCloseTo(mean[c], 12));
    s.std.forEach((v, c) => expect(v).toBeCloseTo(std[c], 10));
    sn.dispose([images, labels, x]);
    ds.dispose();
  });

  it('the bundled digits: 10,000 real MNIST digits, a seeded disjoint train/test split', async () => {
    const train = sn.data.digits();
    const test = sn.data.digits({ split: 'test' });
    expect([train.length, test.length, train.classes]).toEqual([8000, 2000, 10]);
    const s = await test.stats();
    expect(s.perClass.reduce((a, b) => a + b, 0)).toBe(2000);
    expect(s.perClass.every((c) => c > 150 && c < 250)).toBe(true);
    // MNIST's pixel statistics (0.1307 / 0.3081 over the full training set).
    expect(s.mean[0]).toBeGreaterThan(0.11);
    expect(s.mean[0]).toBeLessThan(0.15);
    expect(s.std[0]).toBeGreaterThan(0.28);
    expect(s.std[0]).toBeLessThan(0.33);
    const other = sn.data.digits({ split: 'test', seed: 1 });
    const l0 = test.labels();
    const l1 = other.labels();
    expect(l0.equal(l1)).toBe(false);
    sn.dispose([l0, l1]);
    for (const d of [train, test, other]) d.dispose();
  });

  it('fit and evaluate take a Dataset (the loader runs on its own threads) and learn the digits', async () => {
    const train = sn.data.digits();
    const test = sn.data.digits({ split: 'test' });
    sn.manualSeed(0);
    const model = new sn.nn.Sequential([new sn.nn.Flatten(), new sn.nn.Linear(784, 10)]);
    const optimizer = new sn.optim.SGD(model, { lr: 0.5 });
    const normalize = [T.normalize([0.1307], [0.3081])];
    const before = await sn.evaluate(model, test, { batchSize: 500, transforms: normalize });
    const losses: number[] = [];
    const r = await sn.fit(model, train, { optimizer, epochs: 1, batchSize: 100, transforms: normalize, loaderThreads: 2, onStep: (e) => losses.push(e.loss) });
    expect(r.steps).toBe(80);
    const after = await sn.evaluate(model, test, { batchSize: 500, transforms: normalize });
    expect(before.top1).toBeLessThan(0.3);
    expect(after.top1).toBeGreaterThan(0.8);
    expect(after.examples).toBe(2000);
    const loader = new sn.data.DataLoader(train, { batchSize: 100 });
    await expect(sn.fit(model, loader, { optimizer, steps: 1, batchSize: 10 })).rejects.toThrow(/batchSize belong to the DataLoader/);
    await expect(sn.fit(model, train, { optimizer, steps: 1 })).rejects.toThrow(/batchSize is required/);
    loader.dispose();
    optimizer.dispose();
    model.dispose();
    train.dispose();
    test.dispose();
  });
});
