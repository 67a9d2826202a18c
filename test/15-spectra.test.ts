/**
 * The later-layer Jacobian spectrum (PAPER.md section 2) against PyTorch's reference
 * (torch.autograd.functional.jacobian + svdvals, test/golden/spectra.json by
 * scripts/golden/spectra.py), and its misuse.
 */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { readGolden } from './helpers';

const golden = readGolden<{ torch: string; input: string; shape: number[]; variants: Record<string, number[]> }>('spectra.json');

function input(): sn.Tensor {
  const bytes = Buffer.from(golden.input, 'base64');
  return sn.fromTypedArray(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), golden.shape);
}

describe(`Jacobian spectrum at the stem, against PyTorch ${golden.torch}`, () => {
  for (const variant of ['a', 'b', 'c'] as const) {
    it(`BNNet (${variant}): all 320 singular values within 1e-4 relative`, async () => {
      sn.manualSeed(0);
      const model = sn.models.bnnet({ variant });
      const x = input();
      const before = model.stateDict();
      const snapshot = Object.fromEntries(Object.entries(before).map(([k, t]) => [k, t.clone()]));
      const { singularValues, jacobianShape, cut } = await sn.spectra.jacobianSpectrum(model, x, { cut: 'stem' });
      expect(cut).toBe('avg');
      expect(jacobianShape).toEqual([320, 32 * 5 * 12 * 12]);
      const ours = Array.from(singularValues.dataSync() as Float64Array);
      const expected = golden.variants[variant];
      expect(ours.length).toBe(expected.length);
      ours.forEach((s, i) => {
        if (expected[i] > 1e-6 * expected[0]) expect(Math.abs(s - expected[i]), `sigma ${i}`).toBeLessThanOrEqual(1e-4 * expected[i]);
      });
      // The measurement leaves the model as it was: weights, running statistics, dtypes, mode.
      const after = model.stateDict();
      for (const [k, t] of Object.entries(snapshot)) {
        expect(after[k].dtype, k).toBe(t.dtype);
        expect(after[k].equal(t), k).toBe(true);
      }
      expect(model.training).toBe(true);
      sn.dispose([before, after, snapshot, x, singularValues]);
      model.dispose();
    });
  }

  it('eval mode uses running statistics: the samples decouple and the spectrum changes', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'c' });
    const x = input();
    const train = await sn.spectra.jacobianSpectrum(model, x);
    const evaluation = await sn.spectra.jacobianSpectrum(model, x, { mode: 'eval', precision: 'float32' });
    expect(evaluation.singularValues.shape).toEqual([320]);
    expect(evaluation.singularValues.allclose(train.singularValues, 1e-3, 1e-3)).toBe(false);
    sn.dispose([x, train.singularValues, evaluation.singularValues]);
    model.dispose();
  });

  it('bad input is a clear error', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet();
    const x = input();
    expect(() => sn.spectra.jacobianSpectrum(model, x, { cut: 'Block9' })).toThrowError(/unknown cut 'Block9'; cuts are 'stem' or a top-level layer: conv, avg, Block1, Block2, bn, relu, lin/);
    expect(() => sn.spectra.jacobianSpectrum(model, x, { cut: 'lin' })).toThrowError(/is the last layer/);
    expect(() => sn.spectra.jacobianSpectrum(model, x, { mode: 'test' as 'train' })).toThrowError(/mode must be 'train' or 'eval'/);
    const one = x.narrow(0, 0, 1);
    await expect(sn.spectra.jacobianSpectrum(model, one)).rejects.toThrowError(/needs a batch of more than one input|more than 1 value per channel/);
    const linear = new sn.nn.Linear(4, 2);
    expect(() => sn.spectra.jacobianSpectrum(linear, x)).toThrowError(/no stem|unknown cut/);
    const controller = new AbortController();
    const run = sn.spectra.jacobianSpectrum(model, x, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toBeInstanceOf(sn.AbortError);
    sn.dispose([x, one]);
    linear.dispose();
    model.dispose();
  });
});
