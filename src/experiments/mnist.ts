/**
 * `skipnorm reproduce mnist`: the paper's direct measurement (docs/paper.md, section 3.1). In each trial,
 * 32 training images picked at random (pixels in [0, 1], no normalisation), BNNet variants a, b
 * and c from the same initial weights, full-batch gradient descent (SGD, lr 0.1, no momentum),
 * and the exact Jacobian spectrum at the stem (all 320 singular values, batch norm in train mode)
 * before every update. A finished (trial, variant) is saved at once, so --resume redoes at most
 * the one that was interrupted (about ten seconds of work). Options follow the authors' released
 * code more closely where our default differs: `images: 'once'` (one draw of the 32 images for all
 * trials, as their mnist.py) and `histogram: 'paper'` (also their plots.py's histogram of the
 * averaged spectrum). The report states an order between variants only where Welch's t-test over
 * the trials supports it (report/statistics.ts).
 */
import { scope } from '../core/memory';
import { mnist as mnistIdx, type Dataset } from '../data/dataset';
import { digits } from '../data/digits';
import * as models from '../models/index';
import { fit } from '../train/fit';
import { SGD } from '../train/optim';
import { fromTypedArray, randperm } from '../tensor/creation';
import { Generator, manualSeed } from '../tensor/random';
import type { Tensor } from '../tensor/tensor';
import { COLORS, histogramPanels, lineChart, tableFigure } from '../report/figures';
import { averagedOrderStatistics, binValues } from '../report/histogram';
import { reportHtml, type ReportSection } from '../report/html';
import { ALPHA, formatP, MIN_TRIALS, testOrder, type OrderTest, type OrderVerdict } from '../report/statistics';
import { EventWriter, histogramOf } from '../report/tensorboard';
import { describeEnvironment, runEnvironment, type RunEnvironment } from './environment';
import { mean, meanStd, RunFolder, std } from './run-folder';

export interface MnistOptions {
  out: string;
  trials?: number;
  steps?: number;
  /** A folder of MNIST idx files; default: the bundled digits. */
  data?: string;
  resume?: boolean;
  seed?: number;
  /**
   * 'default': per variant, a histogram of all singular values pooled over trials and the first
   * 10 steps (shares of values). 'paper': that, and also what the authors' plots.py draws: the
   * averaged order statistics (each spectrum sorted, the k-th largest averaged over trials and
   * the first 10 steps) in a histogram of counts; the averaged values go to
   * results/paper-histogram.json.
   */
  histogram?: 'default' | 'paper';
  /**
   * 'per-trial' (default): each trial draws its own 32 training images. 'once': one draw for all
   * trials, as the authors' released mnist.py does (trials then differ only in initial weights).
   */
  images?: 'per-trial' | 'once';
  onProgress?: (p: { done: number; total: number; text: string }) => void;
}

const VARIANTS = ['a', 'b', 'c'] as const;
const VARIANT_NAMES = { a: '(a) no skips', b: '(b) identity + projection', c: '(c) identity + identity-like' };
const BINS = 32;
const RANGE: [number, number] = [0, 6];
const HIST_STEPS = 10; // histograms average the first 10 steps, as the paper's figure
const LOSS_STEPS = 20; // the loss is compared after 20 steps
const THRESHOLD = 0.5;

interface TrialResult {
  trial: number;
  variant: string;
  /** Loss at each step, computed before that step's update. */
  losses: number[];
  accuracy: number[];
  /** spectra[s]: the 320 singular values before update s + 1 (the last: after training). */
  spectra: number[][];
}

export interface MnistSummary {
  variants: { variant: string; shareBelow: number; lossAfter: { mean: number; std: number; step: number }; finalLoss: { mean: number; std: number } }[];
  /**
   * Whether the trials bear out the paper's order (a) > (b) > (c), for the share of singular
   * values below 0.5 (per trial, over the first 10 steps) and for the loss after `lossAfter.step`
   * steps: 'supported' only when two-sided Welch's t-tests of (a) vs (b) and (b) vs (c) are both
   * significant at 0.05 in the predicted direction; 'contradicted' when one is significant the
   * other way; 'not significant' otherwise; 'not enough trials' below 3 trials per variant.
   */
  orderHolds: { spectra: OrderVerdict; loss: OrderVerdict };
  /** The tests behind orderHolds (t, degrees of freedom and p of each adjacent pair). */
  tests: { spectra: OrderTest; loss: OrderTest };
  /** Which protocol options the run used. */
  protocol: { histogram: 'default' | 'paper'; images: 'per-trial' | 'once' };
}

