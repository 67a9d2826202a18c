/**
 * The paper's later-layer Jacobian spectrum (docs/paper.md, section 2), computed natively as a job
 * (native/spectra/jacobian.cc): J = d rest(Z) / d Z over the whole batch, Z the output at the cut,
 * with batch norm in train mode by default and running statistics left untouched. `exact` returns
 * all min(N*K, N*F) singular values, descending, in float64. The cut may be any module, nested
 * inside blocks too (spectra/cuts.ts): Z is then a free variable in one forward pass of the whole
 * model, and whatever does not depend on it (a skip connection around it) is a constant.
 */
import { runJob } from '../core/jobs';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { prepareForInput, signatureOf } from '../nn/graph';
import { handleOf, Tensor, wrap } from '../tensor/tensor';
import { resolveCut, resolveCuts } from './cuts';

export interface JacobianSpectrumOptions {
  /**
   * Where to cut: any module's dotted name, as `model.namedModules()` lists it (`layer2`,
   * `layer2.1`, `layer2.1.bn2`; the Jacobian is with respect to that module's output), or 'stem'
   * (default; see `stem`). The module must run once in a forward pass, and not give the output.
   * For every cut at once, see layerwiseJacobianSpectra.
   */
  cut?: string;
  /**
   * The module that 'stem' names. Default: the top-level layer before the first top-level Block*
   * or layer* (BNNet: avg; the ResNets: their stem convolution, or max-pool).
   */
  stem?: string;
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
   * pass yields that many rows: fewer, larger kernels. After a top-level layer of a Sequential only
   * the layers after it run on the copies; after any other module, the whole model does, its
   * output there replaced by the copies. Default: 1 on the CPU (measured fastest there); on a GPU
   * as many as fit about 1 GiB (at most half the free memory), judged by one forward pass's
   * memory, halved if a pass runs out of memory. Always 1 when dropout is active in what runs on
   * the copies (every row must share its one mask); asking for more is then an error.
   */
  rowsPerPass?: number;
  onProgress?: (p: { rows: number; totalRows: number }) => void;
  signal?: AbortSignal;
}

export interface JacobianSpectrum {
  /** All singular values, descending (float64, whatever the precision). */
  singularValues: Tensor<'float64'>;
  /** `[N*K, N*F]`: the Jacobian's shape. */
  jacobianShape: [number, number];
  /** The module the cut is after (its dotted name; 'stem' resolved). */
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

export async function jacobianSpectrum(model: Module, input: Tensor, options: JacobianSpectrumOptions = {}): Promise<JacobianSpectrum> {
  const op = 'jacobianSpectrum';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  const { mode, precision, method, k, steps } = checkSpectrumOptions(options, op);
  if (options.cut === 'all') throw new TypeError(`${op}: cut 'all' gives one spectrum per cut: use layerwiseJacobianSpectra(model, input, { cut: 'all' })`);
  const name = resolveCut(model, options.cut ?? 'stem', op, 'cut', options.stem);
  const handle = handleOf(input, op);
  prepareForInput(model, signatureOf([input], op), op);  // traced modules: their graphs for this input
  return runJob<{ singularValues: number; jacobianShape: [number, number] }, { rows: number; totalRows: number }>(
    op,
    (progress) => native().jacobianSpectrum(model.moduleHandle(op), handle, name, mode === 'train', precision === 'float64', progress, method === 'lanczos' ? steps : null, options.cudaGraph === true, options.rowsPerPass ?? null),
    { onProgress: options.onProgress, signal: options.signal },
  ).then((r) => {
    const singularValues = wrap<'float64'>(r.singularValues);
    const result: JacobianSpectrum = { singularValues, jacobianShape: r.jacobianShape, cut: name };
    if (method === 'lanczos') {
      const all = Array.from(singularValues.dataSync());
      result.largest = all.slice(0, k);
      result.smallest = all.slice(-k);
    }
    return result;
  });
}

export interface LayerwiseSpectraOptions extends Omit<JacobianSpectrumOptions, 'cut'> {
  /**
   * 'all' (default): after every block, from the stem on: the stem first (named 'stem'), then
   * every cut point that runs after it (spectra.cutPoints: the children of the model and, within
   * `depth` levels, of its containers), in call order; when the model has no stem to guess and
   * `stem` is not given, every cut point. Or a list of cuts (module names or 'stem').
   */
  cut?: 'all' | string[];
  /** 'all': how many levels of containers to look inside (default 2; see spectra.cutPoints). */
  depth?: number;
}

export interface LayerwiseSpectrum {
  /** One spectrum per cut, in order; `name` is the cut as listed ('stem' for the stem), `cut` its module. */
  cuts: (JacobianSpectrum & { name: string })[];
}

/**
 * The same spectrum at many cuts (layer-wise spectra): by default after the stem and after every
 * block that follows it, in order. The cuts are checked on `input` first (one forward pass in
 * eval mode); then one job per cut.
 */
export async function layerwiseJacobianSpectra(model: Module, input: Tensor, options: LayerwiseSpectraOptions = {}): Promise<LayerwiseSpectrum> {
  const op = 'layerwiseJacobianSpectra';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  checkSpectrumOptions(options, op);
  const { cut = 'all', depth, ...rest } = options;
  const resolved = resolveCuts(model, input, cut, { depth, stem: options.stem }, op);
  const cuts: LayerwiseSpectrum['cuts'] = [];
  try {
    for (const c of resolved) {
      const r = await jacobianSpectrum(model, input, { ...rest, cut: c.module });
      cuts.push({ name: c.name, ...r });
    }
  } catch (e) {
    for (const c of cuts) c.singularValues.dispose();
    throw e;
  }
  return { cuts };
}
