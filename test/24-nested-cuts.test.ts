/**
 * Jacobian spectra at any cut (native/spectra/cuts.cc, native/spectra/jacobian.cc): cuts nested
 * inside the pre-activation ResNet-18 against PyTorch (a forward hook substitutes the free
 * variable; test/golden/nested-cuts.json by scripts/golden/nested_cuts.py), the two paths (a
 * top-level cut of a Sequential, any other cut) and the batched rows agreeing, the layer-wise cut
 * points, the `stem` option, tracking several cuts during fit and the CLI, and the cut errors.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { readGolden } from './helpers';

const golden = readGolden<{ torch: string; seed: number; input: string; shape: number[]; spectra: Record<string, { cutShape: number[]; values: number[] }> }>('nested-cuts.json');

function input(): sn.Tensor {
  const bytes = Buffer.from(golden.input, 'base64');
  return sn.fromTypedArray(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), golden.shape);
}

function values(t: sn.Tensor): number[] {
  return Array.from(t.dataSync() as Float64Array);
}

// Every value within `tol` of the largest expected one.
function expectClose(ours: number[], expected: number[], tol: number): void {
  expect(ours.length).toBe(expected.length);
  const scale = Math.max(...expected.map(Math.abs));
  const worst = Math.max(...ours.map((v, i) => Math.abs(v - expected[i])));
  expect(worst / scale).toBeLessThanOrEqual(tol);
}

const RESNET18_BLOCKS = ['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1', 'layer3.0', 'layer3.1', 'layer4.0', 'layer4.1'];

describe(`Jacobian spectra at nested cuts of the pre-activation ResNet-18, against PyTorch ${golden.torch}`, () => {
  for (const shortcut of ['orig', 'mod'] as const) {
    it(`${shortcut}: layer2.1, layer3.0 and layer2.1.bn2 (all 40 values within 1e-4 of the largest); the model is left as it was`, async () => {
      sn.manualSeed(golden.seed);
      const model = sn.models.preactResNet({ depth: 18, shortcut });
      const x = input();
      const before = model.stateDict();
      const snapshot = Object.fromEntries(Object.entries(before).map(([k, t]) => [k, t.clone()]));
      for (const cut of ['layer2.1', 'layer3.0', 'layer2.1.bn2']) {
        const expected = golden.spectra[`${shortcut}/${cut}`];
        const r = await sn.spectra.jacobianSpectrum(model, x, { cut });
        expect(r.cut).toBe(cut);
        expect(r.jacobianShape).toEqual([40, expected.cutShape.reduce((a, b) => a * b, 1)]);
        expectClose(values(r.singularValues), expected.values, 1e-4);
        r.singularValues.dispose();
      }
      const after = model.stateDict();
      for (const [k, t] of Object.entries(snapshot)) {
        expect(after[k].dtype, k).toBe(t.dtype);
        expect(after[k].equal(t), k).toBe(true);
      }
      expect(model.training).toBe(true);
      sn.dispose([x, Object.values(before), Object.values(after), Object.values(snapshot)]);
      model.dispose();
    });
  }

  it('a top-level cut (the prefix once) and the same cut reached inside a wrapper (the whole model, its output substituted) agree, and match PyTorch', async () => {
    sn.manualSeed(golden.seed);
    const model = sn.models.preactResNet({ depth: 18, shortcut: 'mod' });
    const wrapped = new sn.nn.Sequential({ net: model });
    const x = input();
    const top = await sn.spectra.jacobianSpectrum(model, x, { cut: 'layer2' });
    const nested = await sn.spectra.jacobianSpectrum(wrapped, x, { cut: 'net.layer2' });
    expectClose(values(top.singularValues), golden.spectra['mod/layer2'].values, 1e-4);
    expectClose(values(nested.singularValues), values(top.singularValues), 1e-10);
    // The output of layer2 is that of its last block.
    expectClose(golden.spectra['mod/layer2'].values, golden.spectra['mod/layer2.1'].values, 1e-12);
    sn.dispose([x, top.singularValues, nested.singularValues]);
    wrapped.dispose();
    model.dispose();
  });

  it('batched rows at a nested cut (the whole model on stacked copies of the batch) give what rows one at a time give; dropout anywhere keeps one row per pass', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'c' });
    const x = sn.rand([8, 1, 28, 28]);
    const one = await sn.spectra.jacobianSpectrum(model, x, { cut: 'Block2.bn2', rowsPerPass: 1 });
    const many = await sn.spectra.jacobianSpectrum(model, x, { cut: 'Block2.bn2', rowsPerPass: 16 });
    expectClose(values(many.singularValues), values(one.singularValues), 1e-10);
    const lanczos = await sn.spectra.jacobianSpectrum(model, x, { cut: 'Block2.bn2', method: 'lanczos', k: 3 });
    expectClose(lanczos.largest!, values(one.singularValues).slice(0, 3), 1e-8);
    // Dropout before a nested cut runs again on the copies, and each row must share its one mask.
    const dropped = new sn.nn.Sequential({ drop: new sn.nn.Dropout(0.5), body: new sn.nn.Sequential({ lin: new sn.nn.Linear(8, 8), relu: new sn.nn.ReLU() }), out: new sn.nn.Linear(8, 2) });
    const y = sn.randn([4, 8]);
    await expect(sn.spectra.jacobianSpectrum(dropped, y, { cut: 'body.relu', rowsPerPass: 2 })).rejects.toThrow(/rowsPerPass 2 runs .* again .*dropout/);
    const r = await sn.spectra.jacobianSpectrum(dropped, y, { cut: 'body.relu', rowsPerPass: 2, mode: 'eval' });
    expect(r.jacobianShape).toEqual([8, 32]);
    sn.dispose([x, y, one.singularValues, many.singularValues, lanczos.singularValues, r.singularValues]);
    dropped.dispose();
    model.dispose();
  });
});

describe('cut points', () => {
  it("ResNet-18: cutPoints at depth 1, 2 (the default) and 3; cut 'all' is the stem, the 8 blocks and the head's layers before the last, in order", async () => {
    sn.manualSeed(0);
    const model = sn.models.preactResNet({ depth: 18, shortcut: 'orig', classes: 2 }); // 4 rows per cut
    const x = sn.randn([2, 3, 32, 32]);
    expect(sn.spectra.cutPoints(model, x, { depth: 1 })).toEqual(['conv1', 'layer1', 'layer2', 'layer3', 'layer4', 'pool', 'flatten']);
    expect(sn.spectra.cutPoints(model, x)).toEqual(['conv1', ...RESNET18_BLOCKS, 'pool', 'flatten']);
    // Residual blocks are not containers: depth 3 looks no further.
    expect(sn.spectra.cutPoints(model, x, { depth: 3 })).toEqual(sn.spectra.cutPoints(model, x));
    expect(() => sn.spectra.cutPoints(model, x, { depth: 0 })).toThrow(/depth must be a positive integer/);
    const { cuts } = await sn.spectra.layerwiseJacobianSpectra(model, x, { cut: 'all', precision: 'float32' });
    expect(cuts.map((c) => c.name)).toEqual(['stem', ...RESNET18_BLOCKS, 'pool', 'flatten']);
    expect(cuts.map((c) => c.cut)).toEqual(['conv1', ...RESNET18_BLOCKS, 'pool', 'flatten']);
    expect(cuts.map((c) => c.jacobianShape[1])).toEqual([2 * 64 * 32 * 32, 2 * 64 * 32 * 32, 2 * 64 * 32 * 32, 2 * 128 * 16 * 16, 2 * 128 * 16 * 16, 2 * 256 * 8 * 8, 2 * 256 * 8 * 8, 2 * 512 * 4 * 4, 2 * 512 * 4 * 4, 2 * 512, 2 * 512]);
    sn.dispose([x, cuts.map((c) => c.singularValues)]);
    model.dispose();
  });

  it('a list of cuts, nested ones among them, gives the spectra jacobianSpectrum gives', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'c' });
    const x = sn.rand([6, 1, 28, 28]);
    const { cuts } = await sn.spectra.layerwiseJacobianSpectra(model, x, { cut: ['stem', 'Block1.bn2', 'Block2.relu1'] });
    expect(cuts.map((c) => [c.name, c.cut])).toEqual([['stem', 'avg'], ['Block1.bn2', 'Block1.bn2'], ['Block2.relu1', 'Block2.relu1']]);
    for (const c of cuts) {
      const single = await sn.spectra.jacobianSpectrum(model, x, { cut: c.cut });
      expect(c.singularValues.equal(single.singularValues)).toBe(true);
      single.singularValues.dispose();
    }
    sn.dispose([x, cuts.map((c) => c.singularValues)]);
    model.dispose();
  });

  it("'stem' on a model whose blocks are named block1, block2: an error that says to pass stem; with stem it works", async () => {
    sn.manualSeed(0);
    const block = () => new sn.nn.Residual({ branch: { bn: new sn.nn.BatchNorm2d(4), relu: new sn.nn.ReLU(), conv: new sn.nn.Conv2d(4, 4, 3, { padding: 1 }) }, shortcut: 'identity' });
    const model = new sn.nn.Sequential({ conv1: new sn.nn.Conv2d(1, 4, 3), block1: block(), block2: block(), flatten: new sn.nn.Flatten(), fc: new sn.nn.Linear(4 * 6 * 6, 3) });
    const x = sn.rand([4, 1, 8, 8]);
    await expect(sn.spectra.jacobianSpectrum(model, x)).rejects.toThrow(/^jacobianSpectrum: this model has no stem that can be guessed.*pass stem/);
    const r = await sn.spectra.jacobianSpectrum(model, x, { stem: 'conv1' });
    expect(r.cut).toBe('conv1');
    expect(r.jacobianShape).toEqual([12, 4 * 4 * 6 * 6]);
    await expect(sn.spectra.jacobianSpectrum(model, x, { stem: 'conv' })).rejects.toThrow(/unknown stem 'conv'; the nearest module names: conv1/);
    // 'all' without a stem: every cut point; with one: from the stem on, the stem named so.
    expect((await names(model, x, {})).map((c) => c.name)).toEqual(['conv1', 'block1', 'block2', 'flatten']);
    expect((await names(model, x, { stem: 'block1' })).map((c) => [c.name, c.cut])).toEqual([['stem', 'block1'], ['block2', 'block2'], ['flatten', 'flatten']]);
    sn.dispose([x, r.singularValues]);
    model.dispose();
  });

  async function names(model: sn.nn.Module, x: sn.Tensor, options: { stem?: string }) {
    const { cuts } = await sn.spectra.layerwiseJacobianSpectra(model, x, { ...options, method: 'lanczos', k: 1, steps: 2 });
    sn.dispose(cuts.map((c) => c.singularValues));
    return cuts;
  }
});

describe('cut errors', () => {
  it('an unknown cut lists a handful of the nearest names', async () => {
    sn.manualSeed(0);
    const model = sn.models.preactResNet({ depth: 18, shortcut: 'orig' });
    const x = sn.randn([2, 3, 32, 32]);
    const error = await sn.spectra.jacobianSpectrum(model, x, { cut: 'layer2.1.bn3' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(sn.TorchError);
    const message = (error as Error).message;
    expect(message).toMatch(/^jacobianSpectrum: unknown cut 'layer2\.1\.bn3'; the nearest module names: layer2\.1\.bn1, layer2\.1\.bn2, /);
    const listed = message.replace(/.*names: /, '').replace(/ \(.*/, '').split(', ');
    expect(listed.length).toBe(5);
    expect(() => sn.spectra.cutPoints(model, x, { depth: 2 })).not.toThrow();
    await expect(sn.spectra.jacobianSpectrum(model, x, { cut: 'all' })).rejects.toThrow(/use layerwiseJacobianSpectra/);
    sn.dispose(x);
    model.dispose();
  });

  it('a cut that never runs (the identity-like path of an orig block), or gives the output, is an error', async () => {
    sn.manualSeed(0);
    const model = sn.models.preactResNet({ depth: 18, shortcut: 'orig' });
    const x = sn.randn([2, 3, 32, 32]);
    await expect(sn.spectra.jacobianSpectrum(model, x, { cut: 'layer2.0.identity' })).rejects.toThrow(/^jacobianSpectrum: the cut 'layer2\.0\.identity' never runs/);
    await expect(sn.spectra.layerwiseJacobianSpectra(model, x, { cut: ['layer2.0.identity'] })).rejects.toThrow(/^layerwiseJacobianSpectra: the cut 'layer2\.0\.identity' never runs/);
    await expect(sn.spectra.jacobianSpectrum(model, x, { cut: 'linear' })).rejects.toThrow(/the cut 'linear' is the last layer/);
    const wrapped = new sn.nn.Sequential({ net: model });
    await expect(sn.spectra.jacobianSpectrum(wrapped, x, { cut: 'net.linear' })).rejects.toThrow(/the cut 'net\.linear' gives the model's output/);
    await expect(sn.spectra.jacobianSpectrum(wrapped, x, { cut: 'net' })).rejects.toThrow(/the cut 'net' is the last layer/);
    sn.dispose(x);
    wrapped.dispose();
    model.dispose();
  });

  it('a module that runs twice (shared weights) cannot be a cut, at the top level or nested; cutPoints leaves it out', async () => {
    sn.manualSeed(0);
    const shared = new sn.nn.Linear(8, 8);
    const top = new sn.nn.Sequential({ a: shared, relu: new sn.nn.ReLU(), b: shared, out: new sn.nn.Linear(8, 2) });
    const nested = new sn.nn.Sequential({ first: new sn.nn.Linear(8, 8), body: new sn.nn.Sequential({ a: shared, relu: new sn.nn.ReLU(), b: shared }), out: new sn.nn.Linear(8, 2) });
    const x = sn.randn([4, 8]);
    await expect(sn.spectra.jacobianSpectrum(top, x, { cut: 'a' })).rejects.toThrow(/^jacobianSpectrum: the cut 'a' runs 2 times in one forward pass/);
    await expect(sn.spectra.jacobianSpectrum(nested, x, { cut: 'body.b' })).rejects.toThrow(/^jacobianSpectrum: the cut 'body\.b' runs 2 times in one forward pass/);
    await expect(sn.spectra.layerwiseJacobianSpectra(nested, x, { cut: ['body.a'] })).rejects.toThrow(/the cut 'body\.a' runs 2 times/);
    expect(sn.spectra.cutPoints(top, x)).toEqual(['relu']);
    expect(sn.spectra.cutPoints(nested, x)).toEqual(['first', 'body.relu']);
    // The unshared modules of the same models are cuts.
    const r = await sn.spectra.jacobianSpectrum(nested, x, { cut: 'body.relu', mode: 'eval' });
    expect(r.jacobianShape).toEqual([8, 32]);
    sn.dispose([x, r.singularValues]);
    for (const m of [top, nested, shared]) m.dispose();
  });
});

