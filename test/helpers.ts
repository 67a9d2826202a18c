/**
 * Shared test helpers: reading golden tensors and comparing numbers the way the quality bars say;
 * jobs under a ticking timer, the CUDA devices to expect, killing a process in the middle of a write.
 */
import * as fs from 'node:fs';
import { expect } from 'vitest';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as sn from '../src/index';
import { native } from '../src/core/native';

export interface GoldenTensor {
  dtype: sn.DType;
  shape: number[];
  data: string;
}

/** Where a golden file is read from: this machine's (test/golden-setup.ts) when there is one, else the committed one. */
export function goldenSource(name: string): 'this machine' | 'committed' {
  const local = process.env.SKIPNORM_GOLDEN_DIR;
  return local && fs.existsSync(path.join(local, name)) ? 'this machine' : 'committed';
}

export function readGolden<T>(name: string): T {
  const dir = goldenSource(name) === 'this machine' ? process.env.SKIPNORM_GOLDEN_DIR! : path.join(__dirname, 'golden');
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;
}

/** The raw values of a golden tensor, as the typed array skipnorm's dataSync() gives. */
export function goldenValues(g: GoldenTensor): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array {
  const bytes = Buffer.from(g.data, 'base64');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (g.dtype) {
    case 'float64':
    case 'complex128':
      return new Float64Array(buffer);
    case 'float32':
    case 'complex64':
    case 'float16':
    case 'bfloat16':
      return new Float32Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    default:
      return new Uint8Array(buffer);
  }
}

/** A skipnorm tensor holding a golden tensor's values, in its dtype. */
export function fromGolden(g: GoldenTensor): sn.Tensor {
  const values = goldenValues(g);
  if (g.dtype === 'complex64' || g.dtype === 'complex128') {
    const pairs = sn.fromTypedArray(values as Float32Array, [...g.shape, 2]);
    const c = sn.viewAsComplex(pairs);
    pairs.dispose();
    return c;
  }
  return sn.fromTypedArray(values as Float32Array, g.shape, { dtype: g.dtype });
}

/**
 * How many times PyTorch's own float32 rounding (a golden record's `spread`: its distance from the
 * same computation in float64) a result may differ by, besides a test's fixed tolerance. The golden
 * files were made on one processor; another one (another vector width, another vendor's BLAS)
 * rounds differently, and not always by as little: under ATEN_CPU_CAPABILITY=avx2 a BNNet trained
 * 19 steps ended 9 times the spread away from the files made with AVX-512. 16 leaves room, and is
 * still far below what a wrong formula does. Where the spread is large (a trajectory that amplifies
 * rounding, a gradient that batch norm cancels), that is all float32 can promise there.
 */
export const ROUNDING_ALLOWANCE = 16;

/** A test's fixed tolerance, widened to the rounding allowance of a spread where that is larger. */
export function withRounding(tolerance: number, spread: number | null | undefined): number {
  return Math.max(tolerance, ROUNDING_ALLOWANCE * (spread ?? 0));
}

/** ||a - b|| / ||b|| over all elements (0 when both are zero). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Number(actual[i]) - Number(expected[i]);
    diff += d * d;
    norm += Number(expected[i]) ** 2;
  }
  if (norm === 0) return Math.sqrt(diff);
  return Math.sqrt(diff / norm);
}

/**
 * Runs `job` (a native job that only `abort` ends) while a 10 ms timer ticks, and aborts it from the
 * timer's `ticks`-th tick. Returns what the job settled with and how many ticks found it running
 * (a native job still active): all of them when the event loop stays free while the job works. A
 * job that blocked the loop would never see the tick that ends it (the test times out).
 */
export async function tickUntilAbort<T>(job: (signal: AbortSignal) => Promise<T>, ticks: number, ready: () => boolean = () => true): Promise<{ settled: unknown; ticks: number; whileRunning: number }> {
  const controller = new AbortController();
  let count = 0;
  let whileRunning = 0;
  const timer = setInterval(() => {
    count++;
    if (native().activeJobs() > 0) whileRunning++;
    if (count >= ticks && ready()) controller.abort();
  }, 10);
  try {
    const settled = await job(controller.signal).catch((e: unknown) => e);
    return { settled, ticks: count, whileRunning };
  } finally {
    clearInterval(timer);
  }
}

