/** Op name -> code maps for the native entry points that dispatch on a code (native/tensor/ops.cc). */
import { native } from '../core/native';

export interface OpCodes {
  unary: Record<string, number>;
  binary: Record<string, number>;
  inplace: Record<string, number>;
  reduce: Record<string, number>;
}

let codes: OpCodes | undefined;

export function opCodes(): OpCodes {
  if (!codes) {
    const names = native().opNames() as Record<keyof OpCodes, string[]>;
    const index = (list: string[]) => Object.fromEntries(list.map((name, i) => [name, i]));
    codes = {
      unary: index(names.unary),
      binary: index(names.binary),
      inplace: index(names.inplace),
      reduce: index(names.reduce),
    };
  }
  return codes;
}
