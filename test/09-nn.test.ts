/**
 * Layer 7: the module system: composition, names, modes, devices and dtypes, state dicts and
 * their strict loading, weight normalisation, shortcut switching, summaries, and misuse.
 */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { expectTypedError } from './helpers';

const nn = sn.nn;

describe('modules', () => {
  it('a composed model runs forward in one call and names parameters like PyTorch', () => {
    sn.manualSeed(0);
    const model = new nn.Sequential({ conv: new nn.Conv2d(3, 8, 3, { padding: 1 }), bn: new nn.BatchNorm2d(8), relu: new nn.ReLU(), pool: new nn.AdaptiveAvgPool2d(1), flat: new nn.Flatten(), fc: new nn.Linear(8, 4) });
    sn.scope(() => {
      const y = model.forward(sn.randn([2, 3, 5, 5]));
      expect(y.shape).toEqual([2, 4]);
      expect(model.namedParameters().map(([n]) => n)).toEqual(['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'fc.weight', 'fc.bias']);
      expect(model.namedBuffers().map(([n]) => n)).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
      expect(model.numParameters()).toBe(8 * 3 * 9 + 8 + 16 + 8 * 4 + 4);
      expect(model.namedModules().map((m) => m.name)).toEqual(['', 'conv', 'bn', 'relu', 'pool', 'flat', 'fc']);
    });
    model.dispose();
  });

  it('train() and eval() switch batch norm between batch and running statistics, as PyTorch', () => {
    const bn = new nn.BatchNorm1d(3, { momentum: 0.5 });
    sn.scope(() => {
      const x = sn.tensor([[1, 2, 3], [3, 6, 9]]);
      expect(bn.training).toBe(true);
      const y = bn.forward(x);
      // PyTorch's values for this input (float32).
      expect(y.toArray()).toEqual([[-0.9999949932098389, -0.9999987483024597, -0.9999994039535522], [0.9999949932098389, 0.9999987483024597, 0.9999994039535522]]);
      const state = bn.stateDict();
      expect(state.running_mean.toArray()).toEqual([1, 2, 3]); // 0.5 * 0 + 0.5 * mean
      expect(state.running_var.toArray()).toEqual([1.5, 4.5, 9.5]); // 0.5 * 1 + 0.5 * unbiased var
      expect(state.num_batches_tracked.toArray()).toBe(1);
      bn.eval();
      expect(bn.training).toBe(false);
      bn.forward(x);
      expect(bn.stateDict().num_batches_tracked.toArray()).toBe(1); // eval does not count
    });
    bn.dispose();
  });

  it('momentum null gives the cumulative average, as PyTorch', () => {
    const bn = new nn.BatchNorm1d(1, { momentum: null });
    sn.scope(() => {
      bn.forward(sn.tensor([[0], [2]])); // mean 1
      bn.forward(sn.tensor([[4], [6]])); // mean 5
      expect(bn.stateDict().running_mean.toArray()).toEqual([3]);
    });
    bn.dispose();
  });

  it('to(dtype) converts floating tensors only; num_batches_tracked stays int64', () => {
    const model = new nn.Sequential(new nn.Linear(2, 2), new nn.BatchNorm1d(2));
    model.to('float64');
    sn.scope(() => {
      const dtypes = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.dtype]));
      expect(dtypes['0.weight']).toBe('float64');
      expect(dtypes['1.running_mean']).toBe('float64');
      expect(dtypes['1.num_batches_tracked']).toBe('int64');
      expect(model.forward(sn.ones([3, 2], { dtype: 'float64' })).dtype).toBe('float64');
    });
    expect(() => model.to('cuda:0' as sn.Device)).toThrowError(sn.cuda.isAvailable() ? /./ : /CUDA is not available/);
    model.dispose();
  });

  it('switching a shortcut changes the function, never the parameters', () => {
    sn.manualSeed(1);
    const block = new nn.Residual({
      pre: { bn: new nn.BatchNorm2d(4), relu: new nn.ReLU() },
      branch: { conv: new nn.Conv2d(4, 8, 3, { stride: 2, padding: 1 }) },
      projection: { proj: new nn.Conv2d(4, 8, 1, { stride: 2 }) },
      identityLike: { id: nn.IdentityLike.between(4, 8, 2) },
      shortcutFrom: 'pre',
      shortcut: 'none',
    });
    sn.scope(() => {
      const x = sn.randn([2, 4, 6, 6]);
      const names = block.namedParameters().map(([n]) => n);
      const outputs: Record<string, sn.Tensor> = {};
      for (const kind of ['none', 'projection', 'identity+projection'] as const) {
        block.shortcut = kind;
        expect(block.shortcut).toBe(kind);
        expect(block.namedParameters().map(([n]) => n)).toEqual(names);
        outputs[kind] = sn.noGrad(() => block.forward(x));
      }
      // identity+projection minus projection is the identity-like path of ReLU(BN(x)).
      const h = sn.noGrad(() => sn.F.relu(sn.F.batchNorm(x, null, null, { training: true })));
      const path = sn.F.pad(sn.F.avgPool2d(h, 2).mul(2), [0, 0, 0, 0, 2, 2]);
      expect(outputs['identity+projection'].sub(outputs.projection).allclose(path, 1e-5, 1e-5)).toBe(true);
      block.shortcut = 'identity';
      expect(() => block.forward(x)).toThrowError(/identity shortcut needs the branch to keep the shape/);
    });
    block.dispose();
  });

  it('weightNorm reparametrises w = g v / ||v|| with PyTorch names, and keeps the function', () => {
    sn.manualSeed(2);
    const conv = new nn.Conv2d(3, 4, 3);
    sn.scope(() => {
      const x = sn.randn([1, 3, 5, 5]);
      const before = sn.noGrad(() => conv.forward(x));
      nn.weightNorm(conv);
      expect(conv.namedParameters().map(([n]) => n)).toEqual(['bias', 'weight_g', 'weight_v']); // PyTorch's order
      const state = conv.stateDict();
      expect(state.weight_g.shape).toEqual([4, 1, 1, 1]);
      expect(sn.noGrad(() => conv.forward(x)).allclose(before, 1e-5, 1e-6)).toBe(true);
      // Scaling v changes nothing: the layer depends on v's direction only.
      state.weight_v.mul_(3);
      expect(sn.noGrad(() => conv.forward(x)).allclose(before, 1e-5, 1e-6)).toBe(true);
      expect(() => nn.weightNorm(conv)).toThrowError(/already weight-normalised/);
    });
    conv.dispose();
  });

  it('strict loading rejects missing, unexpected and mis-shaped keys and loads nothing', () => {
    const model = new nn.Sequential({ a: new nn.Linear(2, 3), b: new nn.Linear(3, 1) });
    sn.scope(() => {
      const original = model.stateDict()['a.weight'].clone();
      const bad = { 'a.weight': sn.zeros([3, 2]), 'a.bias': sn.zeros([4]), 'c.weight': sn.zeros([1]) };
      expect(() => model.loadStateDict(bad)).toThrowError(/missing key\(s\): b\.weight, b\.bias\. unexpected key\(s\): c\.weight\. size mismatch: a\.bias: expected shape \[3\], got \[4\]/);
      expect(model.stateDict()['a.weight'].equal(original)).toBe(true); // untouched
      // Not strict: a shape mismatch still fails (as in PyTorch); without one, matching keys load.
      expect(() => model.loadStateDict(bad, { strict: false })).toThrowError(/size mismatch: a\.bias/);
      const loose = { 'a.weight': sn.zeros([3, 2]), 'c.weight': sn.zeros([1]) };
      const result = model.loadStateDict(loose, { strict: false });
      expect(result.missingKeys).toEqual(['a.bias', 'b.weight', 'b.bias']);
      expect(result.unexpectedKeys).toEqual(['c.weight']);
      expect(model.stateDict()['a.weight'].sum().item()).toBe(0);
    });
    model.dispose();
  });

  it("one variant's state dict loads strictly into every other variant of the same model", () => {
    const families: sn.models.ModelSpec[][] = [
      (['a', 'b', 'c'] as const).map((variant) => ({ model: 'bnnet', variant })),
      (['orig', 'mod', 'none'] as const).map((shortcut) => ({ model: 'preact-resnet', depth: 18, shortcut })),
      (['orig', 'mod', 'none'] as const).map((shortcut) => ({ model: 'preact-resnet', depth: 50, shortcut, input: 'imagenet' })),
      [true, false].map((skip) => ({ model: 'resnet', depth: 18, skip })),
    ];
    for (const family of families) {
      const models = family.map((spec) => sn.models.buildModel(spec));
      for (const source of models) {
        const state = source.stateDict();
        for (const target of models) {
          expect(target.loadStateDict(state)).toEqual({ missingKeys: [], unexpectedKeys: [], mismatchedKeys: [] });
        }
        sn.dispose(state);
      }
      models.forEach((m) => m.dispose());
    }
  });

  it('a state dict without num_batches_tracked loads strictly and keeps the count, as in PyTorch', () => {
    const bn = new nn.BatchNorm1d(2);
    sn.scope(() => {
      bn.forward(sn.randn([4, 2]));
      const state = bn.stateDict();
      delete state.num_batches_tracked;
      expect(bn.loadStateDict(state).missingKeys).toEqual([]);
      expect(bn.stateDict().num_batches_tracked.item()).toBe(1);
    });
    bn.dispose();
  });

  it('to(dtype) converts gradients too, and refuses integer dtypes', () => {
    const lin = new nn.Linear(2, 1);
    sn.scope(() => {
      lin.forward(sn.ones([1, 2])).sum().backward();
      lin.to('float64');
      for (const p of lin.parameters()) expect(p.grad!.dtype).toBe('float64');
      expect(() => lin.to('int64')).toThrowError(/moves only to floating-point dtypes, not int64/);
    });
    lin.dispose();
  });

  it('batch norm in training refuses one value per channel (running stats would become NaN)', () => {
    const bn = new nn.BatchNorm1d(3);
    sn.scope(() => {
      expect(() => bn.forward(sn.randn([1, 3]))).toThrowError(/expected more than 1 value per channel when training/);
      expect(bn.stateDict().running_var.toArray()).toEqual([1, 1, 1]);
      bn.eval();
      expect(bn.forward(sn.randn([1, 3])).shape).toEqual([1, 3]);
    });
    bn.dispose();
  });

  it('summary changes nothing: running statistics and each module mode are kept', () => {
    const model = sn.models.bnnet({ variant: 'b' });
    sn.scope(() => {
      model.summary([1, 1, 28, 28]);
      const state = model.stateDict();
      expect(state['bn.running_var'].eq(1).all().item()).toBe(1);
      expect(state['bn.num_batches_tracked'].item()).toBe(0);
      expect(model.training).toBe(true);
    });
    model.dispose();
  });

  it('summary lists layers with output shapes and parameter counts', () => {
    const model = sn.models.bnnet({ variant: 'b' });
    const text = model.summary([32, 1, 28, 28]);
    expect(text).toMatch(/^layer\s+kind\s+output shape\s+parameters/);
    expect(text).toMatch(/Block2\.cproj\s+Conv2d\(5 -> 20, kernel 1x1, stride 3x3\)\s+\[32, 20, 4, 4\]\s+120/);
    expect(text).toMatch(/lin\s+Linear\(320 -> 10\)\s+\[32, 10\]\s+3,210/);
    expect(text).toMatch(/total parameters: 9,970/);
    model.dispose();
  });

  it('init helpers follow PyTorch formulas and are seedable', () => {
    sn.scope(() => {
      const w = sn.empty([64, 32, 3, 3]);
      expect(sn.nn.init.fans(w)).toEqual([288, 576]);
      const g = new sn.Generator(4);
      sn.nn.init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu', generator: g });
      expect(Math.abs(w.std().item() - Math.sqrt(2 / 576))).toBeLessThan(0.002);
      sn.nn.init.xavierUniform_(w, 1, { generator: g });
      const bound = Math.sqrt(6 / (288 + 576));
      expect(w.abs().max().item()).toBeLessThanOrEqual(bound);
      expect(sn.nn.init.calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04), 12);
      sn.nn.init.zeros_(w);
      expect(w.abs().sum().item()).toBe(0);
      g.dispose();
    });
  });
});

