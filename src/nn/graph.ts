/**
 * Modules with a forward written in TypeScript, traced into a native graph (native/nn/graph.h).
 *
 * A subclass of Module assigns its children and parameters as properties in its constructor and
 * writes `forward(...inputs)` with tensor methods, `sn.F` functions and calls of its children.
 * Called on real tensors, that forward runs eagerly, op by op, for debugging. For native work
 * (fit, evaluate, spectra, CUDA graphs, data parallelism) it is traced: run once with symbolic
 * tensors while every native call is watched, so that each tensor operation and each call of a
 * child becomes a node of a graph, which C++ then runs with no JavaScript per step.
 *
 * A trace is made at two batch sizes (2 and 3) from inputs of a private generator, in eval mode
 * without gradients (so it never updates running statistics, draws dropout masks or moves the
 * user's random stream); a number that differs between the two recordings and equals k times the
 * batch size becomes `batch x k`, so `x.reshape([x.shape[0], -1])` works for every batch size.
 * Anything else that differs, an operation outside the traced set, reading tensor values
 * (branching on them), a tensor created outside the graph or an unregistered child is an error
 * at trace time that names what happened.
 */
import { TorchError } from '../core/errors';
import { scope } from '../core/memory';
import { native, rawNative, setNativeInterceptor, type NativeBinding } from '../core/native';
import { dtypeCode, dtypeName, isFloatingDType, type DType } from '../tensor/dtype';
import { opCodes } from '../tensor/opcodes';
import { Tensor, wrap } from '../tensor/tensor';
import type { Module } from './module';

/** An argument of a graph node: a plain value, a reference to a node's output, or a batch multiple. */
export type GraphArg = number | boolean | string | null | GraphArg[] | { ref: [number, number] } | { batch: number };

export interface GraphNode {
  /** input: the forward's argument; param: a parameter or buffer of the module; call: a child; op: a tensor operation. */
  kind: 'input' | 'param' | 'call' | 'op';
  /** The input's index is args[0]; otherwise the parameter's, child's or operation's name. */
  name: string;
  args: GraphArg[];
  outputs?: number;
}

/** A traced forward as plain data: what native code runs and model files store. */
export interface GraphSpec {
  inputs: number;
  /** One example's shape per input (the batch dimension left out). */
  exampleShapes: number[][];
  /** The dtype of each input the trace used. */
  exampleDtypes: DType[];
  nodes: GraphNode[];
  output: [number, number];
}

// ---- per-module trace state --------------------------------------------------------------------

interface TraceState {
  /** The subclass's forward, as written. */
  forward: (...inputs: Tensor[]) => Tensor;
  /** Children, parameters and buffers found on the instance when it was created natively. */
  registered: { children: [string, Module][]; parameters: [string, Tensor][]; buffers: [string, Tensor][] } | null;
  graph: GraphSpec | null;
  signature: string | null;
}

const states = new WeakMap<Module, TraceState>();
const parameterTensors = new WeakSet<Tensor>();
const bufferTensors = new WeakSet<Tensor>();

/**
 * Marks a tensor as a learnable parameter of the module it is assigned to (PyTorch's
 * nn.Parameter): `this.alpha = sn.nn.parameter(sn.zeros([]))`. Floating-point tensors get
 * requiresGrad. The module holds it natively from its first use; optimisers and state dicts see it.
 */
export function parameter(tensor: Tensor): Tensor {
  if (!(tensor instanceof Tensor)) throw new TypeError('parameter: expected a Tensor');
  if (isFloatingDType(tensor.dtype) && !tensor.requiresGrad) tensor.requiresGrad_(true);
  parameterTensors.add(tensor);
  return tensor;
}

/** Marks a tensor as a buffer (state saved with the module but not learned, as register_buffer). */
export function buffer(tensor: Tensor): Tensor {
  if (!(tensor instanceof Tensor)) throw new TypeError('buffer: expected a Tensor');
  bufferTensors.add(tensor);
  return tensor;
}

