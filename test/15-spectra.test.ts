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

  it("cut 'all' gives the spectrum at every block boundary; its first entry is the stem's", async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'b' });
    const x = input();
    const { cuts } = await sn.spectra.layerwiseJacobianSpectra(model, x);
    expect(cuts.map((c) => c.name)).toEqual(['stem', 'Block1', 'Block2', 'bn', 'relu']);
    expect(cuts.map((c) => c.jacobianShape[1])).toEqual([23040, 23040, 10240, 10240, 10240]);
    const single = await sn.spectra.jacobianSpectrum(model, x);
    expect(cuts[0].singularValues.equal(single.singularValues)).toBe(true);
    sn.dispose([x, single.singularValues, cuts.map((c) => c.singularValues)]);
    model.dispose();
  });

  it('skipnorm spectrum writes S.json with the stem spectrum, or every cut', () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const fs = require('node:fs') as typeof import('node:fs');
    const path = require('node:path') as typeof import('node:path');
    const os = require('node:os') as typeof import('node:os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-spectrum-'));
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(__dirname, '..', 'lib', 'cli', 'main.js'), ...args], { encoding: 'utf8' });
    try {
      const weights = path.join(dir, 'w.safetensors');
      const x = path.join(dir, 'x.safetensors');
      expect(cli('init', '--model', 'bnnet', '--variant', 'a', '--seed', '0', '--out', weights).status).toBe(0);
      sn.scope(() => sn.writeSafetensors(x, { input: input() }));
      const out = path.join(dir, 's.json');
      const r = cli('spectrum', '--model', 'bnnet', '--variant', 'a', '--weights', weights, '--input', x, '--cut', 'stem', '--out', out);
      expect(r.status, r.stderr).toBe(0);
      const s = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(s.singularValues.length).toBe(320);
      s.singularValues.forEach((v: number, i: number) => expect(Math.abs(v - golden.variants.a[i])).toBeLessThanOrEqual(1e-4 * golden.variants.a[i]));
      const all = cli('spectrum', '--model', 'bnnet', '--variant', 'a', '--weights', weights, '--input', x, '--cut', 'all', '--out', out);
      expect(all.status, all.stderr).toBe(0);
      expect(JSON.parse(fs.readFileSync(out, 'utf8')).cuts.map((c: { name: string }) => c.name)).toEqual(['stem', 'Block1', 'Block2', 'bn', 'relu']);
      const lanczos = cli('spectrum', '--model', 'bnnet', '--weights', weights, '--input', x, '--method', 'lanczos', '--out', out);
      expect(lanczos.status).toBe(2);
      expect(lanczos.stderr).toMatch(/--method lanczos is not available yet/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
