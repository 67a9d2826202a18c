/**
 * The model flags shared by `init`, `forward`, `train`, `spectrum` and `weight-spectra`:
 *   --model bnnet [--variant a|b|c]
 *   --model preact-resnet [--depth 18|34|50|101|152] [--shortcut orig|mod|none] [--classes N] [--resolution cifar|imagenet]
 *   --model resnet [--depth D] [--no-skip] [--classes N]
 * and the loading of a weights file into the model they describe, with one-line errors when the
 * file holds another model.
 */
import { dispose } from '../core/memory';
import { ARCHITECTURE_KEY, hasArchitecture, load, type ArchitectureSpec } from '../io/model_file';
import { readSafetensors, readSafetensorsMetadata } from '../io/safetensors';
import { buildModel, type ModelSpec } from '../models/index';
import type { Module } from '../nn/module';
import { UsageError, type FlagTable, type RetiredFlag } from './command-spec';

export { UsageError } from './command-spec';

const MODEL_GROUP = 'Model';
const DEPTHS = ['18', '34', '50', '101', '152'] as const;
export const RESOLUTIONS = ['cifar', 'imagenet'] as const;

/** The model flags, for a command's flag table (init: --model is required). */
export const MODEL_FLAGS = {
  model: { type: 'string', choices: ['bnnet', 'preact-resnet', 'resnet'], help: 'the architecture (required)', group: MODEL_GROUP },
  variant: { type: 'string', choices: ['a', 'b', 'c'], help: 'bnnet: (a) no skips, (b) identity and projection shortcuts, (c) plus identity-like (default c)', group: MODEL_GROUP },
  depth: { type: 'string', choices: DEPTHS, help: 'preact-resnet, resnet: layers (default 18)', group: MODEL_GROUP },
  shortcut: { type: 'string', choices: ['orig', 'mod', 'none'], help: "preact-resnet: downsampling shortcuts, the paper's orig or mod, or no skips (default orig)", group: MODEL_GROUP },
  classes: { type: 'string', value: 'N', help: 'preact-resnet, resnet: output classes (default 10 and 1000)', group: MODEL_GROUP },
  resolution: { type: 'string', choices: RESOLUTIONS, help: 'preact-resnet: stem for 32x32 CIFAR images (3x3 conv) or ImageNet-size ones (7x7 conv, max-pool) (default cifar)', group: MODEL_GROUP },
  'no-skip': { type: 'boolean', help: 'resnet: no skip connections', group: MODEL_GROUP },
} as const satisfies FlagTable;

/** The model flags of commands that read --weights, where a file that records its model needs none. */
export const MODEL_FLAGS_WITH_WEIGHTS = {
  ...MODEL_FLAGS,
  model: { ...MODEL_FLAGS.model, help: 'the architecture (none when --weights names a file that records its model)' },
} as const satisfies FlagTable;

/** `--input cifar|imagenet` was the model flag now called --resolution; --input names a file. */
export const MODEL_RETIRED: RetiredFlag[] = [
  { flag: 'input', values: RESOLUTIONS, message: "--input cifar|imagenet is now --resolution cifar|imagenet (the stem of --model preact-resnet); --input names an input file" },
];

export interface ModelFlags {
  model?: string;
  variant?: string;
  depth?: string;
  shortcut?: string;
  classes?: string;
  resolution?: string;
  'no-skip'?: boolean;
}

