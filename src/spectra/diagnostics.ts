/**
 * Curvature and regularity of the loss at a batch (docs/paper.md, section 1), as a job
 * (native/spectra/diagnostics.cc): the top Hessian eigenvalue (largest in magnitude) by power
 * iteration with Hessian-vector products, the PL ratio ||grad L||^2 / (L - L*), and per-parameter
 * gradient norms. Cross-entropy loss; batch norm in train mode by default, running statistics and
 * the parameters' .grad left as they were.
 */
import { runJob } from '../core/jobs';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { prepareForInput, signatureOf } from '../nn/graph';
import { handleOf } from '../tensor/tensor';
import type { TensorData } from '../train/fit';

export interface DiagnosticsOptions {
  mode?: 'train' | 'eval';
  /** L* of the PL ratio (default 0, the infimum of cross-entropy). */
  lossFloor?: number;
  /** Power iterations for the top Hessian eigenvalue (default 50; 0 skips curvature). */
  hessianIterations?: number;
  /** Stop when the eigenvalue changes by less than this, relatively (default 1e-6). */
  tol?: number;
  signal?: AbortSignal;
}

export interface Diagnostics {
  loss: number;
  gradNormSquared: number;
  /** ||grad L||^2 / (L - L*). */
  plRatio: number;
  /** Per parameter name. */
  gradNorms: Record<string, number>;
  /** The Hessian eigenvalue of largest magnitude (when hessianIterations > 0). */
  topHessianEigenvalue?: number;
  hessianIterations?: number;
}

export async function diagnostics(model: Module, data: TensorData, options: DiagnosticsOptions = {}): Promise<Diagnostics> {
  const op = 'diagnostics';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  const mode = options.mode ?? 'train';
  if (mode !== 'train' && mode !== 'eval') throw new TypeError(`${op}: mode must be 'train' or 'eval'`);
  const iterations = options.hessianIterations ?? 50;
  if (!Number.isInteger(iterations) || iterations < 0) throw new TypeError(`${op}: hessianIterations must be a non-negative integer`);
  const floor = options.lossFloor ?? 0;
  if (!Number.isFinite(floor)) throw new TypeError(`${op}: lossFloor must be a finite number`);
  const tol = options.tol ?? 1e-6;
  const input = handleOf(data?.input, op);
  const labels = handleOf(data?.labels, op);
  prepareForInput(model, signatureOf([data.input], op), op);  // traced modules: their graphs for this input
  return runJob<Diagnostics, never>(op, () => native().diagnostics(model.moduleHandle(op), input, labels, mode === 'train', floor, iterations, tol), { signal: options.signal });
}
