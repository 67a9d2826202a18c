/**
 * `fit`: the whole training loop in C++ on a skipnorm worker thread (native/train/fit.cc):
 * batches, forward, loss, backward, optimiser step, schedule and metrics, validation, with
 * progress events, hooks every N steps and cancellation through an AbortSignal (within one step).
 * The event loop stays free while it runs: the job writes checkpoints and the track file itself,
 * and the loggers (loggers.ts) write off the event loop. Options are checked in fit_config.ts.
 * `evaluate` runs the same data through the model in eval mode.
 */
import { runJob } from '../core/jobs';
import { native } from '../core/native';
import { Module } from '../nn/module';
import { prepareForInput, type InputSignature } from '../nn/graph';
import { handleOf, Tensor } from '../tensor/tensor';
import type { Diagnostics } from '../spectra/diagnostics';
import { Dataset } from '../data/dataset';
import { state as distState } from '../distributed';
import { DataLoader } from '../data/loader';
import type { Transform } from '../data/transforms';
import { loadCheckpoint, prepareCheckpointDir, type EpochSums } from './checkpoint';
import { checkWritable } from '../io/safetensors';
import type { Optimizer } from './optim';
import type { Schedule } from './schedule';
import { choice, fitConfig, positiveInteger } from './fit_config';
import { FitLoggers } from './loggers';
import { trainingStarted } from './snapshot';
import type { Histogram } from '../report/tensorboard';

/** In-memory data: `input` [N, ...] and `labels` [N] (int64 classes, or targets for MSE). */
export interface TensorData {
  input: Tensor;
  labels: Tensor;
}

/**
 * What fit and evaluate train on: in-memory tensors, a Dataset (fit makes a DataLoader from its
 * batchSize, shuffle, seed, dropLast, transforms, loaderThreads and prefetch options), or a
 * DataLoader (which brings those settings itself).
 */
export type FitData = TensorData | Dataset | DataLoader;

export interface StepEvent {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  top1: number;
  top5: number;
  /** The default parameter group's learning rate for this step (each group's is its base rate times the schedule's factor). */
  lr: number;
  examplesPerSecond: number;
  elapsed: number;
  /** Seconds left, from the mean step time so far. */
  eta: number;
  /** float16 autocast: the loss scale used for this step (1 otherwise). */
  lossScale: number;
  /** float16 autocast: 1 when this step's gradients overflowed and the update was skipped. */
  skipped: number;
}

export interface EpochEvent {
  epoch: number;
  /** The run's step count at the epoch's end (steps before a resume included). */
  step: number;
  /**
   * Means over the examples the epoch trained on, each measured on its batch in train mode before
   * that batch's update (a running training loss, as PyTorch scripts print; for the loss of the
   * weights at the epoch's end, give validationData). A resumed epoch counts its batches from
   * before the resume; top1/top5 are NaN when the outputs are not class scores.
   */
  loss: number;
  top1: number;
  top5: number;
  /** Examples trained on in the epoch (fewer than the data's when `complete` is false). */
  examples: number;
  seconds: number;
  examplesPerSecond: number;
  /** The default parameter group's learning rate at the epoch's last step. */
  lr: number;
  /** False for a last epoch cut short by `steps`. */
  complete: boolean;
}

/** The validation data through the model in eval mode, after step `step` (means over its examples). */
export interface ValidationEvent {
  step: number;
  epoch: number;
  loss: number;
  /** NaN when the outputs are not class scores. */
  top1: number;
  top5: number;
  examples: number;
  seconds: number;
}

/** One epoch of `history`: the epoch's training means and its last validation (null without one). */
export interface EpochRecord extends EpochEvent {
  validation: ValidationEvent | null;
}

/**
 * parameterStats / gradNorms: per parameter [norm, dot product with cos(0.7 i)] (float64).
 * jacobianSpectrum: the tracked spectrum's singular values, descending, at the cut `cut` (as
 * trackJacobian lists it: 'stem' or a module name; one event per cut and step; step 0 is the
 * network before its first update). weightHistograms: each parameter's histogram (30 buckets
 * from its min to its max) at each epoch's end, sent when `tensorboard` is given.
 */
