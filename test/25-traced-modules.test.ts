/**
 * Your own modules: subclasses of Module with a TypeScript forward, run eagerly when called and
 * traced into a native graph for native work (fit, evaluate, spectra); holders (ModuleList,
 * ModuleDict); children/modules/apply; models saved with their architecture and rebuilt without
 * the user's class; and the misuse a trace refuses, by name.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { fromGolden, readGolden, relativeError, requireFreshLib, tickUntilAbort, type GoldenTensor } from './helpers';

const nn = sn.nn;
const F = sn.F;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-traced-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

class Mlp extends nn.Module {
  fc1 = new nn.Linear(12, 16);
  fc2 = new nn.Linear(16, 3);
  override forward(x: sn.Tensor): sn.Tensor {
    // A literal batch size: recorded as `batch x 1`, so other batch sizes work natively.
    const flat = x.reshape([x.shape[0], -1]);
    return this.fc2.forward(this.fc1.forward(flat).relu());
  }
}

/** ReZero: x + alpha * f(x), alpha a learnable scalar starting at 0. */
class ReZeroBlock extends nn.Module {
  conv: nn.Conv2d;
  bn: nn.BatchNorm2d;
  alpha: sn.Tensor;
  constructor(channels: number) {
    super();
    this.conv = new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false });
    this.bn = new nn.BatchNorm2d(channels);
    this.alpha = nn.parameter(sn.zeros([]));
  }
  override forward(x: sn.Tensor): sn.Tensor {
    return x.add(this.bn.forward(this.conv.forward(x)).relu().mul(this.alpha));
  }
}

class ReZeroNet extends nn.Module {
  stem = new nn.Conv2d(1, 4, 3, { padding: 1 });
  blocks = new nn.ModuleList([new ReZeroBlock(4), new ReZeroBlock(4)]);
  head = new nn.Linear(4, 10);
  override forward(x: sn.Tensor): sn.Tensor {
    let h = this.stem.forward(x);
    for (const block of this.blocks) h = block.forward(h);
    return this.head.forward(F.adaptiveAvgPool2d(h, 1).flatten(1));
  }
}

function digits(n: number): { input: sn.Tensor; labels: sn.Tensor } {
  const g = new sn.Generator(3);
  const data = { input: sn.randn([n, 1, 8, 8], { generator: g }), labels: sn.randint(0, 10, [n], { generator: g }) };
  g.dispose();
  return data;
}