/** @internal Whether a module's forward is written in TypeScript (a traced module). */
export function isTracedModule(module: Module): boolean {
  return states.has(module);
}

// Graphs of modules rebuilt from model files (no TypeScript forward behind them).
const loadedGraphs = new WeakMap<Module, GraphSpec>();

/** @internal The graph a module runs: the last one traced, or the one it was loaded with; else null. */
export function graphOf(module: Module): GraphSpec | null {
  return states.get(module)?.graph ?? loadedGraphs.get(module) ?? null;
}

/** @internal Records the graph a rebuilt module was loaded with. */
export function rememberLoadedGraph(module: Module, graph: GraphSpec): void {
  loadedGraphs.set(module, graph);
}

/** @internal Called by Module's constructor for subclasses: wraps the subclass's forward. */
export function installTracedForward(module: Module, userForward: (...inputs: Tensor[]) => Tensor): void {
  states.set(module, { forward: userForward, registered: null, graph: null, signature: null });
  Object.defineProperty(module, 'forward', {
    value: (...inputs: Tensor[]) => callTraced(module, inputs),
    enumerable: false,
    writable: true,
    configurable: true,
  });
}

function className(module: Module): string {
  return module.constructor?.name || 'Module';
}

// ---- registration ------------------------------------------------------------------------------

function isModule(value: unknown): value is Module {
  return typeof value === 'object' && value !== null && typeof (value as Module).moduleHandle === 'function' && typeof (value as Module).namedModules === 'function';
}

/** The children, parameters and buffers assigned to a module's properties, in assignment order. */
function discover(module: Module): NonNullable<TraceState['registered']> {
  const found: NonNullable<TraceState['registered']> = { children: [], parameters: [], buffers: [] };
  for (const [name, value] of Object.entries(module)) {
    if (isModule(value)) found.children.push([name, value]);
    else if (value instanceof Tensor && parameterTensors.has(value)) found.parameters.push([name, value]);
    else if (value instanceof Tensor && bufferTensors.has(value)) found.buffers.push([name, value]);
    else if (Array.isArray(value) && value.some(isModule)) {
      throw new TypeError(`${className(module)}: property '${name}' is an array of modules, which a module does not register: hold them in an sn.nn.ModuleList`);
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype && Object.values(value).some(isModule)) {
      throw new TypeError(`${className(module)}: property '${name}' is an object of modules, which a module does not register: hold them in an sn.nn.ModuleDict`);
    }
  }
  return found;
}

/** @internal Creates a traced module natively (its children, parameters and buffers); returns the handle. */
export function materialiseTraced(module: Module, op: string): number {
  const state = states.get(module);
  if (!state) throw new TorchError(op, 'not a traced module');
  const found = discover(module);
  const binding = rawNative();
  const pairs = <T>(list: [string, T][], handleOf: (v: T) => number) => list.map(([name, v]) => [name, handleOf(v)]);
  const handle = binding.createGraphModule(
    className(module),
    pairs(found.children, (m) => m.moduleHandle(op)),
    pairs(found.parameters, (t) => t.handleFor(op)),
    pairs(found.buffers, (t) => t.handleFor(op)),
  ) as number;
  state.registered = found;
  return handle;
}

/** @internal A traced module's registered children, in order. */
export function tracedChildren(module: Module): [string, Module][] {
  const state = states.get(module);
  if (!state) return [];
  if (!state.registered) module.moduleHandle('children');
  return state.registered!.children.slice();
}

/** Checks that nothing was assigned to a module after it was created natively. */
function checkNoLateRegistration(module: Module, state: TraceState): void {
  const now = discover(module);
  const before = state.registered!;
  const names = (r: typeof now) => [...r.children.map(([n]) => n), ...r.parameters.map(([n]) => n), ...r.buffers.map(([n]) => n)];
  const known = new Set(names(before));
  const late = names(now).find((n) => !known.has(n));
  if (late !== undefined) {
    throw new TorchError('trace', `${className(module)}: '${late}' was assigned after the module was first used; assign children, parameters and buffers in the constructor`);
  }
  const changed = now.children.find(([n, m]) => before.children.find(([b]) => b === n)?.[1] !== m);
  if (changed) throw new TorchError('trace', `${className(module)}: child '${changed[0]}' was replaced after the module was first used; assign children in the constructor`);
}

