/**
 * Optimisers (torch.optim's SGD, Adam, AdamW) over a module's parameters, optionally in parameter
 * groups with their own options, with PyTorch's update formulas. Use them in a hand-written loop
 * (`loss.backward(); opt.step()`) or pass one to `fit`, which steps it natively on the training
 * thread.
 */
import { TorchError } from '../core/errors';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { Tensor, wrap } from '../tensor/tensor';

const registry = new FinalizationRegistry<number>((handle) => {
  native().releaseOptimizer(handle);
});

/**
 * Which parameters a group holds: their names (PyTorch's dotted names, as `namedParameters()` gives
 * them), or a test of each parameter's name and tensor (valid during the call only), e.g.
 * `(name, p) => name.endsWith('.bias') || p.ndim === 1`.
 */
export type ParamSelector = readonly string[] | ((name: string, parameter: Tensor) => boolean);

/** One parameter group: the parameters it selects, and options that override the optimiser's. */
export type ParamGroup<O> = Partial<O> & { params: ParamSelector };

/** A parameter group as it is now (`Optimizer.paramGroups()`). */
export interface ParamGroupInfo {
  /** Names of the group's parameters that require gradients, in the model's order. */
  params: string[];
  /** The rate of the group's next step: its base rate times the schedule's last factor in fit. */
  lr: number;
  /** The base rate that fit's schedule multiplies (PyTorch's initial_lr). */
  initialLr: number;
  weightDecay: number;
  /** SGD's. */
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** Adam's and AdamW's. */
  betas?: [number, number];
  eps?: number;
  amsgrad?: boolean;
}

/** The kind and hyperparameters, as a resumed fit compares them. */
export interface OptimizerConfig {
  kind: string;
  /** The groups of options.paramGroups (not the default group): parameter names, base lr and overrides resolved. */
  paramGroups?: Record<string, number | boolean | string[]>[];
  [hyperparameter: string]: number | boolean | string | Record<string, number | boolean | string[]>[] | undefined;
}

// Native config values that are flags (numbers 0/1 natively).
const FLAGS = ['nesterov', 'amsgrad'];

function withFlags<T extends Record<string, unknown>>(values: T): T {
  for (const flag of FLAGS) if (flag in values) (values as Record<string, unknown>)[flag] = values[flag] === 1;
  return values;
}

// Known names, and numbers or booleans (betas, a pair, is checked where it is read).
function checkValues(options: Record<string, unknown>, known: readonly string[], op: string, where: string): void {
  for (const [key, value] of Object.entries(options)) {
    if (!known.includes(key)) throw new TypeError(`${op}: unknown option '${key}'${where} (options: ${known.join(', ')})`);
    if (key !== 'betas' && value !== undefined && typeof value !== 'number' && typeof value !== 'boolean') throw new TypeError(`${op}: option '${key}'${where} must be a number or a boolean`);
  }
}

/**
 * Resolves each group's selector to parameter names. Every name must be a parameter of the model,
 * and no parameter may be in two groups; parameters no group selects form the default group.
 */
function resolveGroups(model: Module, groups: unknown, op: string): { names: string[]; overrides: Record<string, unknown> }[] {
  if (!Array.isArray(groups)) throw new TypeError(`${op}: paramGroups must be an array of { params, ...options }`);
  const named = model.namedParameters();
  try {
    const owner = new Map<string, number>();
    return groups.map((group: unknown, k) => {
      if (group === null || typeof group !== 'object' || Array.isArray(group)) throw new TypeError(`${op}: paramGroups[${k}] must be an object { params, ...options }`);
      const { params, ...overrides } = group as { params?: unknown };
      let names: string[];
      if (typeof params === 'function') {
        names = named.filter(([name, t]) => Boolean((params as (name: string, parameter: Tensor) => unknown)(name, t))).map(([name]) => name);
      } else if (Array.isArray(params) && params.every((n) => typeof n === 'string')) {
        const known = new Set(named.map(([name]) => name));
        const unknown = params.find((n: string) => !known.has(n));
        if (unknown !== undefined) {
          const list = [...known];
          throw new TypeError(`${op}: paramGroups[${k}] names '${unknown}', which is not a parameter of the model (its parameters: ${list.slice(0, 12).join(', ')}${list.length > 12 ? `, ... and ${list.length - 12} more` : ''})`);
        }
        names = [...new Set(params as string[])];
      } else {
        throw new TypeError(`${op}: paramGroups[${k}].params must be an array of parameter names or a function (name, parameter) => boolean`);
      }
      for (const name of names) {
        const other = owner.get(name);
        if (other !== undefined) throw new TypeError(`${op}: parameter '${name}' is in two parameter groups (paramGroups[${other}] and paramGroups[${k}])`);
        owner.set(name, k);
      }
      return { names, overrides };
    });
  } finally {
    for (const [, t] of named) t.dispose();
  }
}

/**
 * An optimiser over a model's parameters, in parameter groups as torch.optim's param_groups:
 * `options.paramGroups` select parameters (by name or by a test) and override options for them;
 * every parameter no group selects is in the default group, which has the optimiser's own options.
 * Groups are numbered as `paramGroups()` lists them: 0 is the default group, i + 1 is
 * `options.paramGroups[i]`.
 */
