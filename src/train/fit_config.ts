/**
 * fit's options checked completely, with messages for users, and turned into the one config the
 * native loop reads (native/train/fit_config.h). Every option is validated here, before anything
 * is loaded or started: an unknown option, an unknown choice ('steps' for 'step') or a value of the
 * wrong kind is a TypeError naming it, never a silent default.
 */
import { native } from '../core/native';
import { Module } from '../nn/module';
import { resolveCuts } from '../spectra/cuts';
import { checkSpectrumOptions } from '../spectra/jacobian';
import { handleOf, Tensor } from '../tensor/tensor';
import type { FitOptions } from './fit';
import { Optimizer } from './optim';

const FIT_OPTIONS = new Set<string>([
  'optimizer', 'epochs', 'steps', 'batchSize', 'shuffle', 'seed', 'dropLast', 'transforms', 'loaderThreads', 'prefetch',
  'loss', 'labelSmoothing', 'schedule', 'scheduleUnit', 'clipGradNorm', 'autocast', 'initialLossScale', 'channelsLast',
  'cudaGraph', 'progressEvery', 'hooks', 'trackJacobian', 'trackDiagnostics', 'distributed', 'trackFile', 'checkpoint',
  'resume', 'onCheckpoint', 'onStep', 'onEpoch', 'onHook', 'signal', 'validationData', 'validateEvery', 'onValidation',
  'tensorboard', 'csv',
]);

function fail(op: string, message: string): never {
  throw new TypeError(`${op}: ${message}`);
}

function shown(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (typeof value !== 'object' || value === null) return String(value); // NaN, Infinity, BigInt as themselves
  if (value instanceof Tensor) return 'a Tensor';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return `a ${value.constructor?.name ?? 'object'}`; // circular
  }
}

/** @internal A positive integer, when given. */
export function positiveInteger(value: unknown, name: string, op: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 1)) fail(op, `${name} must be a positive integer, got ${shown(value)}`);
}

function nonNegativeInteger(value: unknown, name: string, op: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) fail(op, `${name} must be a non-negative integer, got ${shown(value)}`);
}

function boolean(value: unknown, name: string, op: string): void {
  if (value !== undefined && typeof value !== 'boolean') fail(op, `${name} must be true or false, got ${shown(value)}`);
}

function finite(value: unknown, name: string, op: string, check: (v: number) => boolean = () => true, what = 'a finite number'): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && check(value))) fail(op, `${name} must be ${what}, got ${shown(value)}`);
}

/** @internal One of `choices`, when given. */
export function choice<T extends string>(value: unknown, choices: readonly T[], name: string, op: string): void {
  if (value !== undefined && !choices.includes(value as T)) fail(op, `${name} must be ${choices.map((c) => `'${c}'`).join(' or ')}, got ${shown(value)}`);
}

function callback(value: unknown, name: string, op: string): void {
  if (value !== undefined && typeof value !== 'function') fail(op, `${name} must be a function, got ${shown(value)}`);
}

function tensor(value: unknown, name: string, op: string): void {
  if (!(value instanceof Tensor)) fail(op, `${name} must be a Tensor, got ${shown(value)}`);
}

function object(value: unknown, name: string, op: string): value is Record<string, unknown> {
  if (value === undefined) return false;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(op, `${name} must be an object, got ${shown(value)}`);
  return true;
}

function knownKeys(value: Record<string, unknown>, keys: string[], name: string, op: string): void {
  for (const key of Object.keys(value)) if (!keys.includes(key)) fail(op, `unknown option ${name}${key} (options: ${keys.join(', ')})`);
}

/** @internal Checks a schedule the way the native loop will read it (native/train/schedule_api.cc). */
export function checkSchedule(schedule: unknown, op: string): void {
  if (schedule === undefined) return;
  if (schedule === null || typeof schedule !== 'object') fail(op, `schedule must be an object { kind, ... }, got ${shown(schedule)}`);
  try {
    native().scheduleFactor(schedule, 0);
  } catch (e) {
    fail(op, `schedule: ${(e as Error).message.replace(/^option '(\w+)'/, "'$1'")}`);
  }
}

/**
 * @internal Checks every option of fit (the model's cut names included) and returns the parts of
 * the native config that follow from the options alone.
 */
