/**
 * Batch norm + ReLU fusion (sn.cuda.fusedBatchNorm). Its CUDA kernels run only on a GPU
 * (scripts/gpu/cuda-checks.js); here mode 'always' runs the fused path's CPU formulas, which are
 * the kernels' algebra (mask recomputed from the input, two per-channel sums, one input-gradient
 * formula), through the same rewrites of Sequential, Residual and traced graphs. Every check
 * compares a fused pass with an unfused one from the same weights, and asserts that the fused
 * path actually ran (fusedBatchNormCalls).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { expectTypedError } from './helpers';

const nn = sn.nn;
const F = sn.F;

afterEach(() => {
  sn.cuda.fusedBatchNorm('auto');
});

interface Pass {
  output: Float64Array;
  inputGrad: Float64Array;
  grads: Record<string, Float64Array>;
  buffers: Record<string, Float64Array>;
  fusedCalls: number;
}

/** One forward + backward from `initial` weights and buffers in the given mode. */
function pass(model: sn.nn.Module, initial: Record<string, sn.Tensor>, input: sn.Tensor, mode: sn.cuda.FusedBatchNormMode, run = (x: sn.Tensor) => model.forward(x)): Pass {
  sn.cuda.fusedBatchNorm(mode);
  model.loadStateDict(initial);
  model.zeroGrad();
  model.train();
  const before = sn.cuda.fusedBatchNormCalls();
  return sn.scope(() => {
    // The leaf in float32 or float64, what the model sees in the input's type.
    const x = (input.dtype === 'float64' ? input : input.to('float32')).clone().requiresGrad_();
    const xIn = input.dtype === x.dtype ? x : x.to(input.dtype);
    const y = run(xIn);
    // A cotangent that is not all ones, so that every channel's sums differ.
    const w = sn.arange(y.shape.reduce((a, b) => a * b, 1)).reshape(y.shape).mul(0.37).sin().to(x.dtype);
    y.to(x.dtype).mul(w).sum().backward();
    const values = (t: sn.Tensor) => t.to('float64').dataSync() as Float64Array;
    const grads: Record<string, Float64Array> = {};
    for (const [n, p] of model.namedParameters()) grads[n] = values(p.grad!);
    const buffers: Record<string, Float64Array> = {};
    for (const [n, b] of model.namedBuffers()) buffers[n] = values(b);
    return { output: values(y), inputGrad: values(x.grad!), grads, buffers, fusedCalls: sn.cuda.fusedBatchNormCalls() - before };
  });
}

/** The largest difference relative to the largest magnitude. */
function scaledDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

function expectSame(fused: Pass, plain: Pass, tolerance: number): void {
  expect(scaledDiff(fused.output, plain.output), 'output').toBeLessThan(tolerance);
  expect(scaledDiff(fused.inputGrad, plain.inputGrad), 'input gradient').toBeLessThan(tolerance);
  expect(Object.keys(fused.grads)).toEqual(Object.keys(plain.grads));
  for (const n of Object.keys(plain.grads)) expect(scaledDiff(fused.grads[n], plain.grads[n]), `gradient of ${n}`).toBeLessThan(tolerance);
  for (const n of Object.keys(plain.buffers)) expect(scaledDiff(fused.buffers[n], plain.buffers[n]), `buffer ${n}`).toBeLessThan(tolerance);
}

/** The unfused pass in float64 from the same weights and input: the reference both paths' errors are measured against. Leaves the model in float64. */
function exactPass(model: sn.nn.Module, initial: Record<string, sn.Tensor>, input: sn.Tensor): Pass {
  model.to('float64');
  const initial64: Record<string, sn.Tensor> = {};
  for (const [n, t] of Object.entries(initial)) initial64[n] = t.dtype === 'float32' ? t.to('float64') : t.clone();
  const input64 = input.to('float64');
  const exact = pass(model, initial64, input64, 'off');
  for (const t of [...Object.values(initial64), input64]) t.dispose();
  return exact;
}

