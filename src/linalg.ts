/**
 * torch.linalg's counterparts. The decompositions have promise-returning `...Async` variants
 * that run on a skipnorm worker thread, keeping the event loop free for large matrices.
 */
import { runJob, type JobOptions } from './core/jobs';
import { native } from './core/native';
import { Generator } from './tensor/random';
import { Tensor, handleOf, wrap } from './tensor/tensor';

export interface SVD {
  U: Tensor;
  S: Tensor;
  Vh: Tensor;
}

export interface Eigh {
  eigenvalues: Tensor;
  eigenvectors: Tensor;
}

export interface QR {
  Q: Tensor;
  R: Tensor;
}

export type QRMode = 'reduced' | 'complete' | 'r';

function matrix(a: Tensor, op: string): number {
  if (!(a instanceof Tensor)) throw new TypeError(`${op}: expected a Tensor`);
  return handleOf(a, op);
}

function uploArg(uplo: string, op: string): string {
  if (uplo !== 'L' && uplo !== 'U') throw new TypeError(`${op}: uplo must be 'L' or 'U'`);
  return uplo;
}

function qrModeArg(mode: string): string {
  if (mode !== 'reduced' && mode !== 'complete' && mode !== 'r') throw new TypeError(`qr: mode must be 'reduced', 'complete' or 'r'`);
  return mode;
}

const toSvd = ([u, s, vh]: number[]): SVD => ({ U: wrap(u), S: wrap(s), Vh: wrap(vh) });
const toEigh = ([values, vectors]: number[]): Eigh => ({ eigenvalues: wrap(values), eigenvectors: wrap(vectors) });
const toQr = ([q, r]: number[]): QR => ({ Q: wrap(q), R: wrap(r) });

async function decomposeAsync<T>(name: string, args: unknown[], convert: (out: never) => T): Promise<T> {
  return runJob(name, () => native().decomposeAsync(name, ...args) as [Promise<never>, number]).then(convert);
}

/** Singular values, descending (batched over leading dimensions). */
export function svdvals(a: Tensor): Tensor {
  return wrap(native().decompose('svdvals', matrix(a, 'svdvals')));
}
export async function svdvalsAsync(a: Tensor): Promise<Tensor> {
  return decomposeAsync('svdvals', [matrix(a, 'svdvals')], (h: number) => wrap(h));
}

/** A = U diag(S) Vh. fullMatrices defaults to true, as in PyTorch. */
export function svd(a: Tensor, fullMatrices = true): SVD {
  return toSvd(native().decompose('svd', matrix(a, 'svd'), fullMatrices));
}
export async function svdAsync(a: Tensor, fullMatrices = true): Promise<SVD> {
  return decomposeAsync('svd', [matrix(a, 'svd'), fullMatrices], toSvd);
}

/** Eigen-decomposition of a symmetric (Hermitian) matrix, eigenvalues ascending. */
export function eigh(a: Tensor, uplo: 'L' | 'U' = 'L'): Eigh {
  return toEigh(native().decompose('eigh', matrix(a, 'eigh'), uploArg(uplo, 'eigh')));
}
export async function eighAsync(a: Tensor, uplo: 'L' | 'U' = 'L'): Promise<Eigh> {
  return decomposeAsync('eigh', [matrix(a, 'eigh'), uploArg(uplo, 'eigh')], toEigh);
}

export function eigvalsh(a: Tensor, uplo: 'L' | 'U' = 'L'): Tensor {
  return wrap(native().decompose('eigvalsh', matrix(a, 'eigvalsh'), uploArg(uplo, 'eigvalsh')));
}

export function qr(a: Tensor, mode: QRMode = 'reduced'): QR {
  return toQr(native().decompose('qr', matrix(a, 'qr'), qrModeArg(mode)));
}
export async function qrAsync(a: Tensor, mode: QRMode = 'reduced'): Promise<QR> {
  return decomposeAsync('qr', [matrix(a, 'qr'), qrModeArg(mode)], toQr);
}

/** Matrix product on a worker thread. */
export async function matmulAsync(a: Tensor, b: Tensor): Promise<Tensor> {
  return decomposeAsync('matmul', [matrix(a, 'matmul'), matrix(b, 'matmul')], (h: number) => wrap(h));
}

export function inv(a: Tensor): Tensor {
  return wrap(native().inv(matrix(a, 'inv')));
}
export function det(a: Tensor): Tensor {
  return wrap(native().det(matrix(a, 'det')));
}
/** Solves A X = B. */
export function solve(a: Tensor, b: Tensor): Tensor {
  return wrap(native().solve(matrix(a, 'solve'), matrix(b, 'solve')));
}
export function cholesky(a: Tensor): Tensor {
  return wrap(native().cholesky(matrix(a, 'cholesky')));
}
export function pinv(a: Tensor): Tensor {
  return wrap(native().pinv(matrix(a, 'pinv')));
}
export function matrixRank(a: Tensor): Tensor {
  return wrap(native().matrixRank(matrix(a, 'matrixRank')));
}
/** Matrix norm: 'fro' (default), 'nuc', or an order (2, -2, 1, -1, Infinity, -Infinity). */
export function matrixNorm(a: Tensor, ord: 'fro' | 'nuc' | number = 'fro'): Tensor {
  return wrap(native().matrixNorm(matrix(a, 'matrixNorm'), ord));
}
/** Vector norm over all elements or the given dimensions. */
export function vectorNorm(x: Tensor, ord = 2, dim?: number | number[], keepdim = false): Tensor {
  return x.norm(ord, dim, keepdim);
}

export interface PowerIterationOptions extends JobOptions<PowerIterationProgress> {
  /** Most iterations (default 1000). */
  iterations?: number;
  /** Stop when the estimate changes by less than this, relatively (default 1e-7; 0 never stops early). */
  tol?: number;
  /** Report progress every this many iterations (default 10). */
  progressEvery?: number;
  /** Starting vector's generator, for repeatable runs. */
  generator?: Generator;
}

export interface PowerIterationProgress {
  iteration: number;
  sigma: number;
  change: number;
  seconds: number;
}

export interface PowerIterationResult {
  /** The estimate of the largest singular value. */
  sigma: number;
  iterations: number;
  converged: boolean;
  /** The estimate of the top right singular vector. */
  vector: Tensor;
}

/**
 * The largest singular value of a matrix by power iteration on AᵀA, as a job on a worker
 * thread: it reports progress and stops within one iteration when its signal aborts.
 */
export async function powerIteration(a: Tensor, options: PowerIterationOptions = {}): Promise<PowerIterationResult> {
  const op = 'powerIteration';
  const iterations = options.iterations ?? 1000;
  const tol = options.tol ?? 1e-7;
  const every = options.progressEvery ?? 10;
  if (!Number.isInteger(iterations) || iterations < 1) throw new TypeError(`${op}: iterations must be a positive integer`);
  if (typeof tol !== 'number' || tol < 0) throw new TypeError(`${op}: tol must be a non-negative number`);
  if (!Number.isInteger(every) || every < 1) throw new TypeError(`${op}: progressEvery must be a positive integer`);
  if (options.generator !== undefined && !(options.generator instanceof Generator)) throw new TypeError(`${op}: generator must be a skipnorm Generator`);
  const handle = matrix(a, op);
  const generator = options.generator ? options.generator.handleFor(op) : null;
  return runJob<{ sigma: number; iterations: number; converged: boolean; vector: number }, PowerIterationProgress>(
    op,
    (onProgress) => native().powerIteration(handle, iterations, tol, every, generator, onProgress),
    options,
  ).then((r) => ({ ...r, vector: wrap(r.vector) }));
}
