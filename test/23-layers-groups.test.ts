/**
 * Layers Conv1d, LeakyReLU, Softmax, LogSoftmax and Embedding, and optimiser parameter groups,
 * against PyTorch (test/golden/layers.json, by scripts/golden/layers.py): from the same seed each
 * layer holds PyTorch's initial parameters, and in float64 gives its output and its input and
 * parameter gradients; SGD with momentum and weight decay in three groups (a hand-written loop)
 * and AdamW in two groups under fit's step schedule give PyTorch's parameters. Then misuse.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { expectTypedError, fromGolden, goldenValues, readGolden, relativeError, type GoldenTensor } from './helpers';

const nn = sn.nn;

interface LayerRecord {
  seed: number;
  input: GoldenTensor;
  cotangent: GoldenTensor;
  init: Record<string, GoldenTensor>;
  output: GoldenTensor;
  input_grad: GoldenTensor | null;
  grads: Record<string, GoldenTensor>;
}

interface OptimRecord {
  losses: number[];
  /** Each group's learning rate at each step, PyTorch's param_groups order. */
  lrs: number[][];
  params: Record<string, GoldenTensor>[];
}

const golden = readGolden<{
  torch: string;
  layers: Record<string, LayerRecord>;
  optim_seed: number;
  steps: number;
  optim_data: { input: GoldenTensor; labels: GoldenTensor };
  optim: Record<string, OptimRecord>;
}>('layers.json');

// Initial values are drawn in float32 (a vectorised normal_ may round its last bit differently on
// another processor); everything else is float64, where rounding is far below these bounds and a
// wrong formula far above them. fit's loss is float32 (its rounding then carries into the steps).
const INIT_TOLERANCE = 1e-6;
const FLOAT64_TOLERANCE = 1e-9;
const FIT_TOLERANCE = 1e-5;

const LAYERS: Record<string, () => sn.nn.Module> = {
  conv1d: () => new nn.Conv1d(3, 4, 3),
  'conv1d-options': () => new nn.Conv1d(4, 6, 3, { stride: 2, padding: 2, dilation: 2, groups: 2, bias: false }),
  'conv1d-same': () => new nn.Conv1d(3, 2, 4, { padding: 'same' }),
  'conv1d-valid-unbatched': () => new nn.Conv1d(3, 5, 2, { padding: 'valid' }),
  'leaky-relu': () => new nn.LeakyReLU(),
  'leaky-relu-0.2': () => new nn.LeakyReLU({ negativeSlope: 0.2 }),
  'softmax-1': () => new nn.Softmax(1),
  'softmax-last': () => new nn.Softmax(-1),
  'log-softmax-0': () => new nn.LogSoftmax(0),
  embedding: () => new nn.Embedding(10, 4),
  'embedding-padding': () => new nn.Embedding(8, 3, { paddingIdx: 2 }),
  'embedding-padding-last': () => new nn.Embedding(6, 3, { paddingIdx: -1 }),
};

function expectClose(actual: sn.Tensor, expected: GoldenTensor, tolerance: number, what: string): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  expect(actual.dtype, `${what}: dtype`).toBe(expected.dtype);
  const error = relativeError(actual.dataSync() as Float64Array, goldenValues(expected) as Float64Array);
  expect(error, `${what}: relative error ${error}`).toBeLessThanOrEqual(tolerance);
}

// The model of scripts/golden/layers.py's optimiser cases.
function optimModel(): sn.nn.Module {
  return new nn.Sequential(new nn.Conv1d(3, 4, 3, { padding: 1 }), new nn.LeakyReLU(0.1), new nn.BatchNorm1d(4), new nn.Flatten(), new nn.Linear(32, 5), new nn.LogSoftmax(1));
}

