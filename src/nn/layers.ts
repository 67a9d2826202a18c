/**
 * Layers, named and parametrised as in torch.nn. Initialisation follows PyTorch's defaults and
 * draws from the default generator in PyTorch's order: after `manualSeed(s)`, a layer (or a whole
 * model built in the same order) holds the same values as PyTorch's after `torch.manual_seed(s)`.
 */
import { native } from '../core/native';
import { createModule, Module } from './module';

type Pair = number | [number, number];

function pair(value: Pair, name: string, op: string, min: number): [number, number] {
  const p: [number, number] = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => Number.isInteger(v) && v >= min)) {
    throw new TypeError(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(value)}`);
  }
  return p;
}

function positive(value: number, name: string, op: string): number {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`${op}: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}

export class Linear extends Module {
  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    super(createModule('Linear', { in: positive(inFeatures, 'inFeatures', 'Linear'), out: positive(outFeatures, 'outFeatures', 'Linear'), bias: options.bias ?? true }));
  }
}

export interface Conv2dOptions {
  stride?: Pair;
  /** Zero padding per side, or 'same' / 'valid'. */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dOptions = {}) {
    const op = 'Conv2d';
    const padding = options.padding ?? 0;
    const groups = positive(options.groups ?? 1, 'groups', op);
    super(
      createModule(op, {
        in: positive(inChannels, 'inChannels', op),
        out: positive(outChannels, 'outChannels', op),
        kernel: pair(kernelSize, 'kernelSize', op, 1),
        stride: pair(options.stride ?? 1, 'stride', op, 1),
        padding: padding === 'same' || padding === 'valid' ? padding : pair(padding, 'padding', op, 0),
        dilation: pair(options.dilation ?? 1, 'dilation', op, 1),
        groups,
        bias: options.bias ?? true,
      }),
    );
  }
}

function nonNegative(value: number, name: string, op: string): number {
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`${op}: ${name} must be a non-negative integer, got ${String(value)}`);
  return value;
}

export interface Conv1dOptions {
  stride?: number;
  /** Zero padding per side, or 'same' / 'valid'. */
  padding?: number | 'same' | 'valid';
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

/** 1-d convolution over [N, C, L] (or unbatched [C, L]) inputs, as torch.nn.Conv1d. */
export class Conv1d extends Module {
  constructor(inChannels: number, outChannels: number, kernelSize: number, options: Conv1dOptions = {}) {
    const op = 'Conv1d';
    const padding = options.padding ?? 0;
    const stride = positive(options.stride ?? 1, 'stride', op);
    // As PyTorch: 'same' cannot keep the length of a strided convolution.
    if (padding === 'same' && stride !== 1) throw new TypeError(`${op}: padding 'same' is not supported for strided convolutions (stride ${stride})`);
    super(
      createModule(op, {
        in: positive(inChannels, 'inChannels', op),
        out: positive(outChannels, 'outChannels', op),
        kernel: positive(kernelSize, 'kernelSize', op),
        stride,
        padding: padding === 'same' || padding === 'valid' ? padding : nonNegative(padding, "padding (or 'same', 'valid')", op),
        dilation: positive(options.dilation ?? 1, 'dilation', op),
        groups: positive(options.groups ?? 1, 'groups', op),
        bias: options.bias ?? true,
      }),
    );
  }
}

export interface BatchNormOptions {
  eps?: number;
  /** Running-average factor (default 0.1); null for a cumulative average, as in PyTorch. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

function batchNormOptions(features: number, options: BatchNormOptions, op: string): Record<string, unknown> {
  return {
    features: positive(features, 'numFeatures', op),
    eps: options.eps ?? 1e-5,
    momentum: options.momentum === undefined ? 0.1 : options.momentum,
    affine: options.affine ?? true,
    trackRunningStats: options.trackRunningStats ?? true,
  };
}

/** Batch norm over [N, C] or [N, C, L] inputs. */
export class BatchNorm1d extends Module {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(createModule('BatchNorm1d', batchNormOptions(numFeatures, options, 'BatchNorm1d')));
  }
}

/** Batch norm over [N, C, H, W] inputs. */
export class BatchNorm2d extends Module {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(createModule('BatchNorm2d', batchNormOptions(numFeatures, options, 'BatchNorm2d')));
  }
}

