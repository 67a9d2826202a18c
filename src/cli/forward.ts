/**
 * `skipnorm forward [<model flags>] --weights FILE --input X.safetensors [--train] --out Y.safetensors`:
 * loads the weights strictly (a file saved with its architecture needs no model flags), runs the tensor named `input` through the model (eval mode, or
 * train mode with batch statistics under --train) and writes the logits as `output`.
 * `--input cifar|imagenet` (a model flag) and `--input FILE` can both be given.
 */
import { parseArgs } from 'node:util';
import { noGrad } from '../autograd';
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors, writeSafetensors } from '../io/safetensors';
import { inputFileFromFlags, MODEL_OPTIONS, modelFromFlags, required, UsageError } from './model-flags';

export async function runForward(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...MODEL_OPTIONS, weights: { type: 'string' }, out: { type: 'string' }, train: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  const inputFile = inputFileFromFlags(values.input);
  const weightsFile = required(values.weights, 'weights FILE');
  const outFile = required(values.out, 'out FILE');
  checkWritable(outFile, 'forward --out');
  const { model } = await modelFromFlags(values, weightsFile);
  const input = readSafetensors(inputFile).tensors;
  try {
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
    dispose(input);
    model.dispose();
  }
  return 0;
}
