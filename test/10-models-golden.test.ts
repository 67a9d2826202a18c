/**
 * Parity of the model zoo with PyTorch (test/golden/models.json, by scripts/golden/models.py):
 * for every model and variant, from the same seed, the initial state (skipnorm draws PyTorch's
 * default initialisation in PyTorch's order), train-mode logits, every parameter's gradient, the
 * running statistics after that pass, and eval-mode logits, within 1e-4 relative, or a multiple of
 * PyTorch's own float32 rounding where that is larger (helpers.ts, ROUNDING_ALLOWANCE).
 */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { fromGolden, goldenValues, readGolden, relativeError, withRounding, type GoldenTensor } from './helpers';

// `spread`: PyTorch's own float32 rounding, against the same pass in float64 (relative for a whole
// tensor; [norm, probe] differences otherwise). The test allows a multiple of it (helpers.ts).
type Summary = { whole: GoldenTensor; spread?: number } | { shape: number[]; norm: number; probe: number; spread?: [number, number] };

interface ModelRecord {
  seed: number;
  input: GoldenTensor;
  cotangent: GoldenTensor;
  init: Record<string, [number, number]>;
  train_output: GoldenTensor;
  grads: Record<string, Summary | null>;
  buffers_after_train: Record<string, Summary>;
  eval_output: GoldenTensor;
  spread?: { train_output: number; eval_output: number };
}

// The golden files were computed with 2 intra-op threads (scripts/golden/*.py); the same count
// gives the same reduction order. (With 1 thread, deep ResNets' float32 gradients drift ~4e-4, and
// gradients that are mathematically zero, like a bias right before batch norm, are pure rounding.)
sn.setMainThreadNumThreads(2);

const golden = readGolden<{ torch: string; models: Record<string, ModelRecord> }>('models.json');
const TOLERANCE = 1e-4;

/** The zoo spec a record's name stands for: bnnet-a, preact-resnet-18-mod-cifar, resnet-50-noskip. */
export function specOf(name: string): sn.models.ModelSpec {
  let m = /^bnnet-([abc])$/.exec(name);
  if (m) return { model: 'bnnet', variant: m[1] as sn.models.BNNetVariant };
  m = /^preact-resnet-(\d+)-(orig|mod|none)-(cifar|imagenet)$/.exec(name);
  if (m) return { model: 'preact-resnet', depth: Number(m[1]) as 18, shortcut: m[2] as sn.models.PreActShortcut, input: m[3] as sn.models.InputKind, classes: 10 };
  m = /^resnet-(\d+)-(skip|noskip)$/.exec(name);
  if (m) return { model: 'resnet', depth: Number(m[1]) as 18, skip: m[2] === 'skip', classes: 10 };
  throw new Error(`unknown record ${name}`);
}

function expectClose(actual: sn.Tensor, expected: GoldenTensor, what: string, spread?: number): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const want = goldenValues(expected);
  if (want instanceof BigInt64Array) {
    expect(Array.from(actual.dataSync() as BigInt64Array), what).toEqual(Array.from(want));
    return;
  }
  const error = relativeError(actual.dataSync() as Float32Array, want as Float32Array);
  expect(error, `${what}: relative error ${error}`).toBeLessThanOrEqual(withRounding(TOLERANCE, spread));
}

function expectSummary(actual: sn.Tensor, expected: Summary, what: string): void {
  if ('whole' in expected) return expectClose(actual, expected.whole, what, expected.spread);
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  sn.scope(() => {
    const flat = actual.detach().to('float64').flatten();
    const norm = flat.norm().item();
    const probe = sn.arange(0, flat.numel, 1, { dtype: 'float64' }).mul(0.7).cos();
    const dot = flat.dot(probe).item();
    expect(Math.abs(norm - expected.norm), `${what}: norm ${norm} vs ${expected.norm}`).toBeLessThanOrEqual(withRounding(TOLERANCE * expected.norm, expected.spread?.[0]));
    const scale = expected.norm * Math.sqrt(flat.numel / 2);
    expect(Math.abs(dot - expected.probe), `${what}: probe ${dot} vs ${expected.probe}`).toBeLessThanOrEqual(withRounding(TOLERANCE * scale, expected.spread?.[1]));
  });
}

describe(`model zoo parity with PyTorch ${golden.torch}`, () => {
  for (const [name, record] of Object.entries(golden.models)) {
    it(name, () => {
      sn.manualSeed(record.seed);
      const model = sn.models.buildModel(specOf(name));
      try {
        sn.scope(() => {
          // The initial state: skipnorm's initialisation draws what PyTorch's does.
          const state = [...model.namedParameters(), ...model.namedBuffers()];
          expect(state.map(([n]) => n).sort()).toEqual(Object.keys(record.init).sort());
          for (const [key, t] of state) {
            const d = t.detach().to('float64');
            const [sum, sumsq] = record.init[key];
            expect(Math.abs(d.sum().item() - sum), `${key}: initial sum`).toBeLessThanOrEqual(1e-6 * (Math.abs(sum) + Math.sqrt(sumsq) + 1e-12));
            expect(Math.abs(d.square().sum().item() - sumsq), `${key}: initial sum of squares`).toBeLessThanOrEqual(1e-6 * sumsq + 1e-12);
          }

          const x = fromGolden(record.input);
          model.train();
          const out = model.forward(x);
          expectClose(out, record.train_output, 'train-mode logits', record.spread?.train_output);
          out.backward(fromGolden(record.cotangent));
          for (const [key, p] of model.namedParameters()) {
            const expected = record.grads[key];
            const g = p.grad;
            if (expected === null) {
              expect(g, `${key}: PyTorch has no gradient (unused parameter)`).toBeNull();
              continue;
            }
            expect(g, `${key}: gradient`).not.toBeNull();
            expectSummary(g!, expected, `gradient of ${key}`);
          }
          for (const [key, b] of model.namedBuffers()) expectSummary(b, record.buffers_after_train[key], `${key} after a train-mode pass`);

          model.eval();
          const evalOut = sn.noGrad(() => model.forward(x));
          expectClose(evalOut, record.eval_output, 'eval-mode logits', record.spread?.eval_output);
        });
      } finally {
        model.dispose();
      }
    });
  }
});
