/**
 * `skipnorm reproduce mnist|cifar10|cifar100|imagenet`: the paper's experiments, each into a run
 * folder (config.json, results, TensorBoard event files, figures, report.html); --resume goes on
 * with an interrupted run. Prints where the report is at the end.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { reproduceGrid, type GridExperiment } from '../experiments/grid';
import { reproduceMnist } from '../experiments/mnist';
import { UsageError } from './model-flags';
import { Progress } from './progress';

const OPTIONS = {
  trials: { type: 'string' },
  steps: { type: 'string' },
  epochs: { type: 'string' },
  lrs: { type: 'string' },
  subset: { type: 'string' },
  depth: { type: 'string' },
  'batch-size': { type: 'string' },
  'image-size': { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string', default: '0' },
  threads: { type: 'string' },
  resume: { type: 'boolean', default: false },
} as const;

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got '${value}'`);
  return n;
}

export async function runReproduce(args: string[]): Promise<number> {
  const [experiment, ...rest] = args;
  const experiments = ['mnist', 'cifar10', 'cifar100', 'imagenet'];
  if (!experiments.includes(experiment)) throw new UsageError(`reproduce: expected one of ${experiments.join(', ')}, got '${experiment ?? ''}'`);
  const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
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
    process.stderr.write(`reproduce mnist: BNNet a/b/c, ${values.trials ?? 10} trials of ${values.steps ?? 30} full-batch steps, exact spectrum every step -> ${out}\n`);
    const r = await reproduceMnist({ out, trials: positiveInt(values.trials, '--trials'), steps: positiveInt(values.steps, '--steps'), data: values.data, resume: values.resume, seed, onProgress });
    report = r.report;
    for (const v of r.summary.variants) {
      process.stdout.write(`(${v.variant}) share of singular values below 0.5: ${v.shareBelow.toFixed(3)}   loss after ${v.lossAfter.step} steps: ${v.lossAfter.mean.toFixed(4)} ± ${v.lossAfter.std.toFixed(4)}\n`);
    }
    if (!r.summary.orderHolds.spectra || !r.summary.orderHolds.loss) process.stdout.write("note: the paper's order (a) > (b) > (c) does not hold for every measure here; the report says which\n");
  } else {
    if (values.steps !== undefined) throw new UsageError(`--steps does not apply to reproduce ${experiment} (use --epochs)`);
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
