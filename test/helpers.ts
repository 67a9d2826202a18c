/** Shared test helpers: reading golden tensors and comparing numbers the way the quality bars say. */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as sn from '../src/index';

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

/** Runs `work` while a 10 ms timer ticks; returns the worst lag (ms) and the number of ticks. */
export async function measureLag<T>(work: () => Promise<T>): Promise<{ result: T; maxLag: number; ticks: number; seconds: number }> {
  let maxLag = 0;
  let ticks = 0;
  let expected = performance.now() + 10;
  const timer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - expected);
    expected = now + 10;
    ticks++;
  }, 10);
  const started = performance.now();
  try {
    const result = await work();
    return { result, maxLag, ticks, seconds: (performance.now() - started) / 1000 };
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
