/**
 * Creating tensors: from data (nested arrays, typed arrays, scalars), filled with a value,
 * ranges, and random values (seedable through a Generator or manualSeed).
 */
import { TorchError } from '../core/errors';
import { native } from '../core/native';
import { checkDevice, type Device } from './device';
import { dtypeCode, dtypeOfTypedArray, type AnyTypedArray, type DType } from './dtype';
import { Generator } from './random';
import { shapeArg, Tensor, wrap, type NestedArray } from './tensor';

/**
 * Options of the creation functions. A literal `dtype` types the result: `{ dtype: 'float64' }`
 * gives a `Tensor<'float64'>`.
 */
export interface TensorOptions<D extends DType = DType> {
  dtype?: D;
  device?: Device;
  requiresGrad?: boolean;
}

export interface RandomOptions<D extends DType = DType> extends TensorOptions<D> {
  generator?: Generator;
}

type Data = number | boolean | bigint | NestedArray | bigint[] | AnyTypedArray | readonly unknown[];

function deviceArg(options: TensorOptions, op: string): string | null {
  if (options.device === undefined) return null;
  const device = checkDevice(options.device, op);
  if (device.startsWith('cuda') && !native().cudaIsAvailable()) {
    throw new TorchError(op, `CUDA is not available (this LibTorch ${native().torchVersion} build or this machine has no GPU); cannot create a tensor on '${device}'`);
  }
  return device;
}

function dtypeArg(options: TensorOptions, op: string): number | null {
  return options.dtype === undefined ? null : dtypeCode(options.dtype, op);
}

// The result typed by the dtype asked for (`D`; DType, any dtype, when none was).
function finish<D extends DType>(tensor: Tensor, options: TensorOptions<D>): Tensor<D> {
  if (options.requiresGrad) tensor.requiresGrad_(true);
  return tensor as Tensor<D>;
}

function isTypedArray(value: unknown): value is AnyTypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** Shape and flat values of a nested array; throws on ragged or mixed input. */
function flatten(data: unknown, op: string): { shape: number[]; values: unknown[] } {
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  const values: unknown[] = [];
  const walk = (node: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(node)) throw new TypeError(`${op}: ragged nested array (too deep at dimension ${dim})`);
      values.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      throw new TypeError(`${op}: ragged nested array: expected length ${shape[dim]} at dimension ${dim}`);
    }
    for (const child of node) walk(child, dim + 1);
  };
  walk(data, 0);
  return { shape, values };
}

/**
 * A tensor from data, copying it. Numbers default to float32 (JavaScript has no integer type;
 * pass `dtype: 'int64'` for integer data), booleans to bool, bigints to int64, and a typed array
 * to its own dtype. Pass `shape` to give a typed array's shape.
 */
export function tensor<D extends DType = DType>(data: Data, options: TensorOptions<D> & { shape?: number[] } = {}): Tensor<D> {
  const op = 'tensor';
  const device = deviceArg(options, op);
  if (isTypedArray(data)) {
    const shape = options.shape ?? [data.length];
    return finish(fromTypedArray(data, shape, options), options);
  }
  const scalar = typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint';
  if (!scalar && !Array.isArray(data)) throw new TypeError(`${op}: data must be a number, a boolean, a (nested) array or a typed array`);
  const { shape, values } = scalar ? { shape: [] as number[], values: [data] } : flatten(data, op);
  if (options.shape && options.shape.reduce((a, b) => a * b, 1) !== values.length) {
    throw new TypeError(`${op}: shape [${options.shape.join(', ')}] does not fit ${values.length} values`);
  }
  const kind = values.length === 0 ? 'number' : typeof values[0];
  if (!values.every((v) => typeof v === kind)) throw new TypeError(`${op}: all values must be of one kind (numbers, booleans or bigints)`);
  let flat: AnyTypedArray;
  let natural: DType;
  if (kind === 'number') {
    flat = Float64Array.from(values as number[]);
    natural = 'float32';
  } else if (kind === 'boolean') {
    flat = Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0));
    natural = 'bool';
  } else if (kind === 'bigint') {
    flat = BigInt64Array.from(values as bigint[]);
    natural = 'int64';
  } else {
    throw new TypeError(`${op}: values must be numbers, booleans or bigints, got ${kind}`);
  }
  const dtype = dtypeCode(options.dtype ?? natural, op);
  return finish(wrap(native().fromTypedArray(flat, options.shape ?? shape, dtype, device)), options);
}

/** A tensor of the given shape from a typed array's values (copied). */
export function fromTypedArray<D extends DType = DType>(data: AnyTypedArray, shape: number[], options: TensorOptions<D> = {}): Tensor<D> {
  const op = 'fromTypedArray';
  if (!isTypedArray(data)) throw new TypeError(`${op}: data must be a typed array`);
  if (!(data instanceof Uint16Array)) dtypeOfTypedArray(data);  // rejects unsupported arrays clearly
  else if (options.dtype !== 'float16' && options.dtype !== 'bfloat16') dtypeOfTypedArray(data);
  const dims = shapeArg([shape], op);
  const dtype = dtypeArg(options, op);
  return finish(wrap(native().fromTypedArray(data, dims, dtype, deviceArg(options, op))), options);
}