export type HookEvent =
  | { name: 'parameterStats' | 'gradNorms'; step: number; values: Record<string, [number, number]> }
  | { name: 'jacobianSpectrum'; step: number; cut: string; values: Float64Array }
  | { name: 'diagnostics'; step: number; values: Diagnostics }
  | { name: 'weightHistograms'; step: number; values: Record<string, Histogram> };

export interface FitOptions {
  optimizer: Optimizer;
  /** Exactly one of epochs and steps. */
  epochs?: number;
  steps?: number;
  /** Examples per step; omit for full-batch gradient descent (the paper's MNIST protocol). */
  batchSize?: number;
  /** Shuffle mini-batches each epoch, seeded by (seed, epoch) (default true). */
  shuffle?: boolean;
  seed?: number;
  dropLast?: boolean;
  /** With a Dataset: per-example transforms (sn.data.transforms), run on the loader's threads. */
  transforms?: Transform[];
  /** With a Dataset: the loader's decoding threads (default: the cores, at most 8). */
  loaderThreads?: number;
  /** With a Dataset: batches prepared ahead (default 2). */
  prefetch?: number;
  loss?: 'cross-entropy' | 'mse';
  labelSmoothing?: number;
  /** The learning-rate multiplier: every parameter group's rate is its base rate times it, as PyTorch's LambdaLR. */
  schedule?: Schedule;
  /** Whether t of the schedule counts epochs (default, as PyTorch schedulers stepped per epoch) or steps. */
  scheduleUnit?: 'epoch' | 'step';
  clipGradNorm?: number;
  /**
   * Autocast of the forward pass on the batch's device: bfloat16, or float16 with dynamic loss
   * scaling (torch.amp.GradScaler's rules: start at 2^16, halve and skip the step on overflow,
   * double after 2000 good steps).
   */
  autocast?: 'none' | 'bfloat16' | 'float16';
  /** float16: the first loss scale (default 65536). */
  initialLossScale?: number;
  /** Convolution weights and 4-d batches in channels-last memory format (faster convolutions on GPUs). */
  channelsLast?: boolean;
  /**
   * CUDA graphs: after 3 eager warm-up steps, capture the whole training step (forward, loss,
   * backward, clipping, SGD update) once and replay it, so small models stop being bound by kernel
   * launches; results are those of eager steps. Needs a CUDA build, the model on a CUDA device,
   * batches of one shape (full batch, or dropLast / a batch size that divides the data), SGD, and
   * no float16 autocast or distributed training. A changed learning rate re-captures the step (so
   * per-step schedules lose the benefit). Per-step values are read only at progress events: raise
   * `progressEvery` to let the GPU run ahead.
   */
  cudaGraph?: boolean;
  /** Report a step event every this many steps (default 1). */
  progressEvery?: number;
  hooks?: { kind: 'parameterStats' | 'gradNorms'; every: number }[];
  /**
   * Track the later-layer Jacobian spectrum of a fixed probe batch every `every` steps, measured
   * on the training thread between steps (see spectra.jacobianSpectrum for the options). `cut`:
   * 'stem' (default), a module name, a list of them, or 'all' (every cut point from the stem on,
   * containers looked inside to `depth` levels: see spectra.layerwiseJacobianSpectra); the cuts
   * are checked on `input` when fit starts, and each gives its own hook event.
   */
  trackJacobian?: {
    input: Tensor;
    every: number;
    cut?: string | string[];
    depth?: number;
    stem?: string;
    mode?: 'train' | 'eval';
    precision?: 'float32' | 'float64';
    method?: 'exact' | 'lanczos';
    steps?: number;
    cudaGraph?: boolean;
    rowsPerPass?: number;
  };
  /**
   * Track curvature and regularity of a fixed batch every `every` steps (see
   * spectra.diagnostics): loss, PL ratio, per-parameter gradient norms, and the top Hessian
   * eigenvalue when hessianIterations > 0 (default 0: it costs two backward passes per iteration).
   */
  trackDiagnostics?: { input: Tensor; labels: Tensor; every: number; mode?: 'train' | 'eval'; lossFloor?: number; hessianIterations?: number; tol?: number };
  /**
   * Data-parallel training over the process group (sn.distributed.init first): each rank trains on
   * its share of every batch (`batchSize` is the global batch: in-memory batches are split evenly,
   * a Dataset's loader gives each rank batchSize / worldSize examples of its shard), parameters
   * start from rank 0's, and gradients are averaged by c10d's Reducer in buckets overlapped with
   * the backward pass. syncBatchNorm: batch statistics over all ranks' batches.
   */
  distributed?: boolean | { syncBatchNorm?: boolean };
  /** Append every hook event (tracked spectra and diagnostics, parameter stats) to this JSON-lines file. */
  trackFile?: string;
  /** Save model, optimiser and generator every `every` steps (and at the end) into `dir`, keeping the newest `keep` (default 3). */
  checkpoint?: { dir: string; every: number; keep?: number };
  /** Continue from the newest checkpoint in checkpoint.dir, if there is one (bit-identical on CPU). */
  resume?: boolean;
  /**
   * Called once a checkpoint file is written. The job writes it on its own thread while training
   * goes on, so this may come after later steps' events (and after the last epoch's).
   */
  onCheckpoint?: (event: { step: number; file: string }) => void;
  onStep?: (event: StepEvent) => void;
  onEpoch?: (event: EpochEvent) => void;
  onHook?: (event: HookEvent) => void;
  /**
   * Data evaluated in eval mode without gradients during training, on the training thread:
   * in-memory tensors (in batches of `batchSize`, or whole), a Dataset (batches of `batchSize`,
   * no shuffling and no transforms: give a DataLoader for evaluation transforms) or a DataLoader.
   * Each rank of a distributed run evaluates all of it.
   */
  validationData?: FitData;
  /** Validate every this many steps (and after the last); default: at each epoch's end. */
  validateEvery?: number;
  onValidation?: (event: ValidationEvent) => void;
  /** Log to TensorBoard event files in this folder (see loggers.ts for the tags). */
  tensorboard?: string;
  /** Log every reported step, epoch and validation as a row of this CSV file. */
  csv?: string;
  signal?: AbortSignal;
}

