/**
 * Modules: handles to native layers (native/nn/). A model composed from them is one native
 * tree, so `forward` runs the whole model in one native call, and later a training thread can run
 * it without JavaScript. Parameter and buffer names are PyTorch's dotted names, so state dicts
 * interchange with PyTorch.
 *
 * Modules are not owned by tensor scopes: dispose them (or let the safety net) when done. A
 * parent keeps its children alive natively, so disposing a child's handle never breaks a model.
 */
import { TorchError } from '../core/errors';
import { native } from '../core/native';
import { checkDevice, isDevice, type Device } from '../tensor/device';
import { dtypeCode, isDType, type DType } from '../tensor/dtype';
import { handleOf, Tensor, wrap } from '../tensor/tensor';
import { noGrad } from '../autograd';
import { installTracedForward, isBeingTraced, isTracedModule, materialiseTraced, prepareForInput, signatureOf, tracedChildren, traceFor } from './graph';

const registry = new FinalizationRegistry<number>((handle) => {
  native().releaseModule(handle);
});

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
  /** "name: expected shape [..], got [..]" for each key whose shape differs. */
  mismatchedKeys: string[];
}

export interface ModuleInfo {
  /** Dotted path from the root ('' for the root itself). */
  name: string;
  kind: string;
  description: string;
}

export type StateDict = Record<string, Tensor>;

/** How a layer or container was made: its kind and the options its native constructor took. */
export interface ModuleCreation {
  kind: string;
  options: Record<string, unknown>;
}

// createModule's record of each new handle, taken by the Module that wraps it.
const creations = new Map<number, ModuleCreation>();

/**
 * The base of every module: layers, containers, zoo models and your own. Subclass it as in
 * PyTorch: assign children (modules), parameters (`sn.nn.parameter(t)`) and buffers
 * (`sn.nn.buffer(t)`) to properties in the constructor, and write `forward(...inputs)` with
 * tensor methods, `sn.F` functions and calls of children (`this.fc.forward(x)`). Called on
 * tensors, your forward runs eagerly, op by op; fit, evaluate and the spectra trace it once into
 * a native graph and run that without JavaScript (see nn/graph.ts for what a traced forward may do).
 */
export class Module {
  // null: a subclass not yet created natively (it is, with the children and parameters assigned
  // in its constructor, on first use); -1: disposed.
  #handle: number | null;
  #children: [string, Module][] = [];
  #creation: ModuleCreation | null = null;

  /** @internal Layers and containers pass their native handle; subclasses pass nothing. */
  constructor(handle?: number) {
    if (handle === undefined) {
      this.#handle = null;
      const forward = this.forward;
      installTracedForward(this, forward === Module.prototype.forward ? noForward(this) : forward);
      return;
    }
    this.#handle = handle;
    this.#creation = creations.get(handle) ?? null;
    creations.delete(handle);
    registry.register(this, handle, this);
  }

