/**
 * Layer-wise weight spectra, as a job (native/spectra/weights.cc): Linear exactly; Conv2d exactly
 * through the FFT for stride-1 circular convolution over the layer's input size (Sedghi, Gupta
 * and Long 2019), the k largest of the true operator by power iteration (used for strided,
 * dilated or grouped convolutions, or when asked), or the reshaped kernel; batch norm's gains
 * |gamma| / sqrt(running_var + eps). Weight-normalised layers use their effective weight.
 */
import { runJob } from '../core/jobs';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { Tensor, wrap } from '../tensor/tensor';

export type WeightSpectrumMethod = 'circular-exact' | 'power' | 'reshape';

export interface WeightSpectraOptions {
  method?: WeightSpectrumMethod;
  /** The model's input [channels, height, width]; each layer's own input size follows from it. */
  inputSize: [number, number, number];
  /** power: how many of the largest values (default 1). */
  k?: number;
  /** power: iterations (default 100). */
  iterations?: number;
  signal?: AbortSignal;
}

export interface LayerWeightSpectrum {
  /** The parameter prefix, e.g. 'Block1.lin1' or 'layer2.0.conv1'. */
  name: string;
  kind: string;
  /** exact, circular-exact, power, reshape, or gain (batch norm). */
  method: string;
  /** Descending, float64. */
  singularValues: Tensor<'float64'>;
}

export async function weightSpectra(model: Module, options: WeightSpectraOptions): Promise<LayerWeightSpectrum[]> {
  const op = 'weightSpectra';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  const size = options?.inputSize;
  if (!Array.isArray(size) || size.length !== 3 || !size.every((d) => Number.isInteger(d) && d > 0)) {
    throw new TypeError(`${op}: inputSize must be [channels, height, width] (positive integers)`);
  }
  const method = options.method ?? 'circular-exact';
  if (!['circular-exact', 'power', 'reshape'].includes(method)) throw new TypeError(`${op}: method must be 'circular-exact', 'power' or 'reshape'`);
  const k = options.k ?? 1;
  const iterations = options.iterations ?? 100;
  if (!Number.isInteger(k) || k < 1 || !Number.isInteger(iterations) || iterations < 1) throw new TypeError(`${op}: k and iterations must be positive integers`);
  return runJob<{ name: string; kind: string; method: string; singularValues: number }[], never>(
    op,
    () => native().weightSpectra(model.moduleHandle(op), size, method, k, iterations),
    { signal: options.signal },
  ).then((rows) => rows.map((r) => ({ ...r, singularValues: wrap<'float64'>(r.singularValues) })));
}
