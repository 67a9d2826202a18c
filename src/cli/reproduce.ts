/**
 * `skipnorm reproduce mnist|cifar10|cifar100|imagenet`: the paper's experiments, each into a run
 * folder (config.json, results, TensorBoard event files, figures, report.html); --resume goes on
 * with an interrupted run. Prints where the report is at the end.
 */
import * as path from 'node:path';
import { reproduceGrid, type GridExperiment } from '../experiments/grid';
import { orderNote, reproduceMnist } from '../experiments/mnist';
import { defineCommand, helpText, parseCommand, UsageError } from './command-spec';
import { Progress } from './progress';

export const REPRODUCE = defineCommand({
  name: 'reproduce',
  summary: "The paper's experiments, each into a run folder with results, TensorBoard files, figures and report.html.",
  usage: [
    'reproduce mnist [--trials T] [--steps S] [--data DIR] [--histogram default|paper] [--images per-trial|once] [--out RUN_DIR] [--resume]',
    'reproduce cifar10|cifar100 --data DIR [--lrs 0.2,0.1] [--trials T] [--epochs E] [--subset N] [--out RUN_DIR] [--resume]',
    'reproduce imagenet --data DIR [--depth 18|34|50|101|152] [--image-size S] [--batch-size B] [--epochs E] [--out RUN_DIR] [--resume]',
  ],
  notes: 'mnist: BNNet a/b/c on 32 images (default: the bundled digits). cifar10, cifar100, imagenet: orig. vs mod. pre-activation ResNets. Prints where the report is at the end.',
  flags: {
    trials: { type: 'string', value: 'T', help: 'trials per setting (default 10; imagenet 1)' },
    steps: { type: 'string', value: 'S', help: 'mnist: full-batch steps per trial (default 30)' },
    epochs: { type: 'string', value: 'E', help: 'cifar10, cifar100, imagenet: epochs per run (default 90)' },
    lrs: { type: 'string', value: 'LR,LR..', help: 'cifar10, cifar100, imagenet: learning rates (default 0.2,0.1,0.05,0.02; imagenet 0.1)' },
    subset: { type: 'string', value: 'N', help: 'cifar10, cifar100, imagenet: train on N images (a seeded subset), test on at most as many' },
    depth: { type: 'string', value: 'D', help: 'imagenet: the ResNet depth, 18, 34, 50, 101 or 152 (default 18)' },
    'batch-size': { type: 'string', value: 'B', help: 'cifar10, cifar100, imagenet: batch size (default 128; imagenet 256)' },
    'image-size': { type: 'string', value: 'S', help: 'imagenet: training crop size (default 224)' },
    data: { type: 'string', value: 'DIR', help: 'mnist: MNIST idx files (default the bundled digits); cifar: the binary batches; imagenet: train/ and val/ image folders' },
    histogram: {
      type: 'string',
      choices: ['default', 'paper'],
      help: "mnist: --histogram paper: also draw the authors' plot (spectrum averaged over trials and the first 10 steps as order statistics, counts)",
    },
    images: { type: 'string', choices: ['per-trial', 'once'], help: "mnist: --images once: the 32 images drawn once for all trials, as the authors' mnist.py (default per-trial)" },
    out: { type: 'string', value: 'RUN_DIR', help: 'the run folder (default runs/<experiment>)' },
    seed: { type: 'string', value: 'S', default: '0', help: 'seeds the trials (initial weights, images, data order)' },
    threads: { type: 'string', value: 'N', help: 'cifar10, cifar100, imagenet: data loading threads (default the cores, at most 8)' },
    resume: { type: 'boolean', default: false, help: 'go on with an interrupted run in RUN_DIR (finished trials are reused)' },
  },
});

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

export async function runReproduce(args: string[]): Promise<number> {
  const [experiment, ...rest] = args;
  const experiments = ['mnist', 'cifar10', 'cifar100', 'imagenet'];
  // --help before the experiment: the same help as after it.
  if (experiment === '--help' || experiment === '-h') {
    process.stdout.write(helpText(REPRODUCE));
    return 0;
  }
  if (!experiments.includes(experiment)) throw new UsageError(`reproduce: expected one of ${experiments.join(', ')}, got '${experiment ?? ''}'`);
  const values = parseCommand(REPRODUCE, rest);
  if (!values) return 0;
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got '${values.seed}'`);
  const out = path.resolve(values.out ?? path.join('runs', experiment));
  const progress = new Progress();
  const onProgress = (p: { done: number; total: number; text: string }) => progress.update(p);
  let report: string;
  if (experiment === 'mnist') {
    for (const flag of ['epochs', 'lrs', 'subset', 'depth', 'batch-size', 'image-size'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to reproduce mnist`);
    }
    const histogram = values.histogram ?? 'default';
    if (histogram !== 'default' && histogram !== 'paper') throw new UsageError(`--histogram must be default or paper, got '${histogram}'`);
    const images = values.images ?? 'per-trial';
    if (images !== 'per-trial' && images !== 'once') throw new UsageError(`--images must be per-trial or once, got '${images}'`);
    process.stderr.write(`reproduce mnist: BNNet a/b/c, ${values.trials ?? 10} trials of ${values.steps ?? 30} full-batch steps, exact spectrum every step -> ${out}\n`);
    const r = await reproduceMnist({ out, trials: positiveInt(values.trials, '--trials'), steps: positiveInt(values.steps, '--steps'), data: values.data, resume: values.resume, seed, histogram, images, onProgress });
    report = r.report;
    for (const v of r.summary.variants) {
      process.stdout.write(`(${v.variant}) share of singular values below 0.5: ${v.shareBelow.toFixed(3)}   loss after ${v.lossAfter.step} steps: ${v.lossAfter.mean.toFixed(4)} ± ${v.lossAfter.std.toFixed(4)}\n`);
    }
    const note = orderNote(r.summary);
    if (note) process.stdout.write(`${note}\n`);
  } else {
    if (values.steps !== undefined) throw new UsageError(`--steps does not apply to reproduce ${experiment} (use --epochs)`);
    for (const flag of ['histogram', 'images'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} applies to reproduce mnist only`);
    }
    if (!values.data) throw new UsageError(`--data DIR is required for reproduce ${experiment} (${experiment === 'imagenet' ? 'a folder with train/ and val/ image folders' : 'the binary CIFAR batches'})`);
    const lrs = values.lrs?.split(',').map(Number);
    if (lrs && !lrs.every((v) => Number.isFinite(v) && v > 0)) throw new UsageError(`--lrs must be positive numbers separated by commas, got '${values.lrs}'`);
    const r = await reproduceGrid({
      experiment: experiment as GridExperiment,
      out,
      data: values.data,
      lrs,
      trials: positiveInt(values.trials, '--trials'),
      epochs: positiveInt(values.epochs, '--epochs'),
      subset: positiveInt(values.subset, '--subset'),
      depth: positiveInt(values.depth, '--depth'),
      batchSize: positiveInt(values['batch-size'], '--batch-size'),
      imageSize: positiveInt(values['image-size'], '--image-size'),
      loaderThreads: positiveInt(values.threads, '--threads'),
      resume: values.resume,
      seed,
      onProgress,
    });
    report = r.report;
    process.stdout.write(`${r.table}\n`);
  }
  process.stdout.write(`report: ${report}\n`);
  return 0;
}
