/**
 * Collectives across processes on c10d over Gloo, on loopback: every collective skipnorm uses is
 * proven here with 2 real processes (all-reduce sum/max/avg, broadcast, barrier), and a rank that
 * dies makes the other's collective fail with a clear error rather than hang.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as sn from '../src/index';

const worker = path.join(__dirname, 'fixtures', 'distributed-worker.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
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

  it('a rank that dies makes the other fail with a clear error, not hang', async () => {
    const [survivor, dead] = await runRanks(2, 'peer-dies');
    expect(dead.code).toBe(3);
    expect(survivor.code, survivor.stderr).toBe(0);
    expect(survivor.out!.error).toMatch(/^TorchError: distributed\.allReduce: .+/);
    expect(survivor.out!.seconds as number).toBeLessThan(20);
  }, 60_000);

  it('misuse: collectives before init, bad ranks', async () => {
    expect(sn.distributed.isInitialized()).toBe(false);
    await expect(sn.distributed.barrier()).rejects.toThrow(/not initialised: call distributed.init first/);
    expect(() => sn.distributed.init({ rank: 2, worldSize: 2 })).toThrow(/rank must be an integer in 0..1/);
  });
});