export interface FitResult {
  /** The step the run ended at (counting steps done before a resume). */
  steps: number;
  /** The step a resumed run started from (0 otherwise). */
  resumedFrom: number;
  /**
   * The last epoch's running training loss, lastEpoch.loss: the mean over the batches it trained
   * (a partial epoch's when `steps` ended it early: see lastEpoch.complete), each measured before
   * its update. NaN only when no step has ever run.
   */
  lastEpochLoss: number;
  /**
   * The last epoch trained, with its batches before a resume counted too; when a run resumes at
   * its last step, the epoch that checkpoint ended in. Null when no step has ever run.
   */
  lastEpoch: EpochEvent | null;
  seconds: number;
  /**
   * How many times the loop waited for values from the device (each a host synchronisation on a
   * GPU): one per reported step (`progressEvery`) and per epoch end, one per step with float16
   * loss scaling (whether to skip the update), none otherwise.
   */
  hostReads: number;
  /** Every epoch this call trained, in order (a resumed run's earlier epochs are not repeated). */
  history: EpochRecord[];
  /** Every validation this call made, in order. */
  validations: ValidationEvent[];
}

interface DataSource {
  handles: { input: number; labels: number } | { loader: number };
  /** Frees a loader made for this call. */
  release(): void;
}

const loaderSettings = ['batchSize', 'shuffle', 'seed', 'dropLast', 'transforms', 'loaderThreads', 'prefetch'] as const;

/** Whether the model trains on a GPU: its loader then hands over uint8 batches in pinned memory, converted on the device. */
function onGpu(model: Module): boolean {
  const parameters = model.parameters();
  const gpu = parameters.length > 0 && parameters[0].device.startsWith('cuda');
  parameters.forEach((p) => p.dispose());
  return gpu;
}

