/** Layer 3: autograd: leaves, backward, accumulation, grad mode, functional gradients. */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';

describe('autograd', () => {
  it('backward fills .grad of leaves and accumulates like PyTorch', () => {
    sn.scope(() => {
      const x = sn.tensor([1, 2, 3]).requiresGrad_();
      expect(x.requiresGrad).toBe(true);
      expect(x.isLeaf).toBe(true);
      const y = x.mul(x).sum(); // d/dx = 2x
      expect(y.gradFn).toBe('SumBackward0');
      expect(y.isLeaf).toBe(false);
      y.backward();
      expect(x.grad!.toArray()).toEqual([2, 4, 6]);
      x.mul(3).sum().backward(); // accumulates: + 3
      expect(x.grad!.toArray()).toEqual([5, 7, 9]);
      x.grad = null;
      expect(x.grad).toBeNull();
    });
  });

  it('non-scalar outputs take an explicit gradient (a vector-Jacobian product)', () => {
    sn.scope(() => {
      const x = sn.tensor([[1, 2], [3, 4]]).requiresGrad_();
      const y = x.matmul(x); // 2x2
      y.backward(sn.ones([2, 2]));
      // d(sum(X X))/dX = 1 Xᵀ + Xᵀ 1
      const expected = sn.ones([2, 2]).matmul(x.detach().t()).add(x.detach().t().matmul(sn.ones([2, 2])));
      expect(x.grad!.equal(expected)).toBe(true);
    });
  });

  it('backward of a non-scalar without a gradient is a TorchError', () => {
    sn.scope(() => {
      const x = sn.ones([3]).requiresGrad_();
      expect(() => x.mul(2).backward()).toThrowError(/grad can be implicitly created only for scalar outputs/);
    });
  });

  it('a second backward through a freed graph fails unless retainGraph', () => {
    sn.scope(() => {
      const x = sn.tensor([2]).requiresGrad_();
      const y = x.exp().sum();
      y.backward(null, { retainGraph: true });
      y.backward();
      expect(x.grad!.item()).toBeCloseTo(2 * Math.exp(2), 4);
      const z = x.exp().sum();
      z.backward();
      expect(() => z.backward()).toThrowError(sn.TorchError);
    });
  });

  it('noGrad stops recording, and restores the mode even when fn throws', () => {
    sn.scope(() => {
      const x = sn.ones([2]).requiresGrad_();
      const y = sn.noGrad(() => x.mul(2));
      expect(y.requiresGrad).toBe(false);
      expect(sn.isGradEnabled()).toBe(true);
      expect(() =>
        sn.noGrad(() => {
          throw new Error('boom');
        }),
      ).toThrowError('boom');
      expect(sn.isGradEnabled()).toBe(true);
      const z = sn.noGrad(() => sn.enableGrad(() => x.mul(2)));
      expect(z.requiresGrad).toBe(true);
    });
  });

  it('noGrad refuses an async function instead of leaking grad mode across await', () => {
    expect(() => sn.noGrad(async () => 1)).toThrowError(/returned a promise/);
    expect(sn.isGradEnabled()).toBe(true);
  });

  it('detach cuts the graph but shares data', () => {
    sn.scope(() => {
      const x = sn.ones([2]).requiresGrad_();
      const d = x.mul(2).detach();
      expect(d.requiresGrad).toBe(false);
      expect(d.gradFn).toBeNull();
    });
  });

  it('grad() gives gradients without touching .grad, and supports higher order', () => {
    sn.scope(() => {
      const x = sn.tensor([1.5], { dtype: 'float64' }).requiresGrad_();
      const y = x.pow(3).sum();
      const [dy] = sn.grad(y, x, { createGraph: true });
      expect(dy!.item()).toBeCloseTo(3 * 1.5 ** 2, 12);
      const [d2y] = sn.grad(dy!.sum(), x);
      expect(d2y!.item()).toBeCloseTo(6 * 1.5, 12);
      expect(x.grad).toBeNull();
      const unused = sn.ones([1]).requiresGrad_();
      const [, none] = sn.grad(x.mul(2).sum(), [x, unused], { allowUnused: true });
      expect(none).toBeNull();
    });
  });

  it('retainGrad keeps the gradient of an intermediate', () => {
    sn.scope(() => {
      const x = sn.tensor([1, 2]).requiresGrad_();
      const h = x.mul(3).retainGrad();
      h.sum().backward();
      expect(h.grad!.toArray()).toEqual([1, 1]);
    });
  });

  it('integer tensors cannot require gradients', () => {
    using i = sn.tensor([1, 2], { dtype: 'int64' });
    expect(() => i.requiresGrad_()).toThrowError(/floating point/);
  });
});
