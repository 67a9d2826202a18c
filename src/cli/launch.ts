/**
 * `--nproc N` for the training command: this process becomes a launcher that starts N workers
 * (the same command, told their rank through SKIPNORM_DIST_* variables), forwards rank 0's output,
 * and waits. When a worker fails, the others get a grace period to notice (their collectives
 * fail with a clear error) before they are stopped; the launcher then exits non-zero naming who.
 * Several machines: each runs the launcher with --nnodes, --node-rank, --master-addr, --master-port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { UsageError } from './model-flags';

export interface WorkerEnv {
  rank: number;
  worldSize: number;
  /** Workers on this machine (they share its cores). */
  localSize: number;
  masterAddr: string;
  masterPort: number;
}

/** This process's rank when it is a worker started by a launcher, else null. */
export function workerEnv(): WorkerEnv | null {
  const rank = process.env.SKIPNORM_DIST_RANK;
  if (rank === undefined) return null;
  return {
    rank: Number(rank),
    worldSize: Number(process.env.SKIPNORM_DIST_WORLD_SIZE),
    localSize: Number(process.env.SKIPNORM_DIST_LOCAL_SIZE ?? 1),
    masterAddr: process.env.SKIPNORM_DIST_MASTER_ADDR ?? '127.0.0.1',
    masterPort: Number(process.env.SKIPNORM_DIST_MASTER_PORT ?? 29500),
  };
}

export interface LaunchFlags {
  nproc?: string;
  nnodes?: string;
  'node-rank'?: string;
  'master-addr'?: string;
  'master-port'?: string;
}

const positive = (v: string | undefined, flag: string, fallback: number, min = 1) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got '${v}'`);
  return n;
};

/** Starts the workers and resolves with the exit code for this process. */
export function launch(flags: LaunchFlags, argv: string[], graceMs = 15000): Promise<number> {
  const nproc = positive(flags.nproc, 'nproc', 1);
  const nnodes = positive(flags.nnodes, 'nnodes', 1);
  const nodeRank = positive(flags['node-rank'], 'node-rank', 0, 0);
  if (nodeRank >= nnodes) throw new UsageError(`--node-rank must be below --nnodes (${nnodes})`);
  const masterPort = positive(flags['master-port'], 'master-port', 29500);
  if (masterPort > 65535) throw new UsageError('--master-port must be at most 65535');
  const masterAddr = flags['master-addr'] ?? '127.0.0.1';
  const worldSize = nproc * nnodes;
  const children: { rank: number; child: ChildProcess; code?: number | null; signal?: NodeJS.Signals | null }[] = [];
  return new Promise((resolve) => {
    let failed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (!children.every((c) => c.code !== undefined || c.signal !== undefined)) return;
      if (timer) clearTimeout(timer);
      const bad = children.filter((c) => c.code !== 0);
      if (bad.length) {
        process.stderr.write(`skipnorm: ${bad.map((c) => `rank ${c.rank} ${c.signal ? `was killed by ${c.signal}` : `exited with code ${c.code}`}`).join('; ')}\n`);
      }
      resolve(bad.length ? 1 : 0);
    };
    for (let local = 0; local < nproc; local++) {
      const rank = nodeRank * nproc + local;
      const child = spawn(process.execPath, [process.argv[1], ...argv], {
        stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe'],
        env: { ...process.env, SKIPNORM_DIST_RANK: String(rank), SKIPNORM_DIST_WORLD_SIZE: String(worldSize), SKIPNORM_DIST_LOCAL_SIZE: String(nproc), SKIPNORM_DIST_MASTER_ADDR: masterAddr, SKIPNORM_DIST_MASTER_PORT: String(masterPort) },
      });
      const entry: (typeof children)[number] = { rank, child };
      children.push(entry);
      process.stderr.write(`skipnorm: rank ${rank} of ${worldSize} is process ${child.pid}\n`);
      // Rank 0's progress as is; the others' messages (errors) prefixed with their rank.
      child.stderr!.on('data', (d: Buffer) => {
        process.stderr.write(rank === 0 ? d : d.toString().replace(/^(?=.)/gm, `[rank ${rank}] `));
      });
      child.on('exit', (code, signal) => {
        entry.code = code;
        entry.signal = signal;
        if (code !== 0 && !failed) {
          failed = true;
          // The others should fail on their own within the collective timeout; then stop them.
          timer = setTimeout(() => children.forEach((c) => c.code === undefined && c.signal === undefined && c.child.kill('SIGTERM')), graceMs);
        }
        finish();
      });
    }
  });
}
