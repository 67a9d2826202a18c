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

export class Module {
  private handle: number;

  /** @internal Wraps a native module handle; use the layer classes or the model zoo. */
  constructor(handle: number) {
    this.handle = handle;
    registry.register(this, handle, this);
  }

  /** @internal */
  moduleHandle(op: string): number {
    if (this.handle < 0) throw new TorchError(op, 'the module was disposed (use after dispose)');
    return this.handle;
  }

  /** The module's kind, e.g. 'Conv2d', 'Residual', 'Sequential'. */
  get kind(): string {
    return (native().namedModules(this.moduleHandle('kind')) as [string, string, string][])[0][1];
  }

  /** Runs the module (and everything inside it) in one native call. */
  forward(input: Tensor): Tensor {
    return wrap(native().forward(this.moduleHandle('forward'), handleOf(input, 'forward')));
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
    if (this.handle < 0) return;
    native().releaseModule(this.handle);
    registry.unregister(this);
    this.handle = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  get isDisposed(): boolean {
    return this.handle < 0;
  }
}

/** @internal Creates a native layer of a kind from an options object. */
export function createModule(kind: string, options: Record<string, unknown> = {}): number {
  return native().createModule(kind, options) as number;
}
