/**
 * `skipnorm data stats|pack|export`: a dataset's statistics, a packed copy of it, or its images
 * and labels as a safetensors file that `train --data`, `forward --input` and `spectrum --input` read.
 *   data stats  --format F [--root DIR] [--split train|test] [--labels fine|coarse] [--on-corrupt fail|skip] [--threads N] [--json]
 *   data pack   --format F [--root DIR] [--split train|test] --size S|H,W --out FILE [--threads N]
 *   data export --format F [--root DIR] [--split train|test] [--limit N] --out X.safetensors [--threads N]
 * stats prints count, classes, perClass, and per-channel mean/std of pixels scaled to [0, 1].
 * For folder and packed, --root is the split's own folder (or the packed file).
 */
import { cifar10, cifar100, imageFolder, mnist, packed, type Dataset } from '../data/dataset';
import { digits } from '../data/digits';
import { DataLoader } from '../data/loader';
import { dispose } from '../core/memory';
import { empty } from '../tensor/creation';
import type { Tensor } from '../tensor/tensor';
import { checkWritable, writeSafetensors } from '../io/safetensors';
import { defineCommand, helpText, parseCommand, type CommandSpec } from './command-spec';
import { required, UsageError } from './model-flags';
import { Progress } from './progress';

const FORMATS = ['digits', 'mnist', 'cifar10', 'cifar100', 'folder', 'packed'] as const;

// The flags that say which data set: every action has them.
const SOURCE_FLAGS = {
  format: { type: 'string', choices: FORMATS, help: 'digits: the bundled MNIST digits; the others read --root (required)' },
  root: { type: 'string', value: 'DIR', help: 'the files: MNIST idx or CIFAR binary folder, one split of an image folder, or a packed file' },
  split: { type: 'string', choices: ['train', 'test'], default: 'train', help: 'which split (folder and packed hold one: --root names it)' },
  labels: { type: 'string', choices: ['fine', 'coarse'], default: 'fine', help: 'cifar100: 100 fine or 20 coarse classes' },
  'on-corrupt': { type: 'string', choices: ['fail', 'skip'], default: 'fail', help: 'folder: a corrupt image is an error, or left out and counted' },
  threads: { type: 'string', value: 'N', help: 'decoding threads (default the cores, at most 8)' },
} as const;

export const DATA_STATS = defineCommand({
  name: 'data stats',
  summary: 'Count, per-class counts and per-channel mean/std of pixels in [0, 1] of a data set.',
  usage: ['data stats --format digits|mnist|cifar10|cifar100|folder|packed [--root DIR] [--split train|test] [--json]'],
  flags: { ...SOURCE_FLAGS, json: { type: 'boolean', default: false, help: 'print the statistics as JSON (and no progress)' } },
});

export const DATA_PACK = defineCommand({
  name: 'data pack',
  summary: 'A memory-mapped copy of a data set, every image resized (shorter side) and center-cropped.',
  usage: ['data pack --format digits|mnist|cifar10|cifar100|folder|packed [--root DIR] [--split train|test] --size S|H,W --out FILE'],
  flags: {
    ...SOURCE_FLAGS,
    size: { type: 'string', value: 'S|H,W', help: 'the images\' size in the packed file (required)' },
    out: { type: 'string', value: 'FILE', help: 'the packed file to write (required; --format packed --root FILE reads it)' },
  },
});

export const DATA_EXPORT = defineCommand({
  name: 'data export',
  summary: "A data set's images and labels as a safetensors file for train --data, forward --input and spectrum --input.",
  usage: ['data export --format digits|mnist|cifar10|cifar100|folder|packed [--root DIR] [--split train|test] [--limit N] --out X.safetensors'],
  notes:
    "Writes 'input' (float32 [N, C, H, W], pixels in [0, 1], no normalisation) and 'labels' (int64 [N]), in the data set's order. " +
    'Images of different sizes (an image folder) need the same size first: data pack --size, then export --format packed.',
  flags: {
    ...SOURCE_FLAGS,
    limit: { type: 'string', value: 'N', help: 'the first N examples only (default all)' },
    out: { type: 'string', value: 'X.safetensors', help: 'the file to write (required; written whole or not at all)' },
  },
});

export const DATA_ACTIONS: Record<string, CommandSpec> = { stats: DATA_STATS, pack: DATA_PACK, export: DATA_EXPORT };

interface SourceFlags {
  format?: string;
  root?: string;
  split: string;
  labels: string;
  'on-corrupt': string;
  threads?: string;
}

async function openFromFlags(values: SourceFlags): Promise<Dataset> {
  const format = required(values.format, 'format');
  const split = values.split as 'train' | 'test';
  if (format === 'digits') {
    if (values.root) throw new UsageError('--root does not apply to --format digits (the bundled MNIST digits)');
    return digits({ split });
  }
  if (!values.root) throw new UsageError(`--root is required for --format ${format}${format === 'mnist' ? ' (--format digits uses the bundled MNIST digits)' : ''}`);
  const root = values.root;
  const onCorrupt = values['on-corrupt'] as 'fail' | 'skip';
  if (onCorrupt === 'skip' && format !== 'folder') throw new UsageError('--on-corrupt applies to --format folder only');
  switch (format) {
    case 'mnist':
      return mnist({ root, split });
    case 'cifar10':
      return cifar10({ root, split });
    case 'cifar100':
      return cifar100({ root, split, labels: values.labels as 'fine' | 'coarse' });
    case 'folder':
      return imageFolder({ root, onCorrupt }); // the folder of one split itself
    default:
      return packed(root);
  }
}

