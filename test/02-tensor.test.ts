/** Layer 2: tensors: creation, every dtype's round trip, metadata, devices, random generation. */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { expectedCudaDevices } from './helpers';

describe('round trips for every dtype', () => {
  const cases: [sn.DType, ArrayLike<number | bigint>, ArrayLike<number | bigint>][] = [
    ['float32', new Float32Array([1.5, -2.25, 3e-8, 1e30]), new Float32Array([1.5, -2.25, 3e-8, 1e30])],
    ['float64', new Float64Array([Math.PI, -1e-300, 1e300, 0]), new Float64Array([Math.PI, -1e-300, 1e300, 0])],
    ['int32', new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, 7]), new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, 7])],
    ['int64', new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, 7n]), new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, 7n])],
    ['uint8', new Uint8Array([0, 1, 254, 255]), new Uint8Array([0, 1, 254, 255])],
    ['int8', new Int8Array([-128, 127, 0, -1]), new Int8Array([-128, 127, 0, -1])],
    ['int16', new Int16Array([-32768, 32767, 0, -1]), new Int16Array([-32768, 32767, 0, -1])],
  ];
  for (const [dtype, input, expected] of cases) {
    it(dtype, () => {
      using t = sn.fromTypedArray(input as Float32Array, [2, 2]);
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([2, 2]);
      expect(Array.from(t.dataSync() as ArrayLike<number | bigint>)).toEqual(Array.from(expected));
    });
  }

  it('bool', () => {
    using t = sn.tensor([[true, false], [false, true]]);
    expect(t.dtype).toBe('bool');
    expect(Array.from(t.dataSync())).toEqual([1, 0, 0, 1]);
    expect(t.toArray()).toEqual([[true, false], [false, true]]);
  });

  it('float16 and bfloat16 round to their precision and read back as float32', () => {
    using h = sn.tensor([1, 0.1, 65504, 1e-8], { dtype: 'float16' });
    expect(h.dtype).toBe('float16');
    const hv = h.dataSync() as Float32Array;
    expect(hv).toBeInstanceOf(Float32Array);
    expect(Array.from(hv)).toEqual([1, 0.0999755859375, 65504, 0]);
    using b = sn.tensor([1, 0.1, 3e38], { dtype: 'bfloat16' });
    expect(b.dtype).toBe('bfloat16');
    expect(Array.from(b.dataSync())).toEqual([1, 0.10009765625, 3.00405527047391e38]); // as torch.tensor([...]).bfloat16()
  });

  it('float16 and bfloat16 from raw bits in a Uint16Array', () => {
    using h = sn.fromTypedArray(new Uint16Array([0x3c00, 0xc000, 0x7c00]), [3], { dtype: 'float16' });
    expect(Array.from(h.dataSync())).toEqual([1, -2, Infinity]);
    using b = sn.fromTypedArray(new Uint16Array([0x3f80, 0x4040]), [2], { dtype: 'bfloat16' });
    expect(Array.from(b.dataSync())).toEqual([1, 3]);
  });

  it('complex64 and complex128 read back as (re, im) pairs', () => {
    using re = sn.tensor([1, 2]);
    using im = sn.tensor([3, -4]);
    using c = sn.complex(re, im);
    expect(c.dtype).toBe('complex64');
    expect(Array.from(c.dataSync())).toEqual([1, 3, 2, -4]);
    using cd = c.to('complex128');
    expect(cd.dtype).toBe('complex128');
    expect(cd.dataSync()).toBeInstanceOf(Float64Array);
    using mag = c.abs();
    expect(Array.from(mag.dataSync())).toEqual([Math.sqrt(10), Math.sqrt(20)].map(Math.fround));
  });

  it('every dtype converts to every other through to()', () => {
    const dtypes: sn.DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool', 'int8', 'int16', 'complex64', 'complex128'];
    sn.scope(() => {
      const base = sn.tensor([0, 1, 2, 3]);
      for (const from of dtypes) {
        const a = base.to(from);
        for (const to of dtypes) {
          const b = a.to(to);
          expect(b.dtype).toBe(to);
          expect(b.shape).toEqual([4]);
        }
      }
    });
  });

  it('data() reads asynchronously, off the event loop, with the same values', async () => {
    using t = sn.arange(0, 1000, 1, { dtype: 'float64' });
    const values = await t.data();
    expect(values).toBeInstanceOf(Float64Array);
    expect(values.length).toBe(1000);
    expect(values[999]).toBe(999);
  });
});

