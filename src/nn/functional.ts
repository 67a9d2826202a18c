/**
 * torch.nn.functional's counterparts: convolution, pooling, activations, softmax,
 * normalisation, dropout and losses. Each is one native call.
 */
import { native } from '../core/native';
import { dtypeCode, type DType } from '../tensor/dtype';
import { Tensor, handleOf, wrap } from '../tensor/tensor';

type Pair = number | [number, number];
export type Reduction = 'mean' | 'sum' | 'none';

function pair(value: Pair, name: string, op: string, min = 0): [number, number] {
  const p: [number, number] = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => Number.isInteger(v) && v >= min)) {
    throw new TypeError(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(value)}`);
  }
  return p;
}

function optionalHandle(t: Tensor | null | undefined, op: string): number | null {
  return t == null ? null : handleOf(t, op);
}

function reductionArg(reduction: Reduction, op: string): Reduction {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new TypeError(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  }
  return reduction;
}

export interface Conv2dOptions {
  stride?: Pair;
  /** Zero padding per side, or 'same' / 'valid'. */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

/** 2-d convolution of input [N, C, H, W] with weight [out, C/groups, kH, kW]. */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const padding = options.padding ?? 0;
  const pad = padding === 'same' || padding === 'valid' ? padding : pair(padding, 'padding', op);
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new TypeError(`${op}: groups must be a positive integer`);
  return wrap(native().conv2d(handleOf(input, op), handleOf(weight, op), optionalHandle(bias, op), pair(options.stride ?? 1, 'stride', op, 1), pad, pair(options.dilation ?? 1, 'dilation', op, 1), groups));
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

/** Transposed 2-d convolution (the adjoint of conv2d) with weight [C, out/groups, kH, kW]. */
export function convTranspose2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  return wrap(native().convTranspose2d(handleOf(input, op), handleOf(weight, op), optionalHandle(bias, op), pair(options.stride ?? 1, 'stride', op, 1), pair(options.padding ?? 0, 'padding', op), pair(options.outputPadding ?? 0, 'outputPadding', op), options.groups ?? 1, pair(options.dilation ?? 1, 'dilation', op, 1)));
}

export interface PoolOptions {
  /** Defaults to the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions & { dilation?: Pair } = {}): Tensor {
  const op = 'maxPool2d';
  const kernel = pair(kernelSize, 'kernelSize', op, 1);
  return wrap(native().maxPool2d(handleOf(input, op), kernel, pair(options.stride ?? kernel, 'stride', op, 1), pair(options.padding ?? 0, 'padding', op), pair(options.dilation ?? 1, 'dilation', op, 1), options.ceilMode ?? false));
}

export function avgPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number } = {}): Tensor {
  const op = 'avgPool2d';
  const kernel = pair(kernelSize, 'kernelSize', op, 1);
  return wrap(native().avgPool2d(handleOf(input, op), kernel, pair(options.stride ?? kernel, 'stride', op, 1), pair(options.padding ?? 0, 'padding', op), options.ceilMode ?? false, options.countIncludePad ?? true, options.divisorOverride ?? null));
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  return wrap(native().adaptiveAvgPool2d(handleOf(input, 'adaptiveAvgPool2d'), pair(outputSize, 'outputSize', 'adaptiveAvgPool2d', 1)));
}

export function adaptiveMaxPool2d(input: Tensor, outputSize: Pair): Tensor {
  return wrap(native().adaptiveMaxPool2d(handleOf(input, 'adaptiveMaxPool2d'), pair(outputSize, 'outputSize', 'adaptiveMaxPool2d', 1)));
}

/** x Wᵀ + b */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return wrap(native().linear(handleOf(input, 'linear'), handleOf(weight, 'linear'), optionalHandle(bias, 'linear')));
}

function dimArg(dim: number, op: string): number {
  if (!Number.isInteger(dim)) throw new TypeError(`${op}: dim must be an integer (softmax has no default dimension)`);
  return dim;
}

export function softmax(input: Tensor, dim: number, dtype?: DType): Tensor {
  return wrap(native().softmax(false, handleOf(input, 'softmax'), dimArg(dim, 'softmax'), dtype ? dtypeCode(dtype, 'softmax') : null));
}

export function logSoftmax(input: Tensor, dim: number, dtype?: DType): Tensor {
  return wrap(native().softmax(true, handleOf(input, 'logSoftmax'), dimArg(dim, 'logSoftmax'), dtype ? dtypeCode(dtype, 'logSoftmax') : null));
}

export const relu = (x: Tensor): Tensor => x.unary('relu');
export const relu6 = (x: Tensor): Tensor => x.unary('relu6');
export const sigmoid = (x: Tensor): Tensor => x.unary('sigmoid');
export const logSigmoid = (x: Tensor): Tensor => x.unary('logSigmoid');
export const tanh = (x: Tensor): Tensor => x.unary('tanh');
export const silu = (x: Tensor): Tensor => x.unary('silu');
export const mish = (x: Tensor): Tensor => x.unary('mish');
export const selu = (x: Tensor): Tensor => x.unary('selu');
export const hardswish = (x: Tensor): Tensor => x.unary('hardswish');
export const hardsigmoid = (x: Tensor): Tensor => x.unary('hardsigmoid');
export const softsign = (x: Tensor): Tensor => x.unary('softsign');

export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new TypeError(`gelu: approximate must be 'none' or 'tanh'`);
  return wrap(native().gelu(handleOf(input, 'gelu'), approximate));
}

export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  return wrap(native().leakyRelu(handleOf(input, 'leakyRelu'), negativeSlope));
}

export function elu(input: Tensor, alpha = 1): Tensor {
  return wrap(native().elu(handleOf(input, 'elu'), alpha));
}

export function softplus(input: Tensor, beta = 1, threshold = 20): Tensor {
  return wrap(native().softplus(handleOf(input, 'softplus'), beta, threshold));
}

export function hardtanh(input: Tensor, minVal = -1, maxVal = 1): Tensor {
  return wrap(native().hardtanh(handleOf(input, 'hardtanh'), minVal, maxVal));
}

/** Zeroes elements with probability p and scales the rest by 1/(1-p) when training. */
export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (typeof p !== 'number' || p < 0 || p > 1) throw new TypeError(`dropout: p must be in [0, 1], got ${p}`);
  return wrap(native().dropout(handleOf(input, 'dropout'), p, training));
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation; in training mode running statistics (if given) are updated in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm';
  return wrap(native().batchNorm(handleOf(input, op), optionalHandle(options.weight, op), optionalHandle(options.bias, op), optionalHandle(runningMean, op), optionalHandle(runningVar, op), options.training ?? false, options.momentum ?? 0.1, options.eps ?? 1e-5));
}

export function layerNorm(input: Tensor, normalizedShape: number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  return wrap(native().layerNorm(handleOf(input, op), normalizedShape, optionalHandle(weight, op), optionalHandle(bias, op), eps));
}

export function groupNorm(input: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'groupNorm';
  if (!Number.isInteger(numGroups) || numGroups < 1) throw new TypeError(`${op}: numGroups must be a positive integer`);
  return wrap(native().groupNorm(handleOf(input, op), numGroups, optionalHandle(weight, op), optionalHandle(bias, op), eps));
}

/** Pads the last dimensions: pads = [left, right, top, bottom, ...] as in torch.nn.functional.pad. */
export function pad(input: Tensor, pads: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
  if (!Array.isArray(pads) || pads.length % 2 !== 0 || !pads.every(Number.isInteger)) throw new TypeError('pad: pads must be an even number of integers');
  return wrap(native().pad(handleOf(input, 'pad'), pads, mode, mode === 'constant' ? value : null));
}

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}

/** Cross-entropy of logits [N, C] against class indices [N] (int64) or class probabilities. */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const smoothing = options.labelSmoothing ?? 0;
  if (smoothing < 0 || smoothing > 1) throw new TypeError(`${op}: labelSmoothing must be in [0, 1]`);
  return wrap(native().crossEntropy(handleOf(logits, op), handleOf(target, op), optionalHandle(options.weight, op), reductionArg(options.reduction ?? 'mean', op), options.ignoreIndex ?? -100, smoothing));
}

export function nllLoss(logProbs: Tensor, target: Tensor, options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  const op = 'nllLoss';
  return wrap(native().nllLoss(handleOf(logProbs, op), handleOf(target, op), optionalHandle(options.weight, op), reductionArg(options.reduction ?? 'mean', op), options.ignoreIndex ?? -100));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(native().mseLoss(handleOf(input, 'mseLoss'), handleOf(target, 'mseLoss'), reductionArg(reduction, 'mseLoss')));
}