function dataSource(data: FitData, options: Partial<FitOptions>, op: string, evaluation: boolean, parallel = false, gpu = false): DataSource {
  const group = parallel ? distState() : { rank: 0, worldSize: 1 };
  if (data instanceof DataLoader) {
    const given = loaderSettings.filter((k) => options[k] !== undefined);
    if (given.length) throw new TypeError(`${op}: ${given.join(', ')} belong to the DataLoader when training from one`);
    if ((data.options.worldSize ?? 1) !== group.worldSize || (data.options.rank ?? 0) !== group.rank) {
      throw new TypeError(`${op}: the DataLoader is sharded for rank ${data.options.rank ?? 0} of ${data.options.worldSize ?? 1}, this process is rank ${group.rank} of ${group.worldSize}`);
    }
    return { handles: { loader: data.loaderHandle(op) }, release: () => {} };
  }
  if (data instanceof Dataset) {
    if (options.batchSize === undefined) throw new TypeError(`${op}: batchSize is required when training from a Dataset`);
    if (options.batchSize % group.worldSize !== 0) throw new TypeError(`${op}: batchSize ${options.batchSize} does not split evenly over ${group.worldSize} ranks`);
    const loader = new DataLoader(data, {
      batchSize: options.batchSize / group.worldSize,
      rank: group.rank,
      worldSize: group.worldSize,
      shuffle: evaluation ? false : options.shuffle,
      seed: options.seed,
      dropLast: evaluation ? false : options.dropLast,
      transforms: options.transforms,
      threads: options.loaderThreads,
      prefetch: options.prefetch,
      channelsLast: options.channelsLast,
      ...(gpu ? { output: 'uint8', pinMemory: true } : {}),
    });
    return { handles: { loader: loader.loaderHandle(op) }, release: () => loader.dispose() };
  }
  if (!data || typeof data !== 'object') throw new TypeError(`${op}: data must be { input, labels }, a Dataset or a DataLoader`);
  if (options.transforms !== undefined) throw new TypeError(`${op}: transforms apply to a Dataset, not to in-memory tensors`);
  return { handles: { input: handleOf(data.input, op), labels: handleOf(data.labels, op) }, release: () => {} };
}

// What one example of the data looks like to the model (a loader's batches are float [C, H, W]
// images), so that traced modules can be traced for it before the job starts.
function exampleSignature(data: FitData, transforms: Transform[] | undefined): InputSignature | null {
  if (data instanceof DataLoader || data instanceof Dataset) {
    const dataset = data instanceof DataLoader ? data.dataset : data;
    if (dataset.length === 0) return null;
    const { image } = dataset.get(0, { transforms: data instanceof DataLoader ? data.options.transforms : transforms });
    const [h, w, c] = image.shape;
    image.dispose();
    return { shape: [c, h, w], dtype: 'float32' };
  }
  if (!(data?.input instanceof Tensor) || data.input.ndim < 1) return null;
  return { shape: data.input.shape.slice(1), dtype: data.input.dtype };
}

/** @internal Traces a model's traced modules for the data's examples (nothing to do for native models). */
export function prepareModelFor(model: Module, data: FitData, transforms: Transform[] | undefined, op: string): void {
  const signature = exampleSignature(data, transforms);
  if (signature) prepareForInput(model, [signature], op);
}

// How a resumed run's setting differs from the saved one, in a few words; null when equal.
function settingDifference(saved: unknown, now: unknown): string | null {
  if (JSON.stringify(saved) === JSON.stringify(now)) return null;
  if (Array.isArray(saved) && Array.isArray(now)) {
    const i = saved.findIndex((v, k) => JSON.stringify(v) !== JSON.stringify(now[k]));
    const at = i < 0 ? Math.min(saved.length, now.length) : i;
    return `it had ${JSON.stringify(saved[at] ?? `${saved.length} entries`)} where this run has ${JSON.stringify(now[at] ?? `${now.length} entries`)}`;
  }
  if (saved && now && typeof saved === 'object' && typeof now === 'object') {
    const kinds = [(saved as { kind?: unknown }).kind, (now as { kind?: unknown }).kind];
    if (kinds[0] !== kinds[1]) return `kind ${JSON.stringify(kinds[0])} then, ${JSON.stringify(kinds[1])} now`;
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(now)])];
    const differing = keys.filter((k) => JSON.stringify((saved as Record<string, unknown>)[k]) !== JSON.stringify((now as Record<string, unknown>)[k]));
    return differing.map((k) => `${k} ${JSON.stringify((saved as Record<string, unknown>)[k])} then, ${JSON.stringify((now as Record<string, unknown>)[k])} now`).join(', ');
  }
  return `${JSON.stringify(saved)} then, ${JSON.stringify(now)} now`;
}

