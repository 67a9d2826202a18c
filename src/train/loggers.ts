/**
 * fit's loggers: TensorBoard event files and a CSV file, fed from fit's events on the JavaScript
 * thread and written off it (io/line_appender). Both are opened before training starts, so a
 * folder or file that cannot be written fails then, not after the work.
 *
 * TensorBoard (x axis: the global step): train/{loss,top1,top5,lr,examples_per_second} at each
 * reported step; epoch/{loss,top1,top5,lr,examples_per_second} at each epoch's end; validation/
 * {loss,top1,top5}; for tracked Jacobian spectra a histogram jacobian/<cut> and scalars
 * jacobian/<cut>/{sigma_max,sigma_min,condition_number}; diagnostics/*; gradient norms
 * grad_norm/<parameter>; and a histogram weights/<parameter> of every parameter at each epoch's end.
 *
 * CSV: one row per event, `event` saying which (step, epoch or validation); columns event, step,
 * epoch, loss, top1, top5, lr, examples_per_second, seconds (empty where the event has no value).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineAppender } from '../io/line_appender';
import { EventWriter, histogramOf } from '../report/tensorboard';
import type { EpochEvent, HookEvent, StepEvent, ValidationEvent } from './fit';

const CSV_COLUMNS = ['event', 'step', 'epoch', 'loss', 'top1', 'top5', 'lr', 'examples_per_second', 'seconds'] as const;
type CsvRow = Partial<Record<(typeof CSV_COLUMNS)[number], string | number>>;

export interface LoggerOptions {
  /** A folder for TensorBoard event files (created; each run adds its own file). */
  tensorboard?: string;
  /** A CSV file: created with a header, or appended to when resuming into an existing one. */
  csv?: string;
  resume?: boolean;
}

export class FitLoggers {
  private readonly board: EventWriter | null;
  private readonly csv: LineAppender | null;

  constructor(options: LoggerOptions, op: string) {
    this.board = options.tensorboard === undefined ? null : openBoard(options.tensorboard, op);
    this.csv = options.csv === undefined ? null : openCsv(options.csv, options.resume === true, op);
  }

  step(e: StepEvent): void {
    const b = this.board;
    if (b) {
      metrics(b, 'train', e);
      b.scalar('train/lr', e.step, e.lr);
      b.scalar('train/examples_per_second', e.step, e.examplesPerSecond);
    }
    this.row({ event: 'step', step: e.step, epoch: e.epoch, loss: e.loss, top1: e.top1, top5: e.top5, lr: e.lr, examples_per_second: e.examplesPerSecond, seconds: e.elapsed });
  }

  epoch(e: EpochEvent): void {
    const b = this.board;
    if (b) {
      metrics(b, 'epoch', e);
      b.scalar('epoch/lr', e.step, e.lr);
      b.scalar('epoch/examples_per_second', e.step, e.examplesPerSecond);
    }
    this.row({ event: 'epoch', step: e.step, epoch: e.epoch, loss: e.loss, top1: e.top1, top5: e.top5, lr: e.lr, examples_per_second: e.examplesPerSecond, seconds: e.seconds });
  }

  validation(e: ValidationEvent): void {
    if (this.board) metrics(this.board, 'validation', e);
    this.row({ event: 'validation', step: e.step, epoch: e.epoch, loss: e.loss, top1: e.top1, top5: e.top5, seconds: e.seconds });
  }

  hook(e: HookEvent): void {
    const b = this.board;
    if (!b) return;
    if (e.name === 'jacobianSpectrum') {
      const sv = e.values;
      if (sv.length === 0) return;
      const max = sv[0];
      const min = sv[sv.length - 1];
      b.histogram(`jacobian/${e.cut}`, e.step, histogramOf(sv, 0, max > 0 ? max : 1, 30));
      b.scalar(`jacobian/${e.cut}/sigma_max`, e.step, max);
      b.scalar(`jacobian/${e.cut}/sigma_min`, e.step, min);
      b.scalar(`jacobian/${e.cut}/condition_number`, e.step, max / min);
    } else if (e.name === 'diagnostics') {
      const d = e.values;
      b.scalar('diagnostics/loss', e.step, d.loss);
      b.scalar('diagnostics/grad_norm_squared', e.step, d.gradNormSquared);
      b.scalar('diagnostics/pl_ratio', e.step, d.plRatio);
      if (d.topHessianEigenvalue !== undefined) b.scalar('diagnostics/top_hessian_eigenvalue', e.step, d.topHessianEigenvalue);
    } else if (e.name === 'gradNorms') {
      for (const [name, [norm]] of Object.entries(e.values)) b.scalar(`grad_norm/${name}`, e.step, norm);
    } else if (e.name === 'weightHistograms') {
      for (const [name, h] of Object.entries(e.values)) b.histogram(`weights/${name}`, e.step, h);
    }
  }

  /** Resolves once everything logged is written (rejects with the first write error). */
  async close(): Promise<void> {
    const results = await Promise.allSettled([this.board?.close(), this.csv?.flush()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private row(values: CsvRow): void {
    if (!this.csv) return;
    this.csv.push(CSV_COLUMNS.map((c) => csvValue(values[c])).join(','));
  }
}

// loss, and top1/top5 where the outputs are class scores (NaN otherwise), under `prefix`.
function metrics(board: EventWriter, prefix: string, e: { step: number; loss: number; top1: number; top5: number }): void {
  board.scalar(`${prefix}/loss`, e.step, e.loss);
  if (Number.isFinite(e.top1)) board.scalar(`${prefix}/top1`, e.step, e.top1);
  if (Number.isFinite(e.top5)) board.scalar(`${prefix}/top5`, e.step, e.top5);
}

function csvValue(v: string | number | undefined): string {
  if (v === undefined) return '';
  return typeof v === 'number' ? (Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf') : v;
}

function failure(op: string, what: string, target: string, e: unknown): TypeError {
  return new TypeError(`${op}: cannot write ${what} ${target}: ${(e as Error).message}`);
}

function openBoard(dir: string, op: string): EventWriter {
  try {
    return new EventWriter(dir);
  } catch (e) {
    throw failure(op, 'TensorBoard files into', dir, e);
  }
}

function openCsv(file: string, resume: boolean, op: string): LineAppender {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const appending = resume && fs.existsSync(file) && fs.statSync(file).size > 0;
    // Written now (a small header), so an unwritable path fails before training starts.
    if (appending) fs.accessSync(file, fs.constants.W_OK);
    else fs.writeFileSync(file, `${CSV_COLUMNS.join(',')}\n`);
  } catch (e) {
    throw failure(op, 'the CSV file', file, e);
  }
  return new LineAppender(file);
}