function positive(value: string | undefined, flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${flag} must be an integer in 1..${max}, got '${value}'`);
  return n;
}

// What `data --help` prints: the actions, each with its own --help.
function dataHelp(): string {
  const lines = Object.values(DATA_ACTIONS).flatMap((spec) => spec.usage.map((u) => `  skipnorm ${u}`));
  return `Usage:\n${lines.join('\n')}\n\nskipnorm data <stats|pack|export> --help lists an action's flags.\n`;
}

export async function runData(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action === '--help' || action === '-h') {
    process.stdout.write(dataHelp());
    return 0;
  }
  const spec = action !== undefined && Object.hasOwn(DATA_ACTIONS, action) ? DATA_ACTIONS[action] : undefined;
  if (!spec) throw new UsageError(`data: expected 'stats', 'pack' or 'export', got '${action ?? ''}' (skipnorm data --help)`);
  if (spec === DATA_EXPORT) return runExport(rest);
  const values = parseCommand(spec, rest) as unknown as (SourceFlags & { json?: boolean; size?: string; out?: string }) | null;
  if (!values) return 0;
  const threads = positive(values.threads, 'threads', 256);
  let size: [number, number] | undefined;
  if (action === 'pack') {
    checkWritable(required(values.out, 'out'), 'data pack --out');
    const parts = required(values.size, 'size').split(',').map(Number);
    if (!(parts.length === 1 || parts.length === 2) || !parts.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`--size must be S or H,W, got '${values.size}'`);
    size = parts.length === 1 ? [parts[0], parts[0]] : [parts[0], parts[1]];
  }
  const dataset = await openFromFlags(values);
  const progress = new Progress();
  const onProgress = (p: { done: number; total: number }) => progress.update({ done: p.done, total: p.total, text: action === 'stats' ? 'images read' : 'images packed' });
  try {
    if (action === 'pack') {
      const r = await dataset.pack(values.out!, { size: size!, threads, onProgress });
      process.stdout.write(`packed ${r.count} images of ${size![0]}x${size![1]} into ${values.out}${r.skipped ? ` (${r.skipped} corrupt skipped)` : ''}\n`);
      return 0;
    }
    const s = await dataset.stats({ threads, onProgress: values.json ? undefined : onProgress });
    const result = { format: values.format, root: values.root ?? null, split: values.split, ...s, classNames: dataset.classNames };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const fmt = (v: number[]) => v.map((x) => x.toFixed(4)).join(', ');
      process.stdout.write(
        `${s.count} images, ${s.classes} classes${s.skipped ? `, ${s.skipped} corrupt skipped` : ''}\n` +
          `per class: ${s.perClass.join(' ')}\n` +
          `mean: ${fmt(s.mean)}\nstd:  ${fmt(s.std)}\n`,
      );
    }
    return 0;
  } finally {
    dataset.dispose();
  }
}

/**
 * `data export`: the images as the loader gives them to training (float32 [C, H, W], pixels / 255,
 * no transforms), batch by batch into one preallocated tensor, then written atomically.
 */
async function runExport(args: string[]): Promise<number> {
  const values = parseCommand(DATA_EXPORT, args);
  if (!values) return 0;
  const out = required(values.out, 'out X.safetensors');
  const threads = positive(values.threads, 'threads', 256);
  const limit = positive(values.limit, 'limit');
  checkWritable(out, 'data export --out');
  const dataset = await openFromFlags(values);
  const n = Math.min(limit ?? dataset.length, dataset.length);
  const source = n < dataset.length ? dataset.subset(Array.from({ length: n }, (_, i) => i)) : dataset;
  const loader = new DataLoader(source, { batchSize: 256, shuffle: false, threads });
  const progress = new Progress();
  let input: Tensor | undefined;
  const labels = empty([n], { dtype: 'int64' });
  let done = 0;
  let skipped = 0;
  try {
    for (let b = 0; b < loader.batchesPerEpoch; b++) {
      let batch;
      try {
        batch = await loader.batch(0, b);
      } catch (e) {
        // The loader's advice (a resize transform) is for code; on the command line, pack first.
        const detail = /different sizes in one batch \((.*)\): add a/.exec((e as Error).message);
        if (!detail) throw e;
        throw new Error(`data export: the images have different sizes (${detail[1]}): make them one size first with skipnorm data pack --size S, then export --format packed --root FILE`);
      }
      const m = batch.input.shape[0];
      input ??= empty([n, ...batch.input.shape.slice(1)]);
      const [inputRows, labelRows] = [input.narrow(0, done, m), labels.narrow(0, done, m)];
      inputRows.copy_(batch.input);
      labelRows.copy_(batch.labels);
      dispose([inputRows, labelRows, batch.input, batch.labels]);
      done += m;
      skipped += batch.skipped;
      progress.update({ done: done + skipped, total: n, text: 'images exported' });
    }
    if (!input) throw new Error('data export: the data set has no examples');
    // Corrupt images left out (--on-corrupt skip): the rows written are fewer than planned.
    const [inputDone, labelsDone] = done < n ? [input.narrow(0, 0, done), labels.narrow(0, 0, done)] : [input, labels];
    try {
      writeSafetensors(out, { input: inputDone, labels: labelsDone }, {
        written_by: 'skipnorm data export',
        format: String(values.format),
        split: values.split,
        classes: String(dataset.classes),
        ...(dataset.classNames.length ? { class_names: JSON.stringify(dataset.classNames) } : {}),
      });
    } finally {
      if (inputDone !== input) dispose([inputDone, labelsDone]);
    }
    process.stdout.write(`wrote ${done} examples (input [${[done, ...input.shape.slice(1)].join(', ')}], labels) to ${out}${skipped ? ` (${skipped} corrupt skipped)` : ''}\n`);
    return 0;
  } finally {
    if (input) input.dispose();
    labels.dispose();
    loader.dispose();
    if (source !== dataset) source.dispose();
    dataset.dispose();
  }
}