export function fitConfig(model: Module, options: FitOptions, op = 'fit'): Record<string, unknown> {
  if (!(model instanceof Module)) fail(op, 'the first argument must be a Module');
  if (!options || typeof options !== 'object') fail(op, 'options must be an object');
  for (const key of Object.keys(options)) if (!FIT_OPTIONS.has(key)) fail(op, `unknown option '${key}'`);
  const o = options;
  if (!(o.optimizer instanceof Optimizer)) fail(op, 'options.optimizer must be an optimizer (sn.optim.SGD, Adam, AdamW)');
  if ((o.epochs === undefined) === (o.steps === undefined)) fail(op, 'give exactly one of epochs and steps');
  positiveInteger(o.epochs, 'epochs', op);
  positiveInteger(o.steps, 'steps', op);
  positiveInteger(o.batchSize, 'batchSize', op);
  boolean(o.shuffle, 'shuffle', op);
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) fail(op, `seed must be an integer, got ${shown(o.seed)}`);
  boolean(o.dropLast, 'dropLast', op);
  if (o.transforms !== undefined && !Array.isArray(o.transforms)) fail(op, `transforms must be an array of transforms, got ${shown(o.transforms)}`);
  positiveInteger(o.loaderThreads, 'loaderThreads', op);
  nonNegativeInteger(o.prefetch, 'prefetch', op);
  choice(o.loss, ['cross-entropy', 'mse'], 'loss', op);
  finite(o.labelSmoothing, 'labelSmoothing', op, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  checkSchedule(o.schedule, op);
  choice(o.scheduleUnit, ['epoch', 'step'], 'scheduleUnit', op);
  finite(o.clipGradNorm, 'clipGradNorm', op, (v) => v > 0, 'a positive number');
  choice(o.autocast, ['none', 'bfloat16', 'float16'], 'autocast', op);
  finite(o.initialLossScale, 'initialLossScale', op, (v) => v > 0, 'a positive number');
  boolean(o.channelsLast, 'channelsLast', op);
  boolean(o.cudaGraph, 'cudaGraph', op);
  positiveInteger(o.progressEvery, 'progressEvery', op);
  boolean(o.resume, 'resume', op);
  for (const name of ['onCheckpoint', 'onStep', 'onEpoch', 'onHook', 'onValidation'] as const) callback(o[name], name, op);
  if (o.validationData !== undefined && (o.validationData === null || typeof o.validationData !== 'object')) fail(op, `validationData must be { input, labels }, a Dataset or a DataLoader, got ${shown(o.validationData)}`);
  positiveInteger(o.validateEvery, 'validateEvery', op);
  if (o.validateEvery !== undefined && o.validationData === undefined) fail(op, 'validateEvery needs validationData');
  if (o.onValidation !== undefined && o.validationData === undefined) fail(op, 'onValidation needs validationData');
  for (const name of ['tensorboard', 'csv'] as const) {
    if (o[name] !== undefined && (typeof o[name] !== 'string' || o[name] === '')) fail(op, `${name} must be a ${name === 'csv' ? 'file' : 'folder'} path, got ${shown(o[name])}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail(op, 'signal must be an AbortSignal');
  if (o.trackFile !== undefined && (typeof o.trackFile !== 'string' || o.trackFile === '')) fail(op, `trackFile must be a file path, got ${shown(o.trackFile)}`);

  if (o.hooks !== undefined && !Array.isArray(o.hooks)) fail(op, `hooks must be an array of { kind, every }, got ${shown(o.hooks)}`);
  (o.hooks ?? []).forEach((h, i) => {
    if (h === null || typeof h !== 'object' || Array.isArray(h)) fail(op, `hooks must be objects { kind, every }; hooks[${i}] is ${shown(h)}`);
    knownKeys(h, ['kind', 'every'], `hooks[${i}].`, op);
    if (h.kind === undefined) fail(op, `hooks[${i}].kind is required ('parameterStats' or 'gradNorms')`);
    choice(h.kind, ['parameterStats', 'gradNorms'], `hooks[${i}].kind`, op);
    if (h.every === undefined) fail(op, `hooks[${i}].every is required`);
    positiveInteger(h.every, `hooks[${i}].every`, op);
  });

  const distributed = o.distributed;
  if (distributed !== undefined && typeof distributed !== 'boolean') {
    if (object(distributed, 'distributed', op)) knownKeys(distributed, ['syncBatchNorm'], 'distributed.', op);
    boolean(distributed.syncBatchNorm, 'distributed.syncBatchNorm', op);
  }
  const parallel = distributed !== undefined && distributed !== false;
  if (parallel && (o.trackJacobian || o.trackDiagnostics)) fail(op, 'tracking is not available in distributed training');
  if (o.cudaGraph) {
    if (parallel) fail(op, 'cudaGraph does not combine with distributed training');
    if (o.autocast === 'float16') fail(op, 'cudaGraph does not combine with float16 autocast (its loss scaling decides on the host every step): use bfloat16');
  }

  let trackJacobian: Record<string, unknown> | undefined;
  if (object(o.trackJacobian, 'trackJacobian', op)) {
    const t = o.trackJacobian!;
    knownKeys(t, ['input', 'every', 'cut', 'depth', 'stem', 'mode', 'precision', 'method', 'steps', 'cudaGraph', 'rowsPerPass'], 'trackJacobian.', op);
    tensor(t.input, 'trackJacobian.input', op);
    if (t.every === undefined) fail(op, 'trackJacobian.every is required');
    positiveInteger(t.every, 'trackJacobian.every', op);
    const cutList = Array.isArray(t.cut) && t.cut.length > 0 && t.cut.every((c) => typeof c === 'string');
    if (t.cut !== undefined && typeof t.cut !== 'string' && !cutList) fail(op, `trackJacobian.cut must be a module name, 'stem', 'all' or a list of module names, got ${shown(t.cut)}`);
    if (t.stem !== undefined && typeof t.stem !== 'string') fail(op, `trackJacobian.stem must be a module name, got ${shown(t.stem)}`);
    positiveInteger(t.depth, 'trackJacobian.depth', op);
    boolean(t.cudaGraph, 'trackJacobian.cudaGraph', op);
    const { mode, precision, method, steps } = checkSpectrumOptions(t, op, 'trackJacobian.');
    // Checked on the tracking batch now (one eval-mode forward pass), not at the first measurement.
    const cuts = resolveCuts(model, t.input, t.cut ?? 'stem', { depth: t.depth, stem: t.stem }, op, 'trackJacobian.cut');
    trackJacobian = {
      input: handleOf(t.input, op),
      every: t.every,
      cuts: cuts.map((c) => [c.name, c.module]),
      train: mode === 'train',
      float64: precision === 'float64',
      lanczosSteps: method === 'lanczos' ? steps : 0,
      cudaGraph: t.cudaGraph === true,
      rowsPerPass: t.rowsPerPass ?? 0,
    };
  }

  let trackDiagnostics: Record<string, unknown> | undefined;
  if (object(o.trackDiagnostics, 'trackDiagnostics', op)) {
    const t = o.trackDiagnostics!;
    knownKeys(t, ['input', 'labels', 'every', 'mode', 'lossFloor', 'hessianIterations', 'tol'], 'trackDiagnostics.', op);
    tensor(t.input, 'trackDiagnostics.input', op);
    tensor(t.labels, 'trackDiagnostics.labels', op);
    if (t.every === undefined) fail(op, 'trackDiagnostics.every is required');
    positiveInteger(t.every, 'trackDiagnostics.every', op);
    choice(t.mode, ['train', 'eval'], 'trackDiagnostics.mode', op);
    finite(t.lossFloor, 'trackDiagnostics.lossFloor', op);
    nonNegativeInteger(t.hessianIterations, 'trackDiagnostics.hessianIterations', op);
    finite(t.tol, 'trackDiagnostics.tol', op, (v) => v > 0, 'a positive number');
    trackDiagnostics = {
      input: handleOf(t.input, op),
      labels: handleOf(t.labels, op),
      every: t.every,
      train: (t.mode ?? 'train') === 'train',
      lossFloor: t.lossFloor,
      hessianIterations: t.hessianIterations,
      tol: t.tol,
    };
  }

  if (object(o.checkpoint, 'checkpoint', op)) {
    const c = o.checkpoint!;
    knownKeys(c, ['dir', 'every', 'keep'], 'checkpoint.', op);
    if (typeof c.dir !== 'string' || !c.dir) fail(op, 'checkpoint.dir must be a folder path');
    if (c.every === undefined) fail(op, 'checkpoint.every is required');
    positiveInteger(c.every, 'checkpoint.every', op);
    positiveInteger(c.keep, 'checkpoint.keep', op);
  }
  if (o.resume && !o.checkpoint) fail(op, 'resume needs checkpoint.dir');

  return {
    epochs: o.epochs,
    steps: o.steps,
    batchSize: o.batchSize,
    shuffle: o.shuffle,
    seed: o.seed,
    dropLast: o.dropLast,
    loss: o.loss,
    labelSmoothing: o.labelSmoothing,
    schedule: o.schedule,
    scheduleUnit: o.scheduleUnit,
    clipGradNorm: o.clipGradNorm,
    autocast: o.autocast,
    lossScale: o.initialLossScale,
    channelsLast: o.channelsLast,
    cudaGraph: o.cudaGraph,
    progressEvery: o.progressEvery,
    hooks: o.hooks,
    trackJacobian,
    trackDiagnostics,
    trackFile: o.trackFile,
    // The loggers listen to hook events too; only TensorBoard draws weight histograms.
    hookEvents: o.onHook !== undefined || o.tensorboard !== undefined || o.csv !== undefined,
    weightHistograms: o.tensorboard !== undefined,
    dataParallel: parallel,
    syncBatchNorm: typeof distributed === 'object' && distributed.syncBatchNorm === true,
  };
}
