/**
 * `skipnorm forward <model flags> --weights FILE --input X.safetensors [--train] --out Y.safetensors`:
 * loads the weights strictly, runs the tensor named `input` through the model (eval mode, or
 * train mode with batch statistics under --train) and writes the logits as `output`.
 * `--input cifar|imagenet` (a model flag) and `--input FILE` can both be given.
 */
import { parseArgs } from 'node:util';
import { noGrad } from '../autograd';
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors, writeSafetensors } from '../io/safetensors';
import { buildModel } from '../models/index';
import { inputFileFromFlags, MODEL_OPTIONS, modelSpecFromFlags, required, UsageError } from './model-flags';

export function runForward(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { ...MODEL_OPTIONS, weights: { type: 'string' }, out: { type: 'string' }, train: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  const spec = modelSpecFromFlags(values);
  const inputFile = inputFileFromFlags(values.input);
  const weightsFile = required(values.weights, 'weights FILE');
  const outFile = required(values.out, 'out FILE');
  checkWritable(outFile, 'forward --out');
  const model = buildModel(spec);
  const weights = readSafetensors(weightsFile).tensors;
  const input = readSafetensors(inputFile).tensors;
  try {
    model.loadStateDict(weights);
    if (!input.input) throw new UsageError(`${inputFile} has no tensor named 'input' (it has: ${Object.keys(input).join(', ') || 'none'})`);
    model.train(values.train);
    const output = noGrad(() => model.forward(input.input));
    try {
      writeSafetensors(outFile, { output });
      process.stdout.write(`wrote output [${output.shape.join(', ')}] (${values.train ? 'train' : 'eval'} mode) to ${outFile}\n`);
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