// ---- recording ---------------------------------------------------------------------------------

type Ref = [number, number];

interface Frame {
  module: Module;
  nodes: GraphNode[];
  /** Handles of the graph's values (inputs, outputs of recorded nodes), to their references. */
  values: Map<number, Ref>;
  /** Handles of the module's own parameters and buffers, to their names. */
  tensors: Map<number, string>;
  /** Parameter nodes made so far, by name. */
  paramNodes: Map<string, number>;
  /** Children, by module and by native handle, to their dotted names (holders' items: blocks.0). */
  children: Map<Module, string>;
  childHandles: Map<number, [string, Module]>;
}

const frames: Frame[] = [];

/** @internal Whether a module's forward is being traced now (its `training` may not be read). */
export function isBeingTraced(module: Module): boolean {
  return frames.some((f) => f.module === module);
}

function top(): Frame {
  return frames[frames.length - 1];
}

/** Native functions that only read metadata or free memory: allowed on graph values. */
const METADATA = new Set(['meta', 'strides', 'isContiguous', 'release', 'requiresGrad', 'isLeaf', 'gradFnName', 'isLive']);
/** Native functions that read values, with the method a user called. */
const VALUE_READS: Record<string, string> = { item: 'item()', toBuffer: 'dataSync()', toBufferAsync: 'data()', equal: 'equal()', allclose: 'allclose()' };

class Encoder {
  /** Probing (not strict): whether any tensor argument belongs to the graph, nothing refused or added. */
  touched = false;

  constructor(private readonly frame: Frame, private readonly op: string, private readonly strict = true) {}

  /** A tensor argument: a graph value or one of the module's parameters; anything else is refused. */
  t(handle: unknown): GraphArg {
    const f = this.frame;
    const h = handle as number;
    const ref = f.values.get(h);
    if (!this.strict) {
      this.touched ||= ref !== undefined || f.tensors.has(h);
      return null;
    }
    if (ref) return { ref };
    const name = f.tensors.get(h);
    if (name !== undefined) {
      let node = f.paramNodes.get(name);
      if (node === undefined) {
        node = f.nodes.push({ kind: 'param', name, args: [] }) - 1;
        f.paramNodes.set(name, node);
      }
      return { ref: [node, 0] };
    }
    throw new TorchError(
      'trace',
      `${className(f.module)}.forward: '${this.op}' uses a tensor created outside the graph (not an input, a result of traced operations, or a parameter/buffer of the module): ` +
        'register it with sn.nn.parameter() or sn.nn.buffer() in the constructor, or use a number',
    );
  }
  optionalT(handle: unknown): GraphArg {
    return handle === null || handle === undefined ? null : this.t(handle);
  }
  list(handles: unknown): GraphArg {
    return (handles as unknown[]).map((h) => this.t(h));
  }
  code(kind: 'unary' | 'binary' | 'reduce', code: unknown): string {
    if (!this.strict) return '';
    const names = Object.entries(opCodes()[kind] as Record<string, number>);
    const found = names.find(([, c]) => c === code);
    if (!found) throw new TorchError('trace', `unknown ${kind} op code ${String(code)}`);
    return found[0];
  }
}

/** Plain (JSON-able) copies of non-tensor arguments. */
function plain(value: unknown): GraphArg {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(plain);
  throw new TorchError('trace', `an argument of a traced operation is neither a number, a boolean, a string nor a list (${typeof value})`);
}

type Encode = (a: unknown[], e: Encoder) => GraphArg[];
const t0: Encode = (a, e) => [e.t(a[0]), ...a.slice(1).map(plain)];