describe('nested cuts in fit and the CLI', () => {
  it('trackJacobian with several cuts gives one event per cut and step, the values jacobianSpectrum gives; bad cuts fail before training', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'b' });
    const x = sn.rand([8, 1, 28, 28]);
    const labels = sn.randint(0, 10, [8]);
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const events: { step: number; cut: string; values: Float64Array }[] = [];
    await sn.fit(model, { input: x, labels }, {
      optimizer,
      steps: 2,
      trackJacobian: { input: x, every: 1, cut: ['stem', 'Block1.bn2'] },
      onHook: (e) => {
        if (e.name === 'jacobianSpectrum') events.push({ step: e.step, cut: e.cut, values: e.values });
      },
    });
    expect(events.map((e) => [e.step, e.cut, e.values.length])).toEqual([[0, 'stem', 80], [0, 'Block1.bn2', 80], [1, 'stem', 80], [1, 'Block1.bn2', 80], [2, 'stem', 80], [2, 'Block1.bn2', 80]]);
    // Step 2's measurements saw the model as fit left it.
    for (const [i, cut] of [[4, 'stem'], [5, 'Block1.bn2']] as const) {
      const r = await sn.spectra.jacobianSpectrum(model, x, { cut });
      expectClose(Array.from(events[i].values), values(r.singularValues), 1e-12);
      r.singularValues.dispose();
    }
    const all: string[] = [];
    await sn.fit(model, { input: x, labels }, {
      optimizer,
      steps: 1,
      trackJacobian: { input: x, every: 1, cut: 'all', method: 'lanczos', steps: 10 },
      onHook: (e) => {
        if (e.name === 'jacobianSpectrum') all.push(e.cut);
      },
    });
    expect(all).toEqual(['stem', 'Block1', 'Block2', 'bn', 'relu', 'stem', 'Block1', 'Block2', 'bn', 'relu']); // steps 0 and 1
    const steps: number[] = [];
    const bad = (cut: string | string[]) => sn.fit(model, { input: x, labels }, { optimizer, steps: 1, trackJacobian: { input: x, every: 1, cut }, onStep: (e) => steps.push(e.step) });
    await expect(bad(['Block1.bn2', 'Block2.avg'])).rejects.toThrow(/^fit: the cut 'Block2\.avg' never runs/);
    await expect(bad('Block1.bn9')).rejects.toThrow(/^fit: unknown trackJacobian\.cut 'Block1\.bn9'; the nearest module names: Block1\.bn1, Block1\.bn2/);
    await expect(bad(['all', 'stem'])).rejects.toThrow(/'all' cannot be one of a list/);
    expect(steps).toEqual([]);
    sn.dispose([x, labels]);
    optimizer.dispose();
    model.dispose();
  });

  it('skipnorm spectrum --cut NAME, a list, and all with --cut-depth and --stem', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-cuts-'));
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(__dirname, '..', 'lib', 'cli', 'main.js'), ...args], { encoding: 'utf8' });
    try {
      const weights = path.join(dir, 'w.safetensors');
      const x = path.join(dir, 'x.safetensors');
      const out = path.join(dir, 's.json');
      expect(cli('init', '--model', 'bnnet', '--variant', 'b', '--seed', '0', '--out', weights).status).toBe(0);
      sn.scope(() => sn.writeSafetensors(x, { input: sn.rand([4, 1, 28, 28]) }));
      const flags = ['--model', 'bnnet', '--variant', 'b', '--weights', weights, '--input', x, '--out', out];
      const one = cli('spectrum', ...flags, '--cut', 'Block1.bn2');
      expect(one.status, one.stderr).toBe(0);
      const s = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect([s.cut, s.jacobianShape, s.singularValues.length]).toEqual(['Block1.bn2', [40, 4 * 5 * 12 * 12], 40]);
      const list = cli('spectrum', ...flags, '--cut', 'stem,Block2.lin1', '--method', 'lanczos', '--k', '2');
      expect(list.status, list.stderr).toBe(0);
      expect(JSON.parse(fs.readFileSync(out, 'utf8')).cuts.map((c: { name: string; module: string }) => [c.name, c.module])).toEqual([['stem', 'avg'], ['Block2.lin1', 'Block2.lin1']]);
      const all = cli('spectrum', ...flags, '--cut', 'all', '--cut-depth', '1', '--stem', 'conv', '--method', 'lanczos', '--k', '1');
      expect(all.status, all.stderr).toBe(0);
      expect(JSON.parse(fs.readFileSync(out, 'utf8')).cuts.map((c: { name: string }) => c.name)).toEqual(['stem', 'avg', 'Block1', 'Block2', 'bn', 'relu']);
      const unknown = cli('spectrum', ...flags, '--cut', 'Block1.bn3');
      expect(unknown.status).not.toBe(0);
      expect(unknown.stderr).toMatch(/unknown cut 'Block1\.bn3'; the nearest module names: Block1\.bn1, Block1\.bn2/);
      expect(cli('spectrum', ...flags, '--cut', 'stem', '--cut-depth', '2').status).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
