/**
 * `skipnorm weight-spectra <model flags> --weights FILE --method circular-exact|power|reshape
 *   --input-size H,W [--k K] --out W.json`: every layer's weight spectrum. W.json holds
 * `layers: [{ name, kind, method, singularValues }]`, name the parameter prefix.
 */
import { parseArgs } from 'node:util';
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors, writeAtomically } from '../io/safetensors';
import { buildModel } from '../models/index';
import { weightSpectra, type WeightSpectrumMethod } from '../spectra/weights';
import { MODEL_OPTIONS, modelSpecFromFlags, UsageError } from './model-flags';

export async function runWeightSpectra(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...MODEL_OPTIONS, weights: { type: 'string' }, method: { type: 'string', default: 'circular-exact' }, 'input-size': { type: 'string' }, k: { type: 'string' }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const spec = modelSpecFromFlags(values);
  if (!values.weights) throw new UsageError('--weights FILE is required');
  if (!values.out) throw new UsageError('--out W.json is required');
  checkWritable(values.out, 'weight-spectra --out');
  const method = values.method as WeightSpectrumMethod;
  if (!['circular-exact', 'power', 'reshape'].includes(method)) throw new UsageError(`--method must be circular-exact, power or reshape, got '${values.method}'`);
  const size = (values['input-size'] ?? (spec.model === 'bnnet' ? '28,28' : '32,32')).split(',').map(Number);
  if (size.length !== 2 || !size.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`--input-size must be H,W, got '${values['input-size']}'`);
  const k = values.k === undefined ? 1 : Number(values.k);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a positive integer, got '${values.k}'`);
  const model = buildModel(spec);
  const weights = readSafetensors(values.weights).tensors;
  try {
    model.loadStateDict(weights);
    const rows = await weightSpectra(model, { method, inputSize: [spec.model === 'bnnet' ? 1 : 3, size[0], size[1]], k });
    const layers = rows.map((r) => ({ name: r.name, kind: r.kind, method: r.method, singularValues: Array.from(r.singularValues.dataSync() as Float64Array) }));
    dispose(rows.map((r) => r.singularValues));
    writeAtomically(values.out, [Buffer.from(`${JSON.stringify({ model: spec, inputSize: size, method, layers })}\n`)]);
    process.stdout.write(`wrote the spectra of ${layers.length} layers to ${values.out}\n`);
    return 0;
  } finally {
    dispose(weights);
    model.dispose();
  }
}