// Whether a resumed run may differ from the saved one in `key`: more epochs or steps extend it.
function extendsRun(key: string, saved: unknown, now: unknown): boolean {
  return (key === 'epochs' || key === 'steps') && typeof saved === 'number' && typeof now === 'number' && now >= saved;
}

/** Trains the model in place; resolves when done (or rejects with AbortError when aborted). */
export async function fit(model: Module, data: FitData, options: FitOptions): Promise<FitResult> {
  const op = 'fit';
  const config = fitConfig(model, options, op);
  const { optimizer, onStep, onEpoch, onHook, onCheckpoint, onValidation, signal, checkpoint, resume, trackFile, validationData, validateEvery, tensorboard, csv, ...rest } = options;
  const parallel = config.dataParallel === true;
  if (parallel && !distState().initialized) throw new TypeError(`${op}: distributed training needs sn.distributed.init first`);
  // The settings a resumed run must share with the original, recorded in every checkpoint.
  const run: Record<string, unknown> = {
    epochs: rest.epochs,
    steps: rest.steps,
    batchSize: rest.batchSize,
    seed: rest.seed ?? 0,
    shuffle: rest.shuffle ?? true,
    dropLast: rest.dropLast ?? false,
    examples: data instanceof Dataset ? data.length : data instanceof DataLoader ? data.examplesPerEpoch : data?.input instanceof Tensor ? data.input.shape[0] : undefined,
    schedule: rest.schedule ?? null,
    scheduleUnit: rest.scheduleUnit ?? 'epoch',
    autocast: rest.autocast ?? 'none',
  };
  if (checkpoint) {
    run.model = model.namedModules().map((m) => `${m.name || '(model)'}: ${m.kind}${m.description ? ` (${m.description})` : ''}`);
    run.optimizer = optimizer.config();
  }
  if (trackFile !== undefined) checkWritable(trackFile, op);
  // Rank 0 writes the checkpoints of a data-parallel run (the replicas are the same); every rank resumes from them.
  const writesCheckpoints = checkpoint !== undefined && !(parallel && distState().rank !== 0);
  const sources: DataSource[] = [];
  const releaseSources = () => sources.splice(0).forEach((s) => s.release());
  let startStep = 0;
  let scaler: { scale: number; goodSteps: number } | undefined;
  let resumeEpochSums: EpochSums | undefined;
  let loggers: FitLoggers | undefined;
  try {
    const source = dataSource(data, options, op, false, parallel, onGpu(model));
    sources.push(source);
    // Validation batches: the training batch size, in order, without the training transforms.
    const validation = validationData === undefined ? undefined : dataSource(validationData, validationData instanceof DataLoader ? {} : { batchSize: rest.batchSize, loaderThreads: rest.loaderThreads, prefetch: rest.prefetch, channelsLast: rest.channelsLast }, `${op}: validationData`, true, false, onGpu(model));
    if (validation) sources.push(validation);
    const latest = checkpoint ? prepareCheckpointDir(checkpoint.dir, resume === true, writesCheckpoints, (message) => process.emitWarning(message, 'SkipnormWarning')) : null;
    if (latest) {
      // Compare the settings before anything is overwritten (keys an older checkpoint lacks are not compared).
      for (const key of Object.keys(run)) {
        if (!(key in latest.run) || extendsRun(key, latest.run[key], run[key])) continue;
        const difference = settingDifference(latest.run[key], run[key]);
        if (difference) throw new TypeError(`${op}: cannot resume from ${latest.file}: it was saved by a run with another ${key}: ${difference}`);
      }
      const restored = loadCheckpoint(latest.file, model, optimizer);
      startStep = restored.step;
      scaler = restored.scaler;
      resumeEpochSums = restored.epochSums;
    }
    prepareModelFor(model, data, options.transforms, op);
    if (validationData !== undefined) prepareModelFor(model, validationData, undefined, op);
    // Opened last: nothing above can fail after the files exist.
    if (tensorboard !== undefined || csv !== undefined) loggers = new FitLoggers({ tensorboard, csv, resume: startStep > 0 }, op);
    const nativeConfig = {
      ...config,
      ...source.handles,
      validation: validation ? { ...validation.handles, batchSize: rest.batchSize, every: validateEvery ?? 0 } : undefined,
      model: model.moduleHandle(op),
      startStep,
      resumeEpochSums,
      checkpoint: writesCheckpoints && checkpoint ? { dir: checkpoint.dir, every: checkpoint.every, keep: checkpoint.keep ?? 3, run: JSON.stringify(run) } : undefined,
      lossScale: scaler?.scale ?? config.lossScale,
      lossScaleGoodSteps: scaler?.goodSteps,
    };
    const history: EpochRecord[] = [];
    const validations: ValidationEvent[] = [];
    const snapshots = trainingStarted(model);
    const log = loggers;
    const dispatch = (event: { type?: string } & Record<string, unknown>) => {
      if (event.type === 'epoch') {
        const e = event as unknown as EpochEvent;
        const last = validations[validations.length - 1];
        history.push({ ...e, validation: last && last.epoch === e.epoch ? last : null });
        log?.epoch(e);
        onEpoch?.(e);
      } else if (event.type === 'validation') {
        const e = event as unknown as ValidationEvent;
        validations.push(e);
        log?.validation(e);
        onValidation?.(e);
      } else if (event.type === 'hook') {
        const e = event as unknown as HookEvent;
        log?.hook(e);
        onHook?.(e);
      } else if (event.type === 'checkpoint') {
        onCheckpoint?.({ step: event.step as number, file: event.file as string });
      } else if (event.type === 'snapshot') {
        snapshots.served(event.step as number, event.state as Record<string, number>);
      } else {
        const e = event as unknown as StepEvent;
        log?.step(e);
        onStep?.(e);
      }
    };
    // Snapshots are served even after a callback failed (the job is stopping then).
    const dropped = (event: { type?: string } & Record<string, unknown>) => {
      if (event.type === 'snapshot') snapshots.served(event.step as number, event.state as Record<string, number>);
    };
    const running = runJob<Omit<FitResult, 'resumedFrom' | 'history' | 'validations'>, { type?: string } & Record<string, unknown>>(
      op,
      (progress) => native().fit(nativeConfig, progress, optimizer.optimizerHandle(op)),
      { onProgress: dispatch, onDropped: dropped, signal },
    );
    const settled = running.finally(() => {
      releaseSources();
      snapshots.ended();
    });
    const result = await settled.catch(async (e: unknown) => {
      await loggers?.close().catch(() => {});
      throw e;
    });
    await loggers?.close();
    return { ...result, resumedFrom: startStep, history, validations };
  } catch (e) {
    releaseSources();
    throw e;
  }
}

