/**
 * Watching a run: validation data evaluated during fit (against evaluate on the same weights),
 * the history, the tracked spectrum at step 0, weight snapshots while fit holds the model, the
 * TensorBoard and CSV loggers (read back by TensorBoard's own reader), extending a finished run
 * with --resume, and misuse of these options.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { pythonWith } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-observe-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const tensorboardPython = pythonWith('tensorboard');

function data(n: number, seed: number): sn.TensorData {
  const g = new sn.Generator(seed);
  const d = { input: sn.rand([n, 1, 28, 28], { generator: g }), labels: sn.randint(0, 10, [n], { generator: g }) };
  g.dispose();
  return d;
}

// A small network with batch norm, whose running statistics would show any forward pass in train mode.
function network(seed = 0): sn.nn.Module {
  sn.manualSeed(seed);
  return new sn.nn.Sequential(new sn.nn.Flatten(), new sn.nn.Linear(784, 32), new sn.nn.BatchNorm1d(32), new sn.nn.ReLU(), new sn.nn.Linear(32, 10));
}

function values(state: sn.nn.StateDict): Record<string, number[]> {
  return Object.fromEntries(Object.entries(state).map(([k, t]) => [k, Array.from(t.dataSync() as ArrayLike<number>, Number)]));
}

function stateOf(model: sn.nn.Module): Record<string, number[]> {
  const state = model.stateDict();
  const out = values(state);
  sn.dispose(state);
  return out;
}

const train = data(64, 1);
const validation = data(40, 2);

describe('validation and history', () => {
  it('validation metrics are evaluate on the same weights, and validating changes nothing in training', async () => {
    const a = network();
    const b = network();
    const optA = new sn.optim.SGD(a, { lr: 0.05, momentum: 0.9 });
    const optB = new sn.optim.SGD(b, { lr: 0.05, momentum: 0.9 });
    const seen: sn.ValidationEvent[] = [];
    const r = await sn.fit(a, train, { optimizer: optA, epochs: 3, batchSize: 16, seed: 3, validationData: validation, onValidation: (e) => seen.push(e) });
    const plain = await sn.fit(b, train, { optimizer: optB, epochs: 3, batchSize: 16, seed: 3 });
    // Eval mode without gradients: batch norm's running statistics and the updates are untouched.
    expect(stateOf(a)).toEqual(stateOf(b));
    expect(plain.validations).toEqual([]);
    expect(plain.history.every((h) => h.validation === null)).toBe(true);

    expect(r.validations.map((v) => [v.step, v.epoch, v.examples])).toEqual([[4, 0, 40], [8, 1, 40], [12, 2, 40]]);
    expect(seen).toEqual(r.validations);
    // The last validation saw the final weights: evaluate gives the same numbers (same batches).
    const final = await sn.evaluate(a, validation, { batchSize: 16 });
    const last = r.validations[2];
    expect([last.loss, last.top1, last.top5]).toEqual([final.loss, final.top1, final.top5]);
    expect(a.training).toBe(true); // each module's mode is back after validating

    expect(r.history.map((h) => [h.epoch, h.step, h.examples, h.complete, h.lr])).toEqual([[0, 4, 64, true, 0.05], [1, 8, 64, true, 0.05], [2, 12, 64, true, 0.05]]);
    r.history.forEach((h, i) => {
      expect(h.validation).toEqual(r.validations[i]);
      expect(h.examplesPerSecond).toBeCloseTo(h.examples / h.seconds, 6);
    });
    expect(r.lastEpoch).toMatchObject({ epoch: 2, step: 12, loss: r.history[2].loss });
    sn.dispose([optA, optB, a, b]);
  });

  it('validateEvery N steps validates every N steps and after the last; a partial last epoch says so', async () => {
    const model = network();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const schedule: sn.Schedule = { kind: 'step', stepSize: 1, gamma: 0.5 };
    const r = await sn.fit(model, train, { optimizer, steps: 10, batchSize: 16, validationData: validation, validateEvery: 3, schedule });
    expect(r.validations.map((v) => [v.step, v.epoch])).toEqual([[3, 0], [6, 1], [9, 2], [10, 2]]);
    expect(r.history.map((h) => [h.epoch, h.step, h.complete, h.examples])).toEqual([[0, 4, true, 64], [1, 8, true, 64], [2, 10, false, 32]]);
    expect(r.history.map((h) => h.lr)).toEqual([0.05, 0.025, 0.0125]);
    expect(r.history.map((h) => h.validation?.step)).toEqual([3, 6, 10]);
    sn.dispose([optimizer, model]);
  });

  it('trackJacobian measures the network before its first update (step 0)', async () => {
    const model = network();
    const probe = validation.input.slice(0, 0, 8);
    const before = await sn.spectra.jacobianSpectrum(model, probe, { cut: '1' });
    const expected = Array.from(before.singularValues.dataSync() as Float64Array);
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const events: { step: number; values: number[] }[] = [];
    await sn.fit(model, train, {
      optimizer,
      steps: 4,
      batchSize: 16,
      trackJacobian: { input: probe, every: 2, cut: '1' },
      onHook: (e) => {
        if (e.name === 'jacobianSpectrum') events.push({ step: e.step, values: Array.from(e.values) });
      },
    });
    expect(events.map((e) => e.step)).toEqual([0, 2, 4]);
    expect(events[0].values).toHaveLength(expected.length);
    events[0].values.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    expect(events[2].values).not.toEqual(events[0].values);
    sn.dispose([before.singularValues, probe, optimizer, model]);
  });
});

describe('weight snapshots', () => {
  it('without a run: a copy now, which later training does not change', async () => {
    const model = network();
    const s = await sn.snapshot(model);
    expect(s.step).toBeNull();
    const copied = values(s.state);
    expect(copied).toEqual(stateOf(model));
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    await sn.fit(model, train, { optimizer, steps: 2, batchSize: 16 });
    expect(values(s.state)).toEqual(copied);
    expect(stateOf(model)).not.toEqual(copied);
    sn.dispose([s.state, optimizer, model]);
  });

  it('while fit holds the model: the weights after a whole step, as a run of that many steps gives', async () => {
    const model = network();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
    let taken: Promise<sn.WeightSnapshot> | undefined;
    let refused: unknown;
    await sn.fit(model, train, {
      optimizer,
      steps: 40,
      batchSize: 16,
      seed: 5,
      onStep: (e) => {
        if (e.step !== 3) return;
        taken = sn.snapshot(model);
        try {
          model.stateDict(); // the model is the run's: a direct read is refused
        } catch (error) {
          refused = error;
        }
      },
    });
    expect(refused).toBeInstanceOf(sn.TorchError);
    const s = await taken!;
    expect(s.step).toBeGreaterThanOrEqual(3);
    expect(s.step).toBeLessThanOrEqual(40);
    // The same run stopped at that step has exactly these weights and statistics.
    const again = network();
    const opt2 = new sn.optim.SGD(again, { lr: 0.05, momentum: 0.9 });
    await sn.fit(again, train, { optimizer: opt2, steps: s.step!, batchSize: 16, seed: 5 });
    expect(values(s.state)).toEqual(stateOf(again));
    sn.dispose([s.state, optimizer, opt2, model, again]);
  });

  it('a snapshot asked for as the run ends still comes, with the final weights', async () => {
    const model = network();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const snaps: Promise<sn.WeightSnapshot>[] = [];
    await sn.fit(model, train, { optimizer, steps: 4, batchSize: 16, onStep: (e) => e.step === 4 && snaps.push(sn.snapshot(model), sn.snapshot(model)) });
    const [s1, s2] = await Promise.all(snaps);
    expect(values(s1.state)).toEqual(stateOf(model));
    expect(values(s2.state)).toEqual(stateOf(model));
    expect(s1.state['1.weight']).not.toBe(s2.state['1.weight']); // each caller owns its copy
    sn.dispose([s1.state, s2.state, optimizer, model]);
  });
});

describe('loggers', () => {
  it.runIf(tensorboardPython)("fit's TensorBoard files and CSV hold what its events said (TensorBoard's own reader)", async () => {
    const model = network();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const board = path.join(tmp, 'board');
    const csv = path.join(tmp, 'logs', 'run.csv');
    const probe = validation.input.slice(0, 0, 4);
    const steps: sn.StepEvent[] = [];
    const r = await sn.fit(model, train, {
      optimizer,
      epochs: 2,
      batchSize: 16,
      validationData: validation,
      trackJacobian: { input: probe, every: 4, cut: '1' },
      tensorboard: board,
      csv,
      onStep: (e) => steps.push(e),
    });
    const script = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'histograms': 0})
acc.Reload()
tags = acc.Tags()
print(json.dumps({'scalars': sorted(tags['scalars']), 'histograms': sorted(tags['histograms']),
  'loss': [[e.step, e.value] for e in acc.Scalars('train/loss')],
  'val': [[e.step, e.value] for e in acc.Scalars('validation/loss')],
  'weights': [[e.step, e.histogram_value.num, sum(e.histogram_value.bucket)] for e in acc.Histograms('weights/1.weight')],
  'jacobian': [[e.step, e.histogram_value.num] for e in acc.Histograms('jacobian/1')]}))
`;
    const out = spawnSync(tensorboardPython!, ['-c', script, board], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const read = JSON.parse(out.stdout.trim().split('\n').pop()!);
    expect(read.scalars).toEqual(expect.arrayContaining(['train/loss', 'train/lr', 'epoch/loss', 'validation/loss', 'validation/top1', 'jacobian/1/sigma_max']));
    expect(read.histograms).toEqual(expect.arrayContaining(['weights/1.weight', 'weights/2.bias', 'jacobian/1']));
    expect(read.loss.map(([s]: number[]) => s)).toEqual(steps.map((e) => e.step));
    read.loss.forEach(([, v]: number[], i: number) => expect(v).toBeCloseTo(steps[i].loss, 5));
    expect(read.val.map(([s]: number[]) => s)).toEqual([4, 8]);
    read.val.forEach(([, v]: number[], i: number) => expect(v).toBeCloseTo(r.validations[i].loss, 5));
    expect(read.weights).toEqual([[4, 32 * 784, 32 * 784], [8, 32 * 784, 32 * 784]]);
    expect(read.jacobian.map(([s]: number[]) => s)).toEqual([0, 4, 8]);

    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n').map((l) => l.split(','));
    expect(rows[0]).toEqual(['event', 'step', 'epoch', 'loss', 'top1', 'top5', 'lr', 'examples_per_second', 'seconds']);
    const of = (kind: string) => rows.filter((row) => row[0] === kind);
    expect(of('step').map((row) => Number(row[1]))).toEqual(steps.map((e) => e.step));
    expect(of('epoch').map((row) => Number(row[3]))).toEqual(r.history.map((h) => h.loss));
    expect(of('validation').map((row) => [Number(row[1]), Number(row[3]), Number(row[4])])).toEqual(r.validations.map((v) => [v.step, v.loss, v.top1]));
    sn.dispose([probe, optimizer, model]);
  });

  it('outputs that cannot be written fail before training, with the path', async () => {
    const model = network();
    const before = stateOf(model);
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const blocker = path.join(tmp, 'a-file');
    fs.writeFileSync(blocker, 'x');
    await expect(sn.fit(model, train, { optimizer, steps: 2, batchSize: 16, csv: path.join(blocker, 'run.csv') })).rejects.toThrow(/fit: cannot write the CSV file .*a-file/);
    await expect(sn.fit(model, train, { optimizer, steps: 2, batchSize: 16, tensorboard: path.join(blocker, 'tb') })).rejects.toThrow(/fit: cannot write TensorBoard files into .*a-file/);
    expect(stateOf(model)).toEqual(before);
    sn.dispose([optimizer, model]);
  });
});

describe('resume extends a finished run', () => {
  it('more epochs continue it, bit for bit as one longer run; fewer are refused', async () => {
    const dir = path.join(tmp, 'ckpt');
    const first = network();
    const opt1 = new sn.optim.SGD(first, { lr: 0.05, momentum: 0.9 });
    await sn.fit(first, train, { optimizer: opt1, epochs: 1, batchSize: 16, seed: 2, checkpoint: { dir, every: 2 } });
    const resumed = network(7); // other initial weights: the checkpoint replaces them
    const opt2 = new sn.optim.SGD(resumed, { lr: 0.05, momentum: 0.9 });
    const r = await sn.fit(resumed, train, { optimizer: opt2, epochs: 3, batchSize: 16, seed: 2, checkpoint: { dir, every: 2 }, resume: true });
    expect([r.resumedFrom, r.steps, r.history.length]).toEqual([4, 12, 2]);
    const whole = network();
    const opt3 = new sn.optim.SGD(whole, { lr: 0.05, momentum: 0.9 });
    await sn.fit(whole, train, { optimizer: opt3, epochs: 3, batchSize: 16, seed: 2 });
    expect(stateOf(resumed)).toEqual(stateOf(whole));
    await expect(sn.fit(resumed, train, { optimizer: opt2, epochs: 2, batchSize: 16, seed: 2, checkpoint: { dir, every: 2 }, resume: true })).rejects.toThrow(/another epochs: 3 then, 2 now/);
    await expect(sn.fit(resumed, train, { optimizer: opt2, epochs: 4, batchSize: 8, seed: 2, checkpoint: { dir, every: 2 }, resume: true })).rejects.toThrow(/another batchSize/);
    sn.dispose([opt1, opt2, opt3, first, resumed, whole]);
  });
});

describe('misuse', () => {
  it('each mistake is a TypeError that names it', async () => {
    const model = network();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const base = { optimizer, steps: 2, batchSize: 16 };
    const cases: [Partial<sn.FitOptions>, RegExp][] = [
      [{ validateEvery: 2 }, /validateEvery needs validationData/],
      [{ validationData: validation, validateEvery: 0 }, /validateEvery must be a positive integer, got 0/],
      [{ validationData: 5 as unknown as sn.FitData }, /validationData must be/],
      [{ onValidation: () => {} }, /onValidation needs validationData/],
      [{ tensorboard: '' }, /tensorboard must be a folder path/],
      [{ csv: 3 as unknown as string }, /csv must be a file path, got 3/],
    ];
    for (const [extra, message] of cases) await expect(sn.fit(model, train, { ...base, ...extra }), String(message)).rejects.toThrow(message);
    await expect(sn.snapshot({} as sn.nn.Module)).rejects.toThrow(/snapshot: the argument must be a Module/);
    sn.dispose([optimizer, model]);
  });
});
