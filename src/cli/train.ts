/**
 * `skipnorm train <model flags> --data FILE.safetensors [--weights INIT] (--epochs E | --steps S)
 *   (--batch-size B | --full-batch) --lr LR [--momentum M] [--weight-decay W] [--nesterov]
 *   [--optimizer sgd|adam|adamw] [--schedule SPEC] [--schedule-unit epoch|step] [--label-smoothing X]
 *   [--clip-grad-norm X] --seed S [--checkpoint-dir D [--checkpoint-every N] [--keep N]] [--resume]
 *   [--out FINAL.safetensors] [--json] [--device auto|cpu|cuda|cuda:N] [--val-data FILE [--val-every N]]
 *   [--tensorboard DIR] [--csv FILE] [--track-jacobian CUTS [--every N] [--track-examples N] [--track-file F]]
 *   [--nproc N [--sync-bn] [--nnodes M --node-rank R --master-addr A --master-port P]]`
 * With --nproc, N worker processes train data-parallel over c10d (src/cli/launch.ts): Gloo on the
 * CPU, NCCL on GPUs (one per process); the batch (or the full batch) is split evenly over all
 * ranks; rank 0 writes checkpoints and --out.
 * The data file holds `input` (float32) and `labels` (int64). Schedules: constant, step:SIZE:GAMMA,
 * multistep:M1,M2:GAMMA, cosine:TMAX[:MIN_RATIO], warmup:STEPS[:START], or several joined by '+'
 * (multiplied, e.g. warmup:5+cosine:90).
 */
import { availableParallelism } from 'node:os';
import { setNumThreads } from '../info';
import { deviceCount, isAvailable as cudaAvailable } from '../cuda';
import type { Tensor } from '../tensor/tensor';
import type { Device } from '../tensor/device';
import { dispose } from '../core/memory';
import { checkWritable, readSafetensors } from '../io/safetensors';
import { hasArchitecture, save } from '../io/model_file';
import { manualSeed } from '../tensor/random';
import { fit } from '../train/fit';
import { Adam, AdamW, SGD, type Optimizer } from '../train/optim';
import type { Schedule } from '../train/schedule';
import { defineCommand, parseCommand } from './command-spec';
import { MODEL_FLAGS_WITH_WEIGHTS, MODEL_RETIRED, modelFromFlags, modelSpecFromFlags, UsageError } from './model-flags';
import { launch, workerEnv } from './launch';
import { Progress } from './progress';
import { destroy as distributedDestroy, init as distributedInit } from '../distributed';

