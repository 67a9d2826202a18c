/**
 * The Tensor: a handle to a LibTorch tensor owned by the native addon. Methods mirror
 * PyTorch's names (camelCase) and semantics: broadcasting, type promotion (a JavaScript integer
 * promotes like a Python int, a fractional number like a Python float), autograd.
 *
 * Every method is one native call on the JavaScript thread: fine for small work and for
 * composing; long work (training, spectra) runs as native jobs off the event loop.
 */
import { TorchError } from '../core/errors';
import { track, untrack, type Tracked } from '../core/memory';
import { native } from '../core/native';
import { checkDevice, isDevice, type Device } from './device';
import { dtypeCode, dtypeName, isDType, type DType, type TypedArrayFor } from './dtype';
import { encodeIndices, type IndexSpec } from './indexing';
import { opCodes } from './opcodes';
import type { BinaryOp, InplaceOp, ReduceOp, UnaryOp } from './op-table';

/** A number, or a tensor that broadcasts. */
export type Operand = Tensor | number | boolean;

/** A nested array of numbers (or booleans) as returned by toArray(). */
export type NestedArray = number | boolean | NestedArray[];

export interface ToOptions<D extends DType = DType> {
  device?: Device;
  dtype?: D;
  /** Always copy, even when nothing changes. */
  copy?: boolean;
}

/** Values along a dimension (of the tensor's dtype) and where they are (int64 indices). */
export interface ValuesIndices<D extends DType = DType> {
  values: Tensor<D>;
  indices: Tensor<'int64'>;
}

type Meta = [number[], number, string];

function dimsArg(dims: number | number[] | undefined, op: string): number[] | null {
  if (dims === undefined) return null;
  const list = typeof dims === 'number' ? [dims] : dims;
  if (!Array.isArray(list) || !list.every((d) => Number.isInteger(d))) {
    throw new TypeError(`${op}: dim must be an integer or an array of integers`);
  }
  return list;
}

/** Accepts shape(2, 3) and shape([2, 3]) like PyTorch. */
export function shapeArg(args: (number | number[])[], op: string): number[] {
  const shape = args.length === 1 && Array.isArray(args[0]) ? args[0] : (args as number[]);
  if (!shape.every((d) => Number.isInteger(d))) {
    throw new TypeError(`${op}: shape must be integers, got [${shape.join(', ')}]`);
  }
  return shape;
}

function checkInt(value: unknown, name: string, op: string): number {
  if (!Number.isInteger(value)) throw new TypeError(`${op}: ${name} must be an integer, got ${String(value)}`);
  return value as number;
}

/**
 * A tensor whose dtype is `D`. `D` is known where the dtype is: a literal `dtype` option
 * (`sn.zeros([2], { dtype: 'float64' })` is a `Tensor<'float64'>`), a conversion (`double()`,
 * `to('int64')`), a result documented with its dtype (singular values are float64); then
 * `dataSync()` gives that dtype's typed array (`TypedArrayFor<D>`). Elsewhere `D` is `DType`, any
 * dtype, and `dataSync()` gives the union of the typed arrays. Operations whose result dtype
 * follows type promotion give `Tensor`; those that keep the dtype (copies, views, moves) keep `D`.
 *
 * `D` is the dtype the tensor was made with: converting a module in place (`module.to('float64')`)
 * changes its parameters' dtype under any handle taken before, so read `dtype` for those.
 */
export class Tensor<D extends DType = DType> implements Tracked {
  private handle: number;
  /** @internal Registered with the finalisation safety net (core/memory.ts). */
  safetyNet = false;

  /** @internal Wraps a native handle; use the factory functions to create tensors. */
  constructor(handle: number) {
    this.handle = handle;
    track(this, handle);
  }