function integer(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, got '${value}'`);
  return n;
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

/** The model spec the flags describe (every default filled in), or a UsageError naming the bad flag. */
export function modelSpecFromFlags(flags: ModelFlags): ModelSpec {
  const unused = (name: string, ok: boolean) => {
    if (!ok) throw new UsageError(`--${name} does not apply to --model ${flags.model}`);
  };
  switch (flags.model) {
    case 'bnnet':
      unused('depth', flags.depth === undefined);
      unused('classes', flags.classes === undefined);
      unused('resolution', flags.resolution === undefined);
      unused('shortcut', flags.shortcut === undefined);
      unused('no-skip', !flags['no-skip']);
      return { model: 'bnnet', variant: oneOf(flags.variant, 'variant', ['a', 'b', 'c'] as const, 'c') };
    case 'preact-resnet':
      unused('variant', flags.variant === undefined);
      unused('no-skip', !flags['no-skip']);
      return {
        model: 'preact-resnet',
        depth: Number(oneOf(flags.depth, 'depth', DEPTHS, '18')) as 18,
        shortcut: oneOf(flags.shortcut, 'shortcut', ['orig', 'mod', 'none'] as const, 'orig'),
        classes: integer(flags.classes, 'classes', 10),
        input: oneOf(flags.resolution, 'resolution', RESOLUTIONS, 'cifar'),
      };
    case 'resnet':
      unused('variant', flags.variant === undefined);
      unused('resolution', flags.resolution === undefined);
      unused('shortcut', flags.shortcut === undefined);
      return { model: 'resnet', depth: Number(oneOf(flags.depth, 'depth', DEPTHS, '18')) as 18, classes: integer(flags.classes, 'classes', 1000), skip: !flags['no-skip'] };
    case undefined:
      throw new UsageError('--model is required: bnnet, preact-resnet or resnet');
    default:
      throw new UsageError(`--model must be bnnet, preact-resnet or resnet, got '${flags.model}'`);
  }
}

/** A required flag's value, or a UsageError naming it. */
export function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`--${flag} is required`);
  return value;
}

// A zoo spec with every default filled in, so that two specs of one model compare equal.
function complete(spec: ModelSpec): ModelSpec {
  switch (spec.model) {
    case 'bnnet':
      return { model: 'bnnet', variant: spec.variant ?? 'c' };
    case 'preact-resnet':
      return { model: 'preact-resnet', depth: spec.depth ?? 18, shortcut: spec.shortcut ?? 'orig', classes: spec.classes ?? 10, input: spec.input ?? 'cifar' };
    case 'resnet':
      return { model: 'resnet', depth: spec.depth ?? 18, classes: spec.classes ?? 1000, skip: spec.skip ?? true };
    default:
      return spec;
  }
}

const FLAG_OF: Record<string, string> = { input: 'resolution' };

/**
 * A zoo spec in the flags' words ("preact-resnet --depth 18 --shortcut mod"): the main fields, and
 * the others where they are not the defaults or differ from `other`'s.
 */
export function describeSpec(spec: ModelSpec, other?: ModelSpec): string {
  const s = complete(spec) as Record<string, unknown>;
  const o = other ? (complete(other) as Record<string, unknown>) : undefined;
  const main = ['variant', 'depth', 'shortcut'];
  const defaults = complete({ model: spec.model } as ModelSpec) as Record<string, unknown>;
  const parts = [String(s.model)];
  for (const [key, value] of Object.entries(s)) {
    if (key === 'model') continue;
    if (!main.includes(key) && value === defaults[key] && (o === undefined || o.model !== s.model || o[key] === value)) continue;
    parts.push(key === 'skip' ? (value ? '' : '--no-skip') : `--${FLAG_OF[key] ?? key} ${value}`);
  }
  return parts.filter(Boolean).join(' ');
}

function sameSpec(a: ModelSpec, b: ModelSpec): boolean {
  return JSON.stringify(Object.entries(complete(a)).sort()) === JSON.stringify(Object.entries(complete(b)).sort());
}

// What a weights file records about its model: the architecture (sn.save, train --out), or the spec
// `skipnorm init` notes (weights only: the same file may serve several variants).
function recorded(file: string): { architecture?: ArchitectureSpec; initSpec?: ModelSpec } {
  const metadata = readSafetensorsMetadata(file);
  const parse = (text: string | undefined) => {
    try {
      return text === undefined ? undefined : JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  return { architecture: parse(metadata[ARCHITECTURE_KEY])?.module, initSpec: parse(metadata.model) };
}

function describeArchitecture(a: ArchitectureSpec | undefined): string {
  if (a && 'zoo' in a) return describeSpec(a.zoo);
  const kind = a && 'layer' in a ? a.layer : a && 'traced' in a ? a.traced : a && 'holder' in a ? a.holder : 'model';
  return `a ${kind} built in code (not a zoo model)`;
}

function examples(keys: string[]): string {
  return keys.slice(0, 2).join(', ') + (keys.length > 2 ? ', ...' : '');
}

/**
 * Loads a weights file into a model built from flags, strictly; when its tensors do not fit, one
 * UsageError line with counts and a few example names (not the list of every key).
 */
function loadInto(model: Module, spec: ModelSpec, file: string, note: string): void {
  const weights = readSafetensors(file).tensors;
  const own = model.stateDict();
  try {
    const fileKeys = Object.keys(weights);
    const ownKeys = Object.keys(own);
    const unexpected = fileKeys.filter((k) => !(k in own));
    const missing = ownKeys.filter((k) => !(k in weights));
    const reshaped = fileKeys.filter((k) => k in own && own[k].shape.join() !== weights[k].shape.join());
    if (unexpected.length || missing.length || reshaped.length) {
      const parts: string[] = [];
      if (unexpected.length) parts.push(`${unexpected.length} of its ${fileKeys.length} tensors are not in the model (${examples(unexpected)})`);
      if (missing.length) parts.push(`${missing.length} of the model's ${ownKeys.length} are not in the file (${examples(missing)})`);
      if (reshaped.length) {
        const k = reshaped[0];
        parts.push(`${reshaped.length} have other shapes (${k}: [${weights[k].shape.join(', ')}] in the file, [${own[k].shape.join(', ')}] in the model)`);
      }
      throw new UsageError(`${file} does not fit --model ${describeSpec(spec)}: ${parts.join('; ')}${note}`, { pointToHelp: false });
    }
    model.loadStateDict(weights);
  } finally {
    dispose(own);
    dispose(weights);
  }
}