export class LayerNorm extends Module {
  constructor(normalizedShape: number | number[], options: { eps?: number; elementwiseAffine?: boolean } = {}) {
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    shape.forEach((d) => positive(d, 'normalizedShape', 'LayerNorm'));
    super(createModule('LayerNorm', { shape, eps: options.eps ?? 1e-5, affine: options.elementwiseAffine ?? true }));
  }
}

export class GroupNorm extends Module {
  constructor(numGroups: number, numChannels: number, options: { eps?: number; affine?: boolean } = {}) {
    super(createModule('GroupNorm', { groups: positive(numGroups, 'numGroups', 'GroupNorm'), channels: positive(numChannels, 'numChannels', 'GroupNorm'), eps: options.eps ?? 1e-5, affine: options.affine ?? true }));
  }
}

/**
 * A lookup table, as torch.nn.Embedding: an integer tensor (int64 or int32) of any shape [...] gives
 * [..., embeddingDim], row i of `weight` for index i. The weight is drawn from N(0, 1); with
 * `paddingIdx` (negative counts from the end) that row starts at zero and gets no gradient.
 */
export class Embedding extends Module {
  constructor(numEmbeddings: number, embeddingDim: number, options: { paddingIdx?: number } = {}) {
    const op = 'Embedding';
    const count = positive(numEmbeddings, 'numEmbeddings', op);
    const paddingIdx = options.paddingIdx;
    if (paddingIdx !== undefined && (!Number.isInteger(paddingIdx) || paddingIdx < -count || paddingIdx >= count)) {
      throw new TypeError(`${op}: paddingIdx must be an integer in [${-count}, ${count - 1}], got ${String(paddingIdx)}`);
    }
    super(createModule(op, { count, dim: positive(embeddingDim, 'embeddingDim', op), paddingIdx }));
  }
}

export class ReLU extends Module {
  constructor() {
    super(createModule('ReLU'));
  }
}

export class GELU extends Module {
  constructor(options: { approximate?: 'none' | 'tanh' } = {}) {
    const approximate = options.approximate ?? 'none';
    if (approximate !== 'none' && approximate !== 'tanh') throw new TypeError(`GELU: approximate must be 'none' or 'tanh'`);
    super(createModule(approximate === 'tanh' ? 'GELUTanh' : 'GELU'));
  }
}

export class Tanh extends Module {
  constructor() {
    super(createModule('Tanh'));
  }
}

export class Sigmoid extends Module {
  constructor() {
    super(createModule('Sigmoid'));
  }
}

export class Identity extends Module {
  constructor() {
    super(createModule('Identity'));
  }
}

/** max(0, x) + negativeSlope * min(0, x); `new LeakyReLU(0.2)` or `new LeakyReLU({ negativeSlope: 0.2 })`. */
export class LeakyReLU extends Module {
  constructor(negativeSlope: number | { negativeSlope?: number } = 0.01) {
    const slope = negativeSlope !== null && typeof negativeSlope === 'object' ? (negativeSlope.negativeSlope ?? 0.01) : negativeSlope;
    if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new TypeError(`LeakyReLU: negativeSlope must be a finite number, got ${String(slope)}`);
    super(createModule('LeakyReLU', { negativeSlope: slope }));
  }
}

function softmaxDim(dim: number, op: string): number {
  // PyTorch warns when dim is left out (its implicit choice depends on the input's rank).
  if (dim === undefined) throw new TypeError(`${op}: dim is required (the dimension that sums to one)`);
  if (!Number.isInteger(dim)) throw new TypeError(`${op}: dim must be an integer, got ${String(dim)}`);
  return dim;
}

/** Softmax along `dim` (negative counts from the end). */
export class Softmax extends Module {
  constructor(dim: number) {
    super(createModule('Softmax', { dim: softmaxDim(dim, 'Softmax') }));
  }
}

/** log(softmax(x)) along `dim`, computed stably. */
export class LogSoftmax extends Module {
  constructor(dim: number) {
    super(createModule('LogSoftmax', { dim: softmaxDim(dim, 'LogSoftmax') }));
  }
}

export class Dropout extends Module {
  constructor(p = 0.5) {
    if (typeof p !== 'number' || p < 0 || p > 1) throw new TypeError(`Dropout: p must be in [0, 1], got ${p}`);
    super(createModule('Dropout', { p }));
  }
}

