/**
 * `skipnorm forward [<model flags>] --weights FILE --input X.safetensors [--train] --out Y.safetensors`:
 * loads the weights strictly (a file saved with its architecture needs no model flags), runs the
 * tensor named `input` through the model (eval mode, or train mode with batch statistics under
 * --train) and writes the logits as `output`.
 */
import { noGrad } from '../autograd';
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors, writeSafetensors } from '../io/safetensors';
import { defineCommand, parseCommand } from './command-spec';
import { MODEL_FLAGS_WITH_WEIGHTS, MODEL_RETIRED, modelFromFlags, required, UsageError } from './model-flags';

export const FORWARD = defineCommand({
  name: 'forward',
  summary: "Logits of the tensor 'input' of a safetensors file (eval mode; --train: batch statistics).",
  usage: ['forward [model flags] --weights FILE --input X.safetensors [--train] --out Y.safetensors'],
  flags: {
    ...MODEL_FLAGS_WITH_WEIGHTS,
    weights: { type: 'string', value: 'FILE', help: 'the weights (required; a file that records its model needs no model flags)' },
    input: { type: 'string', value: 'X.safetensors', help: "a file with the tensor 'input' (required; skipnorm data export writes one)" },
    train: { type: 'boolean', default: false, help: 'batch norm with batch statistics (train mode) instead of running ones' },
    out: { type: 'string', value: 'Y.safetensors', help: "where the logits go, as the tensor 'output' (required)" },
  },
  retired: MODEL_RETIRED,
});

export async function runForward(args: string[]): Promise<number> {
  const values = parseCommand(FORWARD, args);
  if (!values) return 0;
  const inputFile = required(values.input, 'input X.safetensors');
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