function initialState(model: sn.nn.Module): Record<string, sn.Tensor> {
  const state = model.stateDict();
  const copy: Record<string, sn.Tensor> = {};
  for (const [n, t] of Object.entries(state)) {
    copy[n] = t.clone();
    t.dispose();
  }
  return copy;
}

/** A traced post-activation block, relu(bn2(conv2(relu(bn1(conv1 x)))) + x), and a stem with F.relu. */
class TracedBlock extends nn.Module {
  conv1 = new nn.Conv2d(4, 4, 3, { padding: 1, bias: false });
  bn1 = new nn.BatchNorm2d(4);
  relu = new nn.ReLU();
  conv2 = new nn.Conv2d(4, 4, 3, { padding: 1, bias: false });
  bn2 = new nn.BatchNorm2d(4);
  override forward(x: sn.Tensor): sn.Tensor {
    const h = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    return F.relu(this.bn2.forward(this.conv2.forward(h)).add(x));
  }
}

class TracedNet extends nn.Module {
  stem = new nn.Conv2d(3, 4, 3, { padding: 1, bias: false });
  bn = new nn.BatchNorm2d(4);
  block = new TracedBlock();
  // A batch norm whose output is read twice: it must not fuse.
  bnShared = new nn.BatchNorm2d(4);
  // A batch norm called twice, each call followed by a ReLU: it must not fuse either (a deferred
  // call could update its running statistics out of order).
  bnTwice = new nn.BatchNorm2d(4);
  head = new nn.Linear(4, 5);
  override forward(x: sn.Tensor): sn.Tensor {
    let h = this.bn.forward(this.stem.forward(x)).relu();
    h = this.block.forward(h);
    const s = this.bnShared.forward(h);
    h = s.relu().add(s);
    const a = this.bnTwice.forward(h);
    const b = this.bnTwice.forward(h.mul(2));
    // Beside a direct path: through batch norm alone, bnShared's weight gradient nearly cancels.
    h = h.add(b.relu().add(a.relu()));
    return this.head.forward(F.adaptiveAvgPool2d(h, 1).flatten(1));
  }
}