export interface PoolOptions {
  /** Defaults to the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export class AvgPool2d extends Module {
  constructor(kernelSize: Pair, options: PoolOptions & { countIncludePad?: boolean } = {}) {
    const op = 'AvgPool2d';
    const kernel = pair(kernelSize, 'kernelSize', op, 1);
    super(createModule(op, { kernel, stride: pair(options.stride ?? kernel, 'stride', op, 1), padding: pair(options.padding ?? 0, 'padding', op, 0), ceilMode: options.ceilMode ?? false, countIncludePad: options.countIncludePad ?? true }));
  }
}

export class MaxPool2d extends Module {
  constructor(kernelSize: Pair, options: PoolOptions & { dilation?: Pair } = {}) {
    const op = 'MaxPool2d';
    const kernel = pair(kernelSize, 'kernelSize', op, 1);
    super(createModule(op, { kernel, stride: pair(options.stride ?? kernel, 'stride', op, 1), padding: pair(options.padding ?? 0, 'padding', op, 0), dilation: pair(options.dilation ?? 1, 'dilation', op, 1), ceilMode: options.ceilMode ?? false }));
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(outputSize: Pair) {
    super(createModule('AdaptiveAvgPool2d', { size: pair(outputSize, 'outputSize', 'AdaptiveAvgPool2d', 1) }));
  }
}

export class Flatten extends Module {
  constructor(startDim = 1, endDim = -1) {
    if (!Number.isInteger(startDim) || !Number.isInteger(endDim)) throw new TypeError('Flatten: dimensions must be integers');
    super(createModule('Flatten', { start: startDim, end: endDim }));
  }
}

/** Zero channels before and after: [N, C, H, W] -> [N, before + C + after, H, W]. */
export class ChannelPad extends Module {
  constructor(before: number, after: number) {
    if (!Number.isInteger(before) || !Number.isInteger(after) || before < 0 || after < 0) throw new TypeError('ChannelPad: padding must be non-negative integers');
    super(createModule('ChannelPad', { before, after }));
  }
}

export interface IdentityLikeOptions {
  /** Spatial stride of the block (default 1). */
  stride?: number;
  /** Average-pool kernel (default: the stride). */
  kernel?: number;
  /** Multiplier (default: the stride, as the paper's identity-like path). */
  scale?: number;
  /** Zero channels added before and after. */
  before?: number;
  after?: number;
}

/**
 * The paper's identity-like shortcut path with no parameters: scale * AvgPool(kernel, stride)(x),
 * zero-padded in channels. With stride 1 and no padding it is the identity.
 */
export class IdentityLike extends Module {
  constructor(options: IdentityLikeOptions = {}) {
    const stride = positive(options.stride ?? 1, 'stride', 'IdentityLike');
    super(createModule('IdentityLike', { stride, kernel: positive(options.kernel ?? stride, 'kernel', 'IdentityLike'), scale: options.scale ?? stride, before: options.before ?? 0, after: options.after ?? 0 }));
  }

