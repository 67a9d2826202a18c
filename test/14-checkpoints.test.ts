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

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function data(): sn.TensorData {
  const g = new sn.Generator(9);
  const d = { input: sn.rand([48, 1, 28, 28], { generator: g }), labels: sn.randint(0, 10, [48], { generator: g }) };
  g.dispose();
  return d;
}

async function train(dir: string | null, steps: number, signalAfter?: number): Promise<{ params: Buffer[]; losses: number[]; result?: sn.FitResult }> {
  sn.manualSeed(4);
  const model = sn.models.bnnet({ variant: 'c' });
  const optimizer = new sn.optim.AdamW(model, { lr: 2e-3 });
  const d = data();
  const losses: number[] = [];
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
    });
  } catch (e) {
    if (!(e instanceof sn.AbortError)) throw e;
  }
  const params = model.parameters().map((p) => {
    const b = Buffer.from((p.dataSync() as Float32Array).buffer);
    p.dispose();
    return b;
  });
  sn.dispose(d);
  optimizer.dispose();
  model.dispose();
  return { params, losses, result };
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
    expect(() => sn.fit(model, d, { optimizer, steps: 8, batchSize: 8, seed: 3, checkpoint: { dir, every: 4 }, resume: true })).toThrowError(
      /cannot resume from .*checkpoint-000000008\.safetensors: it was saved by a run with batchSize = 16, this run has 8/,
    );
    sn.dispose(d);
    optimizer.dispose();
    model.dispose();
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
      sn.fit(model, data, { optimizer, steps: 100000, checkpoint: { dir: ${JSON.stringify(dir)}, every: 1, keep: 2 },
        onCheckpoint: (e) => process.stdout.write('saved ' + e.step + '\\n') });
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let saved = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        saved += (chunk.toString().match(/saved/g) ?? []).length;
        // Kill it part-way through later saves (they take tens of milliseconds each).
        if (saved >= 3) setTimeout(() => child.kill('SIGKILL'), 7 + Math.floor(Math.random() * 20));
      });
      child.on('exit', () => resolve());
    });
    const latest = sn.latestCheckpoint(dir);
    expect(latest).not.toBeNull();
    sn.manualSeed(0);
    const model = sn.models.preactResNet({ depth: 18 });
    const optimizer = new sn.optim.SGD(model, { lr: 0.01, momentum: 0.9 });
    const info = sn.loadCheckpoint(latest!, model, optimizer);
    expect(info.step).toBeGreaterThanOrEqual(3);
    const state = optimizer.stateDict();
    expect(Object.keys(state).length).toBeGreaterThan(0);
    sn.dispose(state);
    // Every file that looks like a checkpoint is whole; partial writes only ever exist as hidden temporaries.
    for (const c of sn.listCheckpoints(dir)) sn.dispose(sn.readSafetensors(c.file).tensors);
    optimizer.dispose();
    model.dispose();
  });
});
