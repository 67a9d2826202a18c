/**
 * The model flags shared by `init`, `forward` and later commands:
 *   --model bnnet --variant a|b|c
 *   --model preact-resnet --depth 18|34|50|101|152 --shortcut orig|mod|none [--classes N] [--input cifar|imagenet]
 *   --model resnet --depth D [--no-skip] [--classes N]
 */
import { dispose } from '../core/memory';
import { hasArchitecture, load } from '../io/model_file';
import { readSafetensors } from '../io/safetensors';
import { buildModel, type ModelSpec } from '../models/index';
import type { Module } from '../nn/module';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const MODEL_OPTIONS = {
  model: { type: 'string' },
  variant: { type: 'string' },
  depth: { type: 'string' },
  shortcut: { type: 'string' },
  classes: { type: 'string' },
  input: { type: 'string', multiple: true },
  'no-skip': { type: 'boolean' },
} as const;

export const INPUT_KINDS = ['cifar', 'imagenet'];

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

export interface ModelFlags {
  model?: string;
  variant?: string;
  depth?: string;
  shortcut?: string;
  classes?: string;
  input?: string[];
  'no-skip'?: boolean;
}

/** The model spec the flags describe, or a UsageError naming the bad flag. */
export function modelSpecFromFlags(flags: ModelFlags): ModelSpec {
  const depths = ['18', '34', '50', '101', '152'] as const;
  const inputKind = (flags.input ?? []).find((v) => INPUT_KINDS.includes(v));
  const unused = (name: string, ok: boolean) => {
    if (!ok) throw new UsageError(`--${name} does not apply to --model ${flags.model}`);
  };
  switch (flags.model) {
    case 'bnnet':
      unused('depth', flags.depth === undefined);
      unused('classes', flags.classes === undefined);
      unused('input', inputKind === undefined);
      unused('shortcut', flags.shortcut === undefined);
      unused('no-skip', !flags['no-skip']);
      return { model: 'bnnet', variant: oneOf(flags.variant, 'variant', ['a', 'b', 'c'] as const, 'c') };
    case 'preact-resnet':
      unused('variant', flags.variant === undefined);
      unused('no-skip', !flags['no-skip']);
      return {
        model: 'preact-resnet',
        depth: Number(oneOf(flags.depth, 'depth', depths, '18')) as 18,
        shortcut: oneOf(flags.shortcut, 'shortcut', ['orig', 'mod', 'none'] as const, 'orig'),
        classes: integer(flags.classes, 'classes', 10),
        input: (inputKind ?? 'cifar') as 'cifar' | 'imagenet',
      };
    case 'resnet':
      unused('variant', flags.variant === undefined);
      unused('input', inputKind === undefined);
      unused('shortcut', flags.shortcut === undefined);
      return { model: 'resnet', depth: Number(oneOf(flags.depth, 'depth', depths, '18')) as 18, classes: integer(flags.classes, 'classes', 1000), skip: !flags['no-skip'] };
    case undefined:
      throw new UsageError('--model is required: bnnet, preact-resnet or resnet');
    default:
      throw new UsageError(`--model must be bnnet, preact-resnet or resnet, got '${flags.model}'`);
  }
}

/** The `--input FILE` among `--input` values (the others are input kinds), required once. */
export function inputFileFromFlags(input: string[] | undefined): string {
  const files = (input ?? []).filter((v) => !INPUT_KINDS.includes(v));
  if (files.length !== 1) throw new UsageError('--input X.safetensors is required (once)');
  return files[0];
}

/** A required flag's value, or a UsageError naming it. */
export function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`--${flag} is required`);
  return value;
}

/**
 * The model a command works on: from the model flags (then the weights file's tensors loaded into
 * it, strictly), or, with no --model, rebuilt from a weights file that records its architecture
 * (saved by `sn.save` or `skipnorm train --out`).
 */
export async function modelFromFlags(flags: ModelFlags, weightsFile: string | undefined): Promise<{ model: Module; spec: ModelSpec | null }> {
  if (flags.model === undefined && weightsFile !== undefined && hasArchitecture(weightsFile)) {
    for (const flag of ['variant', 'depth', 'shortcut', 'classes', 'no-skip'] as const) {
      if (flags[flag] !== undefined && flags[flag] !== false) throw new UsageError(`--${flag} needs --model (the weights file ${weightsFile} records its model: give no model flags)`);
    }
    const model = await load(weightsFile);
    return { model, spec: null };
  }
  if (flags.model === undefined && weightsFile !== undefined) throw new UsageError(`--model is required: ${weightsFile} holds weights only (files saved by sn.save or skipnorm train --out record their model)`);
  const spec = modelSpecFromFlags(flags);
  const model = buildModel(spec);
  if (weightsFile !== undefined) {
    const weights = readSafetensors(weightsFile).tensors;
    try {
      model.loadStateDict(weights);
    } catch (e) {
      model.dispose();
      throw e;
    } finally {
      dispose(weights);
    }
  }
  return { model, spec };
}