  /** The identity-like path from `inChannels` to `outChannels` channels, padding ceil/floor of half the difference before/after. */
  static between(inChannels: number, outChannels: number, stride: number): IdentityLike {
    const extra = outChannels - inChannels;
    if (extra < 0) throw new TypeError(`IdentityLike.between: cannot shrink ${inChannels} channels to ${outChannels}`);
    return new IdentityLike({ stride, before: Math.ceil(extra / 2), after: Math.floor(extra / 2) });
  }
}

/** Named children: an array (named '0', '1', ...) or an object (its keys, in order). */
export type Children = Module[] | Record<string, Module>;

function named(children: Children | undefined, op: string): [string, number][] {
  if (children === undefined) return [];
  const entries: [string, Module][] = Array.isArray(children) ? children.map((m, i) => [String(i), m]) : Object.entries(children);
  return entries.map(([name, m]) => {
    if (!(m instanceof Module)) throw new TypeError(`${op}: child '${name}' is not a Module`);
    if (name === '' || name.includes('.')) throw new TypeError(`${op}: child name '${name}' must be non-empty and contain no '.'`);
    return [name, m.moduleHandle(op)];
  });
}

function entriesOf(children: Children | undefined): [string, Module][] {
  if (children === undefined) return [];
  return Array.isArray(children) ? children.map((m, i) => [String(i), m]) : Object.entries(children);
}

/** Runs its children in order; `new Sequential(a, b)` or `new Sequential({ conv: a, bn: b })`. */
export class Sequential extends Module {
  constructor(...children: Module[] | [Record<string, Module>]) {
    const list: Children = children.length === 1 && !(children[0] instanceof Module) ? (children[0] as Record<string, Module>) : (children as Module[]);
    super(createModule('Sequential', { children: named(list, 'Sequential') }));
    this.adoptChildren(entriesOf(list));
  }
}

export type ShortcutKind = 'none' | 'identity' | 'projection' | 'identity+projection';

const SHORTCUT_KINDS: readonly ShortcutKind[] = ['none', 'identity', 'projection', 'identity+projection'];

function shortcutArg(kind: unknown, op: string): ShortcutKind {
  if (!SHORTCUT_KINDS.includes(kind as ShortcutKind)) throw new TypeError(`${op}: shortcut must be one of ${SHORTCUT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  return kind as ShortcutKind;
}

export interface ResidualOptions {
  /** Layers applied first (e.g. BN-ReLU of a pre-activation block). */
  pre?: Children;
  /** The residual branch. */
  branch: Children;
  /** Layers applied to the sum (e.g. the ReLU of a post-activation block). */
  post?: Children;
  /** The learned shortcut, registered under its name: { shortcut: module }. */
  projection?: Record<string, Module>;
  /** The parameter-free identity-like path used by 'identity+projection' (default: identity). */
  identityLike?: Record<string, Module>;
  /** Whether the shortcut sees the block's input (default) or the output of `pre`. */
  shortcutFrom?: 'input' | 'pre';
  shortcut: ShortcutKind;
}

function single(entry: Record<string, Module> | undefined, name: string, op: string): [string, number][] {
  if (entry === undefined) return [];
  const entries = Object.entries(entry);
  if (entries.length !== 1) throw new TypeError(`${op}: ${name} must be one named module, { name: module }`);
  return named(entry, op);
}

/**
 * A residual block, out = post(branch(pre(x)) + shortcut), where the shortcut is chosen by kind
 * (ShortcutKind) and can be switched later. All children are registered under their names
 * whatever the kind, so every kind has the same parameters and one state dict serves them all.
 */
export class Residual extends Module {
  constructor(options: ResidualOptions) {
    const op = 'Residual';
    if (!options || typeof options !== 'object') throw new TypeError(`${op}: expected an options object`);
    const shortcutFrom = options.shortcutFrom ?? 'input';
    if (shortcutFrom !== 'input' && shortcutFrom !== 'pre') throw new TypeError(`${op}: shortcutFrom must be 'input' or 'pre'`);
    super(
      createModule(op, {
        pre: named(options.pre, op),
        branch: named(options.branch, op),
        post: named(options.post, op),
        projection: single(options.projection, 'projection', op),
        identityLike: single(options.identityLike, 'identityLike', op),
        shortcutFrom,
        shortcut: shortcutArg(options.shortcut, op),
      }),
    );
    this.adoptChildren([...entriesOf(options.pre), ...entriesOf(options.branch), ...entriesOf(options.projection), ...entriesOf(options.identityLike), ...entriesOf(options.post)]);
  }

  get shortcut(): ShortcutKind {
    return native().getShortcut(this.moduleHandle('shortcut')) as ShortcutKind;
  }

  set shortcut(kind: ShortcutKind) {
    native().setShortcut(this.moduleHandle('shortcut'), shortcutArg(kind, 'shortcut'));
    if (this.creation) this.creation.options.shortcut = kind;
  }
}

/**
 * Weight normalisation of a Linear, Conv1d or Conv2d, in place (torch.nn.utils.weight_norm, dim 0):
 * the weight becomes w = g * v / ||v||, with the norm over all dimensions but the first, and the
 * parameters `weight_g` (shape [out, 1, ...]) and `weight_v` replace `weight`. Returns the layer.
 */
export function weightNorm<M extends Linear | Conv1d | Conv2d>(layer: M): M {
  if (!(layer instanceof Linear) && !(layer instanceof Conv1d) && !(layer instanceof Conv2d)) throw new TypeError('weightNorm: expected a Linear, Conv1d or Conv2d layer');
  native().applyWeightNorm(layer.moduleHandle('weightNorm'));
  if (layer.creation) layer.creation.options.weightNorm = true;  // rebuilt so by model files
  return layer;
}
