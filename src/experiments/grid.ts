/**
 * `skipnorm reproduce cifar10|cifar100|imagenet`: orig. vs mod. pre-activation ResNets
 * (docs/paper.md, section 3) over learning rates x trials, both variants from the same initial weights
 * in each trial. Each run trains one epoch per fit call (the learning rate set from the schedule
 * before each), keeps a checkpoint inside the epoch and at its end, and appends every step's loss
 * to a JSON-lines file: --resume continues a run from its last checkpoint, without redoing
 * finished runs, epochs or checkpointed steps. The report says which variant ends with the lower
 * loss only where Welch's t-test over the trials supports it (report/statistics.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cifar10, cifar100, defaultThreads, imageFolder, type Dataset } from '../data/dataset';
import * as T from '../data/transforms';
import type { Transform } from '../data/transforms';
import { preactResNet } from '../models/preact-resnet';
import { latestCheckpoint, loadCheckpoint } from '../train/checkpoint';
import { evaluate, fit } from '../train/fit';
import { SGD } from '../train/optim';
import { scheduleFactor, type Schedule } from '../train/schedule';
import { LineAppender } from '../io/line_appender';
import { isAvailable as cudaIsAvailable } from '../cuda';
import { randperm } from '../tensor/creation';
import { Generator, manualSeed } from '../tensor/random';
import { COLORS, lineChart, tableFigure } from '../report/figures';
import { reportHtml, type ReportSection } from '../report/html';
import { ALPHA, formatP, MIN_TRIALS, testOrder } from '../report/statistics';
import { EventWriter } from '../report/tensorboard';
import { describeEnvironment, runEnvironment, type RunEnvironment } from './environment';
import { mean, meanStd, RunFolder, std } from './run-folder';

export type GridExperiment = 'cifar10' | 'cifar100' | 'imagenet';
const VARIANTS = ['orig', 'mod'] as const;

export interface GridOptions {
  experiment: GridExperiment;
  out: string;
  data: string;
  lrs?: number[];
  trials?: number;
  epochs?: number;
  /** Train on this many training images (a seeded subset), and test on at most as many. */
  subset?: number;
  depth?: number;
  batchSize?: number;
  /** ImageNet only: the crop size (default 224; small for CPU runs on tiny folders). */
  imageSize?: number;
  loaderThreads?: number;
  resume?: boolean;
  seed?: number;
  onProgress?: (p: { done: number; total: number; text: string }) => void;
}

interface Recipe {
  depth: number;
  lrs: number[];
  trials: number;
  epochs: number;
  batchSize: number;
  momentum: number;
  weightDecay: number;
  /** Divide the learning rate by 1/gamma at 1/3 and 2/3 of the epochs (every 30 of 90). */
  gamma: number;
  train: Transform[];
  test: Transform[];
  imageSize?: number;
}

const CIFAR_NORM = {
  cifar10: T.normalize([0.4914, 0.4822, 0.4465], [0.247, 0.2435, 0.2616]),
  cifar100: T.normalize([0.5071, 0.4866, 0.4409], [0.2673, 0.2564, 0.2762]),
};

function recipe(o: GridOptions): Recipe {
  if (o.experiment === 'imagenet') {
    const size = o.imageSize ?? 224;
    const norm = T.normalize(T.IMAGENET_MEAN, T.IMAGENET_STD);
    return {
      depth: o.depth ?? 18,
      lrs: o.lrs ?? [0.1],
      trials: o.trials ?? 1,
      epochs: o.epochs ?? 90,
      batchSize: o.batchSize ?? 256,
      momentum: 0.9,
      weightDecay: 1e-4,
      gamma: 0.1,
      train: [T.randomResizedCrop(size), T.horizontalFlip(), norm],
      test: [T.resize(Math.round((size * 256) / 224)), T.centerCrop(size), norm],
      imageSize: size,
    };
  }
  if (o.depth !== undefined && o.depth !== 18) throw new TypeError(`reproduce ${o.experiment}: the CIFAR protocol uses ResNet-18 (--depth applies to imagenet)`);
  if (o.imageSize !== undefined) throw new TypeError(`reproduce ${o.experiment}: --image-size applies to imagenet`);
  const norm = CIFAR_NORM[o.experiment];
  return {
    depth: 18,
    lrs: o.lrs ?? [0.2, 0.1, 0.05, 0.02],
    trials: o.trials ?? 10,
    epochs: o.epochs ?? 90,
    batchSize: o.batchSize ?? 128,
    momentum: 0,
    weightDecay: 0,
    gamma: 0.2,
    train: [T.randomCrop(32, { padding: 4 }), T.horizontalFlip(), norm],
    test: [norm],
  };
}

