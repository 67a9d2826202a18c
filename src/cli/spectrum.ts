/**
 * `skipnorm spectrum <model flags> --weights FILE --input X.safetensors --cut stem|all|NAME
 *   [--method exact|lanczos] [--k K] [--eval] --out S.json`: the later-layer Jacobian spectrum of the tensor
 * `input`. S.json holds `singularValues` (descending) for one cut, or `cuts: [{ name,
 * singularValues }]` for `--cut all`; with `--method lanczos [--k K]` the Ritz values, and the
 * accurate extremes as `largest` and `smallest`.
 */
import { parseArgs } from 'node:util';
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors, writeAtomically } from '../io/safetensors';
import { buildModel } from '../models/index';
import { jacobianSpectrum, layerwiseJacobianSpectra } from '../spectra/jacobian';
import { inputFileFromFlags, MODEL_OPTIONS, modelSpecFromFlags, required, UsageError } from './model-flags';

export async function runSpectrum(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...MODEL_OPTIONS, weights: { type: 'string' }, cut: { type: 'string', default: 'stem' }, method: { type: 'string', default: 'exact' }, k: { type: 'string' }, eval: { type: 'boolean', default: false }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const spec = modelSpecFromFlags(values);
  const inputFile = inputFileFromFlags(values.input);
  const weightsFile = required(values.weights, 'weights FILE');
  const outFile = required(values.out, 'out S.json');
  checkWritable(outFile, 'spectrum --out');
  if (values.method !== 'exact' && values.method !== 'lanczos') throw new UsageError(`--method must be exact or lanczos, got '${values.method}'`);
  const method = values.method as 'exact' | 'lanczos';
  const k = values.k === undefined ? 5 : Number(values.k);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a positive integer, got '${values.k}'`);
  const model = buildModel(spec);
  const weights = readSafetensors(weightsFile).tensors;
  const input = readSafetensors(inputFile).tensors;
  try {
    model.loadStateDict(weights);
    if (!input.input) throw new UsageError(`${inputFile} has no tensor named 'input'`);
    const mode = values.eval ? 'eval' : 'train';
    let result: unknown;
    if (values.cut === 'all') {
      const { cuts } = await layerwiseJacobianSpectra(model, input.input, { mode, method, k });
      result = { model: spec, mode, method, cuts: cuts.map((c) => ({ name: c.name, jacobianShape: c.jacobianShape, singularValues: Array.from(c.singularValues.dataSync() as Float64Array) })) };
      dispose(cuts.map((c) => c.singularValues));
    } else {
      const r = await jacobianSpectrum(model, input.input, { cut: values.cut, mode, method, k });
      result = { model: spec, mode, method, cut: values.cut, jacobianShape: r.jacobianShape, singularValues: Array.from(r.singularValues.dataSync() as Float64Array), largest: r.largest, smallest: r.smallest };
      r.singularValues.dispose();
    }
    writeAtomically(outFile, [Buffer.from(`${JSON.stringify(result)}\n`)]);
    process.stdout.write(`wrote ${values.cut === 'all' ? 'layer-wise spectra' : `the spectrum at '${values.cut}'`} to ${outFile}\n`);
    return 0;
  } finally {
    dispose(weights);
    dispose(input);
    model.dispose();
  }
}