/** The traced set: native functions (their names are the graph's operation names) and how their arguments are recorded. */
const TRACEABLE: Record<string, Encode> = {
  unary: (a, e) => [e.code('unary', a[0]), e.t(a[1])],
  binary: (a, e) => [e.code('binary', a[0]), e.t(a[1]), a[3] ? plain(a[2]) : e.t(a[2]), plain(a[3] ?? false), plain(a[4] ?? false)],
  reduce: (a, e) => [e.code('reduce', a[0]), e.t(a[1]), plain(a[2]), plain(a[3] ?? false)],
  stdVar: (a, e) => [plain(a[0]), e.t(a[1]), ...a.slice(2).map(plain)],
  cumulative: (a, e) => [plain(a[0]), e.t(a[1]), plain(a[2])],
  softmax: (a, e) => [plain(a[0]), e.t(a[1]), plain(a[2]), plain(a[3])],
  vectorNorm: t0,
  clamp: t0,
  where: (a, e) => [e.t(a[0]), e.t(a[1]), e.t(a[2])],
  maskedFill: (a, e) => [e.t(a[0]), e.t(a[1]), plain(a[2])],
  reshape: t0,
  view: t0,
  permute: t0,
  transpose: t0,
  movedim: t0,
  squeeze: t0,
  unsqueeze: t0,
  flatten: t0,
  unflatten: t0,
  expand: t0,
  repeat: t0,
  narrow: t0,
  select: t0,
  slice: t0,
  split: t0,
  chunk: t0,
  unbind: t0,
  flip: t0,
  roll: t0,
  contiguous: t0,
  clone: t0,
  detach: t0,
  cat: (a, e) => [e.list(a[0]), plain(a[1])],
  stack: (a, e) => [e.list(a[0]), plain(a[1])],
  indexSelect: (a, e) => [e.t(a[0]), plain(a[1]), e.t(a[2])],
  gather: (a, e) => [e.t(a[0]), plain(a[1]), e.t(a[2])],
  to: (a, e) => {
    if (a[1] !== null && a[1] !== undefined) throw new TorchError('trace', 'a traced forward cannot move tensors between devices (the graph runs where its module is)');
    return [e.t(a[0]), null, plain(a[2]), plain(a[3] ?? false)];
  },
  conv2d: (a, e) => [e.t(a[0]), e.t(a[1]), e.optionalT(a[2]), ...a.slice(3).map(plain)],
  convTranspose2d: (a, e) => [e.t(a[0]), e.t(a[1]), e.optionalT(a[2]), ...a.slice(3).map(plain)],
  linear: (a, e) => [e.t(a[0]), e.t(a[1]), e.optionalT(a[2])],
  maxPool2d: t0,
  avgPool2d: t0,
  adaptiveAvgPool2d: t0,
  adaptiveMaxPool2d: t0,
  gelu: t0,
  leakyRelu: t0,
  elu: t0,
  softplus: t0,
  hardtanh: t0,
  dropout: t0,
  layerNorm: (a, e) => [e.t(a[0]), plain(a[1]), e.optionalT(a[2]), e.optionalT(a[3]), plain(a[4])],
  groupNorm: (a, e) => [e.t(a[0]), plain(a[1]), e.optionalT(a[2]), e.optionalT(a[3]), plain(a[4])],
  pad: t0,
  mseLoss: (a, e) => [e.t(a[0]), e.t(a[1]), plain(a[2])],
  scalarTensor: (a) => [plain(a[0])],
};

/**
 * Native functions that take tensors but are outside the traced set: refused on graph values
 * (in-place changes, values read, autograd, data-dependent shapes, linear algebra, losses).
 */
const REFUSED = new Set([
  'inplace', 'indexPut', 'index', 'fillRandom', 'fillConstant', 'requiresGrad_', 'setGrad', 'grad', 'backward', 'autogradGrad', 'retainGrad',
  'sort', 'topk', 'maxMinDim', 'argMaxMin', 'prodDim', 'diag', 'diagonal', 'triangle', 'scatter', 'batchNorm', 'crossEntropy', 'nllLoss',
  'decompose', 'decomposeAsync', 'powerIteration', 'inv', 'det', 'solve', 'cholesky', 'matrixRank', 'pinv', 'matrixNorm', 'fft', 'fftShift',
  'item', 'toBuffer', 'toBufferAsync', 'equal', 'allclose',
]);

