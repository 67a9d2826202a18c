/** `skipnorm init <model flags> --seed S --out FILE`: a model's initial state dict as safetensors. */
import { parseArgs } from 'node:util';
import { checkWritable, writeSafetensors } from '../io/safetensors';
import { dispose } from '../core/memory';
import { buildModel } from '../models/index';
import { manualSeed } from '../tensor/random';
import { MODEL_OPTIONS, modelSpecFromFlags, UsageError } from './model-flags';

export function runInit(args: string[]): number {
  const { values } = parseArgs({ args, options: { ...MODEL_OPTIONS, seed: { type: 'string' }, out: { type: 'string' } }, strict: true, allowPositionals: false });
  const spec = modelSpecFromFlags(values);
  if (!values.out) throw new UsageError('--out FILE is required');
  checkWritable(values.out, 'init --out');
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got '${values.seed}'`);
  manualSeed(seed);
  const model = buildModel(spec);
  const state = model.stateDict();
  try {
    writeSafetensors(values.out, state, { model: JSON.stringify(spec), seed: String(seed), written_by: 'skipnorm init' });
    process.stdout.write(`wrote ${Object.keys(state).length} tensors (${model.numParameters().toLocaleString('en-US')} parameters) to ${values.out}\n`);
  } finally {
    dispose(state);
    model.dispose();
  }
  return 0;
}