export class Optimizer {
  private handle: number;

  /** @internal */
  protected constructor(kind: string, model: Module, options: Record<string, unknown>, known: readonly string[], translate: (o: Record<string, unknown>, where: string) => Record<string, unknown> = (o) => o) {
    const op = kind === 'sgd' ? 'SGD' : kind === 'adam' ? 'Adam' : 'AdamW';
    if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module (its parameters are optimised)`);
    const { paramGroups, ...defaults } = options;
    const groups = paramGroups === undefined ? [] : resolveGroups(model, paramGroups, op);
    checkValues(defaults, known, op, '');
    const resolved = translate(defaults, '');
    const nativeGroups = groups.map(({ names, overrides }, k) => {
      const where = ` in paramGroups[${k}]`;
      checkValues(overrides, known, op, where);
      return { ...translate(overrides, where), params: names };
    });
    this.handle = native().createOptimizer(kind, model.moduleHandle(op), { ...resolved, paramGroups: nativeGroups }) as number;
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

  /**
   * The default group's learning rate: the rate of its next step (after fit, the schedule's last
   * one). Setting it sets the default group's base rate, the one fit's schedule multiplies; other
   * groups keep theirs (see setLr).
   */
  get lr(): number {
    return native().optimizerLr(this.optimizerHandle('lr')) as number;
  }

  set lr(value: number) {
    this.setLr(value);
  }

  /** Sets a group's base learning rate (0: the default group; i + 1: options.paramGroups[i]). */
  setLr(value: number, group = 0): void {
    if (typeof value !== 'number' || !(value >= 0)) throw new TypeError(`lr: expected a non-negative number, got ${String(value)}`);
    if (!Number.isInteger(group) || group < 0) throw new TypeError(`setLr: group must be a non-negative integer, got ${String(group)}`);
    native().optimizerLr(this.optimizerHandle('lr'), value, group);
  }

  /** Every parameter group, the default group first, as it is now (a copy: change rates with setLr). */
  paramGroups(): ParamGroupInfo[] {
    const groups = native().optimizerGroups(this.optimizerHandle('paramGroups')) as (Record<string, number> & { params: string[] })[];
    return groups.map(({ params, lr, initialLr, beta1, beta2, ...rest }) => {
      const info = { params, lr, initialLr, ...withFlags(rest) } as unknown as ParamGroupInfo;
      if (beta1 !== undefined) info.betas = [beta1, beta2];
      return info;
    });
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

  /**
   * The kind ('sgd', 'adam', 'adamw') and the default group's hyperparameters with its base
   * learning rate as lr; with parameter groups, also `paramGroups`: the others, resolved.
   */
  config(): OptimizerConfig {
    const handle = this.optimizerHandle('config');
    const config: OptimizerConfig = withFlags(native().optimizerConfig(handle) as OptimizerConfig);
    const groups = native().optimizerGroups(handle) as (Record<string, number> & { params: string[] })[];
    if (groups.length > 1) {
      config.paramGroups = groups.slice(1).map(({ params, lr, initialLr, ...rest }) => ({ params, lr: initialLr, ...withFlags(rest) }));
    }
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
  /** Parameter groups with their own options, e.g. `[{ params: (name) => name.endsWith('.bias'), weightDecay: 0 }]`. */
  paramGroups?: ParamGroup<Omit<SGDOptions, 'paramGroups'>>[];
}

const SGD_OPTIONS = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov'] as const;

export class SGD extends Optimizer {
  constructor(model: Module, options: SGDOptions) {
    super('sgd', model, { ...options }, SGD_OPTIONS);
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  /** Parameter groups with their own options, e.g. `[{ params: ['fc.bias'], lr: 1e-2, weightDecay: 0 }]`. */
  paramGroups?: ParamGroup<Omit<AdamOptions, 'paramGroups'>>[];
}

const ADAM_OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad'] as const;

// betas -> beta1, beta2 (the native options).
function adamOptions(op: string): (options: Record<string, unknown>, where: string) => Record<string, unknown> {
  return (options, where) => {
    const { betas, ...rest } = options;
    if (betas === undefined) return rest;
    if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number')) throw new TypeError(`${op}: betas${where} must be [beta1, beta2]`);
    return { ...rest, beta1: betas[0], beta2: betas[1] };
  };
}

/** Adam; weight decay (default 0) is added to the gradient, as torch.optim.Adam. */
export class Adam extends Optimizer {
  constructor(model: Module, options: AdamOptions = {}) {
    super('adam', model, { ...options }, ADAM_OPTIONS, adamOptions('Adam'));
  }
}

/** AdamW; weight decay (default 0.01) is decoupled, as torch.optim.AdamW. */
export class AdamW extends Optimizer {
  constructor(model: Module, options: AdamOptions = {}) {
    super('adamw', model, { ...options }, ADAM_OPTIONS, adamOptions('AdamW'));
  }
}
