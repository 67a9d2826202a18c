/**
 * Checkpoints: a run interrupted and resumed from its checkpoint ends bit-identical to one that
 * never stopped; only the newest N are kept; a process killed while saving leaves the previous
 * checkpoint loadable; a resume with other settings is refused.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { killWhileFileExists } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function data(): sn.TensorData {
  const g = new sn.Generator(9);
  const d = { input: sn.rand([48, 1, 28, 28], { generator: g }), labels: sn.randint(0, 10, [48], { generator: g }) };
  g.dispose();
  return d;
}

async function train(
  dir: string | null,
  steps: number,
  signalAfter?: number,
  options: Partial<sn.FitOptions> = {},
): Promise<{ params: Buffer[]; losses: number[]; epochs: sn.EpochEvent[]; result?: sn.FitResult }> {
  sn.manualSeed(4);
  const model = sn.models.bnnet({ variant: 'c' });
  const optimizer = new sn.optim.AdamW(model, { lr: 2e-3 });
  const d = data();
  const losses: number[] = [];
  const epochs: sn.EpochEvent[] = [];
  const controller = new AbortController();
  let result: sn.FitResult | undefined;
  try {
    result = await sn.fit(model, d, {
      optimizer,
      steps,
      batchSize: 16,
      seed: 3,
      schedule: { kind: 'cosine', tMax: steps },
      scheduleUnit: 'step',
      checkpoint: dir ? { dir, every: 4, keep: 2 } : undefined,
      resume: dir !== null,
      signal: controller.signal,
      onStep: (e) => {
        losses.push(e.loss);
        if (signalAfter !== undefined && e.step >= signalAfter) controller.abort();
      },
      onEpoch: (e) => epochs.push(e),
      ...options,
    });
  } catch (e) {
    if (!(e instanceof sn.AbortError)) throw e;
  }
  const params = snapshot(model);
  sn.dispose(d);
  optimizer.dispose();
  model.dispose();
  return { params, losses, epochs, result };
}

// The model's parameters as bytes (to compare runs bit for bit, and see that a failed load changed nothing).
function snapshot(model: sn.nn.Module): Buffer[] {
  return model.parameters().map((p) => {
    const b = Buffer.from((p.dataSync() as Float32Array).buffer);
    p.dispose();
    return b;
  });
}

// Warnings emitted while `work` runs.
async function warningsDuring<T>(work: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const warnings: string[] = [];
  const listener = (w: Error) => warnings.push(w.message);
  process.on('warning', listener);
  try {
    const result = await work();
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    return { result, warnings };
  } finally {
    process.removeListener('warning', listener);
  }
}

describe('checkpoints', () => {
  it('a resumed run ends bit-identical to an uninterrupted one (AdamW, cosine schedule, shuffled batches)', async () => {
    const straight = await train(null, 20);
    const dir = path.join(tmp, 'resume');
    const first = await train(dir, 20, 9); // aborted after step 9; checkpoints at 4 and 8
    expect(first.losses.length).toBeLessThan(20);
    expect(sn.listCheckpoints(dir).map((c) => c.step)).toEqual([4, 8]);
    const second = await train(dir, 20);
    expect(second.result!.resumedFrom).toBe(8);
    expect(second.result!.steps).toBe(20);
    expect(second.losses).toEqual(straight.losses.slice(8));
    second.params.forEach((p, i) => expect(p.equals(straight.params[i]), `parameter ${i}`).toBe(true));
    expect(sn.listCheckpoints(dir).map((c) => c.step)).toEqual([16, 20]); // keep: 2
  });

  it('refuses to resume a run with other settings', async () => {
    const dir = path.join(tmp, 'other');
    await train(dir, 8);
    sn.manualSeed(4);
    const model = sn.models.bnnet({ variant: 'c' });
    const optimizer = new sn.optim.AdamW(model, { lr: 2e-3 });
    const d = data();
    await expect(sn.fit(model, d, { optimizer, steps: 8, batchSize: 8, seed: 3, checkpoint: { dir, every: 4 }, resume: true })).rejects.toThrow(
      /cannot resume from .*checkpoint-000000008\.safetensors: it was saved by a run with another batchSize: 16 then, 8 now/,
    );
    sn.dispose(d);
    optimizer.dispose();
    model.dispose();
  });

  it('refuses to resume with another model or another optimiser, and loads nothing then', async () => {
    const dir = path.join(tmp, 'other-model');
    await train(dir, 8); // BNNet (c), AdamW lr 2e-3
    const attempt = async (variant: 'a' | 'c', makeOptimizer: (m: sn.nn.Module) => sn.optim.Optimizer, message: RegExp) => {
      sn.manualSeed(4);
      const model = sn.models.bnnet({ variant });
      const optimizer = makeOptimizer(model);
      const before = snapshot(model);
      const d = data();
      await expect(
        sn.fit(model, d, { optimizer, steps: 8, batchSize: 16, seed: 3, schedule: { kind: 'cosine', tMax: 8 }, scheduleUnit: 'step', checkpoint: { dir, every: 4 }, resume: true }),
      ).rejects.toThrow(message);
      snapshot(model).forEach((p, i) => expect(p.equals(before[i]), `parameter ${i}`).toBe(true));
      sn.dispose(d);
      optimizer.dispose();
      model.dispose();
    };
    // Variants (a) and (c) have the same parameters: only the architecture tells them apart.
    await attempt('a', (m) => new sn.optim.AdamW(m, { lr: 2e-3 }), /another model: it had "Block1: Residual \(shortcut identity\)" where this run has "Block1: Residual \(shortcut none\)"/);
    await attempt('c', (m) => new sn.optim.SGD(m, { lr: 2e-3, momentum: 0.9 }), /another optimizer: kind "adamw" then, "sgd" now/);
    await attempt('c', (m) => new sn.optim.AdamW(m, { lr: 1e-3 }), /another optimizer: lr 0\.002 then, 0\.001 now/);
    await attempt('c', (m) => new sn.optim.AdamW(m, { lr: 2e-3, amsgrad: true }), /another optimizer: amsgrad false then, true now/);
  });

  it("an optimiser refuses state that is not its own, and a failed load leaves model and optimiser as they were", async () => {
    const dir = path.join(tmp, 'strict');
    await train(dir, 8);
    const file = sn.latestCheckpoint(dir)!;
    sn.manualSeed(4);
    const model = sn.models.bnnet({ variant: 'c' });
    const before = snapshot(model);
    const adamw = new sn.optim.AdamW(model, { lr: 2e-3 });
    const adamState = (() => {
      const { tensors } = sn.readSafetensors(file);
      const state = Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith('optimizer.')).map(([k, t]) => [k.slice('optimizer.'.length), t]));
      sn.dispose(Object.entries(tensors).filter(([k]) => !k.startsWith('optimizer.')).map(([, t]) => t));
      return state;
    })();
    const sgd = new sn.optim.SGD(model, { lr: 0.1, momentum: 0.9 });
    expect(() => sgd.loadStateDict(adamState)).toThrow(/optimizer state 'exp_avg\..*' \(and \d+ more\) is not state of this SGD optimiser with momentum/);
    const amsgrad = new sn.optim.Adam(model, { amsgrad: true });
    const extra = { ...adamState, 'max_exp_avg_sq.lin.weight': adamState['exp_avg.lin.weight'] };
    expect(() => adamw.loadStateDict(extra)).toThrow(/optimizer state 'max_exp_avg_sq\.lin\.weight' is not state of this AdamW optimiser/);
    expect(() => adamw.loadStateDict({ ...adamState, 'exp_avg.nothing': adamState['exp_avg.lin.weight'] })).toThrow(/'exp_avg\.nothing' is not state/);
    const { ['step.lin.weight']: _step, ...incomplete } = adamState;
    expect(() => adamw.loadStateDict(incomplete)).toThrow(/optimizer state for 'lin\.weight' is incomplete/);
    // loadCheckpoint checks the optimiser's state before it loads the weights.
    expect(() => sn.loadCheckpoint(file, model, sgd)).toThrow(/is not state of this SGD optimiser/);
    snapshot(model).forEach((p, i) => expect(p.equals(before[i]), `parameter ${i}`).toBe(true));
    expect(Object.keys(sgd.stateDict())).toEqual([]);
    // The right optimiser loads it.
    expect(sn.loadCheckpoint(file, model, adamw).step).toBe(8);
    expect(snapshot(model).some((p, i) => !p.equals(before[i]))).toBe(true);
    sn.dispose(adamState);
    for (const o of [adamw, sgd, amsgrad]) o.dispose();
    model.dispose();
  });

  it('a truncated newest checkpoint: resume falls back to the previous one, with a warning, and ends bit-identical', async () => {
    const straight = await train(null, 20);
    const dir = path.join(tmp, 'truncated');
    await train(dir, 20, 9); // checkpoints at 4 and 8
    const newest = sn.listCheckpoints(dir)[1].file;
    fs.truncateSync(newest, Math.floor(fs.statSync(newest).size / 2)); // as a disk that lost its tail
    expect(sn.latestCheckpoint(dir)).toBe(sn.listCheckpoints(dir)[0].file);
    const { result: second, warnings } = await warningsDuring(() => train(dir, 20));
    expect(warnings.some((w) => /skipping .*checkpoint-000000008\.safetensors, which cannot be read .* resuming from .*checkpoint-000000004/.test(w))).toBe(true);
    expect(second.result!.resumedFrom).toBe(4);
    expect(second.losses).toEqual(straight.losses.slice(4));
    second.params.forEach((p, i) => expect(p.equals(straight.params[i]), `parameter ${i}`).toBe(true));
    expect(sn.listCheckpoints(dir).map((c) => c.step)).toEqual([16, 20]);
  });

  it('a run resumed at its last step reports the last epoch from the checkpoint (no NaN); a resumed epoch counts all its batches', async () => {
    const straight = await train(null, 9, undefined, { schedule: undefined, scheduleUnit: undefined }); // 3 epochs of 3 batches
    const dir = path.join(tmp, 'epochs');
    await train(dir, 9, 5, { schedule: undefined, scheduleUnit: undefined }); // stopped in epoch 1
    // Resume from step 4 (epoch 1, batch 0), whatever the stopped run reached.
    for (const c of sn.listCheckpoints(dir)) if (c.step > 4) fs.rmSync(c.file);
    expect(sn.listCheckpoints(dir).map((c) => c.step)).toEqual([4]);
    const second = await train(dir, 9, undefined, { schedule: undefined, scheduleUnit: undefined });
    expect(second.result!.resumedFrom).toBe(4);
    // Epoch 1 was half done before the resume: its event covers all three batches.
    expect(second.epochs.map((e) => [e.epoch, e.complete])).toEqual([[1, true], [2, true]]);
    expect(second.epochs[0].loss).toBeCloseTo(straight.epochs[1].loss, 12);
    expect(second.epochs[0].top1).toBeCloseTo(straight.epochs[1].top1, 12);
    expect(second.result!.lastEpochLoss).toBeCloseTo(straight.result!.lastEpochLoss, 12);
    // Resumed at the last step: nothing to train, and the last epoch is the checkpoint's.
    const third = await train(dir, 9, undefined, { schedule: undefined, scheduleUnit: undefined });
    expect(third.result!.resumedFrom).toBe(9);
    expect(third.losses).toEqual([]);
    expect(third.result!.lastEpochLoss).toBeCloseTo(straight.result!.lastEpochLoss, 12);
    expect(third.result!.lastEpoch).toMatchObject({ epoch: 2, complete: true });
    expect(third.result!.lastEpoch!.loss).toBeCloseTo(straight.epochs[2].loss, 12);
  });

  it('temporary files that a killed save left behind are removed when a run starts; those of live processes stay', async () => {
    const dir = path.join(tmp, 'stale');
    fs.mkdirSync(dir, { recursive: true });
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('exit', r));
    const stale = path.join(dir, `.checkpoint-000000004.safetensors.${dead.pid}.0123456789ab.tmp`);
    const live = path.join(dir, `.checkpoint-000000004.safetensors.${process.ppid}.0123456789ab.tmp`);
    fs.writeFileSync(stale, 'half a checkpoint');
    fs.writeFileSync(live, 'a save in progress');
    await train(dir, 4);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
  });

  it('a process killed while saving leaves the previous checkpoint loadable', async () => {
    const dir = path.join(tmp, 'killed');
    const root = path.resolve(__dirname, '..');
    const script = `
      const sn = require(${JSON.stringify(root)});
      sn.manualSeed(0);
      const model = sn.models.preactResNet({ depth: 18 });
      const optimizer = new sn.optim.SGD(model, { lr: 0.01, momentum: 0.9 });
      const g = new sn.Generator(1);
      const data = { input: sn.randn([4, 3, 32, 32], { generator: g }), labels: sn.randint(0, 10, [4], { generator: g }) };
      sn.fit(model, data, { optimizer, steps: 30, checkpoint: { dir: ${JSON.stringify(dir)}, every: 1, keep: 2 } });
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    // Killed while a save's temporary file exists (the save is in progress), once two saves are whole.
    const temporary = /^\.checkpoint-(\d+)\.safetensors\.\d+\.\w+\.tmp$/;
    const killedDuring = await killWhileFileExists(child, dir, temporary, () => sn.listCheckpoints(dir).length >= 2);
    expect(killedDuring, `no save of the 30 was caught in progress: ${stderr}`).not.toBeNull();
    // The kill came mid-write: that save's temporary is still there, and never became a checkpoint.
    expect(fs.readdirSync(dir)).toContain(killedDuring);
    const interruptedStep = Number(temporary.exec(killedDuring!)![1]);
    expect(sn.listCheckpoints(dir).map((c) => c.step)).not.toContain(interruptedStep);
    const latest = sn.latestCheckpoint(dir);
    expect(latest).not.toBeNull();
    sn.manualSeed(0);
    const model = sn.models.preactResNet({ depth: 18 });
    const optimizer = new sn.optim.SGD(model, { lr: 0.01, momentum: 0.9 });
    const info = sn.loadCheckpoint(latest!, model, optimizer);
    expect(info.step).toBe(interruptedStep - 1); // the save before (every step saves)
    const state = optimizer.stateDict();
    expect(Object.keys(state).length).toBeGreaterThan(0);
    sn.dispose(state);
    // Every file that looks like a checkpoint is whole; partial writes only ever exist as hidden temporaries.
    for (const c of sn.listCheckpoints(dir)) sn.dispose(sn.readSafetensors(c.file).tensors);
    optimizer.dispose();
    model.dispose();
  });
});
