/**
 * `skipnorm weight-spectra [<model flags>] --weights FILE [--method circular-exact|power|reshape]
 *   [--input-size H,W] [--k K] --out W.json`: every layer's weight spectrum. W.json holds
 * `layers: [{ name, kind, method, singularValues }]`, name the parameter prefix.
 */
import { dispose } from '../core/memory';
import { checkWritable, writeAtomically } from '../io/safetensors';
import { weightSpectra, type WeightSpectrumMethod } from '../spectra/weights';
import { defineCommand, parseCommand } from './command-spec';
import { MODEL_FLAGS_WITH_WEIGHTS, MODEL_RETIRED, modelFromFlags, required, UsageError } from './model-flags';

export const WEIGHT_SPECTRA = defineCommand({
  name: 'weight-spectra',
  summary: "Every layer's weight spectrum (convolutions as operators on their input size).",
  usage: ['weight-spectra [model flags] --weights FILE [--method circular-exact|power|reshape] [--input-size H,W] [--k K] --out W.json'],
  flags: {
    ...MODEL_FLAGS_WITH_WEIGHTS,
    weights: { type: 'string', value: 'FILE', help: 'the weights (required; a file that records its model needs no model flags)' },
    method: {
      type: 'string',
      choices: ['circular-exact', 'power', 'reshape'],
      default: 'circular-exact',
      help: "convolutions: every value with circular padding (FFT), the top k by power iteration, or the reshaped kernel's",
    },
    'input-size': { type: 'string', value: 'H,W', help: "the size of each convolution's input image (default 28,28 for bnnet, else 32,32)" },
    k: { type: 'string', value: 'K', help: 'power: how many of the largest values (default 1)' },
    out: { type: 'string', value: 'W.json', help: 'where the spectra go, as JSON (required)' },
  },
  retired: MODEL_RETIRED,
});

export async function runWeightSpectra(args: string[]): Promise<number> {
  const values = parseCommand(WEIGHT_SPECTRA, args);
  if (!values) return 0;
  const weightsFile = required(values.weights, 'weights FILE');
  const outFile = required(values.out, 'out W.json');
  checkWritable(outFile, 'weight-spectra --out');
  const method = values.method as WeightSpectrumMethod;
  const sizeFlag = values['input-size'];
  const size = sizeFlag?.split(',').map(Number);
  if (size && (size.length !== 2 || !size.every((d) => Number.isInteger(d) && d > 0))) throw new UsageError(`--input-size must be H,W, got '${sizeFlag}'`);
  const k = values.k === undefined ? 1 : Number(values.k);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a positive integer, got '${values.k}'`);
  const { model, spec } = await modelFromFlags(values, weightsFile);
  try {
    // The input's channels come from the zoo model (BNNet reads grey MNIST, the ResNets RGB).
    if (!spec) throw new UsageError(`weight-spectra needs a zoo model: ${weightsFile} holds a model built in code (give --model and its flags to read its weights as one)`);
    const [h, w] = size ?? (spec.model === 'bnnet' ? [28, 28] : [32, 32]);
    const rows = await weightSpectra(model, { method, inputSize: [spec.model === 'bnnet' ? 1 : 3, h, w], k });
    const layers = rows.map((r) => ({ name: r.name, kind: r.kind, method: r.method, singularValues: Array.from(r.singularValues.dataSync() as Float64Array) }));
    dispose(rows.map((r) => r.singularValues));
    writeAtomically(outFile, [Buffer.from(`${JSON.stringify({ model: spec, inputSize: [h, w], method, layers })}\n`)]);
    process.stdout.write(`wrote the spectra of ${layers.length} layers to ${outFile}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