export interface EvaluateResult {
  loss: number;
  top1: number;
  top5: number;
  examples: number;
}

/** Loss and accuracy of the model on the data, in eval mode, off the event loop. */
export async function evaluate(
  model: Module,
  data: FitData,
  options: { batchSize?: number; loss?: 'cross-entropy' | 'mse'; transforms?: Transform[]; loaderThreads?: number; prefetch?: number; channelsLast?: boolean; signal?: AbortSignal } = {},
): Promise<EvaluateResult> {
  const op = 'evaluate';
  if (!(model instanceof Module)) throw new TypeError(`${op}: the first argument must be a Module`);
  if (!options || typeof options !== 'object') throw new TypeError(`${op}: options must be an object`);
  const known = ['batchSize', 'loss', 'transforms', 'loaderThreads', 'prefetch', 'channelsLast', 'signal'];
  for (const key of Object.keys(options)) if (!known.includes(key)) throw new TypeError(`${op}: unknown option '${key}' (options: ${known.join(', ')})`);
  positiveInteger(options.batchSize, 'batchSize', op);
  positiveInteger(options.loaderThreads, 'loaderThreads', op);
  choice(options.loss, ['cross-entropy', 'mse'], 'loss', op);
  prepareModelFor(model, data, options.transforms, op);
  const source = dataSource(data, options, op, true, false, onGpu(model));
  const native_options = { batchSize: options.batchSize, loss: options.loss, ...source.handles, model: model.moduleHandle(op) };
  return runJob<EvaluateResult, never>(op, () => native().evaluate(native_options), { signal: options.signal }).finally(() => source.release());
}
