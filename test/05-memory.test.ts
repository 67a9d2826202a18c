/**
 * Layer 4: memory is released deterministically: dispose, `using`, scopes (sync, async,
 * nested, escaping), memory statistics, and the finalisation safety net.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('memory', () => {
  it('dispose frees the tensor and its bytes; a second dispose is harmless', () => {
    const before = sn.memory();
    const t = sn.zeros([1000], { dtype: 'float64' });
    expect(sn.memory().tensors).toBe(before.tensors + 1);
    expect(sn.memory().bytes).toBe(before.bytes + 8000);
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(sn.memory()).toEqual(before);
  });

  it('views share storage: bytes are counted once', () => {
    const before = sn.memory().bytes;
    sn.scope(() => {
      const t = sn.zeros([100]);
      const v = t.view([10, 10]);
      expect(v.shape).toEqual([10, 10]);
      expect(sn.memory().bytes - before).toBe(400);
    });
  });

  it('`using` (Symbol.dispose) frees at the end of the block', () => {
    const before = sn.memory().tensors;
    let seen!: sn.Tensor;
    {
      using t = sn.ones([3]);
      seen = t;
      expect(sn.memory().tensors).toBe(before + 1);
    }
    expect(seen.isDisposed).toBe(true);
    expect(sn.memory().tensors).toBe(before);
  });

  it('scope disposes everything created inside except what it returns', () => {
    const before = sn.memory().tensors;
    const result = sn.scope(() => {
      const a = sn.ones([3]);
      const b = a.mul(2).add(1);
      return { sum: b.sum(), parts: [b] };
    });
    expect(sn.memory().tensors).toBe(before + 2);
    expect(result.sum.item()).toBe(9);
    sn.dispose(result);
    expect(sn.memory().tensors).toBe(before);
  });

  it('keep() lets a tensor outlive its scope; returned tensors join the enclosing scope', () => {
    const before = sn.memory().tensors;
    let kept!: sn.Tensor;
    sn.scope(() => {
      const inner = sn.scope(() => {
        kept = sn.keep(sn.ones([2]));
        return sn.zeros([2]);
      });
      expect(inner.isDisposed).toBe(false);
    });
    expect(kept.isDisposed).toBe(false);
    expect(sn.memory().tensors).toBe(before + 1);
    kept.dispose();
  });

  it('scope works across await, and two async scopes do not mix their tensors', async () => {
    const before = sn.memory().tensors;
    const work = (n: number) =>
      sn.scope(async () => {
        const a = sn.full([4], n);
        await new Promise((r) => setTimeout(r, 5));
        const b = a.mul(2);
        await new Promise((r) => setTimeout(r, 5));
        return b.sum();
      });
    const [x, y] = await Promise.all([work(1), work(2)]);
    expect(x.item()).toBe(8);
    expect(y.item()).toBe(16);
    expect(sn.memory().tensors).toBe(before + 2);
    x.dispose();
    y.dispose();
    expect(sn.memory().tensors).toBe(before);
  });

  it('scope disposes its tensors when fn throws (sync and async)', async () => {
    const before = sn.memory().tensors;
    expect(() =>
      sn.scope(() => {
        sn.ones([10]);
        throw new Error('sync failure');
      }),
    ).toThrowError('sync failure');
    await expect(
      sn.scope(async () => {
        sn.ones([10]);
        await Promise.resolve();
        throw new Error('async failure');
      }),
    ).rejects.toThrowError('async failure');
    expect(sn.memory().tensors).toBe(before);
  });

  it('100,000 create/dispose cycles leave live tensors and their bytes as they were (RSS: npm run bench:memory)', () => {
    const before = sn.memory();
    for (let i = 0; i < 100_000; i++) {
      const t = sn.ones([64]);
      const u = t.add(1);
      t.dispose();
      u.dispose();
    }
    expect(sn.memory()).toEqual(before);
  });

  it('100,000 scoped cycles stay flat too', () => {
    const before = sn.memory().tensors;
    let total = 0;
    for (let i = 0; i < 100_000; i++) {
      total += sn.scope(() => sn.ones([8]).mul(2).sum().item());
    }
    expect(total).toBe(1_600_000);
    expect(sn.memory().tensors).toBe(before);
  });

  it('the FinalizationRegistry releases tensors dropped without dispose (safety net)', async () => {
    const before = sn.memory().tensors;
    (() => {
      for (let i = 0; i < 1000; i++) sn.ones([16]);
    })();
    expect(sn.memory().tensors).toBe(before + 1000);
    for (let i = 0; i < 10 && sn.memory().tensors > before; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(sn.memory().tensors).toBe(before);
  });
});
