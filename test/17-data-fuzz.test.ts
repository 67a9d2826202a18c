/**
 * Malformed files: 1,200 mutations (flipped bytes, truncations, insertions, overwritten header
 * fields) of MNIST idx (plain and gzip), CIFAR binaries, PNG, JPEG, packed files, safetensors files
 * and checkpoints. Each must open and read, or fail with a TorchError, or be a counted skip: never
 * a crash, a hang, or memory out of proportion to the file. And files whose headers claim more
 * than they hold: memory follows what they hold.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function idx(magic: number, dims: number[], body: Buffer): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, body]);
}

describe('fuzz: 1,200 mutated files of every format', () => {
  it('each is read, a TorchError or a counted skip; no crash, no hang; a failed checkpoint load changes nothing; memory stays small', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'fuzz-'));
    // In a process of its own: its exit shows a crash, its timeout a hang, its maxRSS the peak memory.
    const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'fuzz-files.js'), '1200', '20231127', dir], { encoding: 'utf8', timeout: 280_000 });
    expect(r.signal, `the fuzz process was ended by ${r.signal}: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      outcomes: Record<string, Record<'read' | 'error' | 'skipped', number>>;
      unexpected: string[];
      peak: number;
      largest: number;
      live: number;
    };
    expect(report.unexpected).toEqual([]);
    const total = Object.values(report.outcomes).reduce((s, o) => s + o.read + o.error + o.skipped, 0);
    expect(total).toBe(1200);
    expect(Object.keys(report.outcomes).sort()).toEqual(['checkpoint', 'cifar', 'jpeg', 'mnist', 'mnist-gz', 'packed', 'png', 'safetensors']);
    // The mutations did reach the checks: every kind saw errors (or skips).
    for (const [kind, o] of Object.entries(report.outcomes)) expect(o.error + o.skipped, kind).toBeGreaterThan(10);
    expect(report.live).toBe(0);
    // Files of at most a few hundred kilobytes: no read may take more than a few tens of megabytes.
    expect(report.peak, `peak ${(report.peak / 2 ** 20).toFixed(1)} MiB for files up to ${report.largest} bytes`).toBeLessThan(96 * 2 ** 20 + 16 * report.largest);
  }, 300_000);
});

describe('memory follows what a file holds, not what its header claims', () => {
  // Each case runs in its own process, whose peak resident memory (maxRSS) is compared with its
  // memory before the read.
  const root = path.resolve(__dirname, '..');
  function peak(read: string): { delta: number; error: string | null } {
    const script = `
      const sn = require(${JSON.stringify(root)});
      (async () => {
        sn.ones([1]).dispose();
        const before = process.memoryUsage().rss;
        let error = null;
        try { await (async () => { ${read} })(); } catch (e) { error = e.name + ': ' + e.message; }
        console.log(JSON.stringify({ delta: process.resourceUsage().maxRSS * 1024 - before, error }));
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }
  const MB = 1 << 20;

  it('a small gzipped MNIST file whose header declares one image stops at that image (not 128 MiB of zeros later)', () => {
    const dir = path.join(tmp, 'bomb');
    fs.mkdirSync(dir, { recursive: true });
    const gz = zlib.createGzip({ level: 1 });
    const chunks: Buffer[] = [];
    gz.on('data', (c: Buffer) => chunks.push(c));
    gz.write(idx(0x803, [1, 28, 28], Buffer.alloc(784, 7)));
    const zeros = Buffer.alloc(MB);
    for (let i = 0; i < 128; i++) gz.write(zeros);
    gz.end();
    return new Promise<void>((resolve) => {
      gz.on('end', () => {
        const file = Buffer.concat(chunks);
        expect(file.length).toBeLessThan(MB); // a small file
        fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), file);
        fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx(0x801, [1], Buffer.from([3])));
        const r = peak(`await sn.data.mnist({ root: ${JSON.stringify(dir)} });`);
        expect(r.error).toMatch(/holds more than 784 bytes of data, the header declares 1 x 28 x 28 \(784 bytes\)/);
        expect(r.delta).toBeLessThan(48 * MB);
        resolve();
      });
    });
  });

  it('MNIST headers that claim more than the file holds, or cut short: clear errors, no large allocation', async () => {
    const dir = path.join(tmp, 'claims');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx(0x801, [3], Buffer.from([1, 2, 3])));
    // 4 billion images declared, ten present.
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idx(0x803, [0xffffffff, 28, 28], Buffer.alloc(7840)));
    await expect(sn.data.mnist({ root: dir })).rejects.toThrow(/the header declares more than 4 GiB of data/);
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), idx(0x803, [3000000, 28, 28], Buffer.alloc(7840)));
    await expect(sn.data.mnist({ root: dir })).rejects.toThrow(/holds 7840 bytes of data, the header declares 3000000 x 28 x 28 \(2352000000 bytes\)/);
    const r = peak(`await sn.data.mnist({ root: ${JSON.stringify(dir)} });`);
    expect(r.error).toMatch(/holds 7840 bytes of data/);
    expect(r.delta).toBeLessThan(48 * MB);
    // A header cut short says so (the magic number was right).
    fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), Buffer.from([0, 0, 8, 3, 0, 0]));
    await expect(sn.data.mnist({ root: dir })).rejects.toThrow(/the idx3 image header is cut short \(6 of 16 bytes\)/);
  });

  it('a safetensors header of 200,000 empty entries: parsed without a JSON tree (metadata alone), tensors at a fixed cost each', () => {
    const n = 200_000;
    const entries = Array.from({ length: n }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(',');
    const json = Buffer.from(`{"__metadata__":{"format":"x"},${entries}}`);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    const file = path.join(tmp, 'many.safetensors');
    fs.writeFileSync(file, Buffer.concat([length, json]));
    const size = json.length + 8;
    const header = peak(`const m = sn.readSafetensorsMetadata(${JSON.stringify(file)}); if (m.format !== 'x') throw new Error('metadata');`);
    expect(header.error).toBeNull();
    expect(header.delta).toBeLessThan(4 * size + 16 * MB);
    // Every entry becomes a tensor (native and JavaScript objects, under 1 KB each).
    const all = peak(`const { tensors } = sn.readSafetensors(${JSON.stringify(file)}); if (Object.keys(tensors).length !== ${n}) throw new Error('count');`);
    expect(all.error).toBeNull();
    expect(all.delta).toBeLessThan(n * 1024 + 16 * MB);
  });

  it('readSafetensors of a folder or a FIFO: a SafetensorsError at once, no hang', () => {
    expect(() => sn.readSafetensors(tmp)).toThrow(sn.SafetensorsError);
    expect(() => sn.readSafetensors(tmp)).toThrow(/it is a folder, not a file/);
    const fifo = path.join(tmp, 'pipe');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      expect(() => sn.readSafetensors(fifo)).toThrow(/it is not a regular file/);
      expect(() => sn.readSafetensorsMetadata(fifo)).toThrow(sn.SafetensorsError);
      return expect(sn.data.packed(fifo)).rejects.toThrow(/not a packed skipnorm dataset/);
    }
  });

  it('a packed file with a malformed header number says where, not "stoll"', async () => {
    const header = Buffer.from('{"count":-,"height":8,"width":8,"channels":3,"classes":2,"classNames":[]}');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    const file = path.join(tmp, 'bad.snpack');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('SNPACK01'), length, header, Buffer.alloc(256)]));
    await expect(sn.data.packed(file)).rejects.toThrow(/packed file: malformed header \(expected a number at byte 9\)/);
  });
});

