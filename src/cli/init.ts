/** `skipnorm init --model NAME [model flags] [--seed S] --out FILE`: a model's initial state dict as safetensors. */
import { checkWritable, writeSafetensors } from '../io/safetensors';
import { dispose } from '../core/memory';
import { buildModel } from '../models/index';
import { manualSeed } from '../tensor/random';
import { defineCommand, parseCommand } from './command-spec';
import { MODEL_FLAGS, MODEL_RETIRED, modelSpecFromFlags, UsageError } from './model-flags';

export const INIT = defineCommand({
  name: 'init',
  summary: "A model's initial weights (PyTorch's initialisation for the seed) as safetensors.",
  usage: ['init --model bnnet|preact-resnet|resnet [model flags] [--seed S] --out FILE'],
  // Weights only, on purpose: BNNet a, b and c share their parameters, so one file starts all three.
  notes: 'The file holds weights only (the model is noted in its metadata), so that one file can start several variants: pass the model flags with --weights FILE.',
  flags: {
    ...MODEL_FLAGS,
    seed: { type: 'string', value: 'S', default: '0', help: 'seed of the initialisation (a non-negative integer)' },
    out: { type: 'string', value: 'FILE', help: 'the safetensors file to write (required)' },
  },
  retired: MODEL_RETIRED,
});

export function runInit(args: string[]): number {
  const values = parseCommand(INIT, args);
  if (!values) return 0;
  const spec = modelSpecFromFlags(values);
  if (!values.out) throw new UsageError('--out FILE is required');
  checkWritable(values.out, 'init --out');
  const seed = Number(values.seed);
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