  /** @internal The native handle, or a TorchError when the tensor was disposed. */
  handleFor(op: string): number {
    if (this.handle < 0) throw new TorchError(op, 'the tensor was disposed (use after dispose)');
    return this.handle;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** Frees the tensor's native memory now. Disposing twice is harmless. */
  dispose(): void {
    if (this.handle < 0) return;
    native().release(this.handle);
    untrack(this);
    this.handle = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this.handle < 0;
  }

  // ---- metadata -------------------------------------------------------------------------------

  // Read from the native tensor each time, never cached: a module's `to` converts its parameters
  // in place (dtype, device), so a Tensor taken before must report what the tensor is now.
  private metaFor(op: string): Meta {
    return native().meta(this.handleFor(op)) as Meta;
  }

  get shape(): number[] {
    return this.metaFor('shape')[0].slice();
  }

  get dtype(): D {
    return dtypeName(this.metaFor('dtype')[1]) as D;
  }

  get device(): Device {
    return this.metaFor('device')[2] as Device;
  }

  get ndim(): number {
    return this.metaFor('ndim')[0].length;
  }

  /** Size of one dimension (negative counts from the end), or the whole shape. */
  size(dim?: number): number | number[] {
    const shape = this.metaFor('size')[0];
    if (dim === undefined) return shape.slice();
    const d = dim < 0 ? dim + shape.length : dim;
    if (!Number.isInteger(d) || d < 0 || d >= shape.length) {
      throw new TypeError(`size: dimension ${dim} out of range for a ${shape.length}-d tensor`);
    }
    return shape[d];
  }

  get numel(): number {
    return this.metaFor('numel')[0].reduce((a, b) => a * b, 1);
  }

  stride(): number[] {
    return native().strides(this.handleFor('stride')) as number[];
  }

  isContiguous(): boolean {
    return native().isContiguous(this.handleFor('isContiguous')) as boolean;
  }

  // ---- reading values -------------------------------------------------------------------------

  /**
   * The values as a typed array (a copy): Float32Array for float32/float16/bfloat16,
   * Float64Array, Int32Array, BigInt64Array for int64, Uint8Array for uint8 and bool; complex
   * tensors give interleaved (re, im) pairs. Typed by the tensor's dtype: `TypedArrayFor<D>`.
   */
  dataSync(): TypedArrayFor<D> {
    return native().toBuffer(this.handleFor('dataSync')) as TypedArrayFor<D>;
  }

  /** Like dataSync(), but the copy (and a device-to-host transfer) runs off the event loop. */
  async data(): Promise<TypedArrayFor<D>> {
    const [promise] = native().toBufferAsync(this.handleFor('data')) as [Promise<TypedArrayFor<D>>, number];
    return promise;
  }

  /** The values as nested arrays (numbers; booleans for bool tensors; [re, im] for complex). */
  toArray(): NestedArray {
    const dtype = this.dtype;
    const flat: TypedArrayFor<DType> = this.dataSync();
    const values: (number | boolean)[] = [];
    if (dtype === 'bool') for (const v of flat as Uint8Array) values.push(v !== 0);
    else if (dtype === 'int64') for (const v of flat as BigInt64Array) values.push(Number(v));
    else for (const v of flat as Float32Array) values.push(v);
    const shape = dtype === 'complex64' || dtype === 'complex128' ? [...this.shape, 2] : this.shape;
    if (shape.length === 0) return values[0];
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = shape[dim];
      if (dim === shape.length - 1) return values.slice(offset, offset + n);
      const step = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: n }, (_, i) => build(dim + 1, offset + i * step));
    };
    return build(0, 0);
  }

  /** PyTorch's name for toArray(). */
  tolist(): NestedArray {
    return this.toArray();
  }

  /** The single value of a one-element tensor, as a number (a bool tensor gives 1 or 0). */
  item(): number {
    return native().item(this.handleFor('item')) as number;
  }

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const head = `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}`;
    if (this.numel > 64) return `${head})`;
    return `${head}, values=${JSON.stringify(this.toArray())})`;
  }

  // ---- devices and dtypes ---------------------------------------------------------------------

  /** Moves or converts: `to('cuda:0')`, `to('float64')`, `to({ device, dtype, copy })`. */
  to<T extends DType>(dtype: T): Tensor<T>;
  to(device: Device): Tensor<D>;
  to<T extends DType>(options: ToOptions<T> & { dtype: T }): Tensor<T>;
  to(options: ToOptions<never>): Tensor<D>;
  to(target: Device | DType | ToOptions): Tensor;
  to(target: Device | DType | ToOptions): Tensor {
    const options: ToOptions =
      typeof target === 'string' ? (isDevice(target) ? { device: target } : { dtype: target as DType }) : target;
    if (typeof target === 'string' && !isDevice(target) && !isDType(target)) {
      throw new TypeError(`to: '${target}' is neither a device ('cpu', 'cuda:N') nor a dtype`);
    }
    const device = options.device === undefined ? null : checkDevice(options.device, 'to');
    if (device !== null && device.startsWith('cuda') && !native().cudaIsAvailable()) {
      throw new TorchError('to', `CUDA is not available (this LibTorch ${native().torchVersion} build or this machine has no GPU); cannot move to '${device}'`);
    }
    const dtype = options.dtype === undefined ? null : dtypeCode(options.dtype, 'to');
    return wrap(native().to(this.handleFor('to'), device, dtype, options.copy ?? false));
  }

  cpu(): Tensor<D> {
    return this.to({ device: 'cpu' });
  }

  cuda(index = 0): Tensor<D> {
    return this.to({ device: `cuda:${index}` });
  }

  float(): Tensor<'float32'> {
    return this.to({ dtype: 'float32' });
  }

  double(): Tensor<'float64'> {
    return this.to({ dtype: 'float64' });
  }

  half(): Tensor<'float16'> {
    return this.to({ dtype: 'float16' });
  }

  bfloat16(): Tensor<'bfloat16'> {
    return this.to({ dtype: 'bfloat16' });
  }

  int(): Tensor<'int32'> {
    return this.to({ dtype: 'int32' });
  }

  long(): Tensor<'int64'> {
    return this.to({ dtype: 'int64' });
  }

  bool(): Tensor<'bool'> {
    return this.to({ dtype: 'bool' });
  }

  clone(): Tensor<D> {
    return wrap(native().clone(this.handleFor('clone')));
  }

  contiguous(): Tensor<D> {
    return wrap(native().contiguous(this.handleFor('contiguous')));
  }

  // ---- element-wise ---------------------------------------------------------------------------

  // The ops of the op table (scripts/codegen/tensor-ops.js) dispatch through these helpers by
  // name; their methods are generated, at the end of the class.

  /** @internal */
  unary(name: UnaryOp): Tensor {
    return wrap(native().unary(opCodes().unary[name], this.handleFor(name)));
  }

  /** @internal */
  binary(name: BinaryOp, other: Operand, swap = false): Tensor {
    const code = opCodes().binary[name];
    if (other instanceof Tensor) return wrap(native().binary(code, this.handleFor(name), handleOf(other, name), false, swap));
    if (typeof other !== 'number' && typeof other !== 'boolean') {
      throw new TypeError(`${name}: the other operand must be a Tensor or a number, got ${typeof other}`);
    }
    return wrap(native().binary(code, this.handleFor(name), other, true, swap));
  }

  /** @internal In-place op on this tensor; returns this. */
  inplace(name: InplaceOp, other: Operand): this {
    const code = opCodes().inplace[name];
    if (other instanceof Tensor) native().inplace(code, this.handleFor(name), handleOf(other, name), false);
    else if (typeof other === 'number' || typeof other === 'boolean') native().inplace(code, this.handleFor(name), other, true);
    else throw new TypeError(`${name}: the other operand must be a Tensor or a number, got ${typeof other}`);
    return this;
  }

  add(other: Operand, alpha?: number): Tensor {
    if (alpha === undefined || alpha === 1) return this.binary('add', other);
    return scoped([other instanceof Tensor ? other.mul(alpha) : (other as number) * alpha], ([o]) => this.binary('add', o));
  }

  clamp(min?: number | null, max?: number | null): Tensor {
    if (min == null && max == null) throw new TypeError('clamp: give at least one of min and max');
    return wrap(native().clamp(this.handleFor('clamp'), min ?? null, max ?? null));
  }

  // ---- comparisons ----------------------------------------------------------------------------

  /** True when shapes and every value are equal. */
  equal(other: Tensor): boolean {
    return native().equal(this.handleFor('equal'), handleOf(other, 'equal')) as boolean;
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return native().allclose(this.handleFor('allclose'), handleOf(other, 'allclose'), rtol, atol) as boolean;
  }

  // ---- reductions -----------------------------------------------------------------------------

  private reduce(name: ReduceOp, dim: number | number[] | undefined, keepdim: boolean): Tensor {
    return wrap(native().reduce(opCodes().reduce[name], this.handleFor(name), dimsArg(dim, name), keepdim));
  }

  sum(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? this.unary('sum') : this.reduce('sum', dim, keepdim);
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return dim === undefined ? this.unary('mean') : this.reduce('mean', dim, keepdim);
  }
  prod(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return this.unary('prod');
    return wrap(native().prodDim(this.handleFor('prod'), checkInt(dim, 'dim', 'prod'), keepdim));
  }
  /** Standard deviation; correction 1 (Bessel's) by default, as in PyTorch. */
  std(dim?: number | number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(native().stdVar(true, this.handleFor('std'), dimsArg(dim, 'std'), options.correction ?? 1, options.keepdim ?? false));
  }
  var(dim?: number | number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(native().stdVar(false, this.handleFor('var'), dimsArg(dim, 'var'), options.correction ?? 1, options.keepdim ?? false));
  }
  /** max() over everything, or { values, indices } along a dimension. */
  max(): Tensor<D>;
  max(dim: number, keepdim?: boolean): ValuesIndices<D>;
  max(dim?: number, keepdim = false): Tensor<D> | ValuesIndices<D> {
    if (dim === undefined) return this.unary('max') as Tensor<D>;
    const [values, indices] = native().maxMinDim(true, this.handleFor('max'), checkInt(dim, 'dim', 'max'), keepdim) as number[];
    return { values: wrap(values), indices: wrap(indices) };
  }
  min(): Tensor<D>;
  min(dim: number, keepdim?: boolean): ValuesIndices<D>;
  min(dim?: number, keepdim = false): Tensor<D> | ValuesIndices<D> {
    if (dim === undefined) return this.unary('min') as Tensor<D>;
    const [values, indices] = native().maxMinDim(false, this.handleFor('min'), checkInt(dim, 'dim', 'min'), keepdim) as number[];
    return { values: wrap(values), indices: wrap(indices) };
  }
  argmax(dim?: number, keepdim = false): Tensor<'int64'> {
    return wrap(native().argMaxMin(true, this.handleFor('argmax'), dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor<'int64'> {
    return wrap(native().argMaxMin(false, this.handleFor('argmin'), dim ?? null, keepdim));
  }
  /** Vector p-norm over all elements or the given dimensions (torch.linalg.vector_norm). */
  norm(p: number = 2, dim?: number | number[], keepdim = false): Tensor {
    return wrap(native().vectorNorm(this.handleFor('norm'), p, dimsArg(dim, 'norm'), keepdim));
  }
  cumsum(dim: number): Tensor {
    return wrap(native().cumulative(false, this.handleFor('cumsum'), checkInt(dim, 'dim', 'cumsum')));
  }
  cumprod(dim: number): Tensor {
    return wrap(native().cumulative(true, this.handleFor('cumprod'), checkInt(dim, 'dim', 'cumprod')));
  }
  sort(dim = -1, descending = false, stable = false): ValuesIndices<D> {
    const [values, indices] = native().sort(this.handleFor('sort'), checkInt(dim, 'dim', 'sort'), descending, stable) as number[];
    return { values: wrap(values), indices: wrap(indices) };
  }
  topk(k: number, dim = -1, largest = true, sorted = true): ValuesIndices<D> {
    const [values, indices] = native().topk(this.handleFor('topk'), checkInt(k, 'k', 'topk'), checkInt(dim, 'dim', 'topk'), largest, sorted) as number[];
    return { values: wrap(values), indices: wrap(indices) };
  }

  // ---- shape ----------------------------------------------------------------------------------

  reshape(...shape: (number | number[])[]): Tensor<D> {
    return wrap(native().reshape(this.handleFor('reshape'), shapeArg(shape, 'reshape')));
  }
  view(...shape: (number | number[])[]): Tensor<D> {
    return wrap(native().view(this.handleFor('view'), shapeArg(shape, 'view')));
  }
  permute(...dims: (number | number[])[]): Tensor<D> {
    return wrap(native().permute(this.handleFor('permute'), shapeArg(dims, 'permute')));
  }
  transpose(dim0: number, dim1: number): Tensor<D> {
    return wrap(native().transpose(this.handleFor('transpose'), checkInt(dim0, 'dim0', 'transpose'), checkInt(dim1, 'dim1', 'transpose')));
  }
  movedim(source: number | number[], destination: number | number[]): Tensor<D> {
    return wrap(native().movedim(this.handleFor('movedim'), dimsArg(source, 'movedim'), dimsArg(destination, 'movedim')));
  }
  squeeze(dim?: number | number[]): Tensor<D> {
    return wrap(native().squeeze(this.handleFor('squeeze'), dimsArg(dim, 'squeeze')));
  }
  unsqueeze(dim: number): Tensor<D> {
    return wrap(native().unsqueeze(this.handleFor('unsqueeze'), checkInt(dim, 'dim', 'unsqueeze')));
  }
  flatten(startDim = 0, endDim = -1): Tensor<D> {
    return wrap(native().flatten(this.handleFor('flatten'), checkInt(startDim, 'startDim', 'flatten'), checkInt(endDim, 'endDim', 'flatten')));
  }
  unflatten(dim: number, sizes: number[]): Tensor<D> {
    return wrap(native().unflatten(this.handleFor('unflatten'), checkInt(dim, 'dim', 'unflatten'), shapeArg([sizes], 'unflatten')));
  }
  expand(...shape: (number | number[])[]): Tensor<D> {
    return wrap(native().expand(this.handleFor('expand'), shapeArg(shape, 'expand')));
  }
  repeat(...repeats: (number | number[])[]): Tensor<D> {
    return wrap(native().repeat(this.handleFor('repeat'), shapeArg(repeats, 'repeat')));
  }
  narrow(dim: number, start: number, length: number): Tensor<D> {
    return wrap(native().narrow(this.handleFor('narrow'), checkInt(dim, 'dim', 'narrow'), checkInt(start, 'start', 'narrow'), checkInt(length, 'length', 'narrow')));
  }
  select(dim: number, index: number): Tensor<D> {
    return wrap(native().select(this.handleFor('select'), checkInt(dim, 'dim', 'select'), checkInt(index, 'index', 'select')));
  }
  /** x[start:stop:step] along one dimension (a view). */
  slice(dim: number, start?: number | null, stop?: number | null, step = 1): Tensor<D> {
    if (!Number.isInteger(step) || step <= 0) throw new TypeError(`slice: step must be a positive integer, got ${step}`);
    return wrap(native().slice(this.handleFor('slice'), checkInt(dim, 'dim', 'slice'), start ?? null, stop ?? null, step));
  }
  split(sizes: number | number[], dim = 0): Tensor<D>[] {
    return (native().split(this.handleFor('split'), sizes, checkInt(dim, 'dim', 'split')) as number[]).map((h) => wrap<D>(h));
  }
  chunk(chunks: number, dim = 0): Tensor<D>[] {
    return (native().chunk(this.handleFor('chunk'), checkInt(chunks, 'chunks', 'chunk'), checkInt(dim, 'dim', 'chunk')) as number[]).map((h) => wrap<D>(h));
  }
  unbind(dim = 0): Tensor<D>[] {
    return (native().unbind(this.handleFor('unbind'), checkInt(dim, 'dim', 'unbind')) as number[]).map((h) => wrap<D>(h));
  }
  flip(dims: number | number[]): Tensor<D> {
    return wrap(native().flip(this.handleFor('flip'), dimsArg(dims, 'flip')));
  }
  roll(shifts: number | number[], dims: number | number[]): Tensor<D> {
    return wrap(native().roll(this.handleFor('roll'), dimsArg(shifts, 'roll'), dimsArg(dims, 'roll')));
  }
  tril(diagonal = 0): Tensor<D> {
    return wrap(native().triangle(false, this.handleFor('tril'), checkInt(diagonal, 'diagonal', 'tril')));
  }
  triu(diagonal = 0): Tensor<D> {
    return wrap(native().triangle(true, this.handleFor('triu'), checkInt(diagonal, 'diagonal', 'triu')));
  }
  diag(diagonal = 0): Tensor<D> {
    return wrap(native().diag(this.handleFor('diag'), checkInt(diagonal, 'diagonal', 'diag')));
  }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor<D> {
    return wrap(native().diagonal(this.handleFor('diagonal'), offset, dim1, dim2));
  }

  // ---- indexing -------------------------------------------------------------------------------

  /** PyTorch's x[...]: `x.index(0, ':', '1:3', null, '...', maskOrIndices)`. */
  index(...indices: IndexSpec[]): Tensor<D> {
    return wrap(native().index(this.handleFor('index'), encodeIndices(indices, 'index')));
  }
  /** PyTorch's x[...] = value, in place; returns this. */
  indexPut(indices: IndexSpec[], value: Operand): this {
    const encoded = encodeIndices(indices, 'indexPut');
    if (value instanceof Tensor) native().indexPut(this.handleFor('indexPut'), encoded, handleOf(value, 'indexPut'), false);
    else native().indexPut(this.handleFor('indexPut'), encoded, value, true);
    return this;
  }
  indexSelect(dim: number, index: Tensor): Tensor<D> {
    return wrap(native().indexSelect(this.handleFor('indexSelect'), checkInt(dim, 'dim', 'indexSelect'), handleOf(index, 'indexSelect')));
  }
  gather(dim: number, index: Tensor): Tensor<D> {
    return wrap(native().gather(this.handleFor('gather'), checkInt(dim, 'dim', 'gather'), handleOf(index, 'gather')));
  }
  scatter(dim: number, index: Tensor, src: Tensor, reduce?: 'sum' | 'prod' | 'mean' | 'amax' | 'amin'): Tensor<D> {
    return wrap(native().scatter(this.handleFor('scatter'), checkInt(dim, 'dim', 'scatter'), handleOf(index, 'scatter'), handleOf(src, 'scatter'), reduce ?? null));
  }
  maskedFill(mask: Tensor, value: number | boolean): Tensor<D> {
    return wrap(native().maskedFill(this.handleFor('maskedFill'), handleOf(mask, 'maskedFill'), value));
  }

  // ---- autograd -------------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return native().requiresGrad(this.handleFor('requiresGrad')) as boolean;
  }
  set requiresGrad(flag: boolean) {
    this.requiresGrad_(flag);
  }
  /** Marks a leaf tensor as requiring gradients (in place); returns this. */
  requiresGrad_(flag = true): this {
    if (typeof flag !== 'boolean') throw new TypeError('requiresGrad_: flag must be a boolean');
    native().requiresGrad_(this.handleFor('requiresGrad_'), flag);
    return this;
  }
  /** The accumulated gradient (a new handle to it each time, of this tensor's dtype), or null. */
  get grad(): Tensor<D> | null {
    const handle = native().grad(this.handleFor('grad')) as number | null;
    return handle === null ? null : wrap(handle);
  }
  set grad(value: Tensor | null) {
    native().setGrad(this.handleFor('grad'), value === null ? null : handleOf(value, 'grad'));
  }
  get isLeaf(): boolean {
    return native().isLeaf(this.handleFor('isLeaf')) as boolean;
  }
  /** Name of the autograd node that made this tensor, e.g. 'MulBackward0', or null for leaves. */
  get gradFn(): string | null {
    return native().gradFnName(this.handleFor('gradFn')) as string | null;
  }
  retainGrad(): this {
    native().retainGrad(this.handleFor('retainGrad'));
    return this;
  }
  /** Accumulates gradients into the leaves; a non-scalar tensor needs `gradient`. */
  backward(gradient?: Tensor | null, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const createGraph = options.createGraph ?? false;
    native().backward(this.handleFor('backward'), gradient ? handleOf(gradient, 'backward') : null, options.retainGraph ?? createGraph, createGraph);
  }
  /** A tensor sharing this one's data, cut from the autograd graph. */
  detach(): Tensor<D> {
    return wrap(native().detach(this.handleFor('detach')));
  }

  // ---- generated ops: begin -------------------------------------------------------------------
  // Generated by scripts/codegen/generate-ops.js (npm run generate:ops) from the op table in
  // scripts/codegen/tensor-ops.js: edit the table, not the methods down to the end marker.

  // unary: one tensor in, one out

  /** Negation, -x. */
  neg(): Tensor {
    return this.unary('neg');
  }
  /** Absolute value (the modulus, a real tensor, for complex tensors). */
  abs(): Tensor {
    return this.unary('abs');
  }
  /** e raised to each element. Integer inputs give float32. */
  exp(): Tensor {
    return this.unary('exp');
  }
  /** 2 raised to each element. Integer inputs give float32. */
  exp2(): Tensor {
    return this.unary('exp2');
  }
  /** Natural logarithm (NaN below 0, -Infinity at 0). Integer inputs give float32. */
  log(): Tensor {
    return this.unary('log');
  }
  /** Base-2 logarithm. Integer inputs give float32. */
  log2(): Tensor {
    return this.unary('log2');
  }
  /** Base-10 logarithm. Integer inputs give float32. */
  log10(): Tensor {
    return this.unary('log10');
  }
  /** log(1 + x), accurate for small x. Integer inputs give float32. */
  log1p(): Tensor {
    return this.unary('log1p');
  }
  /** exp(x) - 1, accurate for small x. Integer inputs give float32. */
  expm1(): Tensor {
    return this.unary('expm1');
  }
  /** Square root (NaN below 0). Integer inputs give float32. */
  sqrt(): Tensor {
    return this.unary('sqrt');
  }
  /** Reciprocal square root, 1 / sqrt(x). Integer inputs give float32. */
  rsqrt(): Tensor {
    return this.unary('rsqrt');
  }
  /** x * x. */
  square(): Tensor {
    return this.unary('square');
  }
  /** 1 / x. Integer inputs give float32. */
  reciprocal(): Tensor {
    return this.unary('reciprocal');
  }
  /** Sine (radians). Integer inputs give float32. */
  sin(): Tensor {
    return this.unary('sin');
  }
  /** Cosine (radians). Integer inputs give float32. */
  cos(): Tensor {
    return this.unary('cos');
  }
  /** Tangent (radians). Integer inputs give float32. */
  tan(): Tensor {
    return this.unary('tan');
  }
  /** Inverse sine, in radians (NaN outside [-1, 1]). Integer inputs give float32. */
  asin(): Tensor {
    return this.unary('asin');
  }
  /** Inverse cosine, in radians (NaN outside [-1, 1]). Integer inputs give float32. */
  acos(): Tensor {
    return this.unary('acos');
  }
  /** Inverse tangent, in radians. Integer inputs give float32. */
  atan(): Tensor {
    return this.unary('atan');
  }
  /** Hyperbolic sine. Integer inputs give float32. */
  sinh(): Tensor {
    return this.unary('sinh');
  }
  /** Hyperbolic cosine. Integer inputs give float32. */
  cosh(): Tensor {
    return this.unary('cosh');
  }
  /** Hyperbolic tangent. Integer inputs give float32. */
  tanh(): Tensor {
    return this.unary('tanh');
  }
  /** Logistic sigmoid, 1 / (1 + exp(-x)). Integer inputs give float32. */
  sigmoid(): Tensor {
    return this.unary('sigmoid');
  }
  /** max(x, 0). */
  relu(): Tensor {
    return this.unary('relu');
  }
  /** Gauss error function. Integer inputs give float32. */
  erf(): Tensor {
    return this.unary('erf');
  }
  /** Inverse of the error function (NaN outside [-1, 1]). Integer inputs give float32. */
  erfinv(): Tensor {
    return this.unary('erfinv');
  }
  /** Natural logarithm of the absolute value of the gamma function. Integer inputs give float32. */
  lgamma(): Tensor {
    return this.unary('lgamma');
  }
  /** Rounds down to an integer value (integer tensors come back unchanged). */
  floor(): Tensor {
    return this.unary('floor');
  }
  /** Rounds up to an integer value (integer tensors come back unchanged). */
  ceil(): Tensor {
    return this.unary('ceil');
  }
  /** Rounds to the nearest integer value, halves to even. */
  round(): Tensor {
    return this.unary('round');
  }
  /** Rounds toward zero to an integer value. */
  trunc(): Tensor {
    return this.unary('trunc');
  }
  /** Fractional part, x - trunc(x). Integer tensors raise a TorchError. */
  frac(): Tensor {
    return this.unary('frac');
  }
  /** -1, 0 or 1 by the sign of each element. */
  sign(): Tensor {
    return this.unary('sign');
  }
  /** True where an element is zero. Gives a bool tensor. */
  logicalNot(): Tensor {
    return this.unary('logicalNot');
  }
  /**
   * Bitwise NOT (logical NOT for bool tensors). Integer and bool tensors only: floating-point ones
   * raise a TorchError.
   */
  bitwiseNot(): Tensor {
    return this.unary('bitwiseNot');
  }
  /** True where an element is NaN. Gives a bool tensor. */
  isnan(): Tensor {
    return this.unary('isnan');
  }
  /** True where an element is Infinity or -Infinity. Gives a bool tensor. */
  isinf(): Tensor {
    return this.unary('isinf');
  }
  /** True where an element is neither infinite nor NaN. Gives a bool tensor. */
  isfinite(): Tensor {
    return this.unary('isfinite');
  }
  /** Real part of a complex tensor (a view). */
  get real(): Tensor {
    return this.unary('real');
  }
  /**
   * Imaginary part of a complex tensor (a view). Complex tensors only: real ones raise a
   * TorchError.
   */
  get imag(): Tensor {
    return this.unary('imag');
  }
  /**
   * Argument of each element in radians (0 or pi for real tensors). Integer inputs give float32.
   */
  angle(): Tensor {
    return this.unary('angle');
  }
  /** Complex conjugate, materialised (real tensors come back unchanged). */
  conj(): Tensor {
    return this.unary('conj');
  }
  /** Transpose of a matrix (at most 2-d). */
  t(): Tensor {
    return this.unary('t');
  }
  /** Transpose of the last two dimensions. */
  get mT(): Tensor {
    return this.unary('mT');
  }
  /**
   * Indices of the non-zero elements: one row of ndim indices per element. Gives an int64 tensor.
   */
  nonzero(): Tensor {
    return this.unary('nonzero');
  }
  /** Median of all elements (the lower of the two middle values for an even count). */
  median(): Tensor {
    return this.unary('median');
  }

  // binary: two operands; a number broadcasts like a Python scalar

  /** this - other. */
  sub(other: Operand): Tensor {
    return this.binary('sub', other);
  }
  /** other - this, for `2 - x`. */
  rsub(other: Operand): Tensor {
    return this.binary('sub', other, true);
  }
  /** this * other. */
  mul(other: Operand): Tensor {
    return this.binary('mul', other);
  }
  /** True division, this / other. Integer inputs give float32. */
  div(other: Operand): Tensor {
    return this.binary('div', other);
  }
  /** other / this, for `3 / x`. Integer inputs give float32. */
  rdiv(other: Operand): Tensor {
    return this.binary('div', other, true);
  }
  /** this / other rounded down (Python's //). */
  floorDivide(other: Operand): Tensor {
    return this.binary('floorDivide', other);
  }
  /** Remainder of this / other with the sign of other (Python's %). */
  remainder(other: Operand): Tensor {
    return this.binary('remainder', other);
  }
  /** Remainder of this / other with the sign of this (C's fmod). */
  fmod(other: Operand): Tensor {
    return this.binary('fmod', other);
  }
  /** this raised to exponent. */
  pow(exponent: Operand): Tensor {
    return this.binary('pow', exponent);
  }
  /** The larger of this and other (NaN if either is). */
  maximum(other: Operand): Tensor {
    return this.binary('maximum', other);
  }
  /** The smaller of this and other (NaN if either is). */
  minimum(other: Operand): Tensor {
    return this.binary('minimum', other);
  }
  /**
   * Angle of the point (other, this) in radians, in the right quadrant. Integer inputs give
   * float32.
   */
  atan2(other: Operand): Tensor {
    return this.binary('atan2', other);
  }
  /** sqrt(this^2 + other^2), without overflow. Integer tensors raise a TorchError. */
  hypot(other: Operand): Tensor {
    return this.binary('hypot', other);
  }
  /** this * log(other), 0 where this is 0. Integer inputs give float32. */
  xlogy(other: Operand): Tensor {
    return this.binary('xlogy', other);
  }
  /** True where this equals other. Gives a bool tensor. */
  eq(other: Operand): Tensor {
    return this.binary('eq', other);
  }
  /** True where this differs from other. Gives a bool tensor. */
  ne(other: Operand): Tensor {
    return this.binary('ne', other);
  }
  /** True where this < other. Gives a bool tensor. */
  lt(other: Operand): Tensor {
    return this.binary('lt', other);
  }
  /** True where this <= other. Gives a bool tensor. */
  le(other: Operand): Tensor {
    return this.binary('le', other);
  }
  /** True where this > other. Gives a bool tensor. */
  gt(other: Operand): Tensor {
    return this.binary('gt', other);
  }
  /** True where this >= other. Gives a bool tensor. */
  ge(other: Operand): Tensor {
    return this.binary('ge', other);
  }
  /** True where both are non-zero. Gives a bool tensor. */
  logicalAnd(other: Operand): Tensor {
    return this.binary('logicalAnd', other);
  }
  /** True where either is non-zero. Gives a bool tensor. */
  logicalOr(other: Operand): Tensor {
    return this.binary('logicalOr', other);
  }
  /** True where exactly one is non-zero. Gives a bool tensor. */
  logicalXor(other: Operand): Tensor {
    return this.binary('logicalXor', other);
  }
  /**
   * Bitwise AND (logical AND for bool tensors). Integer and bool tensors only: floating-point ones
   * raise a TorchError.
   */
  bitwiseAnd(other: Operand): Tensor {
    return this.binary('bitwiseAnd', other);
  }
  /**
   * Bitwise OR (logical OR for bool tensors). Integer and bool tensors only: floating-point ones
   * raise a TorchError.
   */
  bitwiseOr(other: Operand): Tensor {
    return this.binary('bitwiseOr', other);
  }
  /**
   * Bitwise XOR (logical XOR for bool tensors). Integer and bool tensors only: floating-point ones
   * raise a TorchError.
   */
  bitwiseXor(other: Operand): Tensor {
    return this.binary('bitwiseXor', other);
  }
  /** Matrix product with NumPy's rules: vectors, matrices and broadcast batches of matrices. */
  matmul(other: Tensor): Tensor {
    return this.binary('matmul', other);
  }
  /** Product of two matrices (2-d, no broadcasting). */
  mm(other: Tensor): Tensor {
    return this.binary('mm', other);
  }
  /** Batched matrix product of 3-d tensors: [b, n, m] by [b, m, p]. */
  bmm(other: Tensor): Tensor {
    return this.binary('bmm', other);
  }
  /** Dot product of two 1-d tensors. */
  dot(other: Tensor): Tensor {
    return this.binary('dot', other);
  }
  /** Outer product of two 1-d tensors. */
  outer(other: Tensor): Tensor {
    return this.binary('outer', other);
  }
  /**
   * True where |this - other| <= 1e-8 + 1e-5 * |other| (PyTorch's default tolerances). Gives a bool
   * tensor.
   */
  isclose(other: Tensor): Tensor {
    return this.binary('isclose', other);
  }

  // inplace: change this tensor and return it

  /** Adds other to this tensor in place; returns this. */
  add_(other: Operand): this {
    return this.inplace('add_', other);
  }
  /** Subtracts other from this tensor in place; returns this. */
  sub_(other: Operand): this {
    return this.inplace('sub_', other);
  }
  /** Multiplies this tensor by other in place; returns this. */
  mul_(other: Operand): this {
    return this.inplace('mul_', other);
  }
  /** Divides this tensor by other in place; returns this. Integer tensors raise a TorchError. */
  div_(other: Operand): this {
    return this.inplace('div_', other);
  }
  /** Raises this tensor to the power other in place; returns this. */
  pow_(other: Operand): this {
    return this.inplace('pow_', other);
  }
  /**
   * Copies source into this tensor (broadcast, converted to its dtype and device); returns this.
   */
  copy_(source: Tensor): this {
    return this.inplace('copy_', source);
  }
  /** Sets every element to value (a number or a 0-d tensor); returns this. */
  fill_(value: Operand): this {
    return this.inplace('fill_', value);
  }
  /** Sets every element to 0; returns this. */
  zero_(): this {
    return this.inplace('fill_', 0);
  }

  // reduce: over the given dimensions, or all of them

  /** Sum over the given dimensions (all when omitted), NaN counted as 0. */
  nansum(dim?: number | number[], keepdim = false): Tensor {
    return this.reduce('nansum', dim, keepdim);
  }
  /**
   * Mean over the given dimensions (all when omitted), NaN left out. Integer tensors raise a
   * TorchError.
   */
  nanmean(dim?: number | number[], keepdim = false): Tensor {
    return this.reduce('nanmean', dim, keepdim);
  }
  /** Largest value over the given dimensions (all when omitted). */
  amax(dim?: number | number[], keepdim = false): Tensor {
    return this.reduce('amax', dim, keepdim);
  }
  /** Smallest value over the given dimensions (all when omitted). */
  amin(dim?: number | number[], keepdim = false): Tensor {
    return this.reduce('amin', dim, keepdim);
  }
  /** log(sum(exp(x))) over the given dimensions, computed stably. Integer inputs give float32. */
  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return this.reduce('logsumexp', dim, keepdim);
  }
  /**
   * Number of non-zero elements over the given dimensions (all when omitted). Gives an int64
   * tensor.
   */
  countNonzero(dim?: number | number[]): Tensor {
    return this.reduce('countNonzero', dim, false);
  }
  /**
   * True where every element over the given dimensions (all when omitted) is non-zero. Gives a bool
   * tensor.
   */
  all(dim?: number | number[], keepdim = false): Tensor {
    return this.reduce('all', dim, keepdim);
  }
  /**
   * True where any element over the given dimensions (all when omitted) is non-zero. Gives a bool
   * tensor.
   */
  any(dim?: number | number[], keepdim = false): Tensor {
    return this.reduce('any', dim, keepdim);
  }

  // ---- generated ops: end ---------------------------------------------------------------------
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}

/** @internal The handle of a tensor argument, or a TypeError saying what was passed instead. */
export function handleOf(value: unknown, op: string): number {
  if (value instanceof Tensor) return value.handleFor(op);
  throw new TypeError(`${op}: expected a Tensor, got ${describeValue(value)}`);
}

/** @internal Wraps a handle returned by native code (`D`: its dtype, where the caller knows it). */
export function wrap<D extends DType = DType>(handle: number): Tensor<D> {
  return new Tensor<D>(handle);
}

/** Runs fn on temporaries and disposes them afterwards (for operands built on the fly). */
function scoped<T extends Operand, R>(temps: T[], fn: (temps: T[]) => R): R {
  try {
    return fn(temps);
  } finally {
    for (const t of temps) if (t instanceof Tensor) t.dispose();
  }
}