/**
 * The model a command works on: from the model flags (then the weights file's tensors loaded into
 * it, strictly), or, with no --model, rebuilt from a weights file that records its architecture
 * (saved by `sn.save` or `skipnorm train --out`). `spec` is the zoo spec, where there is one.
 * Flags that describe another model than the file records are one UsageError line.
 */
export async function modelFromFlags(flags: ModelFlags, weightsFile: string | undefined): Promise<{ model: Module; spec: ModelSpec | null }> {
  const file = weightsFile === undefined ? undefined : { name: weightsFile, ...recorded(weightsFile) };
  const architecture = file?.architecture;
  if (flags.model === undefined && file !== undefined && hasArchitecture(file.name)) {
    for (const flag of ['variant', 'depth', 'shortcut', 'classes', 'resolution', 'no-skip'] as const) {
      if (flags[flag] !== undefined && flags[flag] !== false) throw new UsageError(`--${flag} needs --model (the weights file ${file.name} records its model: give no model flags)`);
    }
    const model = await load(file.name);
    return { model, spec: architecture && 'zoo' in architecture ? complete(architecture.zoo) : null };
  }
  if (flags.model === undefined && file !== undefined) throw new UsageError(`--model is required: ${file.name} holds weights only (files saved by sn.save or skipnorm train --out record their model)`);
  const spec = modelSpecFromFlags(flags);
  if (file !== undefined && architecture && 'zoo' in architecture && !sameSpec(architecture.zoo, spec)) {
    throw new UsageError(`the weights file ${file.name} holds ${describeSpec(architecture.zoo, spec)} (--model ${describeSpec(spec, architecture.zoo)} was asked for): drop the model flags or pass matching ones`, { pointToHelp: false });
  }
  const model = buildModel(spec);
  if (file !== undefined) {
    // Where the file records another kind of model, or init's spec for it, the one line says so.
    const note =
      architecture && !('zoo' in architecture)
        ? `; the file holds ${describeArchitecture(architecture)}: drop the model flags to rebuild it`
        : file.initSpec && typeof file.initSpec === 'object' && 'model' in file.initSpec
          ? `; skipnorm init made it for ${describeSpec(file.initSpec)}: check the model flags`
          : ': check the model flags';
    try {
      loadInto(model, spec, file.name, note);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return { model, spec };
}
