/**
 * `skipnorm data stats|pack`: a dataset's statistics, or a packed copy of it.
 *   data stats --format mnist|cifar10|cifar100|folder|packed|digits --root DIR [--split train|test]
 *              [--labels fine|coarse] [--on-corrupt fail|skip] [--threads N] [--json]
 *   data pack  --format ... --root DIR [--split train|test] --size S|H,W --out FILE [--threads N]
 * stats prints count, classes, perClass, and per-channel mean/std of pixels scaled to [0, 1].
 * For folder and packed, --root is the split's own folder (or the packed file).
 */
import { parseArgs } from 'node:util';
import { cifar10, cifar100, imageFolder, mnist, packed, type Dataset } from '../data/dataset';
import { digits } from '../data/digits';
import { checkWritable } from '../io/safetensors';
import { required, UsageError } from './model-flags';
import { Progress } from './progress';

const FORMATS = ['mnist', 'cifar10', 'cifar100', 'folder', 'packed', 'digits'];

const OPTIONS = {
  format: { type: 'string' },
  root: { type: 'string' },
  split: { type: 'string', default: 'train' },
  labels: { type: 'string', default: 'fine' },
  'on-corrupt': { type: 'string', default: 'fail' },
  threads: { type: 'string' },
  json: { type: 'boolean', default: false },
  size: { type: 'string' },
  out: { type: 'string' },
} as const;

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

async function openFromFlags(values: Flags): Promise<Dataset> {
  const format = required(values.format, '--format');
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${format}'`);
  const split = values.split as 'train' | 'test';
  if (split !== 'train' && split !== 'test') throw new UsageError(`--split must be train or test, got '${values.split}'`);
  if (format === 'digits') {
    if (values.root) throw new UsageError('--root does not apply to --format digits (the bundled MNIST digits)');
    return digits({ split });
  }
  if (!values.root) throw new UsageError(`--root is required for --format ${format}${format === 'mnist' ? ' (--format digits uses the bundled MNIST digits)' : ''}`);
  const root = values.root;
  const onCorrupt = values['on-corrupt'] as 'fail' | 'skip';
  if (onCorrupt !== 'fail' && onCorrupt !== 'skip') throw new UsageError(`--on-corrupt must be fail or skip, got '${onCorrupt}'`);
  if (onCorrupt === 'skip' && format !== 'folder') throw new UsageError('--on-corrupt applies to --format folder only');
  const labels = values.labels as 'fine' | 'coarse';
  if (labels !== 'fine' && labels !== 'coarse') throw new UsageError(`--labels must be fine or coarse, got '${labels}'`);
  switch (format) {
    case 'mnist':
      return mnist({ root, split });
    case 'cifar10':
      return cifar10({ root, split });
    case 'cifar100':
      return cifar100({ root, split, labels });
    case 'folder':
      return imageFolder({ root, onCorrupt }); // the folder of one split itself
    default:
      return packed(root);
  }
}

function threadsFromFlags(values: Flags): number | undefined {
  if (values.threads === undefined) return undefined;
  const n = Number(values.threads);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--threads must be an integer in 1..256, got '${values.threads}'`);
  return n;
}

export async function runData(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (action !== 'stats' && action !== 'pack') throw new UsageError(`data: expected 'stats' or 'pack', got '${action ?? ''}'`);
  const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
  const threads = threadsFromFlags(values);
  if (action === 'stats' && (values.size !== undefined || values.out !== undefined)) throw new UsageError('--size and --out apply to data pack');
  let size: [number, number] | undefined;
  if (action === 'pack') {
    checkWritable(required(values.out, '--out'), 'data pack --out');
    const parts = required(values.size, '--size').split(',').map(Number);
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
