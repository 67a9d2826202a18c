/**
 * Safetensors: files written by Python's safetensors read back exactly; every dtype round-trips;
 * bad files are clear errors; writes are atomic; state dicts interchange with PyTorch.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { pythonWith } from './helpers';

const golden = path.join(__dirname, 'golden');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-st-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A safetensors file from a header object and data bytes, for the malformed-file cases. */
function craft(name: string, header: unknown, data: Buffer = Buffer.alloc(0), claimedLength?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(claimedLength ?? BigInt(json.length));
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([length, json, data]));
  return file;
}

describe('reading files written by Python', () => {
  it('reads a tensor of every dtype with exact values', () => {
    const { tensors, metadata } = sn.readSafetensors(path.join(golden, 'dtypes.safetensors'));
    try {
      expect(metadata).toEqual({ note: 'one tensor of every dtype' });
      const dtypes = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, t.dtype]));
      expect(dtypes).toEqual({ f64: 'float64', f32: 'float32', f16: 'float16', bf16: 'bfloat16', i64: 'int64', i32: 'int32', i16: 'int16', i8: 'int8', u8: 'uint8', bool: 'bool', empty: 'float32', scalar: 'float32' });
      const base = tensors.f64;
      expect(base.shape).toEqual([2, 3]);
      sn.scope(() => {
        expect(tensors.f32.equal(base.float())).toBe(true);
        expect(tensors.f16.equal(base.half())).toBe(true);
        expect(tensors.bf16.equal(base.bfloat16())).toBe(true);
        expect(tensors.i64.equal(base.mul(1000).long())).toBe(true);
        expect(tensors.bool.equal(base.gt(0))).toBe(true);
      });
      expect(tensors.empty.shape).toEqual([0, 4]);
      expect(tensors.scalar.shape).toEqual([]);
      expect(tensors.scalar.item()).toBe(3.5);
    } finally {
      sn.dispose(tensors);
    }
  });

  it("PyTorch's BNNet weights (seed 0) load strictly into every variant, and equal skipnorm's own seed-0 init", () => {
    const { tensors } = sn.readSafetensors(path.join(golden, 'bnnet-seed0.safetensors'));
    try {
      for (const variant of ['a', 'b', 'c'] as const) {
        sn.manualSeed(0);
        const model = sn.models.bnnet({ variant });
        const own = model.stateDict();
        expect(Object.keys(own).sort()).toEqual(Object.keys(tensors).sort());
        for (const [k, t] of Object.entries(tensors)) expect(own[k].equal(t), `${k} equals PyTorch's initial value`).toBe(true);
        sn.dispose(own);
        sn.manualSeed(99);
        const other = sn.models.bnnet({ variant });
        expect(other.loadStateDict(tensors)).toEqual({ missingKeys: [], unexpectedKeys: [], mismatchedKeys: [] });
        const loaded = other.stateDict();
        for (const [k, t] of Object.entries(tensors)) expect(loaded[k].equal(t)).toBe(true);
        sn.dispose(loaded);
        model.dispose();
        other.dispose();
      }
    } finally {
      sn.dispose(tensors);
    }
  });
});

