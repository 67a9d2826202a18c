/**
 * The paper's later-layer Jacobian spectrum (PAPER.md section 2), computed natively as a job
 * (native/spectra/jacobian.cc): J = d rest(Z) / d Z over the whole batch, Z the output at the cut,
 * with batch norm in train mode by default and running statistics left untouched. `exact` returns
 * all min(N*K, N*F) singular values, descending, in float64.
 */
import { TorchError } from '../core/errors';
import { runJob } from '../core/jobs';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { handleOf, Tensor, wrap } from '../tensor/tensor';

export interface JacobianSpectrumOptions {
  /**
   * Where to cut: a top-level layer's name (the cut is after it), or 'stem': the layers before
   * the first block (BNNet: conv and avg; the ResNets: their stem convolution, and max-pool).
   */
  cut?: string;
  /** Batch norm with batch statistics (train, the default, as the paper) or running ones (eval). */
  mode?: 'train' | 'eval';
  /** float64 (default): the Jacobian in double precision, so small singular values are accurate. */
  precision?: 'float32' | 'float64';
  /**
   * exact (default): all values. lanczos: matrix-free, Lanczos with full reorthogonalisation on
   * the smaller Gram operator through vector-Jacobian products (and double backward), `steps`
   * steps; its extremes (the `k` largest and smallest) are the accurate values.
   */
  method?: 'exact' | 'lanczos';
  /** lanczos: how many extremes to report at each end (default 5). */
  k?: number;
  /** lanczos: steps (default min(size, 4k + 80)); the size itself gives the exact spectrum. */
  steps?: number;
  /**
   * exact, on a GPU: capture one row's vector-Jacobian product in a CUDA graph and replay it for
   * every row (one launch per row instead of one per kernel). Needs a CUDA build and the probe on
   * a CUDA device; the values are those of the eager rows.
   */
  cudaGraph?: boolean;
  /**
   * exact: rows of the Jacobian per backward pass. The layers after the cut run on that many
   * copies of the batch at once (batch norm giving each copy its own statistics), and one backward
   * pass yields that many rows: fewer, larger kernels. Default: 1 on the CPU (measured fastest
   * there); on a GPU as many as fit about 1 GiB (at most half the free memory), judged by one
   * forward pass's memory, halved if a pass runs out of memory. Always 1 when dropout is active
   * after the cut (every row must share its one mask); asking for more is then an error.
   */
  rowsPerPass?: number;
  onProgress?: (p: { rows: number; totalRows: number }) => void;
  signal?: AbortSignal;
}

export interface JacobianSpectrum {
  /** All singular values, descending (float64). */
  singularValues: Tensor;
  /** `[N*K, N*F]`: the Jacobian's shape. */
  jacobianShape: [number, number];
  /** The top-level layer the cut is after. */
  cut: string;
  /** lanczos: the k largest and k smallest values, descending. */
  largest?: number[];
  smallest?: number[];
}

/**
 * @internal The exact method's row options, for jacobianSpectrum and fit's trackJacobian (`prefix`
 * names them there): cudaGraph and rowsPerPass apply to the exact method only, rowsPerPass is a
 * positive integer, and cudaGraph replays one row per pass.
 */
export function checkRowOptions(options: { cudaGraph?: boolean; rowsPerPass?: number }, method: string, op: string, prefix = ''): void {
  const { cudaGraph, rowsPerPass } = options;
  if (cudaGraph && method !== 'exact') throw new TypeError(`${op}: ${prefix}cudaGraph applies to the exact method`);
  if (rowsPerPass === undefined) return;
  if (!Number.isInteger(rowsPerPass) || rowsPerPass < 1) throw new TypeError(`${op}: ${prefix}rowsPerPass must be a positive integer`);
  if (cudaGraph && rowsPerPass > 1) throw new TypeError(`${op}: cudaGraph replays one row per launch; ${prefix}rowsPerPass > 1 batches rows instead: use one or the other`);
  if (method !== 'exact') throw new TypeError(`${op}: ${prefix}rowsPerPass applies to the exact method`);
}

/**
 * @internal The spectrum options jacobianSpectrum and fit's trackJacobian share, checked (errors
 * name `op` and, for trackJacobian, the option's `prefix`), with their defaults.
 */
