/**
 * What fit's structure guarantees: tensors report what they are now (not what they were when
 * first asked), every option is checked with no silent fallback (in TypeScript and in the native
 * config), files are written by the job with bounded queues (a slowed disk neither stalls the
 * event loop nor lets snapshots pile up), the host reads values from the device only when they are
 * reported, and there is one schedule.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { native } from '../src/core/native';
import { requireFreshLib } from './helpers';

function data(n: number, seed: number): sn.TensorData {
  const g = new sn.Generator(seed);
  const d = { input: sn.rand([n, 1, 8, 8], { generator: g }), labels: sn.randint(0, 10, [n], { generator: g }) };
  g.dispose();
  return d;
}

function mlp(): sn.nn.Module {
  return new sn.nn.Sequential(new sn.nn.Flatten(), new sn.nn.Linear(64, 32), new sn.nn.ReLU(), new sn.nn.Linear(32, 10));
}

describe('tensor metadata', () => {
  it("a parameter taken before model.to('float64') reports float64 after it", () => {
    const model = mlp();
    const weight = model.parameters()[0];
    expect(weight.dtype).toBe('float32');
    model.to('float64');
    expect(weight.dtype).toBe('float64');
    expect(weight.shape).toEqual([32, 64]);
    weight.dispose();
    model.dispose();
  });

  it('a safetensors file written from such a parameter has a header that matches its bytes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-meta-'));
    const model = mlp();
    const weight = model.parameters()[0];
    void weight.dtype; // asked before the conversion
    model.to('float64');
    const file = path.join(dir, 'w.safetensors');
    sn.writeSafetensors(file, { weight });
    const back = sn.readSafetensors(file);
    expect(back.tensors.weight.dtype).toBe('float64');
    expect(fs.statSync(file).size).toBeGreaterThanOrEqual(32 * 64 * 8);
    expect(Array.from(back.tensors.weight.dataSync() as Float64Array)).toEqual(Array.from(weight.dataSync() as Float64Array));
    sn.dispose(back.tensors);
    weight.dispose();
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('fit options are checked, never silently replaced', () => {
  const cases: [string, (o: sn.FitOptions, t: sn.TensorData) => sn.FitOptions, RegExp][] = [
    ["scheduleUnit: 'steps'", (o) => ({ ...o, scheduleUnit: 'steps' as 'step' }), /scheduleUnit must be 'epoch' or 'step', got 'steps'/],
    ["loss: 'crossentropy'", (o) => ({ ...o, loss: 'crossentropy' as 'mse' }), /loss must be 'cross-entropy' or 'mse'/],
    ['an unknown option', (o) => ({ ...o, schedulUnit: 'step' }) as sn.FitOptions, /unknown option 'schedulUnit'/],
    ["autocast: 'fp16'", (o) => ({ ...o, autocast: 'fp16' as 'none' }), /autocast must be/],
    ["a hook of kind 'gradNorm'", (o) => ({ ...o, hooks: [{ kind: 'gradNorm' as 'gradNorms', every: 1 }] }), /hooks\[0\]\.kind must be/],
    ['a schedule of unknown kind', (o) => ({ ...o, schedule: { kind: 'cosin' } as unknown as sn.Schedule }), /schedule: .*'cosin'/],
    ['labelSmoothing 1.5', (o) => ({ ...o, labelSmoothing: 1.5 }), /labelSmoothing must be a number in \[0, 1\], got 1.5/],
    ['steps NaN', (o) => ({ ...o, steps: NaN }), /steps must be a positive integer, got NaN/],
    ['an optimiser as trackJacobian.input', (o) => ({ ...o, trackJacobian: { input: o.optimizer as unknown as sn.Tensor, every: 1, cut: '1' } }), /trackJacobian\.input must be a Tensor, got /],
    ['shuffle: "no"', (o) => ({ ...o, shuffle: 'no' as unknown as boolean }), /shuffle must be true or false/],
    ["trackJacobian.mode 'training'", (o, t) => ({ ...o, trackJacobian: { input: t.input, every: 1, cut: '1', mode: 'training' as 'train' } }), /trackJacobian\.mode must be 'train' or 'eval'/],
    ["trackJacobian.precision 'double'", (o, t) => ({ ...o, trackJacobian: { input: t.input, every: 1, cut: '1', precision: 'double' as 'float64' } }), /trackJacobian\.precision must be/],
    ["trackJacobian.method 'lanczo'", (o, t) => ({ ...o, trackJacobian: { input: t.input, every: 1, cut: '1', method: 'lanczo' as 'exact' } }), /trackJacobian\.method must be/],
    ['trackJacobian.steps 1 with lanczos', (o, t) => ({ ...o, trackJacobian: { input: t.input, every: 1, cut: '1', method: 'lanczos', steps: 1 } }), /trackJacobian\.steps must be an integer of at least 2k/],
  ];
  for (const [name, change, message] of cases) {
    it(`rejects ${name} before training`, async () => {
      const model = mlp();
      const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
      const t = data(8, 1);
      const before = model.stateDict();
      const steps: number[] = [];
      await expect(sn.fit(model, t, change({ optimizer, steps: 2, onStep: (e) => steps.push(e.step) }, t))).rejects.toThrow(message);
      expect(steps).toEqual([]);
      const after = model.stateDict();
      for (const k of Object.keys(before)) expect(after[k].equal(before[k])).toBe(true);
      sn.dispose([before, after, t]);
      optimizer.dispose();
      model.dispose();
    });
  }

  it("evaluate rejects a loss it does not know instead of measuring cross-entropy", async () => {
    const model = mlp();
    const t = data(8, 2);
    await expect(sn.evaluate(model, t, { loss: 'MSE' as 'mse' })).rejects.toThrow(/loss must be 'cross-entropy' or 'mse', got 'MSE'/);
    sn.dispose(t);
    model.dispose();
  });

  it('the native config refuses unknown choices too (no fallback for a direct caller)', () => {
    const model = mlp();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const t = data(8, 3);
    const config = { model: model.moduleHandle('test'), input: t.input.handleFor('test'), labels: t.labels.handleFor('test'), steps: 1 };
    for (const [key, value] of [['scheduleUnit', 'steps'], ['loss', 'crossentropy'], ['autocast', 'fp16']] as const) {
      expect(() => native().fit({ ...config, [key]: value }, undefined, optimizer.optimizerHandle('test'))).toThrow(new RegExp(`option '${key}' must be .*got '${value}'`));
    }
    expect(() => native().evaluate({ ...config, loss: 'MSE' })).toThrow(/option 'loss' must be/);
    expect(() => native().fit({ ...config, hooks: [{ kind: 'gradNorm', every: 1 }] }, undefined, optimizer.optimizerHandle('test'))).toThrow(/option 'kind' must be/);
    sn.dispose(t);
    optimizer.dispose();
    model.dispose();
  });
});

describe('one schedule', () => {
  it('scheduleFactor is the native loop’s: the learning rates fit reports, and its errors', async () => {
    const schedule: sn.Schedule = { kind: 'sequential', parts: [{ kind: 'warmup', steps: 3 }, { kind: 'cosine', tMax: 5, minRatio: 0.1 }], milestones: [3] };
    const model = mlp();
    const optimizer = new sn.optim.SGD(model, { lr: 0.3 });
    const t = data(8, 4);
    const lrs: number[] = [];
    await sn.fit(model, t, { optimizer, steps: 8, schedule, scheduleUnit: 'step', onStep: (e) => lrs.push(e.lr) });
    // The loop sets the rate of step s (0-based) before it runs; onStep reports it.
    expect(lrs).toEqual(lrs.map((_, s) => 0.3 * sn.scheduleFactor(schedule, s)));
    expect(() => sn.scheduleFactor({ kind: 'cosin' } as unknown as sn.Schedule, 0)).toThrow(/'cosin'/);
    expect(() => sn.scheduleFactor({ kind: 'step', stepSize: 0 }, 0)).toThrow(/stepSize must be positive/);
    sn.dispose(t);
    optimizer.dispose();
    model.dispose();
  });
});

describe('host reads', () => {
  it('an eager step reads nothing from the device unless it is reported', async () => {
    const model = mlp();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
    const t = data(400, 5);
    // 100 steps in one epoch: one report (step 100) and one epoch end.
    const quiet = await sn.fit(model, t, { optimizer, epochs: 1, batchSize: 4, progressEvery: 100, onStep: () => {} });
    expect(quiet.steps).toBe(100);
    expect(quiet.hostReads).toBe(2);
    // Reported every 10 steps: 10 reads, and the epoch end.
    const every10 = await sn.fit(model, t, { optimizer, epochs: 1, batchSize: 4, progressEvery: 10 });
    expect(every10.hostReads).toBe(11);
    // float16 loss scaling reads once per step whether any gradient overflowed (not once per
    // parameter): 10 steps, one report, one epoch end.
    const small = data(40, 8);
    const scaled = await sn.fit(model, small, { optimizer, epochs: 1, batchSize: 4, autocast: 'float16', progressEvery: 10 });
    expect(scaled.hostReads).toBe(12);
    sn.dispose(small);
    sn.dispose(t);
    optimizer.dispose();
    model.dispose();
  });

  it('the sums kept on the device give the same epoch totals as the steps it reports', async () => {
    const model = mlp();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const t = data(64, 6);
    const events: sn.StepEvent[] = [];
    const result = await sn.fit(model, t, { optimizer, epochs: 1, batchSize: 8, shuffle: false, onStep: (e) => events.push(e) });
    const loss = events.reduce((s, e) => s + e.loss * 8, 0) / 64;
    const top1 = events.reduce((s, e) => s + e.top1 * 8, 0) / 64;
    expect(result.lastEpoch!.loss).toBeCloseTo(loss, 12);
    expect(result.lastEpoch!.top1).toBeCloseTo(top1, 12);
    sn.dispose(t);
    optimizer.dispose();
    model.dispose();
  });
});

// strace can delay a system call: every fsync of the child (each checkpoint's file and folder).
function straceCanDelay(): boolean {
  try {
    execFileSync('strace', ['-f', '-qq', '-e', 'trace=fsync', '-e', 'inject=fsync:delay_exit=1000', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('files written by the job', () => {
  it.skipIf(!straceCanDelay())('a slowed checkpoint disk: files written off the JavaScript thread, and snapshots do not pile up', async () => {
    requireFreshLib();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-slow-disk-'));
    const delayMs = 400;
    const script = path.join(dir, 'child.js');
    const trace = path.join(dir, 'trace.txt');
    fs.writeFileSync(
      script,
      `const sn = require(${JSON.stringify(path.resolve(__dirname, '..', 'lib', 'index.js'))});
(async () => {
  sn.manualSeed(0);
  const model = new sn.nn.Sequential(new sn.nn.Flatten(), new sn.nn.Linear(64, 256), new sn.nn.ReLU(), new sn.nn.Linear(256, 10));
  const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
  const g = new sn.Generator(1);
  const data = { input: sn.rand([64, 1, 8, 8], { generator: g }), labels: sn.randint(0, 10, [64], { generator: g }) };
  const steps = [], checkpoints = [];
  await sn.fit(model, data, { optimizer, steps: 8, batchSize: 8, checkpoint: { dir: ${JSON.stringify(path.join(dir, 'ckpt'))}, every: 1, keep: 2 },
    onStep: (e) => steps.push({ step: e.step, elapsed: e.elapsed }), onCheckpoint: (e) => checkpoints.push(e.step) });
  process.stdout.write(JSON.stringify({ pid: process.pid, steps, checkpoints }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
    );
    // Every fsync of the child is delayed (each checkpoint flushes its file and its folder).
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=openat,fsync', '-e', `inject=fsync:delay_exit=${delayMs * 1000}`, process.execPath, script]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`child exited with ${code}: ${stderr}`))));
    });
    const r = JSON.parse(out) as { pid: number; steps: { step: number; elapsed: number }[]; checkpoints: number[] };
    expect(r.checkpoints).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Which thread opened and flushed the checkpoint files: never JavaScript's (its thread id is
    // the process id), so a slow disk cannot stall the event loop.
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    const tid = (line: string) => Number(line.split(/\s+/)[0]);
    const opens = lines.filter((l) => /openat\(.*\.checkpoint-\d+\.safetensors\.\d+\.[0-9a-f]+\.tmp/.test(l));
    expect(opens).toHaveLength(8);
    expect(opens.filter((l) => tid(l) === r.pid)).toEqual([]);
    expect(lines.filter((l) => l.includes('fsync(') && tid(l) === r.pid)).toEqual([]);
    // The snapshot of step k is taken only once the one of step k - 3 is written (one written, one
    // waiting, one being made): the training thread is held to the disk's pace (two delayed flushes
    // per file) instead of piling copies up. A busy machine only makes `elapsed` larger.
    const write = (2 * delayMs) / 1000;
    for (const { step, elapsed } of r.steps) if (step > 3) expect(elapsed, `step ${step}`).toBeGreaterThanOrEqual((step - 3) * write * 0.9);
    const left = fs.readdirSync(path.join(dir, 'ckpt'));
    expect(left.sort()).toEqual(['checkpoint-000000007.safetensors', 'checkpoint-000000008.safetensors']);
    expect(sn.checkpointProblem(path.join(dir, 'ckpt', 'checkpoint-000000008.safetensors'))).toBeNull();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('the track file is written by the job, line for line the events onHook receives', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-track-'));
    const file = path.join(dir, 'track.jsonl');
    const model = mlp();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05 });
    const t = data(16, 7);
    const events: sn.HookEvent[] = [];
    await sn.fit(model, t, {
      optimizer,
      steps: 4,
      batchSize: 8,
      hooks: [{ kind: 'parameterStats', every: 2 }, { kind: 'gradNorms', every: 4 }],
      trackDiagnostics: { input: t.input, labels: t.labels, every: 2 },
      trackFile: file,
      onHook: (e) => events.push(e),
    });
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.name, l.step])).toEqual(events.map((e) => [e.name, e.step]));
    lines.forEach((line, i) => expect(line).toEqual({ type: 'hook', ...JSON.parse(JSON.stringify(events[i])) }));
    sn.dispose(t);
    optimizer.dispose();
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
