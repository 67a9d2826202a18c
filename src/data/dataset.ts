/**
 * Datasets: images and integer labels held natively (native/data/dataset.h), opened from the
 * formats users have. Open one with sn.data.mnist / cifar10 / cifar100 / imageFolder / packed /
 * fromTensors / digits (the bundled real MNIST digits); iterate it with a DataLoader, or hand it
 * to fit directly.
 */
import * as path from 'node:path';
import { TorchError } from '../core/errors';
import { runJob } from '../core/jobs';
import { native } from '../core/native';
import { checkWritable, removeStaleTemporaries } from '../io/safetensors';
import { fromTypedArray } from '../tensor/creation';
import { handleOf, Tensor, wrap } from '../tensor/tensor';
import { checkTransforms, type Transform } from './transforms';

const registry = new FinalizationRegistry<number>((handle) => native().disposeDataset(handle));

interface Description {
  handle: number;
  size: number;
  classes: number;
  format: string;
  classNames: string[];
}

export interface DatasetStats {
  /** Examples read (corrupt ones skipped are not counted). */
  count: number;
  classes: number;
  /** Examples per label 0..classes-1. */
  perClass: number[];
  /** Per channel, of pixel values scaled to [0, 1] (population standard deviation). */
  mean: number[];
  std: number[];
  /** Corrupt examples skipped (with onCorrupt: 'skip'). */
  skipped: number;
}

export class Dataset {
  private handle: number;
  /** Number of examples. */
  readonly length: number;
  readonly classes: number;
  /** Class names (folder names for image folders; empty where classes are numbers). */
  readonly classNames: string[];
  /** 'mnist' | 'cifar10' | 'cifar100' | 'folder' | 'packed' | 'tensors' | 'digits'. */
  readonly format: string;

  /** @internal */
  constructor(d: Description) {
    this.handle = d.handle;
    this.length = d.size;
    this.classes = d.classes;
    this.classNames = d.classNames;
    this.format = d.format;
    registry.register(this, this.handle, this);
  }

  /** @internal */
  datasetHandle(op: string): number {
    if (this.handle < 0) throw new TorchError(op, 'the dataset was disposed (use after dispose)');
    return this.handle;
  }

  /**
   * One example: the image as uint8 [H, W, C] (after the uint8 transforms, if given; normalize is
   * not applied) and its label. Random transforms draw from (seed, epoch, index), as in a loader.
   */
  get(index: number, options: { transforms?: Transform[]; seed?: number; epoch?: number } = {}): { image: Tensor; label: number } {
    const op = 'Dataset.get';
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`${op}: index ${index} is out of range for ${this.length} examples`);
    const [image, label] = native().datasetExample(this.datasetHandle(op), index, checkTransforms(options.transforms, op), options.seed ?? 0, options.epoch ?? 0) as [number, number];
    return { image: wrap(image), label };
  }

  /** These examples (indices into this dataset, in this order) as a dataset of their own. */
  subset(indices: number[] | Tensor): Dataset {
    const op = 'Dataset.subset';
    const t = indices instanceof Tensor ? indices : fromTypedArray(BigInt64Array.from(checkIndices(indices, op), BigInt), [indices.length]);
    try {
      return new Dataset(native().datasetSubset(this.datasetHandle(op), handleOf(t, op)) as Description);
    } finally {
      if (t !== indices) t.dispose();
    }
  }

  /** All labels, int64 [N]. */
  labels(): Tensor {
    return wrap(native().datasetLabels(this.datasetHandle('Dataset.labels')));
  }

  /** Counts per class and per-channel mean/std of pixels in [0, 1], decoded on `threads` threads. */
  async stats(options: { threads?: number; onProgress?: (p: { done: number; total: number }) => void; signal?: AbortSignal } = {}): Promise<DatasetStats> {
    const op = 'Dataset.stats';
    const threads = options.threads ?? defaultThreads();
    return runJob<DatasetStats, { done: number; total: number }>(op, (progress) => native().datasetStats(this.datasetHandle(op), threads, progress), options);
  }

  /**
   * Writes a packed file (sn.data.packed reads it, memory-mapped): every image resized (shorter
   * side) and center-cropped to `size`, as uint8, with the labels. Written atomically.
   */
  async pack(
    file: string,
    options: { size: number | [number, number]; threads?: number; onProgress?: (p: { done: number; total: number }) => void; signal?: AbortSignal },
  ): Promise<{ count: number; skipped: number }> {
    const op = 'Dataset.pack';
    if (typeof file !== 'string' || !file) throw new TypeError(`${op}: file must be a path`);
    const [h, w] = typeof options?.size === 'number' ? [options.size, options.size] : (options?.size ?? []);
    if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new TypeError(`${op}: size must be a positive integer or [h, w]`);
    const threads = options.threads ?? defaultThreads();
    // Before the decoding: the file must be writable at the end, and earlier killed packs' temporaries go.
    checkWritable(file, op);
    removeStaleTemporaries(path.dirname(path.resolve(file)));
    return runJob<{ count: number; skipped: number }, { done: number; total: number }>(
      op,
      (progress) => native().packDataset(this.datasetHandle(op), file, h, w, threads, progress),
      options,
    );
  }

  dispose(): void {
    if (this.handle < 0) return;
    native().disposeDataset(this.handle);
    registry.unregister(this);
    this.handle = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function checkIndices(indices: unknown, op: string): number[] {
  if (!Array.isArray(indices) || !indices.every((i) => Number.isInteger(i))) throw new TypeError(`${op}: indices must be integers or an int64 tensor`);
  return indices as number[];
}

/** @internal */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, require('node:os').availableParallelism()));
}