/** A Python (PYTHON, else the oracle venv) that imports these modules, or null: tests that need it are skipped without. */
export function pythonWith(modules: string): string | null {
  const candidates = [process.env.PYTHON, path.join(__dirname, '..', '.oracle-venv', 'bin', 'python')].filter(Boolean) as string[];
  for (const python of candidates) {
    if (spawnSync(python, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0) return python;
  }
  return null;
}

/**
 * How many CUDA devices LibTorch should report in this process, from sources other than LibTorch:
 * none unless the LibTorch loaded here is a CUDA build (its libtorch_cuda library is mapped into
 * the process; where there is no /proc, what build/skipnorm-build.json recorded), else the GPUs the
 * driver lists (`nvidia-smi -L`) narrowed by CUDA_VISIBLE_DEVICES as CUDA reads it (indices or UUID
 * prefixes, up to the first that names no GPU). CUDA's count of MIG devices depends on its version,
 * so where the driver lists MIG devices the count is only a bound (`exact` false). Call it once the
 * addon is loaded.
 */
export function expectedCudaDevices(): { count: number; exact: boolean; source: string } {
  let cudaBuild: boolean;
  try {
    cudaBuild = /\/lib(torch_cuda|c10_cuda)\.so/.test(fs.readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    const record = path.join(__dirname, '..', 'build', 'skipnorm-build.json');
    cudaBuild = fs.existsSync(record) && JSON.parse(fs.readFileSync(record, 'utf8')).cuda === true;
  }
  if (!cudaBuild) return { count: 0, exact: true, source: 'a LibTorch without CUDA' };
  const listing = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  if (listing.error || listing.status !== 0) return { count: 0, exact: true, source: 'no NVIDIA driver (nvidia-smi -L failed)' };
  const gpus: { uuid: string; migs: number }[] = [];
  for (const line of listing.stdout.split('\n')) {
    const gpu = /^GPU \d+: .*\(UUID: (GPU-[0-9a-fA-F-]+)\)/.exec(line);
    if (gpu) gpus.push({ uuid: gpu[1], migs: 0 });
    else if (/^\s+MIG .*\(UUID: MIG-/.test(line) && gpus.length) gpus[gpus.length - 1].migs++;
  }
  const source = `nvidia-smi -L lists ${gpus.length} GPU(s), CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES ?? '(unset)'}`;
  let visible = gpus;
  let migIds = 0;
  const setting = process.env.CUDA_VISIBLE_DEVICES;
  if (setting !== undefined) {
    visible = [];
    for (const id of setting.split(',').map((s) => s.trim())) {
      if (id.startsWith('MIG-')) {
        migIds++;
        continue;
      }
      const gpu = /^\d+$/.test(id) ? gpus[Number(id)] : id.startsWith('GPU-') ? gpus.find((g) => g.uuid.startsWith(id)) : undefined;
      if (!gpu || visible.includes(gpu)) break;
      visible.push(gpu);
    }
  }
  if (migIds > 0 || visible.some((g) => g.migs > 0)) {
    return { count: migIds + visible.reduce((n, g) => n + Math.max(1, g.migs), 0), exact: false, source: `${source}, with MIG devices` };
  }
  return { count: visible.length, exact: true, source };
}

/**
 * Kills `child` (SIGKILL) while a file whose name matches `pattern` exists in `dir`, once `ready()`
 * holds. When such a file shows up the process is frozen (SIGSTOP) and the folder read again: if
 * the file is still there, the frozen process is killed, so the kill lands while the file exists;
 * if it is gone, the process goes on (SIGCONT) and the next one is awaited. Resolves when the
 * process has exited, with the name of the file it was killed during, or null if it was not.
 */
export function killWhileFileExists(child: ChildProcess, dir: string, pattern: RegExp, ready: () => boolean = () => true): Promise<string | null> {
  const matching = () => {
    try {
      return fs.readdirSync(dir).find((f) => pattern.test(f));
    } catch {
      return undefined; // the folder is not made yet
    }
  };
  return new Promise((resolve) => {
    let killedDuring: string | null = null;
    const check = () => {
      if (killedDuring !== null || child.exitCode !== null || child.signalCode !== null || !matching() || !ready()) return;
      if (!child.kill('SIGSTOP')) return;
      if (!waitUntilStopped(child.pid!)) {
        child.kill('SIGCONT');
        return;
      }
      const name = matching();
      if (name === undefined) {
        child.kill('SIGCONT');
        return;
      }
      killedDuring = name;
      child.kill('SIGKILL');
    };
    const timer = setInterval(check, 1);
    child.on('exit', () => {
      clearInterval(timer);
      resolve(killedDuring);
    });
  });
}

// Waits (up to 5 s) until every thread of a process that was sent SIGSTOP has stopped; false if it
// did not (or exited). Where there is no /proc, waits 100 ms.
function waitUntilStopped(pid: number): boolean {
  const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const tasks = `/proc/${pid}/task`;
  if (!fs.existsSync('/proc/self/task')) {
    pause(100);
    return true;
  }
  for (let i = 0; i < 5000; i++) {
    const states: string[] = [];
    try {
      for (const t of fs.readdirSync(tasks)) {
        try {
          const stat = fs.readFileSync(path.join(tasks, t, 'stat'), 'utf8');
          states.push(stat.charAt(stat.lastIndexOf(')') + 2));
        } catch {
          // that thread has just ended
        }
      }
    } catch {
      return false;
    }
    if (states.length === 0 || states.includes('Z') || states.includes('X')) return false;
    if (states.every((s) => s === 'T')) return true;
    pause(1);
  }
  return false;
}

/**
 * Fails when lib/ (what the CLI and child processes run) is older than src/: the tests would test
 * old code. `npm test` builds it first.
 */
export function requireFreshLib(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { staleTypeScript } = require('../scripts/build-if-stale.js') as { staleTypeScript(): string[] };
  const stale = staleTypeScript();
  if (stale.length > 0) {
    throw new Error(`lib/ is older than src/ (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? `, and ${stale.length - 3} more` : ''} changed since lib/ was built): run \`npm run build:ts\` first (\`npm test\` does)`);
  }
}

/** Asserts that run() throws a TypeError or TorchError whose message matches (the misuse tables of the tests). */
export function expectTypedError(run: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'no error').toBeInstanceOf(Error);
  expect(caught instanceof TypeError || caught instanceof sn.TorchError).toBe(true);
  expect((caught as Error).message).toMatch(message);
}
