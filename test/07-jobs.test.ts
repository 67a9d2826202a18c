/**
 * Layer 6: long work runs as native jobs on skipnorm's worker threads: results as promises,
 * progress through thread-safe functions, cancellation by AbortSignal, the event loop free.
 */
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';
import { native } from '../src/core/native';
import { tickUntilAbort } from './helpers';

function relative(a: sn.Tensor, b: sn.Tensor): number {
  return sn.scope(() => a.sub(b).norm().item() / b.norm().item());
}

describe('native jobs', () => {
  it('async decompositions equal the sync ones', async () => {
    await sn.scope(async () => {
      const g = new sn.Generator(3);
      const a = sn.randn([60, 40], { generator: g, dtype: 'float64' });
      const spd = a.t().matmul(a);
      expect((await sn.linalg.svdvalsAsync(a)).equal(sn.linalg.svdvals(a))).toBe(true);
      const svd = await sn.linalg.svdAsync(a, false);
      expect(svd.S.equal(sn.linalg.svd(a, false).S)).toBe(true);
      expect(relative(svd.U.mul(svd.S).matmul(svd.Vh), a)).toBeLessThan(1e-12);
      const eig = await sn.linalg.eighAsync(spd);
      expect(eig.eigenvalues.equal(sn.linalg.eigh(spd).eigenvalues)).toBe(true);
      const { Q, R } = await sn.linalg.qrAsync(a);
      expect(relative(Q.matmul(R), a)).toBeLessThan(1e-12);
      expect((await sn.linalg.matmulAsync(a, a.t())).equal(a.matmul(a.t()))).toBe(true);
      g.dispose();
    });
  });

  it('a failing job rejects with a TorchError naming the operation', async () => {
    using v = sn.ones([3]);
    await expect(sn.linalg.svdvalsAsync(v)).rejects.toThrowError(/^svdvals: .*at least 2 dimensions/);
    await expect(sn.linalg.svdvalsAsync(v)).rejects.toBeInstanceOf(sn.TorchError);
  });

  it('power iteration finds the top singular value and reports progress in order', async () => {
    await sn.scope(async () => {
      const g = new sn.Generator(5);
      const a = sn.randn([80, 50], { generator: g, dtype: 'float64' });
      const reports: sn.linalg.PowerIterationProgress[] = [];
      const result = await sn.linalg.powerIteration(a, { iterations: 5000, tol: 1e-12, progressEvery: 5, generator: g, onProgress: (p) => reports.push(p) });
      const exact = sn.linalg.svdvals(a).index(0).item();
      expect(Math.abs(result.sigma - exact) / exact).toBeLessThan(1e-6);
      expect(result.converged).toBe(true);
      expect(reports.length).toBeGreaterThan(2);
      reports.forEach((r, i) => expect(r.iteration).toBe(5 * (i + 1)));
      expect(result.vector.shape).toEqual([50]);
      g.dispose();
    });
  });

  it('an AbortSignal stops a running job, which rejects with AbortError', async () => {
    await sn.scope(async () => {
      const a = sn.randn([300, 300]);
      const controller = new AbortController();
      let last = 0;
      const job = sn.linalg.powerIteration(a, {
        iterations: 1_000_000_000,
        tol: 0,
        progressEvery: 1,
        signal: controller.signal,
        onProgress: (p) => {
          last = p.iteration;
          if (p.iteration === 20) controller.abort();
        },
      });
      await expect(job).rejects.toBeInstanceOf(sn.AbortError);
      expect(last).toBeGreaterThanOrEqual(20);
      expect(native().activeJobs()).toBe(0); // stopped, not merely abandoned
    });
  });

  it('an already aborted signal rejects at once', async () => {
    using a = sn.eye(3);
    await expect(sn.linalg.powerIteration(a, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(sn.AbortError);
  });

  it('a throwing progress callback cancels the job and rejects with its error', async () => {
    using a = sn.randn([100, 100]);
    const job = sn.linalg.powerIteration(a, {
      iterations: 1_000_000_000,
      tol: 0,
      progressEvery: 1,
      onProgress: (p) => {
        if (p.iteration === 3) throw new Error('callback failed');
      },
    });
    await expect(job).rejects.toThrowError('callback failed');
  });

  it('a short job completes while a long one runs (no head-of-line blocking)', async () => {
    await sn.scope(async () => {
      const big = sn.randn([400, 400]);
      const controller = new AbortController();
      const long = sn.linalg.powerIteration(big, { iterations: 1_000_000_000, tol: 0, signal: controller.signal });
      const small = sn.arange(0, 10, 1, { dtype: 'float64' });
      const values = await small.data();
      expect(Array.from(values)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      controller.abort();
      await expect(long).rejects.toBeInstanceOf(sn.AbortError);
    });
  });

  it('timers keep firing while a native job runs (the event loop stays free)', async () => {
    await sn.scope(async () => {
      const a = sn.randn([1500, 1500]);
      // The job never ends by itself: only the timer's 20th tick ends it, and only a free event loop
      // lets the timer tick. (How late the ticks come: npm run bench:event-loop.)
      const { settled, whileRunning } = await tickUntilAbort((signal) => sn.linalg.powerIteration(a, { iterations: 1_000_000_000, tol: 0, signal }), 20);
      expect(settled).toBeInstanceOf(sn.AbortError);
      expect(whileRunning).toBeGreaterThanOrEqual(20);
    });
  });

  it("a job runs under the caller's grad mode, so async results equal sync ones", async () => {
    await sn.scope(async () => {
      const a = sn.randn([4, 4]).requiresGrad_();
      expect((await sn.linalg.svdvalsAsync(a)).requiresGrad).toBe(true);
      const previous = sn.setGradEnabled(false);
      try {
        expect((await sn.linalg.svdvalsAsync(a)).requiresGrad).toBe(false);
      } finally {
        sn.setGradEnabled(previous);
      }
    });
  });

  it('a progress callback that throws after the job finished still rejects the promise', async () => {
    using a = sn.randn([2, 2]);
    const job = sn.linalg.powerIteration(a, {
      iterations: 5,
      tol: 0,
      progressEvery: 5,
      onProgress: () => {
        throw new Error('late failure');
      },
    });
    await expect(job).rejects.toThrowError('late failure');
  });

  it('jobs keep working after a worker thread that used skipnorm exits', async () => {
    const { Worker } = await import('node:worker_threads');
    const root = require('node:path').resolve(__dirname, '..');
    await new Promise<void>((resolve, reject) => {
      const w = new Worker(`const sn = require(${JSON.stringify(root)}); sn.ones([2]).data().then(() => process.exit(0));`, { eval: true });
      w.on('error', reject);
      w.on('exit', () => resolve());
    });
    using t = sn.ones([3]);
    expect(Array.from(await t.data())).toEqual([1, 1, 1]);
  });

  it('exiting while fit runs (process.exit, an uncaught throw) ends with the intended status, never a crash', async () => {
    const { spawn } = await import('node:child_process');
    const root = require('node:path').resolve(__dirname, '..');
    // fit runs its steps on a worker thread inside LibTorch when the main thread exits.
    const script = (exit: string) => `
      const sn = require(${JSON.stringify(root)});
      const model = sn.models.bnnet({ variant: 'c' });
      const x = sn.randn([32, 1, 28, 28]);
      const y = sn.randint(0, 10, [32]);
      const optimizer = new sn.optim.SGD(model, { lr: 0.01 });
      let steps = 0;
      sn.fit(model, { input: x, labels: y }, { optimizer, steps: 100000, onStep: () => { if (++steps === 3) setTimeout(() => { ${exit} }, 20); } });`;
    const run = (exit: string) =>
      new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['-e', script(exit)], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
      });
    for (const [exit, status] of [['process.exit(0)', 0], ['process.exit(0)', 0], ['process.exit(3)', 3], ["throw new Error('boom')", 1]] as const) {
      const r = await run(exit);
      expect(r.signal, `${exit}: ${r.stderr}`).toBeNull();
      expect(r.code, `${exit}: ${r.stderr}`).toBe(status);
    }
  });

  it('setNumThreads sets the jobs\' threads; the JavaScript thread keeps one unless asked', () => {
    const before = sn.getNumThreads();
    expect(sn.getMainThreadNumThreads()).toBe(1);
    sn.setNumThreads(1);
    expect(sn.info().threads).toBe(1);
    expect(sn.getNumThreads()).toBe(1);
    expect(sn.getMainThreadNumThreads()).toBe(1);
    sn.setNumThreads(before);
    expect(sn.info().threads).toBe(before);
    sn.setMainThreadNumThreads(2);
    expect(sn.info().mainThreadThreads).toBe(2);
    sn.setMainThreadNumThreads(1);
  });
});