/** Whether a handle (or a list of them) is a value of the graph or a parameter of the module. */
function isGraphValue(frame: Frame, h: unknown): boolean {
  return typeof h === 'number' ? frame.values.has(h) || frame.tensors.has(h) : Array.isArray(h) && h.some((x) => isGraphValue(frame, x));
}

/** Whether a call involves the graph: exactly, by the positions of tensor arguments, for the traced set; by any number that is a graph handle otherwise. */
function touchesGraph(frame: Frame, name: string, args: unknown[]): boolean {
  if (name === 'forward' || name === 'forwardMany') return isGraphValue(frame, args[1]);
  const encode = TRACEABLE[name];
  if (encode) {
    const probe = new Encoder(frame, name, false);
    encode(args, probe);
    return probe.touched;
  }
  // Everything else (modules, metadata, creation) takes no graph values; what takes tensors
  // outside the traced set is checked by its numbers (tensor handles are unique while alive).
  return REFUSED.has(name) && args.some((a) => isGraphValue(frame, a));
}

function record(frame: Frame, node: GraphNode, result: unknown): void {
  const outputs = Array.isArray(result) ? (result as number[]) : [result as number];
  if (outputs.length !== 1) node.outputs = outputs.length;
  const index = frame.nodes.push(node) - 1;
  outputs.forEach((h, k) => frame.values.set(h, [index, k]));
}

/** Every native call while a trace records passes here. */
function intercept(binding: NativeBinding, name: string, fn: (...args: unknown[]) => unknown, args: unknown[]): unknown {
  const frame = top();
  if (!frame || !touchesGraph(frame, name, args)) {
    // Nothing of the graph involved: runs as it is (metadata, creation of outside tensors).
    if (name === 'scalarTensor' && frame) {
      const result = fn.apply(binding, args);
      record(frame, { kind: 'op', name, args: TRACEABLE.scalarTensor(args, new Encoder(frame, name)) }, result);
      return result;
    }
    return fn.apply(binding, args);
  }
  const who = `${className(frame.module)}.forward`;
  if (METADATA.has(name)) return fn.apply(binding, args);
  if (name in VALUE_READS) {
    throw new TorchError('trace', `${who} reads a tensor's values (${VALUE_READS[name]}) while being traced: a graph cannot branch on tensor values; write the choice with tensor operations (e.g. sn.where) instead`);
  }
  if (name === 'forward' || name === 'forwardMany') {
    const found = frame.childHandles.get(args[0] as number);
    if (found === undefined) throw unregisteredChild(frame);
    const [child, module] = found;
    const inputs = name === 'forward' ? [args[1]] : (args[1] as unknown[]);
    const encoded = inputs.map((h) => new Encoder(frame, child).t(h));
    // A native container with traced modules inside (a Sequential of traced blocks): traced for what reaches it.
    if (containsTraced(module)) prepareForInput(module, signatureOfHandles(inputs as number[]), 'trace');
    const result = fn.apply(binding, args);
    record(frame, { kind: 'call', name: child, args: encoded }, result);
    return result;
  }
  const encode = TRACEABLE[name];
  if (!encode) {
    throw new TorchError('trace', `${who} uses '${name}', which is not an operation a traced forward can record (the traced set: arithmetic, matmul, shapes and slicing, cat/stack/split/chunk, pooling, activations, softmax, dropout, reductions, normalisation functions)`);
  }
  const encoded = encode(args, new Encoder(frame, name));
  const result = fn.apply(binding, args);
  record(frame, { kind: 'op', name, args: encoded }, result);
  return result;
}