describe(`layers: parity with PyTorch ${golden.torch}`, () => {
  it('every golden case has a layer here', () => {
    expect(Object.keys(golden.layers).sort()).toEqual(Object.keys(LAYERS).sort());
  });

  for (const [name, record] of Object.entries(golden.layers)) {
    it(`${name}: initial parameters, output and gradients`, () => {
      sn.manualSeed(record.seed);
      const layer = LAYERS[name]();
      try {
        sn.scope(() => {
          const params = layer.namedParameters();
          expect(params.map(([n]) => n)).toEqual(Object.keys(record.init));
          for (const [n, p] of params) expectClose(p, record.init[n], INIT_TOLERANCE, `initial ${n}`);
          layer.to('float64');
          const x = fromGolden(record.input);
          if (record.input_grad) x.requiresGrad_();
          const y = layer.forward(x);
          expectClose(y, record.output, FLOAT64_TOLERANCE, 'output');
          y.mul(fromGolden(record.cotangent)).sum().backward();
          if (record.input_grad) expectClose(x.grad!, record.input_grad, FLOAT64_TOLERANCE, 'input gradient');
          for (const [n, p] of layer.namedParameters()) expectClose(p.grad!, record.grads[n], FLOAT64_TOLERANCE, `gradient of ${n}`);
        });
      } finally {
        layer.dispose();
      }
    });
  }

  it("Embedding's padding row starts at zero and gets no gradient, though it is looked up", () => {
    sn.manualSeed(0);
    const embedding = new nn.Embedding(5, 3, { paddingIdx: 1 });
    sn.scope(() => {
      const weight = embedding.stateDict().weight;
      expect(weight.select(0, 1).toArray()).toEqual([0, 0, 0]);
      const indices = sn.tensor([[1, 1, 4], [0, 1, 2]], { dtype: 'int32' });
      const y = embedding.forward(indices);
      expect(y.shape).toEqual([2, 3, 3]);
      y.sum().backward();
      const grad = embedding.parameters()[0].grad!;
      expect(grad.select(0, 1).toArray()).toEqual([0, 0, 0]);
      expect(grad.select(0, 4).toArray()).toEqual([1, 1, 1]);
    });
    embedding.dispose();
  });

  it('integer indices run through a whole model, in forward and in fit', async () => {
    sn.manualSeed(3);
    const model = new nn.Sequential({ embed: new nn.Embedding(7, 4), flat: new nn.Flatten(), fc: new nn.Linear(12, 2) });
    const input = sn.tensor([[0, 1, 2], [3, 4, 5], [6, 0, 1], [2, 2, 2]], { dtype: 'int64' });
    const labels = sn.tensor([0, 1, 1, 0], { dtype: 'int64' });
    sn.scope(() => expect(model.forward(input).shape).toEqual([4, 2]));
    const optimizer = new sn.optim.SGD(model, { lr: 0.5 });
    const result = await sn.fit(model, { input, labels }, { optimizer, steps: 20, batchSize: 4, shuffle: false });
    expect(result.lastEpochLoss).toBeLessThan(0.2);
    sn.dispose([input, labels]);
    optimizer.dispose();
    model.dispose();
  });

  it('summaries describe the new layers', () => {
    const model = new nn.Sequential(new nn.Conv1d(3, 4, 3, { stride: 2, padding: 'valid', groups: 1, bias: false }), new nn.LeakyReLU(0.2), new nn.Flatten(), new nn.Linear(16, 5), new nn.LogSoftmax(1));
    const text = model.summary([2, 3, 9]);
    expect(text).toMatch(/0\s+Conv1d\(3 -> 4, kernel 3, stride 2, padding valid, no bias\)\s+\[2, 4, 4\]\s+36/);
    expect(text).toMatch(/1\s+LeakyReLU\(negative slope 0\.2\)\s+\[2, 4, 4\]/);
    expect(text).toMatch(/4\s+LogSoftmax\(dim 1\)\s+\[2, 5\]/);
    const embedding = new nn.Embedding(10, 4, { paddingIdx: -1 });
    expect(embedding.namedModules()[0]).toEqual({ name: '', kind: 'Embedding', description: '10 x 4, padding index 9' });
    expect(new nn.Softmax(-1).namedModules()[0].description).toBe('dim -1');
    model.dispose();
    embedding.dispose();
  });

  it('weightNorm applies to Conv1d and keeps the function', () => {
    sn.manualSeed(5);
    const conv = new nn.Conv1d(2, 3, 3);
    sn.scope(() => {
      const x = sn.randn([2, 2, 6]);
      const before = sn.noGrad(() => conv.forward(x));
      nn.weightNorm(conv);
      expect(conv.namedParameters().map(([n]) => n)).toEqual(['bias', 'weight_g', 'weight_v']);
      expect(conv.stateDict().weight_g.shape).toEqual([3, 1, 1]);
      expect(sn.noGrad(() => conv.forward(x)).allclose(before, 1e-5, 1e-6)).toBe(true);
    });
    conv.dispose();
  });
});

