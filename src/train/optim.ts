/**
 * Optimisers (torch.optim's SGD, Adam, AdamW) over a module's parameters, with PyTorch's update
 * formulas. Use them in a hand-written loop (`loss.backward(); opt.step()`) or pass one to
 * `fit`, which steps it natively on the training thread.
 */
import { TorchError } from '../core/errors';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { Tensor, wrap } from '../tensor/tensor';

const registry = new FinalizationRegistry<number>((handle) => {
  native().releaseOptimizer(handle);
});

export class Optimizer {
  private handle: number;

  /** @internal */
  protected constructor(kind: string, model: Module, options: Record<string, unknown>) {
    if (!(model instanceof Module)) throw new TypeError(`${kind}: the first argument must be a Module (its parameters are optimised)`);
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined && typeof value !== 'number' && typeof value !== 'boolean') throw new TypeError(`${kind}: option '${key}' must be a number or a boolean`);
    }
    this.handle = native().createOptimizer(kind, model.moduleHandle(kind), options) as number;
    registry.register(this, this.handle, this);
  }

  /** @internal */
  optimizerHandle(op: string): number {
    if (this.handle < 0) throw new TorchError(op, 'the optimizer was disposed (use after dispose)');
    return this.handle;
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    native().optimizerStep(this.optimizerHandle('step'));
  }

  /** Drops the parameters' gradients (set to none, as PyTorch's default). */
  zeroGrad(): void {
    native().optimizerZeroGrad(this.optimizerHandle('zeroGrad'));
  }

  get lr(): number {
    return native().optimizerLr(this.optimizerHandle('lr')) as number;
  }

  set lr(value: number) {
    if (typeof value !== 'number' || !(value >= 0)) throw new TypeError(`lr: expected a non-negative number, got ${String(value)}`);
    native().optimizerLr(this.optimizerHandle('lr'), value);
  }

  /** The optimiser's state (momentum buffers, Adam moments and steps) by name, as copies. */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, h] of native().optimizerState(this.optimizerHandle('stateDict')) as [string, number][]) out[name] = wrap(h);
    return out;
  }

  /**
   * Loads state saved by stateDict(). Strict: every entry must belong to this optimiser's kind,
   * options and parameters (names and shapes); nothing changes unless all of it does.
   */
  loadStateDict(state: Record<string, Tensor>): void {
    this.loadState(state, 'loadStateDict', false);
  }

  /** @internal Throws what loadStateDict(state) would throw, without loading anything. */
  checkStateDict(state: Record<string, Tensor>): void {
    this.loadState(state, 'loadStateDict', true);
  }

  /** The kind ('sgd', 'adam', 'adamw') and hyperparameters, with the base learning rate as lr. */
  config(): { kind: string } & Record<string, number | boolean | string> {
    const config = native().optimizerConfig(this.optimizerHandle('config')) as { kind: string } & Record<string, number | boolean>;
    for (const flag of ['nesterov', 'amsgrad']) if (flag in config) config[flag] = config[flag] === 1;
    return config;
  }

  private loadState(state: Record<string, Tensor>, op: string, checkOnly: boolean): void {
    if (state === null || typeof state !== 'object') throw new TypeError(`${op}: the state must be an object of tensors`);
    const pairs = Object.entries(state).map(([name, t]) => {
      if (!(t instanceof Tensor)) throw new TypeError(`${op}: '${name}' is not a Tensor`);
      return [name, t.handleFor(op)];
    });
    native().optimizerLoadState(this.optimizerHandle(op), pairs, checkOnly);
  }

  dispose(): void {
    if (this.handle < 0) return;
    native().releaseOptimizer(this.handle);
    registry.unregister(this);
    this.handle = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  constructor(model: Module, options: SGDOptions) {
    super('sgd', model, { ...options });
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

function adamOptions(options: AdamOptions, op: string): Record<string, unknown> {
  const { betas, ...rest } = options;
  if (betas !== undefined && (!Array.isArray(betas) || betas.length !== 2)) throw new TypeError(`${op}: betas must be [beta1, beta2]`);
  return { ...rest, beta1: betas?.[0], beta2: betas?.[1] };
}

/** Adam; weight decay (default 0) is added to the gradient, as torch.optim.Adam. */
export class Adam extends Optimizer {
  constructor(model: Module, options: AdamOptions = {}) {
    super('adam', model, adamOptions(options, 'Adam'));
  }
}

/** AdamW; weight decay (default 0.01) is decoupled, as torch.optim.AdamW. */
export class AdamW extends Optimizer {
  constructor(model: Module, options: AdamOptions = {}) {
    super('adamw', model, adamOptions(options, 'AdamW'));
  }
}
