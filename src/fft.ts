/** torch.fft's counterparts. Complex results have dtype complex64/complex128. */
import { native } from './core/native';
import { Tensor, handleOf, wrap } from './tensor/tensor';

export type FftNorm = 'backward' | 'forward' | 'ortho';

function normArg(norm: FftNorm | undefined, op: string): string | null {
  if (norm === undefined) return null;
  if (norm !== 'backward' && norm !== 'forward' && norm !== 'ortho') throw new TypeError(`${op}: norm must be 'backward', 'forward' or 'ortho'`);
  return norm;
}

function oneDim(kind: string) {
  return (x: Tensor, n?: number, dim = -1, norm?: FftNorm): Tensor => {
    if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new TypeError(`${kind}: n must be a positive integer`);
    return wrap(native().fft(kind, handleOf(x, kind), n ?? null, dim, normArg(norm, kind)));
  };
}

function multiDim(kind: string) {
  return (x: Tensor, s?: number[], dim?: number[], norm?: FftNorm): Tensor =>
    wrap(native().fft(kind, handleOf(x, kind), s ?? null, dim ?? null, normArg(norm, kind)));
}

export const fft = oneDim('fft');
export const ifft = oneDim('ifft');
export const rfft = oneDim('rfft');
export const irfft = oneDim('irfft');
export const hfft = oneDim('hfft');
export const ihfft = oneDim('ihfft');
export const fft2 = multiDim('fft2');
export const ifft2 = multiDim('ifft2');
export const rfft2 = multiDim('rfft2');
export const irfft2 = multiDim('irfft2');
export const fftn = multiDim('fftn');
export const ifftn = multiDim('ifftn');
export const rfftn = multiDim('rfftn');
export const irfftn = multiDim('irfftn');

export function fftshift(x: Tensor, dim?: number[]): Tensor {
  return wrap(native().fftShift(false, handleOf(x, 'fftshift'), dim ?? null));
}

export function ifftshift(x: Tensor, dim?: number[]): Tensor {
  return wrap(native().fftShift(true, handleOf(x, 'ifftshift'), dim ?? null));
}
