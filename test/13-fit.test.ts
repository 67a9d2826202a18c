/**
 * The training loop's behaviour: the event loop stays free, abort stops within one step and
 * leaks nothing, runs repeat bit for bit from a seed, mini-batches, schedules, evaluation,
 * bfloat16 autocast, and misuse.
 */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { native } from '../src/core/native';
import { tickUntilAbort } from './helpers';

function dataset(n: number, seed: number): sn.TensorData {
  const g = new sn.Generator(seed);
  const data = { input: sn.rand([n, 1, 28, 28], { generator: g }), labels: sn.randint(0, 10, [n], { generator: g }) };
  g.dispose();
  return data;
}

function parameters(model: sn.nn.Module): Float32Array[] {
  return model.parameters().map((p) => {
    const v = p.dataSync() as Float32Array;
    p.dispose();
    return v;
  });
}

describe('fit', () => {
  it('timers keep firing while fit trains (the event loop stays free)', async () => {
    sn.manualSeed(0);
    const model = sn.models.preactResNet({ depth: 18 });
    const optimizer = new sn.optim.SGD(model, { lr: 0.01 });
    const g = new sn.Generator(1);
    const data = { input: sn.randn([16, 3, 32, 32], { generator: g }), labels: sn.randint(0, 10, [16], { generator: g }) };
    // Training that only the timer ends (after 20 ticks and 2 steps), so the ticks came while it
    // ran. (How late they come: npm run bench:event-loop.)
    const steps: number[] = [];
    const { settled, whileRunning } = await tickUntilAbort(
      (signal) => sn.fit(model, data, { optimizer, steps: 1_000_000, batchSize: 8, signal, onStep: (e) => steps.push(e.step) }),
      20,
      () => steps.length >= 2,
    );
    expect(settled).toBeInstanceOf(sn.AbortError);
    expect(whileRunning).toBeGreaterThanOrEqual(20);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    sn.dispose(data);
    g.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('an AbortSignal stops within one step, rejects with AbortError, and leaks no thread or tensor', async () => {
    const before = sn.memory().tensors;
    sn.manualSeed(0);
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const data = dataset(64, 2);
    const controller = new AbortController();
    const events: sn.StepEvent[] = [];
    let abortedAt = 0;
    const started = performance.now();
    const run = sn.fit(model, data, {
      optimizer,
      steps: 1_000_000,
      batchSize: 16,
      signal: controller.signal,
      onStep: (e) => {
        events.push(e);
        if (e.step === 25) {
          controller.abort();
          abortedAt = performance.now();
        }
      },
    });
    await expect(run).rejects.toBeInstanceOf(sn.AbortError);
    // Events arrive after the fact, so the loop may be steps ahead of step 25's event when abort()
    // is called. Which steps it had finished by then: each event's `elapsed` is taken (on the same
    // monotonic clock) when its step ends, counted from a start no earlier than `started`, so a step
    // whose started + elapsed is later than abortedAt ended after the abort.
    const endedBeforeAbort = events.filter((e) => started + 1000 * e.elapsed <= abortedAt).length;
    // The steps it did in all, from the model itself: each one ran batch norm in training mode once.
    const state = model.stateDict();
    const done = Number((state['bn.num_batches_tracked'].dataSync() as BigInt64Array)[0]);
    sn.dispose(state);
    expect(endedBeforeAbort).toBeGreaterThanOrEqual(25);
    expect(done).toBeLessThanOrEqual(endedBeforeAbort + 1); // at most the step under way at the abort
    expect(events.map((e) => e.step)).toEqual(Array.from({ length: done }, (_, i) => i + 1)); // every step done was reported
    expect(native().activeJobs()).toBe(0);
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
    expect(sn.memory().tensors).toBe(before);
  });

  it('repeats bit for bit with the same seed (shuffled mini-batches, momentum)', async () => {
    const run = async () => {
      sn.manualSeed(5);
      const model = sn.models.bnnet({ variant: 'b' });
      const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
      const data = dataset(48, 3);
      const losses: number[] = [];
      await sn.fit(model, data, { optimizer, epochs: 3, batchSize: 16, seed: 7, onStep: (e) => losses.push(e.loss) });
      const params = parameters(model);
      sn.dispose(data);
      optimizer.dispose();
      model.dispose();
      return { losses, params };
    };
    const a = await run();
    const b = await run();
    expect(a.losses.length).toBe(9);
    expect(b.losses).toEqual(a.losses);
    a.params.forEach((p, i) => expect(Buffer.from(p.buffer).equals(Buffer.from(b.params[i].buffer))).toBe(true));
  });

  it('reports epochs and steps, follows the schedule, and evaluates in eval mode', async () => {
    sn.manualSeed(1);
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.2 });
    const data = dataset(40, 4);
    const steps: sn.StepEvent[] = [];
    const epochs: sn.EpochEvent[] = [];
    const schedule: sn.Schedule = { kind: 'multistep', milestones: [1, 2], gamma: 0.5 };
    await sn.fit(model, data, { optimizer, epochs: 3, batchSize: 16, schedule, onStep: (e) => steps.push(e), onEpoch: (e) => epochs.push(e) });
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]); // 3 batches an epoch (16, 16, 8)
    expect(steps.map((s) => s.lr)).toEqual([0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05]);
    expect(steps.map((s) => s.lr)).toEqual(steps.map((s) => 0.2 * sn.scheduleFactor(schedule, s.epoch)));
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
    expect(epochs.every((e) => e.complete && e.top1 >= 0 && e.top1 <= 1)).toBe(true);
    expect(steps[8].eta).toBe(0);
    expect(steps[0].examplesPerSecond).toBeGreaterThan(0);
    const evaluation = await sn.evaluate(model, data, { batchSize: 16 });
    expect(evaluation.examples).toBe(40);
    expect(model.training).toBe(true); // evaluate restores the mode
    sn.scope(() => {
      model.eval();
      const logits = sn.noGrad(() => model.forward(data.input));
      expect(evaluation.loss).toBeCloseTo(sn.F.crossEntropy(logits, data.labels).item(), 5);
      model.train();
    });
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
  });

  it('bfloat16 autocast on the CPU trains and reports finite losses close to float32', async () => {
    const losses: Record<string, number[]> = { none: [], bfloat16: [] };
    for (const autocast of ['none', 'bfloat16'] as const) {
      sn.manualSeed(3);
      const model = sn.models.bnnet();
      const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
      const data = dataset(32, 5);
      await sn.fit(model, data, { optimizer, steps: 10, autocast, onStep: (e) => losses[autocast].push(e.loss) });
      sn.dispose(data);
      optimizer.dispose();
      model.dispose();
    }
    expect(losses.bfloat16.every(Number.isFinite)).toBe(true);
    expect(losses.bfloat16).not.toEqual(losses.none); // autocast really changed the arithmetic
    expect(losses.bfloat16[9]).toBeLessThan(losses.bfloat16[0]);
    expect(Math.abs(losses.bfloat16[0] - losses.none[0])).toBeLessThan(0.05 * losses.none[0]);
  });

  it('misuse is a clear error', async () => {
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const data = dataset(8, 6);
    await expect(sn.fit(model, data, { optimizer, steps: 1, epochs: 1 })).rejects.toThrow(/give exactly one of epochs and steps/);
    await expect(sn.fit(model, data, { optimizer: {} as sn.optim.Optimizer, steps: 1 })).rejects.toThrow(/options\.optimizer must be an optimizer/);
    await expect(sn.fit(model, data, { optimizer, steps: 0 })).rejects.toThrow(/steps must be a positive integer/);
    await expect(sn.fit(model, { input: data.input } as sn.TensorData, { optimizer, steps: 1 })).rejects.toThrow(/fit: expected a Tensor, got undefined/);
    expect(() => new sn.optim.SGD(model, { lr: -1 })).toThrowError(/SGD: invalid learning rate -1/);
    expect(() => new sn.optim.SGD(model, { lr: 0.1, nesterov: true })).toThrowError(/Nesterov momentum requires a momentum/);
    const mismatched = { input: data.input, labels: sn.zeros([3], { dtype: 'int64' }) };
    await expect(sn.fit(model, mismatched, { optimizer, steps: 1 })).rejects.toThrow(/input has 8 examples but labels has 3/);
    const wrongShape = { input: sn.zeros([4, 3, 28, 28]), labels: sn.zeros([4], { dtype: 'int64' }) };
    await expect(sn.fit(model, wrongShape, { optimizer, steps: 1 })).rejects.toThrowError(/^fit: .*expected input with 1 channels/);
    await expect(sn.fit(model, data, { optimizer, steps: 1, schedule: { kind: 'step', stepSize: 0 } })).rejects.toThrow(/step schedule: stepSize must be positive/);
    sn.dispose([data, mismatched.labels, wrongShape]);
    optimizer.dispose();
    model.dispose();
  });

  it('live tensors and their bytes stay flat over 40 steps (RSS: npm run bench:memory)', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.05, momentum: 0.9 });
    const data = dataset(32, 8);
    const before = sn.memory();
    const samples: { step: number; tensors: number; bytes: number }[] = [];
    await sn.fit(model, data, {
      optimizer,
      steps: 40,
      progressEvery: 4,
      onStep: (e) => {
        const { tensors, bytes } = sn.memory();
        samples.push({ step: e.step, tensors, bytes });
      },
    });
    expect(samples).toHaveLength(10);
    for (const s of samples) expect({ tensors: s.tensors, bytes: s.bytes }, `step ${s.step}`).toEqual({ tensors: before.tensors, bytes: before.bytes });
    expect(sn.memory()).toEqual(before);
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
  });

  it('float16 autocast with loss scaling: overflowing steps are skipped and the scale halves, then training goes on', async () => {
    sn.manualSeed(3);
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const data = dataset(32, 5);
    const events: sn.StepEvent[] = [];
    const before = model.stateDict();
    const first: Record<string, sn.Tensor> = {};
    for (const [k, t] of Object.entries(before)) first[k] = t.clone();
    await sn.fit(model, data, { optimizer, steps: 20, autocast: 'float16', initialLossScale: 2 ** 24, onStep: (e) => events.push(e) });
    // 2^24 times the loss overflows float16 gradients: those steps are skipped, each halving the scale.
    expect(events[0].skipped).toBe(1);
    expect(events[0].lossScale).toBe(2 ** 24);
    expect(events[1].lossScale).toBe(2 ** 23);
    const firstGood = events.findIndex((e) => e.skipped === 0);
    expect(firstGood).toBeGreaterThan(0);
    expect(events.slice(0, firstGood).every((e) => e.loss === events[0].loss)).toBe(true); // no update while skipping
    expect(events.every((e) => Number.isFinite(e.loss))).toBe(true);
    expect(events[19].loss).toBeLessThan(events[firstGood].loss);
    // Skipped steps left the weights alone; later steps trained them.
    const after = model.stateDict();
    expect(after['lin.weight'].equal(first['lin.weight'])).toBe(false);
    sn.dispose([before, after, first, data]);
    optimizer.dispose();
    model.dispose();
  });

  it('channels-last trains to the same result within float32 rounding', async () => {
    const results: number[][] = [];
    for (const channelsLast of [false, true]) {
      sn.manualSeed(3);
      const model = sn.models.bnnet();
      const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
      const data = dataset(32, 5);
      const losses: number[] = [];
      await sn.fit(model, data, { optimizer, steps: 5, channelsLast, onStep: (e) => losses.push(e.loss) });
      results.push(losses);
      sn.dispose(data);
      optimizer.dispose();
      model.dispose();
    }
    results[0].forEach((l, i) => expect(Math.abs(l - results[1][i])).toBeLessThan(1e-4 * l));
  });

  it('cudaGraph: a clear error where it cannot run (CPU build or CPU model, Adam, float16), and the model is untouched', async () => {
    sn.manualSeed(4);
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1, momentum: 0.9 });
    const data = dataset(16, 6);
    const before = parameters(model);
    // The CPU build has no CUDA graphs; a CUDA build refuses a model whose parameters are on the CPU.
    await expect(sn.fit(model, data, { optimizer, steps: 5, cudaGraph: true })).rejects.toThrowError(/cudaGraph needs (a CUDA build of skipnorm|the model on a CUDA device)/);
    expect(parameters(model)).toEqual(before);
    const adam = new sn.optim.Adam(model, { lr: 1e-3 });
    await expect(sn.fit(model, data, { optimizer: adam, steps: 5, cudaGraph: true })).rejects.toThrow(/cudaGraph supports the SGD optimiser/);
    await expect(sn.fit(model, data, { optimizer, steps: 5, cudaGraph: true, autocast: 'float16' })).rejects.toThrow(/cudaGraph does not combine with float16 autocast/);
    const cumulative = new sn.nn.Sequential(new sn.nn.Flatten(), new sn.nn.Linear(784, 10), new sn.nn.BatchNorm1d(10, { momentum: null }));
    const cumulativeSgd = new sn.optim.SGD(cumulative, { lr: 0.1 });
    await expect(sn.fit(cumulative, data, { optimizer: cumulativeSgd, steps: 5, cudaGraph: true })).rejects.toThrow(/cannot capture batch norm with momentum: null/);
    cumulativeSgd.dispose();
    cumulative.dispose();
    // The model still trains afterwards.
    const result = await sn.fit(model, data, { optimizer, steps: 2 });
    expect(Number.isFinite(result.lastEpochLoss)).toBe(true);
    sn.dispose(data);
    adam.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('while fit trains a model, JavaScript cannot touch it or its optimizer (no race, no crash)', async () => {
    sn.manualSeed(0);
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.Adam(model, { lr: 1e-3 });
    const data = dataset(32, 1);
    const errors: string[] = [];
    const run = sn.fit(model, data, {
      optimizer,
      steps: 40,
      onStep: (e) => {
        if (e.step !== 3) return;
        for (const attempt of [() => optimizer.step(), () => optimizer.zeroGrad(), () => model.forward(data.input), () => model.eval(), () => model.stateDict()]) {
          try {
            attempt();
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
      },
    });
    await expect(sn.fit(model, data, { optimizer, steps: 1 })).rejects.toThrow(/in use by a running job/);
    await expect(sn.evaluate(model, data)).rejects.toThrow(/in use by a running job/);
    await run;
    expect(errors.length).toBe(5);
    expect(errors.every((m) => /is in use by a running job/.test(m))).toBe(true);
    // Afterwards everything works again.
    await sn.evaluate(model, data);
    optimizer.step();
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
  });

  it('a layer shared by two models, and the data tensors, are held by the running fit too', async () => {
    // One Linear in two models: training either holds it.
    const train = async (disturb: boolean) => {
      sn.manualSeed(3);
      const shared = new sn.nn.Linear(20, 5);
      const a = new sn.nn.Sequential({ fc: shared });
      const b = new sn.nn.Sequential({ fc: shared });
      const g = new sn.Generator(4);
      const data = { input: sn.randn([64, 20], { generator: g }), labels: sn.randint(0, 5, [64], { generator: g }) };
      const weight = shared.namedParameters()[0][1];
      data.input.requiresGrad_(); // a caller's leaf: fit must not write its .grad from its thread
      const optA = new sn.optim.SGD(a, { lr: 0.05, momentum: 0.9 });
      const optB = new sn.optim.SGD(b, { lr: 0.05 });
      const checks: Promise<string>[] = [];
      const attempts: [string, () => unknown][] = [
        ['fit of the other model', () => sn.fit(b, data, { optimizer: optB, steps: 1 })],
        ['evaluate of the other model', () => sn.evaluate(b, data)],
        ['forward of the other model', () => b.forward(data.input)],
        ["the other model's optimizer.step()", () => optB.step()],
        ['mul_ on the shared weight', () => weight.mul_(2)],
        ['backward into the shared weight', () => weight.sum().backward()],
        ['mul_ on the input', () => data.input.mul_(2)],
        ['fill_ on the labels', () => data.labels.fill_(0)],
        ['requiresGrad_ on the input', () => data.input.requiresGrad_(false)],
        ['indexPut on a view of the input', () => data.input.narrow(0, 0, 2).indexPut([0], 5)],
        ['sn.nn.init on the shared weight', () => sn.nn.init.zeros_(weight)],
      ];
      const result = await sn.fit(a, data, {
        optimizer: optA,
        steps: 30,
        batchSize: 16,
        onStep: (e) => {
          if (!disturb || e.step !== 2) return;
          // Every attempt is made here, while the fit runs (an async one is refused before it returns).
          for (const [name, attempt] of attempts) {
            const outcome = (err: unknown) => (/in use by a running job/.test((err as Error).message) ? name : `${name}: ${(err as Error).message}`);
            try {
              const r = attempt();
              checks.push(r instanceof Promise ? r.then(() => `${name}: ACCEPTED`, outcome) : Promise.resolve(`${name}: ACCEPTED`));
            } catch (err) {
              checks.push(Promise.resolve(outcome(err)));
            }
          }
        },
      });
      const refused = await Promise.all(checks);
      expect(data.input.grad).toBeNull();
      // Reading is fine meanwhile, and everything works again afterwards.
      expect(Number.isFinite(data.input.sum().item())).toBe(true);
      const after = b.forward(data.input.detach());
      after.dispose();
      optB.step();
      sn.dispose([data.input, data.labels, weight]);
      optA.dispose();
      optB.dispose();
      a.dispose();
      b.dispose();
      return { loss: result.lastEpochLoss, refused, names: attempts.map(([name]) => name) };
    };
    const calm = await train(false);
    const disturbed = await train(true);
    expect(disturbed.refused).toEqual(disturbed.names);
    expect(disturbed.loss).toBe(calm.loss); // the refused calls changed nothing
  });

  it('two jobs holding the same data: the first to finish does not release it from the other', async () => {
    const controller = new AbortController();
    const g = new sn.Generator(5);
    const data = { input: sn.randn([64, 20], { generator: g }), labels: sn.randint(0, 5, [64], { generator: g }) };
    const [a, b] = [new sn.nn.Linear(20, 5), new sn.nn.Linear(20, 5)];
    const [optA, optB] = [new sn.optim.SGD(a, { lr: 0.01 }), new sn.optim.SGD(b, { lr: 0.01 })];
    let refused = '';
    const long = sn.fit(a, data, {
      optimizer: optA,
      steps: 100000,
      onStep: (e) => {
        if (e.step !== 5) return;
        // A short fit on the same data, started and finished while the long one runs.
        void sn.fit(b, data, { optimizer: optB, steps: 2 }).then(() => {
          try {
            data.input.mul_(2);
            refused = 'ACCEPTED';
          } catch (err) {
            refused = (err as Error).message;
          }
          controller.abort();
        });
      },
      signal: controller.signal,
    });
    await expect(long).rejects.toBeInstanceOf(sn.AbortError);
    expect(refused).toMatch(/in use by a running job/);
    data.input.mul_(2); // both finished: writable again
    sn.dispose([data.input, data.labels]);
    g.dispose();
    for (const o of [optA, optB]) o.dispose();
    for (const m of [a, b]) m.dispose();
  });

  it("a second fit starts from the optimizer's base learning rate, not the last scheduled one", async () => {
    const model = new sn.nn.Linear(2, 2);
    const optimizer = new sn.optim.SGD(model, { lr: 1 });
    const data = { input: sn.zeros([4, 2]), labels: sn.zeros([4], { dtype: 'int64' }) };
    const lrs: number[] = [];
    const schedule: sn.Schedule = { kind: 'step', stepSize: 1, gamma: 0.5 };
    for (let i = 0; i < 2; i++) await sn.fit(model, data, { optimizer, steps: 3, schedule, scheduleUnit: 'step', onStep: (e) => lrs.push(e.lr) });
    expect(lrs).toEqual([1, 0.5, 0.25, 1, 0.5, 0.25]);
    optimizer.lr = 0.1; // a rate set by the user becomes the new base
    await sn.fit(model, data, { optimizer, steps: 1, schedule, scheduleUnit: 'step', onStep: (e) => lrs.push(e.lr) });
    expect(lrs[6]).toBe(0.1);
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
  });

  it('more misuse: null clipping, self-referencing schedules, bad milestones and hooks', async () => {
    const model = new sn.nn.Linear(2, 2);
    const optimizer = new sn.optim.SGD(model, { lr: 1 });
    const data = { input: sn.zeros([4, 2]), labels: sn.zeros([4], { dtype: 'int64' }) };
    await expect(sn.fit(model, data, { optimizer, steps: 1, clipGradNorm: null as unknown as number })).rejects.toThrow(/clipGradNorm must be a positive number/);
    const loop = { kind: 'chain', parts: [] as sn.Schedule[] } as sn.Schedule & { parts: sn.Schedule[] };
    loop.parts.push(loop);
    await expect(sn.fit(model, data, { optimizer, steps: 1, schedule: loop })).rejects.toThrow(/nest at most 8 deep/);
    await expect(sn.fit(model, data, { optimizer, steps: 1, schedule: { kind: 'multistep', milestones: [NaN] } })).rejects.toThrow(/milestones must be non-negative integers/);
    await expect(sn.fit(model, data, { optimizer, steps: 1, hooks: [5 as unknown as { kind: 'gradNorms'; every: number }] })).rejects.toThrow(/hooks must be objects/);
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
  });

  it('checkpoint snapshots arriving after a callback failed are freed', async () => {
    const before = sn.memory().tensors;
    const model = sn.models.bnnet();
    const optimizer = new sn.optim.SGD(model, { lr: 0.1 });
    const data = dataset(16, 2);
    const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'skipnorm-drop-'));
    await expect(
      sn.fit(model, data, {
        optimizer,
        steps: 20,
        checkpoint: { dir, every: 1 },
        onStep: () => {
          throw new Error('callback failed');
        },
      }),
    ).rejects.toThrowError('callback failed');
    sn.dispose(data);
    optimizer.dispose();
    model.dispose();
    expect(sn.memory().tensors).toBe(before);
    require('node:fs').rmSync(dir, { recursive: true, force: true });
  });
});
