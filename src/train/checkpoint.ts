/**
 * Training checkpoints: one safetensors file per saved step, `checkpoint-<step>.safetensors`,
 * holding the model (`model.*`), the optimiser state (`optimizer.*`) and the CPU generator
 * (`rng.cpu`), with JSON metadata (format, step, epoch, and the run's settings). Each file is
 * written atomically (temporary file, then rename), so a crash mid-save leaves the previous
 * checkpoint whole; only the newest `keep` files are kept. The data order needs no saving: it
 * follows from the seed and the epoch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TorchError } from '../core/errors';
import { dispose } from '../core/memory';
import { native } from '../core/native';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../io/safetensors';
import type { Module } from '../nn/module';
import { Tensor } from '../tensor/tensor';
import type { Optimizer } from './optim';

export const CHECKPOINT_FORMAT = 'skipnorm-checkpoint/1';
const NAME = /^checkpoint-(\d+)\.safetensors$/;

export interface CheckpointInfo {
  file: string;
  step: number;
  epoch: number;
  /** The run settings recorded at save time (JSON). */
  run: Record<string, unknown>;
  /** float16 runs: the loss scaler's state. */
  scaler?: { scale: number; goodSteps: number };
}

/** Writes a checkpoint and removes all but the newest `keep`. Takes ownership of the tensors. */
export function saveCheckpoint(dir: string, step: number, epoch: number, tensors: Record<string, Tensor>, run: Record<string, unknown>, keep: number): string {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `checkpoint-${String(step).padStart(9, '0')}.safetensors`);
    writeSafetensors(file, tensors, { format: CHECKPOINT_FORMAT, step: String(step), epoch: String(epoch), run: JSON.stringify(run) });
    const all = listCheckpoints(dir);
    for (const old of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(old.file, { force: true });
    return file;
  } finally {
    dispose(tensors);
  }
}

/** Checkpoints in a folder, oldest first (temporary files of interrupted saves are ignored). */
export function listCheckpoints(dir: string): { file: string; step: number }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => ({ f, m: NAME.exec(f) }))
    .filter((x) => x.m)
    .map(({ f, m }) => ({ file: path.join(dir, f), step: Number(m![1]) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest checkpoint of a folder, or null. */
export function latestCheckpoint(dir: string): string | null {
  const all = listCheckpoints(dir);
  return all.length ? all[all.length - 1].file : null;
}

/** The run settings recorded in a checkpoint, read from its header only. */
export function checkpointRun(file: string): Record<string, unknown> {
  const metadata = readSafetensorsMetadata(file);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new TorchError('loadCheckpoint', `${file} is not a skipnorm checkpoint (format ${JSON.stringify(metadata.format)})`);
  return JSON.parse(metadata.run ?? '{}') as Record<string, unknown>;
}

/**
 * Restores model, optimiser and generator from a checkpoint file; returns where the run was.
 * Strict: the model's and optimiser's names and shapes must match.
 */
export function loadCheckpoint(file: string, model: Module, optimizer: Optimizer): CheckpointInfo {
  const { tensors, metadata } = readSafetensors(file);
  try {
    if (metadata.format !== CHECKPOINT_FORMAT) throw new TorchError('loadCheckpoint', `${file} is not a skipnorm checkpoint (format ${JSON.stringify(metadata.format)})`);
    const part = (prefix: string) =>
      Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
    model.loadStateDict(part('model.'));
    // (scaler.* is read below; rng.cpu restores the generator)
    optimizer.loadStateDict(part('optimizer.'));
    if (tensors['rng.cpu']) native().setRngState(tensors['rng.cpu'].handleFor('loadCheckpoint'));
    const scaler = tensors['scaler.scale'] ? { scale: tensors['scaler.scale'].item(), goodSteps: tensors['scaler.good_steps'].item() } : undefined;
    return { file, step: Number(metadata.step), epoch: Number(metadata.epoch), run: JSON.parse(metadata.run ?? '{}'), scaler };
  } finally {
    dispose(tensors);
  }
}