function unregisteredChild(frame: Frame): TorchError {
  return new TorchError('trace', `${className(frame.module)}.forward calls a module that is not its registered child: assign it to a property in the constructor (or hold it in an sn.nn.ModuleList)`);
}

let proxy: NativeBinding | null = null;

function tracingProxy(): NativeBinding {
  if (!proxy) {
    const binding = rawNative();
    proxy = new Proxy(binding, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function' || typeof prop !== 'string') return value;
        return (...args: unknown[]) => intercept(target, prop, value as (...a: unknown[]) => unknown, args);
      },
    });
  }
  return proxy;
}

/** The children a frame may call: direct ones and the items of holders, by module and by handle. */
function childMaps(state: TraceState, op: string): Pick<Frame, 'children' | 'childHandles'> {
  const children = new Map<Module, string>();
  const childHandles = new Map<number, [string, Module]>();
  const add = (name: string, m: Module) => {
    children.set(m, name);
    childHandles.set(m.moduleHandle(op), [name, m]);
    if (m.kind === 'ModuleList' || m.kind === 'ModuleDict') for (const [n, c] of m.namedChildren()) add(`${name}.${n}`, c);
  };
  for (const [name, m] of state.registered!.children) add(name, m);
  return { children, childHandles };
}

/** One recording of a module's forward on real inputs: the nodes and the output reference. */
function recordOnce(module: Module, state: TraceState, inputs: Tensor[]): { nodes: GraphNode[]; output: Ref } {
  const op = 'trace';
  const frame: Frame = {
    module,
    nodes: [],
    values: new Map(),
    tensors: new Map([...state.registered!.parameters, ...state.registered!.buffers].map(([n, t]) => [t.handleFor(op), n])),
    paramNodes: new Map(),
    ...childMaps(state, op),
  };
  inputs.forEach((x, i) => {
    const index = frame.nodes.push({ kind: 'input', name: 'input', args: [i] }) - 1;
    frame.values.set(x.handleFor(op), [index, 0]);
  });
  frames.push(frame);
  const outer = frames.length === 1;
  if (outer) setNativeInterceptor(tracingProxy());
  let output: Ref | undefined;
  try {
    // The recording's tensors serve only to find shapes: the scope frees them all.
    output = scope(() => {
      const y = state.forward.apply(module, inputs) as unknown;
      if (!(y instanceof Tensor)) throw new TorchError(op, `${className(module)}.forward must return one Tensor (got ${y === null ? 'null' : typeof y})`);
      const h = y.handleFor(op);
      const ref = frame.values.get(h) ?? (frame.tensors.has(h) ? (new Encoder(frame, 'return').t(h) as { ref: Ref }).ref : undefined);
      if (!ref) throw new TorchError(op, `${className(module)}.forward returns a tensor that does not come from its inputs, operations or parameters`);
      return ref;
    });
  } finally {
    frames.pop();
    if (outer) setNativeInterceptor(null);
  }
  return { nodes: frame.nodes, output };
}

/** Merges recordings at batch sizes 2 and 3: the same graph, with numbers that follow the batch made symbolic. */
function merge(module: Module, a: GraphNode[], b: GraphNode[]): GraphNode[] {
  const differs = (what: string) =>
    new TorchError('trace', `${className(module)}.forward records a different graph for different batch sizes (${what}): a traced forward must do the same operations whatever the batch size`);
  if (a.length !== b.length) throw differs(`${a.length} and ${b.length} operations`);
  const mergeArg = (x: GraphArg, y: GraphArg, node: GraphNode): GraphArg => {
    if (typeof x === 'number' && typeof y === 'number') {
      if (x === y) return x;
      const k = x / 2;
      if (Number.isInteger(k) && k !== 0 && y === 3 * k) return { batch: k };
      throw new TorchError('trace', `${className(module)}.forward passes ${node.name} a number that depends on the batch size in a way a graph cannot record (${x} at batch size 2, ${y} at batch size 3): use -1 or a multiple of the batch size`);
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) throw differs(`'${node.name}' takes lists of different lengths`);
      return x.map((v, i) => mergeArg(v, y[i], node));
    }
    if (JSON.stringify(x) !== JSON.stringify(y)) throw differs(`'${node.name}' arguments ${JSON.stringify(x)} and ${JSON.stringify(y)}`);
    return x;
  };
  return a.map((n, i) => {
    const m = b[i];
    if (n.kind !== m.kind || n.name !== m.name || (n.outputs ?? 1) !== (m.outputs ?? 1) || n.args.length !== m.args.length) throw differs(`node ${i}: ${n.name} and ${m.name}`);
    return { ...n, args: n.args.map((x, k) => mergeArg(x, m.args[k], n)) };
  });
}