describe(`parameter groups: parity with torch.optim ${golden.torch}`, () => {
  const noDecay = (name: string, p: sn.Tensor) => name.endsWith('.bias') || p.ndim === 1;

  it(`SGD with momentum and weight decay in three groups: parameters after each of ${golden.steps} steps`, () => {
    const expected = golden.optim['sgd-groups'];
    sn.manualSeed(golden.optim_seed);
    const model = optimModel().to('float64');
    const optimizer = new sn.optim.SGD(model, {
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 5e-4,
      paramGroups: [{ params: noDecay, weightDecay: 0 }, { params: ['4.weight'], lr: 0.05, momentum: 0.5 }],
    });
    const input = fromGolden(golden.optim_data.input);
    const labels = fromGolden(golden.optim_data.labels);
    try {
      expect(optimizer.paramGroups().map((g) => g.params)).toEqual([['0.weight'], ['0.bias', '2.weight', '2.bias', '4.bias'], ['4.weight']]);
      for (let t = 0; t < golden.steps; t++) {
        sn.scope(() => {
          expect(optimizer.paramGroups().map((g) => g.lr)).toEqual([0.1, 0.1, 0.05]);
          optimizer.zeroGrad();
          const loss = sn.F.nllLoss(model.forward(input), labels);
          loss.backward();
          optimizer.step();
          expect(Math.abs(loss.item() - expected.losses[t]), `loss at step ${t + 1}`).toBeLessThanOrEqual(FLOAT64_TOLERANCE * expected.losses[t]);
          for (const [n, p] of model.namedParameters()) expectClose(p, expected.params[t][n], FLOAT64_TOLERANCE, `${n} after step ${t + 1}`);
        });
      }
      // State is named by parameter, whatever the group; it loads back into the same groups.
      sn.scope(() => {
        const state = optimizer.stateDict();
        expect(Object.keys(state).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight'].map((n) => `momentum_buffer.${n}`));
        optimizer.loadStateDict(state);
      });
    } finally {
      sn.dispose([input, labels]);
      optimizer.dispose();
      model.dispose();
    }
  });

  it(`AdamW in two groups under fit's step schedule: each group's rate is its base times the factor, as LambdaLR`, async () => {
    const expected = golden.optim['adamw-groups-fit'];
    sn.manualSeed(golden.optim_seed);
    const model = optimModel().to('float64');
    const optimizer = new sn.optim.AdamW(model, { lr: 1e-2, weightDecay: 0.05, paramGroups: [{ params: ['0.bias', '2.weight', '2.bias', '4.bias'], lr: 3e-3, weightDecay: 0 }] });
    const input = fromGolden(golden.optim_data.input);
    const labels = fromGolden(golden.optim_data.labels);
    const losses: number[] = [];
    const lrs: number[] = [];
    try {
      await sn.fit(model, { input, labels }, {
        optimizer,
        steps: golden.steps,
        batchSize: 6,
        shuffle: false,
        schedule: { kind: 'step', stepSize: 2, gamma: 0.5 },
        scheduleUnit: 'step',
        progressEvery: 1,
        onStep: (e) => {
          losses.push(e.loss);
          lrs.push(e.lr);
        },
      });
      losses.forEach((loss, t) => expect(Math.abs(loss - expected.losses[t]), `loss at step ${t + 1}`).toBeLessThanOrEqual(FIT_TOLERANCE * expected.losses[t]));
      // Step events report the default group's rate.
      lrs.forEach((lr, t) => expect(lr).toBeCloseTo(expected.lrs[t][0], 15));
      sn.scope(() => {
        for (const [n, p] of model.namedParameters()) expectClose(p, expected.params[golden.steps - 1][n], FIT_TOLERANCE, `${n} after ${golden.steps} steps`);
      });
      // The last step's rates, and the base rates the schedule multiplied.
      const groups = optimizer.paramGroups();
      groups.forEach((g, k) => expect(g.lr).toBeCloseTo(expected.lrs[golden.steps - 1][k], 15));
      expect(groups.map((g) => g.initialLr)).toEqual([1e-2, 3e-3]);
      expect(groups[1]).toMatchObject({ params: ['0.bias', '2.weight', '2.bias', '4.bias'], weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8, amsgrad: false });
      expect(optimizer.lr).toBeCloseTo(expected.lrs[golden.steps - 1][0], 15);
    } finally {
      sn.dispose([input, labels]);
      optimizer.dispose();
      model.dispose();
    }
  });

  it("a run with parameter groups resumes from its checkpoint exactly, and a resume with other groups is refused", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-groups-'));
    const run = async (biasLr: number, checkpoint: boolean, resume = false) => {
      sn.manualSeed(golden.optim_seed);
      const model = optimModel().to('float64');
      const optimizer = new sn.optim.AdamW(model, { lr: 1e-2, paramGroups: [{ params: (name) => name.endsWith('.bias'), lr: biasLr, weightDecay: 0 }] });
      const input = fromGolden(golden.optim_data.input);
      const labels = fromGolden(golden.optim_data.labels);
      try {
        const result = await sn.fit(model, { input, labels }, {
          optimizer,
          steps: 6,
          batchSize: 3,
          shuffle: false,
          schedule: { kind: 'step', stepSize: 2, gamma: 0.5 },
          scheduleUnit: 'step',
          checkpoint: checkpoint ? { dir, every: 3, keep: 5 } : undefined,
          resume,
        });
        return { resumedFrom: result.resumedFrom, params: sn.scope(() => model.namedParameters().map(([, p]) => Array.from(p.dataSync() as Float64Array))) };
      } finally {
        sn.dispose([input, labels]);
        optimizer.dispose();
        model.dispose();
      }
    };
    try {
      const straight = await run(3e-3, false);
      await run(3e-3, true);
      expect(sn.listCheckpoints(dir).map((c) => c.step)).toEqual([3, 6]);
      fs.rmSync(sn.listCheckpoints(dir)[1].file); // resume from step 3
      const resumed = await run(3e-3, true, true);
      expect(resumed.resumedFrom).toBe(3);
      expect(resumed.params).toEqual(straight.params);
      await expect(run(1e-3, true, true)).rejects.toThrow(/it was saved by a run with another optimizer: paramGroups \[\{"params":\["0\.bias","2\.bias","4\.bias"\],"lr":0\.003,.*\}\] then, \[\{.*"lr":0\.001,/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lr reads and sets the default group; setLr sets any group; config lists the groups for resumed runs', () => {
    const model = optimModel();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1, momentum: 0.9, paramGroups: [{ params: ['4.weight', '4.bias'], lr: 0.01, nesterov: true }] });
    optimizer.lr = 0.2;
    expect(optimizer.paramGroups().map((g) => g.lr)).toEqual([0.2, 0.01]);
    optimizer.setLr(0.03, 1);
    expect(optimizer.paramGroups().map((g) => [g.lr, g.initialLr])).toEqual([[0.2, 0.2], [0.03, 0.03]]);
    expect(optimizer.lr).toBe(0.2);
    expect(optimizer.config()).toEqual({
      kind: 'sgd',
      lr: 0.2,
      momentum: 0.9,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      paramGroups: [{ params: ['4.weight', '4.bias'], lr: 0.03, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true }],
    });
    const plain = new sn.optim.SGD(model, { lr: 0.1 });
    expect(plain.config()).not.toHaveProperty('paramGroups');
    plain.dispose();
    expect(() => optimizer.setLr(0.1, 2)).toThrowError(/parameter group 2 does not exist \(the optimizer has 2\)/);
    optimizer.dispose();
    model.dispose();
  });

  it('a parameter no group selects stays in the default group; an empty default group is fine', () => {
    const model = optimModel();
    const all = new sn.optim.Adam(model, { paramGroups: [{ params: () => true, betas: [0.8, 0.9] }] });
    expect(all.paramGroups().map((g) => g.params.length)).toEqual([0, 6]);
    expect(all.paramGroups()[1].betas).toEqual([0.8, 0.9]);
    all.dispose();
    model.dispose();
  });
});

describe('layer and parameter-group misuse', () => {
  const model = () => optimModel();
  const misuse: [string, () => unknown, RegExp][] = [
    ['Conv1d with zero channels', () => new nn.Conv1d(0, 4, 3), /^Conv1d: inChannels must be a positive integer, got 0/],
    ['Conv1d with a pair for a kernel', () => new nn.Conv1d(3, 4, [3, 3] as unknown as number), /^Conv1d: kernelSize must be a positive integer/],
    ['Conv1d with negative padding', () => new nn.Conv1d(3, 4, 3, { padding: -1 }), /^Conv1d: padding \(or 'same', 'valid'\) must be a non-negative integer, got -1/],
    ['Conv1d with an unknown padding mode', () => new nn.Conv1d(3, 4, 3, { padding: 'full' as 'same' }), /^Conv1d: padding \(or 'same', 'valid'\) must be a non-negative integer, got full/],
    ["Conv1d with padding 'same' and a stride", () => new nn.Conv1d(3, 4, 3, { padding: 'same', stride: 2 }), /^Conv1d: padding 'same' is not supported for strided convolutions/],
    ['Conv1d with groups that do not divide', () => new nn.Conv1d(3, 4, 3, { groups: 2 }), /groups \(2\) must divide in_channels \(3\)/],
    ['Conv1d with a wrong number of channels', () => sn.scope(() => new nn.Conv1d(3, 4, 3).forward(sn.ones([1, 2, 5]))), /^forward: Conv1d\(3 -> 4\): expected input with 3 channels, got shape \[1, 2, 5\]/],
    ['Conv1d with a 4-d input', () => sn.scope(() => new nn.Conv1d(3, 4, 3).forward(sn.ones([1, 3, 5, 5]))), /^forward: Conv1d: expected 2D or 3D input \(got 4D input/],
    ['LeakyReLU with a non-number slope', () => new nn.LeakyReLU('0.1' as unknown as number), /^LeakyReLU: negativeSlope must be a finite number, got 0\.1/],
    ['LeakyReLU with NaN', () => new nn.LeakyReLU({ negativeSlope: NaN }), /^LeakyReLU: negativeSlope must be a finite number, got NaN/],
    ['Softmax without dim', () => new (nn.Softmax as unknown as new () => sn.nn.Module)(), /^Softmax: dim is required/],
    ['LogSoftmax with a fractional dim', () => new nn.LogSoftmax(0.5), /^LogSoftmax: dim must be an integer, got 0\.5/],
    ['Softmax over a dimension the input lacks', () => sn.scope(() => new nn.Softmax(2).forward(sn.ones([2, 3]))), /^forward: .*[Dd]imension out of range/],
    ['Embedding with zero rows', () => new nn.Embedding(0, 3), /^Embedding: numEmbeddings must be a positive integer, got 0/],
    ['Embedding with a padding index outside the table', () => new nn.Embedding(4, 3, { paddingIdx: 4 }), /^Embedding: paddingIdx must be an integer in \[-4, 3\], got 4/],
    ['Embedding with float indices', () => sn.scope(() => new nn.Embedding(4, 3).forward(sn.ones([2]))), /^forward: Embedding\(4 x 3\): expected integer indices \(int64 or int32\), got Float/],
    ['Embedding with an index out of range', () => sn.scope(() => new nn.Embedding(4, 3).forward(sn.tensor([0, 4], { dtype: 'int64' }))), /^forward: Embedding\(4 x 3\): index out of range: indices run from 0 to 4, the table has rows 0 to 3/],
    ['weightNorm of an Embedding', () => nn.weightNorm(new nn.Embedding(2, 2) as unknown as sn.nn.Linear), /^weightNorm: expected a Linear, Conv1d or Conv2d layer/],
    ['a parameter in two groups', () => new sn.optim.SGD(model(), { lr: 0.1, paramGroups: [{ params: (n) => n.endsWith('.bias') }, { params: ['0.weight', '4.bias'] }] }), /^SGD: parameter '4\.bias' is in two parameter groups \(paramGroups\[0\] and paramGroups\[1\]\)/],
    ['a group naming an unknown parameter', () => new sn.optim.AdamW(model(), { paramGroups: [{ params: ['fc.bias'] }] }), /^AdamW: paramGroups\[0\] names 'fc\.bias', which is not a parameter of the model \(its parameters: 0\.weight, 0\.bias, 2\.weight/],
    ['a group without params', () => new sn.optim.SGD(model(), { lr: 0.1, paramGroups: [{ lr: 0.2 } as unknown as sn.optim.ParamGroup<sn.optim.SGDOptions>] }), /^SGD: paramGroups\[0\]\.params must be an array of parameter names or a function/],
    ['paramGroups that is not an array', () => new sn.optim.SGD(model(), { lr: 0.1, paramGroups: {} as unknown as [] }), /^SGD: paramGroups must be an array/],
    ['an unknown option in a group', () => new sn.optim.SGD(model(), { lr: 0.1, paramGroups: [{ params: ['4.bias'], weight_decay: 0 } as unknown as sn.optim.ParamGroup<sn.optim.SGDOptions>] }), /^SGD: unknown option 'weight_decay' in paramGroups\[0\] \(options: lr, momentum, dampening, weightDecay, nesterov\)/],
    ['an unknown option', () => new sn.optim.Adam(model(), { beta1: 0.5 } as unknown as sn.optim.AdamOptions), /^Adam: unknown option 'beta1' \(options: lr, betas, eps, weightDecay, amsgrad\)/],
    ['a non-number in a group', () => new sn.optim.SGD(model(), { lr: 0.1, paramGroups: [{ params: ['4.bias'], lr: '0.1' as unknown as number }] }), /^SGD: option 'lr' in paramGroups\[0\] must be a number or a boolean/],
    ['bad betas in a group', () => new sn.optim.Adam(model(), { paramGroups: [{ params: ['4.bias'], betas: [0.9] as unknown as [number, number] }] }), /^Adam: betas in paramGroups\[0\] must be \[beta1, beta2\]/],
    ['an invalid rate in a group', () => new sn.optim.SGD(model(), { lr: 0.1, paramGroups: [{ params: ['4.bias'], lr: -1 }] }), /SGD: invalid learning rate -1 in paramGroups\[0\]/],
    ['Nesterov without momentum in a group', () => new sn.optim.SGD(model(), { lr: 0.1, momentum: 0.9, paramGroups: [{ params: ['4.bias'], momentum: 0, nesterov: true }] }), /SGD: Nesterov momentum requires a momentum and zero dampening in paramGroups\[0\]/],
    ['betas out of range in a group', () => new sn.optim.AdamW(model(), { paramGroups: [{ params: ['4.bias'], betas: [0.9, 1] }] }), /AdamW: betas must be in \[0, 1\) in paramGroups\[0\]/],
    ['a negative group index', () => new sn.optim.SGD(model(), { lr: 0.1 }).setLr(0.1, -1), /^setLr: group must be a non-negative integer, got -1/],
  ];
  for (const [name, run, message] of misuse) {
    it(name, () => expectTypedError(run, message));
  }

  it('state of an optimiser with other groups is refused and changes nothing', () => {
    const m = model();
    sn.scope(() => {
      const input = sn.randn([4, 3, 8]);
      const labels = sn.tensor([0, 1, 2, 3], { dtype: 'int64' });
      const grouped = new sn.optim.SGD(m, { lr: 0.1, momentum: 0.9, paramGroups: [{ params: (n) => n.endsWith('.bias'), momentum: 0 }] });
      sn.F.nllLoss(m.forward(input), labels).backward();
      grouped.step();
      const full = new sn.optim.SGD(m, { lr: 0.1, momentum: 0.9 });
      // Buffers of the weights only: the biases' are missing for an optimiser with momentum everywhere...
      const state = grouped.stateDict();
      expect(Object.keys(state).every((k) => !k.endsWith('.bias'))).toBe(true);
      full.loadStateDict(state); // missing buffers start fresh, as in PyTorch
      // ...and buffers of the biases are not state of the grouped one.
      const more = full.stateDict();
      more['momentum_buffer.4.bias'] = sn.zeros([5], { dtype: 'float32' });
      expect(() => grouped.loadStateDict(more)).toThrowError(/optimizer state 'momentum_buffer\.4\.bias' is not state of this SGD optimiser with momentum in some parameter groups/);
      grouped.dispose();
      full.dispose();
    });
    m.dispose();
  });
});
