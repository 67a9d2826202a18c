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

// BNNet (c) trained from the same seed twice, without and with the given tracking options; the
// hook events named `hook` are collected with their steps.
async function trainPlainAndTracked<V>(x: sn.Tensor, labels: sn.Tensor, steps: number, tracking: Partial<sn.FitOptions>, hook: string) {
  const run = async (tracked: boolean) => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'c' });
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const losses: number[] = [];
    const events: { step: number; values: V }[] = [];
    await sn.fit(model, { input: x, labels }, {
      optimizer,
      steps,
      ...(tracked ? tracking : {}),
      onStep: (e) => losses.push(e.loss),
      onHook: (e) => {
        if (e.name === hook) events.push({ step: e.step, values: e.values as V });
      },
    });
    return { model, optimizer, losses, events };
  };
  const plain = await run(false);
  const tracked = await run(true);
  const dispose = () => {
    for (const r of [plain, tracked]) {
      r.optimizer.dispose();
      r.model.dispose();
    }
  };
  return { plain, tracked, dispose };
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

  it('rowsPerPass: rows batched through stacked copies of the batch give the same spectrum (BNNet c, pre-act ResNet-18, batch norm on 2-d and 3-d inputs; train and eval; tracked)', async () => {
    // Batch norm must give each copy its own statistics: sharing them across copies would couple
    // the copies and change every row.
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'c' });
    const x = input();
    const expected = golden.variants.c;
    const byRows = await sn.spectra.jacobianSpectrum(model, x, { rowsPerPass: 1 });
    const batched = await sn.spectra.jacobianSpectrum(model, x, { rowsPerPass: 48 }); // 6 passes of 48 and one of 32
    const ours = Array.from(batched.singularValues.dataSync() as Float64Array);
    ours.forEach((s, i) => {
      if (expected[i] > 1e-6 * expected[0]) expect(Math.abs(s - expected[i]), `sigma ${i}`).toBeLessThanOrEqual(1e-4 * expected[i]);
    });
    expect(batched.singularValues.allclose(byRows.singularValues, 1e-10, 1e-12)).toBe(true);
    const evalRows = await sn.spectra.jacobianSpectrum(model, x, { mode: 'eval', rowsPerPass: 1 });
    const evalBatched = await sn.spectra.jacobianSpectrum(model, x, { mode: 'eval', rowsPerPass: 320 });
    expect(evalBatched.singularValues.allclose(evalRows.singularValues, 1e-10, 1e-12)).toBe(true);
    // Skip connections and stride-2 blocks after the cut; two images, 20 rows in passes of 6.
    const resnet = sn.models.preactResNet({ depth: 18 });
    const images = sn.rand([2, 3, 32, 32], { generator: new sn.Generator(3) });
    const resnetRows = await sn.spectra.jacobianSpectrum(resnet, images, { rowsPerPass: 1 });
    const resnetBatched = await sn.spectra.jacobianSpectrum(resnet, images, { rowsPerPass: 6 });
    expect(resnetBatched.jacobianShape).toEqual([20, 2 * 64 * 32 * 32]);
    expect(resnetBatched.singularValues.allclose(resnetRows.singularValues, 1e-10, 1e-12)).toBe(true);
    // Batch norm on 2-d (B, C) and 3-d (B, C, L) inputs: an MLP cut after its first layer. Batch
    // norm at the output makes some singular values zero: computed as square roots of rounding
    // noise (~1e-8 here), so those are compared absolutely.
    const mlp = new sn.nn.Sequential({
      inp: new sn.nn.Linear(6, 8),
      bn1: new sn.nn.BatchNorm1d(8),
      act: new sn.nn.ReLU(),
      out: new sn.nn.Linear(8, 3),
      bn2: new sn.nn.BatchNorm1d(3),
    });
    const features = sn.randn([5, 6], { generator: new sn.Generator(4) });
    const mlpRows = await sn.spectra.jacobianSpectrum(mlp, features, { cut: 'inp', rowsPerPass: 1 });
    const mlpBatched = await sn.spectra.jacobianSpectrum(mlp, features, { cut: 'inp', rowsPerPass: 4 });
    expect(mlpBatched.singularValues.allclose(mlpRows.singularValues, 1e-8, 1e-6)).toBe(true);
    const sequences = new sn.nn.Sequential({ inp: new sn.nn.Linear(6, 9), bn: new sn.nn.BatchNorm1d(3), act: new sn.nn.Tanh(), out: new sn.nn.Linear(9, 2) });
    const signal = sn.randn([3, 3, 6], { generator: new sn.Generator(6) }); // (B, C, L) at the batch norm
    const seqRows = await sn.spectra.jacobianSpectrum(sequences, signal, { cut: 'inp', rowsPerPass: 1 });
    const seqBatched = await sn.spectra.jacobianSpectrum(sequences, signal, { cut: 'inp', rowsPerPass: 5 });
    expect(seqBatched.singularValues.allclose(seqRows.singularValues, 1e-8, 1e-6)).toBe(true);
    sn.dispose([signal, mlpRows.singularValues, mlpBatched.singularValues, seqRows.singularValues, seqBatched.singularValues]);
    mlp.dispose();
    sequences.dispose();
    // Dropout after the cut, in training: every row must share the one forward pass's mask.
    const dropped = new sn.nn.Sequential({ inp: new sn.nn.Linear(6, 8), drop: new sn.nn.Dropout(0.5), out: new sn.nn.Linear(8, 3) });
    await expect(sn.spectra.jacobianSpectrum(dropped, features, { cut: 'inp', rowsPerPass: 2 })).rejects.toThrowError(/they draw dropout masks .* that every row must share: use rowsPerPass 1, or mode 'eval'/);
    const droppedEval = await sn.spectra.jacobianSpectrum(dropped, features, { cut: 'inp', rowsPerPass: 2, mode: 'eval' });
    expect(droppedEval.jacobianShape).toEqual([15, 40]);
    sn.dispose([features, droppedEval.singularValues]);
    dropped.dispose();
    // Tracked during fit: the last event is the model's spectrum after the last step.
    const labels = sn.randint(0, 10, [32], { generator: new sn.Generator(5) });
    const events: Float64Array[] = [];
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    await sn.fit(model, { input: x, labels }, { optimizer, steps: 2, trackJacobian: { input: x, every: 2, rowsPerPass: 100 }, onHook: (e) => { if (e.name === 'jacobianSpectrum') events.push(e.values); } });
    const after = await sn.spectra.jacobianSpectrum(model, x, { rowsPerPass: 1 });
    expect(events).toHaveLength(2); // step 0 and step 2
    expect(sn.fromTypedArray(Float64Array.from(events[1]), [events[1].length]).allclose(after.singularValues, 1e-10, 1e-12)).toBe(true);
    sn.dispose([x, images, labels, byRows.singularValues, batched.singularValues, evalRows.singularValues, evalBatched.singularValues, resnetRows.singularValues, resnetBatched.singularValues, after.singularValues]);
    optimizer.dispose();
    resnet.dispose();
    model.dispose();
  });

  it('bad input is a clear error', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet();
    const x = input();
    await expect(sn.spectra.jacobianSpectrum(model, x, { cut: 'Block9' })).rejects.toThrow(/unknown cut 'Block9'; the nearest module names: Block1, Block2, /);
    await expect(sn.spectra.jacobianSpectrum(model, x, { cut: 'lin' })).rejects.toThrow(/is the last layer/);
    await expect(sn.spectra.jacobianSpectrum(model, x, { mode: 'test' as 'train' })).rejects.toThrow(/mode must be 'train' or 'eval'/);
    const one = x.narrow(0, 0, 1);
    await expect(sn.spectra.jacobianSpectrum(model, one)).rejects.toThrowError(/needs a batch of more than one input|more than 1 value per channel/);
    const nan = sn.models.bnnet();
    sn.scope(() => nan.stateDict()['lin.weight'].fill_(NaN));
    await expect(sn.spectra.jacobianSpectrum(nan, x)).rejects.toThrowError(/output is not finite: are there NaN or infinite weights/);
    nan.dispose();
    const many = sn.zeros([2100, 1, 28, 28]);
    await expect(sn.spectra.jacobianSpectrum(model, many)).rejects.toThrowError(/the exact spectrum needs a 21000 x 21000 eigenproblem, more than the 20000 allowed: use fewer inputs or a matrix-free method/);
    many.dispose();
    const linear = new sn.nn.Linear(4, 2);
    await expect(sn.spectra.jacobianSpectrum(linear, x)).rejects.toThrow(/no stem|unknown cut/);
    // The graphed probe needs a CUDA build and the probe on a GPU; Lanczos is not graphed.
    await expect(sn.spectra.jacobianSpectrum(model, x, { cudaGraph: true })).rejects.toThrowError(/cudaGraph needs (a CUDA build of skipnorm|the probe on a CUDA device)/);
    await expect(sn.spectra.jacobianSpectrum(model, x, { cudaGraph: true, method: 'lanczos' })).rejects.toThrow(/cudaGraph applies to the exact method/);
    for (const rowsPerPass of [0, 2.5, -1]) await expect(sn.spectra.jacobianSpectrum(model, x, { rowsPerPass })).rejects.toThrow(/rowsPerPass must be a positive integer/);
    await expect(sn.spectra.jacobianSpectrum(model, x, { cudaGraph: true, rowsPerPass: 2 })).rejects.toThrow(/cudaGraph replays one row per launch; rowsPerPass > 1 batches rows instead/);
    await expect(sn.spectra.jacobianSpectrum(model, x, { method: 'lanczos', rowsPerPass: 2 })).rejects.toThrow(/rowsPerPass applies to the exact method/);
    const controller = new AbortController();
    const run = sn.spectra.jacobianSpectrum(model, x, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toBeInstanceOf(sn.AbortError);
    sn.dispose([x, one]);
    linear.dispose();
    model.dispose();
  });

  it("the measurement keeps the model's own memory: aliases of its weights and running statistics stay connected", async () => {
    // A float64 probe swaps float64 copies in and the original memory back (a CUDA graph captured
    // by a graphed fit holds those addresses); running statistics are copied back, not swapped.
    sn.manualSeed(0);
    const model = sn.models.bnnet();
    const x = input();
    const state = model.stateDict();
    const before = await sn.spectra.jacobianSpectrum(model, x);
    await sn.spectra.diagnostics(model, { input: x, labels: sn.zeros([x.shape[0]], { dtype: 'int64' }) });
    state['conv.weight'].fill_(0);
    state['Block1.bn1.running_mean'].fill_(7);
    const after = model.stateDict();
    expect(after['conv.weight'].abs().sum().item()).toBe(0);
    expect(Array.from(after['Block1.bn1.running_mean'].dataSync())).toEqual([7, 7, 7, 7, 7]);
    sn.dispose([x, before.singularValues, Object.values(state), Object.values(after)]);
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
      const w = path.join(dir, 'w.json');
      const ws = cli('weight-spectra', '--model', 'bnnet', '--variant', 'a', '--weights', weights, '--method', 'circular-exact', '--input-size', '28,28', '--out', w);
      expect(ws.status, ws.stderr).toBe(0);
      const layers = JSON.parse(fs.readFileSync(w, 'utf8')).layers as { name: string; kind: string; method: string; singularValues: number[] }[];
      expect(layers.map((l) => l.name)).toContain('Block1.lin1');
      expect(layers.find((l) => l.name === 'Block1.lin1')!.singularValues.length).toBe(5 * 12 * 12);
      expect(cli('weight-spectra', '--model', 'bnnet', '--weights', weights, '--method', 'svd', '--out', w).status).toBe(2);
      const lanczos = cli('spectrum', '--model', 'bnnet', '--variant', 'a', '--weights', weights, '--input', x, '--method', 'lanczos', '--k', '3', '--out', out);
      expect(lanczos.status, lanczos.stderr).toBe(0);
      const l = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(l.largest.length).toBe(3);
      l.largest.forEach((v: number, i: number) => expect(Math.abs(v - golden.variants.a[i])).toBeLessThanOrEqual(1e-3 * golden.variants.a[i]));
      const bad = cli('spectrum', '--model', 'bnnet', '--weights', weights, '--input', x, '--method', 'svd', '--out', out);
      expect(bad.status).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('circular-exact conv spectra equal the SVD of the dense circular operator (within 1e-5 of the largest)', async () => {
    sn.manualSeed(1);
    const conv = new sn.nn.Conv2d(2, 3, 3, { padding: 1 });
    const model = new sn.nn.Sequential({ conv });
    const [row] = await sn.spectra.weightSpectra(model, { inputSize: [2, 6, 6] });
    expect(row).toMatchObject({ name: 'conv', kind: 'Conv2d', method: 'circular-exact' });
    const dense = sn.scope(() => {
      const w = conv.stateDict().weight;
      const columns: sn.Tensor[] = [];
      for (let i = 0; i < 2 * 36; i++) {
        const e = sn.zeros([72]);
        e.indexPut([i], 1);
        const x = sn.F.pad(e.reshape(1, 2, 6, 6), [1, 1, 1, 1], 'circular');
        columns.push(sn.F.conv2d(x, w).flatten());
      }
      return sn.keep(sn.linalg.svdvals(sn.stack(columns, 1).double()));
    });
    const ours = row.singularValues.dataSync() as Float64Array;
    const want = dense.dataSync() as Float64Array;
    expect(ours.length).toBe(want.length); // min(cout, cin) per frequency, times H W frequencies: 72
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - want[i])).toBeLessThanOrEqual(1e-5 * want[0]);
    sn.dispose([row.singularValues, dense]);
    model.dispose();
  });

  it("power iteration's largest value matches the dense operator with zero padding and stride 2 (1e-3)", async () => {
    sn.manualSeed(2);
    const conv = new sn.nn.Conv2d(2, 4, 3, { stride: 2, padding: 1 });
    const model = new sn.nn.Sequential({ conv });
    const [row] = await sn.spectra.weightSpectra(model, { inputSize: [2, 7, 7], method: 'power', k: 2, iterations: 200 });
    expect(row.method).toBe('power');
    const dense = sn.scope(() => {
      const w = conv.stateDict().weight;
      const columns: sn.Tensor[] = [];
      for (let i = 0; i < 2 * 49; i++) {
        const e = sn.zeros([98]);
        e.indexPut([i], 1);
        columns.push(sn.F.conv2d(e.reshape(1, 2, 7, 7), w, null, { stride: 2, padding: 1 }).flatten());
      }
      return sn.keep(sn.linalg.svdvals(sn.stack(columns, 1).double()));
    });
    const top = row.singularValues.dataSync() as Float64Array;
    const want = dense.dataSync() as Float64Array;
    expect(Math.abs(top[0] - want[0])).toBeLessThanOrEqual(1e-3 * want[0]);
    expect(Math.abs(top[1] - want[1])).toBeLessThanOrEqual(1e-3 * want[0]);
    sn.dispose([row.singularValues, dense]);
    model.dispose();
  });

  it('weight spectra of BNNet: every layer named by its parameter prefix, with its method', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet({ variant: 'c' });
    const rows = await sn.spectra.weightSpectra(model, { inputSize: [1, 28, 28] });
    expect(rows.map((r) => [r.name, r.method])).toEqual([
      ['conv', 'circular-exact'],
      ['Block1.bn1', 'gain'],
      ['Block1.lin1', 'circular-exact'],
      ['Block1.bn2', 'gain'],
      ['Block1.lin2', 'circular-exact'],
      ['Block2.bn1', 'gain'],
      ['Block2.lin1', 'power'],
      ['Block2.bn2', 'gain'],
      ['Block2.lin2', 'circular-exact'],
      ['Block2.cproj', 'power'],
      ['bn', 'gain'],
      ['lin', 'exact'],
    ]);
    const lin = rows.find((r) => r.name === 'lin')!;
    sn.scope(() => expect(lin.singularValues.allclose(sn.linalg.svdvals(model.stateDict()['lin.weight'].double()), 1e-10, 1e-12)).toBe(true));
    const gains = rows.find((r) => r.name === 'bn')!.singularValues.dataSync() as Float64Array;
    expect(gains[0]).toBeCloseTo(1 / Math.sqrt(1 + 1e-5), 6); // fresh batch norm: gamma 1, running var 1
    await expect(sn.spectra.weightSpectra(model, { inputSize: [28, 28] as unknown as [number, number, number] })).rejects.toThrow(/inputSize must be \[channels, height, width\]/);
    sn.dispose(rows.map((r) => r.singularValues));
    model.dispose();
  });

  it("curvature: the top Hessian eigenvalue by power iteration matches a dense Hessian's (1e-3); regularity: the PL ratio", async () => {
    sn.manualSeed(4);
    const model = new sn.nn.Sequential(new sn.nn.Linear(3, 4), new sn.nn.Tanh(), new sn.nn.Linear(4, 3)).to('float64');
    const g = new sn.Generator(2);
    const data = { input: sn.randn([6, 3], { generator: g, dtype: 'float64' }), labels: sn.randint(0, 3, [6], { generator: g }) };
    g.dispose();
    const d = await sn.spectra.diagnostics(model, data, { hessianIterations: 500, tol: 1e-12 });
    const dense = sn.scope(() => {
      const params = model.parameters();
      const loss = sn.F.crossEntropy(model.forward(data.input), data.labels);
      const grads = sn.grad(loss, params, { createGraph: true }) as sn.Tensor[];
      const flat = sn.cat(grads.map((t) => t.flatten()));
      const rows: sn.Tensor[] = [];
      for (let i = 0; i < flat.numel; i++) rows.push(sn.cat((sn.grad(flat.index(i), params, { retainGraph: true }) as sn.Tensor[]).map((t) => t.flatten())));
      const hessian = sn.stack(rows);
      const eig = sn.linalg.eigvalsh(hessian.add(hessian.t()).div(2));
      const top = Math.max(Math.abs(eig.min().item()), Math.abs(eig.max().item()));
      return { top, loss: loss.item(), g2: flat.square().sum().item() };
    });
    expect(Math.abs(Math.abs(d.topHessianEigenvalue!) - dense.top)).toBeLessThanOrEqual(1e-3 * dense.top);
    expect(d.loss).toBeCloseTo(dense.loss, 10);
    expect(d.gradNormSquared).toBeCloseTo(dense.g2, 10);
    expect(d.plRatio).toBeCloseTo(dense.g2 / dense.loss, 10);
    expect(Object.keys(d.gradNorms)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true); // .grad untouched
    sn.dispose(data);
    model.dispose();
  });

  it('diagnostics refuse NaN weights and a loss below its floor clearly', async () => {
    const model = new sn.nn.Linear(2, 2);
    const data = { input: sn.ones([2, 2]), labels: sn.zeros([2], { dtype: 'int64' }) };
    await expect(sn.spectra.diagnostics(model, data, { lossFloor: 100 })).rejects.toThrowError(/needs a loss above its floor/);
    sn.scope(() => model.stateDict().weight.fill_(NaN));
    await expect(sn.spectra.diagnostics(model, data)).rejects.toThrowError(/the loss is not finite .*NaN weights/);
    sn.dispose(data);
    model.dispose();
  });

  it('the matrix-free (Lanczos) extremes agree with the exact values within 1e-3', async () => {
    for (const variant of ['a', 'b', 'c'] as const) {
      sn.manualSeed(0);
      const model = sn.models.bnnet({ variant });
      const x = input();
      const r = await sn.spectra.jacobianSpectrum(model, x, { method: 'lanczos', k: 5 });
      const exact = golden.variants[variant];
      r.largest!.forEach((v, i) => expect(Math.abs(v - exact[i]), `${variant} largest ${i}`).toBeLessThanOrEqual(1e-3 * exact[i]));
      r.smallest!.forEach((v, i) => {
        const e = exact[exact.length - 5 + i];
        expect(Math.abs(v - e), `${variant} smallest ${i}`).toBeLessThanOrEqual(1e-3 * e);
      });
      sn.dispose([x, r.singularValues]);
      model.dispose();
    }
  });

  it('tracking during fit: the spectrum every N steps, measured between steps without changing the training', async () => {
    const fs = require('node:fs') as typeof import('node:fs');
    const path = require('node:path') as typeof import('node:path');
    const os = require('node:os') as typeof import('node:os');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-track-')), 'track.jsonl');
    const x = input();
    const labels = sn.randint(0, 10, [32], { generator: new sn.Generator(5) });
    const { plain, tracked, dispose } = await trainPlainAndTracked<Float64Array>(x, labels, 10, { trackJacobian: { input: x, every: 5 }, trackFile: file }, 'jacobianSpectrum');
    expect(tracked.losses).toEqual(plain.losses); // measuring changed nothing
    expect(tracked.events.map((s) => s.step)).toEqual([0, 5, 10]); // step 0: before the first update
    expect(tracked.events[2].values.length).toBe(320);
    const after = await sn.spectra.jacobianSpectrum(plain.model, x); // the untracked model after 10 steps
    expect(Array.from(after.singularValues.dataSync() as Float64Array)).toEqual(Array.from(tracked.events[2].values));
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.name, l.step, l.values.length])).toEqual([['jacobianSpectrum', 0, 320], ['jacobianSpectrum', 5, 320], ['jacobianSpectrum', 10, 320]]);
    dispose();
    sn.dispose([x, labels, after.singularValues]);
  });

  it('tracking diagnostics during fit: PL ratio, gradient norms and curvature every N steps, training unchanged', async () => {
    const x = input();
    const labels = sn.randint(0, 10, [32], { generator: new sn.Generator(5) });
    const { plain, tracked, dispose } = await trainPlainAndTracked<sn.spectra.Diagnostics>(x, labels, 6, { trackDiagnostics: { input: x, labels, every: 3, hessianIterations: 30 } }, 'diagnostics');
    expect(tracked.losses).toEqual(plain.losses);
    expect(tracked.events.map((e) => e.step)).toEqual([0, 3, 6]);
    const last = tracked.events[2].values;
    const direct = await sn.spectra.diagnostics(plain.model, { input: x, labels }, { hessianIterations: 30 });
    expect(last.loss).toBe(direct.loss);
    expect(last.plRatio).toBe(direct.plRatio);
    expect(last.topHessianEigenvalue).toBe(direct.topHessianEigenvalue);
    expect(Object.keys(last.gradNorms)).toEqual(plain.model.namedParameters().map(([n]) => n));
    await expect(sn.fit(plain.model, { input: x, labels }, { optimizer: plain.optimizer, steps: 1, trackDiagnostics: { input: x, labels, every: 0 } })).rejects.toThrow(
      /trackDiagnostics.every must be a positive integer/,
    );
    dispose();
    sn.dispose([x, labels]);
  });
});
