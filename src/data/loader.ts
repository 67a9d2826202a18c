/**
 * DataLoader: batches assembled in C++ by a pool of threads, prefetched ahead of the consumer
 * (native/data/loader.h). Seeded shuffling (the order of epoch e depends only on seed and e),
 * drop-last, and sharding by rank as torch's DistributedSampler. fit takes a DataLoader (or a
 * Dataset, for which it makes one) and trains from it without returning to JavaScript.
 */
import { TorchError } from '../core/errors';
import { runJob } from '../core/jobs';
import { native } from '../core/native';
import { Tensor, wrap } from '../tensor/tensor';
import { Dataset, defaultThreads } from './dataset';
import { checkTransforms, type Transform } from './transforms';

const registry = new FinalizationRegistry<number>((handle) => native().disposeLoader(handle));

export interface LoaderOptions {
  batchSize: number;
  /** Per-example transforms (sn.data.transforms); images become float32 [C, H, W] in [0, 1]. */
  transforms?: Transform[];
  /** Shuffle each epoch, seeded by (seed, epoch) (default true). */
  shuffle?: boolean;
  seed?: number;
  /** Leave out the last, smaller batch (default false). */
  dropLast?: boolean;
  /** This process's share of each epoch for distributed training (default rank 0 of 1). */
  rank?: number;
  worldSize?: number;
  /** Decoding threads (default: the machine's cores, at most 8). */
  threads?: number;
  /** Batches assembled ahead of the one asked for (default 2). */
  prefetch?: number;
  /** Batches in channels-last memory format. */
  channelsLast?: boolean;
  /**
   * 'float' (default): float32 [n, C, H, W] batches, scaled and normalised. 'uint8': the
   * transformed pixels as uint8 [n, H, W, C] (flips applied, normalisation not), a quarter of the
   * bytes to move: fit and evaluate convert and normalise them on the model's device in one
   * kernel (what they do by themselves with a Dataset on a GPU).
   */
  output?: 'float' | 'uint8';
  /** Batches in page-locked memory, so that copies to a GPU run asynchronously (ignored without CUDA). */
  pinMemory?: boolean;
}

export interface LoaderBatch {
  /** float32 [n, C, H, W], or uint8 [n, H, W, C] with output: 'uint8'. */
  input: Tensor;
  /** int64 [n]. */
  labels: Tensor;
  /** Corrupt examples left out of this batch (onCorrupt: 'skip'). */
  skipped: number;
}

function integerIn(value: unknown, name: string, min: number, op: string): void {
  if (value !== undefined && !(Number.isInteger(value) && (value as number) >= min)) throw new TypeError(`${op}: ${name} must be an integer >= ${min}, got ${String(value)}`);
}

export class DataLoader {
  private handle: number;
  readonly dataset: Dataset;
  readonly batchesPerEpoch: number;
  /** This rank's examples per epoch. */
  readonly examplesPerEpoch: number;
  readonly options: Readonly<LoaderOptions>;

  constructor(dataset: Dataset, options: LoaderOptions) {
    const op = 'DataLoader';
    if (!(dataset instanceof Dataset)) throw new TypeError(`${op}: the first argument must be a Dataset (sn.data.*)`);
    if (!options || typeof options !== 'object') throw new TypeError(`${op}: options { batchSize, ... } are required`);
    integerIn(options.batchSize, 'batchSize', 1, op);
    if (options.batchSize === undefined) throw new TypeError(`${op}: batchSize is required`);
    integerIn(options.seed, 'seed', 0, op);
    integerIn(options.rank, 'rank', 0, op);
    integerIn(options.worldSize, 'worldSize', 1, op);
    integerIn(options.threads, 'threads', 1, op);
    integerIn(options.prefetch, 'prefetch', 0, op);
    if ((options.rank ?? 0) >= (options.worldSize ?? 1)) throw new TypeError(`${op}: rank ${options.rank} must be below worldSize ${options.worldSize ?? 1}`);
    if (options.output !== undefined && options.output !== 'float' && options.output !== 'uint8') throw new TypeError(`${op}: output must be 'float' or 'uint8', got ${String(options.output)}`);
    if (options.pinMemory !== undefined && typeof options.pinMemory !== 'boolean') throw new TypeError(`${op}: pinMemory must be a boolean`);
    const transforms = checkTransforms(options.transforms, op);
    const created = native().createLoader(dataset.datasetHandle(op), transforms, { ...options, transforms: undefined, threads: options.threads ?? defaultThreads() }) as {
      handle: number;
      batchesPerEpoch: number;
      examplesPerEpoch: number;
    };
    this.handle = created.handle;
    this.dataset = dataset;
    this.batchesPerEpoch = created.batchesPerEpoch;
    this.examplesPerEpoch = created.examplesPerEpoch;
    this.options = { ...options };
    registry.register(this, this.handle, this);
  }

  /** @internal */
  loaderHandle(op: string): number {
    if (this.handle < 0) throw new TorchError(op, 'the data loader was disposed (use after dispose)');
    return this.handle;
  }

  /** Batch `index` of `epoch` (waits off the event loop; queues the next ones). */
  async batch(epoch: number, index: number, options: { signal?: AbortSignal } = {}): Promise<LoaderBatch> {
    const op = 'DataLoader.batch';
    integerIn(epoch, 'epoch', 0, op);
    integerIn(index, 'index', 0, op);
    if (index >= this.batchesPerEpoch) throw new RangeError(`${op}: batch ${index} does not exist (${this.batchesPerEpoch} per epoch)`);
    return runJob<{ input: number; labels: number; skipped: number }, never>(op, () => native().loaderBatch(this.loaderHandle(op), epoch, index), options).then((b) => ({
      input: wrap(b.input),
      labels: wrap(b.labels),
      skipped: b.skipped,
    }));
  }

  /** The batches of one epoch, in order: `for await (const { input, labels } of loader.epoch(0))`. */
  async *epoch(epoch: number): AsyncGenerator<LoaderBatch> {
    for (let i = 0; i < this.batchesPerEpoch; i++) yield await this.batch(epoch, i);
  }

  /** Corrupt examples skipped so far. */
  get skipped(): number {
    return native().loaderSkipped(this.loaderHandle('DataLoader.skipped')) as number;
  }

  /** Stops the threads (after the example each is working on) and frees queued batches. */
  dispose(): void {
    if (this.handle < 0) return;
    native().disposeLoader(this.handle);
    registry.unregister(this);
    this.handle = -1;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