/** The device and floating dtype a module's parameters live on (cpu, float32 when it has none). */
function placement(module: Module): { device: string; dtype: DType } {
  const params = module.parameters();
  try {
    const p = params.find((t) => isFloatingDType(t.dtype)) ?? params[0];
    return p ? { device: p.device, dtype: p.dtype } : { device: 'cpu', dtype: 'float32' };
  } finally {
    for (const t of params) t.dispose();
  }
}

export interface InputSignature {
  /** One example's shape (no batch dimension). */
  shape: number[];
  dtype: DType;
}

function signatureKey(inputs: InputSignature[]): string {
  return JSON.stringify(inputs.map((s) => [s.shape, s.dtype]));
}

/**
 * @internal Traces a module's forward for inputs of these example shapes and dtypes (unless that
 * graph is already there) and installs the graph natively. Returns the graph.
 */
export function traceFor(module: Module, inputs: InputSignature[]): GraphSpec {
  const op = 'trace';
  const state = states.get(module);
  if (!state) throw new TorchError(op, `${module.kind} is not a traced module (its forward is native already)`);
  const handle = module.moduleHandle(op);
  checkNoLateRegistration(module, state);
  const key = signatureKey(inputs);
  if (state.signature === key && state.graph) return state.graph;
  const binding = rawNative();
  const { device } = placement(module);
  const made: number[] = [];
  return inEvalWithoutGrad(module, op, () => {
    const recordings = [2, 3].map((batch) => {
      const xs = inputs.map((s) => {
        const h = binding.traceInput([batch, ...s.shape], dtypeCode(s.dtype, op), device) as number;
        made.push(h);
        return wrap(h);
      });
      try {
        return recordOnce(module, state, xs);
      } finally {
        for (const x of xs) x.dispose();
      }
    });
    const graph: GraphSpec = {
      inputs: inputs.length,
      exampleShapes: inputs.map((s) => s.shape.slice()),
      exampleDtypes: inputs.map((s) => s.dtype),
      nodes: merge(module, recordings[0].nodes, recordings[1].nodes),
      output: recordings[0].output,
    };
    binding.setGraph(handle, graph);
    state.graph = graph;
    state.signature = key;
    return graph;
  }, () => {
    for (const h of made) binding.release(h);
  });
}

/**
 * @internal Runs fn with a module in eval mode and gradients off, then puts back each module's own
 * mode and the grad mode (and runs `cleanup` first), however fn ends: tracing and shape checks
 * must not update running statistics, draw dropout masks or record autograd graphs.
 */
export function inEvalWithoutGrad<T>(module: Module, op: string, fn: () => T, cleanup?: () => void): T {
  const binding = rawNative();
  const handle = module.moduleHandle(op);
  const modes = binding.moduleModes(handle) as boolean[];
  const grad = binding.setGradEnabled(false) as boolean;
  binding.setTraining(handle, false);
  try {
    return fn();
  } finally {
    cleanup?.();
    binding.setModuleModes(handle, modes);
    binding.setGradEnabled(grad);
  }
}

/** The example signature of real inputs (their shapes without the batch dimension). */
export function signatureOf(inputs: Tensor[], op: string): InputSignature[] {
  return inputs.map((x, i) => {
    if (!(x instanceof Tensor)) throw new TypeError(`${op}: input ${i} is not a Tensor`);
    const shape = x.shape;
    if (shape.length < 1) throw new TorchError(op, `input ${i} is a 0-d tensor; a traced module takes batches (the first dimension is the batch)`);
    return { shape: shape.slice(1), dtype: x.dtype };
  });
}