describe('creation', () => {
  it('from nested arrays, with shape inference', () => {
    using t = sn.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    using i = sn.tensor([[1, 2], [3, 4]], { dtype: 'int64' });
    expect(i.dtype).toBe('int64');
    expect(i.toArray()).toEqual([[1, 2], [3, 4]]);
    using big = sn.tensor([1n, 2n]);
    expect(big.dtype).toBe('int64');
  });

  it('scalars are 0-d tensors', () => {
    using s = sn.tensor(3.5);
    expect(s.shape).toEqual([]);
    expect(s.ndim).toBe(0);
    expect(s.item()).toBe(3.5);
    expect(s.toArray()).toBe(3.5);
  });

  it('typed arrays with a shape', () => {
    using t = sn.tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    expect(t.dtype).toBe('float64');
    expect(t.shape).toEqual([3, 2]);
    expect(t.size(0)).toBe(3);
    expect(t.size(-1)).toBe(2);
    expect(t.numel).toBe(6);
  });

  it('zeros, ones, full, eye, empty', () => {
    sn.scope(() => {
      expect(sn.zeros([2, 3]).toArray()).toEqual([[0, 0, 0], [0, 0, 0]]);
      expect(sn.ones([2], { dtype: 'int32' }).toArray()).toEqual([1, 1]);
      expect(sn.full([2], 7.5, { dtype: 'float64' }).toArray()).toEqual([7.5, 7.5]);
      expect(sn.eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
      expect(sn.empty([3, 4]).shape).toEqual([3, 4]);
      const like = sn.zerosLike(sn.ones([2, 2], { dtype: 'float64' }));
      expect(like.dtype).toBe('float64');
      expect(sn.onesLike(like).sum().item()).toBe(4);
    });
  });

  it('arange and linspace follow PyTorch dtype rules', () => {
    sn.scope(() => {
      const a = sn.arange(5);
      expect(a.dtype).toBe('int64');
      expect(a.toArray()).toEqual([0, 1, 2, 3, 4]);
      const b = sn.arange(0, 1, 0.25);
      expect(b.dtype).toBe('float32');
      expect(b.toArray()).toEqual([0, 0.25, 0.5, 0.75]);
      expect(sn.arange(2, 8, 3).toArray()).toEqual([2, 5]);
      expect(sn.linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    });
  });

  it('random generators are seedable and independent of the global one', () => {
    sn.scope(() => {
      const g1 = new sn.Generator(42);
      const g2 = new sn.Generator(42);
      const a = sn.randn([100], { generator: g1 });
      sn.randn([5]); // the global generator does not disturb g2
      const b = sn.randn([100], { generator: g2 });
      expect(a.equal(b)).toBe(true);
      const c = sn.randn([100], { generator: g1 });
      expect(a.equal(c)).toBe(false);
      g1.manualSeed(42);
      expect(sn.randn([100], { generator: g1 }).equal(a)).toBe(true);
      expect(g1.initialSeed()).toBe(42);
      g1.dispose();
      g2.dispose();
    });
  });

  it('manualSeed makes the default generator repeat, like torch.manual_seed', () => {
    sn.scope(() => {
      sn.manualSeed(7);
      const a = sn.rand([50]);
      const i = sn.randint(0, 10, [50]);
      const p = sn.randperm(20);
      sn.manualSeed(7);
      expect(sn.rand([50]).equal(a)).toBe(true);
      expect(sn.randint(0, 10, [50]).equal(i)).toBe(true);
      expect(sn.randperm(20).equal(p)).toBe(true);
    });
  });

  it('random values have the right distributions', () => {
    sn.scope(() => {
      const g = new sn.Generator(1);
      const u = sn.rand([100000], { generator: g });
      expect(u.min().item()).toBeGreaterThanOrEqual(0);
      expect(u.max().item()).toBeLessThan(1);
      expect(Math.abs(u.mean().item() - 0.5)).toBeLessThan(0.01);
      const n = sn.randn([100000], { generator: g, dtype: 'float64' });
      expect(Math.abs(n.mean().item())).toBeLessThan(0.02);
      expect(Math.abs(n.std().item() - 1)).toBeLessThan(0.02);
      const r = sn.randint(3, 6, [1000], { generator: g });
      expect(r.dtype).toBe('int64');
      expect(r.min().item()).toBe(3);
      expect(r.max().item()).toBe(5);
      const p = sn.randperm(10, { generator: g });
      expect(p.sort().values.toArray()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      g.dispose();
    });
  });
});

describe('metadata, views and in-place ops', () => {
  it('shape, strides, contiguity and views', () => {
    sn.scope(() => {
      const t = sn.arange(24).reshape(2, 3, 4);
      expect(t.stride()).toEqual([12, 4, 1]);
      const p = t.permute(2, 0, 1);
      expect(p.shape).toEqual([4, 2, 3]);
      expect(p.isContiguous()).toBe(false);
      expect(p.contiguous().isContiguous()).toBe(true);
      const v = t.view([6, 4]);
      v.indexPut([0, 0], 100);
      expect(t.index(0, 0, 0).item()).toBe(100); // views share storage
    });
  });

  it('in-place arithmetic modifies the tensor and returns it', () => {
    sn.scope(() => {
      const t = sn.ones([3]);
      const r = t.mul_(3).add_(1).div_(2);
      expect(r).toBe(t);
      expect(t.toArray()).toEqual([2, 2, 2]);
      t.zero_();
      expect(t.toArray()).toEqual([0, 0, 0]);
      t.copy_(sn.tensor([1, 2, 3]));
      expect(t.toArray()).toEqual([1, 2, 3]);
      t.indexPut([sn.tensor([true, false, true])], sn.tensor([9, 9]));
      expect(t.toArray()).toEqual([9, 2, 9]);
    });
  });

  it('integer scalars keep integer tensors integral; fractional ones promote', () => {
    sn.scope(() => {
      const i = sn.tensor([1, 2], { dtype: 'int64' });
      expect(i.add(1).dtype).toBe('int64');
      expect(i.add(0.5).dtype).toBe('float32');
      expect(i.div(2).dtype).toBe('float32');
      const h = sn.tensor([1, 2], { dtype: 'float16' });
      expect(h.mul(3.5).dtype).toBe('float16'); // a Python-like scalar does not widen a tensor
    });
  });

  it('toString shows shape, dtype, device and small values', () => {
    using t = sn.tensor([1, 2]);
    expect(String(t)).toBe('Tensor(shape=[2], dtype=float32, device=cpu, values=[1,2])');
  });

  it('split, chunk, unbind, max/min with indices', () => {
    sn.scope(() => {
      const t = sn.tensor([[3, 1, 2], [0, 5, 4]]);
      expect(t.unbind(0).map((r) => r.toArray())).toEqual([[3, 1, 2], [0, 5, 4]]);
      const { values, indices } = t.max(1);
      expect(values.toArray()).toEqual([3, 5]);
      expect(indices.toArray()).toEqual([0, 1]);
      expect(t.argmin().item()).toBe(3);
      expect(t.chunk(3, 1).length).toBe(3);
    });
  });
});

describe('devices', () => {
  it('reports cpu, counts the CUDA devices the driver lists (none with a CPU LibTorch), and the CUDA helpers answer without CUDA', () => {
    using t = sn.zeros([1]);
    expect(t.device).toBe('cpu');
    const expected = expectedCudaDevices();
    const count = sn.cuda.deviceCount();
    if (expected.exact) expect(count, expected.source).toBe(expected.count);
    else {
      expect(count, expected.source).toBeGreaterThanOrEqual(1);
      expect(count, expected.source).toBeLessThanOrEqual(expected.count);
    }
    expect(sn.cuda.isAvailable()).toBe(count > 0);
    expect(() => sn.cuda.emptyCache()).not.toThrow();
    expect(() => sn.cuda.synchronize()).not.toThrow();
  });

  it('memory statistics and cuDNN benchmark and deterministic modes: read and set, or a clear error without CUDA', () => {
    const before = sn.cuda.cudnnBenchmark();
    expect(sn.cuda.cudnnBenchmark(true)).toBe(true);
    expect(sn.cuda.cudnnBenchmark()).toBe(true);
    expect(sn.cuda.cudnnBenchmark(before)).toBe(before);
    expect(() => sn.cuda.cudnnBenchmark('yes' as never)).toThrow(TypeError);
    const deterministic = sn.cuda.cudnnDeterministic();
    expect(sn.cuda.cudnnDeterministic(true)).toBe(true);
    expect(sn.cuda.cudnnDeterministic(deterministic)).toBe(deterministic);
    expect(() => sn.cuda.cudnnDeterministic(1 as never)).toThrow(TypeError);
    if (!sn.cuda.isAvailable()) {
      expect(() => sn.cuda.memoryStats()).toThrowError(/CUDA is not available: no GPU memory statistics/);
      expect(() => sn.cuda.resetPeakMemoryStats()).toThrowError(sn.TorchError);
      return;
    }
    sn.cuda.resetPeakMemoryStats();
    const t = sn.zeros([1024, 1024], { device: 'cuda:0' });
    const stats = sn.cuda.memoryStats();
    expect(stats.allocatedBytes.current).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(stats.totalBytes).toBeGreaterThan(stats.freeBytes);
    t.dispose();
    expect(() => sn.cuda.memoryStats(99)).toThrowError(/no CUDA device 99/);
  });

  it('moves between cpu and cuda:N with the same values, or says clearly that CUDA is missing', () => {
    sn.scope(() => {
      const t = sn.randn([64, 64]);
      if (!sn.cuda.isAvailable()) {
        expect(() => t.to('cuda:0')).toThrowError(/CUDA is not available/);
        expect(() => t.cuda()).toThrowError(sn.TorchError);
        expect(() => sn.zeros([1], { device: 'cuda' })).toThrowError(/CUDA is not available/);
        return;
      }
      const g = t.cuda(0);
      expect(g.device).toBe('cuda:0');
      expect(g.matmul(g).cpu().allclose(t.matmul(t), 1e-4, 1e-4)).toBe(true);
      expect(g.cpu().equal(t)).toBe(true);
      expect(sn.memory().cudaBytes).toBeGreaterThan(0);
    });
  });
});
