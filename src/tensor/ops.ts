/**
 * Free-function forms of tensor operations (torch.add(a, b), torch.cat, torch.where, ...), for
 * code that reads better that way and for operations over several tensors.
 */
import { native } from '../core/native';
import type { BinaryOp } from './op-table';
import { Tensor, handleOf, wrap, type Operand } from './tensor';

function tensorsArg(tensors: Tensor[], op: string): number[] {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TypeError(`${op}: expected a non-empty array of tensors`);
  return tensors.map((t) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: every element must be a Tensor`);
    return handleOf(t, op);
  });
}

function dimArg(dim: number, op: string): number {
  if (!Number.isInteger(dim)) throw new TypeError(`${op}: dim must be an integer`);
  return dim;
}

/** Concatenates along an existing dimension. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(native().cat(tensorsArg(tensors, 'cat'), dimArg(dim, 'cat')));
}

/** Stacks along a new dimension. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(native().stack(tensorsArg(tensors, 'stack'), dimArg(dim, 'stack')));
}

/** Elements of a where condition holds, else of b; numbers broadcast like Python scalars. */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  const temps: Tensor[] = [];
  const asTensor = (x: Operand): Tensor => {
    if (x instanceof Tensor) return x;
    if (typeof x !== 'number' && typeof x !== 'boolean') throw new TypeError('where: operands must be tensors or numbers');
    const t = wrap(native().scalarTensor(x));
    temps.push(t);
    return t;
  };
  try {
    return wrap(native().where(handleOf(condition, 'where'), asTensor(a).handleFor('where'), asTensor(b).handleFor('where')));
  } finally {
    for (const t of temps) t.dispose();
  }
}

function lhs(a: Operand, op: string): Tensor {
  if (!(a instanceof Tensor)) throw new TypeError(`${op}: the first operand must be a Tensor`);
  return a;
}

// Binary ops where either side may be a number: add(2, x) works like torch.add.
function binary(name: BinaryOp, a: Operand, b: Operand): Tensor {
  if (a instanceof Tensor) return a.binary(name, b);
  if (b instanceof Tensor) return b.binary(name, a, true);
  throw new TypeError(`${name}: at least one operand must be a Tensor`);
}

export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('minimum', a, b);
export const eq = (a: Operand, b: Operand): Tensor => binary('eq', a, b);
export const ne = (a: Operand, b: Operand): Tensor => binary('ne', a, b);
export const lt = (a: Tensor, b: Operand): Tensor => lhs(a, 'lt').lt(b);
export const le = (a: Tensor, b: Operand): Tensor => lhs(a, 'le').le(b);
export const gt = (a: Tensor, b: Operand): Tensor => lhs(a, 'gt').gt(b);
export const ge = (a: Tensor, b: Operand): Tensor => lhs(a, 'ge').ge(b);
export const matmul = (a: Tensor, b: Tensor): Tensor => lhs(a, 'matmul').matmul(b);
export const kron = (a: Tensor, b: Tensor): Tensor => lhs(a, 'kron').binary('kron', b);
/** A complex tensor from real and imaginary parts. */
export const complex = (real: Tensor, imag: Tensor): Tensor => lhs(real, 'complex').binary('complex', imag);
export const viewAsReal = (x: Tensor): Tensor => lhs(x, 'viewAsReal').unary('viewAsReal');
export const viewAsComplex = (x: Tensor): Tensor => lhs(x, 'viewAsComplex').unary('viewAsComplex');
