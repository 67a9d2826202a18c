/**
 * `skipnorm spectrum [<model flags>] --weights FILE --input X.safetensors --cut stem|all|NAME[,NAME..]
 *   [--cut-depth D] [--stem NAME] [--method exact|lanczos] [--k K] [--eval] --out S.json`: the
 * later-layer Jacobian spectrum of the tensor `input`. A cut is any module's dotted name
 * (`layer2.1.bn2`), 'stem' (`--stem` names it where the guess fails) or 'all' (every block from the
 * stem on, containers looked inside to `--cut-depth` levels, default 2; `--depth` is the model's).
 * S.json holds `singularValues` (descending) for one cut, or `cuts: [{ name, module,
 * singularValues }]` for `--cut all` or a list; with `--method lanczos [--k K]` the Ritz values,
 * and the accurate extremes as `largest` and `smallest`.
 */
import { parseArgs } from 'node:util';
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors, writeAtomically } from '../io/safetensors';
import { jacobianSpectrum, layerwiseJacobianSpectra } from '../spectra/jacobian';
import { inputFileFromFlags, MODEL_OPTIONS, modelFromFlags, required, UsageError } from './model-flags';

export async function runSpectrum(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...MODEL_OPTIONS, weights: { type: 'string' }, cut: { type: 'string', default: 'stem' }, 'cut-depth': { type: 'string' }, stem: { type: 'string' }, method: { type: 'string', default: 'exact' }, k: { type: 'string' }, eval: { type: 'boolean', default: false }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const inputFile = inputFileFromFlags(values.input);
  const weightsFile = required(values.weights, 'weights FILE');
  const outFile = required(values.out, 'out S.json');
  checkWritable(outFile, 'spectrum --out');
  if (values.method !== 'exact' && values.method !== 'lanczos') throw new UsageError(`--method must be exact or lanczos, got '${values.method}'`);
  const method = values.method as 'exact' | 'lanczos';
  const k = values.k === undefined ? 5 : Number(values.k);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--k must be a positive integer, got '${values.k}'`);
  const depth = values['cut-depth'] === undefined ? undefined : Number(values['cut-depth']);
  if (depth !== undefined && (!Number.isInteger(depth) || depth < 1)) throw new UsageError(`--cut-depth must be a positive integer, got '${values['cut-depth']}'`);
  const cut = values.cut.includes(',') ? values.cut.split(',') : values.cut;
  if (depth !== undefined && cut !== 'all') throw new UsageError('--cut-depth applies to --cut all');
  const stem = values.stem;
  const { model, spec } = await modelFromFlags(values, weightsFile);
  const input = readSafetensors(inputFile).tensors;
  try {
    if (!input.input) throw new UsageError(`${inputFile} has no tensor named 'input'`);
    const mode = values.eval ? 'eval' : 'train';
    let result: unknown;
    if (cut === 'all' || Array.isArray(cut)) {
      const { cuts } = await layerwiseJacobianSpectra(model, input.input, { cut, depth, stem, mode, method, k });
      result = {
        model: spec,
        mode,
        method,
        cuts: cuts.map((c) => ({ name: c.name, module: c.cut, jacobianShape: c.jacobianShape, singularValues: Array.from(c.singularValues.dataSync() as Float64Array), largest: c.largest, smallest: c.smallest })),
      };
      dispose(cuts.map((c) => c.singularValues));
    } else {
      const r = await jacobianSpectrum(model, input.input, { cut, stem, mode, method, k });
      result = { model: spec, mode, method, cut: values.cut, jacobianShape: r.jacobianShape, singularValues: Array.from(r.singularValues.dataSync() as Float64Array), largest: r.largest, smallest: r.smallest };
      r.singularValues.dispose();
    }
    writeAtomically(outFile, [Buffer.from(`${JSON.stringify(result)}\n`)]);
    process.stdout.write(`wrote ${typeof cut === 'string' && cut !== 'all' ? `the spectrum at '${cut}'` : 'layer-wise spectra'} to ${outFile}\n`);
    return 0;
  } finally {
    dispose(input);
    model.dispose();
  }
}