describe('writing', () => {
  it('round-trips every dtype, shapes and metadata', () => {
    sn.scope(() => {
      const base = sn.randn([3, 4], { generator: new sn.Generator(1), dtype: 'float64' });
      const tensors: Record<string, sn.Tensor> = {
        f64: base,
        f32: base.float(),
        f16: base.half(),
        bf16: base.bfloat16(),
        i64: base.mul(100).long(),
        i32: base.mul(100).int(),
        i16: base.mul(100).to('int16'),
        i8: base.mul(10).to('int8'),
        u8: base.abs().mul(20).to('uint8'),
        bool: base.gt(0),
        scalar: sn.tensor(2.5),
        empty: sn.zeros([0, 3]),
        view: base.t(), // non-contiguous: written as its values
      };
      const file = path.join(dir, 'all.safetensors');
      sn.writeSafetensors(file, tensors, { framework: 'skipnorm' });
      const back = sn.readSafetensors(file);
      expect(back.metadata).toEqual({ framework: 'skipnorm' });
      for (const [k, t] of Object.entries(tensors)) {
        expect(back.tensors[k].dtype, k).toBe(t.dtype);
        expect(back.tensors[k].shape, k).toEqual(t.shape);
        expect(back.tensors[k].equal(t), k).toBe(true);
      }
      sn.dispose(back.tensors);
      // The header is padded so the data starts on an 8-byte boundary, as safetensors does.
      const bytes = fs.readFileSync(file);
      expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0);
    });
  });

  it("a tensor named '__proto__' is an ordinary key both ways", () => {
    const file = path.join(dir, 'proto.safetensors');
    sn.scope(() => {
      const tensors: Record<string, sn.Tensor> = {};
      Object.defineProperty(tensors, '__proto__', { value: sn.ones([2]), enumerable: true });
      tensors.other = sn.zeros([1]);
      sn.writeSafetensors(file, tensors);
      const back = sn.readSafetensors(file).tensors;
      expect(Object.keys(back).sort()).toEqual(['__proto__', 'other']);
      expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
      sn.dispose(Object.values(back));
    });
  });

  it('a failed write leaves the previous file intact and no temporary file behind', () => {
    const file = path.join(dir, 'keep.safetensors');
    sn.scope(() => sn.writeSafetensors(file, { a: sn.ones([2]) }));
    const before = fs.readFileSync(file);
    expect(() => sn.scope(() => sn.writeSafetensors(file, { good: sn.ones([2]), bad: sn.complex(sn.ones([1]), sn.ones([1])) }))).toThrowError(/complex64, which safetensors cannot store/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    // A target folder that does not exist: a clear error, nothing written.
    expect(() => sn.scope(() => sn.writeSafetensors(path.join(dir, 'missing', 'x.safetensors'), { a: sn.ones([1]) }))).toThrowError(/cannot write/);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it.runIf(pythonOracle())('files written by skipnorm load into PyTorch with load_state_dict(strict=True)', () => {
    sn.manualSeed(3);
    const model = sn.models.bnnet({ variant: 'b' });
    const state = model.stateDict();
    const file = path.join(dir, 'bnnet-from-skipnorm.safetensors');
    sn.writeSafetensors(file, state);
    const script = `
import sys, torch
sys.path.insert(0, ${JSON.stringify(path.join(__dirname, '..', 'scripts', 'golden'))})
from models import BNNet
from safetensors.torch import load_file
state = load_file(${JSON.stringify(file)})
net = BNNet('b')
net.load_state_dict(state, strict=True)
print(float(sum(v.double().sum() for v in net.state_dict().values())))
`;
    const r = spawnSync(pythonOracle()!, ['-c', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const ours = sn.scope(() => Object.values(state).reduce((acc, t) => acc + t.to('float64').sum().item(), 0));
    expect(Number(r.stdout.trim())).toBeCloseTo(ours, 6);
    sn.dispose(state);
    model.dispose();
  });
});

describe('durable writes', () => {
  // Which file descriptors a process flushed (fsync), and what it renamed, as strace sees it.
  const hasStrace = spawnSync('strace', ['-V']).status === 0;
  function traced(script: string): string[] {
    const log = path.join(dir, `strace-${Date.now()}.log`);
    const r = spawnSync('strace', ['-f', '-e', 'trace=fsync,rename,renameat,renameat2,openat', '-o', log, process.execPath, '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return fs.readFileSync(log, 'utf8').split('\n');
  }
  // The fd that `opened` (a path) got, then whether that fd was flushed after the rename to `target`.
  function flushedAfterRename(lines: string[], folder: string, target: string): { file: boolean; folder: boolean } {
    const renamed = lines.findIndex((l) => /rename/.test(l) && l.includes(`"${target}"`));
    expect(renamed, `no rename to ${target}`).toBeGreaterThan(0);
    const tempFd = /openat\(AT_FDCWD, "([^"]+\.tmp)".* = (\d+)/;
    const fileFlushed = lines.slice(0, renamed).some((l, i, all) => {
      const m = tempFd.exec(l);
      return m !== null && all.slice(i + 1).some((k) => k.includes(`fsync(${m[2]})`));
    });
    const after = lines.slice(renamed);
    const open = after.map((l) => new RegExp(`openat\\(AT_FDCWD, "${folder}", .* = (\\d+)`).exec(l)).find((m) => m);
    return { file: fileFlushed, folder: open !== undefined && after.some((l) => l.includes(`fsync(${open![1]})`)) };
  }

  it.runIf(hasStrace)('writeSafetensors and a packed file flush their data, rename, then flush the folder', () => {
    const target = path.join(dir, 'durable.safetensors');
    const root = path.resolve(__dirname, '..');
    const st = traced(`const sn = require(${JSON.stringify(root)}); sn.writeSafetensors(${JSON.stringify(target)}, { a: sn.ones([2]) });`);
    expect(flushedAfterRename(st, dir, target)).toEqual({ file: true, folder: true });
    const packed = path.join(dir, 'durable.snpack');
    const pk = traced(`const sn = require(${JSON.stringify(root)});
      const d = sn.data.fromTensors(sn.zeros([2, 4, 4, 3], { dtype: 'uint8' }), sn.zeros([2], { dtype: 'int64' }));
      d.pack(${JSON.stringify(packed)}, { size: 4 }).then(() => d.dispose());`);
    expect(flushedAfterRename(pk, dir, packed)).toEqual({ file: true, folder: true });
  });

  it('temporary files of writes a killed process left are removed when a pack starts; those of live processes stay', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const stale = path.join(dir, `.packed.snpack.${dead}.0123456789ab.tmp`);
    const live = path.join(dir, `.packed.snpack.${process.pid}.0123456789ab.tmp`);
    fs.writeFileSync(stale, 'half a file');
    fs.writeFileSync(live, 'a write in progress');
    const images = sn.zeros([2, 4, 4, 3], { dtype: 'uint8' });
    const labels = sn.zeros([2], { dtype: 'int64' });
    const d = sn.data.fromTensors(images, labels);
    await d.pack(path.join(dir, 'packed.snpack'), { size: 4 });
    sn.dispose([images, labels]);
    d.dispose();
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    fs.rmSync(live);
  });
});

describe('bad files are clear errors, never crashes', () => {
  const f32 = (n: number) => Buffer.alloc(4 * n);
  const cases: [string, () => string, RegExp][] = [
    ['a missing file', () => path.join(dir, 'nope.safetensors'), /cannot open/],
    ['an empty file', () => (fs.writeFileSync(path.join(dir, 'empty'), ''), path.join(dir, 'empty')), /too short for a safetensors header/],
    ['a header claiming a terabyte', () => craft('tb', {}, Buffer.alloc(0), 1n << 40n), /claims 1099511627776 bytes, more than the 100000000-byte limit/],
    ['a header longer than the file', () => craft('trunc-header', '{"a":1}', Buffer.alloc(0), 500n), /claims 500 bytes but the file has only/],
    ['a header that is not JSON', () => craft('notjson', '{oops'), /the header is not valid JSON/],
    ['a header that is an array', () => craft('array', '[]'), /not a JSON object/],
    ['an unknown dtype', () => craft('dtype', { a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), /unsupported dtype "F8"/],
    ['a negative shape', () => craft('shape', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /invalid shape/],
    ['offsets beyond the data (truncated data)', () => craft('offsets', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /outside the 8 bytes of data/],
    ['a size that disagrees with the shape', () => craft('size', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /needs 12 bytes, but data_offsets give 8/],
    ['overlapping tensors', () => craft('overlap', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /overlaps another tensor/],
    ['a hole in the data', () => craft('hole', { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2)), /hole in the data/],
    ['trailing bytes', () => craft('trailing', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /holds 8 bytes but the tensors cover 4/],
    ['non-string metadata', () => craft('meta', { __metadata__: { a: 1 } }), /__metadata__.a must be a string/],
  ];
  for (const [name, make, message] of cases) {
    it(name, () => {
      const before = sn.memory().tensors;
      let caught: unknown;
      try {
        sn.readSafetensors(make());
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(sn.SafetensorsError);
      expect((caught as Error).message).toMatch(message);
      expect(sn.memory().tensors).toBe(before);
    });
  }

  it('a real file cut short is rejected', () => {
    const whole = fs.readFileSync(path.join(golden, 'bnnet-seed0.safetensors'));
    const file = path.join(dir, 'cut.safetensors');
    fs.writeFileSync(file, whole.subarray(0, whole.length - 100));
    expect(() => sn.readSafetensors(file)).toThrowError(/outside the .* bytes of data/);
  });

  it('500 random corruptions of a real file: each an error or a valid read, no crash', () => {
    const whole = fs.readFileSync(path.join(golden, 'bnnet-seed0.safetensors'));
    const headerEnd = 8 + Number(whole.readBigUInt64LE(0));
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const file = path.join(dir, 'fuzz.safetensors');
    let errors = 0;
    for (let i = 0; i < 500; i++) {
      const copy = Buffer.from(whole);
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) copy[Math.floor(random() * headerEnd)] = Math.floor(random() * 256);
      fs.writeFileSync(file, random() < 0.2 ? copy.subarray(0, Math.floor(random() * copy.length)) : copy);
      try {
        sn.dispose(sn.readSafetensors(file).tensors);
      } catch (e) {
        expect(e).toBeInstanceOf(sn.SafetensorsError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(100);
    expect(sn.memory().tensors).toBe(0);
  });
});

const pythonOracle = () => pythonWith('torch, safetensors');
