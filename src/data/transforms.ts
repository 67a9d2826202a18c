/**
 * Per-example transforms, run in C++ on the loader's threads with torchvision's semantics
 * (native/data/transforms.h). A pipeline is an array of these; `normalize` must come last. Every
 * pipeline ends with ToTensor's scaling to float32 [C, H, W] in [0, 1].
 */
export type Transform =
  | { kind: 'randomResizedCrop'; size: [number, number]; scale?: [number, number]; ratio?: [number, number] }
  | { kind: 'resize'; size: [number] | [number, number] }
  | { kind: 'centerCrop'; size: [number, number] }
  | { kind: 'randomCrop'; size: [number, number]; padding?: number }
  | { kind: 'horizontalFlip'; p?: number }
  | { kind: 'normalize'; mean: number[]; std: number[] };

const pair = (size: number | [number, number]): [number, number] => (typeof size === 'number' ? [size, size] : size);

/** torchvision.transforms.RandomResizedCrop: scale (0.08, 1), ratio (3/4, 4/3) by default. */
export const randomResizedCrop = (size: number | [number, number], options: { scale?: [number, number]; ratio?: [number, number] } = {}): Transform => ({
  kind: 'randomResizedCrop',
  size: pair(size),
  ...options,
});
/** torchvision.transforms.Resize: a number resizes the shorter side (aspect ratio kept), [h, w] exactly. Bilinear, antialiased. */
export const resize = (size: number | [number, number]): Transform => ({ kind: 'resize', size: typeof size === 'number' ? [size] : size });
/** torchvision.transforms.CenterCrop (zero-padded when the image is smaller). */
export const centerCrop = (size: number | [number, number]): Transform => ({ kind: 'centerCrop', size: pair(size) });
/** torchvision.transforms.RandomCrop with zero padding on every side. */
export const randomCrop = (size: number | [number, number], options: { padding?: number } = {}): Transform => ({ kind: 'randomCrop', size: pair(size), ...options });
/** torchvision.transforms.RandomHorizontalFlip (p = 0.5 by default). */
export const horizontalFlip = (p = 0.5): Transform => ({ kind: 'horizontalFlip', p });
/** torchvision.transforms.Normalize, after scaling to [0, 1]. */
export const normalize = (mean: number[], std: number[]): Transform => ({ kind: 'normalize', mean, std });

const kinds = new Set(['randomResizedCrop', 'resize', 'centerCrop', 'randomCrop', 'horizontalFlip', 'normalize']);

/** @internal Validates a pipeline from JavaScript with messages for users (C++ checks again). */
export function checkTransforms(transforms: unknown, op: string): Transform[] {
  if (transforms === undefined) return [];
  if (!Array.isArray(transforms)) throw new TypeError(`${op}: transforms must be an array (sn.data.transforms.*)`);
  transforms.forEach((t, i) => {
    if (!t || typeof t !== 'object' || !kinds.has((t as Transform).kind)) throw new TypeError(`${op}: transforms[${i}] is not a transform (use sn.data.transforms.*)`);
    const size = (t as { size?: unknown }).size;
    if (size !== undefined && !(Array.isArray(size) && size.every((v) => Number.isInteger(v) && v > 0))) {
      throw new TypeError(`${op}: transforms[${i}].size must be positive integers`);
    }
    if ((t as Transform).kind === 'normalize' && i !== transforms.length - 1) throw new TypeError(`${op}: normalize must be the last transform`);
  });
  return transforms as Transform[];
}

/** The usual ImageNet normalisation (torchvision's reference scripts). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