export function checkSpectrumOptions(
  options: Pick<JacobianSpectrumOptions, 'mode' | 'precision' | 'method' | 'k' | 'steps' | 'cudaGraph' | 'rowsPerPass'>,
  op: string,
  prefix = '',
): { mode: 'train' | 'eval'; precision: 'float32' | 'float64'; method: 'exact' | 'lanczos'; k: number; steps: number } {
  const mode = options.mode ?? 'train';
  if (mode !== 'train' && mode !== 'eval') throw new TypeError(`${op}: ${prefix}mode must be 'train' or 'eval', got ${JSON.stringify(mode)}`);
  const precision = options.precision ?? 'float64';
  if (precision !== 'float32' && precision !== 'float64') throw new TypeError(`${op}: ${prefix}precision must be 'float32' or 'float64', got ${JSON.stringify(precision)}`);
  const method = options.method ?? 'exact';
  if (method !== 'exact' && method !== 'lanczos') throw new TypeError(`${op}: ${prefix}method must be 'exact' or 'lanczos', got ${JSON.stringify(method)}`);
  const k = options.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new TypeError(`${op}: ${prefix}k must be a positive integer`);
  const steps = options.steps ?? 4 * k + 80;
  if (!Number.isInteger(steps) || steps < 2 * k) throw new TypeError(`${op}: ${prefix}steps must be an integer of at least 2k`);
  checkRowOptions(options, method, op, prefix);
  return { mode, precision, method, k, steps };
}

/** The top-level layer names of a Sequential model, in order. */
function topLevel(model: Module): string[] {
  return model
    .namedModules()
    .map((m) => m.name)
    .filter((n) => n !== '' && !n.includes('.'));
}

/** The index just after the cut layer (the length of the prefix); errors name `op` and the option (`what`). */
export function resolveCut(model: Module, cut: string, op = 'jacobianSpectrum', what = 'cut'): { index: number; name: string } {
  const names = topLevel(model);
  let name = cut;
  if (cut === 'stem') {
    const firstBlock = names.findIndex((n) => /^(Block|layer)\d/.test(n));
    if (firstBlock <= 0) throw new TorchError(op, `this model has no stem (no top-level Block* or layer* after other layers); cuts: ${names.join(', ')}`);
    name = names[firstBlock - 1];
  }
  const index = names.indexOf(name);
  if (index < 0) throw new TorchError(op, `unknown ${what} '${cut}'; cuts are 'stem' or a top-level layer: ${names.join(', ')}`);
  if (index === names.length - 1) throw new TorchError(op, `the ${what} '${cut}' is the last layer: nothing comes after it`);
  return { index: index + 1, name };
}

export async function jacobianSpectrum(model: Module, input: Tensor, options: JacobianSpectrumOptions = {}): Promise<JacobianSpectrum> {
  const op = 'jacobianSpectrum';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  const { mode, precision, method, k, steps } = checkSpectrumOptions(options, op);
  const { index, name } = resolveCut(model, options.cut ?? 'stem');
  const handle = handleOf(input, op);
  return runJob<{ singularValues: number; jacobianShape: [number, number] }, { rows: number; totalRows: number }>(
    op,
    (progress) => native().jacobianSpectrum(model.moduleHandle(op), handle, index, mode === 'train', precision === 'float64', progress, method === 'lanczos' ? steps : null, options.cudaGraph === true, options.rowsPerPass ?? null),
    { onProgress: options.onProgress, signal: options.signal },
  ).then((r) => {
    const singularValues = wrap(r.singularValues);
    const result: JacobianSpectrum = { singularValues, jacobianShape: r.jacobianShape, cut: name };
    if (method === 'lanczos') {
      const all = Array.from(singularValues.dataSync() as Float64Array);
      result.largest = all.slice(0, k);
      result.smallest = all.slice(-k);
    }
    return result;
  });
}

export interface LayerwiseSpectrum {
  cuts: { name: string; singularValues: Tensor; jacobianShape: [number, number] }[];
}

/**
 * The same spectrum at every block boundary (layer-wise spectra): after the stem and after each
 * later top-level layer but the last, in order. One job per cut.
 */
export async function layerwiseJacobianSpectra(model: Module, input: Tensor, options: Omit<JacobianSpectrumOptions, 'cut'> = {}): Promise<LayerwiseSpectrum> {
  const names = topLevel(model);
  const start = names.indexOf(resolveCut(model, 'stem', 'layerwiseJacobianSpectra').name);
  const cuts: LayerwiseSpectrum['cuts'] = [];
  try {
    for (const name of names.slice(start, -1)) {
      const r = await jacobianSpectrum(model, input, { ...options, cut: name });
      cuts.push({ name: name === names[start] ? 'stem' : name, singularValues: r.singularValues, jacobianShape: r.jacobianShape });
    }
  } catch (e) {
    for (const c of cuts) c.singularValues.dispose();
    throw e;
  }
  return { cuts };
}