  /** @internal */
  moduleHandle(op: string): number {
    if (this.#handle === null) {
      this.#handle = materialiseTraced(this, op);
      registry.register(this, this.#handle, this);
    }
    if (this.#handle < 0) throw new TorchError(op, 'the module was disposed (use after dispose)');
    return this.#handle;
  }

  /** @internal How this layer or container was made (null for traced modules and zoo wrappers). */
  get creation(): ModuleCreation | null {
    return this.#creation;
  }

  /** @internal Records the JavaScript children a container was built with. */
  adoptChildren(children: [string, Module][]): void {
    this.#children = children.slice();
  }

  /** The module's kind, e.g. 'Conv2d', 'Residual', 'Sequential', or a subclass's name. */
  get kind(): string {
    return (native().namedModules(this.moduleHandle('kind')) as [string, string, string][])[0][1];
  }

  /**
   * Runs the module (and everything inside it) in one native call. A subclass's own forward
   * replaces this one (and runs eagerly when called on tensors).
   */
  forward(...inputs: Tensor[]): Tensor {
    if (inputs.length === 1) return wrap(native().forward(this.moduleHandle('forward'), handleOf(inputs[0], 'forward')));
    return wrap(native().forwardMany(this.moduleHandle('forward'), inputs.map((x) => handleOf(x, 'forward'))));
  }

  /**
   * Traces a subclass's forward for inputs shaped like these (their batch size does not matter)
   * into its native graph, as fit and the spectra do on their own; returns this. Other modules
   * are native already: tracing them does nothing.
   */
  trace(...inputs: Tensor[]): this {
    if (isTracedModule(this)) traceFor(this, signatureOf(inputs, 'trace'));
    return this;
  }

  /** The direct children, in registration order. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** The direct children with their names. */
  namedChildren(): [string, Module][] {
    return isTracedModule(this) ? tracedChildren(this) : this.#children.slice();
  }

  /** This module and every module inside it, each once, parents before children. */
  modules(): Module[] {
    const seen = new Set<Module>();
    const visit = (m: Module) => {
      if (seen.has(m)) return;
      seen.add(m);
      for (const c of m.children()) visit(c);
    };
    visit(this);
    return [...seen];
  }

  /** Calls fn on every child (recursively) and then on this module, as PyTorch's apply; returns this. */
  apply(fn: (module: Module) => void): this {
    if (typeof fn !== 'function') throw new TypeError('apply: expected a function');
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  namedParameters(): [string, Tensor][] {
    return (native().namedParameters(this.moduleHandle('namedParameters')) as [string, number][]).map(([n, h]) => [n, wrap(h)]);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return (native().namedBuffers(this.moduleHandle('namedBuffers')) as [string, number][]).map(([n, h]) => [n, wrap(h)]);
  }

  /** Number of parameter elements. */
  numParameters(): number {
    return native().numParameters(this.moduleHandle('numParameters')) as number;
  }

  /**
   * Parameters and buffers by PyTorch name, detached from autograd. The tensors share memory
   * with the module (as in PyTorch): copy them to keep a snapshot. Dispose them when done.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      out[name] = t.detach();
      t.dispose();
    }
    return out;
  }

  /**
   * Copies a state dict into the module. Strict (the default): every key must match in name and
   * shape, or nothing is loaded and a TorchError lists what is missing, unexpected or mis-shaped.
   * Not strict: matching keys load and the result lists the rest, but a shape mismatch still
   * fails, as in PyTorch. A missing `num_batches_tracked` keeps the module's own count (PyTorch
   * does the same for state dicts without version metadata, such as safetensors files).
   */
  loadStateDict(state: StateDict, options: { strict?: boolean } = {}): LoadResult {
    const op = 'loadStateDict';
    if (state === null || typeof state !== 'object') throw new TypeError(`${op}: the state dict must be an object of tensors`);
    const strict = options.strict ?? true;
    const pairs = Object.entries(state).map(([name, t]) => {
      if (!(t instanceof Tensor)) throw new TypeError(`${op}: '${name}' is not a Tensor`);
      return [name, t.handleFor(op)];
    });
    const r = native().loadState(this.moduleHandle(op), pairs, strict) as { missing: string[]; unexpected: string[]; mismatched: string[]; loaded: boolean };
    r.unexpected.sort();
    if (!r.loaded) {
      const list = (items: string[], separator: string) =>
        items.length > 12 ? `${items.slice(0, 12).join(separator)}${separator}... and ${items.length - 12} more` : items.join(separator);
      const parts: string[] = [];
      if (r.missing.length) parts.push(`missing key(s): ${list(r.missing, ', ')}`);
      if (r.unexpected.length) parts.push(`unexpected key(s): ${list(r.unexpected, ', ')}`);
      if (r.mismatched.length) parts.push(`size mismatch: ${list(r.mismatched, '; ')}`);
      throw new TorchError(op, `error(s) in loading the state dict for ${this.kind} (nothing was loaded): ${parts.join('. ')}`);
    }
    return { missingKeys: r.missing, unexpectedKeys: r.unexpected, mismatchedKeys: r.mismatched };
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad with set_to_none); returns this. */
  zeroGrad(): this {
    native().zeroGrad(this.moduleHandle('zeroGrad'));
    return this;
  }

  /** Training mode (batch statistics, dropout) for this module and all inside it; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError('train: mode must be a boolean');
    native().setTraining(this.moduleHandle('train'), mode);
    return this;
  }

  /** Evaluation mode (running statistics, no dropout); returns this. */
  eval(): this {
    return this.train(false);
  }

  get training(): boolean {
    if (isBeingTraced(this)) {
      throw new TorchError('training', `${this.constructor.name}.forward reads \`training\` while being traced, which would fix one mode into its graph: use an sn.nn.Dropout child or sn.F.dropout (they follow train()/eval() in a traced graph)`);
    }
    return native().isTraining(this.moduleHandle('training')) as boolean;
  }

  /**
   * Moves parameters and buffers, in place (as PyTorch's Module.to): `to('cuda:0')`,
   * `to('float64')`, `to({ device, dtype })`. A dtype applies to floating-point tensors only.
   */
  to(target: Device | DType | { device?: Device; dtype?: DType }): this {
    const op = 'to';
    const options = typeof target === 'string' ? (isDevice(target) ? { device: target } : { dtype: target as DType }) : target;
    if (typeof target === 'string' && !isDevice(target) && !isDType(target)) {
      throw new TypeError(`${op}: '${target}' is neither a device ('cpu', 'cuda:N') nor a dtype`);
    }
    const device = options.device === undefined ? null : checkDevice(options.device, op);
    if (device !== null && device.startsWith('cuda') && !native().cudaIsAvailable()) {
      throw new TorchError(op, `CUDA is not available; cannot move the module to '${device}'`);
    }
    native().moduleTo(this.moduleHandle(op), device, options.dtype === undefined ? null : dtypeCode(options.dtype, op));
    return this;
  }

  /** This module and every module inside it, in registration order. */
  namedModules(): ModuleInfo[] {
    return (native().namedModules(this.moduleHandle('namedModules')) as [string, string, string][]).map(([name, kind, description]) => ({ name, kind, description }));
  }

  /**
   * A table of the layers run by a forward pass of a batch of this input shape (or this input):
   * name, kind, output shape and parameter count, with totals.
   */
  summary(input: number[] | Tensor): string {
    const op = 'summary';
    const x = input instanceof Tensor ? input : null;
    if (!x && (!Array.isArray(input) || !input.every((d) => Number.isInteger(d) && d > 0))) {
      throw new TypeError(`${op}: give an input shape (positive integers) or a tensor`);
    }
    const probe = x ?? noGrad(() => wrap(native().zeros(input as number[], null, null)));
    try {
      prepareForInput(this, signatureOf([probe], op), op);
      const rows = native().summary(this.moduleHandle(op), probe.handleFor(op)) as [string, string, string, number[], number][];
      const table = rows.map(([name, kind, description, shape, params]) => [
        name || '(model)',
        description ? `${kind}(${description})` : kind,
        `[${shape.join(', ')}]`,
        params ? params.toLocaleString('en-US') : '',
      ]);
      const header = ['layer', 'kind', 'output shape', 'parameters'];
      const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
      const line = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
      const total = this.numParameters();
      return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.map(line), '', `total parameters: ${total.toLocaleString('en-US')}`].join('\n');
    } finally {
      if (!x) probe.dispose();
    }
  }

  /** Frees this handle. The native module lives on while a parent module holds it. */
  dispose(): void {
    if (this.#handle === null) this.#handle = -1;
    if (this.#handle < 0) return;
    native().releaseModule(this.#handle);
    registry.unregister(this);
    this.#handle = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this.#handle !== null && this.#handle < 0;
  }
}

/** @internal Creates a native layer of a kind from an options object (recorded for model files). */
export function createModule(kind: string, options: Record<string, unknown> = {}): number {
  const handle = native().createModule(kind, options) as number;
  creations.set(handle, { kind, options });
  return handle;
}

function noForward(module: Module): () => Tensor {
  return () => {
    throw new TorchError('forward', `${module.constructor.name} defines no forward`);
  };
}