function schedule(r: Recipe): Schedule {
  const milestones = [...new Set([Math.round(r.epochs / 3), Math.round((2 * r.epochs) / 3)])].filter((m) => m > 0 && m < r.epochs);
  return { kind: 'multistep', milestones, gamma: r.gamma };
}

async function openData(o: GridOptions): Promise<{ train: Dataset; test: Dataset }> {
  if (o.experiment === 'imagenet') {
    return { train: await imageFolder({ root: path.join(o.data, 'train'), onCorrupt: 'skip' }), test: await imageFolder({ root: path.join(o.data, 'val'), onCorrupt: 'skip' }) };
  }
  const open = o.experiment === 'cifar10' ? cifar10 : cifar100;
  return { train: await open({ root: o.data, split: 'train' }), test: await open({ root: o.data, split: 'test' }) };
}

// A seeded subset of n examples (the whole set when n is undefined or not smaller).
function subsetOf(d: Dataset, n: number | undefined, seed: number): Dataset {
  if (n === undefined || n >= d.length) return d;
  const g = new Generator(seed);
  const idx = randperm(d.length, { generator: g }).narrow(0, 0, n);
  g.dispose();
  const s = d.subset(idx);
  idx.dispose();
  return s;
}

interface EpochResult {
  epoch: number;
  lr: number;
  loss: number;
  top1: number;
  seconds: number;
  valLoss?: number;
  valTop1?: number;
  valTop5?: number;
}

interface RunResult {
  lr: number;
  variant: string;
  trial: number;
  epochs: EpochResult[];
  /** Loss at every step. */
  steps: number[];
  test: { loss: number; top1: number; top5: number };
}

export async function reproduceGrid(o: GridOptions): Promise<{ report: string; table: string }> {
  const r = recipe(o);
  const seed = o.seed ?? 0;
  const config = {
    experiment: o.experiment,
    protocol:
      o.experiment === 'imagenet'
        ? 'docs/paper.md, section 3.3 (ImageNet): orig. vs mod. pre-activation ResNet, SGD momentum 0.9, weight decay 1e-4, lr / 10 at 1/3 and 2/3 of the epochs, random resized crop + flip; validation resize + center crop'
        : 'docs/paper.md, section 3.2 (CIFAR): orig. vs mod. pre-activation ResNet-18 from the same initial weights per trial, SGD without momentum or weight decay, lr / 5 at 1/3 and 2/3 of the epochs, random crop 32 (padding 4) + flip + normalisation',
    data: o.data,
    subset: o.subset ?? null,
    depth: r.depth,
    lrs: r.lrs,
    trials: r.trials,
    epochs: r.epochs,
    batchSize: r.batchSize,
    momentum: r.momentum,
    weightDecay: r.weightDecay,
    schedule: schedule(r),
    imageSize: r.imageSize ?? null,
    seed,
  };
  // trainRun puts the model on the first GPU when there is one.
  const environment = runEnvironment(cudaIsAvailable() ? 'cuda:0' : 'cpu', o.loaderThreads ?? defaultThreads());
  const run = RunFolder.open(o.out, config, o.resume ?? false, { environment: { ...environment } });
  const data = await openData(o);
  const train = subsetOf(data.train, o.subset, seed + 1);
  const test = subsetOf(data.test, o.subset, seed + 2);
  const classes = data.train.classes;
  const results: RunResult[] = [];
  const total = r.lrs.length * VARIANTS.length * r.trials * r.epochs;
  let done = 0;
  try {
    for (const lr of r.lrs) {
      for (let trial = 0; trial < r.trials; trial++) {
        for (const variant of VARIANTS) {
          const name = `lr${lr}-${variant}-t${trial}`;
          const file = `results/runs/${name}.json`;
          if (run.has(file)) {
            results.push(run.readJson<RunResult>(file));
            removeRunLeftovers(run, name); // a stop right after the result was written left them
            done += r.epochs;
            continue;
          }
          const result = await trainRun(run, name, { lr, variant, trial, seed, classes, recipe: r, train, test, loaderThreads: o.loaderThreads, imagenet: o.experiment === 'imagenet' }, (epoch, text) =>
            o.onProgress?.({ done: done + epoch, total, text: `lr ${lr} ${variant} trial ${trial + 1}/${r.trials}: ${text}` }),
          );
          await writeEvents(run, result);
          run.writeJson(file, result);
          removeRunLeftovers(run, name); // only now that the result is written

          results.push(result);
          done += r.epochs;
        }
      }
    }
  } finally {
    for (const d of new Set([train, test, data.train, data.test])) d.dispose();
  }
  const table = writeGridReport(run, results, config, r);
  return { report: run.path('report.html'), table };
}