async function trainingImages(options: MnistOptions): Promise<Dataset> {
  return options.data ? mnistIdx({ root: options.data, split: 'train' }) : digits({ split: 'train' });
}

// 32 images of the trial, as float32 [32, 1, 28, 28] in [0, 1], and their labels.
function trialBatch(dataset: Dataset, seed: number) {
  return scope(() => {
    const g = new Generator(seed);
    const order = Array.from(randperm(dataset.length, { generator: g }).narrow(0, 0, 32).dataSync() as BigInt64Array, Number);
    g.dispose();
    const pixels = new Uint8Array(32 * 784);
    const labels = new BigInt64Array(32);
    order.forEach((index, k) => {
      const { image, label } = dataset.get(index);
      if (image.shape.join() !== '28,28,1') throw new Error(`reproduce mnist: expected 28x28 grey images, got ${image.shape.join('x')}`);
      pixels.set(image.dataSync() as Uint8Array, k * 784);
      labels[k] = BigInt(label);
      image.dispose();
    });
    return { input: fromTypedArray(pixels, [32, 1, 28, 28]).float().div(255), labels: fromTypedArray(labels, [32]) };
  });
}

async function runTrial(input: { input: Tensor; labels: Tensor }, variant: string, initial: Record<string, Tensor>, steps: number, lr: number, trial: number): Promise<TrialResult> {
  const model = models.bnnet({ variant: variant as 'a' });
  model.loadStateDict(initial);
  const optimizer = new SGD(model, { lr });
  try {
    // fit's tracking gives the spectrum at step 0 (before the first update) and after each step.
    const spectra: number[][] = [];
    const losses: number[] = [];
    const accuracy: number[] = [];
    await fit(model, input, {
      optimizer,
      steps,
      trackJacobian: { input: input.input, every: 1 },
      onStep: (e) => {
        losses.push(e.loss);
        accuracy.push(e.top1);
      },
      onHook: (e) => {
        if (e.name === 'jacobianSpectrum') spectra[e.step] = Array.from(e.values);
      },
    });
    // filter skips the holes a missing step would leave.
    const recorded = spectra.filter(Boolean).length;
    if (spectra.length !== steps + 1 || recorded !== steps + 1) throw new Error(`reproduce mnist: expected the spectrum at steps 0 to ${steps}, got ${recorded} of them`);
    return { trial, variant, losses, accuracy, spectra: spectra.map((s) => s.map((v) => Number(v.toPrecision(7)))) };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

async function writeEvents(run: RunFolder, r: TrialResult, lr: number): Promise<void> {
  // One event file per trial: a rerun after an interruption replaces it rather than adding another.
  const w = new EventWriter(run.emptyFolder('tensorboard', `variant-${r.variant}`, `trial-${r.trial}`));
  try {
    r.losses.forEach((loss, s) => {
      const sv = r.spectra[s];
      w.scalar('train/loss', s, loss);
      w.scalar('train/accuracy', s, r.accuracy[s]);
      w.scalar('train/learning_rate', s, lr);
      w.scalar('spectrum/sigma_min', s, sv[sv.length - 1]);
      w.scalar('spectrum/sigma_max', s, sv[0]);
      w.scalar('spectrum/condition_number', s, sv[0] / sv[sv.length - 1]);
      w.histogram('spectrum/singular_values', s, histogramOf(sv, RANGE[0], RANGE[1], BINS));
    });
  } finally {
    await w.close();
  }
}

export async function reproduceMnist(options: MnistOptions): Promise<{ report: string; summary: MnistSummary }> {
  const trials = options.trials ?? 10;
  const steps = options.steps ?? 30;
  const seed = options.seed ?? 0;
  const lr = 0.1;
  if (!Number.isInteger(trials) || trials < 1) throw new TypeError('reproduce mnist: trials must be a positive integer');
  if (!Number.isInteger(steps) || steps < 1) throw new TypeError('reproduce mnist: steps must be a positive integer');
  const histogram = options.histogram ?? 'default';
  const images = options.images ?? 'per-trial';
  if (histogram !== 'default' && histogram !== 'paper') throw new TypeError(`reproduce mnist: histogram must be 'default' or 'paper', got ${JSON.stringify(options.histogram)}`);
  if (images !== 'per-trial' && images !== 'once') throw new TypeError(`reproduce mnist: images must be 'per-trial' or 'once', got ${JSON.stringify(options.images)}`);
  const config = {
    experiment: 'mnist',
    protocol: 'docs/paper.md, section 3.1: BNNet a/b/c from the same initial weights per trial, 32 random training images in [0, 1], full-batch SGD, exact Jacobian spectrum at the stem before every update',
    trials,
    steps,
    lr,
    images: 32,
    seed,
    data: options.data ?? 'bundled digits (the train split of sn.data.digits())',
    imagesDrawn: images,
    histogram,
  };
  // Run folders from before these options existed used what are now the defaults.
  const assumed = { imagesDrawn: 'per-trial', histogram: 'default' };
  // The models train on the CPU (the 320 x 23040 Jacobians are small).
  const run = RunFolder.open(options.out, config, options.resume ?? false, { environment: { ...runEnvironment('cpu') }, assumed });
  const dataset = await trainingImages(options);
  const results: TrialResult[] = [];
  const total = trials * VARIANTS.length;
  let shared: ReturnType<typeof trialBatch> | null = null;
  try {
    // One draw for all trials ('once'; the seed of trial 0, so its images are the same either way).
    if (images === 'once') shared = trialBatch(dataset, seed * 1000);
    for (let t = 0; t < trials; t++) {
      const batch = shared ?? trialBatch(dataset, seed * 1000 + t);
      manualSeed(seed * 1000 + t);
      const reference = models.bnnet({ variant: 'a' });
      const initial = reference.stateDict();
      reference.dispose();
      try {
        for (const v of VARIANTS) {
          const name = `results/trials/trial-${t}-${v}.json`;
          let r: TrialResult;
          if (run.has(name)) {
            r = run.readJson<TrialResult>(name);
          } else {
            r = await runTrial(batch, v, initial, steps, lr, t);
            await writeEvents(run, r, lr);
            run.writeJson(name, r);
          }
          results.push(r);
          options.onProgress?.({ done: results.length, total, text: `trial ${t + 1}/${trials} variant ${v}: loss ${r.losses[0].toFixed(3)} -> ${r.losses[r.losses.length - 1].toFixed(3)}` });
        }
      } finally {
        Object.values(initial).forEach((x) => x.dispose());
        if (batch !== shared) {
          batch.input.dispose();
          batch.labels.dispose();
        }
      }
    }
  } finally {
    shared?.input.dispose();
    shared?.labels.dispose();
    dataset.dispose();
  }
  const summary = writeMnistReport(run, results, config);
  return { report: run.path('report.html'), summary };
}

// The paper's prediction, for both measures: (a) highest, then (b), then (c).
const ORDER = '(a) > (b) > (c)';
const TEST_NAME = `two-sided Welch's t-test of each adjacent pair, α = ${ALPHA}, trials as independent samples`;

// A sentence on what the trials say about the predicted order of `what`; `means` lists the values.
function orderFinding(test: OrderTest, what: string, means: string): string {
  if (test.verdict === 'not enough trials') {
    return `Not enough trials to tell how ${what} orders the variants (${test.trials} per variant; the test needs at least ${MIN_TRIALS}): means ${means}.`;
  }
  const pairs = test.pairs
    .map((p) => {
      if (p.outcome === 'as predicted') return `${p.higher} > ${p.lower} (p ${formatP(p.p)})`;
      if (p.outcome === 'opposite') return `${p.higher} < ${p.lower} (p ${formatP(p.p)})`;
      return `${p.higher} vs ${p.lower}: no significant difference (p ${formatP(p.p)})`;
    })
    .join('; ');
  if (test.verdict === 'supported') return `As the paper predicts, ${what} is ordered ${ORDER}: means ${means}; ${pairs} (${TEST_NAME}).`;
  if (test.verdict === 'contradicted') return `The paper's predicted order ${ORDER} does NOT hold here for ${what}: means ${means}; ${pairs} (${TEST_NAME}).`;
  return `The trials do not support the paper's predicted order for ${what}: means ${means}; ${pairs} (${TEST_NAME}).`;
}

/** A line for the CLI when the trials do not bear out the paper's order, else null. */
export function orderNote(summary: MnistSummary): string | null {
  const measures = (v: OrderVerdict) => [summary.orderHolds.spectra === v ? 'the share of singular values below 0.5' : null, summary.orderHolds.loss === v ? 'the loss' : null].filter(Boolean).join(' and ');
  const verdicts = [summary.orderHolds.spectra, summary.orderHolds.loss];
  if (verdicts.includes('contradicted')) return `note: the paper's order ${ORDER} does not hold here for ${measures('contradicted')} (Welch's t-test, α = ${ALPHA}); the report says which pair`;
  if (verdicts.includes('not enough trials')) return `note: not enough trials to tell whether the paper's order ${ORDER} holds (a test needs at least ${MIN_TRIALS} trials per variant); the report gives the means`;
  if (verdicts.includes('not significant')) return `note: the trials do not support the paper's order ${ORDER} for ${measures('not significant')} (Welch's t-test, α = ${ALPHA}); the report gives the p-values`;
  return null;
}

const FIGURE_WIDTH = 1060; // the report's text width, so that figures fill it without scaling

function writeMnistReport(run: RunFolder, results: TrialResult[], config: { trials: number; steps: number; lr: number; imagesDrawn: 'per-trial' | 'once'; histogram: 'default' | 'paper' }): MnistSummary {
  const steps = config.steps;
  const histSteps = Math.min(HIST_STEPS, steps);
  const lossStep = Math.min(LOSS_STEPS, steps);
  const byVariant = (v: string) => results.filter((r) => r.variant === v);
  const below = (values: number[]) => values.filter((x) => x < THRESHOLD).length / values.length;

  // Raw results as CSV.
  run.writeCsv('results/loss.csv', ['trial', 'variant', 'step', 'loss', 'accuracy'], results.flatMap((r) => r.losses.map((l, s) => [r.trial, r.variant, s + 1, l, r.accuracy[s]])));
  run.writeCsv(
    'results/spectra-summary.csv',
    ['trial', 'variant', 'step', 'sigma_min', 'sigma_max', 'condition_number', `share_below_${THRESHOLD}`],
    results.flatMap((r) => r.spectra.map((sv, s) => [r.trial, r.variant, s, sv[sv.length - 1], sv[0], sv[0] / sv[sv.length - 1], below(sv)])),
  );
  // The per-trial values that the tests compare.
  run.writeCsv(
    'results/per-trial.csv',
    ['trial', 'variant', `share_below_${THRESHOLD}_first_${histSteps}_steps`, `loss_after_${lossStep}_steps`],
    results.map((r) => [r.trial, r.variant, below(r.spectra.slice(0, histSteps).flat()), r.losses[lossStep - 1]]),
  );

  const rows = VARIANTS.map((v) => {
    const rs = byVariant(v);
    const early = rs.flatMap((r) => r.spectra.slice(0, histSteps).flat());
    const binned = binValues(early, RANGE[0], RANGE[1], BINS);
    const lossAt = rs.map((r) => r.losses[lossStep - 1]);
    const finalLoss = rs.map((r) => r.losses[r.losses.length - 1]);
    return {
      variant: v,
      label: `(${v})`,
      density: binned.counts.map((c) => c / binned.total),
      outside: binned.overflow / binned.total,
      shareBelow: below(early),
      // Every trial contributes as many values, so the pooled share is the mean of these.
      sharePerTrial: rs.map((r) => below(r.spectra.slice(0, histSteps).flat())),
      lossAt,
      lossAfter: { mean: mean(lossAt), std: std(lossAt), step: lossStep },
      finalLoss: { mean: mean(finalLoss), std: std(finalLoss) },
      sigmaMin: mean(rs.map((r) => r.spectra[0][r.spectra[0].length - 1])),
      curve: Array.from({ length: lossStep }, (_, s) => rs.map((r) => r.losses[s])),
      // plots.py: each spectrum sorted, the k-th largest averaged over trials and the first steps.
      averaged: config.histogram === 'paper' ? averagedOrderStatistics(rs.flatMap((r) => r.spectra.slice(0, histSteps))) : null,
    };
  });
  const tests = {
    spectra: testOrder(rows.map((r) => ({ label: r.label, values: r.sharePerTrial }))),
    loss: testOrder(rows.map((r) => ({ label: r.label, values: r.lossAt }))),
  };
  const orderHolds = { spectra: tests.spectra.verdict, loss: tests.loss.verdict };
  const summary: MnistSummary = {
    variants: rows.map(({ variant, shareBelow, lossAfter, finalLoss }) => ({ variant, shareBelow, lossAfter, finalLoss })),
    orderHolds,
    tests,
    protocol: { histogram: config.histogram, images: config.imagesDrawn },
  };
  run.writeJson('results/summary.json', summary);

  const hist = run.writeFigure(
    'spectra-histogram',
    histogramPanels(
      rows.map((r, i) => ({ title: VARIANT_NAMES[r.variant as 'a'], values: r.density, overflow: r.outside, color: COLORS[i] })),
      { lo: RANGE[0], hi: RANGE[1], xLabel: 'singular value', yLabel: 'share of singular values', title: `Jacobian spectrum at the stem, ${config.trials} trials x first ${histSteps} steps (${BINS} bins on [0, 6], hatched: > 6)`, width: FIGURE_WIDTH },
    ),
  );
  const paperFigures: { svg: string; png: string; caption: string }[] = [];
  const paperFindings: string[] = [];
  if (config.histogram === 'paper') {
    const paper = rows.map((r) => ({ variant: r.variant, averagedOrderStatistics: r.averaged!, ...binValues(r.averaged!, RANGE[0], RANGE[1], BINS) }));
    run.writeJson('results/paper-histogram.json', {
      description: `Per variant: the ${paper[0].averagedOrderStatistics.length} averaged order statistics (each spectrum sorted in descending order, the k-th largest averaged over ${config.trials} trials x the first ${histSteps} steps) and their counts in ${BINS} bins on [${RANGE[0]}, ${RANGE[1]}], values above ${RANGE[1]} in overflow`,
      range: RANGE,
      bins: BINS,
      trials: config.trials,
      steps: histSteps,
      variants: paper,
    });
    paperFigures.push({
      ...run.writeFigure(
        'spectra-histogram-paper',
        histogramPanels(
          paper.map((p, i) => ({ title: VARIANT_NAMES[p.variant as 'a'], values: p.counts, overflow: p.overflow, color: COLORS[i] })),
          { lo: RANGE[0], hi: RANGE[1], xLabel: 'averaged singular value', yLabel: 'count', title: `Average spectrum (plots.py): k-th largest σ averaged over ${config.trials} trials x first ${histSteps} steps (${BINS} bins on [0, 6], hatched: > 6)`, width: FIGURE_WIDTH },
        ),
      ),
      caption: `As the authors' plots.py draws it: each spectrum sorted, the k-th largest value averaged over trials and the first ${histSteps} steps, and the ${paper[0].averagedOrderStatistics.length} averaged values counted per bin`,
    });
    paperFindings.push(
      paper.some((p) => p.overflow > 0)
        ? `In the average spectrum (plots.py), averaged values above 6 are counted in the hatched "> 6" bar: ${paper.map((p) => `(${p.variant}) ${p.overflow}`).join(', ')} of ${paper[0].total}.`
        : 'In the average spectrum (plots.py), no averaged value lies above 6 (the hatched "> 6" bars are empty).',
    );
  }
  const loss = run.writeFigure(
    'loss',
    lineChart(
      rows.map((r, i) => ({ label: VARIANT_NAMES[r.variant as 'a'], x: r.curve.map((_, s) => s + 1), mean: r.curve.map(mean), std: r.curve.map(std), color: COLORS[i] })),
      { xLabel: 'step', yLabel: 'training loss', title: `Mean training loss over ${config.trials} trials (band: ±1 std)`, logY: true, width: FIGURE_WIDTH },
    ),
  );
  // A run no longer than the comparison step has one loss column: the two would coincide.
  const shortRun = lossStep === steps;
  const header = ['variant', `share of σ < ${THRESHOLD} (first ${histSteps} steps)`, ...(shortRun ? [`loss after ${steps} steps (final)`] : [`loss after ${lossStep} steps`, `loss after ${steps} steps (final)`]), 'smallest σ at step 0 (mean)'];
  const tableRows = rows.map((r) => [
    VARIANT_NAMES[r.variant as 'a'],
    r.shareBelow.toFixed(3),
    meanStd(r.lossAt),
    ...(shortRun ? [] : [`${r.finalLoss.mean.toFixed(4)} ± ${r.finalLoss.std.toFixed(4)}`]),
    r.sigmaMin.toExponential(2),
  ]);
  const table = run.writeFigure('final-loss-table', tableFigure(header, tableRows, 'Per variant: spectral mass near zero and training loss (mean ± std over trials)'));

  const findings = [
    orderFinding(tests.spectra, `the share of singular values below ${THRESHOLD}`, rows.map((r) => `(${r.variant}) ${r.shareBelow.toFixed(3)}`).join(', ')),
    orderFinding(tests.loss, `the loss after ${lossStep} steps`, rows.map((r) => `(${r.variant}) ${r.lossAfter.mean.toFixed(4)}`).join(', ')),
    rows.some((r) => r.outside > 0)
      ? `Values above 6 are drawn in the hatched "> 6" bar at the right of each histogram: ${rows.map((r) => `(${r.variant}) ${(100 * r.outside).toFixed(1)}%`).join(', ')} of all values.`
      : 'No singular value lies above 6 (the hatched "> 6" bars are empty).',
    ...paperFindings,
  ];
  const environment = run.config.environment as RunEnvironment | undefined;
  const resumedWith = (run.config.resumedWith as RunEnvironment[] | undefined) ?? [];
  const protocol = [
    config.imagesDrawn === 'once'
      ? 'Training images: one draw of 32 images for all trials, as the authors\' released mnist.py (trials differ in their initial weights only).'
      : 'Training images: each trial draws its own 32 images (trials differ in images and initial weights).',
    config.histogram === 'paper'
      ? `Histograms: all singular values pooled over trials and the first ${histSteps} steps (shares), and, as the authors' plots.py, the averaged order statistics (counts).`
      : `Histograms: all singular values pooled over trials and the first ${histSteps} steps (shares of values).`,
    `Statistics: an order between variants is stated only where Welch's t-test supports it (two-sided, for each adjacent pair, α = ${ALPHA}), each trial giving one value per variant (its share of singular values below ${THRESHOLD} over the first ${histSteps} steps, or its loss after ${lossStep} steps); with fewer than ${MIN_TRIALS} trials per variant no order is stated.`,
    environment ? `Computed with ${describeEnvironment(environment)}` : 'The environment this run was started with was not recorded.',
    ...resumedWith.map((e) => `Resumed with ${describeEnvironment(e)}`),
  ];
  const sections: ReportSection[] = [
    { heading: 'Findings', paragraphs: findings },
    { heading: 'Protocol and environment', paragraphs: protocol },
    { heading: 'Singular values of the later-layer Jacobian', figures: [{ ...hist, caption: 'Histogram of all 320 singular values at the stem, pooled over trials and the first steps, per variant; the hatched bar counts the values above 6' }, ...paperFigures] },
    { heading: 'Training loss', figures: [{ ...loss, caption: 'Mean full-batch training loss per step (log scale), ±1 std over trials' }] },
    { heading: 'Table', table: { header, rows: tableRows }, figures: [{ ...table, caption: 'The same table as a figure' }] },
    {
      heading: 'Files',
      paragraphs: [
        'results/trials/*.json: per trial and variant, the loss and accuracy at every step and all 320 singular values before every update.',
        'results/loss.csv, results/spectra-summary.csv, results/per-trial.csv, results/summary.json: the same, flattened and summarised; per-trial.csv holds the values the tests compare, summary.json the tests.',
        ...(config.histogram === 'paper' ? ['results/paper-histogram.json: the averaged order statistics per variant and their counts.'] : []),
        'tensorboard/: event files (scalars: loss, accuracy, learning rate, smallest and largest singular value, condition number; histograms of the spectra): tensorboard --logdir tensorboard',
      ],
    },
  ];
  run.writeText('report.html', reportHtml(`skipnorm: the MNIST experiment (${config.trials} trials, ${steps} steps)`, sections, run.config));
  return summary;
}