describe('traced modules', () => {
  it('register children and parameters by assignment, with PyTorch names, and run eagerly and natively alike', () => {
    sn.manualSeed(0);
    const model = new Mlp();
    expect(model.namedParameters().map(([n]) => n)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(model.kind).toBe('Mlp');
    expect(model.children()).toEqual([model.fc1, model.fc2]);
    sn.scope(() => {
      const x = sn.randn([5, 3, 4]);
      const eager = model.forward(x);
      const graphed = nn.forwardNative(model, x);
      expect(graphed.shape).toEqual([5, 3]);
      expect(graphed.allclose(eager, 0, 0)).toBe(true);
      // Another batch size runs on the same graph.
      expect(nn.forwardNative(model, sn.randn([7, 3, 4])).shape).toEqual([7, 3]);
    });
    model.dispose();
  });

  it('holders, parameters of the module itself, modules(), apply()', () => {
    sn.manualSeed(0);
    const model = new ReZeroNet();
    const names = model.namedParameters().map(([n]) => n);
    expect(names).toEqual(['stem.weight', 'stem.bias', 'blocks.0.alpha', 'blocks.0.conv.weight', 'blocks.0.bn.weight', 'blocks.0.bn.bias', 'blocks.1.alpha', 'blocks.1.conv.weight', 'blocks.1.bn.weight', 'blocks.1.bn.bias', 'head.weight', 'head.bias'].sort((a, b) => names.indexOf(a) - names.indexOf(b)));
    expect(new Set(names).size).toBe(12);
    expect(model.blocks.length).toBe(2);
    const kinds: string[] = [];
    model.apply((m) => kinds.push(m.kind));
    expect(kinds).toEqual(['Conv2d', 'Conv2d', 'BatchNorm2d', 'ReZeroBlock', 'Conv2d', 'BatchNorm2d', 'ReZeroBlock', 'ModuleList', 'Linear', 'ReZeroNet']);
    expect(model.modules().length).toBe(10);
    sn.scope(() => {
      model.eval();
      const x = sn.randn([3, 1, 8, 8]);
      expect(nn.forwardNative(model, x).allclose(model.forward(x), 1e-6, 1e-6)).toBe(true);
      // The graph calls each block as one child: a cut point.
      const graph = nn.forwardNative(model, x);
      expect(graph.shape).toEqual([3, 10]);
    });
    model.dispose();
  });

  it('trains through fit natively (the learnable scalar moves from 0) with the event loop free', async () => {
    sn.manualSeed(0);
    const model = new ReZeroNet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const data = digits(64);
    const result = await sn.fit(model, data, { optimizer, epochs: 2, batchSize: 16 });
    expect(result.steps).toBe(8);
    const alpha = model.blocks.at(0) as ReZeroBlock;
    expect(alpha.alpha.item()).not.toBe(0);
    const evaluated = await sn.evaluate(model, data, { batchSize: 32 });
    expect(evaluated.examples).toBe(64);
    const steps: number[] = [];
    const { settled, whileRunning } = await tickUntilAbort(
      (signal) => sn.fit(model, data, { optimizer, steps: 1_000_000, batchSize: 16, signal, onStep: (e) => steps.push(e.step) }),
      20,
      () => steps.length >= 2,
    );
    expect(settled).toBeInstanceOf(sn.AbortError);
    expect(whileRunning).toBeGreaterThanOrEqual(20);
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
  });

  it('a traced module inside a Sequential is traced for what reaches it', async () => {
    sn.manualSeed(1);
    const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new ReZeroBlock(4), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(4, 10));
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const data = digits(32);
    const result = await sn.fit(model, data, { optimizer, epochs: 1, batchSize: 16 });
    expect(Number.isFinite(result.lastEpochLoss)).toBe(true);
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
  });

  it('saves models with their architecture and rebuilds them without the class, bit for bit', async () => {
    sn.manualSeed(2);
    const traced = new ReZeroNet();
    const zoo = sn.models.buildModel({ model: 'bnnet', variant: 'c' });
    const container = new nn.Sequential({ conv: nn.weightNorm(new nn.Conv2d(1, 3, 3)), act: new nn.GELU({ approximate: 'tanh' }), flat: new nn.Flatten(), fc: new nn.Linear(108, 5) });
    const x = sn.randn([4, 1, 8, 8]);
    traced.trace(x);
    for (const [name, model, input] of [['traced', traced, x], ['zoo', zoo, sn.randn([4, 1, 28, 28])], ['container', container, x]] as const) {
      model.eval();
      const file = path.join(dir, `${name}.safetensors`);
      sn.save(model, file);
      const loaded = await sn.load(file);
      loaded.eval();
      sn.scope(() => {
        const expected = nn.forwardNative(model, input);
        const actual = loaded.forward(input);
        expect(actual.equal(expected)).toBe(true);
        expect(loaded.namedParameters().map(([n]) => n)).toEqual(model.namedParameters().map(([n]) => n));
      });
      // A rebuilt model saves again.
      sn.save(loaded, path.join(dir, `${name}-again.safetensors`));
      loaded.dispose();
    }
    sn.dispose(x);
    traced.dispose();
    zoo.dispose();
    container.dispose();
  });

  it('a tampered graph is a clear error, never a crash', async () => {
    sn.manualSeed(3);
    const model = new Mlp();
    sn.scope(() => model.trace(sn.randn([2, 12])));
    const file = path.join(dir, 'mlp.safetensors');
    sn.save(model, file);
    const { tensors, metadata } = sn.readSafetensors(file);
    const architecture = JSON.parse(metadata['skipnorm.architecture']);
    const tamper = async (edit: (graph: sn.nn.GraphSpec) => void, message: RegExp) => {
      const copy = JSON.parse(JSON.stringify(architecture));
      edit(copy.module.graph);
      const bad = path.join(dir, 'tampered.safetensors');
      sn.writeSafetensors(bad, tensors, { 'skipnorm.architecture': JSON.stringify(copy) });
      await expect(sn.load(bad)).rejects.toThrow(message);
    };
    const opNode = (g: sn.nn.GraphSpec) => g.nodes.findIndex((n) => n.kind === 'op');
    await tamper((g) => (g.nodes[opNode(g)].name = 'system'), /unknown operation 'system'/);
    await tamper((g) => {
      const i = opNode(g);
      g.nodes[i].args[1] = { ref: [i + 1, 0] };
    }, /does not come before it/);
    await tamper((g) => (g.exampleShapes = [[13]]), /Linear|shape|size/i);
    await tamper((g) => g.nodes.push({ kind: 'call', name: 'missing', args: [{ ref: [0, 0] }] }), /not a child/);
    await expect(sn.load(path.join(dir, 'nothing-here.safetensors'))).rejects.toThrow();
    sn.dispose(tensors);
    model.dispose();
  });

  it('refuses, at trace time and by name, what a graph cannot record', () => {
    const traceOf = (forward: (this: nn.Module & { fc: nn.Linear; extra?: unknown }, x: sn.Tensor) => sn.Tensor, extra?: unknown) => {
      class Probe extends nn.Module {
        fc = new nn.Linear(4, 4);
        extra = extra;
        override forward(x: sn.Tensor): sn.Tensor {
          return forward.call(this as never, x);
        }
      }
      const m = new Probe();
      try {
        sn.scope(() => m.trace(sn.randn([2, 4])));
      } finally {
        m.dispose();
      }
    };
    // Data-dependent branching.
    expect(() => traceOf(function (x) { return x.sum().item() > 0 ? x : x.neg(); })).toThrow(/reads a tensor's values \(item\(\)\)/);
    // A captured outside tensor.
    const outside = sn.ones([4]);
    expect(() => traceOf(function (x) { return x.mul(outside); })).toThrow(/created outside the graph/);
    outside.dispose();
    // An unregistered child.
    const stray = new nn.Linear(4, 4);
    expect(() => traceOf(function (x) { return stray.forward(x); })).toThrow(/not its registered child/);
    stray.dispose();
    // An operation outside the traced set (in place).
    expect(() => traceOf(function (x) { return x.add_(1); })).toThrow(/'inplace'.*not an operation a traced forward can record/);
    // Reading the mode.
    expect(() => traceOf(function (x) { return this.training ? x : x.neg(); })).toThrow(/reads `training`/);
    // A number that follows the batch size in a way a graph cannot record.
    expect(() => traceOf(function (x) { return x.narrow(1, 0, x.shape[0] - 1); })).toThrow(/depends on the batch size/);
    // Modules in a plain array are not registered.
    class Listy extends nn.Module {
      layers = [new nn.Linear(2, 2)];
      override forward(x: sn.Tensor): sn.Tensor {
        return x;
      }
    }
    const listy = new Listy();
    expect(() => listy.namedParameters()).toThrow(/ModuleList/);
    listy.layers[0].dispose();
  });

  it('a loaded graph refuses inputs of another rank with the shape it was traced for', async () => {
    sn.manualSeed(4);
    const model = new Mlp();
    sn.scope(() => model.trace(sn.randn([2, 3, 4])));
    const file = path.join(dir, 'rank.safetensors');
    sn.save(model, file);
    const loaded = await sn.load(file);
    const x = sn.randn([2, 12]);
    expect(() => loaded.forward(x)).toThrow(/traced for input of shape \[\*, 3, 4\]/);
    x.dispose();
    loaded.dispose();
    model.dispose();
  });
});

// ---- against PyTorch (scripts/golden/traced.py, float64) ---------------------------------------

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { networks } = require('../examples/own-networks.js') as { networks: (s: typeof sn) => Record<string, new (options?: object) => nn.Module> };

interface SmallRecord {
  state: Record<string, GoldenTensor>;
  input: GoldenTensor;
  cotangent: GoldenTensor;
  logits: GoldenTensor;
  grads: Record<string, GoldenTensor>;
}
interface Summary {
  norm: number;
  probe: number;
}
interface ResNetRecord {
  input: GoldenTensor;
  labels: GoldenTensor;
  logits: GoldenTensor;
  grads: Record<string, Summary>;
  losses: number[];
  after: Record<string, Summary>;
}

function summaryOf(t: sn.Tensor): Summary {
  const v = t.to({ dtype: 'float64' });
  const values = v.dataSync() as Float64Array;
  v.dispose();
  let norm = 0;
  let probe = 0;
  values.forEach((x, i) => {
    norm += x * x;
    probe += x * Math.cos(0.7 * i);
  });
  return { norm: Math.sqrt(norm), probe };
}

function expectClose(actual: sn.Tensor, expected: GoldenTensor, what: string): void {
  const want = fromGolden(expected);
  expect(relativeError(actual.dataSync() as Float64Array, want.dataSync() as Float64Array), what).toBeLessThan(1e-4);
  want.dispose();
}

describe('subclassed networks match PyTorch', () => {
  const golden = readGolden<Record<string, SmallRecord> & { resnet18: ResNetRecord }>('traced.json');
  const classes = networks(sn);

  for (const [key, name] of [['densenet', 'DenseNet'], ['rezero', 'ReZeroNet'], ['longskip', 'LongSkipNet']] as const) {
    it(`${name}: forward and gradients, eager and traced, from PyTorch's weights`, () => {
      const record = golden[key];
      const model = new classes[name]();
      model.to('float64');
      const state = Object.fromEntries(Object.entries(record.state).map(([n, g]) => [n, fromGolden(g)]));
      model.loadStateDict(state);
      sn.dispose(state);
      const x = fromGolden(record.input);
      const cotangent = fromGolden(record.cotangent);
      for (const run of [(m: nn.Module) => nn.forwardNative(m, x), (m: nn.Module) => m.forward(x)]) {
        sn.scope(() => {
          model.train();
          model.zeroGrad();
          const out = run(model);
          expectClose(out, record.logits, `${name} logits`);
          out.mul(cotangent).sum().backward();
          for (const [n, p] of model.namedParameters()) expectClose(p.grad!, record.grads[n], `${name} grad ${n}`);
        });
      }
      sn.dispose([x, cotangent]);
      model.dispose();
    });
  }

  it('the pre-activation ResNet-18 as a subclass: the zoo\'s keys; PyTorch\'s logits, gradients and 20 SGD steps', async () => {
    const record = golden.resnet18;
    sn.manualSeed(0);
    const zoo = sn.models.preactResNet({ depth: 18, shortcut: 'mod' });
    const model = new classes.PreActResNet18({ shortcut: 'mod' });
    const keys = (m: nn.Module) => Object.keys(m.stateDict()).sort();
    expect(keys(model)).toEqual(keys(zoo));
    const state = zoo.stateDict();
    model.loadStateDict(state);
    sn.dispose(state);
    zoo.dispose();
    model.to('float64');
    const x = fromGolden(record.input);
    const labels = fromGolden(record.labels);
    sn.scope(() => {
      model.train();
      const out = nn.forwardNative(model, x);
      expectClose(out, record.logits, 'logits');
      const cotangent = sn.arange(0, out.numel).to({ dtype: 'float64' }).mul(0.3).cos().reshape(out.shape);
      out.mul(cotangent).sum().backward();
      for (const [n, p] of model.namedParameters()) {
        const got = summaryOf(p.grad!);
        const want = record.grads[n];
        expect(Math.abs(got.norm - want.norm) / Math.max(want.norm, 1e-12), `grad norm ${n}`).toBeLessThan(1e-4);
        expect(Math.abs(got.probe - want.probe) / Math.max(want.norm, 1e-12), `grad probe ${n}`).toBeLessThan(1e-4);
      }
    });
    model.zeroGrad();
    const optimizer = new sn.optim.SGD(model, { lr: 0.002, momentum: 0.9 });
    const losses: number[] = [];
    await sn.fit(model, { input: x, labels }, { optimizer, steps: 20, batchSize: 8, shuffle: false, progressEvery: 1, onStep: (e) => losses.push(e.loss) });
    expect(losses.length).toBe(20);
    losses.forEach((loss, i) => expect(Math.abs(loss - record.losses[i]) / record.losses[i], `loss at step ${i}`).toBeLessThan(1e-4));
    const after = model.stateDict();
    for (const [n, want] of Object.entries(record.after)) {
      const got = summaryOf(after[n]);
      expect(Math.abs(got.norm - want.norm) / Math.max(want.norm, 1e-12), `after ${n}`).toBeLessThan(1e-4);
    }
    sn.dispose(after);
    sn.dispose([x, labels]);
    optimizer.dispose();
    model.dispose();
  }, 120_000);
});

describe('the CLI takes a model file with no model flags', () => {
  beforeAll(requireFreshLib);
  const root = path.resolve(__dirname, '..');
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'lib', 'cli', 'main.js'), ...args], { cwd: root, encoding: 'utf8' });

  it('forward and train read the architecture from --weights; a weights-only file asks for --model', () => {
    sn.manualSeed(5);
    const model = new Mlp();
    const x = sn.randn([6, 3, 4]);
    const labels = sn.randint(0, 3, [6]);
    model.eval();
    const expected = nn.forwardNative(model, x);
    const weights = path.join(dir, 'cli-model.safetensors');
    sn.save(model, weights);
    const input = path.join(dir, 'cli-input.safetensors');
    sn.writeSafetensors(input, { input: x, labels });
    const out = path.join(dir, 'cli-output.safetensors');
    const forward = cli('forward', '--weights', weights, '--input', input, '--out', out);
    expect(forward.status, forward.stderr).toBe(0);
    const { tensors } = sn.readSafetensors(out);
    expect(tensors.output.equal(expected)).toBe(true);
    const trained = path.join(dir, 'cli-trained.safetensors');
    const train = cli('train', '--weights', weights, '--data', input, '--steps', '3', '--batch-size', '3', '--lr', '0.1', '--out', trained);
    expect(train.status, train.stderr).toBe(0);
    const spectrumOut = path.join(dir, 'cli-spectrum.json');
    const spectrum = cli('spectrum', '--weights', weights, '--input', input, '--cut', 'fc1', '--out', spectrumOut);
    expect(spectrum.status, spectrum.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(spectrumOut, 'utf8')).singularValues.length).toBe(18);
    // What train wrote records the model too.
    const again = cli('forward', '--weights', trained, '--input', input, '--out', out);
    expect(again.status, again.stderr).toBe(0);
    const plain = path.join(dir, 'cli-plain.safetensors');
    const state = model.stateDict();
    sn.writeSafetensors(plain, state);
    sn.dispose(state);
    const refused = cli('forward', '--weights', plain, '--input', input, '--out', out);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--model is required: .* holds weights only/);
    sn.dispose([x, labels, expected, tensors.output]);
    model.dispose();
  });
});

