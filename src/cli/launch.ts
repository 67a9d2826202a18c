/**
 * `--nproc N` for the training command: this process becomes a launcher that starts N workers
 * (the same command, told their rank through SKIPNORM_DIST_* variables), forwards rank 0's output,
 * and waits. When a worker fails, the others get a grace period to notice (their collectives
 * fail with a clear error) before they are stopped; the launcher then exits non-zero naming who.
 * Several machines: each runs the launcher with --nnodes, --node-rank, --master-addr, --master-port.
 * SIGINT and SIGTERM sent to the launcher are passed on to its workers.
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

/**
 * Starts the workers and resolves with the exit code for this process. `graceMs`: how long the
 * others get to fail on their own once one has failed; `executable`: the program each worker runs
 * (this Node.js).
 */
export function launch(flags: LaunchFlags, argv: string[], options: { graceMs?: number; executable?: string } = {}): Promise<number> {
  const { graceMs = 15000, executable = process.execPath } = options;
  const nproc = positive(flags.nproc, 'nproc', 1);
  const nnodes = positive(flags.nnodes, 'nnodes', 1);
  const nodeRank = positive(flags['node-rank'], 'node-rank', 0, 0);
  if (nodeRank >= nnodes) throw new UsageError(`--node-rank must be below --nnodes (${nnodes})`);
  const masterPort = positive(flags['master-port'], 'master-port', 29500);
  if (masterPort > 65535) throw new UsageError('--master-port must be at most 65535');
  const masterAddr = flags['master-addr'] ?? '127.0.0.1';
  const worldSize = nproc * nnodes;
  // code and signal stay undefined while the process runs (both null: it never started).
  const children: { rank: number; child: ChildProcess; code?: number | null; signal?: NodeJS.Signals | null }[] = [];
  return new Promise((resolve) => {
    let failed = false;
    let timer: NodeJS.Timeout | undefined;
    let interrupted: NodeJS.Signals | undefined;
    const running = () => children.filter((c) => c.code === undefined && c.signal === undefined);
    // Ctrl-C or a scheduler's SIGTERM reaches the launcher: pass it on, then wait for the workers.
    const forward = (signal: NodeJS.Signals) => {
      interrupted = signal;
      for (const c of running()) c.child.kill(signal);
    };
    const onSignal = { SIGINT: () => forward('SIGINT'), SIGTERM: () => forward('SIGTERM') };
    process.on('SIGINT', onSignal.SIGINT);
    process.on('SIGTERM', onSignal.SIGTERM);
    const finish = () => {
      if (running().length > 0) return;
      if (timer) clearTimeout(timer);
      process.removeListener('SIGINT', onSignal.SIGINT);
      process.removeListener('SIGTERM', onSignal.SIGTERM);
      const bad = children.filter((c) => c.code !== 0);
      if (bad.length) {
        process.stderr.write(`skipnorm: ${bad.map((c) => `rank ${c.rank} ${c.signal ? `was killed by ${c.signal}` : c.code === null ? 'could not start' : `exited with code ${c.code}`}`).join('; ')}\n`);
      }
      // Interrupted: the conventional status of a process ended by that signal.
      resolve(interrupted ? 128 + (interrupted === 'SIGINT' ? 2 : 15) : bad.length ? 1 : 0);
    };
    const failure = () => {
      if (failed) return;
      failed = true;
      // The others should fail on their own within the collective timeout; then stop them.
      timer = setTimeout(() => running().forEach((c) => c.child.kill('SIGTERM')), graceMs);
    };
    for (let local = 0; local < nproc; local++) {
      const rank = nodeRank * nproc + local;
      const child = spawn(executable, [process.argv[1], ...argv], {
        stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe'],
        env: { ...process.env, SKIPNORM_DIST_RANK: String(rank), SKIPNORM_DIST_WORLD_SIZE: String(worldSize), SKIPNORM_DIST_LOCAL_SIZE: String(nproc), SKIPNORM_DIST_MASTER_ADDR: masterAddr, SKIPNORM_DIST_MASTER_PORT: String(masterPort) },
      });
      const entry: (typeof children)[number] = { rank, child };
      children.push(entry);
      if (child.pid !== undefined) process.stderr.write(`skipnorm: rank ${rank} of ${worldSize} is process ${child.pid}\n`);
      // Rank 0's progress as is; the others' messages (errors) prefixed with their rank.
      child.stderr?.on('data', (d: Buffer) => {
        process.stderr.write(rank === 0 ? d : d.toString().replace(/^(?=.)/gm, `[rank ${rank}] `));
      });
      // The process could not be started (no memory, too many processes, ...).
      child.on('error', (e) => {
        if (entry.code !== undefined || entry.signal !== undefined) return;
        process.stderr.write(`skipnorm: rank ${rank} could not be started: ${e.message}\n`);
        if (child.pid !== undefined) return; // it did start: its 'exit' follows
        entry.code = null;
        entry.signal = null;
        failure();
        finish();
      });
      child.on('exit', (code, signal) => {
        entry.code = code;
        entry.signal = signal;
        if (code !== 0) failure();
        finish();
      });
    }
  });
}