/** A traced module's forward when called: recorded as a call inside a parent's trace, else eager. */
function callTraced(module: Module, inputs: Tensor[]): Tensor {
  const state = states.get(module)!;
  const frame = top();
  const handles = inputs.map((x) => (x instanceof Tensor ? x.handleFor('forward') : NaN));
  if (!frame || frame.module === module || !isGraphValue(frame, handles)) return state.forward.apply(module, inputs);
  // A child of the module being traced: traced for these inputs itself, run natively, recorded as one call.
  const name = frame.children.get(module);
  if (name === undefined) throw unregisteredChild(frame);
  const encoded = handles.map((h) => new Encoder(frame, name).t(h));
  traceFor(module, signatureOf(inputs, 'forward'));
  const result = rawNative().forwardMany(module.moduleHandle('forward'), handles) as number;
  record(frame, { kind: 'call', name, args: encoded }, result);
  return wrap(result);
}

/**
 * Runs a module natively on real inputs (its graph traced first if it is a traced module): what
 * fit and the spectra run, callable directly to compare with the eager forward.
 */
export function forwardNative(module: Module, ...inputs: Tensor[]): Tensor {
  const op = 'forwardNative';
  if (states.has(module)) traceFor(module, signatureOf(inputs, op));
  const handles = inputs.map((x, i) => {
    if (!(x instanceof Tensor)) throw new TypeError(`${op}: input ${i} is not a Tensor`);
    return x.handleFor(op);
  });
  return wrap(native().forwardMany(module.moduleHandle(op), handles) as number);
}

/** @internal Inputs of batch size 2 for a graph's example shapes, on the module's device (the caller disposes them). */
export function traceInputFor(module: Module, graph: Pick<GraphSpec, 'exampleShapes' | 'exampleDtypes'>): Tensor[] {
  const { device } = placement(module);
  return graph.exampleShapes.map((shape, i) => wrap(rawNative().traceInput([2, ...shape], dtypeCode(graph.exampleDtypes?.[i] ?? 'float32', 'load'), device) as number));
}

/** The example signature of tensors given by handle (a recording's values). */
function signatureOfHandles(handles: number[]): InputSignature[] {
  return handles.map((h) => {
    const [shape, dtype] = rawNative().meta(h) as [number[], number];
    return { shape: shape.slice(1), dtype: dtypeName(dtype) };
  });
}

function containsTraced(module: Module): boolean {
  return module.modules().some((m) => states.has(m));
}

/**
 * @internal Makes a model ready to run natively on inputs of this signature: its traced modules
 * are traced for the inputs they will see. A traced model is traced itself (its traced children
 * on the way); in a Sequential, an example batch is run child by child (eval, no gradients, each
 * module's mode kept) so that each traced child is traced for what reaches it.
 */
export function prepareForInput(model: Module, inputs: InputSignature[], op: string): void {
  if (states.has(model)) {
    traceFor(model, inputs);
    return;
  }
  if (!containsTraced(model)) return;
  if (model.kind !== 'Sequential') {
    throw new TorchError(op, `${model.kind} holds traced modules, which can be traced only inside a traced module or a Sequential: put them in one`);
  }
  const binding = rawNative();
  let x = traceInputFor(model, { exampleShapes: inputs.map((s) => s.shape), exampleDtypes: inputs.map((s) => s.dtype) });
  inEvalWithoutGrad(model, op, () => {
    for (const child of model.children()) {
      if (containsTraced(child)) prepareForInput(child, signatureOf(x, op), op);
      const y = wrap(binding.forwardMany(child.moduleHandle(op), x.map((t) => t.handleFor(op))) as number);
      for (const t of x) t.dispose();
      x = [y];
    }
  }, () => {
    for (const t of x) t.dispose();
  });
}