describe('module misuse', () => {
  const misuse: [string, () => unknown, RegExp][] = [
    ['a wrong number of input channels', () => sn.scope(() => new nn.Conv2d(3, 4, 3).forward(sn.ones([1, 2, 5, 5]))), /^forward: Conv2d\(3 -> 4\): expected input with 3 channels, got shape \[1, 2, 5, 5\]/],
    ['a 2-d input to BatchNorm2d', () => sn.scope(() => new nn.BatchNorm2d(3).forward(sn.ones([2, 3]))), /^forward: BatchNorm2d: expected 4D input \(got 2D input/],
    ['a Linear input of the wrong width', () => sn.scope(() => new nn.Linear(4, 2).forward(sn.ones([3, 5]))), /^forward: Linear\(4 -> 2\): expected input with last dimension 4, got shape \[3, 5\]/],
    ['an MNIST batch into a CIFAR ResNet', () => sn.scope(() => sn.models.preactResNet({ depth: 18 }).forward(sn.ones([2, 1, 28, 28]))), /expected input with 3 channels/],
    ['zero channels', () => new nn.Conv2d(0, 4, 3), /^Conv2d: inChannels must be a positive integer/],
    ['groups that do not divide', () => new nn.Conv2d(3, 4, 3, { groups: 2 }), /groups \(2\) must divide in_channels \(3\)/],
    ['an unknown shortcut kind', () => new nn.Residual({ branch: [new nn.ReLU()], shortcut: 'skip' as nn.ShortcutKind }), /^Residual: shortcut must be one of none, identity, projection, identity\+projection/],
    ['a projection shortcut without a projection', () => new nn.Residual({ branch: [new nn.ReLU()], shortcut: 'projection' }), /needs a projection/],
    ['a non-module child', () => new nn.Sequential({ a: {} as nn.Module }), /^Sequential: child 'a' is not a Module/],
    ['a dotted child name', () => new nn.Sequential({ 'a.b': new nn.ReLU() }), /must be non-empty and contain no '\.'/],
    ['a disposed module', () => {
      const m = new nn.ReLU();
      m.dispose();
      return sn.scope(() => m.forward(sn.ones([1])));
    }, /^forward: the module was disposed/],
    ['weight norm of a batch norm', () => nn.weightNorm(new nn.BatchNorm2d(2) as unknown as nn.Linear), /^weightNorm: expected a Linear, Conv1d or Conv2d layer/],
    ['an unknown depth', () => sn.models.preactResNet({ depth: 20 as 18 }), /^preactResNet: depth must be one of 18, 34, 50, 101, 152/],
    ['an unknown BNNet variant', () => sn.models.bnnet({ variant: 'd' as 'a' }), /^bnnet: variant must be 'a', 'b' or 'c'/],
    ['a state dict with a non-tensor', () => new nn.Linear(1, 1).loadStateDict({ weight: [[1]] as unknown as sn.Tensor }), /^loadStateDict: 'weight' is not a Tensor/],
  ];
  for (const [name, run, message] of misuse) {
    it(name, () => expectTypedError(run, message));
  }

  it('a disposed child handle does not break its parent model', () => {
    const relu = new nn.ReLU();
    const model = new nn.Sequential(relu);
    relu.dispose();
    sn.scope(() => expect(model.forward(sn.tensor([-1, 2])).toArray()).toEqual([0, 2]));
    model.dispose();
  });
});
