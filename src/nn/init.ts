/**
 * torch.nn.init's counterparts: fill parameters in place, outside autograd, from the default
 * generator or a given one. Fan-in and fan-out are computed as PyTorch computes them.
 */
import { native } from '../core/native';
import { Generator } from '../tensor/random';
import { handleOf, Tensor } from '../tensor/tensor';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** PyTorch's calculate_gain. */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv2d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5.0 / 3;
    case 'relu':
      return Math.sqrt(2.0);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2.0 / (1 + slope * slope));
    }
    case 'selu':
      return 3.0 / 4;
    default:
      throw new TypeError(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

/** [fanIn, fanOut] of a weight of shape [out, in, ...kernel]. */
export function fans(tensor: Tensor): [number, number] {
  const shape = tensor.shape;
  if (shape.length < 2) throw new TypeError(`init: fan in and fan out need at least 2 dimensions, got shape [${shape.join(', ')}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}

interface InitOptions {
  generator?: Generator;
}

function fill(kind: 'uniform' | 'normal', tensor: Tensor, a: number, b: number, options: InitOptions, op: string): Tensor {
  if (options.generator !== undefined && !(options.generator instanceof Generator)) throw new TypeError(`${op}: generator must be a skipnorm Generator`);
  native().fillRandom(kind, handleOf(tensor, op), a, b, options.generator ? options.generator.handleFor(op) : null);
  return tensor;
}

export function uniform_(tensor: Tensor, a = 0, b = 1, options: InitOptions = {}): Tensor {
  return fill('uniform', tensor, a, b, options, 'uniform_');
}

export function normal_(tensor: Tensor, mean = 0, std = 1, options: InitOptions = {}): Tensor {
  return fill('normal', tensor, mean, std, options, 'normal_');
}

export function constant_(tensor: Tensor, value: number): Tensor {
  native().fillConstant(handleOf(tensor, 'constant_'), value);
  return tensor;
}

export const zeros_ = (tensor: Tensor): Tensor => constant_(tensor, 0);
export const ones_ = (tensor: Tensor): Tensor => constant_(tensor, 1);

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU after this layer (default 0). */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(tensor: Tensor, options: KaimingOptions): number {
  const [fanIn, fanOut] = fans(tensor);
  const fan = (options.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return gain / Math.sqrt(fan);
}

export function kaimingUniform_(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3.0) * kaimingStd(tensor, options);
  return uniform_(tensor, -bound, bound, options);
}

export function kaimingNormal_(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(tensor, 0, kaimingStd(tensor, options), options);
}

export function xavierUniform_(tensor: Tensor, gain = 1, options: InitOptions = {}): Tensor {
  const [fanIn, fanOut] = fans(tensor);
  const std = gain * Math.sqrt(2.0 / (fanIn + fanOut));
  const bound = Math.sqrt(3.0) * std;
  return uniform_(tensor, -bound, bound, options);
}

export function xavierNormal_(tensor: Tensor, gain = 1, options: InitOptions = {}): Tensor {
  const [fanIn, fanOut] = fans(tensor);
  return normal_(tensor, 0, gain * Math.sqrt(2.0 / (fanIn + fanOut)), options);
}