describe('fused batch norm + ReLU', () => {
  it('gives the unfused outputs, gradients and running statistics: BN-ReLU, and post-activation blocks with identity and projection shortcuts', () => {
    sn.manualSeed(1);
    const cases: [string, sn.nn.Module, number][] = [
      ['Sequential BN-ReLU', new nn.Sequential({ bn: new nn.BatchNorm2d(8), relu: new nn.ReLU() }), 1],
      ['identity shortcut', new nn.Residual({ branch: { conv: new nn.Conv2d(8, 8, 3, { padding: 1, bias: false }), bn: new nn.BatchNorm2d(8) }, post: { relu: new nn.ReLU() }, shortcut: 'identity' }), 1],
      [
        'projection shortcut with its own batch norm',
        new nn.Residual({
          branch: { conv1: new nn.Conv2d(8, 6, 3, { padding: 1, stride: 2, bias: false }), bn1: new nn.BatchNorm2d(6), relu1: new nn.ReLU(), conv2: new nn.Conv2d(6, 6, 3, { padding: 1, bias: false }), bn2: new nn.BatchNorm2d(6) },
          projection: { downsample: new nn.Sequential({ '0': new nn.Conv2d(8, 6, 1, { stride: 2, bias: false }), '1': new nn.BatchNorm2d(6) }) },
          post: { relu: new nn.ReLU() },
          shortcut: 'projection',
        }),
        2,
      ],
    ];
    // (Convolutions before batch norm without bias, as in ResNets: a bias's exact gradient there is
    // zero, and its float32 noise has no scale to compare with.) Inputs far from zero mean and unit
    // variance, as activations are.
    const input = sn.randn([4, 8, 6, 6]).mul(3).add(2);
    for (const [name, model, calls] of cases) {
      const initial = initialState(model);
      const plain = pass(model, initial, input, 'off');
      const fused = pass(model, initial, input, 'always');
      expect(plain.fusedCalls, name).toBe(0);
      expect(fused.fusedCalls, name).toBe(calls);
      expectSame(fused, plain, 1e-5);
      expect(Object.keys(fused.buffers).filter((n) => n.endsWith('num_batches_tracked')).every((n) => fused.buffers[n][0] === 1), name).toBe(true);
      model.dispose();
      for (const t of Object.values(initial)) t.dispose();
    }
    input.dispose();
  });

  it('is as accurate as the unfused path in whole zoo models (ResNet-18, pre-activation ResNet-50), measured against float64', () => {
    // Deep batch-normalised networks amplify float32 rounding in their gradients (here up to a few
    // percent in the unfused pass itself): the fused pass must stay within the same error.
    const models: [string, () => sn.nn.Module, number[], number][] = [
      ['ResNet-18', () => sn.models.resnet({ depth: 18, classes: 10 }), [3, 3, 32, 32], 17],
      ['pre-activation ResNet-50', () => sn.models.preactResNet({ depth: 50, classes: 10 }), [2, 3, 32, 32], 48],
    ];
    for (const [name, build, shape, calls] of models) {
      sn.manualSeed(2);
      const model = build();
      const initial = initialState(model);
      const input = sn.randn(shape);
      const plain = pass(model, initial, input, 'off');
      const fused = pass(model, initial, input, 'always');
      // conv1-bn1-relu and 8 blocks of bn1-relu and bn2 + shortcut -> relu; 16 bottlenecks of three BN-ReLU pairs.
      expect(fused.fusedCalls, name).toBe(calls);
      const exact = exactPass(model, initial, input);
      const worstParam = (p: Pass) => Math.max(...Object.keys(exact.grads).map((n) => scaledDiff(p.grads[n], exact.grads[n])));
      for (const [what, error] of [
        ['output', (p: Pass) => scaledDiff(p.output, exact.output)],
        ['input gradient', (p: Pass) => scaledDiff(p.inputGrad, exact.inputGrad)],
        ['parameter gradients', worstParam],
      ] as const) {
        expect(error(fused), `${name}: ${what}`).toBeLessThan(3 * error(plain) + 1e-6);
      }
      model.dispose();
      for (const t of [...Object.values(initial), input]) t.dispose();
    }
  });

  it('fuses in traced graphs: a BatchNorm2d call into a ReLU child or F.relu, and through an addition; not where the output is read twice', () => {
    sn.manualSeed(3);
    const model = new TracedNet();
    const input = sn.randn([4, 3, 6, 6]);
    const initial = initialState(model);
    const native = (x: sn.Tensor) => nn.forwardNative(model, x);
    const plain = pass(model, initial, input, 'off', native);
    const fused = pass(model, initial, input, 'always', native);
    expect(plain.fusedCalls).toBe(0);
    // bn -> relu(), bn1 -> ReLU child, bn2 + x -> F.relu; bnShared is read twice, bnTwice called twice.
    expect(fused.fusedCalls).toBe(3);
    expectSame(fused, plain, 1e-5);
    model.dispose();
    for (const t of Object.values(initial)) t.dispose();
    input.dispose();
  });

  it('stays accurate for data far from zero (centred before scaling, as PyTorch)', () => {
    sn.manualSeed(8);
    const model = new nn.Sequential({ bn: new nn.BatchNorm2d(8), relu: new nn.ReLU() });
    const initial = initialState(model);
    // Mean 100, spread 0.01. Against float64: PyTorch's batch norm errs by about 1.4e-4 here (the
    // mean's float32 rounding), the fused path by 0.9e-4; x * scale + (bias - mean * scale) would
    // err by 3.3e-4, cancelling digits.
    const input = sn.randn([8, 8, 6, 6]).mul(0.01).add(100);
    const plain = pass(model, initial, input, 'off');
    const fused = pass(model, initial, input, 'always');
    const exact = exactPass(model, initial, input);
    const plainError = scaledDiff(plain.output, exact.output);
    expect(scaledDiff(fused.output, exact.output)).toBeLessThan(1.5 * plainError + 1e-6);
    model.dispose();
    for (const t of [...Object.values(initial), input]) t.dispose();
  });

  it('stays out of graphs differentiated twice: curvature runs unfused, a second derivative through it is refused', async () => {
    sn.manualSeed(9);
    const model = new nn.Sequential({
      conv: new nn.Conv2d(3, 4, 3, { padding: 1 }),
      bn: new nn.BatchNorm2d(4),
      relu: new nn.ReLU(),
      pool: new nn.AdaptiveAvgPool2d(1),
      flatten: new nn.Flatten(),
      fc: new nn.Linear(4, 3),
    });
    const input = sn.randn([8, 3, 5, 5]);
    const labels = sn.randint(0, 3, [8]);
    const curvature = async (mode: sn.cuda.FusedBatchNormMode, hessianIterations: number) => {
      sn.cuda.fusedBatchNorm(mode);
      const before = sn.cuda.fusedBatchNormCalls();
      const d = await sn.spectra.diagnostics(model, { input, labels }, { hessianIterations });
      return { d, calls: sn.cuda.fusedBatchNormCalls() - before };
    };
    const plain = await curvature('off', 20);
    const always = await curvature('always', 20);
    // Hessian-vector products need the unfused graph: the same eigenvalue, no fused call.
    expect(always.calls).toBe(0);
    expect(always.d.topHessianEigenvalue).toBe(plain.d.topHessianEigenvalue);
    // Without curvature the gradient alone may take the fused path.
    expect((await curvature('always', 0)).calls).toBe(1);

    sn.cuda.fusedBatchNorm('always');
    sn.scope(() => {
      const x = input.clone().requiresGrad_();
      const y = model.forward(x).sum();
      expect(() => sn.grad(y, x, { createGraph: true })).toThrow(/no second derivative/);
    });
    model.dispose();
    input.dispose();
    labels.dispose();
  });

  it('matches in bfloat16 within its rounding', () => {
    sn.manualSeed(4);
    const model = new nn.Sequential({ bn: new nn.BatchNorm2d(8), relu: new nn.ReLU() });
    const initial = initialState(model);
    const input = sn.randn([4, 8, 5, 5]).mul(3).add(2).to('bfloat16');
    const plain = pass(model, initial, input, 'off');
    const fused = pass(model, initial, input, 'always');
    expect(fused.fusedCalls).toBe(1);
    // bfloat16 keeps 8 significant bits: a few units of 2^-8 at most.
    expect(scaledDiff(fused.output, plain.output)).toBeLessThan(0.03);
    expect(scaledDiff(fused.inputGrad, plain.inputGrad)).toBeLessThan(0.03);
    for (const n of Object.keys(plain.grads)) expect(scaledDiff(fused.grads[n], plain.grads[n]), n).toBeLessThan(0.03);
    expect(scaledDiff(fused.buffers['bn.running_mean'], plain.buffers['bn.running_mean'])).toBeLessThan(1e-3);
    model.dispose();
    for (const t of Object.values(initial)) t.dispose();
    input.dispose();
  });

  it("leaves the CPU path unchanged in mode 'auto', evaluation unfused, and layer-wise measurements unfused", async () => {
    sn.manualSeed(5);
    const model = sn.models.preactResNet({ depth: 18, classes: 10 });
    const initial = initialState(model);
    const input = sn.randn([2, 3, 32, 32]);
    const plain = pass(model, initial, input, 'off');
    const auto = pass(model, initial, input, 'auto');
    expect(auto.fusedCalls).toBe(0);
    // Bit for bit: the same operations as 'off'.
    expect(Array.from(auto.output)).toEqual(Array.from(plain.output));
    expect(Array.from(auto.inputGrad)).toEqual(Array.from(plain.inputGrad));

    sn.cuda.fusedBatchNorm('always');
    const before = sn.cuda.fusedBatchNormCalls();
    model.eval();
    sn.scope(() => model.forward(input));
    expect(sn.cuda.fusedBatchNormCalls()).toBe(before);
    // A Jacobian cut needs the layers' own outputs (the BN before its ReLU is a valid cut).
    model.train();
    const spectrum = await sn.spectra.jacobianSpectrum(model, input, { cut: 'layer2.0', precision: 'float32' });
    expect(sn.cuda.fusedBatchNormCalls()).toBe(before);
    spectrum.singularValues.dispose();
    // A top-level cut of a Sequential (the layers after it run for the rows; several rows per pass
    // as stacked copies): unfused too, however the rows run.
    const sequential = new nn.Sequential({
      conv: new nn.Conv2d(3, 4, 3, { padding: 1 }),
      block: new nn.Sequential({ bn: new nn.BatchNorm2d(4), relu: new nn.ReLU() }),
      pool: new nn.AdaptiveAvgPool2d(1),
      flatten: new nn.Flatten(),
      fc: new nn.Linear(4, 3),
    });
    const small = sn.randn([2, 3, 4, 4]);
    for (const options of [{ method: 'exact' }, { method: 'exact', rowsPerPass: 4 }, { method: 'lanczos' }] as const) {
      const s = await sn.spectra.jacobianSpectrum(sequential, small, { cut: 'conv', precision: 'float32', ...options });
      expect(sn.cuda.fusedBatchNormCalls(), JSON.stringify(options)).toBe(before);
      s.singularValues.dispose();
    }
    sequential.dispose();
    small.dispose();
    model.dispose();
    for (const t of Object.values(initial)) t.dispose();
    input.dispose();
  });

  it('trains through fit as the unfused model does', async () => {
    const losses: number[][] = [];
    for (const mode of ['off', 'always'] as const) {
      sn.cuda.fusedBatchNorm(mode);
      sn.manualSeed(6);
      const model = sn.models.preactResNet({ depth: 18, classes: 10 });
      const g = new sn.Generator(7);
      const input = sn.randn([16, 3, 32, 32], { generator: g });
      const labels = sn.randint(0, 10, [16], { generator: g });
      g.dispose();
      const before = sn.cuda.fusedBatchNormCalls();
      const run: number[] = [];
      const optimizer = new sn.optim.SGD(model, { lr: 0.01, momentum: 0.9 });
      await sn.fit(model, { input, labels }, { optimizer, steps: 6, batchSize: 8, seed: 1, onStep: (e) => run.push(e.loss) });
      const calls = sn.cuda.fusedBatchNormCalls() - before;
      if (mode === 'always') expect(calls).toBe(6 * 16);
      else expect(calls).toBe(0);
      losses.push(run);
      model.dispose();
      input.dispose();
      labels.dispose();
    }
    // Float32 rounding, amplified by 18 layers of batch norm over 6 steps: up to about 3e-4 on the
    // machines tried. The learning rate keeps the loss falling: a diverging run (lr 0.05 reaches a
    // loss of 33) amplifies any rounding difference past every bound.
    for (let i = 0; i < losses[0].length; i++) expect(Math.abs(losses[1][i] - losses[0][i]) / Math.abs(losses[0][i])).toBeLessThan(2e-3);
  });

  it('refuses modes it does not know', () => {
    expectTypedError(() => sn.cuda.fusedBatchNorm('fast' as never), /'auto', 'off' or 'always', got 'fast'/);
    expectTypedError(() => sn.cuda.fusedBatchNorm(true as never), /'auto', 'off' or 'always', got boolean/);
    expect(sn.cuda.fusedBatchNorm()).toBe('auto');
  });
});
