/**
 * Collectives across processes on c10d over Gloo, on loopback: every collective skipnorm uses is
 * proven here with 2 real processes (all-reduce sum/max/avg, broadcast, barrier), and a rank that
 * dies makes the other's collective fail with a clear error rather than hang.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as sn from '../src/index';

const worker = path.join(__dirname, 'fixtures', 'distributed-worker.js');
const root = path.resolve(__dirname, '..');
const cliPath = path.join(root, 'lib', 'cli', 'main.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// 16 random 28x28 images and labels for `skipnorm train --data`, seeded.
function writeTrainingData(dir: string, seed: number): string {
  sn.manualSeed(seed);
  const input = sn.rand([16, 1, 28, 28]);
  const labels = sn.randint(0, 10, [16]);
  const file = path.join(dir, 'data.safetensors');
  sn.writeSafetensors(file, { input, labels });
  sn.dispose([input, labels]);
  return file;
}

// Two trainings' weights agree: the relative error of all parameters and running statistics
// together under 1e-5; each tensor alone under 1e-4 (conv.bias, whose gradient is almost cancelled
// by the batch norm after it, is pure float rounding and sits near 1e-5 on its own).
function expectSameTraining(a: Record<string, sn.Tensor>, x: Record<string, sn.Tensor>, what: string): void {
  expect(Object.keys(x).sort(), what).toEqual(Object.keys(a).sort());
  let diff = 0;
  let norm = 0;
  for (const k of Object.keys(a)) {
    if (a[k].dtype !== 'float32') {
      expect(x[k].equal(a[k]), `${what} ${k}`).toBe(true); // num_batches_tracked
      continue;
    }
    const d = a[k].sub(x[k]).norm().item();
    const n = a[k].norm().item();
    expect(d / Math.max(1e-12, n), `${what} ${k}`).toBeLessThan(1e-4);
    diff += d * d;
    norm += n * n;
  }
  expect(Math.sqrt(diff / norm), what).toBeLessThan(1e-5);
}

// Two network namespaces joined by a veth pair stand in for two machines: a process in each sees
// only its own address (10.231.N.1 or .2) and loopback. Null where namespaces cannot be made (not
// root, or no iproute2).
function makeTwoMachines(): { exec: (host: 0 | 1, args: string[]) => ReturnType<typeof spawn>; address: (host: 0 | 1) => string; remove: () => void } | null {
  const id = process.pid % 100000;
  const names = [`skipnorm-a-${id}`, `skipnorm-b-${id}`];
  const links = [`sna${id}`, `snb${id}`];
  const subnet = `10.231.${id % 250}`;
  const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
  const remove = () => names.forEach((n) => ip('netns', 'del', n));
  remove();
  const steps = [
    ['netns', 'add', names[0]],
    ['netns', 'add', names[1]],
    ['link', 'add', links[0], 'type', 'veth', 'peer', 'name', links[1]],
    ['link', 'set', links[0], 'netns', names[0]],
    ['link', 'set', links[1], 'netns', names[1]],
    ...[0, 1].flatMap((h) => [
      ['-n', names[h], 'addr', 'add', `${subnet}.${h + 1}/24`, 'dev', links[h]],
      ['-n', names[h], 'link', 'set', links[h], 'up'],
      ['-n', names[h], 'link', 'set', 'lo', 'up'],
    ]),
  ];
  for (const step of steps) {
    const r = ip(...step);
    if (r.status !== 0) {
      remove();
      ip('link', 'del', links[0]);
      return null;
    }
  }
  return {
    exec: (host, args) => spawn('ip', ['netns', 'exec', names[host], ...args], { cwd: root }),
    address: (host) => `${subnet}.${host + 1}`,
    remove,
  };
}

async function runRanks(worldSize: number, scenario: string): Promise<{ code: number | null; out: Record<string, unknown> | null; stderr: string }[]> {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: worldSize }, (_, rank) => {
      return new Promise<{ code: number | null; out: Record<string, unknown> | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [worker, String(rank), String(worldSize), String(port), scenario], { cwd: path.resolve(__dirname, '..') });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => {
          const line = stdout.trim().split('\n').pop();
          resolve({ code, out: line ? JSON.parse(line) : null, stderr });
        });
      });
    }),
  );
}

describe('distributed (c10d over Gloo, loopback)', () => {
  it('2 processes: all-reduce (sum, max, avg), broadcast and barrier give the right values on every rank', async () => {
    const ranks = await runRanks(2, 'collectives');
    for (const [rank, r] of ranks.entries()) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.out).toEqual({ rank, worldSize: 2, sum: [3, 30, -1], max: [1, 0], avg: [1], broadcast: [0, 1, 2, 3], barrier: true });
    }
  }, 60_000);

  it('fit on a Dataset with distributed: each rank trains on its shard, and the replicas stay identical', async () => {
    const [r0, r1] = await runRanks(2, 'fit-dataset');
    for (const r of [r0, r1]) expect(r.code, r.stderr).toBe(0);
    expect(r0.out!.checksum).toBe(r1.out!.checksum); // same weights, bit for bit, though initialised differently
    expect(r0.out!.losses).not.toEqual(r1.out!.losses); // each saw its own shard
    expect((r0.out!.losses as number[]).length).toBe(4);
  }, 60_000);

  it('a rank that dies makes the other fail with a clear error, not hang', async () => {
    const [survivor, dead] = await runRanks(2, 'peer-dies');
    expect(dead.code).toBe(3);
    expect(survivor.code, survivor.stderr).toBe(0);
    expect(survivor.out!.error).toMatch(/^TorchError: distributed\.allReduce: .+/);
  }, 60_000);

  it('misuse: collectives before init, bad ranks', async () => {
    expect(sn.distributed.isInitialized()).toBe(false);
    await expect(sn.distributed.barrier()).rejects.toThrow(/not initialised: call distributed.init first/);
    await expect(sn.distributed.init({ rank: 2, worldSize: 2 })).rejects.toThrow(/rank must be an integer in 0..1/);
    await expect(sn.distributed.init({ rank: 0, worldSize: 1, backend: 'mpi' as never })).rejects.toThrow(/backend must be 'gloo' or 'nccl', got 'mpi'/);
    if (!sn.cuda.isAvailable()) {
      // NCCL needs a CUDA build; the failed init leaves no group behind, and Gloo still joins.
      await expect(sn.distributed.init({ rank: 0, worldSize: 1, masterPort: await freePort(), backend: 'nccl' })).rejects.toThrow(/backend 'nccl' needs a CUDA build of skipnorm with NCCL/);
      expect(sn.distributed.isInitialized()).toBe(false);
      await sn.distributed.init({ rank: 0, worldSize: 1, masterPort: await freePort() });
      const t = sn.ones([3]);
      await sn.distributed.allReduce(t, { op: 'avg' });
      expect(Array.from(t.dataSync())).toEqual([1, 1, 1]);
      t.dispose();
      sn.distributed.destroy();
    }
  });

  it('skipnorm train --nproc 2 --sync-bn: 10 steps end with the parameters of one process on the combined batch (1e-5)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-ddp-'));
    try {
      const data = writeTrainingData(dir, 3);
      const common = ['train', '--model', 'bnnet', '--variant', 'c', '--data', data, '--steps', '10', '--full-batch', '--lr', '0.1', '--momentum', '0.9', '--seed', '1'];
      const one = spawnSync(process.execPath, [cliPath, ...common, '--out', path.join(dir, 'one.safetensors')], { cwd: root, encoding: 'utf8' });
      expect(one.status, one.stderr).toBe(0);
      const port = String(await freePort());
      const two = spawnSync(process.execPath, [cliPath, ...common, '--out', path.join(dir, 'two.safetensors'), '--nproc', '2', '--sync-bn', '--master-port', port], { cwd: root, encoding: 'utf8' });
      expect(two.status, two.stderr).toBe(0);
      expect(two.stderr).toMatch(/rank 1 of 2 is process \d+/);
      const a = sn.readSafetensors(path.join(dir, 'one.safetensors')).tensors;
      const b = sn.readSafetensors(path.join(dir, 'two.safetensors')).tensors;
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
      const closeTo = (x: Record<string, sn.Tensor>, what: string) => expectSameTraining(a, x, what);
      closeTo(b, '--nproc 2');
      // The same as two machines (--nnodes 2, one launcher per node rank, here both on loopback).
      const nodesPort = String(await freePort());
      const nodes = await Promise.all(
        [0, 1].map(
          (nodeRank) =>
            new Promise<{ code: number | null; stderr: string }>((resolve) => {
              const extra = ['--nproc', '1', '--nnodes', '2', '--node-rank', String(nodeRank), '--master-addr', '127.0.0.1', '--master-port', nodesPort, '--sync-bn'];
              const child = spawn(process.execPath, [cliPath, ...common, '--out', path.join(dir, `nodes-${nodeRank}.safetensors`), ...extra], { cwd: root });
              let stderr = '';
              child.stderr.on('data', (d) => (stderr += d));
              child.on('exit', (code) => resolve({ code, stderr }));
            }),
        ),
      );
      for (const n of nodes) expect(n.code, n.stderr).toBe(0);
      expect(fs.existsSync(path.join(dir, 'nodes-1.safetensors'))).toBe(false); // rank 0 writes
      // Each node's worker has all the cores (two threads, not one): equal up to float rounding.
      const d = sn.readSafetensors(path.join(dir, 'nodes-0.safetensors')).tensors;
      closeTo(d, '--nnodes 2');
      sn.dispose(Object.values(d));
      // Without synchronised batch norm each rank normalises its own half: the result differs.
      const plain = spawnSync(process.execPath, [cliPath, ...common, '--out', path.join(dir, 'plain.safetensors'), '--nproc', '2', '--master-port', String(await freePort())], { cwd: root, encoding: 'utf8' });
      expect(plain.status, plain.stderr).toBe(0);
      const c = sn.readSafetensors(path.join(dir, 'plain.safetensors')).tensors;
      expect(a['lin.weight'].sub(c['lin.weight']).norm().item() / a['lin.weight'].norm().item()).toBeGreaterThan(1e-4);
      sn.dispose([...Object.values(a), ...Object.values(b), ...Object.values(c)]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  const machines = process.getuid?.() === 0 ? makeTwoMachines() : null;
  if (!machines) console.warn('skipnorm: network namespaces cannot be made here (needs root and iproute2): the two-machine tests are skipped');
  afterAll(() => machines?.remove());

  it.runIf(machines)('two machines (network namespaces): train --nnodes 2 --sync-bn equals one process on the combined batch; a killed rank ends the run clearly', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-nodes-'));
    const m = machines!;
    try {
      const data = writeTrainingData(dir, 3);
      const common = ['train', '--model', 'bnnet', '--variant', 'c', '--data', data, '--full-batch', '--lr', '0.1', '--momentum', '0.9', '--seed', '1'];
      const one = spawnSync(process.execPath, [cliPath, ...common, '--steps', '10', '--out', path.join(dir, 'one.safetensors')], { cwd: root, encoding: 'utf8' });
      expect(one.status, one.stderr).toBe(0);
      // One launcher per machine; the master address is the first machine's, which the second reaches over the veth.
      const node = (host: 0 | 1, extra: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void) =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const flags = ['--nproc', '1', '--nnodes', '2', '--node-rank', String(host), '--master-addr', m.address(0), '--master-port', '29511', '--sync-bn'];
          const child = m.exec(host, [process.execPath, cliPath, ...common, ...flags, ...extra]);
          let stderr = '';
          child.stderr!.on('data', (d: Buffer) => {
            stderr += d;
            onStderr?.(stderr, child);
          });
          child.on('exit', (code) => resolve({ code, stderr }));
        });
      const out = path.join(dir, 'two-machines.safetensors');
      const runs = await Promise.all([node(0, ['--steps', '10', '--out', out]), node(1, ['--steps', '10', '--out', out])]);
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      const a = sn.readSafetensors(path.join(dir, 'one.safetensors')).tensors;
      const b = sn.readSafetensors(out).tensors;
      expectSameTraining(a, b, 'two machines');
      sn.dispose([...Object.values(a), ...Object.values(b)]);
      // The second machine's worker is killed mid-training: the first machine's run ends with a clear error, no hang.
      let killing = false;
      const [first, second] = await Promise.all([
        node(0, ['--steps', '1000000']),
        node(1, ['--steps', '1000000'], (text) => {
          const pid = /rank 1 of 2 is process (\d+)/.exec(text)?.[1];
          if (!pid || killing) return;
          killing = true;
          setTimeout(() => process.kill(Number(pid), 'SIGKILL'), 3000);
        }),
      ]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/rank 1 was killed by SIGKILL/);
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(/TorchError: fit: .*(failed on rank 0 of 2|Connection|closed|reset)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('the launcher: workers that cannot start are a clear failure; SIGTERM and SIGINT reach the workers', async () => {
    const { launch } = await import('../src/cli/launch');
    const messages: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => messages.push(String(chunk)) > 0) as typeof process.stderr.write;
    let code: number;
    try {
      code = await launch({ nproc: '2', 'master-port': String(await freePort()) }, ['info'], { graceMs: 100, executable: path.join(os.tmpdir(), 'no-such-node-binary') });
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(1);
    expect(messages.join('')).toMatch(/rank 0 could not be started: spawn .*no-such-node-binary ENOENT/);
    expect(messages.join('')).toMatch(/rank 0 could not start; rank 1 could not start/);
    // A signal to the launcher goes on to its workers, which stop; the launcher exits as signalled.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-ddp-signal-'));
    try {
      const data = writeTrainingData(dir, 6);
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const launcher = spawn(process.execPath, [cliPath, 'train', '--model', 'bnnet', '--data', data, '--steps', '1000000', '--full-batch', '--lr', '0.01', '--nproc', '2', '--master-port', String(await freePort())], { cwd: root });
        let stderr = '';
        const pids: number[] = [];
        const exited = new Promise<number | null>((resolve) => launcher.on('exit', (c) => resolve(c)));
        await new Promise<void>((resolve) => {
          launcher.stderr.on('data', (d: Buffer) => {
            stderr += d;
            for (const m of stderr.matchAll(/rank \d of 2 is process (\d+)/g)) if (!pids.includes(Number(m[1]))) pids.push(Number(m[1]));
            if (pids.length === 2 && /epoch/.test(stderr)) resolve();
          });
        });
        launcher.kill(signal);
        expect(await exited, stderr).toBe(signal === 'SIGTERM' ? 143 : 130);
        const alive = (pid: number) => {
          try {
            process.kill(pid, 0);
            return true;
          } catch {
            return false;
          }
        };
        expect(pids.filter(alive), `${signal}: workers left running`).toEqual([]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('rank 0 alone writes checkpoints, and a 2-process run resumed from them ends as an uninterrupted one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-ddp-ckpt-'));
    try {
      const data = writeTrainingData(dir, 4);
      const train = async (steps: number, out: string, extra: string[]) => {
        const r = spawnSync(process.execPath, [cliPath, 'train', '--model', 'bnnet', '--variant', 'b', '--data', data, '--steps', String(steps), '--batch-size', '8', '--lr', '0.05', '--momentum', '0.9', '--seed', '2', '--nproc', '2', '--sync-bn', '--master-port', String(await freePort()), '--out', path.join(dir, out), ...extra], { cwd: root, encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
      };
      await train(8, 'straight.safetensors', []);
      const ckpt = path.join(dir, 'ckpt');
      await train(8, 'first.safetensors', ['--checkpoint-dir', ckpt, '--checkpoint-every', '2', '--keep', '5']);
      expect(sn.listCheckpoints(ckpt).map((c) => c.step)).toEqual([2, 4, 6, 8]); // one writer: no duplicates, no clashes
      expect(fs.readdirSync(ckpt).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      // As if the run had stopped after step 4.
      for (const c of sn.listCheckpoints(ckpt)) if (c.step > 4) fs.rmSync(c.file);
      await train(8, 'resumed.safetensors', ['--checkpoint-dir', ckpt, '--checkpoint-every', '2', '--keep', '5', '--resume']);
      const a = sn.readSafetensors(path.join(dir, 'straight.safetensors')).tensors;
      const b = sn.readSafetensors(path.join(dir, 'resumed.safetensors')).tensors;
      for (const k of Object.keys(a)) expect(b[k].equal(a[k]), k).toBe(true);
      sn.dispose([...Object.values(a), ...Object.values(b)]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('kill-and-resume soak (short; npm run soak does 20): SIGKILLed 6 times and resumed, a 2-process run with a loader ends bit-identical', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { soak } = require('../scripts/soak.js') as { soak(o: { kills: number }): Promise<{ kills: number; midTraining: number; midSave: number; identical: boolean; stray: string[] }> };
    const report = await soak({ kills: 6 });
    expect(report.kills).toBe(6);
    expect(report.midTraining).toBeGreaterThanOrEqual(1); // at least one kill landed between training steps
    expect(report.midSave).toBeGreaterThanOrEqual(1); // and one in the middle of writing a checkpoint
    expect(report.identical).toBe(true);
    expect(report.stray).toEqual([]);
  }, 300_000);

  it('killing one worker ends the run with a clear error from the other, not a hang', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-ddp-kill-'));
    try {
      const data = writeTrainingData(dir, 5);
      const port = String(await freePort());
      const args = ['train', '--model', 'bnnet', '--variant', 'c', '--data', data, '--steps', '1000000', '--full-batch', '--lr', '0.01', '--nproc', '2', '--master-port', port];
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const launcher = spawn(process.execPath, [cliPath, ...args], { cwd: root });
        let stderr = '';
        let killed = false;
        launcher.stderr.on('data', (d) => {
          stderr += d;
          const m = /rank 1 of 2 is process (\d+)/.exec(stderr);
          if (m && !killed) {
            killed = true;
            setTimeout(() => process.kill(Number(m[1]), 'SIGKILL'), 2000); // mid-training
          }
        });
        launcher.on('exit', (code) => resolve({ code, stderr }));
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/rank 1 was killed by SIGKILL/);
      expect(result.stderr).toMatch(/TorchError: fit: .*(failed on rank 0 of 2|Connection|closed|reset)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