function number(value: string | undefined, flag: string, fallback?: number, min = 0): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`--${flag} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${flag} must be a number >= ${min}, got '${value}'`);
  return n;
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got '${value}'`);
  return n;
}

export function parseSchedule(spec: string): Schedule {
  const parts = spec.split('+').map((part): Schedule => {
    const [kind, ...args] = part.split(':');
    const num = (i: number, name: string, fallback?: number) => {
      if (args[i] === undefined && fallback !== undefined) return fallback;
      const n = Number(args[i]);
      if (args[i] === undefined || !Number.isFinite(n)) throw new UsageError(`--schedule ${part}: ${name} must be a number`);
      return n;
    };
    switch (kind) {
      case 'constant':
        return { kind: 'constant' };
      case 'step':
        return { kind: 'step', stepSize: num(0, 'the step size'), gamma: num(1, 'gamma', 0.1) };
      case 'multistep': {
        const milestones = (args[0] ?? '').split(',').filter((m) => m !== '').map(Number);
        if (!milestones.length || !milestones.every((m) => Number.isInteger(m) && m >= 0)) throw new UsageError(`--schedule ${part}: milestones must be integers, e.g. multistep:30,60:0.2`);
        return { kind: 'multistep', milestones, gamma: num(1, 'gamma', 0.1) };
      }
      case 'cosine':
        return { kind: 'cosine', tMax: num(0, 'tMax'), minRatio: num(1, 'the minimum ratio', 0) };
      case 'warmup':
        return { kind: 'warmup', steps: num(0, 'the warm-up length'), startFactor: num(1, 'the start factor', 1 / 3) };
      default:
        throw new UsageError(`--schedule: unknown schedule '${kind}': expected constant, step, multistep, cosine or warmup`);
    }
  });
  return parts.length === 1 ? parts[0] : { kind: 'chain', parts };
}

/**
 * --device: auto (CUDA when available, else the CPU), cpu, cuda or cuda:N. A launched worker on
 * 'cuda' takes its machine's GPU number (rank mod processes per machine), one GPU per process.
 */
function trainingDevice(flag: string | undefined, worker: ReturnType<typeof workerEnv>): Device {
  const value = flag ?? 'auto';
  if (!/^(auto|cpu|cuda(:\d+)?)$/.test(value)) throw new UsageError(`--device must be auto, cpu, cuda or cuda:N, got '${value}'`);
  if (value === 'cpu' || (value === 'auto' && !cudaAvailable())) return 'cpu';
  if (!cudaAvailable()) throw new UsageError(`--device ${value}: CUDA is not available here (a CPU build of skipnorm, or no GPU)`);
  const index = value.startsWith('cuda:') ? Number(value.slice(5)) : worker ? worker.rank % Math.max(1, worker.localSize) : 0;
  if (index >= deviceCount()) throw new UsageError(`--device: cuda:${index} does not exist (${deviceCount()} GPU(s) visible)`);
  return `cuda:${index}`;
}

// The data file's tensors on the training device (the CPU copies are freed).
function onDevice(tensors: Record<string, Tensor>, device: Device): Record<string, Tensor> {
  if (device === 'cpu') return tensors;
  const moved = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, t.to(device)]));
  dispose(tensors);
  return moved;
}

/**
 * train's flags, one entry each: the table both parses the arguments and prints `train --help`.
 * A new flag is one more entry here (type, value name, default, group, one line of help), then
 * read as `values['its-name']` in runTrain.
 */
export const TRAIN_FLAGS = {
  ...MODEL_FLAGS_WITH_WEIGHTS,
  data: { type: 'string', value: 'FILE.safetensors', group: 'Data', help: "the tensors 'input' (float32 [N, C, H, W]) and 'labels' (int64 [N]) (required; skipnorm data export writes them)" },
  'val-data': { type: 'string', value: 'FILE.safetensors', group: 'Data', help: "held-out 'input' and 'labels', evaluated in eval mode at each epoch's end (or every --val-every steps)" },
  'val-every': { type: 'string', value: 'N', group: 'Data', help: 'with --val-data: validate every N steps (and after the last) instead of at epoch ends' },
  weights: { type: 'string', value: 'INIT', group: 'Data', help: 'initial weights (default: the initialisation for --seed); a file that records its model needs no model flags' },
  epochs: { type: 'string', value: 'E', group: 'Length and batches', help: 'passes over the data (this or --steps)' },
  steps: { type: 'string', value: 'S', group: 'Length and batches', help: 'optimiser steps (this or --epochs)' },
  'batch-size': { type: 'string', value: 'B', group: 'Length and batches', help: 'examples per step, shuffled each epoch (this or --full-batch)' },
  'full-batch': { type: 'boolean', default: false, group: 'Length and batches', help: 'every example in every step' },
  seed: { type: 'string', value: 'S', default: '0', group: 'Length and batches', help: 'seeds the initialisation and the data order' },
  lr: { type: 'string', value: 'LR', group: 'Optimiser', help: 'learning rate (required)' },
  optimizer: { type: 'string', choices: ['sgd', 'adam', 'adamw'], default: 'sgd', group: 'Optimiser', help: 'the optimiser, with PyTorch\'s update rules' },
  momentum: { type: 'string', value: 'M', group: 'Optimiser', help: 'sgd: momentum (default 0)' },
  nesterov: { type: 'boolean', default: false, group: 'Optimiser', help: 'sgd: Nesterov momentum' },
  'weight-decay': { type: 'string', value: 'W', group: 'Optimiser', help: 'L2 penalty (adamw: decoupled decay)' },
  'label-smoothing': { type: 'string', value: 'X', group: 'Optimiser', help: 'cross-entropy label smoothing in [0, 1)' },
  'clip-grad-norm': { type: 'string', value: 'X', group: 'Optimiser', help: "clip the gradients' total norm to X before each step" },
  schedule: {
    type: 'string',
    value: 'SPEC',
    group: 'Optimiser',
    help: 'constant, step:SIZE:GAMMA, multistep:M1,M2:GAMMA, cosine:TMAX[:MIN_RATIO], warmup:STEPS[:START], or several joined by + (multiplied)',
  },
  'schedule-unit': { type: 'string', choices: ['epoch', 'step'], default: 'epoch', group: 'Optimiser', help: 'what the schedule counts' },
  'checkpoint-dir': { type: 'string', value: 'D', group: 'Checkpoints and output', help: 'write checkpoints (all a bit-for-bit --resume needs) into D' },
  'checkpoint-every': { type: 'string', value: 'N', group: 'Checkpoints and output', help: 'steps between checkpoints (default 100)' },
  keep: { type: 'string', value: 'N', group: 'Checkpoints and output', help: 'keep only the last N checkpoints (default all)' },
  resume: { type: 'boolean', default: false, group: 'Checkpoints and output', help: "go on from --checkpoint-dir's last checkpoint (the same settings)" },
  out: { type: 'string', value: 'FINAL.safetensors', group: 'Checkpoints and output', help: 'the trained weights, with the model recorded (--weights FILE alone rebuilds it)' },
  json: { type: 'boolean', default: false, group: 'Checkpoints and output', help: 'print the summary as JSON' },
  tensorboard: { type: 'string', value: 'DIR', group: 'Watching', help: 'TensorBoard event files: losses, accuracies, lr, validation, tracked spectra, weight histograms' },
  csv: { type: 'string', value: 'FILE', group: 'Watching', help: 'a CSV row per reported step, epoch and validation' },
  'track-jacobian': { type: 'string', value: 'stem|all|NAME[,NAME..]', group: 'Watching', help: 'measure the Jacobian spectrum at these cuts (step 0 too) on the first --track-examples examples' },
  every: { type: 'string', value: 'N', default: '100', group: 'Watching', help: 'with --track-jacobian: steps between measurements' },
  'track-examples': { type: 'string', value: 'N', default: '32', group: 'Watching', help: 'with --track-jacobian: examples of the probe batch (from --val-data when given, else --data)' },
  'track-file': { type: 'string', value: 'FILE', group: 'Watching', help: 'append every tracked spectrum as a JSON line to FILE' },
  device: { type: 'string', value: 'auto|cpu|cuda|cuda:N', default: 'auto', group: 'Devices and processes', help: 'where to train: auto is CUDA when available, else the CPU' },
  nproc: { type: 'string', value: 'N', group: 'Devices and processes', help: 'data-parallel over N processes on this machine (Gloo on the CPU, NCCL on GPUs, one each)' },
  'sync-bn': { type: 'boolean', default: false, group: 'Devices and processes', help: "with --nproc: batch norm's statistics over every process's batch" },
  nnodes: { type: 'string', value: 'M', group: 'Devices and processes', help: 'machines taking part, each running the same command with its --node-rank (default 1)' },
  'node-rank': { type: 'string', value: 'R', group: 'Devices and processes', help: "this machine's number, 0..M-1 (default 0)" },
  'master-addr': { type: 'string', value: 'A', group: 'Devices and processes', help: 'the address of machine 0 (default 127.0.0.1)' },
  'master-port': { type: 'string', value: 'P', group: 'Devices and processes', help: 'a free port on machine 0 (default 29500)' },
} as const;

export const TRAIN = defineCommand({
  name: 'train',
  summary: "Trains a model on the tensors 'input' and 'labels' of a safetensors file, in C++ off the event loop.",
  usage: [
    'train [model flags] --data FILE.safetensors (--epochs E | --steps S) (--batch-size B | --full-batch) --lr LR [options]',
    'train ... --nproc N [--sync-bn] [--nnodes M --node-rank R --master-addr A --master-port P]',
  ],
  notes: 'Progress goes to stderr (a bar on a terminal, plain lines otherwise), the summary to stdout. With --nproc, the batch is split over the processes; rank 0 writes checkpoints and --out.',
  flags: TRAIN_FLAGS,
  retired: MODEL_RETIRED,
});

function checkDataFile(tensors: Record<string, Tensor>, file: string): void {
  if (!tensors.input || !tensors.labels) throw new UsageError(`${file} must hold tensors 'input' and 'labels' (it has: ${Object.keys(tensors).join(', ') || 'none'})`);
  if (tensors.labels.dtype !== 'int64') throw new UsageError(`${file}: 'labels' must be int64 class indices, not ${tensors.labels.dtype}`);
}

export async function runTrain(args: string[]): Promise<number> {
  const values = parseCommand(TRAIN, args);
  if (!values) return 0;
  // No model flags: the --weights file records its model.
  const spec = values.model === undefined && values.weights !== undefined && hasArchitecture(values.weights) ? null : modelSpecFromFlags(values);
  if (!values.data) throw new UsageError('--data FILE.safetensors is required (tensors `input` and `labels`)');
  const epochs = integer(values.epochs, 'epochs');
  const steps = integer(values.steps, 'steps');
  if ((epochs === undefined) === (steps === undefined)) throw new UsageError('give exactly one of --epochs and --steps');
  const batchSize = integer(values['batch-size'], 'batch-size');
  if ((batchSize === undefined) === !values['full-batch']) throw new UsageError('give exactly one of --batch-size and --full-batch');
  const lr = number(values.lr, 'lr');
  const seed = number(values.seed, 'seed');
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be a non-negative integer, got '${values.seed}'`);
  const unit = values['schedule-unit'];
  if (unit !== 'epoch' && unit !== 'step') throw new UsageError(`--schedule-unit must be epoch or step, got '${unit}'`);
  if (values.resume && !values['checkpoint-dir']) throw new UsageError('--resume needs --checkpoint-dir');
  const validateEvery = integer(values['val-every'], 'val-every');
  if (validateEvery !== undefined && !values['val-data']) throw new UsageError('--val-every needs --val-data');
  const trackEvery = integer(values.every, 'every')!;
  const trackExamples = integer(values['track-examples'], 'track-examples')!;
  const cuts = values['track-jacobian']?.split(',').filter((c) => c !== '');
  if (values['track-jacobian'] !== undefined && !cuts?.length) throw new UsageError('--track-jacobian needs a cut: stem, all or module names separated by commas');
  if (values['track-file'] !== undefined && !cuts) throw new UsageError('--track-file needs --track-jacobian');
  const schedule = values.schedule ? parseSchedule(values.schedule) : undefined;
  const worker = workerEnv();
  const launching = !worker && (values.nproc !== undefined || values.nnodes !== undefined);
  if (values['sync-bn'] && !worker && !launching) throw new UsageError('--sync-bn needs --nproc');
  if (launching) return launch(values, ['train', ...args]);
  // The weights must be writable when training ends: find out before it starts.
  if (values.out && (!worker || worker.rank === 0)) checkWritable(values.out, 'train --out');
  const device = trainingDevice(values.device, worker);
  // Workers on one machine share its cores.
  if (worker) setNumThreads(Math.max(1, Math.floor(availableParallelism() / Math.max(1, worker.localSize))));
  // GPUs talk over NCCL, CPUs over Gloo (as torchrun users choose).
  if (worker) await distributedInit({ rank: worker.rank, worldSize: worker.worldSize, masterAddr: worker.masterAddr, masterPort: worker.masterPort, backend: device === 'cpu' ? 'gloo' : 'nccl' });
  const leader = !worker || worker.rank === 0;

  manualSeed(seed);
  const { model } = await modelFromFlags(values, values.weights);
  const file = onDevice(readSafetensors(values.data).tensors, device);
  let held: Record<string, Tensor> = {};
  let probe: Tensor | undefined;
  let optimizer: Optimizer | undefined;
  try {
    checkDataFile(file, values.data);
    if (values['val-data']) {
      held = onDevice(readSafetensors(values['val-data']).tensors, device);
      checkDataFile(held, values['val-data']);
    }
    if (cuts) {
      const source = held.input ?? file.input;
      probe = source.slice(0, 0, Math.min(trackExamples, source.shape[0]));
    }
    model.to(device);
    const weightDecay = values['weight-decay'] === undefined ? undefined : number(values['weight-decay'], 'weight-decay');
    switch (values.optimizer) {
      case 'sgd':
        optimizer = new SGD(model, { lr, momentum: number(values.momentum, 'momentum', 0), weightDecay, nesterov: values.nesterov });
        break;
      case 'adam':
        optimizer = new Adam(model, { lr, weightDecay });
        break;
      case 'adamw':
        optimizer = new AdamW(model, { lr, weightDecay });
        break;
      default:
        throw new UsageError(`--optimizer must be sgd, adam or adamw, got '${values.optimizer}'`);
    }
    const progress = new Progress();
    const epochLines: string[] = [];
    const result = await fit(model, { input: file.input, labels: file.labels }, {
      optimizer,
      epochs,
      steps,
      batchSize,
      seed,
      schedule,
      scheduleUnit: unit,
      labelSmoothing: values['label-smoothing'] === undefined ? undefined : number(values['label-smoothing'], 'label-smoothing'),
      clipGradNorm: values['clip-grad-norm'] === undefined ? undefined : number(values['clip-grad-norm'], 'clip-grad-norm'),
      checkpoint: values['checkpoint-dir'] ? { dir: values['checkpoint-dir'], every: integer(values['checkpoint-every'], 'checkpoint-every') ?? 100, keep: integer(values.keep, 'keep') } : undefined,
      resume: values.resume,
      distributed: worker ? { syncBatchNorm: values['sync-bn'] } : undefined,
      validationData: held.input ? { input: held.input, labels: held.labels } : undefined,
      validateEvery,
      trackJacobian: probe ? { input: probe, every: trackEvery, cut: cuts!.length === 1 ? cuts![0] : cuts } : undefined,
      trackFile: values['track-file'],
      tensorboard: leader ? values.tensorboard : undefined,
      csv: leader ? values.csv : undefined,
      onStep: (e) =>
        progress.update({ done: e.step, total: e.totalSteps, eta: e.eta, text: `epoch ${e.epoch}  loss ${e.loss.toFixed(4)}  top1 ${(100 * e.top1).toFixed(1)}%  lr ${e.lr.toPrecision(3)}  ${e.examplesPerSecond.toFixed(0)} ex/s` }),
      onEpoch: (e) => epochLines.push(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, top-1 ${(100 * e.top1).toFixed(2)}%, top-5 ${(100 * e.top5).toFixed(2)}%, ${e.seconds.toFixed(1)} s`),
      onValidation: held.input === undefined ? undefined : (e) => epochLines.push(`validation after step ${e.step}: loss ${e.loss.toFixed(4)}, top-1 ${(100 * e.top1).toFixed(2)}%, top-5 ${(100 * e.top5).toFixed(2)}%`),
    });
    if (!leader) return 0; // rank 0 writes the weights and the summary
    if (values.out) {
      // With the architecture, so that `--weights FILE` alone rebuilds the model.
      save(model, values.out, { steps: String(result.steps), written_by: 'skipnorm train' });
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...result, model: spec, out: values.out ?? null })}\n`);
    } else {
      const lines = [...epochLines.slice(-5), `trained ${result.steps - result.resumedFrom} steps${result.resumedFrom ? ` (resumed at step ${result.resumedFrom})` : ''} in ${result.seconds.toFixed(1)} s; last epoch loss ${result.lastEpochLoss.toFixed(4)}`];
      if (values.out) lines.push(`weights written to ${values.out}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    dispose(file);
    dispose(held);
    probe?.dispose();
    optimizer?.dispose();
    model.dispose();
    if (worker) distributedDestroy();
  }
}