export type Split = 'train' | 'test';

function checkSplit(split: unknown, op: string): boolean {
  if (split === undefined || split === 'train') return true;
  if (split === 'test') return false;
  throw new TypeError(`${op}: split must be 'train' or 'test'`);
}

async function open(op: string, options: Record<string, unknown>): Promise<Dataset> {
  if (typeof options.root !== 'string' || !options.root) throw new TypeError(`${op}: root must be a folder path`);
  return runJob<Description, never>(op, () => native().openDataset(options)).then((d) => new Dataset(d));
}

/** MNIST idx files in `root` (plain or gzip; also root/MNIST/raw as torchvision keeps them). */
export async function mnist(options: { root: string; split?: Split }): Promise<Dataset> {
  return open('mnist', { format: 'mnist', root: options?.root, train: checkSplit(options?.split, 'mnist') });
}

/** CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin) in root or root/cifar-10-batches-bin. */
export async function cifar10(options: { root: string; split?: Split }): Promise<Dataset> {
  return open('cifar10', { format: 'cifar10', root: options?.root, train: checkSplit(options?.split, 'cifar10') });
}

/** CIFAR-100 binary (train.bin, test.bin) in root or root/cifar-100-binary; fine (100) or coarse (20) labels. */
export async function cifar100(options: { root: string; split?: Split; labels?: 'fine' | 'coarse' }): Promise<Dataset> {
  const labels = options?.labels ?? 'fine';
  if (labels !== 'fine' && labels !== 'coarse') throw new TypeError("cifar100: labels must be 'fine' or 'coarse'");
  return open('cifar100', { format: 'cifar100', root: options?.root, train: checkSplit(options?.split, 'cifar100'), coarse: labels === 'coarse' });
}

/**
 * One subfolder of `root` per class (sorted by name, as torchvision's ImageFolder), with JPEG and
 * PNG files found recursively; images are RGB. onCorrupt 'fail' (default) makes a corrupt file an
 * error when it is read; 'skip' leaves it out of its batch and counts it.
 */
export async function imageFolder(options: { root: string; onCorrupt?: 'fail' | 'skip' }): Promise<Dataset> {
  const onCorrupt = options?.onCorrupt ?? 'fail';
  if (onCorrupt !== 'fail' && onCorrupt !== 'skip') throw new TypeError("imageFolder: onCorrupt must be 'fail' or 'skip'");
  return open('imageFolder', { format: 'folder', root: options?.root, skipCorrupt: onCorrupt === 'skip' });
}

/** A file written by Dataset.pack or `skipnorm data pack`, memory-mapped. */
export async function packed(file: string): Promise<Dataset> {
  return open('packed', { format: 'packed', root: file });
}

/** A dataset over in-memory images: uint8 [N, H, W, C] (C = 1 or 3) and integer labels [N]. */
export function fromTensors(images: Tensor, labels: Tensor, options: { classes?: number } = {}): Dataset {
  return tensorDataset('fromTensors', images, labels, options.classes ?? 0, 'tensors');
}

/** @internal */
export function tensorDataset(op: string, images: Tensor, labels: Tensor, classes: number, format: string): Dataset {
  if (!Number.isInteger(classes) || classes < 0) throw new TypeError(`${op}: classes must be a positive integer`);
  return new Dataset(native().tensorDataset(handleOf(images, op), handleOf(labels, op), classes, format) as Description);
}
