/**
 * Data types. The numeric codes are LibTorch's at::ScalarType values, which native code checks.
 */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'bool'
  | 'complex64'
  | 'complex128';

export const DTYPE_CODES: Readonly<Record<DType, number>> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  complex64: 9,
  complex128: 10,
  bool: 11,
  bfloat16: 15,
};

const NAMES: Record<number, DType> = Object.fromEntries(
  Object.entries(DTYPE_CODES).map(([name, code]) => [code, name as DType]),
);

/** Aliases PyTorch users type: `float`, `double`, `half`, `long`, `int`. */
const ALIASES: Record<string, DType> = {
  float: 'float32',
  double: 'float64',
  half: 'float16',
  long: 'int64',
  int: 'int32',
  short: 'int16',
  cfloat: 'complex64',
  cdouble: 'complex128',
};

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (value in DTYPE_CODES || value in ALIASES);
}

export function dtypeCode(dtype: DType | string, op: string): number {
  const name = (ALIASES[dtype] ?? dtype) as DType;
  const code = DTYPE_CODES[name];
  if (code === undefined) {
    throw new TypeError(`${op}: unknown dtype '${dtype}'; expected one of ${Object.keys(DTYPE_CODES).join(', ')}`);
  }
  return code;
}

export function dtypeName(code: number): DType {
  const name = NAMES[code];
  if (!name) throw new TypeError(`unsupported dtype code ${code}`);
  return name;
}

export function isFloatingDType(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

export function isComplexDType(dtype: DType): boolean {
  return dtype === 'complex64' || dtype === 'complex128';
}

/** The typed array a tensor of this dtype reads back as (float16/bfloat16 widen to float32). */
export type TypedArrayFor<D extends DType> = D extends 'float64' | 'complex128'
  ? Float64Array
  : D extends 'float32' | 'float16' | 'bfloat16' | 'complex64'
    ? Float32Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'int64'
        ? BigInt64Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : Uint8Array;

export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array;

/** The dtype a typed array holds, when none is given. */
export function dtypeOfTypedArray(array: AnyTypedArray): DType {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  if (array instanceof Int32Array) return 'int32';
  if (array instanceof BigInt64Array) return 'int64';
  if (array instanceof Int16Array) return 'int16';
  if (array instanceof Int8Array) return 'int8';
  if (array instanceof Uint8Array || array instanceof Uint8ClampedArray) return 'uint8';
  if (!((array as unknown) instanceof Uint16Array)) {
    throw new TypeError('Uint32Array and BigUint64Array are not supported: convert to Int32Array, BigInt64Array or Float64Array');
  }
  throw new TypeError('a Uint16Array holds raw float16/bfloat16 bits: pass { dtype: "float16" } or { dtype: "bfloat16" }');
}
