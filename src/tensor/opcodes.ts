/**
 * The op codes the Tensor methods dispatch with: fixed when the package is built (op-table.ts,
 * generated with the native tables from one list), and checked once against the loaded addon,
 * since an addon built from another op list would run the wrong ops under the same codes.
 */
import { LoadError } from '../core/errors';
import { native } from '../core/native';
import { OP_CODES } from './op-table';

export type OpCodes = typeof OP_CODES;

let checked = false;

export function opCodes(): OpCodes {
  if (!checked) {
    checkOpNames(native().opNames() as Record<string, string[]>);
    checked = true;
  }
  return OP_CODES;
}

/** @internal Throws a LoadError naming the first code where the addon's op names and OP_CODES disagree. */
export function checkOpNames(names: Record<string, string[]>): void {
  for (const [kind, codes] of Object.entries(OP_CODES)) {
    const expected = Object.keys(codes);
    const actual = Array.isArray(names[kind]) ? names[kind] : [];
    const code = Array.from({ length: Math.max(expected.length, actual.length) }, (_, i) => i).find((i) => expected[i] !== actual[i]);
    if (code === undefined) continue;
    const describe = (name: string | undefined) => (name === undefined ? 'no op' : `'${name}'`);
    throw new LoadError(
      `skipnorm: the native addon's ${kind} op table does not match this build's op codes (code ${code} is ${describe(actual[code])} natively, ${describe(expected[code])} here). ` +
        'Build the addon and the TypeScript from the same sources: npm run build:native and npm run build:ts.',
    );
  }
}