// What a resume of a run needs (its partial record, step losses, checkpoints), once its result is written.
function removeRunLeftovers(run: RunFolder, name: string): void {
  fs.rmSync(run.path('results', 'runs', `${name}.partial.json`), { force: true });
  fs.rmSync(run.path('results', 'runs', `${name}.steps.jsonl`), { force: true });
  fs.rmSync(run.path('checkpoints', name), { recursive: true, force: true });
}

interface RunSpec {
  lr: number;
  variant: string;
  trial: number;
  seed: number;
  classes: number;
  recipe: Recipe;
  train: Dataset;
  test: Dataset;
  loaderThreads?: number;
  imagenet: boolean;
}

async function trainRun(run: RunFolder, name: string, s: RunSpec, progress: (epoch: number, text: string) => void): Promise<RunResult> {
  const r = s.recipe;
  const build = (shortcut: 'orig' | 'mod') => preactResNet({ depth: r.depth as 18, shortcut, classes: s.classes, input: s.imagenet ? 'imagenet' : 'cifar' });
  // The same initial weights for both variants: orig's, built from the trial's seed.
  manualSeed(s.seed * 1000 + s.trial);
  const reference = build('orig');
  const model = s.variant === 'orig' ? reference : build('mod');
  if (model !== reference) {
    const initial = reference.stateDict();
    model.loadStateDict(initial);
    Object.values(initial).forEach((t) => t.dispose());
    reference.dispose();
  }
  // On a GPU when there is one (the loader's batches follow the model there).
  if (cudaIsAvailable()) model.to('cuda:0');
  const optimizer = new SGD(model, { lr: s.lr, momentum: r.momentum, weightDecay: r.weightDecay });
  const stateFile = `results/runs/${name}.partial.json`;
  const stepsFile = run.path('results', 'runs', `${name}.steps.jsonl`);
  fs.mkdirSync(run.path('results', 'runs'), { recursive: true });
  const epochs: EpochResult[] = run.has(stateFile) ? run.readJson<{ epochs: EpochResult[] }>(stateFile).epochs : [];
  try {
    // Resume: the weights at the end of the last finished epoch.
    if (epochs.length > 0) {
      const last = latestCheckpoint(run.path('checkpoints', name, `epoch-${epochs.length - 1}`));
      if (!last) throw new Error(`cannot resume ${name}: the checkpoint of epoch ${epochs.length - 1} is missing`);
      loadCheckpoint(last, model, optimizer);
    }
    // One fit call per epoch (no drop-last): steps 1..perEpoch in each.
    const perEpoch = Math.ceil(s.train.length / r.batchSize);
    const every = Math.max(1, Math.floor(perEpoch / 4));
    // Step losses are appended off the event loop; each epoch's are on disk before it is recorded.
    const stepLog = new LineAppender(stepsFile);
    for (let epoch = epochs.length; epoch < r.epochs; epoch++) {
      const lr = s.lr * scheduleFactor(schedule(r), epoch);
      optimizer.lr = lr;
      // The epoch's totals come back with the result, its batches from before a resume counted,
      // even when the run resumes at the epoch's last checkpoint and trains no step.
      const { lastEpoch } = await fit(model, s.train, {
        optimizer,
        epochs: 1,
        batchSize: r.batchSize,
        transforms: r.train,
        loaderThreads: s.loaderThreads,
        seed: s.seed * 1_000_000 + s.trial * 1000 + epoch,
        checkpoint: { dir: run.path('checkpoints', name, `epoch-${epoch}`), every, keep: 1 },
        resume: true,
        onStep: (e) => {
          stepLog.push(JSON.stringify({ epoch, step: e.step, loss: e.loss }));
          progress(epoch, `epoch ${epoch + 1}/${r.epochs} step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)}`);
        },
      });
      await stepLog.flush();
      if (!lastEpoch || !lastEpoch.complete) throw new Error(`${name}: epoch ${epoch} ended without all of its batches (${JSON.stringify(lastEpoch)})`);
      const result: EpochResult = { epoch, lr, loss: lastEpoch.loss, top1: lastEpoch.top1, seconds: lastEpoch.seconds };
      const epochLoss = result.loss;
      const epochTop1 = result.top1;
      if (s.imagenet) {
        const v = await evaluate(model, s.test, { batchSize: r.batchSize, transforms: r.test, loaderThreads: s.loaderThreads });
        Object.assign(result, { valLoss: v.loss, valTop1: v.top1, valTop5: v.top5 });
      }
      epochs.push(result);
      run.writeJson(stateFile, { epochs });
      if (epoch > 0) fs.rmSync(run.path('checkpoints', name, `epoch-${epoch - 1}`), { recursive: true, force: true });
      progress(epoch + 1, `epoch ${epoch + 1}/${r.epochs} loss ${epochLoss.toFixed(4)} accuracy ${epochTop1.toFixed(3)}`);
    }
    const testResult = await evaluate(model, s.test, { batchSize: r.batchSize, transforms: r.test, loaderThreads: s.loaderThreads });
    // Step losses by global step: the last record of each wins (a resumed epoch repeats some).
    const steps: number[] = [];
    for (const line of fs.existsSync(stepsFile) ? fs.readFileSync(stepsFile, 'utf8').split('\n') : []) {
      if (!line.trim()) continue;
      try {
        const x = JSON.parse(line) as { epoch: number; step: number; loss: number };
        steps[x.epoch * perEpoch + x.step - 1] = x.loss;
      } catch {
        // a line cut by an interruption
      }
    }
    return { lr: s.lr, variant: s.variant, trial: s.trial, epochs, steps, test: { loss: testResult.loss, top1: testResult.top1, top5: testResult.top5 } };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

async function writeEvents(run: RunFolder, r: RunResult): Promise<void> {
  // One event file per run: a rerun after an interruption replaces it rather than adding another.
  const w = new EventWriter(run.emptyFolder('tensorboard', `lr-${r.lr}`, r.variant, `trial-${r.trial}`));
  try {
    r.steps.forEach((loss, i) => w.scalar('train/loss', i + 1, loss));
    for (const e of r.epochs) {
      w.scalar('epoch/train_loss', e.epoch, e.loss);
      w.scalar('epoch/train_accuracy', e.epoch, e.top1);
      w.scalar('epoch/learning_rate', e.epoch, e.lr);
      if (e.valLoss !== undefined) {
        w.scalar('epoch/val_loss', e.epoch, e.valLoss);
        w.scalar('epoch/val_top1', e.epoch, e.valTop1!);
        w.scalar('epoch/val_top5', e.epoch, e.valTop5!);
      }
    }
    w.scalar('test/accuracy', r.epochs.length, r.test.top1);
  } finally {
    await w.close();
  }
}

function writeGridReport(run: RunFolder, results: RunResult[], config: { experiment: string; epochs: number; trials: number; lrs: number[] }, r: Recipe): string {
  run.writeCsv(
    'results/epochs.csv',
    ['lr', 'variant', 'trial', 'epoch', 'epoch_lr', 'train_loss', 'train_accuracy', 'val_loss', 'val_top1', 'val_top5'],
    results.flatMap((x) => x.epochs.map((e) => [x.lr, x.variant, x.trial, e.epoch, e.lr, e.loss, e.top1, e.valLoss ?? '', e.valTop1 ?? '', e.valTop5 ?? ''])),
  );
  run.writeCsv('results/steps.csv', ['lr', 'variant', 'trial', 'step', 'loss'], results.flatMap((x) => x.steps.map((l, i) => [x.lr, x.variant, x.trial, i + 1, l])));
  const header = ['lr', 'variant', `final-epoch training loss (mean ± std, ${config.trials} trials)`, 'final training accuracy', 'test accuracy'];
  const rows: string[][] = [];
  const figures: { svg: string; png: string; caption: string }[] = [];
  const summary: Record<string, unknown>[] = [];
  const comparisons: Record<string, unknown>[] = [];
  const findings: string[] = [];
  for (const lr of r.lrs) {
    const curves = VARIANTS.map((v, i) => {
      const rs = results.filter((x) => x.lr === lr && x.variant === v);
      const perEpoch = Array.from({ length: r.epochs }, (_, e) => rs.map((x) => x.epochs[e].loss));
      const final = rs.map((x) => x.epochs[x.epochs.length - 1].loss);
      rows.push([String(lr), v, meanStd(final), meanStd(rs.map((x) => x.epochs[x.epochs.length - 1].top1), 3), meanStd(rs.map((x) => x.test.top1), 3)]);
      summary.push({ lr, variant: v, finalLoss: { mean: mean(final), std: std(final) }, testAccuracy: mean(rs.map((x) => x.test.top1)) });
      return { label: v === 'orig' ? 'orig.' : 'mod.', x: perEpoch.map((_, e) => e + 1), mean: perEpoch.map(mean), std: perEpoch.map(std), color: COLORS[i + 1], final: mean(final), finals: final };
    });
    const [orig, mod] = curves;
    // The paper predicts orig. > mod. in the final training loss; one pair, tested two-sided.
    const test = testOrder([
      { label: 'orig.', values: orig.finals },
      { label: 'mod.', values: mod.finals },
    ]);
    comparisons.push({ lr, measure: 'final-epoch training loss', prediction: 'orig. > mod.', ...test });
    const means = `mod. ${mod.final.toFixed(4)}, orig. ${orig.final.toFixed(4)}`;
    const p = test.pairs[0];
    findings.push(
      test.verdict === 'not enough trials'
        ? `lr ${lr}: not enough trials to tell which variant ends with the lower training loss (${test.trials} per variant; the test needs at least ${MIN_TRIALS}): means ${means}.`
        : test.verdict === 'supported'
          ? `lr ${lr}: mod. ends with a lower training loss than orig., as the paper predicts (means ${means}; p ${formatP(p.p)}).`
          : test.verdict === 'contradicted'
            ? `lr ${lr}: orig. ends with a lower training loss than mod., against the paper's prediction (means ${means}; p ${formatP(p.p)}).`
            : `lr ${lr}: no significant difference between mod. and orig. in the final training loss (means ${means}; p ${formatP(p.p)}).`,
    );
    figures.push({
      ...run.writeFigure(`loss-lr${lr}`, lineChart(curves, { xLabel: 'epoch', yLabel: 'training loss', title: `lr ${lr}: training loss per epoch (band: ±1 std over trials)`, logY: true })),
      caption: `Training loss per epoch at lr ${lr}, orig. vs mod. (log scale)`,
    });
  }
  figures.push({ ...run.writeFigure('final-loss-table', tableFigure(header, rows, 'Final-epoch training loss and accuracy')), caption: 'The table as a figure' });
  run.writeJson('results/summary.json', summary);
  run.writeJson('results/comparisons.json', comparisons);
  const environment = run.config.environment as RunEnvironment | undefined;
  const resumedWith = (run.config.resumedWith as RunEnvironment[] | undefined) ?? [];
  const sections: ReportSection[] = [
    {
      heading: 'Findings',
      paragraphs: [
        ...findings,
        `Which variant ends lower is stated only where a two-sided Welch's t-test of the trials' final-epoch training losses (α = ${ALPHA}) finds a significant difference; with fewer than ${MIN_TRIALS} trials per variant none is stated.`,
      ],
    },
    {
      heading: 'Environment',
      paragraphs: [environment ? `Computed with ${describeEnvironment(environment)}` : 'The environment this run was started with was not recorded.', ...resumedWith.map((e) => `Resumed with ${describeEnvironment(e)}`)],
    },
    { heading: 'Final losses', table: { header, rows } },
    { heading: 'Figures', figures },
    {
      heading: 'Files',
      paragraphs: [
        'results/runs/*.json: per (lr, variant, trial), every step\'s loss, every epoch\'s loss, accuracy and learning rate, and the test result.',
        'results/epochs.csv, results/steps.csv, results/summary.json: the same, flattened and summarised; results/comparisons.json: the tests behind the findings.',
        'tensorboard/: event files (tensorboard --logdir tensorboard).',
      ],
    },
  ];
  run.writeText('report.html', reportHtml(`skipnorm: the ${config.experiment} experiment (${config.epochs} epochs, ${config.trials} trials, lr ${config.lrs.join(', ')})`, sections, run.config));
  const width = header.map((h, c) => Math.max(h.length, ...rows.map((x) => x[c].length)));
  return [header, ...rows].map((row) => row.map((cell, c) => cell.padEnd(width[c])).join('  ')).join('\n');
}