describe('spectra of traced networks', () => {
  it('a traced ResNet-18 has the zoo\'s spectra at nested cuts (same weights), and cut points inside traced blocks', async () => {
    const { PreActResNet18 } = networks(sn);
    sn.manualSeed(0);
    const zoo = sn.models.preactResNet({ depth: 18, shortcut: 'mod' });
    const traced = new PreActResNet18({ shortcut: 'mod' });
    const state = zoo.stateDict();
    traced.loadStateDict(state);
    sn.dispose(state);
    const g = new sn.Generator(9);
    const x = sn.randn([2, 3, 32, 32], { generator: g });
    for (const cut of ['layer2.1.bn2', 'layer3.0']) {
      // float32 on both sides: the same kernels in the same order.
      const a = await sn.spectra.jacobianSpectrum(zoo, x, { cut, precision: 'float32' });
      const b = await sn.spectra.jacobianSpectrum(traced, x, { cut, precision: 'float32' });
      expect(b.jacobianShape).toEqual(a.jacobianShape);
      expect(relativeError(b.singularValues.dataSync() as Float64Array, a.singularValues.dataSync() as Float64Array), cut).toBeLessThan(1e-5);
      sn.dispose([a.singularValues, b.singularValues]);
    }
    const points = sn.spectra.cutPoints(traced, x, { depth: 2 });
    expect(points.filter((p) => /^layer\d\.\d$/.test(p))).toEqual(['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1', 'layer4.0', 'layer4.1']);
    sn.dispose(x);
    g.dispose();
    zoo.dispose();
    traced.dispose();
  }, 300_000);
});
