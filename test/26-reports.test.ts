/**
 * What the reports claim: Welch's t-test and the Student-t distribution against mpmath
 * (test/golden/statistics.json, scripts/golden/statistics.py); orders between variants stated only
 * where the test supports them; histograms that draw values beyond their range in an overflow bar;
 * loss charts that use their width; the environment in config.json and the report; and the MNIST
 * fidelity options (the authors' average spectrum, checked by an independent Python computation
 * from the run's raw results; one draw of images for all trials), recorded so that a resume with
 * other settings is refused.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { reproduceGrid } from '../src/experiments/grid';
import { orderNote, reproduceMnist, type MnistSummary } from '../src/experiments/mnist';
import { RunFolder } from '../src/experiments/run-folder';
import { histogramPanels, lineChart } from '../src/report/figures';
import { averagedOrderStatistics, binValues } from '../src/report/histogram';
import { regularizedIncompleteBeta, studentTCdf, testOrder, welchTTest, type Alternative } from '../src/report/statistics';
import * as sn from '../src/index';
import { pythonWith, readGolden } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skipnorm-reports-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const root = path.resolve(__dirname, '..');
const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'lib', 'cli', 'main.js'), ...args], { cwd: root, encoding: 'utf8' });
const oracle = pythonWith('mpmath');
const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

// The paragraphs of a report, as text.
const paragraphs = (html: string) => [...html.matchAll(/<p>([\s\S]*?)<\/p>/g)].map((m) => m[1].replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&'));

interface StatisticsGolden {
  welch: { name: string; a: number[]; b: number[]; t: number; df: number; p: Record<Alternative, number>; meanA: number; meanB: number }[];
  studentT: { t: number; df: number; cdf: number }[];
  beta: { x: number; a: number; b: number; value: number }[];
}

describe("Welch's t-test (against mpmath)", () => {
  const golden = readGolden<StatisticsGolden>('statistics.json');

  it('t, the Welch-Satterthwaite degrees of freedom and p for each alternative match', () => {
    expect(golden.welch.length).toBeGreaterThanOrEqual(5);
    for (const c of golden.welch) {
      for (const alternative of ['two-sided', 'greater', 'less'] as const) {
        const r = welchTTest(c.a, c.b, alternative);
        expect(relative(r.t, c.t), `${c.name}: t`).toBeLessThan(1e-12);
        expect(relative(r.df, c.df), `${c.name}: df`).toBeLessThan(1e-12);
        // p down to 1e-22: relative error, so that tiny p-values are checked too.
        expect(relative(r.p, c.p[alternative]), `${c.name}: p (${alternative}) ${r.p} vs ${c.p[alternative]}`).toBeLessThan(1e-9);
        expect(relative(r.meanA, c.meanA)).toBeLessThan(1e-14);
        expect(relative(r.meanB, c.meanB)).toBeLessThan(1e-14);
      }
    }
  });

  it('the Student-t distribution function and the regularised incomplete beta match', () => {
    for (const c of golden.studentT) expect(relative(studentTCdf(c.t, c.df), c.cdf), `t ${c.t}, df ${c.df}`).toBeLessThan(1e-11);
    for (const c of golden.beta) expect(relative(regularizedIncompleteBeta(c.x, c.a, c.b), c.value), `I_${c.x}(${c.a}, ${c.b})`).toBeLessThan(1e-11);
  });

  it('constant samples: equal means give p = 1, different ones p = 0', () => {
    expect(welchTTest([0, 0, 0], [0, 0, 0]).p).toBe(1);
    const r = welchTTest([1, 1, 1], [0, 0, 0], 'greater');
    expect([r.t, r.p]).toEqual([Infinity, 0]);
    expect(welchTTest([1, 1, 1], [0, 0, 0], 'less').p).toBe(1);
  });

  it('bad input is a TypeError that names what is wrong', () => {
    expect(() => welchTTest([1], [1, 2])).toThrow(TypeError);
    expect(() => welchTTest([1], [1, 2])).toThrow(/a needs at least 2 values/);
    expect(() => welchTTest([1, 2], [1, NaN])).toThrow(/b must hold finite numbers/);
    expect(() => welchTTest([1, 2], [1, 3], 'bigger' as Alternative)).toThrow(/alternative must be/);
    expect(() => testOrder([{ label: 'x', values: [1, 2, 3] }])).toThrow(/at least 2/);
  });
});

describe('orders between variants', () => {
  const high = [3.1, 3.3, 2.9, 3.2];
  const mid = [2.0, 2.2, 1.9, 2.1];
  const low = [1.0, 0.9, 1.2, 1.1];

  it('are supported only when every adjacent pair differs significantly in the predicted direction', () => {
    const g = (values: number[][]) => values.map((v, i) => ({ label: `(${'abc'[i]})`, values: v }));
    const supported = testOrder(g([high, mid, low]));
    expect(supported.verdict).toBe('supported');
    expect(supported.pairs.map((p) => [p.higher, p.lower, p.outcome])).toEqual([
      ['(a)', '(b)', 'as predicted'],
      ['(b)', '(c)', 'as predicted'],
    ]);
    expect(supported.pairs[0].p).toBe(welchTTest(high, mid).p);
    expect(testOrder(g([high, low, mid])).verdict).toBe('contradicted');
    expect(testOrder(g([high, [1.0, 3.0, 2.0, 2.4], low])).verdict).toBe('not significant');
    // Fewer than 3 trials in any group: no test, no order.
    const few = testOrder(g([high, mid, low.slice(0, 2)]));
    expect(few).toMatchObject({ verdict: 'not enough trials', pairs: [], trials: 2 });
  });

  it('the CLI note follows the same verdicts', () => {
    const summary = (spectra: MnistSummary['orderHolds']['spectra'], loss: MnistSummary['orderHolds']['loss']) => ({ orderHolds: { spectra, loss } }) as MnistSummary;
    expect(orderNote(summary('supported', 'supported'))).toBeNull();
    expect(orderNote(summary('supported', 'contradicted'))).toMatch(/does not hold here for the loss \(Welch's t-test/);
    expect(orderNote(summary('not enough trials', 'not enough trials'))).toMatch(/not enough trials to tell/);
    expect(orderNote(summary('not significant', 'supported'))).toMatch(/do not support .* for the share of singular values below 0.5 \(/);
  });
});

describe('figures', () => {
  it('binValues keeps the values outside the range apart instead of dropping or clamping them', () => {
    const b = binValues([-1, 0, 0.1, 2.99, 3, 6, 6.5, 100], 0, 6, 2);
    expect(b).toEqual({ counts: [3, 2], underflow: 1, overflow: 2, total: 8 });
    expect(() => binValues([1], 0, 6, 0)).toThrow(/bins must be a positive integer/);
    expect(averagedOrderStatistics([[1, 3, 2], [6, 4, 5]])).toEqual([4.5, 3.5, 2.5]);
  });

  it('a histogram draws its overflow as a distinct bar labelled "> hi", on the shared y scale', () => {
    const svg = histogramPanels([{ title: 'x', values: [0.1, 0.2, 0.3], overflow: 0.4, color: '#123456' }], { lo: 0, hi: 6, xLabel: 'v', yLabel: 'share' });
    const bars = [...svg.matchAll(/<rect (class="outside" )?x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="(#123456|url\(#hatch-0\))"/g)];
    const outside = bars.filter((m) => m[1]);
    expect(outside).toHaveLength(1);
    expect(svg).toMatch(/fill="url\(#hatch-0\)"/);
    expect(svg).toContain('>&gt; 6</text>');
    // Heights are in proportion to the values: the overflow bar is 4/3 the tallest bin's.
    const inside = bars.filter((m) => !m[1]).map((m) => Number(m[3]));
    expect(Number(outside[0][3]) / Math.max(...inside)).toBeCloseTo(4 / 3, 2);
    // Without overflow, no such bar.
    expect(histogramPanels([{ title: 'x', values: [1, 2], color: '#123456' }], { lo: 0, hi: 6, xLabel: 'v', yLabel: 'n' })).not.toMatch(/class="outside"/);
  });

  it('a line chart fills the width it is given, leaving the legend only what its labels need', () => {
    const series = [{ label: '(c) identity + identity-like', x: [1, 2, 3], mean: [2, 1.5, 1], color: '#000' }];
    for (const width of [700, 1060]) {
      const svg = lineChart(series, { xLabel: 'step', yLabel: 'loss', width });
      expect(svg).toMatch(new RegExp(`<svg [^>]*width="${width}"`));
      const frame = /<rect x="80" y="\d+" width="(\d+)"/.exec(svg)!;
      const legend = width - 80 - Number(frame[1]);
      expect(legend).toBeGreaterThan(series[0].label.length * 6); // room for the label
      expect(legend).toBeLessThan(series[0].label.length * 7 + 100); // and not much more
    }
  });
});

describe('reproduce mnist: fidelity options, statistics and environment', () => {
  const out = path.join(tmp, 'mnist-paper');
  let summary: MnistSummary;
  let html: string;

  it('2 trials state no order: the report says "not enough trials to tell" and the summary agrees', async () => {
    const r = await reproduceMnist({ out, trials: 2, steps: 3, histogram: 'paper', images: 'once' });
    summary = r.summary;
    html = fs.readFileSync(r.report, 'utf8');
    expect(summary.orderHolds).toEqual({ spectra: 'not enough trials', loss: 'not enough trials' });
    expect(summary.tests.spectra.pairs).toEqual([]);
    expect(summary.protocol).toEqual({ histogram: 'paper', images: 'once' });
    const findings = paragraphs(html.slice(html.indexOf('<h2>Findings</h2>'), html.indexOf('<h2>Protocol')));
    expect(findings.filter((p) => /^Not enough trials to tell/.test(p))).toHaveLength(2);
    for (const p of findings) {
      expect(p).not.toMatch(/\([abc]\) [<>] \([abc]\)/);
      expect(p).not.toMatch(/As the paper predicts|does NOT hold|do not support/);
    }
    expect(orderNote(summary)).toMatch(/not enough trials to tell/);
    // A run shorter than the comparison step: one loss column, not two that coincide.
    const header = /<tr><th>[\s\S]*?<\/tr>/.exec(html)![0];
    expect(header.match(/loss after/g)).toHaveLength(1);
    expect(header).toContain('loss after 3 steps (final)');
    // The overflow bar is described as what it is.
    expect(findings.some((p) => /hatched "> 6" bar/.test(p))).toBe(true);
    expect(fs.readFileSync(path.join(out, 'figures/spectra-histogram.svg'), 'utf8')).toMatch(/class="outside"/);
  }, 300_000);

  it('config.json and the report record the versions, device and threads, and the protocol options', () => {
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    const i = sn.info();
    expect(config).toMatchObject({ imagesDrawn: 'once', histogram: 'paper' });
    expect(config.environment).toMatchObject({ skipnorm: sn.version(), libtorch: i.libtorch, device: 'cpu', threads: { intraOp: sn.getNumThreads(), mainThread: sn.getMainThreadNumThreads(), interOp: i.interopThreads } });
    expect(config.environment.cuda).toMatch(i.cuda ? /^\d+\.\d+$/ : /^none \(/);
    const text = paragraphs(html).join('\n');
    expect(text).toContain(`skipnorm ${sn.version()}, LibTorch ${i.libtorch}, CUDA ${config.environment.cuda}`);
    expect(text).toContain('device cpu');
    expect(text).toMatch(/one draw of 32 images for all trials/);
    expect(text).toMatch(/as the authors' plots.py, the averaged order statistics/);
    expect(text).toMatch(/Welch's t-test supports it \(two-sided, for each adjacent pair, α = 0.05\)/);
  });

  it.runIf(oracle)("the average spectrum (--histogram paper) matches plots.py's computation done in Python from the raw results", () => {
    const recorded = JSON.parse(fs.readFileSync(path.join(out, 'results/paper-histogram.json'), 'utf8'));
    const r = spawnSync(oracle!, [path.join(__dirname, 'fixtures', 'paper_histogram.py'), out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const expected = JSON.parse(r.stdout) as Record<string, { values: number[]; counts: number[]; overflow: number; spectra: number }>;
    expect(Object.keys(expected)).toEqual(['a', 'b', 'c']);
    expect(recorded.steps).toBe(3);
    for (const v of recorded.variants as { variant: string; averagedOrderStatistics: number[]; counts: number[]; overflow: number; total: number }[]) {
      const e = expected[v.variant];
      expect(e.spectra).toBe(2 * 3); // 2 trials x the first 3 steps
      expect(v.averagedOrderStatistics).toHaveLength(320);
      for (let k = 0; k < 320; k++) expect(relative(v.averagedOrderStatistics[k], e.values[k]), `(${v.variant}) k = ${k}`).toBeLessThan(1e-12);
      expect(v.counts).toEqual(e.counts);
      expect(v.overflow).toBe(e.overflow);
      expect(v.counts.reduce((a, b) => a + b, 0) + v.overflow).toBe(320);
    }
    // The figure draws counts (not shares): its y axis says so, and the paper figure exists.
    expect(fs.readFileSync(path.join(out, 'figures/spectra-histogram-paper.svg'), 'utf8')).toMatch(/>count<\/text>/);
  });

  it('a resume with other protocol options is refused, naming the setting', async () => {
    await expect(reproduceMnist({ out, trials: 2, steps: 3, histogram: 'default', images: 'once', resume: true })).rejects.toThrow(/started with histogram = "paper", this run has "default"/);
    await expect(reproduceMnist({ out, trials: 2, steps: 3, histogram: 'paper', resume: true })).rejects.toThrow(/started with imagesDrawn = "once", this run has "per-trial"/);
    await expect(reproduceMnist({ out: path.join(tmp, 'never'), histogram: 'counts' as 'paper' })).rejects.toThrow(TypeError);
    await expect(reproduceMnist({ out: path.join(tmp, 'never'), images: 'twice' as 'once' })).rejects.toThrow(/images must be 'per-trial' or 'once', got "twice"/);
  });

  it("images 'once': every trial trains on the first trial's images (trial 0 is the same either way)", async () => {
    const perTrial = path.join(tmp, 'mnist-per-trial');
    await reproduceMnist({ out: perTrial, trials: 2, steps: 1 });
    const first = (dir: string, name: string) => JSON.parse(fs.readFileSync(path.join(dir, 'results/trials', name), 'utf8')).losses[0] as number;
    // Same images and weights in trial 0: the same loss.
    expect(first(perTrial, 'trial-0-a.json')).toBe(first(out, 'trial-0-a.json'));
    // Trial 1 has the same weights in both runs but other images when each trial draws its own.
    expect(first(perTrial, 'trial-1-a.json')).not.toBe(first(out, 'trial-1-a.json'));
    expect(fs.existsSync(path.join(perTrial, 'results/paper-histogram.json'))).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(perTrial, 'config.json'), 'utf8'))).toMatchObject({ imagesDrawn: 'per-trial', histogram: 'default' });
  }, 300_000);
});

describe('run folders', () => {
  const config = { experiment: 'x', trials: 2 };
  const environment = { skipnorm: '1', threads: 2 };

  it('a folder from before a setting existed resumes as if it held the assumed value, and only then', () => {
    const dir = path.join(tmp, 'old-run');
    fs.mkdirSync(path.join(dir, 'results'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    fs.writeFileSync(path.join(dir, 'results', 'r.json'), '{}');
    const assumed = { histogram: 'default' };
    expect(() => RunFolder.open(dir, { ...config, histogram: 'default' }, true, { assumed })).not.toThrow();
    expect(() => RunFolder.open(dir, { ...config, histogram: 'paper' }, true, { assumed })).toThrow(/started with histogram = "default", this run has "paper"/);
    expect(() => RunFolder.open(dir, { ...config, histogram: 'default' }, true)).toThrow(/started with histogram = undefined/);
  });

  it('the environment is recorded, not compared: a resume elsewhere is added to resumedWith', () => {
    const dir = path.join(tmp, 'env-run');
    RunFolder.open(dir, config, false, { environment });
    fs.writeFileSync(path.join(dir, 'result.json'), '{}');
    const read = () => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(read()).toEqual({ ...config, environment });
    RunFolder.open(dir, config, true, { environment }); // the same: nothing added
    expect(read().resumedWith).toBeUndefined();
    const other = { skipnorm: '2', threads: 8 };
    const run = RunFolder.open(dir, config, true, { environment: other });
    expect(run.config.resumedWith).toEqual([other]);
    RunFolder.open(dir, config, true, { environment: other }); // already listed
    expect(read()).toEqual({ ...config, environment, resumedWith: [other] });
  });
});

describe('reproduce cifar10: the orig. vs mod. finding', () => {
  it('one trial per variant states no winner, records the test and the environment', async () => {
    const data = path.join(tmp, 'cifar');
    fs.mkdirSync(data, { recursive: true });
    const records = (count: number) => {
      const b = Buffer.alloc(count * 3073);
      for (let r = 0; r < count; r++) {
        b[r * 3073] = r % 10;
        b.fill((r * 25) % 256, r * 3073 + 1, (r + 1) * 3073);
      }
      return b;
    };
    for (let i = 1; i <= 5; i++) fs.writeFileSync(path.join(data, `data_batch_${i}.bin`), records(2));
    fs.writeFileSync(path.join(data, 'test_batch.bin'), records(4));
    const out = path.join(tmp, 'cifar-run');
    const r = await reproduceGrid({ experiment: 'cifar10', out, data, lrs: [0.1], trials: 1, epochs: 1, batchSize: 10, loaderThreads: 1 });
    const html = fs.readFileSync(r.report, 'utf8');
    const text = paragraphs(html);
    expect(text.some((p) => /^lr 0.1: not enough trials to tell which variant ends with the lower training loss \(1 per variant/.test(p))).toBe(true);
    expect(text.join('\n')).not.toMatch(/ends with a lower training loss|as the paper predicts|against the paper/);
    const comparisons = JSON.parse(fs.readFileSync(path.join(out, 'results/comparisons.json'), 'utf8'));
    expect(comparisons).toMatchObject([{ lr: 0.1, verdict: 'not enough trials', prediction: 'orig. > mod.', trials: 1 }]);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config.environment).toMatchObject({ skipnorm: sn.version(), libtorch: sn.info().libtorch, threads: { loader: 1, intraOp: sn.getNumThreads() } });
    expect(config.environment.device).toMatch(sn.info().cuda ? /^cuda:0 \(/ : /^cpu$/);
    expect(text.join('\n')).toContain(`LibTorch ${sn.info().libtorch}`);
  }, 300_000);
});

describe('skipnorm reproduce (CLI): the fidelity flags', () => {
  it('rejects bad values and flags that do not apply', () => {
    const cases: [string[], RegExp][] = [
      [['reproduce', 'mnist', '--histogram', 'counts'], /--histogram must be default or paper, got 'counts'/],
      [['reproduce', 'mnist', '--images', 'twice'], /--images must be per-trial or once, got 'twice'/],
      [['reproduce', 'cifar10', '--data', tmp, '--images', 'once'], /--images applies to reproduce mnist only/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
