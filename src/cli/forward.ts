/**
 * `skipnorm forward <model flags> --weights FILE --input X.safetensors [--train] --out Y.safetensors`:
 * loads the weights strictly, runs the tensor named `input` through the model (eval mode, or
 * train mode with batch statistics under --train) and writes the logits as `output`.
 * `--input cifar|imagenet` (a model flag) and `--input FILE` can both be given.
 */
import { parseArgs } from 'node:util';
import { noGrad } from '../autograd';
import { dispose } from '../core/memory';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import { buildModel } from '../models/index';
import { INPUT_KINDS, MODEL_OPTIONS, modelSpecFromFlags, UsageError } from './model-flags';

export function runForward(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { ...MODEL_OPTIONS, weights: { type: 'string' }, out: { type: 'string' }, train: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  const spec = modelSpecFromFlags(values);
  const files = (values.input ?? []).filter((v) => !INPUT_KINDS.includes(v));
  if (files.length !== 1) throw new UsageError('--input X.safetensors is required (once)');
  if (!values.weights) throw new UsageError('--weights FILE is required');
  if (!values.out) throw new UsageError('--out FILE is required');
  const model = buildModel(spec);
  const weights = readSafetensors(values.weights).tensors;
  const input = readSafetensors(files[0]).tensors;
  try {
    model.loadStateDict(weights);
    if (!input.input) throw new UsageError(`${files[0]} has no tensor named 'input' (it has: ${Object.keys(input).join(', ') || 'none'})`);
    model.train(values.train);
    const output = noGrad(() => model.forward(input.input));
    try {
      writeSafetensors(values.out, { output });
      process.stdout.write(`wrote output [${output.shape.join(', ')}] (${values.train ? 'train' : 'eval'} mode) to ${values.out}\n`);
    } finally {
      output.dispose();
    }
  } finally {
    dispose(weights);
    dispose(input);
    model.dispose();
  }
  return 0;
}