export function zeros<D extends DType = DType>(shape: number[], options: TensorOptions<D> = {}): Tensor<D> {
  return finish(wrap(native().zeros(shapeArg([shape], 'zeros'), dtypeArg(options, 'zeros'), deviceArg(options, 'zeros'))), options);
}

export function ones<D extends DType = DType>(shape: number[], options: TensorOptions<D> = {}): Tensor<D> {
  return finish(wrap(native().ones(shapeArg([shape], 'ones'), dtypeArg(options, 'ones'), deviceArg(options, 'ones'))), options);
}

export function empty<D extends DType = DType>(shape: number[], options: TensorOptions<D> = {}): Tensor<D> {
  return finish(wrap(native().empty(shapeArg([shape], 'empty'), dtypeArg(options, 'empty'), deviceArg(options, 'empty'))), options);
}

export function full<D extends DType = DType>(shape: number[], value: number | boolean, options: TensorOptions<D> = {}): Tensor<D> {
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new TypeError('full: value must be a number or a boolean');
  return finish(wrap(native().full(shapeArg([shape], 'full'), value, dtypeArg(options, 'full'), deviceArg(options, 'full'))), options);
}

// The *Like functions keep t's dtype unless options give another: the result is Tensor<O>, O being
// options.dtype when given, else t's D.
export function zerosLike<D extends DType, O extends DType = D>(t: Tensor<D>, options: TensorOptions<O> = {}): Tensor<O> {
  return zeros<DType>(t.shape, { dtype: t.dtype, device: t.device, ...options }) as Tensor<O>;
}

export function onesLike<D extends DType, O extends DType = D>(t: Tensor<D>, options: TensorOptions<O> = {}): Tensor<O> {
  return ones<DType>(t.shape, { dtype: t.dtype, device: t.device, ...options }) as Tensor<O>;
}

export function fullLike<D extends DType, O extends DType = D>(t: Tensor<D>, value: number, options: TensorOptions<O> = {}): Tensor<O> {
  return full<DType>(t.shape, value, { dtype: t.dtype, device: t.device, ...options }) as Tensor<O>;
}

/** The n x m identity (m defaults to n). */
export function eye<D extends DType = DType>(n: number, m: number = n, options: TensorOptions<D> = {}): Tensor<D> {
  if (!Number.isInteger(n) || !Number.isInteger(m)) throw new TypeError('eye: sizes must be integers');
  return finish(wrap(native().eye(n, m, dtypeArg(options, 'eye'), deviceArg(options, 'eye'))), options);
}

/**
 * Values from start to end (exclusive) by step: `arange(5)`, `arange(1, 4)`, `arange(0, 1, 0.25)`.
 * Integer arguments give int64, as in PyTorch; otherwise float32.
 */
export function arange<D extends DType = DType>(start: number, end?: number, step = 1, options: TensorOptions<D> = {}): Tensor<D> {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  for (const v of [from, to, step]) if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError('arange: bounds and step must be finite numbers');
  if (step === 0) throw new TypeError('arange: step must not be zero');
  return finish(wrap(native().arange(from, to, step, dtypeArg(options, 'arange'), deviceArg(options, 'arange'))), options);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace<D extends DType = DType>(start: number, end: number, steps: number, options: TensorOptions<D> = {}): Tensor<D> {
  if (!Number.isInteger(steps) || steps < 0) throw new TypeError('linspace: steps must be a non-negative integer');
  return finish(wrap(native().linspace(start, end, steps, dtypeArg(options, 'linspace'), deviceArg(options, 'linspace'))), options);
}

function generatorArg(options: RandomOptions, op: string): number | null {
  if (options.generator === undefined) return null;
  if (!(options.generator instanceof Generator)) throw new TypeError(`${op}: generator must be a skipnorm Generator`);
  return options.generator.handleFor(op);
}

/** Uniform on [0, 1). */
export function rand<D extends DType = DType>(shape: number[], options: RandomOptions<D> = {}): Tensor<D> {
  return finish(wrap(native().rand(shapeArg([shape], 'rand'), dtypeArg(options, 'rand'), deviceArg(options, 'rand'), generatorArg(options, 'rand'))), options);
}

/** Standard normal. */
export function randn<D extends DType = DType>(shape: number[], options: RandomOptions<D> = {}): Tensor<D> {
  return finish(wrap(native().randn(shapeArg([shape], 'randn'), dtypeArg(options, 'randn'), deviceArg(options, 'randn'), generatorArg(options, 'randn'))), options);
}

/** Integers uniform on [low, high). */
export function randint<D extends DType = DType>(low: number, high: number, shape: number[], options: RandomOptions<D> = {}): Tensor<D> {
  if (!Number.isInteger(low) || !Number.isInteger(high)) throw new TypeError('randint: low and high must be integers');
  if (high <= low) throw new TypeError(`randint: high (${high}) must be greater than low (${low})`);
  return wrap(native().randint(low, high, shapeArg([shape], 'randint'), dtypeArg(options, 'randint'), deviceArg(options, 'randint'), generatorArg(options, 'randint')));
}

/** A random permutation of 0..n-1. */
export function randperm<D extends DType = DType>(n: number, options: RandomOptions<D> = {}): Tensor<D> {
  if (!Number.isInteger(n) || n < 0) throw new TypeError('randperm: n must be a non-negative integer');
  return wrap(native().randperm(n, dtypeArg(options, 'randperm'), deviceArg(options, 'randperm'), generatorArg(options, 'randperm')));
}
